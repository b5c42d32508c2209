// Normalizing flows: an invertible network f from data x to a code z = f(x) with a standard normal density, so
// log p(x) = log N(f(x); 0, I) + log |det df/dx| is exact and sampling is x = f^-1(z).
//
// Architectures (`architecture`):
//   realnvp      multi-scale RealNVP (Dinh et al. 2017): per level, checkerboard affine couplings, a squeeze,
//                channel couplings, then half the channels are factored out; convolutional residual coupling nets.
//   glow         Glow (Kingma & Dhariwal 2018): per level a squeeze, `layers` steps of actnorm (data-dependent
//                init), an LU-parametrised invertible 1x1 convolution and a channel coupling; a split whose prior
//                N(mean(z1), exp(logs(z1))) is learned.
//   realnvp_mlp  RealNVP with MLP couplings on flattened examples (workload W7): alternating checkerboard masks,
//                separate scale and shift MLPs of two hidden layers.
//   maf          masked autoregressive flow (Papamakarios et al. 2017) of MADE blocks, for tables.
//   spline       autoregressive rational-quadratic neural spline flow (Durkan et al. 2019), for tables.
//   spline_coupling  rational-quadratic spline couplings (RQ-NSF (C)): one network pass both ways, for tables.
//   auto         glow for images, maf for rows.
//
// Images (values k / (n_bins - 1), k = 0 .. n_bins - 1, e.g. pixel / 255) are dequantised: y = (k + u) / n_bins,
// u ~ U[0, 1)^D (`dequantize = uniform`) or u ~ q(u | x), a learned conditional flow (`variational`; Ho et al. 2019).
// score_samples then gives log P(k) >= E_u[log p(y) - log q(u | x)] - D log n_bins in nats -- a bound on the
// probability of the discrete image (one fixed draw of u) -- and bits/dim = -score / (D ln 2). With 256 bins this is
// the convention of the RealNVP / Glow / PixelCNN papers. Tables: the flow standardises each column itself and
// counts the Jacobian of that standardisation, so scores are log-densities in the data's own units. Discrete columns
// (integer, or a categorical column's one-hot / ordinal features, known from Dataset::features) would let the
// density grow without bound on their few values; they are dequantised over their grid (smallest value + j x the
// smallest gap between training values): y = x + (u - 1/2) step, and scores are then E_u[log p(y)] + sum log step,
// a bound on log [P(discrete cells) p(continuous | cells)]; samples land on the grid. `dequantize = none` keeps them
// continuous.
//
//   gf::FlowOptions o;
//   o.architecture = "maf";
//   gf::NormalizingFlow flow(o);
//   flow.fit({rows});                       // [N, D]
//   auto ll = flow.score_samples(rows);     // [N] exact log p(x), nats
//   auto z = flow.transform(rows);          // [N, D] codes, N(0, I) under the model
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"

namespace gf {

struct FlowOptions : train::TrainOptions {
  std::string architecture = "auto";  // auto | realnvp | glow | realnvp_mlp | maf | spline | spline_coupling
  int64_t layers = 0;         // couplings (realnvp_mlp: 8, spline_coupling: 6), steps per level (glow: 4), MADE
                              // blocks (maf, spline: 5);
                              // realnvp: couplings per half-level (3); 0: those defaults
  int64_t levels = 0;         // realnvp / glow: scales (0: as many as the image sides allow, at most 3)
  int64_t hidden = 0;         // units (MLP) or channels (conv) of the coupling / MADE networks; 0: 1024 for
                              // realnvp_mlp, 256 for maf / spline, 64 for realnvp / glow
  int64_t res_blocks = 1;     // realnvp: residual blocks per coupling network
  std::string coupling = "affine";  // affine | additive (volume preserving)
  double scale_clamp = 2.0;   // log-scales are soft-clamped to (-c, c) by c * tanh(s / c)
  std::string dequantize = "uniform";  // images: uniform | variational | none (values taken as continuous); rows'
                                       // discrete columns: uniform (variational too) | none
  int64_t n_bins = 256;       // images: quantisation levels of the data (256 for 8-bit pixels)
  std::string preprocess = "auto";  // images: logit | center | none; auto: logit for realnvp*, center for glow
  double logit_alpha = 0.05;  // logit pre-processing: logit(alpha + (1 - 2 alpha) y)
  int64_t spline_bins = 8;    // spline: bins of each rational-quadratic spline
  double tail_bound = 3.0;    // spline: the spline acts on [-B, B] (standardised units); identity outside
  double temperature = 1.0;   // sampling: codes are drawn from N(0, T^2 I)
  bool conditional = false;   // class-conditional prior (labelled data)
  int64_t mcmc_steps = 200;   // filling missing cells / pixels: Langevin (MALA) steps, the first half adapting
  int64_t mcmc_starts = 16;   // filling: draws in the holes per chain; the most probable completed one starts it
  std::string dtype = "float32";  // float32 | float64

