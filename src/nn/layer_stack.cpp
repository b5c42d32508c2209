#include "nn/layer_stack.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <cmath>

#include "genforge/core/error.h"
#include "nn/lora.h"

namespace gf::neural {
namespace {

using nlohmann::json;
constexpr int64_t kMaxSize = int64_t{1} << 20;     // any one size (channels, features, kernel)
constexpr int64_t kMaxWeights = int64_t{1} << 28;  // all weights of the stack together
constexpr int64_t kMaxKernel = 64;                 // conv2d kernel, stride and padding
constexpr size_t kMaxLayers = 256;

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

// (x - mean) / scale with buffers of the example's shape (mean and scale given as one value or one per element).
struct StandardizeImpl : torch::nn::Module {
  StandardizeImpl(const std::vector<int64_t>& shape, const std::vector<double>& m, const std::vector<double>& s) {
    auto as_buffer = [&](const std::vector<double>& v) {
      return torch::tensor(v, torch::kFloat64).to(torch::kFloat32).reshape({-1}).expand({numel_of(shape)}).reshape(shape).clone();
    };
    mean = register_buffer("mean", as_buffer(m));
    scale = register_buffer("scale", as_buffer(s));
  }
  torch::Tensor forward(const torch::Tensor& x) { return (x - mean) / scale; }
  torch::Tensor mean, scale;
};
TORCH_MODULE(Standardize);

int64_t size_field(const json& layer, const char* key, size_t index, int64_t low = 1) {
  GF_CHECK(layer.contains(key) && layer[key].is_number_integer(), "layer ", index, " (", layer.value("type", "?"),
           ") needs an integer '", key, "'");
  const int64_t v = layer[key].get<int64_t>();
  GF_CHECK(v >= low && v <= kMaxSize, "layer ", index, ": '", key, "' must be in [", low, ", ", kMaxSize, "], got ", v);
  return v;
}

bool bias_field(const json& layer) {
  if (!layer.contains("bias")) return true;
  GF_CHECK(layer["bias"].is_boolean(), "layer '", layer.value("type", "?"), "': 'bias' must be true or false");
  return layer["bias"].get<bool>();
}

double number_field(const json& layer, const char* key, double fallback) {
  if (!layer.contains(key)) return fallback;
  GF_CHECK(layer[key].is_number(), "layer '", layer.value("type", "?"), "': '", key, "' must be a number");
  return layer[key].get<double>();
}

std::vector<double> standardize_values(const json& layer, const char* key, size_t index) {
  GF_CHECK(layer.contains(key) && layer[key].is_array() && !layer[key].empty() && layer[key].size() <= (1u << 24),
           "layer ", index, " (standardize) needs a non-empty array '", key, "'");
  std::vector<double> out;
  for (const auto& v : layer[key]) {
    GF_CHECK(v.is_number() && std::isfinite(v.get<double>()), "layer ", index, " (standardize): '", key,
             "' holds a value that is not a finite number");
    out.push_back(v.get<double>());
    GF_CHECK(std::string(key) != "scale" || out.back() > 0, "layer ", index, " (standardize): a scale must be > 0");
  }
  return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out;
  for (const int64_t d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
}

// The example shape after `layer`, checking that it applies to `in`; adds the layer's weight count to `weights`.
std::vector<int64_t> output_shape(const json& layer, const std::vector<int64_t>& in, size_t index, int64_t& weights) {
  GF_CHECK(layer.is_object() && layer.contains("type") && layer["type"].is_string(), "layer ", index,
           " must be an object with a \"type\"");
  const std::string type = layer["type"].get<std::string>();
  if (type == "linear") {
    const int64_t from = size_field(layer, "in", index), to = size_field(layer, "out", index);
    GF_CHECK(in.size() == 1 && in[0] == from, "layer ", index, " (linear ", from, " -> ", to, ") gets examples of shape ",
             shape_text(in), " (flatten first)");
    bias_field(layer);
    weights += from * to + to;
    return {to};
  }
  if (type == "conv2d") {
    const int64_t from = size_field(layer, "in", index), to = size_field(layer, "out", index);
    const int64_t k = size_field(layer, "kernel", index), stride = size_field(layer, "stride", index);
    const int64_t pad = size_field(layer, "padding", index, 0);
    bias_field(layer);
    GF_CHECK(k <= kMaxKernel && stride <= kMaxKernel && pad <= kMaxKernel, "layer ", index,
             ": conv2d kernel, stride and padding must be at most ", kMaxKernel);
    GF_CHECK(in.size() == 3 && in[0] == from, "layer ", index, " (conv2d ", from, " -> ", to,
             " channels) gets examples of shape ", shape_text(in));
    const int64_t h = (in[1] + 2 * pad - k) / stride + 1, w = (in[2] + 2 * pad - k) / stride + 1;
    GF_CHECK(in[1] + 2 * pad >= k && in[2] + 2 * pad >= k, "layer ", index, ": a ", k, "x", k, " kernel does not fit ",
             shape_text(in));
    weights += from * to * k * k + to;
    return {to, h, w};
  }
  if (type == "batchnorm2d") {
    const int64_t features = size_field(layer, "features", index);
    GF_CHECK(in.size() == 3 && in[0] == features, "layer ", index, " (batchnorm2d of ", features,
             " channels) gets examples of shape ", shape_text(in));
    weights += 4 * features;
    return in;
  }
  if (type == "flatten") return {numel_of(in)};
  if (type == "standardize") {
    for (const char* key : {"mean", "scale"}) {
      const auto values = standardize_values(layer, key, index);
      GF_CHECK(values.size() == 1 || static_cast<int64_t>(values.size()) == numel_of(in), "layer ", index,
               " (standardize): '", key, "' holds ", values.size(), " values for examples of shape ", shape_text(in),
               " (1 or one per element)");
    }
    weights += 2 * numel_of(in);
    return in;
  }
  GF_CHECK(type == "relu" || type == "leaky_relu" || type == "sigmoid" || type == "tanh", "layer ", index,
           " has an unknown type '", type,
           "' (linear, conv2d, batchnorm2d, relu, leaky_relu, sigmoid, tanh, flatten, standardize)");
  return in;
}

std::vector<int64_t> shape_field(const json& spec) {
  GF_CHECK(spec.is_object() && spec.contains("input") && spec["input"].is_array() && spec.contains("layers") &&
               spec["layers"].is_array(),
           "a layer stack is {\"input\": [shape], \"layers\": [...]}");
  std::vector<int64_t> shape;
  for (const auto& d : spec["input"]) {
    GF_CHECK(d.is_number_integer() && d.get<int64_t>() >= 1 && d.get<int64_t>() <= kMaxSize,
             "a layer stack's input shape holds sizes in [1, ", kMaxSize, "]");
    shape.push_back(d.get<int64_t>());
  }
  GF_CHECK(shape.size() == 1 || shape.size() == 3, "a layer stack takes vectors [D] or images [C, H, W], got ",
           shape.size(), " dimensions");
  GF_CHECK(numel_of(shape) <= kMaxSize * 16, "a layer stack's input of ", shape_text(shape), " is too large");
  return shape;
}

}  // namespace

LayerStackWriter::LayerStackWriter(std::vector<int64_t> input_shape)
    : input_shape_(std::move(input_shape)), shape_(input_shape_) {}

void LayerStackWriter::add(json layer) {
  int64_t weights = 0;
  shape_ = output_shape(layer, shape_, layers_.size(), weights);
  layers_.push_back(std::move(layer));
}

void LayerStackWriter::add_module(const torch::nn::Module& module) {
  const std::string prefix = std::to_string(layers_.size()) + ".";
  auto copy_weights = [&] {
    for (const auto& p : module.named_parameters()) weights_[prefix + p.key()] = p.value().detach().cpu().clone();
    for (const auto& b : module.named_buffers()) weights_[prefix + b.key()] = b.value().detach().cpu().clone();
  };
  if (const auto* adaptable = dynamic_cast<const AdaptableLinearImpl*>(&module)) {
    // Adapters folded in: the stack holds plain linear layers.
    add({{"type", "linear"}, {"in", adaptable->in_features}, {"out", adaptable->out_features}, {"bias", true}});
    torch::NoGradGuard no_grad;
    weights_[prefix + "weight"] = adaptable->merged_weight().detach().cpu().clone();
    weights_[prefix + "bias"] = adaptable->bias.detach().cpu().clone();
    return;
  }
  if (const auto* linear = dynamic_cast<const torch::nn::LinearImpl*>(&module)) {
    const auto& o = linear->options;
    add({{"type", "linear"}, {"in", o.in_features()}, {"out", o.out_features()}, {"bias", o.bias()}});
  } else if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&module)) {
    const auto& o = conv->options;
    const auto k = o.kernel_size(), s = o.stride();
    const auto* pad = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    GF_CHECK_AS(InternalError, pad && k->at(0) == k->at(1) && s->at(0) == s->at(1) && (*pad)->at(0) == (*pad)->at(1) &&
                                   o.groups() == 1 && o.dilation()->at(0) == 1 && o.dilation()->at(1) == 1,
                "", "a layer stack holds square convolutions only");
    add({{"type", "conv2d"}, {"in", o.in_channels()}, {"out", o.out_channels()}, {"kernel", k->at(0)},
         {"stride", s->at(0)}, {"padding", (*pad)->at(0)}, {"bias", o.bias()}});
  } else if (const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module)) {
    const auto& o = bn->options;
    GF_CHECK_AS(InternalError, o.affine() && o.track_running_stats(), "", "a layer stack's batch norm is affine");
    add({{"type", "batchnorm2d"}, {"features", o.num_features()}, {"eps", o.eps()},
         {"momentum", o.momentum().value_or(0.1)}});
  } else if (dynamic_cast<const torch::nn::ReLUImpl*>(&module)) {
    add({{"type", "relu"}});
  } else if (const auto* leaky = dynamic_cast<const torch::nn::LeakyReLUImpl*>(&module)) {
    add({{"type", "leaky_relu"}, {"slope", leaky->options.negative_slope()}});
  } else if (dynamic_cast<const torch::nn::SigmoidImpl*>(&module)) {
    add({{"type", "sigmoid"}});
  } else if (dynamic_cast<const torch::nn::TanhImpl*>(&module)) {
    add({{"type", "tanh"}});
  } else {
    GF_CHECK_AS(InternalError, false, "", "a layer stack cannot hold a ", module.name());
  }
  copy_weights();
}

