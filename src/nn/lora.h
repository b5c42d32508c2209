// The linear layer of the neural families with optional LoRA adapters (include/genforge/train/lora.h), and the
// pieces shared by their AdaptedModel implementations: counting adapter parameters and folding them into weights.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

#include "genforge/io/model_file.h"
#include "genforge/model.h"
#include "genforge/train/lora.h"

namespace gf::neural {

// y = x W^T + b (+ (alpha / r) (x A^T) B^T with adapters). Parameters are named as torch::nn::Linear's ("weight"
// [out, in], "bias" [out]) plus "lora_A" [r, in] and "lora_B" [out, r], so files without adapters are unchanged.
struct AdaptableLinearImpl : torch::nn::Module {
  AdaptableLinearImpl(int64_t in, int64_t out, int64_t lora_rank = 0, double lora_alpha = 16);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor merged_weight() const;  // W + (alpha / r) B A, or W
  int64_t in_features, out_features;
  double scale = 0;
  torch::Tensor weight, bias, lora_A, lora_B;
};
TORCH_MODULE(AdaptableLinear);

// A layer named `name` of a model with these options: adapters when lora_rank > 0 and a target glob matches.
AdaptableLinear adaptable_linear(int64_t in, int64_t out, const train::LoraOptions& lora, const std::string& name);

// Adapter parameters of a module (0: none).
int64_t adapter_parameters(const torch::nn::Module& module);
// Model::merge_adapters of the families with these options: the model's state with its adapters folded in, loaded
// back with lora_rank 0 (the model without adapters, the same function).
void fold_adapters(Model& model, train::LoraOptions& options);
// Folds the adapters of a saved state into their weights ("X.weight" += scale "X.lora_B" "X.lora_A", the adapters
// erased): the state of the same model without adapters.
void merge_adapters(TensorMap& state, double scale);

}  // namespace gf::neural
