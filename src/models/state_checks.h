// Checks of a model's learned state as loaded from a file (damaged, hand-edited or written by something else): a
// probability vector that does not sum to one or a covariance with a non-positive diagonal would otherwise score
// silently wrong or end in NaN. Each failure names the tensor; the registry adds the file (a ModelFileError).
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "genforge/core/error.h"

namespace gf::state_checks {

// Every entry >= 0 and each row (the last dimension) summing to 1 within `tolerance`.
inline void simplex(const at::Tensor& t, const std::string& name, double tolerance = 1e-4) {
  GF_CHECK(t.dim() >= 1 && t.size(-1) >= 1, "tensor '", name, "' holds no probabilities (shape ", t.sizes(), ")");
  const double lowest = t.min().item<double>();
  GF_CHECK(lowest >= 0, "tensor '", name, "' holds a negative probability (", lowest, ")");
  const auto sums = t.to(at::kDouble).sum(-1).flatten();
  const auto worst = (sums - 1).abs().argmax();
  GF_CHECK((sums[worst] - 1).abs().item<double>() <= tolerance, "tensor '", name, "' does not sum to 1 (",
           t.dim() == 1 ? "it sums" : "a row sums", " to ", sums[worst].item<double>(), ")");
}

// Every entry > 0 (variances, precisions).
inline void positive(const at::Tensor& t, const std::string& name, const char* what = "") {
  const double lowest = t.min().item<double>();
  GF_CHECK(lowest > 0, "tensor '", name, "'", what, " must be positive, but holds ", lowest);
}

// The diagonal of each trailing [D, D] matrix > 0 (covariances, Cholesky factors of precisions).
inline void positive_diagonal(const at::Tensor& t, const std::string& name) {
  GF_CHECK(t.dim() >= 2 && t.size(-1) == t.size(-2), "tensor '", name, "' is not square matrices (shape ", t.sizes(), ")");
  positive(t.diagonal(0, -2, -1), name, " (its diagonal)");
}

}  // namespace gf::state_checks
