#include "genforge/models/flow.h"

#include <cmath>
#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "models/flow/dequantize.h"
#include "models/flow/layers.h"
#include "nn/neural.h"

namespace gf {

namespace {
bool is_image_architecture(const std::string& a) { return a == "realnvp" || a == "glow"; }

torch::ScalarType scalar_type(const FlowOptions& o) { return o.dtype == "float64" ? torch::kFloat64 : torch::kFloat32; }

// How many times both image sides halve evenly (at most 3).
int64_t possible_levels(const neural::Geometry& g) {
  int64_t levels = 0;
  for (int64_t h = g.height(), w = g.width(); levels < 3 && h % 2 == 0 && w % 2 == 0; h /= 2, w /= 2) ++levels;
  return levels;
}

// x on `device` in `dtype`, shaped like the training examples, after neural::checked_input's checks (and values in
// [0, 1] for discrete images, which come back as their bin indices k = round(x (n_bins - 1))).
torch::Tensor model_input(const torch::Tensor& x, const neural::Geometry& g, const torch::Device& device,
                          bool discrete, int64_t n_bins, torch::ScalarType dtype, const char* what) {
  neural::checked_input(x, g, device, discrete, "flow", what);
  auto out = x.to(device, dtype).reshape(g.batch_shape(x.size(0)));
  return discrete ? torch::round(out * static_cast<double>(n_bins - 1)) : out;
}

}  // namespace

struct NormalizingFlow::Net : torch::nn::Module {
  Net(const neural::Geometry& g, const FlowOptions& o, std::string arch, at::Generator& gen)
      : geometry(g), architecture(std::move(arch)) {
    discrete = g.is_image() && o.dequantize != "none";
    images = g.is_image();
    n_bins = o.n_bins;
    preprocess = o.preprocess == "auto" ? (architecture == "glow" ? "center" : "logit") : o.preprocess;
    if (!images) preprocess = "none";
    alpha = o.logit_alpha;
    const bool affine = o.coupling == "affine";
    const int64_t d = g.numel();
    const int64_t k_cond = g.n_classes;  // class-conditional couplings see the class one-hot
    if (is_image_architecture(architecture)) {
      int64_t c = g.channels(), h = g.height(), w = g.width();
      const int64_t levels = o.levels > 0 ? o.levels : possible_levels(g);
      const int64_t hidden = o.hidden > 0 ? o.hidden : 64;
      auto add = [&](std::shared_ptr<flow::Layer> layer) {
        layers.push_back(register_module("layer" + std::to_string(layers.size()), std::move(layer)));
      };
      auto split = [&](bool learned) {
        add(std::make_shared<flow::Split>(c, learned));
        latent_shapes.push_back({c - (c - c / 2), h, w});
        c -= c / 2;
      };
      if (architecture == "realnvp") {
        const int64_t k = o.layers > 0 ? o.layers : 3;
        for (int64_t l = 0; l < levels; ++l) {
          for (int64_t i = 0; i < k; ++i) {
            add(std::make_shared<flow::ConvCoupling>(c, k_cond, hidden, o.res_blocks, true, i % 2, affine, o.scale_clamp, gen));
          }
          add(std::make_shared<flow::Squeeze>());
          c *= 4, h /= 2, w /= 2;
          for (int64_t i = 0; i < k; ++i) {
            add(std::make_shared<flow::ConvCoupling>(c, k_cond, hidden, o.res_blocks, false, i % 2, affine, o.scale_clamp, gen));
          }
          split(false);
        }
        for (int64_t i = 0; i <= k; ++i) {
          add(std::make_shared<flow::ConvCoupling>(c, k_cond, hidden, o.res_blocks, true, i % 2, affine, o.scale_clamp, gen));
        }
      } else {  // glow
        const int64_t k = o.layers > 0 ? o.layers : 4;
        for (int64_t l = 0; l < levels; ++l) {
          add(std::make_shared<flow::Squeeze>());
          c *= 4, h /= 2, w /= 2;
          for (int64_t i = 0; i < k; ++i) {
            add(std::make_shared<flow::ActNorm>(c));
            add(std::make_shared<flow::Invertible1x1>(c, gen));
            add(std::make_shared<flow::ConvCoupling>(c, k_cond, hidden, 0, false, 0, affine, o.scale_clamp, gen));
          }
          if (l + 1 < levels) split(true);
        }
      }
      latent_shapes.push_back({c, h, w});
    } else {
      // Rows (tables, or flattened images).
      const int64_t hidden = o.hidden > 0 ? o.hidden : (architecture == "realnvp_mlp" ? 1024 : 256);
      if (architecture == "realnvp_mlp" || architecture == "spline_coupling") {
        // Reorder features so that one checkerboard mask's conditioning set comes first (pixels with (i + j) even,
        // or even feature indices of rows), then couple the two halves alternately.
        // Tensor operations, not a loop: a size read from a damaged file meets the loader's allocation limit at once.
        const auto f = torch::arange(d, torch::kLong);
        const auto even = images ? (torch::div(f.remainder(g.height() * g.width()), g.width(), "floor") +
                                    f.remainder(g.width())).remainder(2) == 0
                                 : f.remainder(2) == 0;
        // The W7 mask m = (i + j) % 2 conditions on odd pixels first.
        const auto order = torch::cat({f.masked_select(even.logical_not()), f.masked_select(even)});
        const int64_t split_at = d - even.sum().item<int64_t>();
        perm = order;  // plain tensors, rebuilt from the geometry (Module::to would turn buffers into floats)
        inverse_perm = torch::argsort(order);
        const bool spline = architecture == "spline_coupling";
        const int64_t k = o.layers > 0 ? o.layers : (spline ? 6 : 8);
        for (int64_t i = 0; i < k; ++i) {
          std::shared_ptr<flow::Layer> layer;
          if (spline) {
            layer = std::make_shared<flow::SplineCoupling>(d, split_at, i % 2, hidden, o.spline_bins, o.tail_bound,
                                                           k_cond, gen);
          } else {
            layer = std::make_shared<flow::MlpCoupling>(d, split_at, i % 2, hidden, affine, o.scale_clamp, d, k_cond, gen);
          }
          if (spline) layers.push_back(register_module("norm" + std::to_string(i), std::make_shared<flow::ActNorm>(d)));
          layers.push_back(register_module("layer" + std::to_string(i), layer));
        }
      } else {  // maf | spline
        const int64_t k = o.layers > 0 ? o.layers : 5;
        // Counted by the loader's allocation limit before the orders are copied out.
        const auto ascending = torch::arange(d, torch::kLong);
        const std::vector<int64_t> forward_order(ascending.data_ptr<int64_t>(), ascending.data_ptr<int64_t>() + d);
        const std::vector<int64_t> reversed(forward_order.rbegin(), forward_order.rend());
        for (int64_t i = 0; i < k; ++i) {
          layers.push_back(register_module("norm" + std::to_string(i), std::make_shared<flow::ActNorm>(d)));
          layers.push_back(register_module(
              "layer" + std::to_string(i),
              std::make_shared<flow::Autoregressive>(d, hidden, i % 2 == 0 ? forward_order : reversed,
                                                     architecture == "spline", o.spline_bins, o.tail_bound,
                                                     o.scale_clamp, k_cond, gen)));
        }
      }
      latent_shapes.push_back({d});
    }
    if (!images) {
      shift = register_buffer("shift", torch::zeros({d}));
      scale = register_buffer("scale", torch::ones({d}));
    }
    if (g.n_classes > 0) {
      class_mean = register_parameter("class_mean", torch::zeros({g.n_classes, d}));
      class_log_scale = register_parameter("class_log_scale", torch::zeros({g.n_classes, d}));
      log_class_prior = register_buffer("log_class_prior", torch::full({g.n_classes}, -std::log(double(g.n_classes))));
    }
    if (discrete && o.dequantize == "variational") {
      dequantizer = register_module(
          "dequantizer", std::make_shared<flow::Dequantizer>(g.channels(), o.hidden > 0 ? std::min<int64_t>(o.hidden, 32) : 32,
                                                       o.scale_clamp, gen));
    }
  }

