#include "nn/lora.h"

#include <fnmatch.h>

#include "genforge/core/error.h"

namespace gf {
namespace train {

void LoraOptions::validate_lora() const {
  GF_CHECK(lora_rank >= 0 && lora_rank <= 4096, "lora_rank must be in [0, 4096] (0: no adapters), got ", lora_rank);
  GF_CHECK(lora_alpha > 0, "lora_alpha must be positive, got ", lora_alpha);
  GF_CHECK(lora_rank == 0 || !lora_targets.empty(), "lora_targets is empty: name the layers to adapt, e.g. '*'");
}

bool lora_targets_layer(const std::string& targets, const std::string& layer) {
  size_t start = 0;
  while (start <= targets.size()) {
    const size_t comma = targets.find(',', start);
    const std::string glob = targets.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!glob.empty() && fnmatch(glob.c_str(), layer.c_str(), 0) == 0) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace train

namespace neural {

AdaptableLinearImpl::AdaptableLinearImpl(int64_t in, int64_t out, int64_t lora_rank, double lora_alpha)
    : in_features(in), out_features(out) {
  weight = register_parameter("weight", torch::empty({out, in}));
  bias = register_parameter("bias", torch::empty({out}));
  if (lora_rank > 0) {
    lora_A = register_parameter("lora_A", torch::empty({lora_rank, in}));
    lora_B = register_parameter("lora_B", torch::zeros({out, lora_rank}));
    scale = lora_alpha / static_cast<double>(lora_rank);
  }
}

torch::Tensor AdaptableLinearImpl::forward(const torch::Tensor& x) {
  auto y = torch::linear(x, weight, bias);
  if (lora_A.defined()) y = y + torch::linear(torch::linear(x, lora_A), lora_B) * scale;
  return y;
}

torch::Tensor AdaptableLinearImpl::merged_weight() const {
  if (!lora_A.defined()) return weight;
  return weight + torch::mm(lora_B, lora_A) * scale;
}

AdaptableLinear adaptable_linear(int64_t in, int64_t out, const train::LoraOptions& lora, const std::string& name) {
  const bool adapted = lora.lora_rank > 0 && train::lora_targets_layer(lora.lora_targets, name);
  return AdaptableLinear(in, out, adapted ? lora.lora_rank : 0, lora.lora_alpha);
}

int64_t adapter_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.named_parameters()) {
    const std::string& name = p.key();
    if (name.size() > 7 && (name.compare(name.size() - 7, 7, ".lora_A") == 0 ||
                            name.compare(name.size() - 7, 7, ".lora_B") == 0)) {
      n += p.value().numel();
    }
  }
  return n;
}

void merge_adapters(TensorMap& state, double scale) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> adapted;
  for (const auto& [name, t] : state) {
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_A") == 0) adapted.push_back(name.substr(0, name.size() - 7));
  }
  for (const auto& layer : adapted) {
    const auto a = state.at(layer + ".lora_A"), b = state.at(layer + ".lora_B");
    auto& w = state.at(layer + ".weight");
    w = (w + torch::mm(b, a) * scale).contiguous();
    state.erase(layer + ".lora_A");
    state.erase(layer + ".lora_B");
  }
}

void fold_adapters(Model& model, train::LoraOptions& options) {
  TensorMap t = model.state();
  merge_adapters(t, options.lora_alpha / static_cast<double>(options.lora_rank));
  options.lora_rank = 0;
  model.load_state(t);
}

}  // namespace neural
}  // namespace gf
