// Internal: E[missing | observed] estimated from conditional draws, for models that sample conditionally but have
// no closed-form conditional mean (copula, Bayesian network).
#pragma once
#include <torch/types.h>

#include <functional>
#include <vector>

namespace gf::stats {

// x [N, D] with NaN cells; `draw` fills the NaN cells of its argument (rows repeated `draws` times). Numeric cells
// get the mean of the draws, categorical ones (categorical[j]) the most frequent draw. Observed cells unchanged.
inline torch::Tensor mean_of_draws(const torch::Tensor& x, const std::vector<bool>& categorical, int64_t draws,
                                   const std::function<torch::Tensor(const torch::Tensor&)>& draw) {
  const int64_t n = x.size(0), d = x.size(1);
  auto s = draw(x.repeat({draws, 1})).reshape({draws, n, d});
  auto out = s.mean(0);
  for (int64_t j = 0; j < d; ++j) {
    if (categorical[static_cast<size_t>(j)]) out.select(1, j).copy_(std::get<0>(torch::mode(s.select(2, j), 0)));
  }
  return torch::where(torch::isnan(x), out, x);
}

}  // namespace gf::stats