  torch::Device device() const { return neural::device_of(*this); }
  torch::ScalarType dtype() const { return parameters().front().scalar_type(); }

  // The flow on its input space: v [N, ...] -> (z [N, D], log|det| [N]).
  // `condition`: the class one-hot [N, K] of a class-conditional flow (else undefined).
  std::pair<torch::Tensor, torch::Tensor> flow_forward(const torch::Tensor& v, const torch::Tensor& condition) {
    flow::FlowState s{v, torch::zeros({v.size(0)}, v.options()), {}, condition};
    if (perm.defined()) s.x = s.x.flatten(1).index_select(1, perm.to(v.device()));
    else if (!is_image_architecture(architecture)) s.x = s.x.flatten(1);
    for (auto& layer : layers) layer->forward(s);
    std::vector<torch::Tensor> parts;
    for (auto& f : s.factored) parts.push_back(f.flatten(1));
    parts.push_back(s.x.flatten(1));
    auto z = parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
    if (perm.defined()) z = z.index_select(1, inverse_perm.to(z.device()));
    return {z, s.logdet};
  }
  // z [N, D] -> v [N, ...] (the example's shape).
  torch::Tensor flow_inverse(torch::Tensor z, const torch::Tensor& condition) {
    if (perm.defined()) z = z.index_select(1, perm.to(z.device()));
    flow::FlowState s;
    s.condition = condition;
    int64_t at = 0;
    for (size_t i = 0; i < latent_shapes.size(); ++i) {
      std::vector<int64_t> shape{z.size(0)};
      int64_t n = 1;
      for (int64_t v : latent_shapes[i]) shape.push_back(v), n *= v;
      auto piece = z.slice(1, at, at + n).reshape(shape);
      at += n;
      if (i + 1 < latent_shapes.size()) s.factored.push_back(piece);
      else s.x = piece;
    }
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) (*it)->inverse(s);
    if (perm.defined()) s.x = s.x.index_select(1, inverse_perm.to(s.x.device()));
    return s.x.reshape(geometry.batch_shape(z.size(0)));
  }

