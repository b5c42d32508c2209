#include "stats/marginal.h"

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <limits>

#include "genforge/core/error.h"

namespace gf::stats {
namespace {

constexpr double kTiny = 1e-12;
constexpr double kLogFloor = -700;  // log densities outside the support: finite, far below anything real

struct Moments {
  double mean = 0, sd = 0;
};
Moments moments_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(sq / static_cast<double>(v.size() - 1)) : 0.0};
}

double clamp_u(double u) { return std::clamp(u, kTiny, 1 - kTiny); }

}  // namespace

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }
double normal_quantile(double u) { return boost::math::quantile(boost::math::normal(), clamp_u(u)); }

const std::vector<std::string>& Marginal::kinds() {
  static const std::vector<std::string> k = {"empirical", "normal", "truncnorm", "beta", "gamma", "uniform", "kde"};
  return k;
}

Marginal Marginal::fit(const std::string& kind, std::vector<double> values, double parametric_ks) {
  GF_CHECK(!values.empty(), "a marginal needs at least one value");
  std::sort(values.begin(), values.end());
  const double lo = values.front(), hi = values.back();
  const auto n = static_cast<double>(values.size());
  if (kind == "auto") {
    Marginal best;
    double best_ks = std::numeric_limits<double>::infinity();
    if (hi > lo) {
      // Candidates are judged on at most 20000 of the sorted values (every k-th), which keeps the KS distance
      // within about 1/20000 of the full sample's.
      std::vector<double> judged;
      const size_t step = std::max<size_t>(1, values.size() / 20000);
      for (size_t i = 0; i < values.size(); i += step) judged.push_back(values[i]);
      for (const char* k : {"normal", "truncnorm", "beta", "gamma", "uniform"}) {
        Marginal m = fit(k, values);
        const double ks = m.ks_distance(judged);
        if (ks < best_ks) best_ks = ks, best = std::move(m);
      }
    }
    return best_ks <= parametric_ks ? best : fit("empirical", std::move(values));
  }
  Marginal m;
  m.kind_ = kind;
  m.lo_ = lo;
  m.hi_ = hi;
  const Moments mo = moments_of(values);
  const double sd = mo.sd > 0 ? mo.sd : 1e-9 * std::max(1.0, std::fabs(mo.mean));
  const double range = hi > lo ? hi - lo : 1e-9 * std::max(1.0, std::fabs(lo));
  if (kind == "empirical") {
    size_t i = 0;
    double cum = 0;
    while (i < values.size()) {
      size_t j = i;
      while (j < values.size() && values[j] == values[i]) ++j;
      const double count = static_cast<double>(j - i);
      if (count > 1) {  // a repeated value keeps its point mass: a vertical step of the CDF
        m.knot_x_.push_back(values[i]), m.knot_u_.push_back(cum / n);
        m.knot_x_.push_back(values[i]), m.knot_u_.push_back((cum + count) / n);
      } else {
        m.knot_x_.push_back(values[i]), m.knot_u_.push_back((cum + 0.5) / n);
      }
      cum += count;
      i = j;
    }
    // Many distinct values: keep a knot per 1/1000 of probability (and every point mass), so the model file
    // does not hold the training values and stays small; the CDF moves by at most 0.001.
    if (m.knot_x_.size() > 2000) {
      std::vector<double> kx, ku;
      for (size_t k = 0; k < m.knot_x_.size(); ++k) {
        const bool step = (k > 0 && m.knot_x_[k - 1] == m.knot_x_[k]) ||
                          (k + 1 < m.knot_x_.size() && m.knot_x_[k + 1] == m.knot_x_[k]);
        if (k == 0 || k + 1 == m.knot_x_.size() || step || m.knot_u_[k] - ku.back() >= 1e-3) {
          kx.push_back(m.knot_x_[k]), ku.push_back(m.knot_u_[k]);
        }
      }
      m.knot_x_ = std::move(kx), m.knot_u_ = std::move(ku);
    }
  } else if (kind == "normal" || kind == "truncnorm") {
    m.params_ = {mo.mean, sd};
  } else if (kind == "beta") {
    double mean = (mo.mean - lo) / range, var = (sd / range) * (sd / range);
    mean = std::clamp(mean, 1e-6, 1 - 1e-6);
    const double common = var > 0 && var < mean * (1 - mean) ? mean * (1 - mean) / var - 1 : 2.0;
    m.params_ = {std::clamp(mean * common, 1e-3, 1e6), std::clamp((1 - mean) * common, 1e-3, 1e6)};
  } else if (kind == "gamma") {
    const double loc = lo - 0.01 * range;
    const double mean = mo.mean - loc;
    m.params_ = {std::clamp(mean * mean / (sd * sd), 1e-3, 1e8), sd * sd / mean, loc};
  } else if (kind == "uniform") {
    m.params_ = {};
  } else if (kind == "kde") {
    // Scott's rule (scipy.stats.gaussian_kde): h = sd n^(-1/5). At most 2000 evenly spaced order statistics
    // carry the kernels; the CDF is tabulated on 1024 points.
    std::vector<double> centres;
    const size_t step = std::max<size_t>(1, values.size() / 2000);
    for (size_t i = 0; i < values.size(); i += step) centres.push_back(values[i]);
    const double h = sd * std::pow(n, -0.2);
    const double a = lo - 4 * h, b = hi + 4 * h;
    const int grid = 1024;
    for (int g = 0; g < grid; ++g) {
      const double x = a + (b - a) * g / (grid - 1);
      double u = 0;
      for (double c : centres) u += normal_cdf((x - c) / h);
      m.knot_x_.push_back(x);
      m.knot_u_.push_back(u / static_cast<double>(centres.size()));
    }
    m.knot_u_.front() = 0, m.knot_u_.back() = 1;
  } else {
    throw InvalidArgument(msg("unknown marginal distribution '", kind, "'"),
                          "use auto, empirical, normal, truncnorm, beta, gamma, uniform or kde");
  }
  return m;
}

