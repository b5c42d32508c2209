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

// What a DP-SGD fit of a model on this transformer reads off the data without noise (its privacy report's
// "public"): DP-SGD covers the network's training, not the transformer fitted before it.
inline constexpr const char* kModeTransformerPublicFacts =
    "the mode-specific normalisation (each numeric column's modes and range, fitted on the data without noise), "
    "the categories (labels seen in at least rare_labels rows) and the number of rows";

class ModeTransformer {
 public:
  // Learns the codes of x [N, D] (NaN = missing); features as the pipeline describes them (empty: all numeric).
  void fit(const torch::Tensor& x, const std::vector<TableFeature>& features, const std::vector<std::string>& names,
           int64_t max_modes, int64_t seed);
  int64_t width() const { return width_; }
  const std::vector<ColumnCode>& columns() const { return columns_; }
  // [N, D] -> [N, width] float32; a value's mode is drawn from its posterior over the kept modes. A missing cell of
  // a column that had none in training (imputation) leaves its spans at zero.
  torch::Tensor transform(const torch::Tensor& x, at::Generator& gen) const;
  // log p(observed cells of x | decoder output) per row, missing cells (NaN) left out: a number by its density
  // under the decoder's mixture over the modes, sum_m pi_m N(alpha_m; tanh(r), sigma) / (4 sd_m) (and the
  // probability of being present where the column had missing cells); a category by its probability.
  // raw [M, width], x [M, D] -> [M] float64
  torch::Tensor observed_log_likelihood(const torch::Tensor& raw, const torch::Tensor& x, const torch::Tensor& sigma) const;
  // Conditional means from raw [K, B, width] weighted by w [K, B] (each column of w sums to 1): numbers by
  // sum_k w_k E[v | raw_k], categories by the most likely under sum_k w_k p(c | raw_k); never "missing". [B, D]
  torch::Tensor weighted_mean(const torch::Tensor& raw, const torch::Tensor& w) const;
  // Sets the logits of every "missing" outcome of raw [.., width] to -inf (imputed cells are present).
  void forbid_missing(torch::Tensor& raw) const;
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