  // Pre-processing of y in [0, 1] (images) or standardisation (rows): (v, log|dv/dy| [N]).
  std::pair<torch::Tensor, torch::Tensor> to_flow_space(const torch::Tensor& y) {
    const int64_t n = y.size(0);
    if (!images) {
      auto v = (y - shift) / scale;
      return {v, (-scale.log().sum()).expand({n})};
    }
    if (preprocess == "logit") {
      auto s = alpha + (1 - 2 * alpha) * y;
      auto v = s.log() - torch::log1p(-s);
      auto ld = (std::log(1 - 2 * alpha) - s.log() - torch::log1p(-s)).flatten(1).sum(1);
      return {v, ld};
    }
    if (preprocess == "center") return {y - 0.5, torch::zeros({n}, y.options())};
    return {y, torch::zeros({n}, y.options())};
  }
  torch::Tensor from_flow_space(const torch::Tensor& v) {
    if (!images) return v * scale + shift;
    if (preprocess == "logit") return (torch::sigmoid(v) - alpha) / (1 - 2 * alpha);
    if (preprocess == "center") return v + 0.5;
    return v;
  }

  // The one-hot [N, K] of labels, in the dtype of `like` (undefined without labels).
  torch::Tensor condition_of(const torch::Tensor& labels, const torch::Tensor& like) const {
    if (!labels.defined()) return {};
    return neural::one_hot(labels, geometry.n_classes).to(like.scalar_type());
  }

  // log p(z | class) with the class-conditional prior folded into standardised codes: (eps, log|deps/dz|).
  std::pair<torch::Tensor, torch::Tensor> standardise(const torch::Tensor& z, const torch::Tensor& labels) {
    if (!labels.defined()) return {z, torch::zeros({z.size(0)}, z.options())};
    auto mean = class_mean.index_select(0, labels), log_scale = class_log_scale.index_select(0, labels);
    return {(z - mean) * (-log_scale).exp(), -log_scale.sum(1)};
  }
  torch::Tensor unstandardise(const torch::Tensor& eps, const torch::Tensor& labels) {
    if (!labels.defined()) return eps;
    return class_mean.index_select(0, labels) + class_log_scale.index_select(0, labels).exp() * eps;
  }

  // Images: bin indices k -> y in [0, 1] with dequantisation noise from `gen` (or the bins' centres), and
  // log q(u | x) (0 for uniform noise). Rows and continuous images pass through.
  // Rows: integer and categorical columns move by uniform noise over their grid cell, x + (u - 1/2) step, and
  // log q = -sum log step (cell centres without `gen`).
  std::pair<torch::Tensor, torch::Tensor> dequantise(const torch::Tensor& k, at::Generator* gen) {
    auto zero = torch::zeros({k.size(0)}, k.options());
    if (!discrete) {
      if (!grid_step.defined()) return {k, zero};
      auto log_q = torch::full({k.size(0)}, -grid_log_cell, k.options());
      if (!gen) return {k, log_q};
      auto u = neural::rand_from(k.sizes(), *gen, k.options());
      return {k + (u - 0.5) * grid_step.to(k.device(), k.scalar_type()), log_q};
    }
    const double bins = static_cast<double>(n_bins);
    if (!gen) return {(k + 0.5) / bins, zero};
    if (dequantizer) {
      auto [u, log_q] = dequantizer->sample(k / bins, *gen);
      return {(k + u) / bins, log_q};
    }
    auto u = neural::rand_from(k.sizes(), *gen, k.options());
    return {(k + u) / bins, zero};
  }

