// Adam whose CPU update is one pass per parameter (m, v and the weight updated together in a parallel loop)
// instead of LibTorch's chain of whole-tensor operations, each a pass over memory. Same arithmetic as
// torch::optim::Adam (L2 weight decay added to the gradient, bias corrections, eps outside the square root), same
// state (AdamParamState), so checkpoints are interchangeable. Falls back to torch::optim::Adam::step for amsgrad or
// parameters that are not contiguous float32 on the CPU.
#pragma once
#include <torch/optim/adam.h>

#include <vector>

namespace gf::train {

class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(const std::vector<torch::Tensor>& params, torch::optim::AdamOptions options)
      : torch::optim::Adam(params, std::move(options)) {}
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace gf::train
