// The invertible layers of the normalizing flows (models/flow.h). Each layer maps its input to an output of the
// same size and adds log |det d out / d in| to the running total; `inverse` undoes it. Images are [N, C, H, W],
// rows [N, D].
#pragma once
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>
#include <vector>

namespace gf::flow {

// While one is alive on this thread, the layers' constructors skip their random start (parameters are left at
// zero, an Invertible1x1 at the identity): for a network whose every tensor is about to be restored from a file.
// A wide network's random start costs seconds -- also for a damaged file whose claimed width its tensors then
// refute.
class SkipRandomStart {
 public:
  SkipRandomStart();
  ~SkipRandomStart();
  SkipRandomStart(const SkipRandomStart&) = delete;
  SkipRandomStart& operator=(const SkipRandomStart&) = delete;

 private:
  bool previous_;
};

// What passes from layer to layer. Multi-scale splits move half of the tensor into `factored` (each piece
// standardised, so N(0, I) under the model) and take their piece back on the way down.
struct FlowState {
  torch::Tensor x;                       // the current tensor
  torch::Tensor logdet;                  // [N] log |det| so far (forward) -- unused by inverse
  std::vector<torch::Tensor> factored;   // forward: pushed by splits; inverse: popped
  torch::Tensor condition;               // optional extra input of the coupling networks: [N, Cc, H, W], or
                                         // [N, K] (e.g. a class one-hot; conv couplings spread it over positions)
};

struct Layer : torch::nn::Module {
  virtual void forward(FlowState& s) = 0;
  virtual void inverse(FlowState& s) = 0;
};

// c * tanh(s / c): a log-scale that cannot run away (the NaN/Inf blow-ups of RealNVP/Glow training start there).
torch::Tensor soft_clamp(const torch::Tensor& s, double c);

// Per-channel (images) or per-feature (rows) affine map y = (x + bias) * exp(log_scale), initialised from the first
// batch it sees so that the output has zero mean and unit variance (Glow's actnorm).
struct ActNorm : Layer {
  explicit ActNorm(int64_t channels);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  torch::Tensor bias, log_scale, initialized;  // [C], [C], [1] (1 once initialised)
  bool ready = false;
};

// Invertible 1x1 convolution with W = P L (U + diag(sign * exp(log_s))) (Glow's LU parametrisation, so log |det|
// is sum(log_s) per position). Initialised at a random rotation drawn from `gen`.
struct Invertible1x1 : Layer {
  Invertible1x1(int64_t channels, at::Generator& gen);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  torch::Tensor weight() const;  // [C, C]
  torch::Tensor p, sign_s, lower_mask, eye;  // buffers
  torch::Tensor lower, upper, log_s;         // parameters
};

// [N, C, H, W] <-> [N, 4C, H/2, W/2].
struct Squeeze : Layer {
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
};

// The coupling network of images: conv3x3 -> ReLU -> (res_blocks residual blocks, or a 1x1 conv + ReLU when
// res_blocks is 0, as Glow) -> conv3x3 initialised at zero (so every coupling starts as the identity).
struct ConvNet : torch::nn::Module {
  ConvNet(int64_t in, int64_t hidden, int64_t out, int64_t res_blocks, at::Generator& gen);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Conv2d first{nullptr}, middle{nullptr}, last{nullptr};
  std::vector<std::pair<torch::nn::Conv2d, torch::nn::Conv2d>> blocks;
};

// Affine (or additive) coupling of images. `checkerboard`: the pixels with (i + j) % 2 == parity condition the
// others; else the first (parity 0) or second half of the channels conditions the other half.
struct ConvCoupling : Layer {
  ConvCoupling(int64_t channels, int64_t condition_channels, int64_t hidden, int64_t res_blocks, bool checkerboard,
               int64_t parity, bool affine, double clamp, at::Generator& gen);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  // (shift, log-scale) for the transformed part, given the conditioning part.
  std::pair<torch::Tensor, torch::Tensor> params(const torch::Tensor& given, const torch::Tensor& condition);
  torch::Tensor mask(const torch::Tensor& like) const;  // [1, 1, H, W] checkerboard, 1 on conditioning pixels
  int64_t channels, split;
  bool checkerboard, affine;
  int64_t parity;
  double clamp;
  std::shared_ptr<ConvNet> net;
};

// Glow's learned split prior: half the channels leave the flow as (z2 - mean(z1)) * exp(-logs(z1)), where mean and
// logs come from a zero-initialised 3x3 convolution of the kept half (`learned`; else N(0, I) as RealNVP).
struct Split : Layer {
  Split(int64_t channels, bool learned);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  int64_t keep;
  torch::nn::Conv2d prior{nullptr};
};

// RealNVP coupling with MLPs on rows whose features were reordered so that the first `split` are one mask's
// conditioning set: parity 0 transforms features [split, D) given [0, split), parity 1 the reverse. The scale and
// shift networks (two hidden layers each, ReLU) run as one batched matrix product per layer.
struct MlpCoupling : Layer {
  MlpCoupling(int64_t features, int64_t split, int64_t parity, int64_t hidden, bool affine, double clamp,
              int64_t init_fan_in, int64_t condition_features, at::Generator& gen);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  // (shift, log-scale) given the conditioning half and the condition [N, K] (or undefined).
  std::pair<torch::Tensor, torch::Tensor> params(const torch::Tensor& given, const torch::Tensor& condition);
  int64_t features, split, parity;
  bool affine;
  double clamp;
  torch::Tensor w1, b1, w2, b2, w3, b3;  // [2, in, h], [2, 1, h], [2, h, h], [2, 1, h], [2, h, out], [2, 1, out]
  torch::Tensor w_condition;             // [2, K, h] when conditional
};

// Rational-quadratic spline coupling (Durkan et al. 2019, RQ-NSF (C)) on reordered rows as MlpCoupling: the changed
// half goes through monotone splines whose widths, heights and derivatives an MLP (two hidden layers, ReLU,
// zero-initialised output: the identity at the start) computes from the conditioning half.
struct SplineCoupling : Layer {
  SplineCoupling(int64_t features, int64_t split, int64_t parity, int64_t hidden, int64_t bins, double tail_bound,
                 int64_t condition_features, at::Generator& gen);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  std::pair<torch::Tensor, torch::Tensor> apply(const FlowState& s, bool inverse);  // (new changed half, log|det| [N])
  int64_t split, parity, bins;
  double tail_bound;
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr}, l_condition{nullptr};
};