  // log P(x) (discrete images: the dequantisation bound) per example. x: bin indices (images) or rows. [N]
  torch::Tensor log_prob(const torch::Tensor& x, const torch::Tensor& labels, at::Generator& gen) {
    auto [y, log_q] = dequantise(x, &gen);
    auto [v, ld_pre] = to_flow_space(y);
    auto [z, ld_flow] = flow_forward(v, condition_of(labels, v));
    auto [eps, ld_prior] = standardise(z, labels);
    auto lp = flow::standard_normal_log_density(eps) + ld_prior + ld_flow + ld_pre - log_q;
    if (discrete) lp = lp - static_cast<double>(geometry.numel()) * std::log(static_cast<double>(n_bins));
    return lp;
  }

  // Standardised codes -> examples (images quantised to their bins, as k / (n_bins - 1)).
  torch::Tensor decode(const torch::Tensor& eps, const torch::Tensor& labels, bool quantise) {
    auto y = from_flow_space(flow_inverse(unstandardise(eps, labels), condition_of(labels, eps)));
    if (!quantise) return y;
    if (!discrete) return snap_to_grid(y);
    const double bins = static_cast<double>(n_bins);
    return torch::floor(y * bins).clamp(0, bins - 1) / (bins - 1);
  }

  // Rows: values of the discrete columns moved to the nearest point of their grid (others unchanged).
  torch::Tensor snap_to_grid(const torch::Tensor& y) const {
    if (!grid_step.defined()) return y;
    auto step = grid_step.to(y.device(), y.scalar_type()), origin = grid_origin.to(y.device(), y.scalar_type());
    auto safe = torch::where(step > 0, step, torch::ones_like(step));
    return torch::where(step > 0, origin + torch::round((y - origin) / safe) * safe, y);
  }
  // Rows: the grid of each discrete column, origin + j step (step 0: a continuous column); both [D] float64, or
  // undefined when no column is discrete. grid_log_cell = sum of log step over the discrete columns.
  void set_grid(const torch::Tensor& origin, const torch::Tensor& step) {
    grid_origin = origin.to(torch::kCPU, torch::kFloat64).contiguous();
    grid_step = step.to(torch::kCPU, torch::kFloat64).contiguous();
    auto positive = grid_step.masked_select(grid_step > 0);
    grid_log_cell = positive.numel() > 0 ? positive.log().sum().item<double>() : 0.0;
  }

  neural::Geometry geometry;
  std::string architecture, preprocess;
  bool discrete = false, images = false;
  int64_t n_bins = 256;
  double alpha = 0.05;
  std::vector<std::shared_ptr<flow::Layer>> layers;
  std::vector<std::vector<int64_t>> latent_shapes;  // factored pieces, then the final tensor
  torch::Tensor perm, inverse_perm;                 // realnvp_mlp feature order
  torch::Tensor shift, scale;                       // rows: the flow's own standardisation [D]
  torch::Tensor class_mean, class_log_scale;        // [K, D] class-conditional prior
  torch::Tensor log_class_prior;                    // [K]
  std::shared_ptr<flow::Dequantizer> dequantizer;
  torch::Tensor grid_origin, grid_step;  // plain tensors, saved as "dequantize_grid" [2, D]
  double grid_log_cell = 0;
};

namespace {

class FlowTrainable : public train::Trainable {
 public:
  FlowTrainable(NormalizingFlow::Net& net, double temperature) : net_(net), temperature_(temperature) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }
  torch::Tensor loss(const train::Batch& b, at::Generator& gen) {
    return -net_.log_prob(b.x.to(net_.dtype()), b.labels, gen);
  }
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto l = loss(batch, ctx.generator()).mean();
    ctx.optimize("model", l);
    ctx.log("bits_per_dim", l.item<double>() / (static_cast<double>(net_.geometry.numel()) * std::log(2.0)));
  }
  double eval_loss(const train::Batch& batch, at::Generator& gen) override {
    torch::NoGradGuard no_grad;
    return loss(batch, gen).mean().item<double>();
  }
  torch::Tensor preview(int64_t n, at::Generator& gen) override {
    if (!net_.images) return {};
    torch::NoGradGuard no_grad;
    auto eps = at::randn({n, net_.geometry.numel()}, gen, torch::kFloat64).to(net_.device(), net_.dtype());
    torch::Tensor labels;
    if (net_.geometry.n_classes > 0) {
      labels = torch::arange(n, torch::TensorOptions().dtype(torch::kLong)).remainder(net_.geometry.n_classes);
      labels = labels.to(net_.device());
    }
    return net_.decode(eps * temperature_, labels, true).to(torch::kFloat32).clamp(0, 1);
  }

 private:
  NormalizingFlow::Net& net_;
  double temperature_;
};

}  // namespace

void FlowOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(architecture == "auto" || architecture == "realnvp" || architecture == "glow" ||
               architecture == "realnvp_mlp" || architecture == "maf" || architecture == "spline" ||
               architecture == "spline_coupling",
           "architecture must be auto, realnvp, glow, realnvp_mlp, maf, spline or spline_coupling, got '",
           architecture, "'");
  GF_CHECK(layers >= 0 && levels >= 0 && hidden >= 0, "layers, levels and hidden must be >= 0 (0: default), got ",
           layers, ", ", levels, ", ", hidden);
  GF_CHECK(res_blocks >= 0, "res_blocks must be >= 0, got ", res_blocks);
  GF_CHECK(coupling == "affine" || coupling == "additive", "coupling must be affine or additive, got '", coupling, "'");
  GF_CHECK(scale_clamp > 0 && std::isfinite(scale_clamp), "scale_clamp must be positive, got ", scale_clamp);
  GF_CHECK(dequantize == "uniform" || dequantize == "variational" || dequantize == "none",
           "dequantize must be uniform, variational or none, got '", dequantize, "'");
  GF_CHECK(n_bins >= 2, "n_bins must be at least 2, got ", n_bins);
  GF_CHECK(preprocess == "auto" || preprocess == "logit" || preprocess == "center" || preprocess == "none",
           "preprocess must be auto, logit, center or none, got '", preprocess, "'");
  GF_CHECK(logit_alpha >= 0 && logit_alpha < 0.5, "logit_alpha must be in [0, 0.5), got ", logit_alpha);
  GF_CHECK(spline_bins >= 2, "spline_bins must be at least 2, got ", spline_bins);
  GF_CHECK(tail_bound > 0 && std::isfinite(tail_bound), "tail_bound must be positive, got ", tail_bound);
  GF_CHECK(temperature > 0 && std::isfinite(temperature), "temperature must be positive, got ", temperature);
  GF_CHECK(mcmc_steps >= 2 && mcmc_steps <= 1000000, "mcmc_steps must be in 2..1000000, got ", mcmc_steps);
  GF_CHECK(mcmc_starts >= 1 && mcmc_starts <= 1000, "mcmc_starts must be in 1..1000, got ", mcmc_starts);
  GF_CHECK(dtype == "float32" || dtype == "float64", "dtype must be float32 or float64, got '", dtype, "'");
}

const OptionTable<FlowOptions>& NormalizingFlow::option_table() {
  static const OptionTable<FlowOptions> table = [] {
    OptionTable<FlowOptions> t("flow");
    t.add("architecture", &FlowOptions::architecture, "flow (auto: glow for images, maf for rows)",
          {"auto", "realnvp", "glow", "realnvp_mlp", "maf", "spline", "spline_coupling"})
        .add("layers", &FlowOptions::layers,
             "couplings / steps per level / MADE blocks (0: 3 realnvp, 4 glow, 8 realnvp_mlp, 5 maf/spline, "
             "6 spline_coupling)")
        .add("levels", &FlowOptions::levels, "realnvp/glow scales (0: as many as the image sides allow, <= 3)")
        .add("hidden", &FlowOptions::hidden, "units/channels of coupling and MADE nets (0: 1024 mlp, 256 maf, 64 conv)")
        .add("res_blocks", &FlowOptions::res_blocks, "realnvp: residual blocks per coupling network")
        .add("coupling", &FlowOptions::coupling, "coupling transform", {"affine", "additive"})
        .add("scale_clamp", &FlowOptions::scale_clamp, "log-scales soft-clamped to (-c, c)")
        .add("dequantize", &FlowOptions::dequantize,
             "dequantisation noise: images' pixels; rows' integer and categorical columns (uniform over their grid "
             "cells either way)",
             {"uniform", "variational", "none"})
        .add("n_bins", &FlowOptions::n_bins, "images: quantisation levels (256: 8-bit pixels)")
        .add("preprocess", &FlowOptions::preprocess, "images: pre-processing (auto: logit for realnvp, center for glow)",
             {"auto", "logit", "center", "none"})
        .add("logit_alpha", &FlowOptions::logit_alpha, "logit pre-processing: logit(alpha + (1 - 2 alpha) y)")
        .add("spline_bins", &FlowOptions::spline_bins, "spline: bins per rational-quadratic spline")
        .add("tail_bound", &FlowOptions::tail_bound, "spline: interval [-B, B] of the splines")
        .add("temperature", &FlowOptions::temperature, "sampling: codes drawn from N(0, T^2 I)")
        .add("conditional", &FlowOptions::conditional, "class-conditional prior (labelled data)")
        .add("mcmc_steps", &FlowOptions::mcmc_steps, "filling missing values: Langevin steps")
        .add("mcmc_starts", &FlowOptions::mcmc_starts,
             "filling missing values: the model's draws tried per chain, the most probable completion starts it")
        .add("dtype", &FlowOptions::dtype, "floating-point type", {"float32", "float64"});
    train::add_train_options(t);
    return t;
  }();
  return table;
}

