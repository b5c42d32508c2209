// The PixelCNN's network: the gated activation, one gated layer (vertical and horizontal stacks), the whole
// network with its output distributions, the raster-order sampling cache and the completion loop. Private to
// src/models/pixelcnn/ (included by pixelcnn.cpp alone).
#pragma once
#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <fstream>
#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/pixelcnn.h"
#include "nn/neural.h"

namespace gf {

namespace {

// tanh(a) * sigmoid(b) of the two channel halves of x [N, 2C, ...], with a backward pass that writes the input's
// gradient in one piece: autograd's version zero-fills and copies a full-size gradient for each half's slice
// (about a third of a W8 training step went there).
struct GatedActivation : torch::autograd::Function<GatedActivation> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    const int64_t c = x.size(1) / 2;
    auto ta = torch::tanh(x.slice(1, 0, c)), sb = torch::sigmoid(x.slice(1, c));
    ctx->save_for_backward({ta, sb});
    return ta * sb;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto saved = ctx->get_saved_variables();
    const auto& ta = saved[0];
    const auto& sb = saved[1];
    const auto& g = grad[0];
    auto ga = g * sb * (1 - ta * ta);
    auto gb = g * ta * sb * (1 - sb);
    return {torch::cat({ga, gb}, 1)};
  }
};
torch::Tensor gate(const torch::Tensor& x) {
  if (!x.requires_grad()) {
    const int64_t c = x.size(1) / 2;
    return torch::tanh(x.slice(1, 0, c)) * torch::sigmoid(x.slice(1, c));
  }
  return GatedActivation::apply(x);
}

int64_t params_per_value(const std::string& output, int64_t n_bins, int64_t mixtures) {
  if (output == "bernoulli") return 1;
  if (output == "softmax") return n_bins;
  return 3 * mixtures;
}

// Rows [top, top + count) of x [N, C, H, W], zero outside the image, with `pad` zero columns on each side.
torch::Tensor row_window(const torch::Tensor& x, int64_t top, int64_t count, int64_t pad) {
  const int64_t h = x.size(2);
  const int64_t from = std::max<int64_t>(0, top), to = std::min(h, top + count);
  auto out = torch::zeros({x.size(0), x.size(1), count, x.size(3) + 2 * pad}, x.options());
  if (to > from) out.slice(2, from - top, to - top).slice(3, pad, pad + x.size(3)).copy_(x.slice(2, from, to));
  return out;
}

// Columns [left, left + count) of row i of x, zero outside the image. [N, C, 1, count]
torch::Tensor column_window(const torch::Tensor& x, int64_t i, int64_t left, int64_t count) {
  const int64_t w = x.size(3);
  const int64_t from = std::max<int64_t>(0, left), to = std::min(w, left + count);
  auto out = torch::zeros({x.size(0), x.size(1), 1, count}, x.options());
  if (to > from) out.slice(3, from - left, to - left).copy_(x.slice(2, i, i + 1).slice(3, from, to));
  return out;
}

// A convolution computed in `compute` precision (bfloat16: inputs and weights rounded, accumulation in float32
// inside oneDNN / cuDNN, as PyTorch's autocast); the result is in `compute` too, parameters stay float32. No
// padding: callers pad.
torch::Tensor conv(const torch::Tensor& x, const torch::nn::Conv2d& c, torch::ScalarType compute) {
  if (compute == c->weight.scalar_type()) return torch::conv2d(x.to(compute), c->weight, c->bias);
  const auto cl = at::MemoryFormat::ChannelsLast;
  return torch::conv2d(x.to(compute).contiguous(cl), c->weight.to(compute).contiguous(cl), c->bias.to(compute));
}

// Does this CPU compute bfloat16 natively (AMX or AVX512-BF16)? Read once from /proc/cpuinfo.
bool cpu_has_native_bf16() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) == 0) {
        return line.find(" amx_bf16") != std::string::npos || line.find(" avx512_bf16") != std::string::npos;
      }
    }
    return false;
  }();
  return has;
}

// The convolution arithmetic for `precision` on `device`.
torch::ScalarType compute_type(const std::string& precision, const torch::Device& device) {
  if (precision == "bfloat16") return torch::kBFloat16;
  if (precision == "auto" && device.is_cpu() && cpu_has_native_bf16()) return torch::kBFloat16;
  return torch::kFloat32;
}

}  // namespace