// MADE (Germain et al. 2015): an MLP whose masks make output block k of feature d depend only on features that come
// before d in `order` (a permutation of 0..D-1). Output [N, P, D]: P parameters per feature.
struct Made : torch::nn::Module {
  // `condition_features` > 0: a condition [N, K] (a class one-hot) feeds every first-layer unit.
  Made(int64_t features, int64_t hidden, int64_t params_per_feature, const std::vector<int64_t>& order,
       int64_t condition_features, at::Generator& gen);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& condition);
  int64_t features, n_params;
  std::vector<int64_t> order;
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr}, l_condition{nullptr};
  torch::Tensor m1, m2, m3;  // masks (buffers)
};

// One autoregressive transform u_d = tau(x_d; params(x_<d)): affine (MAF) or a rational-quadratic spline.
// forward (density) is one network pass; inverse (sampling) is D passes in `order`.
struct Autoregressive : Layer {
  Autoregressive(int64_t features, int64_t hidden, const std::vector<int64_t>& order, bool spline, int64_t bins,
                 double tail_bound, double clamp, int64_t condition_features, at::Generator& gen);
  void forward(FlowState& s) override;
  void inverse(FlowState& s) override;
  // Transforms x given params [N, P, D]; returns (u, log|du/dx| per feature [N, D]).
  std::pair<torch::Tensor, torch::Tensor> apply(const torch::Tensor& x, const torch::Tensor& p, bool inverse) const;
  bool spline;
  int64_t bins;
  double tail_bound, clamp;
  std::shared_ptr<Made> made;
};

// Monotone rational-quadratic spline (Gregory & Delbourgo 1982; Durkan et al. 2019) on [-B, B] with K bins from
// unnormalised widths [.., K], heights [.., K] and interior derivatives [.., K - 1]; the identity outside. Returns
// (y, log |dy/dx|), or with `inverse` (x, log |dx/dy|).
std::pair<torch::Tensor, torch::Tensor> rational_quadratic_spline(const torch::Tensor& x, const torch::Tensor& widths,
                                                                  const torch::Tensor& heights,
                                                                  const torch::Tensor& derivatives, double tail_bound,
                                                                  bool inverse);

// W = P L U with unit-diagonal L, by Gaussian elimination with partial pivoting (float64 on the CPU). {P, L, U}
std::vector<torch::Tensor> lu_decompose(const torch::Tensor& w);

}  // namespace gf::flow