NormalizingFlow::NormalizingFlow(FlowOptions options) : options_(std::move(options)) { options_.validate(); }
NormalizingFlow::~NormalizingFlow() = default;

Capabilities NormalizingFlow::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  // Dequantised pixels or discrete columns: a bound on the probability of the discrete values.
  c.likelihood = net_ && (net_->discrete || net_->grid_step.defined()) ? Likelihood::lower_bound : Likelihood::exact;
  c.latent_space = true;
  c.encoder = true;
  c.bijective_latent = true;
  if (net_ && net_->discrete) {
    c.bits_per_dim = "-log2 P(image) / D with the pixels' " + std::to_string(options_.n_bins) + " bins dequantised (" +
                     options_.dequantize + ")";
  }
  return c;
}

nlohmann::json NormalizingFlow::options_json() const { return option_table().to_json(options_); }

std::string NormalizingFlow::resolved_architecture() const {
  if (net_) return net_->architecture;
  return options_.architecture;
}

int64_t NormalizingFlow::latent_dim() const { return net_ ? net_->geometry.numel() : 0; }
int64_t NormalizingFlow::n_classes() const { return net_ ? net_->geometry.n_classes : 0; }

namespace {

std::string choose_architecture(const FlowOptions& o, const neural::Geometry& g) {
  std::string arch = o.architecture;
  if (arch == "auto") arch = g.is_image() ? "glow" : "maf";
  if (is_image_architecture(arch)) {
    GF_CHECK_AS(DataError, g.is_image(), "give images, or choose --architecture maf, spline or realnvp_mlp",
                "architecture ", arch, " is for images [N, C, H, W], but the data are rows of ", g.numel(),
                " features");
    const int64_t possible = possible_levels(g);
    const int64_t levels = o.levels > 0 ? o.levels : possible;
    GF_CHECK_AS(DataError, levels <= possible,
                "choose --levels " + std::to_string(possible) + " or fewer, or images whose sides halve evenly",
                "architecture ", arch, " with ", levels, " levels squeezes the images ", levels,
                " times, but ", g.describe(), " images only halve evenly ", possible, " times");
    GF_CHECK_AS(DataError, arch != "glow" || levels >= 1,
                "Glow squeezes at least once: give images with even sides, or choose --architecture realnvp",
                "glow needs image sides divisible by 2, got ", g.describe());
  } else if (arch == "realnvp_mlp" || arch == "spline_coupling") {
    GF_CHECK_AS(DataError, g.numel() >= 2, "give at least 2 columns, or choose --architecture maf",
                arch, " couples two halves of the features, but the data have ", g.numel());
  }
  return arch;
}


}  // namespace

FitReport NormalizingFlow::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto geometry = neural::geometry_of(train_set, options_.conditional, "flow");
  const auto arch = choose_architecture(options_, geometry);
  net_.reset();
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  auto net = std::make_shared<Net>(geometry, options_, arch, gen);
  const auto dtype = scalar_type(options_);
  auto x = model_input(train_set.x, geometry, torch::kCPU, net->discrete, options_.n_bins, dtype, "fit");
  if (!net->images) {
    torch::NoGradGuard no_grad;
    auto mean = x.mean(0), sd = x.std(0, false);
    net->shift.copy_(mean);
    net->scale.copy_(torch::where(sd > 0, sd, torch::ones_like(sd)));
    if (options_.dequantize != "none") {
      auto [origin, step] = flow::discrete_grid(train_set);
      if (step.defined()) net->set_grid(origin, step);
    }
  }
  auto labels = neural::checked_labels(train_set.labels, geometry, x.size(0), ctx.device);
  if (labels.defined()) net->log_class_prior.copy_(neural::log_class_frequencies(labels, geometry.n_classes));
  net->to(ctx.device, dtype);
  x = x.to(ctx.device);
  FlowTrainable trainable(*net, options_.temperature);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto vx = model_input(ctx.validation->x, geometry, ctx.device, net->discrete, options_.n_bins, dtype, "validate");
    val = train::TrainData{vx, neural::checked_labels(ctx.validation->labels, geometry, vx.size(0), ctx.device)};
  }
  report_ = train::run(trainable, {x, labels}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "negative log-likelihood per example (nats, last logged)";
  report_.extra["architecture"] = arch;
  net->eval();
  net_ = net;
  schema_ = {{"data_kind", geometry.is_image() ? "images" : "table"}, {"example_shape", geometry.shape},
             {"n_features", geometry.numel()}, {"n_classes", geometry.n_classes}};
  if (!geometry.is_image()) schema_["columns"] = train_set.columns;
  return report_;
}

