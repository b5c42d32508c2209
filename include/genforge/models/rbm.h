// Restricted Boltzmann machine: Bernoulli or Gaussian visible units (the Gaussian variance fixed or learned),
// Bernoulli or rectified Gaussian ("relu") hidden units; trained by CD-k or persistent CD (PCD / SML, scikit-learn's BernoulliRBM) through the
// shared Trainer (SGD with momentum, weight decay and learning-rate schedules; checkpoints and resume), with an
// optional sparsity target.
//
// score_samples is log p(v) = -F(v) - log Z with log Z estimated by annealed importance sampling (or computed by
// enumeration when a layer is small), or a pseudo-likelihood, by the `estimator` option; score_estimator() says
// which, with the standard error. Sampling runs Gibbs chains from the seeded generator; transform gives the
// hidden probabilities, decode the visible means, and rows with NaN cells are filled by clamped Gibbs sampling.
//
//   gf::RbmOptions o;                   // scikit-learn's names and defaults: n_components 256, learning_rate 0.1,
//   o.batch_size = 64;                  // batch_size 10, n_iter 10, PCD-1
//   gf::RestrictedBoltzmannMachine rbm(o);
//   rbm.fit({binary_images});           // [N, C, H, W] or [N, D]; Bernoulli units: values in [0, 1]
//   auto ll = rbm.score_samples(test);  // [N] nats (AIS estimate of log Z)
//   auto features = rbm.transform(x);   // [N, n_components] p(h = 1 | v)
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/models/log_partition.h"
#include "genforge/train/trainer.h"

namespace gf {

struct RbmOptions : train::TrainOptions {
  int64_t n_components = 256;          // hidden units
  std::string visible = "bernoulli";   // bernoulli (values in [0, 1]) | gaussian (real values; standardize tables)
  std::string hidden_units = "bernoulli";  // bernoulli | relu (rectified Gaussian units: h >= 0, E[h | v] a smooth
                                       // rectifier of the input; Bernoulli visible units only)
  std::string softmax_groups = "auto";  // auto: one-hot columns of a table ("col=value") are softmax groups | none
  bool learn_variance = false;         // gaussian: learn the per-unit variances (else fixed at the data's)
  int64_t cd_k = 1;                    // Gibbs steps per update
  bool persistent = true;              // PCD (chains carried between updates) | CD-k (chains start at the data)
  int64_t n_chains = 0;                // persistent chains (0: batch_size)
  int64_t pt_temperatures = 1;         // parallel tempering: temperatures of the persistent and sampling chains
                                       // (1: none), inverse temperatures evenly spaced from 1 to 0 (the base model)
  double sparsity_target = 0.1;        // wanted mean activation of each hidden unit
  double sparsity_cost = 0.0;          // weight of the sparsity penalty (0: off)
  double init_std = 0.01;              // initial weights ~ N(0, init_std^2)
  std::string binarize = "none";       // none | threshold (v >= 0.5) | stochastic (v ~ Bernoulli(pixel), seeded)
  bool strict = false;                 // bernoulli: values other than 0 and 1 are an error (else probabilities)
  std::string dtype = "float32";       // float32 | float64
  std::string estimator = "auto";      // auto (exact if <= 20 units to enumerate, else ais) | ais | exact |
                                       // pseudo_likelihood | stochastic_pl (scikit-learn's score_samples)
  bool compute_log_z = true;           // fit ends by computing log Z (else the first likelihood score does)
  int64_t ais_runs = 100;              // AIS chains
  int64_t ais_betas = 10000;           // AIS intermediate distributions
  int64_t gibbs_steps = 1000;          // sampling: Gibbs sweeps before the first sample (burn-in)
  int64_t thin = 10;                   // sampling: sweeps between samples taken from the same chain
  int64_t sample_chains = 0;           // sampling: chains (0: one per sample)

