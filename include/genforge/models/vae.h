// Variational autoencoder (Kingma & Welling 2014) trained by the shared Trainer. MLP or convolutional
// encoder/decoder; optionally class-conditional (Sohn et al. 2015: the one-hot class joins the encoder's features
// and the decoder's code, so `sample_labelled` draws a chosen class); Bernoulli decoder (pixels in [0, 1] as probabilities, the convention of the PyTorch example and most papers)
// or Gaussian decoder with a learned per-pixel variance; beta-VAE weighting of the KL term.
//
// score_samples is the importance-weighted bound (Burda et al. 2016) with iw_samples = k draws from the encoder:
// log (1/k) sum_i p(x, z_i) / q(z_i | x), a lower bound on log p(x) that tightens as k grows; k = 1 is the ELBO.
// Scores use a fixed internal seed, so the same model gives the same scores.
//
//   gf::VaeOptions o;                    // 784-400-20 by default
//   gf::VariationalAutoencoder vae(o);
//   vae.fit({images, {}, {}, labels});  // [N, C, H, W] or [N, D], values in [0, 1]; labels for conditional
//   auto z = vae.transform(images);      // [N, latent] posterior means
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/lora.h"
#include "genforge/train/trainer.h"

namespace gf {

struct VaeOptions : train::TrainOptions, train::LoraOptions {
  std::string architecture = "mlp";   // mlp | conv (two stride-2 convolutions; image sides divisible by 4)
  int64_t hidden = 400;               // hidden units of encoder and decoder
  int64_t latent = 20;                // latent dimensions
  std::string decoder = "bernoulli";  // bernoulli | gaussian (learned per-pixel variance)
  double beta = 1.0;                  // weight of the KL term (beta-VAE)
  int64_t iw_samples = 1;             // k of score_samples' importance-weighted bound (1: ELBO)
  double temperature = 1.0;           // sampling: codes drawn from N(0, T^2 I); T < 1 gives more typical samples
  bool conditional = false;           // class-conditional (needs labelled data)
  std::string code_prior = "class";   // conditional models, sampling a class: class (codes from a Gaussian fitted to
                                      // that class's training codes, "ex-post density estimation") | standard (N(0, I))
  int64_t impute_samples = 200;       // filling missing pixels: importance-weighted codes per image (MIWAE-style)
  bool semi_supervised = false;       // M2: conditional, and examples labelled -1 train unlabelled through q(y | x)
  double classifier_weight = 50;      // semi-supervised: weight (alpha) of q(y | x)'s mean cross-entropy on a labelled
                                      // batch, beside the costs per example (Kingma et al.'s alpha = 0.1 N read
                                      // per batch: 0.1 N_unlabelled / N_labelled, 50 for 100 labels in 50,000)

  void validate() const;
};

// Missing pixels (NaN; `genforge inpaint`) are filled as in MIWAE (Mattei & Frellsen 2019): the holes first set by
// 20 rounds of decode(encode(x)) with the kept pixels fixed, so the encoder reads a whole image; then
// `impute_samples` codes from (q(z | that image) + p(z)) / 2, each weighted by p(kept pixels | z) p(z) / q. The mean
// is the weighted mean of the decoder means; a draw is the decoder mean of one code picked by its weight. A
// class-conditional model treats the class as one more latent variable: the same for every class c (start, codes
// from q(z | image, c)), each weight also times p(c), all classes' codes pooled — so the kept pixels choose the class.
class VariationalAutoencoder : public Model,
                               public DimensionScorer,
                               public FeatureTrunk,
                               public AdaptedModel,
                               public ConditionalSampler,
                               public Classifier {
 public:
  using Options = VaeOptions;
  static const OptionTable<VaeOptions>& option_table();

  explicit VariationalAutoencoder(VaeOptions options = {});
  ~VariationalAutoencoder() override;

  std::string kind() const override { return "vae"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const VaeOptions& options() const { return options_; }

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  // [n, ...] decoder means; a conditional model draws classes uniformly.
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  torch::Tensor sample_labelled(const torch::Tensor& labels, at::Generator& gen) const override;
  // [N] IWAE bound, nats. A conditional model scores log p(x | class) and needs `labels`.
  torch::Tensor score_samples(const torch::Tensor& x) const override;
  // The bound with an explicit number of importance samples. [N]
  torch::Tensor importance_weighted_bound(const torch::Tensor& x, int64_t k, const torch::Tensor& labels = {}) const;
  // Per-pixel minus log p(x_d | z) at the posterior mean z (the reconstruction term of the bound). [N, ...]
  torch::Tensor dimension_scores(const torch::Tensor& x) const override;
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;  // [N, latent] means
  // The encoder below its code layer (conv features, fc1, ReLU): what `finetune --new-head` classifies with.
  TrunkExport feature_trunk() const override;
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const override;     // [N, ...] means
  int64_t latent_dim() const override { return options_.latent; }
  int64_t n_classes() const override;
  // Semi-supervised models classify with q(y | x) (`genforge score` on labelled images reports the accuracy).
  bool is_classifier() const override;
  torch::Tensor predict_proba(const torch::Tensor& x) const override;  // [N, K] float64 probabilities

  // Images [N, ...] with NaN pixels filled (others unchanged). [N, ...]; conditional_samples: [m, N, ...]
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;
  torch::Tensor conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const override;
  // A conditional VAE fills in given each image's class (labels [N]) instead of weighing every class. [m, N, ...]
  torch::Tensor conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels, int64_t m,
                                                at::Generator& gen) const override;

  // LoRA adapters (lora_rank > 0; finetune --lora): their parameter count, and folding them into the weights.
  int64_t adapter_parameters() const override;
  void merge_adapters() override;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

  struct Net;  // the torch module (defined in src/models/vae/)
  // Internal to filling in, one way of explaining the kept pixels: the decoder's condition for the rows (a class
  // one-hot [B, K]; undefined for an unconditional model), that class's log prior (0 when the class is given) and
  // the hole's start [B, D].
  struct FillBranch {
    torch::Tensor condition, start;
    double log_prior = 0;
  };

 private:
  // `draws` fills of the images with NaN pixels: fill(images [B, D] with NaN, branches: one per class of a
  // conditional model -- or the row's own class when `labels` [N] are given -- else one) -> [draws, B, D].
  torch::Tensor fill_missing(
      const torch::Tensor& x, int64_t draws, const torch::Tensor& labels,
      const std::function<torch::Tensor(const torch::Tensor&, const std::vector<FillBranch>&)>& fill) const;

  VaeOptions options_;
  std::shared_ptr<Net> net_;
};

}  // namespace gf
