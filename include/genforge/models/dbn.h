// Deep belief net (Hinton, Osindero & Teh 2006): RBMs stacked greedily, each trained on the hidden
// probabilities of the one below; the top RBM is an undirected prior, the layers below are directed sigmoid
// belief layers. Sampling runs Gibbs chains in the top RBM and one down pass. score_samples is an
// importance-weighted lower bound on log p(v): the recognition up-pass q(h | v) gives `bound_samples` samples,
// and the top RBM's log Z comes from AIS (or enumeration), so the bound is an estimate with the AIS standard error
// (Salakhutdinov & Murray 2008 use one sample: the variational bound). With labelled data and
// fine_tune_epochs > 0 the net also initialises a feed-forward classifier (sigmoid layers from the RBM weights, a
// softmax layer on top) fine-tuned by the shared Trainer: the classic pre-training recipe.
//
//   gf::DbnOptions o;              // every RbmOptions key sets every layer; layers "500,500"
//   o.layers = "500,2000";
//   gf::DeepBeliefNet dbn(o);
//   dbn.fit({images, {}, {}, labels});
//   auto bound = dbn.score_samples(test);  // [N] nats, a lower bound
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/models/rbm.h"

namespace gf {

struct DbnOptions : RbmOptions {
  std::string layers = "500,500";      // hidden units of each RBM, bottom to top
  std::string layer_n_iter;            // epochs of each layer, comma-separated (empty: n_iter for all)
  std::string layer_learning_rate;     // learning rate of each layer (empty: learning_rate for all)
  int64_t bound_samples = 10;          // samples of q(h | v) in the importance-weighted bound
  int64_t transform_layer = 0;         // transform gives this layer's probabilities (1 = lowest; 0 = top)
  int64_t fine_tune_epochs = 0;        // > 0 with labelled data: fine-tune a classifier initialised from the net
  double fine_tune_lr = 1e-3;          // its Adam learning rate
  int64_t fine_tune_batch_size = 128;

  DbnOptions();
  void validate() const;
  std::vector<int64_t> layer_sizes() const;
  RbmOptions layer_options(size_t layer) const;  // the RBM options of layer `layer` (0 = bottom)
};

class DeepBeliefNet : public Model, public EstimatedLikelihood, public Classifier {
 public:
  using Options = DbnOptions;
  static const OptionTable<DbnOptions>& option_table();

  explicit DeepBeliefNet(DbnOptions options = {});
  ~DeepBeliefNet() override;

  std::string kind() const override { return "dbn"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const DbnOptions& options() const { return options_; }

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return !layers_.empty(); }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, ...] visible means
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N] lower bound, nats
  ScoreEstimator score_estimator() const override;

  int64_t latent_dim() const override;
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;
  torch::Tensor decode(const torch::Tensor& h, const torch::Tensor& labels = {}) const override;
  torch::Tensor sample_latent(int64_t n, at::Generator& gen) const override;

  bool is_classifier() const override { return classifier_ != nullptr; }
  torch::Tensor predict_proba(const torch::Tensor& x) const override;  // [N, K]

  const RestrictedBoltzmannMachine& layer(size_t i) const { return *layers_.at(i); }
  size_t n_layers() const { return layers_.size(); }

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct ClassifierNet;

 private:
  DbnOptions options_;
  std::vector<std::unique_ptr<RestrictedBoltzmannMachine>> layers_;
  std::shared_ptr<ClassifierNet> classifier_;
  nlohmann::json pending_layer_state_ = nlohmann::json::object();  // state_json read before the layers exist
};

}  // namespace gf
