// Deterministic autoencoder (MLP or convolutional) trained by the shared Trainer on reconstruction error.
//
// score_samples is the NEGATIVE RECONSTRUCTION ERROR of each example (summed binary cross-entropy for loss=bce,
// summed squared error for loss=mse): a score for anomaly detection and comparisons between examples, not a
// log-likelihood (Capabilities::likelihood == score). An autoencoder has no prior, so after training genforge fits
// a full-covariance Gaussian to the codes of the training data (the "ex-post density estimation" of Ghosh et al.
// 2020); sample() and interpolation draw codes from it and decode them.
//
//   gf::AutoencoderOptions o;
//   o.architecture = "conv";
//   gf::Autoencoder ae(o);
//   ae.fit({images});                     // [N, C, H, W], values in [0, 1] for loss=bce
//   auto codes = ae.transform(images);    // [N, latent]
//   auto err = -ae.score_samples(images); // [N] reconstruction error
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/lora.h"
#include "genforge/train/trainer.h"

namespace gf {

struct AutoencoderOptions : train::TrainOptions, train::LoraOptions {
  std::string architecture = "mlp";  // mlp | conv (image sides divisible by 4)
  int64_t hidden = 400;              // hidden units
  int64_t latent = 20;               // code size
  std::string loss = "bce";          // bce (values in [0, 1]) | mse

  void validate() const;
};

class Autoencoder : public Model, public DimensionScorer, public FeatureTrunk, public AdaptedModel {
 public:
  using Options = AutoencoderOptions;
  static const OptionTable<AutoencoderOptions>& option_table();

  explicit Autoencoder(AutoencoderOptions options = {});
  ~Autoencoder() override;

  std::string kind() const override { return "autoencoder"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const AutoencoderOptions& options() const { return options_; }

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, ...] decoded codes
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N] minus reconstruction error
  torch::Tensor reconstruct(const torch::Tensor& x) const;             // [N, ...] in the data's range
  // Per-pixel reconstruction error (binary cross-entropy or squared error, as trained); sums to minus
  // score_samples. [N, ...]
  torch::Tensor dimension_scores(const torch::Tensor& x) const override;
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;  // [N, latent]
  TrunkExport feature_trunk() const override;  // the encoder below its code layer
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const override;     // [N, ...]
  torch::Tensor sample_latent(int64_t n, at::Generator& gen) const override;  // from the fitted code Gaussian
  int64_t latent_dim() const override { return options_.latent; }

  // LoRA adapters (lora_rank > 0; finetune --lora): their parameter count, and folding them into the weights.
  int64_t adapter_parameters() const override;
  void merge_adapters() override;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

  struct Net;

 private:
  AutoencoderOptions options_;
  std::shared_ptr<Net> net_;
};

}  // namespace gf
