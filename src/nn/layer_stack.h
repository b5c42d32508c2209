// A feed-forward stack of layers written as JSON, so that a network cut out of one model (a VAE's encoder, a GAN's
// discriminator: gf::FeatureTrunk) is rebuilt inside another (the classifier of `finetune --new-head`) and saved
// with it, without the first model's code:
//
//   {"input": [1, 28, 28], "layers": [{"type": "conv2d", "in": 1, "out": 32, "kernel": 4, "stride": 2,
//     "padding": 1, "bias": true}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "in": 6272,
//     "out": 400, "bias": true}, {"type": "relu"}]}
//
// Layer types: linear (in, out, bias), conv2d (in, out, kernel, stride, padding, bias), batchnorm2d (features, eps,
// momentum), relu, leaky_relu (slope), sigmoid, tanh, flatten, standardize ((x - mean) / scale; mean and scale one
// value or one per element: part of the architecture, so a re-initialised stack keeps them). Modules are named by position ("0.weight", "3.running_mean"), as torch::nn::Sequential names them.
// A stack read from a file is checked before anything is allocated: known types, sizes that chain, at most 2^28
// weights.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gf::neural {

// Writes a stack: layers appended one by one with copies of their weights.
class LayerStackWriter {
 public:
  explicit LayerStackWriter(std::vector<int64_t> input_shape);
  // A layer with no weights ("relu", "flatten", ...) or whose fields are given.
  void add(nlohmann::json layer);
  // One of LibTorch's modules (Linear, Conv2d, BatchNorm2d, ReLU, LeakyReLU, Sigmoid, Tanh, Flatten) with its weights.
  void add_module(const torch::nn::Module& module);
  // (x - mean) / scale; mean and scale hold one value or one per element of the shape at this point.
  void add_standardize(const torch::Tensor& mean, const torch::Tensor& scale);
  nlohmann::json spec() const;                             // {"input": [...], "layers": [...]}
  const std::map<std::string, torch::Tensor>& weights() const { return weights_; }

 private:
  std::vector<int64_t> input_shape_, shape_;  // the example shape at the start and after the last layer
  nlohmann::json layers_ = nlohmann::json::array();
  std::map<std::string, torch::Tensor> weights_;
};

struct LayerStack {
  torch::nn::Sequential layers{nullptr};
  std::vector<int64_t> input_shape;  // one example
  int64_t out_features = 0;          // width of the flat output (a stack must end flat)
};

// Builds the stack (weights initialised by LibTorch; load_module / init_like_pytorch set them). A spec that is not
// a valid stack is InvalidArgument naming the layer.
LayerStack build_layer_stack(const nlohmann::json& spec);

}  // namespace gf::neural