void LayerStackWriter::add_standardize(const torch::Tensor& mean, const torch::Tensor& scale) {
  auto values = [](const torch::Tensor& t) {
    auto flat = t.detach().cpu().to(torch::kFloat64).reshape({-1}).contiguous();
    return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  };
  const std::string prefix = std::to_string(layers_.size()) + ".";
  add({{"type", "standardize"}, {"mean", values(mean)}, {"scale", values(scale)}});
  // Also as buffers, as the built module holds them (a copy of the spec's values).
  weights_[prefix + "mean"] = mean.detach().cpu().to(torch::kFloat32).reshape({-1}).expand({numel_of(shape_)})
                                  .reshape(shape_).clone();
  weights_[prefix + "scale"] = scale.detach().cpu().to(torch::kFloat32).reshape({-1}).expand({numel_of(shape_)})
                                   .reshape(shape_).clone();
}

json LayerStackWriter::spec() const { return {{"input", input_shape_}, {"layers", layers_}}; }

LayerStack build_layer_stack(const json& spec) {
  LayerStack out;
  out.input_shape = shape_field(spec);
  const json& layers = spec["layers"];
  GF_CHECK(layers.size() <= kMaxLayers, "a layer stack holds at most ", kMaxLayers, " layers, got ", layers.size());
  // Check the whole stack before building any of it.
  std::vector<int64_t> shape = out.input_shape;
  int64_t weights = 0;
  std::vector<std::vector<int64_t>> shapes;  // the input shape of each layer
  for (size_t i = 0; i < layers.size(); ++i) {
    shapes.push_back(shape);
    shape = output_shape(layers[i], shape, i, weights);
    GF_CHECK(weights <= kMaxWeights, "a layer stack holds at most ", kMaxWeights, " weights");
    GF_CHECK(numel_of(shape) <= kMaxWeights, "layer ", i, " makes ", shape_text(shape), " values per example");
  }
  GF_CHECK(shape.size() == 1, "a layer stack must end with flat features (add a flatten layer), it ends with ",
           shape_text(shape));
  out.out_features = shape[0];
  out.layers = torch::nn::Sequential();
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& l = layers[i];
    const std::string type = l["type"];
    if (type == "linear") {
      out.layers->push_back(torch::nn::Linear(
          torch::nn::LinearOptions(l["in"].get<int64_t>(), l["out"].get<int64_t>()).bias(bias_field(l))));
    } else if (type == "conv2d") {
      out.layers->push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(l["in"].get<int64_t>(), l["out"].get<int64_t>(), l["kernel"].get<int64_t>())
              .stride(l["stride"].get<int64_t>())
              .padding(l["padding"].get<int64_t>())
              .bias(bias_field(l))));
    } else if (type == "batchnorm2d") {
      const double eps = number_field(l, "eps", 1e-5), momentum = number_field(l, "momentum", 0.1);
      GF_CHECK(eps > 0 && eps < 1 && momentum > 0 && momentum <= 1, "layer ", i, ": batchnorm2d eps ", eps,
               " or momentum ", momentum, " out of range");
      out.layers->push_back(torch::nn::BatchNorm2d(
          torch::nn::BatchNorm2dOptions(l["features"].get<int64_t>()).eps(eps).momentum(momentum)));
    } else if (type == "relu") {
      out.layers->push_back(torch::nn::ReLU());
    } else if (type == "leaky_relu") {
      const double slope = number_field(l, "slope", 0.01);
      GF_CHECK(slope >= 0 && slope < 1, "layer ", i, ": leaky_relu slope must be in [0, 1), got ", slope);
      out.layers->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(slope)));
    } else if (type == "sigmoid") {
      out.layers->push_back(torch::nn::Sigmoid());
    } else if (type == "tanh") {
      out.layers->push_back(torch::nn::Tanh());
    } else if (type == "flatten") {
      out.layers->push_back(torch::nn::Flatten());
    } else {  // standardize
      out.layers->push_back(
          Standardize(shapes[i], standardize_values(l, "mean", i), standardize_values(l, "scale", i)));
    }
  }
  return out;
}

}  // namespace gf::neural
