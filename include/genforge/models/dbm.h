// Deep Boltzmann machine (Salakhutdinov & Hinton 2009) with two or three hidden layers of Bernoulli units over
// Bernoulli or Gaussian (visible=gaussian; real-valued, standardised tables) visible units:
// greedy pre-training of the layers as RBMs with the doubled-input trick (bottom: bottom-up input doubled; top:
// top-down input doubled; a middle layer: both, its weights halved when stacked), then joint training by
// stochastic maximum likelihood: mean-field inference q(h | v) for the data term, persistent Gibbs chains for the
// model term.
//
// log Z: summing out v and h2 analytically leaves an RBM over h1 and h3 (Gaussian v: summing out h1 and h3 leaves
// one over v and h2), so log Z comes from the same AIS (or enumeration) as an RBM's. score_samples is the variational lower bound
//   log p(v) >= E_q[-E(v, h)] + H(q) - log Z
// with the mean-field posterior q, an estimate whose error is the AIS standard error of log Z.
//
//   gf::DbmOptions o;
//   o.layers = "500,1000";
//   gf::DeepBoltzmannMachine dbm(o);
//   dbm.fit({binary_images});
//   auto bound = dbm.score_samples(test);  // [N] nats
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/models/log_partition.h"
#include "genforge/models/rbm.h"

namespace gf {

struct DbmOptions : RbmOptions {
  std::string layers = "500,1000";      // hidden units of the 2 or 3 hidden layers, bottom to top
  int64_t pretrain_n_iter = 10;          // epochs of greedy pre-training per layer (0: start from small weights)
  double pretrain_learning_rate = 0.05;  // learning rate of the pre-training RBMs
  std::string pretrain = "doubled";      // doubled: every layer, with the doubled-input trick | bottom: only the
                                         // bottom layer, as a plain RBM; the layers above start near zero, so the
                                         // pre-trained machine is that RBM beside nearly independent units
  int64_t mf_steps = 10;                 // mean-field updates per data batch and per score
  double centering = 0;                  // > 0: joint training in centred coordinates (Melchior et al. 2016): every
                                         // layer's state minus an offset, the offsets following the data's
                                         // mean-field means at this sliding-average rate; 0: plain coordinates

  DbmOptions();
  void validate() const;
  std::vector<int64_t> layer_sizes() const;
};

class DeepBoltzmannMachine : public Model, public EstimatedLikelihood {
 public:
  using Options = DbmOptions;
  static const OptionTable<DbmOptions>& option_table();

  explicit DeepBoltzmannMachine(DbmOptions options = {});
  ~DeepBoltzmannMachine() override;

  std::string kind() const override { return "dbm"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const DbmOptions& options() const { return options_; }

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, ...] visible means
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N] variational lower bound, nats
  ScoreEstimator score_estimator() const override;
  double log_partition() const;  // AIS or exact (estimator), cached with its settings

  int64_t latent_dim() const override;
  // Mean-field posterior probabilities of the top layer. [N, H_top]
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;
  // Visible means from top-layer states by a mean-field down pass (each layer given only the one above). [N, ...]
  torch::Tensor decode(const torch::Tensor& h, const torch::Tensor& labels = {}) const override;
  // Mean-field posterior of every hidden layer, bottom to top. [N, H_l] each
  std::vector<torch::Tensor> posterior(const torch::Tensor& x) const;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Net;

 private:
  torch::Tensor visible(const torch::Tensor& x, const char* what) const;
  double log_partition(bool show_progress) const;
  DbmOptions options_;
  std::shared_ptr<Net> net_;
  mutable LogPartition log_z_;
};

}  // namespace gf