// One gated layer: vertical stack (rows above; the current row too after the first layer) and horizontal stack
// (pixels to the left; the current one too after the first layer), with the vertical features fed into the
// horizontal stack and a residual connection on the horizontal stack.
struct GatedLayer : torch::nn::Module {
  GatedLayer(int64_t in, int64_t channels, int64_t kernel, bool first_, int64_t n_classes, torch::ScalarType compute_)
      : p(kernel / 2), first(first_), compute(compute_) {
    v_rows = first ? p : p + 1;
    h_cols = first ? p : p + 1;
    using torch::nn::Conv2dOptions;
    v_conv = register_module("v_conv", torch::nn::Conv2d(Conv2dOptions(in, 2 * channels, {v_rows, kernel})));
    h_conv = register_module("h_conv", torch::nn::Conv2d(Conv2dOptions(in, 2 * channels, {1, h_cols})));
    v2h = register_module("v2h", torch::nn::Conv2d(2 * channels, 2 * channels, 1));
    res = register_module("res", torch::nn::Conv2d(channels, channels, 1));
    if (n_classes > 0) {
      class_v = register_module("class_v", torch::nn::Linear(torch::nn::LinearOptions(n_classes, 2 * channels).bias(false)));
      class_h = register_module("class_h", torch::nn::Linear(torch::nn::LinearOptions(n_classes, 2 * channels).bias(false)));
    }
  }
  // Class biases [N, 2C, 1, 1] (undefined when unconditional).
  torch::Tensor bias(torch::nn::Linear& l, const torch::Tensor& condition) {
    if (!condition.defined()) return {};
    auto b = l(condition).to(compute);
    return b.view({b.size(0), b.size(1), 1, 1});
  }
  // Whole images: v, h [N, Cin, H, W] -> (v, h, hv), hv the vertical pre-activations [N, 2C, H, W].
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(const torch::Tensor& v, const torch::Tensor& h,
                                                                  const torch::Tensor& condition) {
    // Padded above (and not below) / on the left: output row i sees input rows i - p .. i - 1 (first layer) or
    // .. i; output column j sees columns j - p .. j - 1 (first) or .. j. Padding the narrow inputs (after the cast
    // to the compute type) instead of slicing the wide outputs keeps the backward pass free of slice copies.
    auto low = [&](const torch::Tensor& t) { return t.scalar_type() == compute ? t : t.to(compute); };
    // (The first layer never looks at the last row: a padding of -1 below crops it.)
    // Activations between convolutions stay in the compute type; the horizontal stack's residual stream is float32.
    auto hv = conv(torch::constant_pad_nd(low(v), {p, p, p, first ? -1 : 0}), v_conv, compute);
    auto hh = conv(torch::constant_pad_nd(low(h), {p, first ? -1 : 0}), h_conv, compute);
    if (condition.defined()) {
      hv = hv + bias(class_v, condition);
      hh = hh + bias(class_h, condition);
    }
    auto v_out = gate(hv);
    auto h_out = conv(gate(hh + conv(hv, v2h, compute)), res, compute).to(torch::kFloat32);
    if (!first) h_out = h_out + h;
    return {v_out, h_out, hv};
  }
  // Row i of the vertical stack from the layer's vertical input v_in [N, Cin, H, W]. [N, 2C, 1, W] pre-activations
  torch::Tensor vertical_row(const torch::Tensor& v_in, int64_t i, const torch::Tensor& condition) {
    auto window = row_window(v_in, i - p, v_rows, p);
    auto hv = conv(window, v_conv, compute);
    return condition.defined() ? hv + bias(class_v, condition) : hv;
  }
  // Position (i, j) of the horizontal stack from its input h_in and this layer's vertical pre-activations hv.
  torch::Tensor horizontal_at(const torch::Tensor& h_in, const torch::Tensor& hv, int64_t i, int64_t j,
                              const torch::Tensor& condition) {
    auto window = column_window(h_in, i, j - p, h_cols);
    auto hh = conv(window, h_conv, compute);  // [N, 2C, 1, 1]
    if (condition.defined()) hh = hh + bias(class_h, condition);
    auto hv_ij = hv.slice(2, i, i + 1).slice(3, j, j + 1);
    auto out = conv(gate(hh + conv(hv_ij, v2h, compute)), res, compute).to(torch::kFloat32);
    if (!first) out = out + h_in.slice(2, i, i + 1).slice(3, j, j + 1);
    return out;
  }
  int64_t p, v_rows, h_cols;
  bool first;
  torch::ScalarType compute;  // convolution arithmetic (float32 or bfloat16)
  torch::nn::Conv2d v_conv{nullptr}, h_conv{nullptr}, v2h{nullptr}, res{nullptr};
  torch::nn::Linear class_v{nullptr}, class_h{nullptr};
};

