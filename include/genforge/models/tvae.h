// TVAE (Xu et al. 2019; SDV's TVAESynthesizer): a variational autoencoder on the mode-specific normalisation of a
// mixed table — each number as a scalar in [-1, 1] plus the one-hot of its mixture mode (the modes found by
// genforge's variational Gaussian mixture), each category as a one-hot, missing cells as a one-hot of their own.
// The decoder outputs the scalars (with a learned noise per scalar) and logits of every one-hot; the loss is the
// Gaussian error of the scalars plus the cross-entropy of the one-hots, times loss_factor, plus the KL term.
// SDV's defaults (300 epochs, batch 500, Adam 1e-3 with weight decay 1e-5, 128-128 layers, 128-dim codes) are the
// defaults here; it trains through the Trainer (progress, checkpoints, resume, DP-SGD).
//
//   gf::TvaeOptions o;
//   o.epochs = 50;
//   gf::Tvae tvae(o);
//   tvae.fit(dataset);                 // dataset.features says which columns are categorical
//   auto rows = tvae.sample(1000, gen);
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"

namespace gf {

struct TvaeOptions : train::TrainOptions {
  TvaeOptions() {
    epochs = 300;
    batch_size = 500;
    weight_decay = 1e-5;
  }
  int64_t embedding_dim = 128;              // code size
  std::string compress_dims = "128,128";    // encoder hidden layers
  std::string decompress_dims = "128,128";  // decoder hidden layers
  double loss_factor = 2.0;                 // weight of the reconstruction term
  int64_t max_modes = 10;                   // mixture components per numeric column (before pruning)
  bool sample_categories = true;            // sampling: one-hots drawn from the softmax (false: argmax, as SDV)
  int64_t impute_samples = 200;             // imputation: importance-weighted codes per row (MIWAE-style)
  int64_t iw_samples = 50;                  // score_samples: codes per row of the importance-weighted bound
  void validate() const;
};

// score_samples is an importance-weighted bound (Burda et al. 2016) on log p(row) in nats, the row's own units:
// iw_samples codes from the same defensive mixture, log mean_k p(observed cells | z_k) p(z_k) / q(z_k), where a
// number's density is the decoder's mixture over the column's modes, sum_m pi_m N(alpha_m; tanh r, sigma) / (4 sd_m),
// and a category's probability its softmax (missing cells left out: the bound of the observed ones). One fixed draw
// of codes per call, so a row scores the same every time. transform gives the encoder's posterior means [N, L].

// Missing cells (NaN) are filled as in MIWAE (Mattei & Frellsen 2019): `impute_samples` codes per row from the
// defensive mixture (q(z | row) + p(z)) / 2, the encoder reading the row with its missing cells left out, each
// weighted by p(observed cells | z) p(z) / q; the mean is the weighted mean of the decoder's expected values
// (categories: the most likely), a draw decodes one code picked by its weight (sampling importance resampling;
// m draws at once share a pool of max(impute_samples, 5 m) codes).
class Tvae : public Model, public ConditionalSampler {
 public:
  using Options = TvaeOptions;
  static const OptionTable<TvaeOptions>& option_table();
  explicit Tvae(TvaeOptions options = {});
  ~Tvae() override;

  std::string kind() const override { return "tvae"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, D]
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N] the importance-weighted bound, nats
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;  // [N, L] means
  int64_t latent_dim() const override { return options_.embedding_dim; }
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const override;  // [N, D] rows
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;  // [N, D]
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;                       // [N, D]
  torch::Tensor conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const override;  // [m, N, D]

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Net;  // encoder, decoder, data transformer (src/models/tvae)

 private:
  // `draws` copies of x [N, D] with the missing cells filled by fill(rows [B, D]) -> [draws, B, D], called on
  // chunks of the rows with a missing cell (chunks sized for `pool` codes per row). [draws, N, D]
  torch::Tensor fill_missing(const torch::Tensor& x, int64_t draws, int64_t pool,
                             const std::function<torch::Tensor(const torch::Tensor&)>& fill) const;

  TvaeOptions options_;
  std::shared_ptr<Net> net_;
  nlohmann::json transformer_json_;  // kept until load_state builds the network
};

}  // namespace gf
