#include "genforge/train/trainer.h"

#include <ATen/Parallel.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim.h>
#include <torch/serialize.h>

#include <fnmatch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "genforge/core/atomic_file.h"
#include "genforge/core/distributed.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/runtime.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/io/bytes.h"
#include "genforge/io/model_file.h"
#include "genforge/viz/plot.h"
#include "genforge/privacy/accountant.h"
#include "train/data_parallel.h"
#include "train/dp_sgd.h"
#include "train/optimizers.h"
#include "train/fused_adam.h"

namespace gf::train {
namespace fs = std::filesystem;

void TrainOptions::validate() const {
  GF_CHECK(epochs >= 1 || max_steps >= 1, "give epochs >= 1 or max_steps >= 1, got epochs=", epochs,
           " max_steps=", max_steps);
  GF_CHECK(max_steps >= 0, "max_steps must be >= 0, got ", max_steps);
  GF_CHECK(batch_size >= 1, "batch_size must be at least 1, got ", batch_size);
  GF_CHECK(optimizer == "adam" || optimizer == "adamw" || optimizer == "sgd",
           "optimizer must be adam, adamw or sgd, got '", optimizer, "'");
  GF_CHECK(lr > 0 && std::isfinite(lr), "lr must be positive, got ", lr);
  GF_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "beta1 and beta2 must be in [0, 1), got ", beta1,
           " and ", beta2);
  GF_CHECK(schedule == "constant" || schedule == "step" || schedule == "cosine",
           "schedule must be constant, step or cosine, got '", schedule, "'");
  GF_CHECK(warmup_steps >= 0 && step_size >= 1, "warmup_steps must be >= 0 and step_size >= 1");
  GF_CHECK(clip_grad_norm >= 0, "clip_grad_norm must be >= 0, got ", clip_grad_norm);
  GF_CHECK(ema_decay >= 0 && ema_decay < 1, "ema_decay must be in [0, 1), got ", ema_decay);
  GF_CHECK(checkpoint_every >= 0 && log_every >= 1 && max_bad_steps >= 1 && patience >= 0 && validate_every >= 0 &&
               sample_every >= 0,
           "checkpoint_every, validate_every, sample_every and patience must be >= 0; log_every and max_bad_steps >= 1");
  GF_CHECK(!resume || !run_dir.empty(), "resume needs the run directory of the run to continue (run_dir)");
  GF_CHECK(dp_epsilon >= 0 && dp_noise_multiplier >= 0, "dp_epsilon and dp_noise_multiplier must be >= 0");
  GF_CHECK(dp_delta > 0 && dp_delta < 1, "dp_delta must be in (0, 1), got ", dp_delta);
  GF_CHECK(dp_accountant == "rdp" || dp_accountant == "prv", "dp_accountant must be rdp or prv, got '", dp_accountant,
           "'");
  GF_CHECK(dp_max_grad_norm > 0, "dp_max_grad_norm must be > 0, got ", dp_max_grad_norm);
}

std::string checkpoint_path(const std::string& run_dir) { return (fs::path(run_dir) / "checkpoint.gf").string(); }

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal.store(sig); }

// Installs SIGINT/SIGTERM handlers for the duration of training and restores the previous ones.
class SignalGuard {
 public:
  SignalGuard() {
    g_signal.store(0);
    old_int_ = std::signal(SIGINT, on_signal);
    old_term_ = std::signal(SIGTERM, on_signal);
  }
  ~SignalGuard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

struct Group {
  std::string name;
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  double base_lr = 0;
};

// Running means of logged scalars between metrics lines.
struct Meter {
  std::map<std::string, std::pair<double, int64_t>> sums;
  void add(const std::string& k, double v) {
    auto& s = sums[k];
    s.first += v;
    s.second += 1;
  }
  nlohmann::json flush() {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, s] : sums) out[k] = s.second ? s.first / static_cast<double>(s.second) : 0.0;
    sums.clear();
    return out;
  }
};