struct PixelCnn::Net : torch::nn::Module {
  Net(const neural::Geometry& g, const PixelCnnOptions& o, std::string output_, torch::ScalarType compute_)
      : geometry(g), output(std::move(output_)), n_bins(output == "bernoulli" ? 2 : o.n_bins), mixtures(o.mixtures),
        compute(compute_) {
    per_value = params_per_value(output, o.n_bins, o.mixtures);
    const int64_t c = g.channels();
    layers.push_back(register_module(
        "layer0", std::make_shared<GatedLayer>(c, o.hidden, o.first_kernel, true, g.n_classes, compute)));
    for (int64_t l = 1; l <= o.layers; ++l) {
      layers.push_back(register_module(
          "layer" + std::to_string(l),
          std::make_shared<GatedLayer>(o.hidden, o.hidden, o.kernel, false, g.n_classes, compute)));
    }
    out1 = register_module("out1", torch::nn::Conv2d(o.hidden, o.hidden, 1));
    out2 = register_module("out2", torch::nn::Conv2d(o.hidden, c * per_value, 1));
    if (g.n_classes > 0) {
      log_class_prior = register_buffer("log_class_prior", torch::full({g.n_classes}, -std::log(double(g.n_classes))));
    }
  }
  torch::Device device() const { return neural::device_of(*this); }

  // Bin indices k [N, C, H, W] (or continuous values in their scale) -> the network's input: k for binary data,
  // 2 k / (n_bins - 1) - 1 otherwise.
  torch::Tensor input_of(const torch::Tensor& k) const {
    return output == "bernoulli" ? k : k * (2.0 / static_cast<double>(n_bins - 1)) - 1.0;
  }
  torch::Tensor head(const torch::Tensor& h) {
    return conv(torch::relu(conv(torch::relu(h), out1, compute)), out2, compute).to(torch::kFloat32);
  }
  // Output parameters [N, C * P, H, W] for network inputs [N, C, H, W].
  torch::Tensor logits(const torch::Tensor& input, const torch::Tensor& condition) {
    torch::Tensor v = input, h = input;
    for (auto& layer : layers) std::tie(v, h, std::ignore) = layer->forward(v, h, condition);
    return head(h);
  }

  // log p(k | params) per value: params [N, C, P, ...], k [N, C, ...]. [N, C, ...]
  torch::Tensor log_prob_values(const torch::Tensor& params, const torch::Tensor& k) const {
    if (output == "bernoulli") {
      return -torch::binary_cross_entropy_with_logits(params.select(2, 0), k, {}, {}, at::Reduction::None);
    }
    if (output == "softmax") {
      return torch::log_softmax(params, 2).gather(2, k.to(torch::kLong).unsqueeze(2)).squeeze(2);
    }
    // Discretised logistic mixture (PixelCNN++): bins of width 2 / (n_bins - 1) on [-1, 1], open at both ends.
    const int64_t m = mixtures;
    auto logit_pi = params.slice(2, 0, m), mean = params.slice(2, m, 2 * m);
    auto log_s = params.slice(2, 2 * m, 3 * m).clamp_min(-7.0);
    const double half = 1.0 / static_cast<double>(n_bins - 1);
    auto x = (k * (2.0 / static_cast<double>(n_bins - 1)) - 1.0).unsqueeze(2);  // [N, C, 1, ...]
    auto centred = x - mean;
    auto inv_s = (-log_s).exp();
    auto plus_in = inv_s * (centred + half), minus_in = inv_s * (centred - half);
    auto log_cdf_plus = plus_in - torch::softplus(plus_in);            // bin 0: log sigmoid(plus_in)
    auto log_one_minus_cdf_minus = -torch::softplus(minus_in);        // last bin
    auto cdf_delta = torch::sigmoid(plus_in) - torch::sigmoid(minus_in);
    auto mid_in = inv_s * centred;
    auto log_pdf_mid = mid_in - log_s - 2.0 * torch::softplus(mid_in);  // for very narrow bins in the tails
    auto middle = torch::where(cdf_delta > 1e-5, cdf_delta.clamp_min(1e-12).log(),
                               log_pdf_mid + std::log(2.0 * half));
    auto kk = k.unsqueeze(2).expand_as(middle);
    auto per_component =
        torch::where(kk < 0.5, log_cdf_plus,
                     torch::where(kk > static_cast<double>(n_bins) - 1.5, log_one_minus_cdf_minus, middle));
    return torch::logsumexp(per_component + torch::log_softmax(logit_pi, 2), 2);
  }
  // log P(image) [N] from logits [N, C * P, H, W] and bin indices k [N, C, H, W].
  torch::Tensor log_prob(const torch::Tensor& logits_, const torch::Tensor& k) const {
    auto params = logits_.view({k.size(0), k.size(1), per_value, k.size(2), k.size(3)});
    return log_prob_values(params, k).flatten(1).sum(1);
  }

