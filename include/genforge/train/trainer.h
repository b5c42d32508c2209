// The one training loop of every gradient-trained model (ARCHITECTURE.md §6): seeded shuffled batches, epochs or
// steps, named optimizer groups (a GAN has two) with Adam / AdamW / SGD, learning-rate schedules, gradient
// clipping, EMA of weights, a NaN/Inf guard, validation every N steps with early stopping, metrics.jsonl,
// atomic checkpoints every N steps and on SIGINT/SIGTERM, and exact resume.
//
// A model implements Trainable; its train_step calls ctx.optimize("name", loss) once per group:
//
//   void train_step(const Batch& b, StepContext& ctx) override {
//     auto loss = my_loss(b.x, ctx.generator());
//     ctx.optimize("model", loss);
//   }
#pragma once
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"

namespace gf::train {

struct TrainOptions {
  int64_t epochs = 10;                 // passes over the data (ignored when max_steps > 0)
  int64_t max_steps = 0;               // total optimizer steps; 0: epochs decide
  int64_t batch_size = 128;
  std::string optimizer = "adam";      // adam | adamw | sgd
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;   // Adam / AdamW
  double momentum = 0.0;               // SGD
  double weight_decay = 0.0;
  std::string schedule = "constant";   // constant | step | cosine
  int64_t warmup_steps = 0;            // linear warm-up (every schedule)
  int64_t step_size = 1000;            // step schedule: multiply lr by gamma every step_size steps
  double gamma = 0.1;
  double min_lr_ratio = 0.0;           // cosine: final lr = lr * min_lr_ratio
  double clip_grad_norm = 0.0;         // 0: no clipping
  double ema_decay = 0.0;              // 0: no EMA; e.g. 0.999 (step t uses min(decay, (1 + t) / (10 + t)))
  int64_t validate_every = 0;          // steps; 0: at the end of each epoch when validation data is given
  int64_t patience = 0;                // early stopping after this many validations without improvement; 0: off
  int64_t checkpoint_every = 500;      // steps; 0: only at the end and on interruption
  int64_t log_every = 50;              // steps between metrics.jsonl lines
  int64_t max_bad_steps = 20;          // consecutive non-finite losses before training stops with an error
  int64_t seed = 0;
  int64_t sample_every = 0;            // steps between sample grids in run_dir/samples/ (0: only at the end)
  std::string run_dir;                 // checkpoints, metrics, sample grids, loss curve; empty: none written
  bool resume = false;                 // continue the run in run_dir from its checkpoint
  // DP-SGD (Abadi et al. 2016, as Opacus): each step takes every example with probability batch_size / N
  // (Poisson sampling), clips each example's gradient to dp_max_grad_norm, adds Gaussian noise of
  // dp_noise_multiplier x dp_max_grad_norm to the sum and divides by the expected batch size. The noise multiplier
  // is chosen for dp_epsilon at dp_delta over the run's steps (by dp_accountant) unless given; the ε spent is in
  // the fit report ("privacy"). One optimizer group only.
  double dp_epsilon = 0;               // > 0: train with DP-SGD to this ε
  double dp_delta = 1e-5;
  double dp_max_grad_norm = 1.0;       // per-example clipping norm C
  double dp_noise_multiplier = 0;      // σ (noise std / C); 0: chosen from dp_epsilon
  std::string dp_accountant = "rdp";   // rdp | prv (tighter; Opacus' PRVAccountant): chooses σ and reports ε
  void validate() const;
  bool differentially_private() const { return dp_epsilon > 0 || dp_noise_multiplier > 0; }
};

// Adds the trainer's options to the option table of a model whose options derive from TrainOptions (one
// namespace of --set keys). `renames` gives some options another name (a family's customary one, e.g.
// scikit-learn's BernoulliRBM calls epochs n_iter and lr learning_rate).
template <class Options>
void add_train_options(OptionTable<Options>& t,
                       std::vector<std::pair<const char*, const char*>> renames = {}) {
  static_assert(std::is_base_of_v<TrainOptions, Options>, "model options must derive from gf::train::TrainOptions");
  using O = Options;
  auto n = [&renames](const char* name) {
    for (const auto& [from, to] : renames) {
      if (std::string(from) == name) return to;
    }
    return name;
  };
  t.add(n("epochs"), static_cast<int64_t O::*>(&TrainOptions::epochs), "passes over the data (unless max_steps)")
      .add(n("max_steps"), static_cast<int64_t O::*>(&TrainOptions::max_steps), "optimizer steps; 0: epochs decide")
      .add(n("batch_size"), static_cast<int64_t O::*>(&TrainOptions::batch_size), "examples per step")
      .add(n("optimizer"), static_cast<std::string O::*>(&TrainOptions::optimizer), "optimizer", {"adam", "adamw", "sgd"})
      .add(n("lr"), static_cast<double O::*>(&TrainOptions::lr), "learning rate")
      .add(n("beta1"), static_cast<double O::*>(&TrainOptions::beta1), "Adam beta1")
      .add(n("beta2"), static_cast<double O::*>(&TrainOptions::beta2), "Adam beta2")
      .add(n("momentum"), static_cast<double O::*>(&TrainOptions::momentum), "SGD momentum")
      .add(n("weight_decay"), static_cast<double O::*>(&TrainOptions::weight_decay), "weight decay")
      .add(n("schedule"), static_cast<std::string O::*>(&TrainOptions::schedule), "learning-rate schedule",
           {"constant", "step", "cosine"})
      .add(n("warmup_steps"), static_cast<int64_t O::*>(&TrainOptions::warmup_steps), "linear warm-up steps")
      .add(n("step_size"), static_cast<int64_t O::*>(&TrainOptions::step_size), "step schedule: steps per decay")
      .add(n("gamma"), static_cast<double O::*>(&TrainOptions::gamma), "step schedule: decay factor")
      .add(n("min_lr_ratio"), static_cast<double O::*>(&TrainOptions::min_lr_ratio), "cosine: final lr / lr")
      .add(n("clip_grad_norm"), static_cast<double O::*>(&TrainOptions::clip_grad_norm), "gradient norm limit (0: off)")
      .add(n("ema_decay"), static_cast<double O::*>(&TrainOptions::ema_decay), "EMA of weights (0: off)")
      .add(n("validate_every"), static_cast<int64_t O::*>(&TrainOptions::validate_every),
           "steps between validations (0: each epoch)")
      .add(n("patience"), static_cast<int64_t O::*>(&TrainOptions::patience), "early stopping patience (0: off)")
      .add(n("checkpoint_every"), static_cast<int64_t O::*>(&TrainOptions::checkpoint_every), "steps between checkpoints")
      .add(n("log_every"), static_cast<int64_t O::*>(&TrainOptions::log_every), "steps between metrics lines")
      .add(n("max_bad_steps"), static_cast<int64_t O::*>(&TrainOptions::max_bad_steps),
           "consecutive non-finite losses tolerated")
      .add(n("seed"), static_cast<int64_t O::*>(&TrainOptions::seed), "seed of initialisation, shuffling and noise")
      .add(n("sample_every"), static_cast<int64_t O::*>(&TrainOptions::sample_every),
           "steps between sample grids in the run directory (0: at the end only)")
      .add(n("run_dir"), static_cast<std::string O::*>(&TrainOptions::run_dir), "run directory (checkpoints, metrics)")
      .add(n("resume"), static_cast<bool O::*>(&TrainOptions::resume), "continue the run in run_dir from its checkpoint")
      .add(n("dp_epsilon"), static_cast<double O::*>(&TrainOptions::dp_epsilon),
           "DP-SGD: train to this epsilon (0: off; noise multiplier chosen by dp_accountant)")
      .add(n("dp_delta"), static_cast<double O::*>(&TrainOptions::dp_delta), "DP-SGD: delta")
      .add(n("dp_max_grad_norm"), static_cast<double O::*>(&TrainOptions::dp_max_grad_norm),
           "DP-SGD: per-example gradient clipping norm")
      .add(n("dp_noise_multiplier"), static_cast<double O::*>(&TrainOptions::dp_noise_multiplier),
           "DP-SGD: noise std / clipping norm (0: from dp_epsilon)")
      .add(n("dp_accountant"), static_cast<std::string O::*>(&TrainOptions::dp_accountant),
           "DP-SGD: privacy accountant choosing the noise and reporting epsilon", {"rdp", "prv"});
}

struct Batch {
  torch::Tensor x;       // [B, ...]
  torch::Tensor labels;  // [B] int64, or undefined
};

class StepContext {
 public:
  virtual ~StepContext() = default;
  // zero-grad, backward, finite check, clipping, optimizer step, EMA, for one named group.
  virtual void optimize(const std::string& group, const torch::Tensor& loss) = 0;
  // A scalar watched during training (written to metrics.jsonl; averaged over log_every steps).
  virtual void log(const std::string& name, double value) = 0;
  virtual at::Generator& generator() = 0;  // the model's noise; saved in checkpoints
  virtual int64_t step() const = 0;
};

class Trainable {
 public:
  virtual ~Trainable() = default;
  // Parameters by optimizer group name, e.g. {"model": ...} or {"generator": ..., "discriminator": ...}.
  virtual std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() = 0;
  // Every tensor that makes up the model (parameters and buffers), by stable name: checkpointed and restored.
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_state() = 0;
  virtual void set_training(bool on) = 0;
  virtual void train_step(const Batch& batch, StepContext& ctx) = 0;
  // Mean loss per example on a batch, without gradients (validation and early stopping).
  virtual double eval_loss(const Batch& batch, at::Generator& gen) = 0;
  // Per-group options that differ from the shared ones (e.g. a GAN's betas), as {"lr": 2e-4, "beta1": 0.5}.
  virtual nlohmann::json group_options(const std::string& group) const { return nlohmann::json::object(); }
  // Images [n, C, H, W] in [0, 1] drawn with `gen` (the same noise each time), for the run directory's sample
  // grids; undefined when the model has nothing to show.
  virtual torch::Tensor preview(int64_t n, at::Generator& gen) { return {}; }
};

struct TrainData {
  torch::Tensor x;       // [N, ...] float
  torch::Tensor labels;  // [N] int64 or undefined
};

// Runs training (resuming from options.run_dir/checkpoint.gf when options.resume); the model's tensors end at the
// last step's values (or the EMA's, when ema_decay > 0). Interruption (SIGINT/SIGTERM) saves a checkpoint and
// throws gf::Interrupted. With a run_dir it also leaves metrics.jsonl, loss.png (loss curves) and, for models
// with a preview, samples/step_NNNNNN.png every sample_every steps and samples/final.png.
FitReport run(Trainable& model, const TrainData& train, const TrainData* validation, const TrainOptions& options,
              const FitContext& ctx);

// Which of `names` fine-tuning holds fixed (FitContext::freeze / train_only): those matching a `freeze` glob, and
// with `train_only` every name matching none of its globs. A glob that matches no name is InvalidArgument.
std::vector<bool> frozen_names(const std::vector<std::string>& names, const std::vector<std::string>& freeze,
                               const std::vector<std::string>& train_only);

// Path of the checkpoint inside a run directory.
std::string checkpoint_path(const std::string& run_dir);

}  // namespace gf::train
