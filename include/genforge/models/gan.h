// Generative adversarial networks trained by the shared Trainer with two optimizer groups ("generator",
// "discriminator"):
//   architecture=dcgan  the DCGAN of pytorch/examples (cpp/dcgan) for 28x28 images, and its 32x32 variant
//                        (width w: generator 4w-2w-w channels, discriminator w-2w-4w; batch norm; no biases)
//   architecture=mlp    two hidden layers each side, for small images or rows [N, D] (e.g. 2-D toy mixtures)
//   loss=bce            the non-saturating loss of Goodfellow et al. (as dcgan.cpp), optional one-sided label
//                        smoothing (real labels ~ U(1 - s, 1))
//   loss=wgan-gp        Wasserstein loss with gradient penalty (Gulrajani et al. 2017): critic without batch
//                        norm, n_critic critic steps per generator step (5 unless set), penalty weight 10;
//                        the paper's Adam settings are lr=1e-4 beta1=0 beta2=0.9 (set them with --set)
//   conditional=true    class-conditional: one-hot classes join the generator's noise and the discriminator's
//                        input (as extra constant planes for dcgan)
// The generator's weights used for sampling are an exponential moving average (ema_decay, default 0.999), and its
// batch-norm statistics are re-estimated for those final weights after training. Images are scaled to [-1, 1]
// inside; rows are standardised per column. A GAN has no likelihood: score_samples is NotSupported.
//
// Monitors written to metrics.jsonl: loss/generator, loss/discriminator, d_accuracy_real, d_accuracy_fake,
// d_real / d_fake (mean probabilities; for wgan-gp mean critic values), loss_balance (D loss / G loss), and for
// wgan-gp wasserstein_estimate and gradient_penalty.
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/lora.h"
#include "genforge/train/trainer.h"

namespace gf {

struct GanOptions : train::TrainOptions, train::LoraOptions {
  GanOptions();                        // Trainer defaults for GANs: batch 64, lr 2e-4, beta1 0.5, EMA 0.999
  std::string architecture = "dcgan";  // dcgan (28x28 or 32x32 images) | mlp
  std::string loss = "bce";            // bce | wgan-gp
  int64_t latent = 100;                // noise dimensions
  int64_t width = 64;                  // dcgan: base channel count
  int64_t hidden = 256;                // mlp: hidden units
  int64_t n_critic = 0;                // discriminator steps per generator step; 0: 1 for bce, 5 for wgan-gp
  double gp_weight = 10.0;             // wgan-gp penalty weight
  double label_smoothing = 0.0;        // bce: real labels ~ U(1 - s, 1)
  bool conditional = false;            // class-conditional (labelled data)
  double truncation = 0.0;             // sampling: noise components beyond +-truncation redrawn (BigGAN's truncation
                                       // trick: fidelity for variety); 0: off

  int64_t critic_steps() const { return n_critic > 0 ? n_critic : (loss == "wgan-gp" ? 5 : 1); }
  void validate() const;
};

class Gan : public Model, public FeatureTrunk, public AdaptedModel {
 public:
  using Options = GanOptions;
  static const OptionTable<GanOptions>& option_table();

  explicit Gan(GanOptions options = {});
  ~Gan() override;

  std::string kind() const override { return "gan"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const GanOptions& options() const { return options_; }

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, ...]
  torch::Tensor sample_labelled(const torch::Tensor& labels, at::Generator& gen) const override;
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // NotSupported
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const override;  // generator
  // Discriminator probability (bce) or critic value (wgan-gp) of examples. [N]
  torch::Tensor discriminate(const torch::Tensor& x, const torch::Tensor& labels = {}) const;
  // The discriminator without its real/fake output layer (input scaling included): what `finetune --new-head`
  // classifies with.
  TrunkExport feature_trunk() const override;
  int64_t latent_dim() const override { return options_.latent; }
  // N(0, I) noise [n, latent], truncated to [-truncation, truncation] by redrawing when that option is set.
  torch::Tensor sample_latent(int64_t n, at::Generator& gen) const override;
  int64_t n_classes() const override;

  // LoRA adapters (lora_rank > 0; finetune --lora): their parameter count, and folding them into the weights.
  int64_t adapter_parameters() const override;
  void merge_adapters() override;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

  struct Net;

 private:
  GanOptions options_;
  std::shared_ptr<Net> net_;
};

namespace gan {
// WGAN-GP's penalty: mean over examples of (||d critic / d x_hat||_2 - 1)^2 at x_hat = alpha real + (1 - alpha)
// fake, with alpha [N] (one mixing weight per example). Differentiable w.r.t. the critic's parameters
// (double backpropagation).
torch::Tensor gradient_penalty(const std::function<torch::Tensor(const torch::Tensor&)>& critic,
                               const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& alpha);
}  // namespace gan

}  // namespace gf