  // Values drawn from output parameters [N, C, P] with uniforms u [N, C, 2]. [N, C] bin indices
  torch::Tensor draw(const torch::Tensor& params, const torch::Tensor& u) const {
    auto u0 = u.select(2, 0), u1 = u.select(2, 1);
    if (output == "bernoulli") return (u0 < torch::sigmoid(params.select(2, 0))).to(params.scalar_type());
    auto inverse_cdf = [](const torch::Tensor& probs, const torch::Tensor& v) {  // [N, C, P], [N, C] -> [N, C]
      auto below = (probs.cumsum(2) < v.unsqueeze(2)).sum(2);
      return below.clamp_max(probs.size(2) - 1);
    };
    if (output == "softmax") return inverse_cdf(torch::softmax(params, 2), u0).to(params.scalar_type());
    const int64_t m = mixtures;
    auto comp = inverse_cdf(torch::softmax(params.slice(2, 0, m), 2), u0).unsqueeze(2);  // [N, C, 1]
    auto mean = params.slice(2, m, 2 * m).gather(2, comp).squeeze(2);
    auto log_s = params.slice(2, 2 * m, 3 * m).gather(2, comp).squeeze(2).clamp_min(-7.0);
    auto uu = u1.clamp(1e-5, 1 - 1e-5);
    auto x = (mean + log_s.exp() * (uu.log() - torch::log1p(-uu))).clamp(-1, 1);
    return torch::round((x + 1) * (0.5 * static_cast<double>(n_bins - 1)));
  }

  // Log-probabilities of every level from output parameters [N, C, P] (unnormalised for softmax). [N, C, n_bins]
  torch::Tensor bin_scores(const torch::Tensor& params) const {
    if (output == "softmax") return params;
    if (output == "bernoulli") {
      auto l = params.select(2, 0);
      return torch::stack({-torch::softplus(l), -torch::softplus(-l)}, 2);
    }
    const int64_t n = params.size(0), c = params.size(1);
    auto levels = torch::arange(n_bins, params.options()).expand({n, c, n_bins});
    return log_prob_values(params.unsqueeze(3).expand({n, c, params.size(2), n_bins}), levels);
  }

