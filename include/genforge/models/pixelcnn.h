// Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders"): an
// autoregressive model of images in raster order, p(x) = prod_i p(x_i | x_<i), with a vertical stack (rows above)
// and a horizontal stack (pixels to the left) so that no pixel falls in a blind spot. The first layer is "mask A"
// (it never sees the pixel it predicts), the rest "mask B"; causality comes from shifted kernels.
//
// Outputs (`output`): bernoulli (binary images; `binarize = threshold` makes them from pixels >= 0.5),
// softmax (one categorical over n_bins levels per pixel and channel, as the PixelCNN papers), or
// logistic_mixture (PixelCNN++'s discretised mixture of `mixtures` logistics; Salimans et al. 2017). The
// channels of one pixel are independent given the pixels before it. A class-conditional model adds a learned
// class bias to every gate.
//
// score_samples is the exact log P(image) in nats. Sampling is pixel by pixel; with `fast_sampling` each new pixel
// recomputes only what depends on it (Ramachandran et al. 2017): a row of the vertical stack per image row and one
// position of the horizontal stack per pixel, instead of the whole network per pixel.
//
//   gf::PixelCnnOptions o;               // 1 + 6 gated layers of 64 channels (workload W8)
//   o.binarize = "threshold";
//   gf::PixelCnn model(o);
//   model.fit({images});                 // [N, C, H, W] in [0, 1]
//   auto nll = -model.score_samples(test).mean();
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"

namespace gf {

struct PixelCnnOptions : train::TrainOptions {
  int64_t layers = 6;                 // gated layers after the first (mask A) one
  int64_t hidden = 64;                // channels of the stacks
  int64_t first_kernel = 7;           // kernel width of the first layer (odd)
  int64_t kernel = 3;                 // kernel width of the other layers (odd)
  std::string output = "auto";        // auto | bernoulli | softmax | logistic_mixture (auto: bernoulli for
                                      // binary data, else softmax)
  std::string binarize = "none";      // none | threshold (x >= 0.5 -> 1), applied to training and scored data
  int64_t n_bins = 256;               // softmax / logistic_mixture: levels of the data (k / (n_bins - 1))
  int64_t mixtures = 5;               // logistic_mixture: components per pixel and channel
  bool conditional = false;           // class-conditional (labelled data)
  bool fast_sampling = true;          // cached sampling (false: the whole network per pixel; same samples)
  int64_t fill_particles = 1;         // completion: raster-order completions per class, one kept by its weight
                                      // (observed pixels' probability; 1: the plain raster-order draw)
  std::string precision = "auto";     // convolution arithmetic: auto | float32 | bfloat16 (inputs and weights
                                      // rounded to bfloat16, float32 accumulation and master weights); auto:
                                      // bfloat16 on CPUs that compute it natively (AMX, AVX512-BF16), else float32

  void validate() const;
};

class PixelCnn : public Model, public ConditionalSampler, public DimensionScorer, public SymbolPredictor {
 public:
  using Options = PixelCnnOptions;
  static const OptionTable<PixelCnnOptions>& option_table();

  explicit PixelCnn(PixelCnnOptions options = {});
  ~PixelCnn() override;

  std::string kind() const override { return "pixelcnn"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const PixelCnnOptions& options() const { return options_; }
  std::string resolved_output() const;  // the output in use (auto resolved on the training data)

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, C, H, W] values k / (n_bins - 1)
  torch::Tensor sample_labelled(const torch::Tensor& labels, at::Generator& gen) const override;
  // [N] exact log P(x) in nats (x binarised first when binarize = threshold). A conditional model without labels
  // scores the marginal log sum_c p(c) p(x | c).
  torch::Tensor score_samples(const torch::Tensor& x) const override;
  torch::Tensor score_samples(const torch::Tensor& x, const torch::Tensor& labels) const;
  // Per-pixel minus log p(x_i | x_<i) in nats (a conditional model: given each image's most likely class); sums to
  // minus score_samples. [N, C, H, W]
  torch::Tensor dimension_scores(const torch::Tensor& x) const override;
  int64_t n_classes() const override;

  // Completion: NaN pixels are drawn in raster order given every pixel before them (exact when the missing pixels
  // come after the observed ones, e.g. the bottom of an image given its top rows; observed pixels after a missing
  // one are kept but not conditioned on). `labels` for a conditional model. [N, C, H, W]
  torch::Tensor complete(const torch::Tensor& x, at::Generator& gen, const torch::Tensor& labels = {}) const;
  // Filling in by sampling importance resampling over whole completions: `fill_particles` raster-order completions
  // per class (a conditional model without labels: per class of every class), one kept per image with probability
  // proportional to p(class) x P(observed pixels | the completion), the pixels the raster-order draw could not
  // condition on and, across classes, the evidence for each. With the observed pixels all before the missing ones
  // the class is drawn from its exact posterior p(c | observed). [N, C, H, W]
  torch::Tensor resampled_completion(const torch::Tensor& x, at::Generator& gen,
                                     const torch::Tensor& labels = {}) const;
  // resampled_completion without labels: a class-conditional model infers the class from the observed pixels.
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  // The mean of 16 completions (a Monte Carlo estimate of E[missing | observed]) with a fixed seed.
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;
  // A class-conditional PixelCNN completes given each image's class (labels [N]): m completions [m, N, C, H, W].
  torch::Tensor conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels, int64_t m,
                                                at::Generator& gen) const override;
  // Lossless coding: the images of a batch pixel by pixel in raster order through the cached network, with one
  // intra-op thread (convolutions' results depend on the thread count). Symbols are the levels 0 .. n_bins - 1
  // (bernoulli: 0, 1) of each channel. Unconditional models only.
  int64_t alphabet_size() const override;
  int64_t symbols_per_step() const override;
  bool single_threaded() const override { return true; }
  std::unique_ptr<SymbolStreams> open_streams(int64_t batch) const override;
  // Per-pixel output logits of the network for images x, the causality check's handle. [N, C * P, H, W]
  torch::Tensor output_logits(const torch::Tensor& x) const;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Net;  // the torch module (src/models/pixelcnn/)

 private:
  PixelCnnOptions options_;
  std::string output_;  // resolved output
  std::shared_ptr<Net> net_;
};

}  // namespace gf
