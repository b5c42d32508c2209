// Internal: values that carry a share of a column by themselves (0 in a column of costs), which the synthesizers
// keep as exact states or modes instead of smearing them into bins or mixture components.
#pragma once
#include <cstddef>
#include <vector>

namespace gf::stats {

struct PointMasses {
  std::vector<double> values, shares;  // each value holding at least min_share of the sample, ascending
  std::vector<double> rest;            // the other values, ascending
};

// `sorted` ascending.
inline PointMasses split_point_masses(const std::vector<double>& sorted, double min_share) {
  PointMasses out;
  const auto n = static_cast<double>(sorted.size());
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const double share = static_cast<double>(j - i) / n;
    if (share >= min_share) {
      out.values.push_back(sorted[i]);
      out.shares.push_back(share);
    } else {
      out.rest.insert(out.rest.end(), sorted.begin() + static_cast<long>(i), sorted.begin() + static_cast<long>(j));
    }
    i = j;
  }
  return out;
}

}  // namespace gf::stats
