#include "train/dp_sgd.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "genforge/core/random.h"

namespace gf::train {

torch::Tensor poisson_batch(int64_t n, double q, int64_t seed, int64_t step) {
  auto gen = make_generator(static_cast<uint64_t>(seed) * 2654435761ULL + 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(step));
  return (torch::rand({n}, gen, torch::kFloat64) < q).nonzero().reshape({-1});
}

PerExampleClipper::PerExampleClipper(std::vector<torch::Tensor> params, double max_norm)
    : params_(std::move(params)), max_norm_(max_norm) {
  for (const auto& p : params_) sums_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
}

bool PerExampleClipper::add() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params_) {
    if (p.grad().defined()) norms.push_back(p.grad().to(torch::kFloat64).norm());
  }
  const double norm = norms.empty() ? 0.0 : torch::stack(norms).norm().item<double>();
  if (!std::isfinite(norm)) return false;
  const double scale = std::min(1.0, max_norm_ / std::max(norm, 1e-12));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].grad().defined()) sums_[i].add_(params_[i].grad(), scale);
  }
  ++examples_;
  return true;
}

void PerExampleClipper::finish(double sigma, double expected_batch, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto noise = torch::randn(sums_[i].sizes(), gen, torch::kFloat64).to(sums_[i].options());  // CPU draws: same on any device
    params_[i].mutable_grad() = (sums_[i] + noise * (sigma * max_norm_)) / expected_batch;
    sums_[i].zero_();
  }
  examples_ = 0;
}

}  // namespace gf::train
