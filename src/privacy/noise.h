// Internal: noise of the differential-privacy mechanisms the synthesizers use.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace gf::privacy {

// n draws of Laplace(0, scale), by inverting the CDF of uniforms from `gen`. [n]
inline torch::Tensor laplace_noise(int64_t n, double scale, at::Generator& gen) {
  auto u = torch::rand({n}, gen, torch::kFloat64) - 0.5;
  return -scale * torch::sign(u) * torch::log1p(-2 * u.abs());
}

}  // namespace gf::privacy