Marginal Marginal::histogram(double lo, double hi, std::vector<double> masses) {
  GF_CHECK(!masses.empty() && hi >= lo, "a histogram marginal needs bins and lo <= hi");
  Marginal m;
  m.kind_ = "histogram";
  m.lo_ = lo, m.hi_ = hi;
  double total = 0;
  for (double& w : masses) total += (w = std::max(w, 0.0));
  if (total <= 0) std::fill(masses.begin(), masses.end(), 1.0), total = static_cast<double>(masses.size());
  const auto bins = static_cast<double>(masses.size());
  double cum = 0;
  m.knot_x_.push_back(lo), m.knot_u_.push_back(0);
  for (size_t b = 0; b < masses.size(); ++b) {
    cum += masses[b] / total;
    m.knot_x_.push_back(lo + (hi - lo) * static_cast<double>(b + 1) / bins);
    m.knot_u_.push_back(std::min(cum, 1.0));
  }
  m.knot_u_.back() = 1;
  return m;
}

double Marginal::cdf(double x) const {
  if (!knot_x_.empty()) {
    if (x < knot_x_.front()) return 0;
    if (x > knot_x_.back()) return 1;
    const auto lower = std::lower_bound(knot_x_.begin(), knot_x_.end(), x) - knot_x_.begin();
    const auto upper = std::upper_bound(knot_x_.begin(), knot_x_.end(), x) - knot_x_.begin();
    if (upper > lower) return 0.5 * (knot_u_[lower] + knot_u_[upper - 1]);  // on a knot (or a step: its middle)
    const double t = (x - knot_x_[lower - 1]) / (knot_x_[lower] - knot_x_[lower - 1]);
    return knot_u_[lower - 1] + t * (knot_u_[lower] - knot_u_[lower - 1]);
  }
  if (kind_ == "normal") return normal_cdf((x - params_[0]) / params_[1]);
  if (kind_ == "uniform") return hi_ > lo_ ? std::clamp((x - lo_) / (hi_ - lo_), 0.0, 1.0) : (x >= lo_ ? 1.0 : 0.0);
  if (kind_ == "truncnorm") {
    const double a = normal_cdf((lo_ - params_[0]) / params_[1]), b = normal_cdf((hi_ - params_[0]) / params_[1]);
    if (b - a < kTiny) return x >= params_[0] ? 1.0 : 0.0;
    return std::clamp((normal_cdf((x - params_[0]) / params_[1]) - a) / (b - a), 0.0, 1.0);
  }
  if (kind_ == "beta") {
    const double y = hi_ > lo_ ? (x - lo_) / (hi_ - lo_) : 0.5;
    if (y <= 0) return 0;
    if (y >= 1) return 1;
    return boost::math::cdf(boost::math::beta_distribution<>(params_[0], params_[1]), y);
  }
  if (kind_ == "gamma") {
    const double y = x - params_[2];
    return y <= 0 ? 0.0 : boost::math::cdf(boost::math::gamma_distribution<>(params_[0], params_[1]), y);
  }
  throw InvalidArgument(msg("marginal of unknown kind '", kind_, "'"));
}

double Marginal::mass(double x) const {
  if (knot_x_.empty() || kind_ != "empirical") return 0;
  const auto lower = std::lower_bound(knot_x_.begin(), knot_x_.end(), x) - knot_x_.begin();
  const auto upper = std::upper_bound(knot_x_.begin(), knot_x_.end(), x) - knot_x_.begin();
  return upper - lower > 1 ? knot_u_[upper - 1] - knot_u_[lower] : 0.0;
}

