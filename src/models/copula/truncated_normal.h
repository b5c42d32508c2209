// Internal: draws from a multivariate normal N(0, R) conditioned on some coordinates being fixed and others lying
// in intervals (per row), the sampler behind the copula's exact conditioning.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <vector>

#include "stats/truncated_normal.h"

namespace gf::copula {

using stats::truncated_normal;

// Rows [n, D] of N(0, R) given z[:, fixed] = z_fixed [n, F] and a <= z[:, truncated] <= b ([n, T] each): the
// truncated block by Gibbs sweeps (a single exact draw when T = 1), the rest from the conditional Gaussian.
torch::Tensor draw_conditional(const torch::Tensor& correlation, const std::vector<int64_t>& fixed,
                               const torch::Tensor& z_fixed, const std::vector<int64_t>& truncated,
                               const torch::Tensor& a, const torch::Tensor& b, int64_t n, int64_t sweeps,
                               at::Generator& gen);

// The correlation of rows [n, D] (about zero mean), unit diagonal.
torch::Tensor correlation_of(const torch::Tensor& z);

// Hoff's (2007) extended rank likelihood: latent normal scores z [n, D] of cells known only to lie in [a, b]
// (categories, tied values, missing cells as [-inf, inf]; a = b for exact cells) are redrawn from their
// conditionals given the rest of the row, and the correlation re-estimated, `sweeps` times. z is updated in place;
// returns the mean correlation over the second half of the sweeps.
torch::Tensor latent_correlation(torch::Tensor& z, const torch::Tensor& a, const torch::Tensor& b, int64_t sweeps,
                                 at::Generator& gen);

}  // namespace gf::copula