  // The cached network of fast sampling (Ramachandran et al. 2017), stepping through the raster order from row
  // `first_row`: every layer's vertical outputs v, vertical pre-activations hv and horizontal outputs h, built by
  // one pass over the input k [N, C, H, W] (bin indices; rows from first_row on are recomputed as they are filled).
  struct RasterCache {
    RasterCache(Net& net_, torch::Tensor k_, torch::Tensor condition_, int64_t first_row)
        : net(net_), k(std::move(k_)), condition(std::move(condition_)), pos(first_row * k.size(3)) {
      const size_t n_layers = net.layers.size();
      v.resize(n_layers), hv.resize(n_layers), h.resize(n_layers);
      x = net.input_of(k);
      torch::Tensor vi = x, hi = x;
      for (size_t l = 0; l < n_layers; ++l) {
        std::tie(v[l], h[l], hv[l]) = net.layers[l]->forward(vi, hi, condition);
        vi = v[l], hi = h[l];
      }
    }
    // Brings the caches to position `pos` (the vertical stack of its row when it starts a row; the horizontal stack
    // at it); with `want`, the output parameters there. [N, C * P]
    torch::Tensor step(bool want) {
      const int64_t cols = k.size(3), i = pos / cols, j = pos % cols;
      const size_t n_layers = net.layers.size();
      if (j == 0) {  // the vertical stack at row i depends only on the rows above -- all final by now
        for (size_t l = 0; l < n_layers; ++l) {
          auto row = net.layers[l]->vertical_row(l == 0 ? x : v[l - 1], i, condition);  // [N, 2C, 1, W]
          hv[l].slice(2, i, i + 1).copy_(row);
          v[l].slice(2, i, i + 1).copy_(gate(row));
        }
      }
      torch::Tensor hij;
      for (size_t l = 0; l < n_layers; ++l) {
        hij = net.layers[l]->horizontal_at(l == 0 ? x : h[l - 1], hv[l], i, j, condition);  // [N, C, 1, 1]
        h[l].slice(2, i, i + 1).slice(3, j, j + 1).copy_(hij);
      }
      return want ? net.head(hij).flatten(1) : torch::Tensor();
    }
    // Moves past `pos`, first setting its values [N, C] (bin indices; nullptr: keep them).
    void advance(const torch::Tensor* values) {
      const int64_t cols = k.size(3), i = pos / cols, j = pos % cols;
      if (values) {
        k.select(3, j).select(2, i).copy_(*values);
        x.slice(2, i, i + 1).slice(3, j, j + 1).copy_(net.input_of(k.slice(2, i, i + 1).slice(3, j, j + 1)));
      }
      ++pos;
    }
    Net& net;
    torch::Tensor k, x, condition;
    int64_t pos;
    std::vector<torch::Tensor> v, hv, h;
  };

  // Fills the positions of k [N, C, H, W] where `missing` [N, C, H, W] is true, in raster order from the first
  // missing position; one draw of uniforms [N, C, 2] per position from there on (the same for both paths).
  torch::Tensor complete(torch::Tensor k, const torch::Tensor& missing, const torch::Tensor& condition,
                         at::Generator& gen, bool cached) {
    torch::NoGradGuard no_grad;
    const int64_t n = k.size(0), c = k.size(1), rows = k.size(2), cols = k.size(3);
    auto any = missing.any(0).any(0).reshape({-1}).nonzero();
    if (any.numel() == 0) return k;
    const int64_t start = any[0][0].item<int64_t>();
    auto draw_at = [&](const torch::Tensor& params_ij, int64_t i, int64_t j) {  // params [N, C * P]
      auto u = at::rand({n, c, 2}, gen, torch::TensorOptions().dtype(k.scalar_type())).to(k.device());
      auto value = draw(params_ij.view({n, c, per_value}), u);
      auto old = k.select(3, j).select(2, i);
      k.select(3, j).select(2, i).copy_(torch::where(missing.select(3, j).select(2, i), value, old));
    };
    if (!cached) {
      for (int64_t pos = start; pos < rows * cols; ++pos) {
        const int64_t i = pos / cols, j = pos % cols;
        auto out = logits(input_of(k), condition);
        draw_at(out.select(3, j).select(2, i), i, j);
      }
      return k;
    }
    RasterCache cache(*this, k, condition, start / cols);
    for (int64_t pos = (start / cols) * cols; pos < rows * cols; ++pos) {
      if (pos < start) {
        cache.step(false);
        cache.advance(nullptr);
        continue;
      }
      const int64_t i = pos / cols, j = pos % cols;
      draw_at(cache.step(true), i, j);
      auto value = k.select(3, j).select(2, i);
      cache.advance(&value);
    }
    return k;
  }

  neural::Geometry geometry;
  std::string output;
  int64_t n_bins, mixtures, per_value = 1;
  torch::ScalarType compute;
  std::vector<std::shared_ptr<GatedLayer>> layers;
  torch::nn::Conv2d out1{nullptr}, out2{nullptr};
  torch::Tensor log_class_prior;
};

}  // namespace gf
