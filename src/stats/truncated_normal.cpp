#include "stats/truncated_normal.h"

#include <torch/special.h>

#include <cmath>

namespace gf::stats {

torch::Tensor ndtri_of_log(const torch::Tensor& log_p_in) {
  // p = 1 exactly (a uniform of 1 against an unbounded interval) would give +inf: the largest p below 1 instead.
  auto log_p = log_p_in.clamp_max(-1.2e-16);
  // LibTorch's ndtri is accurate to 1e-10 down to p ~ 1e-9 (z ~ -6): it serves there. Below, start from the tail
  // asymptote log p ~ -z^2/2 - log|z| - log(2 pi)/2 and refine by Newton's method on f(z) = log Phi(z) - log p
  // (f' = phi(z) / Phi(z), written with erfcx): f is concave, so the iterates approach the root from below after
  // the first step, to full precision in a few steps. Only those elements are refined.
  auto p = log_p.exp();
  auto z = torch::special::ndtri(p).contiguous();
  auto tail = (p.reshape({-1}) < 1e-9).nonzero().reshape({-1});
  if (tail.numel() == 0) return z;
  auto flat = z.view({-1});  // refined values are written back into z through it
  auto lp = log_p.reshape({-1}).index_select(0, tail);
  auto t2 = -2 * lp;  // z^2 + 2 log|z| + log 2 pi in the tail
  auto zt = -(t2 - torch::log(t2) - std::log(2 * M_PI)).clamp_min(1e-12).sqrt();
  for (int i = 0; i < 8; ++i) {
    auto slope = std::sqrt(2.0 / M_PI) / torch::special::erfcx(-zt * M_SQRT1_2);
    zt = zt - (torch::special::log_ndtr(zt) - lp) / slope;
  }
  flat.index_copy_(0, tail, zt);
  return z;
}

torch::Tensor truncated_normal(const torch::Tensor& mean, const torch::Tensor& sd, const torch::Tensor& a,
                               const torch::Tensor& b, at::Generator& gen) {
  auto alpha = (a - mean) / sd, beta = (b - mean) / sd;
  // Draw in whichever tail keeps both standardized bounds small: flip when the interval lies above the mean.
  auto flip = alpha > 0;
  auto lo = torch::where(flip, -beta, alpha), hi = torch::where(flip, -alpha, beta);
  // Uniforms from the generator's device (the same draws whatever device the tensors live on); 1 - u is in (0, 1].
  auto u = 1 - (gen.device() == mean.device()
                    ? at::rand(mean.sizes(), gen, mean.options())
                    : at::rand(mean.sizes(), gen, mean.options().device(gen.device())).to(mean.device()));
  // The inverse CDF at Phi(lo) + u (Phi(hi) - Phi(lo)), in logs: log Phi(hi) + log(u + (1 - u) Phi(lo) / Phi(hi)),
  // so that bounds far out in the tail (where Phi underflows) still give exact draws.
  auto log_hi = torch::special::log_ndtr(hi);
  auto ratio = torch::exp(torch::special::log_ndtr(lo) - log_hi);
  auto z = ndtri_of_log(log_hi + torch::log(u + (1 - u) * ratio));
  z = torch::maximum(torch::minimum(z, hi), lo);
  return mean + sd * torch::where(flip, -z, z);
}

}  // namespace gf::stats
