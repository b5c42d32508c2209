// Internal: the copula's per-column marginals, shared by its fitting and row-wise code.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "genforge/models/copula.h"
#include "stats/marginal.h"

namespace gf {

using stats::Marginal;

struct GaussianCopula::Impl {
  struct ColumnModel {
    std::string name;
    bool categorical = false;
    Marginal marginal;                // numeric
    std::vector<double> start, width;  // categorical: code k covers [start[k], start[k] + width[k]) of [0, 1]
  };
  std::vector<ColumnModel> columns;

  // The part of [0, 1] a cell covers: a category's interval, a point mass's jump of the CDF, or one point.
  std::pair<double, double> u_interval(size_t j, double x) const {
    const auto& c = columns[j];
    if (c.categorical) {
      const auto k = static_cast<size_t>(std::clamp<double>(std::round(x), 0, static_cast<double>(c.start.size() - 1)));
      return {c.start[k], c.start[k] + c.width[k]};
    }
    const double u = c.marginal.cdf(x), m = c.marginal.mass(x);
    return {u - m / 2, u + m / 2};
  }
  double value_at(size_t j, double u, bool clip) const {
    const auto& c = columns[j];
    if (c.categorical) {
      for (size_t k = 0; k < c.start.size(); ++k) {
        if (c.width[k] > 0 && u >= c.start[k] && u < c.start[k] + c.width[k]) return static_cast<double>(k);
      }
      size_t best = 0;  // u at 1 (or in a rounding gap): the category whose interval ends last
      for (size_t k = 1; k < c.start.size(); ++k) best = c.start[k] + c.width[k] > c.start[best] + c.width[best] ? k : best;
      return static_cast<double>(best);
    }
    const double v = c.marginal.quantile(u);
    return clip ? std::clamp(v, c.marginal.lo(), c.marginal.hi()) : v;
  }
};

}  // namespace gf
