#include "models/flow/grid.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gf::flow {

std::pair<torch::Tensor, torch::Tensor> discrete_grid(const Dataset& data) {
  const int64_t cols = data.x.size(1);
  if (data.x.dim() != 2 || static_cast<int64_t>(data.features.size()) != cols) return {};
  auto x = data.x.to(torch::kCPU, torch::kFloat64).contiguous();
  auto origin = torch::zeros({cols}, torch::kFloat64), step = torch::zeros({cols}, torch::kFloat64);
  bool any = false;
  for (int64_t j = 0; j < cols; ++j) {
    const ColumnType type = data.features[static_cast<size_t>(j)].type;
    if (type != ColumnType::integer && type != ColumnType::categorical) continue;
    std::vector<double> values;
    const auto column = x.select(1, j).contiguous();
    const double* p = column.data_ptr<double>();
    for (int64_t i = 0; i < column.numel(); ++i) {
      if (std::isfinite(p[i])) values.push_back(p[i]);
    }
    if (values.empty()) continue;
    std::sort(values.begin(), values.end());
    const double tolerance = 1e-9 * (values.back() - values.front());
    double gap = INFINITY;
    for (size_t i = 1; i < values.size(); ++i) {
      const double d = values[i] - values[i - 1];
      if (d > tolerance) gap = std::min(gap, d);
    }
    origin[j] = values.front();
    step[j] = std::isfinite(gap) ? gap : 1.0;
    any = true;
  }
  if (!any) return {};
  return {origin, step};
}

}  // namespace gf::flow
