// The Trainer's optimizers: construction from the training options (Adam / AdamW / SGD, per-group overrides), the
// learning-rate schedule, and their state as bytes for checkpoints.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/optim.h>

#include <memory>
#include <vector>

#include "genforge/train/trainer.h"

namespace gf::train {

// The learning rate at `step` of `total` under the options' schedule and warm-up.
double scheduled_lr(const TrainOptions& o, double base, int64_t step, int64_t total);
// An optimizer for `params`; `over` holds a group's own settings (lr, beta1, ...). Sets `lr` to the base rate.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o, const nlohmann::json& over,
                                                        const std::vector<torch::Tensor>& params, double& lr);
// Whether every gradient of `params` is finite (a finite loss can still have non-finite gradients).
bool gradients_finite(const std::vector<torch::Tensor>& params);
void set_lr(torch::optim::Optimizer& opt, double lr);
// The optimizer's state (moments, step counts) as a uint8 tensor, and back.
torch::Tensor optimizer_blob(torch::optim::Optimizer& opt);
void load_optimizer_blob(torch::optim::Optimizer& opt, const torch::Tensor& blob);

}  // namespace gf::train
