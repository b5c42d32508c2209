// Internal: one-dimensional distributions for the marginals of copula synthesizers: fitted to a column's values,
// with CDF, quantile and log density, chosen per column by the Kolmogorov-Smirnov distance, and saved as JSON.
//   empirical  the data's own CDF, linear between values; a value repeated in the data keeps its point mass
//   histogram  equal-width bins, uniform inside (the differentially private marginal: noisy counts)
//   normal, truncnorm (bounded at the data's range), beta and uniform (on the data's range), gamma (from the
//   data's minimum), kde (Gaussian kernels, Scott's bandwidth, tabulated)
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace gf::stats {

class Marginal {
 public:
  static const std::vector<std::string>& kinds();  // every name fit_marginal takes, "auto" not included
  // Fits `kind` to the values (at least one). "auto": the parametric family with the smallest KS distance to the
  // data when that distance is at most `parametric_ks`, else empirical.
  static Marginal fit(const std::string& kind, std::vector<double> values, double parametric_ks = 0.03);
  // A histogram marginal from (possibly noisy, non-negative) bin masses over [lo, hi].
  static Marginal histogram(double lo, double hi, std::vector<double> masses);

  const std::string& kind() const { return kind_; }
  double lo() const { return lo_; }  // the data's range
  double hi() const { return hi_; }
  double cdf(double x) const;
  // The CDF's jump at x (a point mass of the empirical marginal; 0 elsewhere): P(X = x).
  double mass(double x) const;
  double quantile(double u) const;  // u in (0, 1)
  double log_density(double x) const;  // point masses give log P(X = x)
  // The Kolmogorov-Smirnov distance between this CDF and the sorted sample's.
  double ks_distance(const std::vector<double>& sorted) const;

  nlohmann::json to_json() const;
  static Marginal from_json(const nlohmann::json& j);

 private:
  std::string kind_;
  double lo_ = 0, hi_ = 0;
  std::vector<double> params_;   // parametric kinds: mean, sd | mean, sd | alpha, beta | shape, scale, loc
  std::vector<double> knot_x_, knot_u_;  // empirical, histogram, kde: the piecewise-linear CDF (x increasing)
};

// Φ and Φ⁻¹ of the standard normal (Φ⁻¹ clamps u into [1e-12, 1 - 1e-12]).
double normal_cdf(double z);
double normal_quantile(double u);

}  // namespace gf::stats