class Loop : public StepContext {
 public:
  Loop(Trainable& model, const TrainOptions& o, const FitContext& ctx)
      : model_(model),
        o_(o),
        ctx_(ctx),
        comm_(dist::world()),
        // Rank 0 draws the noise one process would; the others their own stream (distinct noise per example).
        noise_(make_generator(static_cast<uint64_t>(o.seed) * 2 + 1 +
                              0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(comm_.rank()))) {
    if (ctx.initial_state) warm_start(*ctx.initial_state);
    if (comm_.distributed()) {
      GF_CHECK_AS(InvalidArgument, !o.differentially_private(), "train with DP-SGD in one process",
                  "DP-SGD (dp_epsilon / dp_noise_multiplier) does not run as a distributed job");
      sync_.emplace(comm_);
      sync_->start_from_rank0(model.named_state());
    }
    {
      const auto state = model.named_state();
      std::vector<std::string> names;
      for (const auto& [name, t] : state) names.push_back(name);
      const auto frozen = frozen_names(names, ctx.freeze, ctx.train_only);
      for (size_t i = 0; i < state.size(); ++i) {
        if (frozen[i]) frozen_.insert(state[i].second.unsafeGetTensorImpl());
      }
    }
    for (auto& [name, params] : model.parameter_groups()) {
      Group g;
      g.name = name;
      for (auto& p : params) {
        if (frozen_.count(p.unsafeGetTensorImpl())) {
          if (p.requires_grad()) {
            p.set_requires_grad(false);  // no gradient computed, and no optimizer (nor weight decay) touches it
            unfrozen_at_end_.push_back(p);
          }
        } else {
          g.params.push_back(p);
        }
      }
      if (!g.params.empty()) g.optimizer = make_optimizer(o, model.group_options(name), g.params, g.base_lr);
      if (sync_) sync_->add_group(g.params);
      groups_.push_back(std::move(g));
    }
    if (o.ema_decay > 0) {
      for (auto& [name, t] : model.named_state()) ema_.emplace_back(name, t.detach().clone());
    }
  }
  ~Loop() override {
    for (auto& p : unfrozen_at_end_) p.set_requires_grad(true);  // the parameters frozen here, as they were
  }