  RbmOptions();
  void validate() const;
};

// Adds the RBM's options to the option table of a model whose options derive from RbmOptions (the deep models:
// the same keys set every layer); `with_size` adds n_components too.
template <class Options>
void add_rbm_options(OptionTable<Options>& t, bool with_size) {
  static_assert(std::is_base_of_v<RbmOptions, Options>, "options must derive from gf::RbmOptions");
  using O = Options;
  using R = RbmOptions;
  auto i = [](int64_t R::*m) { return static_cast<int64_t O::*>(m); };
  auto d = [](double R::*m) { return static_cast<double O::*>(m); };
  auto b = [](bool R::*m) { return static_cast<bool O::*>(m); };
  auto s = [](std::string R::*m) { return static_cast<std::string O::*>(m); };
  if (with_size) t.add("n_components", i(&R::n_components), "hidden units");
  t.add("visible", s(&R::visible), "visible units", {"bernoulli", "gaussian"})
      .add("hidden_units", s(&R::hidden_units), "hidden units: bernoulli | relu (rectified Gaussian)",
           {"bernoulli", "relu"})
      .add("softmax_groups", s(&R::softmax_groups), "one-hot columns as softmax groups (auto) or separate units",
           {"auto", "none"})
      .add("learn_variance", b(&R::learn_variance), "gaussian: learn each unit's variance")
      .add("cd_k", i(&R::cd_k), "Gibbs steps per update (CD-k / PCD-k)")
      .add("persistent", b(&R::persistent), "persistent chains (PCD); false: CD-k from the data")
      .add("n_chains", i(&R::n_chains), "persistent chains (0: batch_size)")
      .add("pt_temperatures", i(&R::pt_temperatures),
           "parallel tempering of training and sampling chains: temperatures (1: none)")
      .add("sparsity_target", d(&R::sparsity_target), "wanted mean activation of each hidden unit")
      .add("sparsity_cost", d(&R::sparsity_cost), "weight of the sparsity penalty (0: off)")
      .add("init_std", d(&R::init_std), "standard deviation of the initial weights")
      .add("binarize", s(&R::binarize), "bernoulli: how data becomes binary (saved with the model)",
           {"none", "threshold", "stochastic"})
      .add("strict", b(&R::strict), "bernoulli: values other than 0 and 1 are an error")
      .add("dtype", s(&R::dtype), "computation precision", {"float32", "float64"})
      .add("estimator", s(&R::estimator), "what score_samples returns",
           {"auto", "ais", "exact", "pseudo_likelihood", "stochastic_pl"})
      .add("compute_log_z", b(&R::compute_log_z), "compute log Z at the end of fit (else at the first score)")
      .add("ais_runs", i(&R::ais_runs), "AIS: chains")
      .add("ais_betas", i(&R::ais_betas), "AIS: intermediate distributions")
      .add("gibbs_steps", i(&R::gibbs_steps), "sampling: Gibbs sweeps before the first sample")
      .add("thin", i(&R::thin), "sampling: sweeps between samples of one chain")
      .add("sample_chains", i(&R::sample_chains), "sampling: chains (0: one per sample)");
  train::add_train_options(t, {{"epochs", "n_iter"}, {"lr", "learning_rate"}});
}

class RestrictedBoltzmannMachine : public Model, public ConditionalSampler, public EstimatedLikelihood {
 public:
  using Options = RbmOptions;
  static const OptionTable<RbmOptions>& option_table();

  explicit RestrictedBoltzmannMachine(RbmOptions options = {});
  ~RestrictedBoltzmannMachine() override;

  std::string kind() const override { return "rbm"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const RbmOptions& options() const { return options_; }

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  // [n, ...] after gibbs_steps sweeps: visible means (Bernoulli units) or draws (Gaussian units).
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N] by `estimator`
  ScoreEstimator score_estimator() const override;

  torch::Tensor free_energy(const torch::Tensor& x) const;                    // [N] F(v), nats
  torch::Tensor pseudo_log_likelihood(const torch::Tensor& x) const;          // [N] exact
  torch::Tensor stochastic_pseudo_likelihood(const torch::Tensor& x, at::Generator& gen) const;  // [N]
  // log Z by the estimator of the options (ais or exact; auto picks), cached with its settings.
  double log_partition() const;
  const LogPartition& log_partition_estimate() const;  // how it was found (computes it when not yet known)

  int64_t latent_dim() const override { return options_.n_components; }
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;  // [N, H]
  torch::Tensor decode(const torch::Tensor& h, const torch::Tensor& labels = {}) const override;     // [N, ...]
  torch::Tensor sample_latent(int64_t n, at::Generator& gen) const override;  // hidden states of Gibbs chains

  // Clamped Gibbs sampling of the NaN cells of x [N, D] (or images [N, C, H, W]) given the others.
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;

  // Data as the visible units see it: checked against the fitted shape and units, flattened, binarized as the
  // options say, in the model's dtype and device. [N, D]
  torch::Tensor visible_data(const torch::Tensor& x) const;

  // Parameters (scikit-learn's shapes: components [H, D]), on the model's device.
  torch::Tensor components() const;         // [H, D]
  torch::Tensor intercept_visible() const;  // [D]
  torch::Tensor intercept_hidden() const;   // [H]
  torch::Tensor log_variance() const;       // [D] Gaussian visible units (undefined for Bernoulli)
  torch::Tensor base_visible() const;       // [D] the AIS base model's visible biases
  const std::vector<torch::Tensor>& softmax_groups() const;  // each [k] int64 visible unit indices

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Net;  // parameters and persistent chains (src/models/rbm/)

 private:
  torch::Tensor prepare(const torch::Tensor& x, const char* what) const;  // checked, flattened, binarized [N, D]
  double log_partition(bool show_progress) const;
  torch::Tensor clamped_gibbs(const torch::Tensor& x, at::Generator& gen, bool mean) const;
  RbmOptions options_;
  std::shared_ptr<Net> net_;
  mutable LogPartition log_z_;
};

}  // namespace gf