  void validate() const;
};

// Missing cells of rows and pixels of images (NaN) are filled by Metropolis-adjusted Langevin sampling (MALA;
// Roberts & Tweedie 1996) of p(missing | observed) in the flow's own space, where the density and its gradient
// are exact: each chain starts from the most probable of `mcmc_starts` completions by the model's own samples (of
// the row's class, for a class-conditional flow given it), takes `mcmc_steps` steps whose size adapts per row toward
// an acceptance rate of 0.574 during the first half, and the draw is the last state; the mean averages the second
// half of the chain. A class-conditional flow fills in given each row's class (conditional_samples_given_class), or
// without it from log sum_c p(c) p(x | c) (K times the work per step).
class NormalizingFlow : public Model, public ConditionalSampler {
 public:
  using Options = FlowOptions;
  static const OptionTable<FlowOptions>& option_table();

  explicit NormalizingFlow(FlowOptions options = {});
  ~NormalizingFlow() override;

  std::string kind() const override { return "flow"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const FlowOptions& options() const { return options_; }
  // The architecture in use: `architecture`, or what auto chose for the training data.
  std::string resolved_architecture() const;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  // [n, ...] like the training data (images quantised to their bins); a conditional model draws classes from the
  // training frequencies. Codes come from N(0, temperature^2 I).
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  torch::Tensor sample_labelled(const torch::Tensor& labels, at::Generator& gen) const override;
  // [N] nats: exact for tables; for dequantised images the bound above with a fixed draw of u. A conditional model
  // without labels scores the marginal log sum_c p(c) p(x | c).
  torch::Tensor score_samples(const torch::Tensor& x) const override;
  torch::Tensor score_samples(const torch::Tensor& x, const torch::Tensor& labels) const;
  // Bits per dimension of the scores: -mean / (D ln 2).
  double bits_per_dim(const torch::Tensor& x) const;
  // x -> z (images at the centre of their bins). [N, D]
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;
  // z -> x. [N, ...] images quantised to their bins, or rows
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const override;
  // z -> the continuous value before quantisation (images: y in [0, 1]). [N, ...]
  torch::Tensor decode_continuous(const torch::Tensor& z, const torch::Tensor& labels = {}) const;
  // The flow alone on its own input space (after dequantisation and pre-processing, or standardisation): for
  // exactness checks. forward: [N, ...] -> ([N, D] codes, [N] log|det|); inverse: codes -> [N, ...].
  std::pair<torch::Tensor, torch::Tensor> flow_forward(const torch::Tensor& v) const;
  torch::Tensor flow_inverse(const torch::Tensor& z) const;
  int64_t latent_dim() const override;
  int64_t n_classes() const override;
  // [N, ...] with NaN cells filled (src/models/flow/flow_conditional.cpp); conditional_samples [m, N, ...].
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;
  torch::Tensor conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const override;
  // A class-conditional flow fills in given each row's class (labels [N]): [m, N, ...].
  torch::Tensor conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels, int64_t m,
                                                at::Generator& gen) const override;
  // Examples [N, ...] (images in [0, 1], taken at the centre of their bins) -> the flow's input space, on its
  // device and dtype; and back (images quantised to their bins unless `continuous`). [N, ...]
  torch::Tensor to_flow_space(const torch::Tensor& x) const;
  torch::Tensor from_flow_space(const torch::Tensor& v, bool continuous = false) const;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

  struct Net;  // the torch module (src/models/flow/)

 private:
  torch::Tensor decode_codes(const torch::Tensor& z, const torch::Tensor& labels, bool quantise) const;
  // MALA chains for rows x [B, ...] with NaN: `draws` states each (the last; with `average`, the mean of the
  // second half of the chain), given the rows' classes `labels` [B] for a class-conditional flow. [draws, B, ...]
  // in the flow's space.
  torch::Tensor langevin(const torch::Tensor& x, const torch::Tensor& labels, int64_t draws, bool average,
                         at::Generator& gen) const;
  // log p(v | class) of points v [N, ...] of the flow's own space (labels [N] on any device), differentiable in v;
  // without labels, a
  // class-conditional flow's log sum_c p(c) p(v | c). [N]
  torch::Tensor flow_space_log_density(const torch::Tensor& v, const torch::Tensor& labels) const;
  FlowOptions options_;
  std::shared_ptr<Net> net_;
};

}  // namespace gf