namespace {
void check_fitted(bool fitted, const char* what) {
  GF_CHECK_AS(NotFitted, fitted, "fit the model first (`genforge train flow ...`) or load a fitted one",
              "this flow is not fitted yet, so it cannot ", what);
}
}  // namespace

torch::Tensor NormalizingFlow::score_samples(const torch::Tensor& x) const { return score_samples(x, {}); }

torch::Tensor NormalizingFlow::score_samples(const torch::Tensor& x_in, const torch::Tensor& labels_in) const {
  check_fitted(fitted(), "score samples");
  const auto& g = net_->geometry;
  const auto device = net_->device();
  auto x = model_input(x_in, g, device, net_->discrete, options_.n_bins, net_->dtype(), "score");
  torch::NoGradGuard no_grad;
  auto labels = labels_in.defined() ? neural::checked_labels(labels_in, g, x.size(0), device) : torch::Tensor();
  return neural::marginal_over_classes(g, labels, net_->log_class_prior, x.size(0), device, [&](const torch::Tensor& lb) {
    auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 12345);  // the same noise every time
    std::vector<torch::Tensor> out;
    for (int64_t s = 0; s < x.size(0); s += 500) {
      const int64_t e = std::min(x.size(0), s + 500);
      out.push_back(net_->log_prob(x.slice(0, s, e), lb.defined() ? lb.slice(0, s, e) : lb, gen));
    }
    return torch::cat(out).to(torch::kCPU, torch::kFloat64);
  });
}

double NormalizingFlow::bits_per_dim(const torch::Tensor& x) const {
  check_fitted(fitted(), "score samples");
  return -score(x) / (static_cast<double>(net_->geometry.numel()) * std::log(2.0));
}

torch::Tensor NormalizingFlow::transform(const torch::Tensor& x_in, const torch::Tensor& labels) const {
  check_fitted(fitted(), "encode");
  const auto& g = net_->geometry;
  GF_CHECK(g.n_classes == 0 || labels.defined(), "a class-conditional flow encodes given the class: pass labels");
  const auto device = net_->device();
  auto x = model_input(x_in, g, device, net_->discrete, options_.n_bins, net_->dtype(), "encode");
  torch::NoGradGuard no_grad;
  auto lb = g.n_classes > 0 ? neural::checked_labels(labels, g, x.size(0), device) : torch::Tensor();
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += 500) {
    const int64_t e = std::min(x.size(0), s + 500);
    auto lbs = lb.defined() ? lb.slice(0, s, e) : lb;
    auto v = net_->to_flow_space(net_->dequantise(x.slice(0, s, e), nullptr).first).first;
    auto z = net_->flow_forward(v, net_->condition_of(lbs, v)).first;
    parts.push_back(net_->standardise(z, lbs).first.cpu());
  }
  return torch::cat(parts);
}

torch::Tensor NormalizingFlow::decode_codes(const torch::Tensor& z, const torch::Tensor& labels, bool quantise) const {
  check_fitted(fitted(), "decode");
  const auto& g = net_->geometry;
  GF_CHECK(z.dim() == 2 && z.size(1) == g.numel(), "codes must be [N, ", g.numel(), "], got ", z.sizes());
  GF_CHECK(g.n_classes == 0 || labels.defined(), "a class-conditional flow decodes given the class: pass labels");
  torch::NoGradGuard no_grad;
  const auto device = net_->device();
  auto lb = g.n_classes > 0 ? neural::checked_labels(labels, g, z.size(0), device) : torch::Tensor();
  // In chunks, so that sampling 10000 images does not hold every layer's activations for all of them at once.
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < z.size(0); s += 500) {
    const int64_t e = std::min(z.size(0), s + 500);
    parts.push_back(net_->decode(z.slice(0, s, e).to(device, net_->dtype()), lb.defined() ? lb.slice(0, s, e) : lb,
                                 quantise).cpu());
  }
  auto out = torch::cat(parts);
  return net_->images && quantise ? out.to(torch::kFloat32) : out;
}

