// Internal: CTGAN's and TVAE's data transformer (Xu et al. 2019), "mode-specific normalisation": a numeric column
// becomes a scalar in [-1, 1] and a one-hot of the mode it came from, the modes found by a variational Gaussian
// mixture (genforge's bgmm; components with weight below 0.005 dropped); a categorical column becomes a one-hot.
// Missing cells get a one-hot "missing" span of their own.
#pragma once
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <string>
#include <vector>

#include "genforge/data/dataset.h"

namespace gf::tvae {

struct Span {
  int64_t start = 0, width = 1;
  bool scalar = false;  // the tanh scalar of a numeric column; else a softmax one-hot
};

struct ColumnCode {
  std::string name;
  bool categorical = false;
  int64_t n_categories = 0;                // categorical
  std::vector<double> weights, means, stds;  // numeric: the kept modes
  double lo = 0, hi = 0;                   // numeric: the training range (samples are clipped to it)
  bool has_missing = false;
  std::vector<Span> spans;                 // numeric: scalar, modes[, missing]; categorical: categories(+ missing)
};

class ModeTransformer {
 public:
  // Learns the codes of x [N, D] (NaN = missing); features as the pipeline describes them (empty: all numeric).
  void fit(const torch::Tensor& x, const std::vector<TableFeature>& features, const std::vector<std::string>& names,
           int64_t max_modes, int64_t seed);
  int64_t width() const { return width_; }
  const std::vector<ColumnCode>& columns() const { return columns_; }
  // [N, D] -> [N, width] float32; a value's mode is drawn from its posterior over the kept modes.
  torch::Tensor transform(const torch::Tensor& x, at::Generator& gen) const;
  // Network outputs [N, width] (raw: scalars before tanh, one-hots as logits) back to [N, D]: scalars through
  // tanh plus N(0, sigma) noise (sigma [width], may be undefined), one-hots by argmax.
  // With `draw_one_hots`, Gumbel noise is added to every one-hot's logits first, so that the argmax is a draw from
  // their softmax instead of always the most likely outcome (which erases rare categories and missing cells).
  torch::Tensor inverse(const torch::Tensor& raw, const torch::Tensor& sigma, at::Generator& gen,
                        bool draw_one_hots = false) const;

  nlohmann::json to_json() const;
  static ModeTransformer from_json(const nlohmann::json& j);

 private:
  std::vector<ColumnCode> columns_;
  int64_t width_ = 0;
};

}  // namespace gf::tvae
