// Internal: draws from a normal distribution truncated to an interval, shared by the copula's exact conditioning
// and the rectified-Gaussian hidden units of the Boltzmann machines.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace gf::stats {

// Phi^-1(exp(log_p)), accurate far into the lower tail (log_p down to about -1e300; LibTorch 1.13's ndtri loses
// digits below p ~ 1e-15 and gives -inf below ~1e-17). Elementwise, float64 advised.
torch::Tensor ndtri_of_log(const torch::Tensor& log_p);

// z ~ N(mean, sd²) truncated to [a, b], elementwise (inverse-CDF draws taken in the lower tail, in logs, so
// intervals far out in a tail are exact; ±inf bounds allowed). All [n] (or any one shape); sd may be a scalar tensor.
torch::Tensor truncated_normal(const torch::Tensor& mean, const torch::Tensor& sd, const torch::Tensor& a,
                               const torch::Tensor& b, at::Generator& gen);

}  // namespace gf::stats