torch::Tensor NormalizingFlow::decode_continuous(const torch::Tensor& z, const torch::Tensor& labels) const {
  return decode_codes(z, labels, false);
}

torch::Tensor NormalizingFlow::decode(const torch::Tensor& z, const torch::Tensor& labels) const {
  return decode_codes(z, labels, true);
}

std::pair<torch::Tensor, torch::Tensor> NormalizingFlow::flow_forward(const torch::Tensor& v) const {
  check_fitted(fitted(), "run");
  GF_CHECK(net_->geometry.n_classes == 0, "flow_forward is for unconditional flows");
  return net_->flow_forward(v.to(net_->device(), net_->dtype()), {});
}

torch::Tensor NormalizingFlow::flow_inverse(const torch::Tensor& z) const {
  check_fitted(fitted(), "run");
  GF_CHECK(net_->geometry.n_classes == 0, "flow_inverse is for unconditional flows");
  return net_->flow_inverse(z.to(net_->device(), net_->dtype()), {});
}

torch::Tensor NormalizingFlow::flow_space_log_density(const torch::Tensor& v, const torch::Tensor& labels) const {
  const auto given = labels.defined() ? labels.to(v.device(), torch::kLong) : labels;
  return neural::marginal_over_classes(net_->geometry, given, net_->log_class_prior, v.size(0), v.device(),
                                       [&](const torch::Tensor& lb) {
                                         auto [z, ld_flow] = net_->flow_forward(v, net_->condition_of(lb, v));
                                         auto [eps, ld_prior] = net_->standardise(z, lb);
                                         return flow::standard_normal_log_density(eps) + ld_prior + ld_flow;
                                       });
}

torch::Tensor NormalizingFlow::to_flow_space(const torch::Tensor& x_in) const {
  check_fitted(fitted(), "run");
  auto x = model_input(x_in, net_->geometry, net_->device(), net_->discrete, options_.n_bins, net_->dtype(), "encode");
  return net_->to_flow_space(net_->dequantise(x, nullptr).first).first;
}

torch::Tensor NormalizingFlow::from_flow_space(const torch::Tensor& v, bool continuous) const {
  check_fitted(fitted(), "run");
  auto y = net_->from_flow_space(v);
  if (continuous) return y;
  if (!net_->discrete) return net_->snap_to_grid(y);
  const double bins = static_cast<double>(options_.n_bins);
  return torch::floor(y * bins).clamp(0, bins - 1) / (bins - 1);
}

torch::Tensor NormalizingFlow::sample(int64_t n, at::Generator& gen) const {
  check_fitted(fitted(), "sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  if (net_->geometry.n_classes > 0) return sample_labelled(neural::draw_classes(net_->log_class_prior, n, gen), gen);
  auto eps = at::randn({n, net_->geometry.numel()}, gen, torch::kFloat64) * options_.temperature;
  return decode(eps);
}

torch::Tensor NormalizingFlow::sample_labelled(const torch::Tensor& labels, at::Generator& gen) const {
  check_fitted(fitted(), "sample");
  if (net_->geometry.n_classes == 0) return Model::sample_labelled(labels, gen);
  check_class_labels(labels, net_->geometry.n_classes);
  auto eps = at::randn({labels.size(0), net_->geometry.numel()}, gen, torch::kFloat64) * options_.temperature;
  return decode(eps, labels);
}

TensorMap NormalizingFlow::state() const {
  check_fitted(fitted(), "be saved");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  if (net_->grid_step.defined()) out["dequantize_grid"] = torch::stack({net_->grid_origin, net_->grid_step});
  return out;
}

void NormalizingFlow::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  const auto arch = choose_architecture(options_, geometry);
  auto gen = make_generator(0);
  std::shared_ptr<Net> net;
  {
    flow::SkipRandomStart restored_below;  // every parameter comes from the file
    net = std::make_shared<Net>(geometry, options_, arch, gen);
  }
  net->to(scalar_type(options_));
  neural::load_module(*net, "", t);
  if (const auto grid = t.find("dequantize_grid"); grid != t.end()) {  // files from before it: none
    const auto& g = grid->second;
    GF_CHECK_AS(ModelFileError,
                !geometry.is_image() && g.dim() == 2 && g.size(0) == 2 && g.size(1) == geometry.numel() &&
                    g.is_floating_point() && g.isfinite().all().item<bool>() && (g[1] >= 0).all().item<bool>(),
                "re-create the file with `genforge train flow`", "the flow's dequantisation grid is malformed (shape ",
                g.sizes(), ")");
    net->set_grid(g[0], g[1]);
  }
  net->eval();
  net_ = net;
}

}  // namespace gf
