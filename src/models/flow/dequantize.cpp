#include "models/flow/dequantize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/constants.h"
#include "nn/neural.h"

namespace gf::flow {

torch::Tensor standard_normal_log_density(const torch::Tensor& z) {
  return -0.5 * (z.pow(2) + kLog2Pi).flatten(1).sum(1);
}

std::pair<torch::Tensor, torch::Tensor> Dequantizer::sample(const torch::Tensor& y0, at::Generator& gen) {
  auto condition = y0 - 0.5;
  auto eps = neural::randn_from(y0.sizes(), gen, y0.options());
  auto log_q = standard_normal_log_density(eps);
  auto h = base->forward(condition);
  const int64_t c = y0.size(1);
  auto log_scale = soft_clamp(h.slice(1, c), 3.0);
  FlowState s{h.slice(1, 0, c) + eps * log_scale.exp(), log_scale.flatten(1).sum(1), {}, condition};
  for (auto& layer : couplings) layer->forward(s);
  // log q(u) = log N(eps) - log|dv/deps| - log|du/dv|, du/dv = u (1 - u).
  auto log_sigmoid_deriv = torch::log_sigmoid(s.x) + torch::log_sigmoid(-s.x);
  return {torch::sigmoid(s.x), log_q - s.logdet - log_sigmoid_deriv.flatten(1).sum(1)};
}

std::pair<torch::Tensor, torch::Tensor> discrete_grid(const Dataset& data) {
  if (!data.x.defined() || data.x.dim() != 2 || static_cast<int64_t>(data.features.size()) != data.x.size(1)) return {};
  const int64_t cols = data.x.size(1);
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
