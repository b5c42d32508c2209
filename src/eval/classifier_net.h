// The Fashion-MNIST classifier network, shared by its trainer and its feature extractor.
#pragma once
#include <torch/nn.h>

#include <string>

#include "genforge/io/model_file.h"

namespace gf::eval::detail {

struct ClassifierNetImpl : torch::nn::Module {
  ClassifierNetImpl();
  torch::Tensor features(const torch::Tensor& images);  // [N, 1, 28, 28] in [0, 1] -> [N, 128]
  torch::Tensor logits(const torch::Tensor& images);    // -> [N, 10]
  torch::nn::Conv2d conv1, conv2;
  torch::nn::Linear fc1, fc2;
};
TORCH_MODULE(ClassifierNet);

TensorMap classifier_state(ClassifierNet& net);
// From a file already read (`path` names it in errors); ModelFileError when it is not the classifier.
ClassifierNet load_classifier(const ModelFileContents& contents, const std::string& path);

}  // namespace gf::eval::detail
