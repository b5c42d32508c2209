#include "nn/missing.h"

#include <torch/types.h>

#include <algorithm>
#include <vector>

#include "genforge/core/error.h"

namespace gf::neural {

torch::Tensor fill_missing_rows(const torch::Tensor& x, int64_t draws, int64_t chunk,
                                const std::function<torch::Tensor(const torch::Tensor&)>& fill) {
  return fill_missing_rows(x, draws, chunk, [&](const torch::Tensor& part, const torch::Tensor&) { return fill(part); });
}

torch::Tensor fill_missing_rows(const torch::Tensor& x, int64_t draws, int64_t chunk,
                                const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& fill) {
  GF_CHECK(draws >= 1, "the number of draws must be at least 1, got ", draws);
  GF_CHECK(x.dim() >= 1 && x.size(0) >= 0, "rows must be [N, ...], got ", x.sizes());
  std::vector<int64_t> shape{draws};
  for (auto v : x.sizes()) shape.push_back(v);
  auto out = x.unsqueeze(0).expand(shape).clone();  // [draws, N, ...]
  auto rows = torch::isnan(x.reshape({x.size(0), -1})).any(1).nonzero().squeeze(1);
  chunk = std::max<int64_t>(1, chunk);
  for (int64_t s = 0; s < rows.size(0); s += chunk) {
    auto index = rows.slice(0, s, std::min(rows.size(0), s + chunk));
    auto part = x.index_select(0, index);  // [B, ...]
    shape[1] = part.size(0);
    auto filled = fill(part, index).to(x.device(), x.scalar_type()).reshape(shape);  // [draws, B, ...]
    out.index_copy_(1, index, torch::where(torch::isnan(part).unsqueeze(0), filled, part.unsqueeze(0)));
  }
  return out;
}

}  // namespace gf::neural