double Marginal::quantile(double u) const {
  u = clamp_u(u);
  if (!knot_x_.empty()) {
    const auto i = std::lower_bound(knot_u_.begin(), knot_u_.end(), u) - knot_u_.begin();
    if (i == 0) return knot_x_.front();
    if (i == static_cast<long>(knot_u_.size())) return knot_x_.back();
    const double du = knot_u_[i] - knot_u_[i - 1];
    if (du <= 0) return knot_x_[i];
    return knot_x_[i - 1] + (u - knot_u_[i - 1]) / du * (knot_x_[i] - knot_x_[i - 1]);
  }
  if (kind_ == "normal") return params_[0] + params_[1] * normal_quantile(u);
  if (kind_ == "uniform") return lo_ + u * (hi_ - lo_);
  if (kind_ == "truncnorm") {
    const double a = normal_cdf((lo_ - params_[0]) / params_[1]), b = normal_cdf((hi_ - params_[0]) / params_[1]);
    if (b - a < kTiny) return std::clamp(params_[0], lo_, hi_);
    return std::clamp(params_[0] + params_[1] * normal_quantile(a + u * (b - a)), lo_, hi_);
  }
  if (kind_ == "beta") {
    return lo_ + (hi_ - lo_) * boost::math::quantile(boost::math::beta_distribution<>(params_[0], params_[1]), u);
  }
  if (kind_ == "gamma") {
    return params_[2] + boost::math::quantile(boost::math::gamma_distribution<>(params_[0], params_[1]), u);
  }
  throw InvalidArgument(msg("marginal of unknown kind '", kind_, "'"));
}

double Marginal::log_density(double x) const {
  if (!knot_x_.empty()) {
    const double m = mass(x);
    if (m > 0) return std::log(m);
    if (x < knot_x_.front() || x > knot_x_.back()) return kLogFloor;
    auto i = std::upper_bound(knot_x_.begin(), knot_x_.end(), x) - knot_x_.begin();
    if (i == static_cast<long>(knot_x_.size())) --i;
    if (i == 0) ++i;
    const double dx = knot_x_[i] - knot_x_[i - 1], du = knot_u_[i] - knot_u_[i - 1];
    return dx > 0 && du > 0 ? std::log(du / dx) : kLogFloor;
  }
  double p = 0;
  if (kind_ == "normal" || kind_ == "truncnorm") {
    const double z = (x - params_[0]) / params_[1];
    double log_p = -0.5 * z * z - std::log(params_[1] * std::sqrt(2 * M_PI));
    if (kind_ == "truncnorm") {
      if (x < lo_ || x > hi_) return kLogFloor;
      const double a = normal_cdf((lo_ - params_[0]) / params_[1]), b = normal_cdf((hi_ - params_[0]) / params_[1]);
      log_p -= std::log(std::max(b - a, kTiny));
    }
    return std::max(log_p, kLogFloor);
  }
  if (kind_ == "uniform") return x < lo_ || x > hi_ || hi_ <= lo_ ? kLogFloor : -std::log(hi_ - lo_);
  if (kind_ == "beta") {
    if (hi_ <= lo_) return kLogFloor;
    const double y = std::clamp((x - lo_) / (hi_ - lo_), 1e-9, 1 - 1e-9);
    p = boost::math::pdf(boost::math::beta_distribution<>(params_[0], params_[1]), y) / (hi_ - lo_);
  } else if (kind_ == "gamma") {
    const double y = x - params_[2];
    if (y <= 0) return kLogFloor;
    p = boost::math::pdf(boost::math::gamma_distribution<>(params_[0], params_[1]), y);
  }
  return p > 0 ? std::max(std::log(p), kLogFloor) : kLogFloor;
}

double Marginal::ks_distance(const std::vector<double>& sorted) const {
  const auto n = static_cast<double>(sorted.size());
  double d = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const double f = cdf(sorted[i]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return d;
}

nlohmann::json Marginal::to_json() const {
  nlohmann::json j = {{"kind", kind_}, {"lo", lo_}, {"hi", hi_}};
  if (!params_.empty()) j["params"] = params_;
  if (!knot_x_.empty()) j["knot_x"] = knot_x_, j["knot_u"] = knot_u_;
  return j;
}

Marginal Marginal::from_json(const nlohmann::json& j) {
  Marginal m;
  m.kind_ = j.at("kind").get<std::string>();
  m.lo_ = j.at("lo").get<double>();
  m.hi_ = j.at("hi").get<double>();
  m.params_ = j.value("params", std::vector<double>{});
  m.knot_x_ = j.value("knot_x", std::vector<double>{});
  m.knot_u_ = j.value("knot_u", std::vector<double>{});
  return m;
}

}  // namespace gf::stats