  void optimize(const std::string& name, const torch::Tensor& loss) override {
    Group& g = group(name);
    if (g.params.empty()) return;  // every parameter of the group is frozen
    const double value = loss.item<double>();
    if (clipper_) {  // DP-SGD: one example's gradient, clipped into the step's sum
      for (auto& p : g.params) p.mutable_grad() = torch::Tensor();
      if (std::isfinite(value)) {
        loss.backward();
        if (clipper_->add()) {
          dp_loss_sum_ += value;
          return;
        }
      }
      ++dp_skipped_examples_;
      return;
    }
    double value_all = value;
    if (comm_.distributed()) {
      // Every rank learns whether any rank's loss is bad (then all skip the step) and the global mean loss.
      auto t = torch::tensor({std::isfinite(value) ? 0.0 : 1.0, std::isfinite(value) ? value * share_ : 0.0},
                             torch::kFloat64);
      comm_.all_reduce_sum(t);
      if (t[0].item<double>() > 0) {
        bad_this_step_ = true;
        bad_reason_ = msg("the loss was not finite on ", t[0].item<int64_t>(), " rank(s) (here ", value, ")");
        return;
      }
      value_all = t[1].item<double>();
    } else if (!std::isfinite(value)) {
      bad_this_step_ = true;
      bad_reason_ = msg("the loss was ", value);
      return;
    }
    // Gradients are released rather than zeroed: backward then writes them fresh instead of adding to zeros.
    for (auto& p : g.params) p.mutable_grad() = torch::Tensor();
    if (comm_.distributed()) {
      sync_->backward_summed(static_cast<size_t>(&g - groups_.data()), loss, share_);
    } else {
      loss.backward();
    }
    // The gradient norm (a monitor, and the clipping threshold's input) costs a pass over every gradient: it is
    // computed on the steps that write a metrics line, and on every step when clipping.
    const bool logged_step = (step_ + 1) % o_.log_every == 0 || step_ + 1 == total_steps_;
    if (logged_step || o_.clip_grad_norm > 0) {
      std::vector<torch::Tensor> norms;  // one host sync per step, not one per parameter
      for (const auto& p : g.params) {
        if (p.grad().defined()) norms.push_back(p.grad().norm());
      }
      const double norm = norms.empty() ? 0.0 : torch::stack(norms).to(torch::kFloat64).norm().item<double>();
      if (!std::isfinite(norm)) {
        skip_bad_gradients(g, value);
        return;
      }
      if (o_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(g.params, o_.clip_grad_norm);
      if (logged_step) meter_.add("grad_norm/" + name, norm);
    } else if (!gradients_finite(g.params)) {  // a finite loss can still have non-finite gradients
      skip_bad_gradients(g, value);
      return;
    }
    set_lr(*g.optimizer, scheduled_lr(o_, g.base_lr, step_, total_steps_));
    g.optimizer->step();
    meter_.add("loss/" + name, value_all);
  }
  // DP-SGD: the noise multiplier for the run (given, or the smallest that keeps ε within dp_epsilon over all steps).
  void start_dp(int64_t n) {
    GF_CHECK_AS(InvalidArgument, groups_.size() == 1, "train it without dp_epsilon, or use a one-network model",
                "DP-SGD trains one optimizer group; this model has ", groups_.size(), " (", groups_.front().name, ", ",
                groups_.back().name, ")");
    GF_CHECK(!groups_.front().params.empty(), "DP-SGD needs parameters to train; every one is frozen");
    dp_q_ = std::min(1.0, static_cast<double>(o_.batch_size) / static_cast<double>(n));
    dp_sigma_ = o_.dp_noise_multiplier > 0
                    ? o_.dp_noise_multiplier
                    : privacy::noise_multiplier_for(o_.dp_epsilon, o_.dp_delta, dp_q_, total_steps_, o_.dp_accountant);
    clipper_.emplace(groups_.front().params, o_.dp_max_grad_norm);
    log::info(msg("DP-SGD: noise multiplier ", dp_sigma_, ", sample rate ", dp_q_, ", ", total_steps_, " steps"));
  }
  // One DP-SGD step: a Poisson batch, each example's gradient clipped and summed, noise, the mean over the
  // expected batch size, one optimizer step.
  void dp_step(const TrainData& train) {
    Group& g = groups_.front();
    const int64_t n = train.x.size(0);
    const auto idx = poisson_batch(n, dp_q_, o_.seed, step_);
    dp_loss_sum_ = 0;
    const int64_t before = dp_skipped_examples_;
    for (int64_t k = 0; k < idx.size(0); ++k) {
      const int64_t i = idx[k].item<int64_t>();
      Batch one{train.x.slice(0, i, i + 1), train.labels.defined() ? train.labels.slice(0, i, i + 1) : torch::Tensor()};
      try {
        model_.train_step(one, *this);
      } catch (const c10::Error& e) {
        throw InvalidArgument(msg("DP-SGD needs each example's own gradient, and this model could not train on a "
                                  "single example: ", e.what_without_backtrace()),
                              "models with batch statistics (batch normalization) cannot use DP-SGD here");
      }
    }
    auto gen = make_generator(static_cast<uint64_t>(o_.seed) * 6364136223846793005ULL + static_cast<uint64_t>(step_) + 17);
    const int64_t used = clipper_->examples();
    clipper_->finish(dp_sigma_, dp_q_ * static_cast<double>(n), gen);
    set_lr(*g.optimizer, scheduled_lr(o_, g.base_lr, step_, total_steps_));
    g.optimizer->step();
    if (used > 0) meter_.add("loss/" + g.name, dp_loss_sum_ / static_cast<double>(used));
    if (dp_skipped_examples_ > before) meter_.add("dp_skipped_examples", static_cast<double>(dp_skipped_examples_ - before));
  }
  void skip_bad_gradients(Group& g, double loss) {
    bad_this_step_ = true;
    bad_reason_ = msg("the gradients were not finite (loss ", loss, ")");
    for (auto& p : g.params) p.mutable_grad() = torch::Tensor();
  }
  void log(const std::string& name, double value) override { meter_.add(name, value); }
  at::Generator& generator() override { return noise_; }
  int64_t step() const override { return step_; }

  FitReport run(const TrainData& train, const TrainData* val) {
    const int64_t n = train.x.size(0);
    GF_CHECK_AS(DataError, n >= 1, "give at least one training example", "the training data is empty");
    // batch_size examples per rank and step (PyTorch's DistributedDataParallel convention): a global batch of
    // batch_size x ranks, taken from the same shuffled order as one process with that batch size would.
    const int64_t global_batch = o_.batch_size * comm_.size();
    comm_.check_same("the number of training examples", static_cast<double>(n));
    const int64_t per_epoch = (n + global_batch - 1) / global_batch;
    total_steps_ = o_.max_steps > 0 ? o_.max_steps : o_.epochs * per_epoch;
    if (!o_.run_dir.empty() && comm_.writer()) {  // temporaries a killed run left mid-write go first
      fs::create_directories(o_.run_dir);
      for (const auto& d : {fs::path(o_.run_dir), fs::path(o_.run_dir) / "samples"}) remove_stale_temporaries(d.string());
    }
    if (o_.resume) load_checkpoint();
    SignalGuard signals;
    std::optional<Progress> bar;
    if (ctx_.progress && comm_.writer()) bar.emplace("train", total_steps_, "step");
    const auto started = std::chrono::steady_clock::now();
    FitReport report;
    model_.set_training(true);
    if (o_.differentially_private()) start_dp(n);
    while (step_ < total_steps_ && !stopped_early_) {
      const int64_t epoch = step_ / per_epoch, in_epoch = step_ % per_epoch;
      // The order of an epoch depends only on (seed, epoch), so a resumed run sees the same batches.
      auto order_gen = make_generator(static_cast<uint64_t>(o_.seed) * 1000003 + static_cast<uint64_t>(epoch));
      auto order = torch::randperm(n, order_gen, torch::TensorOptions().dtype(torch::kLong));
      for (int64_t b = in_epoch; b < per_epoch && step_ < total_steps_; ++b) {
        bad_this_step_ = false;
        if (clipper_) {  // DP-SGD draws its own (Poisson) batch
          dp_step(train);
        } else {
          const int64_t first = b * global_batch, in_batch = std::min(n, first + global_batch) - first;
          auto [lo, hi] = dist::shard(in_batch, comm_.rank(), comm_.size());
          share_ = static_cast<double>(hi - lo) / static_cast<double>(in_batch);
          if (hi == lo) {  // fewer examples than ranks: a stand-in example whose gradient counts zero
            lo = std::min(lo, in_batch - 1);
            hi = lo + 1;
          }
          auto idx = order.slice(0, first + lo, first + hi).to(train.x.device());
          model_.train_step({train.x.index_select(0, idx),
                             train.labels.defined() ? train.labels.index_select(0, idx) : torch::Tensor()},
                            *this);
        }
        if (bad_this_step_) {
          ++bad_steps_total_;
          if (++bad_in_a_row_ >= o_.max_bad_steps) {
            throw NumericalError(msg("training stopped at step ", step_, ": ", bad_reason_, " for ",
                                     bad_in_a_row_, " steps in a row (", bad_steps_total_, " skipped in all)"),
                                 "lower lr, set clip_grad_norm, or check the data for extreme values; the last "
                                 "good checkpoint is kept in the run directory");
          }
        } else {
          bad_in_a_row_ = 0;
          update_ema();
        }
        ++step_;
        if (bar) bar->update(step_, last_line_);
        if (step_ % o_.log_every == 0 || step_ == total_steps_) write_metrics(epoch);
        const bool end_of_epoch = b + 1 == per_epoch;
        if (val && ((o_.validate_every > 0 && step_ % o_.validate_every == 0) ||
                    (o_.validate_every == 0 && end_of_epoch))) {
          validate(*val);
        }
        if (o_.checkpoint_every > 0 && step_ % o_.checkpoint_every == 0) save_checkpoint();
        if (o_.sample_every > 0 && step_ % o_.sample_every == 0) write_preview(msg("step_", padded(step_), ".png"));
        bool stop = g_signal.load() != 0;
        if (comm_.distributed()) stop = comm_.sum(stop ? 1.0 : 0.0) > 0;  // every rank stops at the same step
        if (stop) {
          save_checkpoint();
          throw Interrupted(msg("training interrupted at step ", step_, " of ", total_steps_),
                            o_.run_dir.empty() ? "give --run-dir to keep checkpoints"
                                               : "continue with --resume " + o_.run_dir);
        }
        if (stopped_early_) break;
      }
    }
    if (bar) bar->finish(last_line_);
    save_checkpoint();
    finished_ = true;
    if (!ema_.empty()) {
      torch::NoGradGuard no_grad;
      auto state = model_.named_state();
      for (size_t i = 0; i < state.size(); ++i) state[i].second.copy_(ema_[i].second);
    }
    model_.set_training(false);
    write_preview("final.png");
    write_loss_curve();
    report.n_iter = step_;
    report.converged = true;
    report.history = loss_history_;
    report.objective = loss_history_.empty() ? std::nan("") : loss_history_.back();
    report.objective_name = "training loss (mean per example, last logged)";
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.extra["skipped_steps"] = bad_steps_total_;
    if (best_val_ < std::numeric_limits<double>::infinity()) report.extra["best_validation_loss"] = best_val_;
    report.extra["stopped_early"] = stopped_early_;
    if (clipper_) {
      const auto spent = privacy::epsilon_spent(o_.dp_accountant, dp_sigma_, dp_q_, step_, o_.dp_delta);
      report.extra["privacy"] = {{"mechanism", "DP-SGD: Poisson sampling, per-example clipping, Gaussian noise"},
                                 {"epsilon", spent.epsilon},
                                 {"delta", o_.dp_delta},
                                 {"accountant", o_.dp_accountant},
                                 {"rdp_order", std::isnan(spent.order) ? nlohmann::json() : nlohmann::json(spent.order)},
                                 {"noise_multiplier", dp_sigma_},
                                 {"max_grad_norm", o_.dp_max_grad_norm},
                                 {"sample_rate", dp_q_},
                                 {"steps", step_},
                                 {"skipped_examples", dp_skipped_examples_},
                                 {"public", "what was read off the data before training (the input pipeline's "
                                            "categories and scaling) and the number of examples; DP-SGD covers "
                                            "the gradient steps"}};
    }
    return report;
  }

 private:
  Group& group(const std::string& name) {
    for (auto& g : groups_) {
      if (g.name == name) return g;
    }
    throw InternalError(msg("optimizer group '", name, "' does not exist"), "report this as a bug");
  }

  // Copies the tensors of a saved state into the model's, by name; shapes must agree. Tensors the state lacks
  // (a new head) keep their fresh initialisation; a state that matches nothing is an error.
  void warm_start(const TensorMap& state) {
    torch::NoGradGuard no_grad;
    int64_t matched = 0;
    for (auto& [name, t] : model_.named_state()) {
      auto it = state.find(name);
      if (it == state.end()) continue;
      GF_CHECK_AS(ModelFileError, it->second.sizes() == t.sizes(),
                  "fine-tune with the base model's architecture options", "'", name, "' has shape ", it->second.sizes(),
                  " in the base model but ", t.sizes(), " here");
      t.copy_(it->second.to(t.device(), t.scalar_type()));
      ++matched;
    }
    GF_CHECK_AS(ModelFileError, matched > 0, "fine-tune a model of the same kind and architecture",
                "none of the base model's tensors matches this model's");
  }

  void update_ema() {
    if (ema_.empty()) return;
    torch::NoGradGuard no_grad;
    // Warm-up of the decay (as TensorFlow's ExponentialMovingAverage with num_updates): early in training the
    // average follows the weights instead of staying near their random initial values.
    const double decay = std::min(o_.ema_decay, (1.0 + static_cast<double>(step_)) / (10.0 + static_cast<double>(step_)));
    auto state = model_.named_state();
    for (size_t i = 0; i < state.size(); ++i) {
      auto& e = ema_[i].second;
      if (frozen_.count(state[i].second.unsafeGetTensorImpl())) continue;  // stays the frozen value, bit for bit
      if (at::isFloatingType(e.scalar_type())) {
        e.mul_(decay).add_(state[i].second.detach(), 1 - decay);
      } else {
        e.copy_(state[i].second);
      }
    }
  }

  void validate(const TrainData& val) {
    torch::NoGradGuard no_grad;
    model_.set_training(false);
    auto gen = make_generator(static_cast<uint64_t>(o_.seed) + 7);
    double total = 0;
    const int64_t n = val.x.size(0);
    for (int64_t s = 0; s < n; s += o_.batch_size) {
      const int64_t e = std::min(n, s + o_.batch_size);
      Batch b{val.x.slice(0, s, e), val.labels.defined() ? val.labels.slice(0, s, e) : torch::Tensor()};
      total += model_.eval_loss(b, gen) * static_cast<double>(e - s);
    }
    model_.set_training(true);
    const double loss = total / static_cast<double>(n);
    meter_.add("validation_loss", loss);
    if (loss < best_val_ - 1e-12) {
      best_val_ = loss;
      since_best_ = 0;
    } else if (o_.patience > 0 && ++since_best_ >= o_.patience) {
      stopped_early_ = true;
      log::info(msg("early stopping at step ", step_, ": validation loss ", loss, ", best ", best_val_));
    }
  }

  void write_metrics(int64_t epoch) {
    nlohmann::json line = meter_.flush();
    if (line.contains("loss/" + groups_.front().name)) {
      loss_history_.push_back(line["loss/" + groups_.front().name].get<double>());
    }
    std::ostringstream brief;
    for (auto& [k, v] : line.items()) {
      if (k.rfind("loss/", 0) == 0 || k == "validation_loss") brief << k << " " << v.get<double>() << "  ";
    }
    last_line_ = brief.str();
    line["step"] = step_;
    line["epoch"] = epoch;
    line["lr"] = scheduled_lr(o_, groups_.front().base_lr, step_ - 1, total_steps_);
    line["skipped_steps"] = bad_steps_total_;
    if (o_.run_dir.empty() || !comm_.writer()) return;
    std::ofstream out(fs::path(o_.run_dir) / "metrics.jsonl", std::ios::app);
    out << line.dump() << "\n";
  }

  static std::string padded(int64_t step) {
    std::string digits = std::to_string(step);
    return std::string(digits.size() < 6 ? 6 - digits.size() : 0, '0') + digits;
  }

  // A grid of the model's preview images, always from the same noise so grids over time are comparable.
  void write_preview(const std::string& file) {
    if (o_.run_dir.empty() || !comm_.writer()) return;
    torch::NoGradGuard no_grad;
    const bool was_training = !finished_;
    model_.set_training(false);
    auto gen = make_generator(static_cast<uint64_t>(o_.seed) + 4242);
    auto images = model_.preview(64, gen);
    if (was_training) model_.set_training(true);
    if (!images.defined()) return;
    fs::create_directories(fs::path(o_.run_dir) / "samples");
    write_png_grid((fs::path(o_.run_dir) / "samples" / file).string(), images.cpu(), 8);
  }

  // loss.png: every loss and the validation loss against the step, from metrics.jsonl (so a resumed run's curve
  // covers the whole run).
  void write_loss_curve() {
    if (o_.run_dir.empty() || !comm_.writer()) return;
    std::ifstream in(fs::path(o_.run_dir) / "metrics.jsonl");
    std::map<std::string, viz::Series> curves;
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("step")) continue;
      for (auto& [key, value] : j.items()) {
        if ((key.rfind("loss/", 0) != 0 && key != "validation_loss") || !value.is_number()) continue;
        auto& s = curves[key];
        s.x.push_back(j["step"].get<double>());
        s.y.push_back(value.get<double>());
      }
    }
    if (curves.empty()) return;
    std::vector<viz::Series> series;
    for (auto& [key, s] : curves) {
      s.label = key;
      s.line = true;
      s.color = viz::series_color(series.size());
      series.push_back(std::move(s));
    }
    viz::write_scatter_png((fs::path(o_.run_dir) / "loss.png").string(), series,
                           {"training curves", "step", "loss (mean per example)"});
  }

  void save_checkpoint() {
    if (o_.run_dir.empty()) return;
    // Every rank's noise stream goes into the checkpoint (rank 0 gathers them), so that a resumed job with as
    // many ranks continues bit for bit.
    torch::Tensor noise_states;  // [ranks, state bytes]
    if (comm_.distributed()) {
      const auto mine = noise_.get_state();
      noise_states = torch::zeros({comm_.size(), mine.numel()}, torch::kUInt8);
      noise_states[comm_.rank()].copy_(mine);
      comm_.all_reduce_sum(noise_states);
    }
    if (!comm_.writer()) return;
    ModelFileContents c;
    c.kind = "checkpoint";
    c.extra = {{"step", step_},
               {"world_size", comm_.size()},
               {"global_batch", o_.batch_size * comm_.size()},
               {"bad_steps_total", bad_steps_total_},
               {"bad_in_a_row", bad_in_a_row_},
               {"best_validation_loss", std::isfinite(best_val_) ? nlohmann::json(best_val_) : nlohmann::json()},
               {"since_best", since_best_},
               {"loss_history", loss_history_}};
    for (auto& [name, t] : model_.named_state()) c.tensors["model/" + name] = t.detach();
    for (auto& [name, t] : ema_) c.tensors["ema/" + name] = t;
    for (auto& g : groups_) {
      if (g.optimizer) c.tensors["optimizer/" + g.name] = optimizer_blob(*g.optimizer);
    }
    c.tensors["rng/noise"] = noise_.get_state();
    for (int r = 1; r < comm_.size(); ++r) c.tensors[msg("rng/noise_rank", r)] = noise_states[r].clone();
    write_model_file(checkpoint_path(o_.run_dir), c);
  }

  void load_checkpoint() {
    const std::string path = checkpoint_path(o_.run_dir);
    // Rank 0 reads the checkpoint and hands it to the others (they need not see its file system).
    std::string bytes;
    if (comm_.writer()) {
      GF_CHECK_AS(ModelFileError, fs::exists(path), "train without --resume to start afresh",
                  "no checkpoint to resume: '", path, "' does not exist");
      bytes = read_file_bytes(path);
    }
    ModelFileContents c = parse_model_file(comm_.broadcast_bytes(bytes, 0), path);
    GF_CHECK_AS(ModelFileError, c.kind == "checkpoint", "give the run directory of a training run", "'", path,
                "' is not a training checkpoint");
    auto take = [&](const std::string& key) -> const torch::Tensor& {
      auto it = c.tensors.find(key);
      GF_CHECK_AS(ModelFileError, it != c.tensors.end(), "the checkpoint belongs to another model or is damaged",
                  "'", path, "' has no tensor '", key, "'");
      return it->second;
    };
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model_.named_state()) {
      const auto& saved = take("model/" + name);
      GF_CHECK_AS(ModelFileError, saved.sizes() == t.sizes(), "resume with the options the run was started with", "'",
                  path, "': tensor '", name, "' has shape ", saved.sizes(), ", the model has ", t.sizes());
      t.copy_(saved);
    }
    for (auto& [name, t] : ema_) t.copy_(take("ema/" + name));
    for (auto& g : groups_) {
      if (g.optimizer) load_optimizer_blob(*g.optimizer, take("optimizer/" + g.name));
    }
    const int64_t saved_world = c.extra.value("world_size", int64_t{1});
    const int64_t saved_batch = c.extra.value("global_batch", o_.batch_size * saved_world);
    const int64_t global_batch = o_.batch_size * comm_.size();
    GF_CHECK_AS(InvalidArgument, saved_batch == global_batch,
                msg("resume with batch_size x ranks = ", saved_batch, " (e.g. batch_size ",
                    saved_batch % comm_.size() == 0 ? std::to_string(saved_batch / comm_.size()) : "?", " on ",
                    comm_.size(), " rank(s))"),
                "the run's global batch was ", saved_batch, " examples per step (", saved_world,
                " rank(s)); this job's is ", global_batch);
    if (comm_.rank() == 0) {
      noise_.set_state(take("rng/noise"));
    } else if (c.tensors.count(msg("rng/noise_rank", comm_.rank()))) {
      noise_.set_state(take(msg("rng/noise_rank", comm_.rank())));
    }  // a rank the saved run did not have keeps its seeded stream (the run continues, not bit for bit)
    step_ = c.extra.at("step").get<int64_t>();
    bad_steps_total_ = c.extra.value("bad_steps_total", int64_t{0});
    bad_in_a_row_ = c.extra.value("bad_in_a_row", int64_t{0});
    if (c.extra.contains("best_validation_loss") && c.extra["best_validation_loss"].is_number()) {
      best_val_ = c.extra["best_validation_loss"].get<double>();
    }
    since_best_ = c.extra.value("since_best", int64_t{0});
    loss_history_ = c.extra.value("loss_history", std::vector<double>{});
    if (comm_.writer()) trim_metrics();
    log::info(msg("resuming from step ", step_, " of '", path, "'"));
  }

  // A run killed after its last checkpoint has metrics lines the resumed run writes again (and perhaps half a
  // line): keep the complete lines of steps up to the checkpoint's.
  void trim_metrics() {
    const std::string path = (fs::path(o_.run_dir) / "metrics.jsonl").string();
    if (!fs::exists(path)) return;
    std::ifstream in(path);
    std::string kept;
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);  // discarded (not an object): the line cut short
      if (j.is_object() && j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() <= step_) {
        kept += line + "\n";
      }
    }
    write_file_atomic(path, [&](std::ostream& out) { out << kept; });
  }

  Trainable& model_;
  const TrainOptions& o_;
  const FitContext& ctx_;
  dist::Communicator& comm_;
  at::Generator noise_;
  std::vector<Group> groups_;
  std::vector<std::pair<std::string, torch::Tensor>> ema_;
  std::set<const c10::TensorImpl*> frozen_;
  std::vector<torch::Tensor> unfrozen_at_end_;
  Meter meter_;
  std::vector<double> loss_history_;
  std::string last_line_;
  int64_t step_ = 0, total_steps_ = 0, bad_in_a_row_ = 0, bad_steps_total_ = 0, since_best_ = 0;
  bool bad_this_step_ = false, stopped_early_ = false, finished_ = false;
  std::string bad_reason_;  // why the last skipped step was skipped
  double best_val_ = std::numeric_limits<double>::infinity();
  double share_ = 1.0;  // this rank's part of the current global batch (its gradient's weight in the sum)
  std::optional<DataParallel> sync_;  // distributed jobs: the gradient sum across ranks
  // DP-SGD (options.differentially_private()): the clipper collects each example's gradient while it exists.
  std::optional<PerExampleClipper> clipper_;
  double dp_sigma_ = 0, dp_q_ = 0, dp_loss_sum_ = 0;
  int64_t dp_skipped_examples_ = 0;
};

}  // namespace

