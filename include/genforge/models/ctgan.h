// CTGAN (Xu et al. 2019; SDV's CTGANSynthesizer): a conditional WGAN-GP on the mode-specific normalisation of a
// mixed table (the transformer TVAE uses). Training by sampling: each row of a step gets a condition — one
// category of one categorical column, chosen with log-frequency weights — the real rows of the step are drawn from
// those with that category, and the generator pays a cross-entropy when its row does not have it. The critic
// sees `pac` rows at once (PacGAN). Residual generator layers with batch normalisation; Gumbel-softmax outputs.
// SDV's defaults (300 epochs, batch 500, Adam 2e-4 with betas (0.5, 0.9) and weight decay 1e-6, 256-256 layers,
// pac 10, gradient-penalty weight 10) are the defaults; it trains through the Trainer.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"

namespace gf {

struct CtganOptions : train::TrainOptions {
  CtganOptions() {
    epochs = 300;
    batch_size = 500;
    lr = 2e-4;
    beta1 = 0.5;
    beta2 = 0.9;
    weight_decay = 1e-6;
  }
  int64_t embedding_dim = 128;                  // noise size
  std::string generator_dim = "256,256";        // residual layers
  std::string discriminator_dim = "256,256";    // critic layers (LeakyReLU 0.2, dropout 0.5)
  int64_t pac = 10;                             // rows the critic judges together (batch_size must be a multiple)
  double gp_weight = 10.0;                      // gradient penalty
  bool log_frequency = true;                    // conditions drawn by log frequency (else frequency)
  int64_t max_modes = 10;                       // mixture components per numeric column before pruning
  void validate() const;
};

class Ctgan : public Model, public BoxConditionalSampler {
 public:
  using Options = CtganOptions;
  static const OptionTable<CtganOptions>& option_table();
  explicit Ctgan(CtganOptions options = {});
  ~Ctgan() override;

  std::string kind() const override { return "ctgan"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  // Rows with conditions drawn in proportion to the categories' frequencies (CTGAN's sampling). [n, D]
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // NotSupported
  // Rows meeting the bounds: a fixed category goes into the generator's condition vector (the first one when
  // several are fixed), the rest of the bounds are met by drawing again. InvalidArgument when fewer than 1 in
  // 10,000 generated rows meet them.
  torch::Tensor sample_within(int64_t n, const torch::Tensor& lo, const torch::Tensor& hi,
                              at::Generator& gen) const override;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Net;  // generator, critic, transformer, condition sampler (src/models/ctgan)

 private:
  // n rows; with condition >= 0 every row's condition vector holds that categorical column's `category`.
  torch::Tensor generate(int64_t n, int64_t condition, int64_t category, at::Generator& gen) const;
  CtganOptions options_;
  std::shared_ptr<Net> net_;
  nlohmann::json saved_json_;
};

}  // namespace gf