std::vector<bool> frozen_names(const std::vector<std::string>& names, const std::vector<std::string>& freeze,
                               const std::vector<std::string>& train_only) {
  auto matches = [](const std::string& glob, const std::string& name) {
    return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
  };
  auto check_used = [&](const std::string& glob, const char* flag) {
    bool any = false;
    for (const auto& name : names) any = any || matches(glob, name);
    std::string some;
    for (size_t i = 0; i < names.size() && i < 6; ++i) some += (i ? ", " : "") + names[i];
    GF_CHECK(any, flag, " '", glob, "' matches no parameter (they are named like ", some,
             "; `genforge info MODEL.gf --parameters` lists them)");
  };
  for (const auto& g : freeze) check_used(g, "--freeze");
  for (const auto& g : train_only) check_used(g, "--train-only");
  std::vector<bool> out;
  for (const auto& name : names) {
    bool frozen = false;
    for (const auto& g : freeze) frozen = frozen || matches(g, name);
    if (!train_only.empty()) {
      bool trained = false;
      for (const auto& g : train_only) trained = trained || matches(g, name);
      frozen = frozen || !trained;
    }
    out.push_back(frozen);
  }
  return out;
}

FitReport run(Trainable& model, const TrainData& train, const TrainData* validation, const TrainOptions& options,
              const FitContext& ctx) {
  options.validate();
  const FlushDenormals flush;  // long runs build up denormals that make every sgemm crawl
  Loop loop(model, options, ctx);
  return loop.run(train, validation);
}

}  // namespace gf::train
