#include "genforge/privacy/accountant.h"

#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <limits>

#include "genforge/core/error.h"
#include "privacy/prv.h"

namespace gf::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double log_add(double x, double y) {
  const double a = std::min(x, y), b = std::max(x, y);
  if (a == -kInf) return b;
  return std::log1p(std::exp(a - b)) + b;
}

double log_sub(double x, double y) {
  GF_CHECK(x >= y, "log-space subtraction with a negative result");
  if (y == -kInf) return x;
  if (x == y) return -kInf;
  const double d = std::expm1(x - y);
  return std::isinf(d) ? x : std::log(d) + y;
}

// scipy.special.binom(n, k): the multiplication formula for integer k below 20 (after symmetry for integer n), else
// Γ(n+1) / (Γ(k+1) Γ(n-k+1)) through log-gamma with signs.
double binom(double n, double k) {
  double kx = std::floor(k);
  if (k == kx && (std::fabs(n) > 1e-8 || n == 0)) {
    const double nx = std::floor(n);
    if (nx == n && kx > nx / 2 && nx > 0) kx = nx - kx;
    if (kx >= 0 && kx < 20) {
      double num = 1, den = 1;
      for (int i = 1; i <= static_cast<int>(kx); ++i) {
        num *= i + n - kx;
        den *= i;
        if (std::fabs(num) > 1e50) num /= den, den = 1;
      }
      return num / den;
    }
  }
  int s1 = 1, s2 = 1, s3 = 1;
  const double l = lgamma_r(n + 1, &s1) - lgamma_r(k + 1, &s2) - lgamma_r(n - k + 1, &s3);
  return s1 * s2 * s3 * std::exp(l);
}

// log erfc(x), accurate where erfc underflows (the asymptotic series of scipy's log_ndtr).
double log_erfc(double x) {
  if (x < 25) return std::log(std::erfc(x));
  const double x2 = x * x;
  double term = 1, sum = 1;
  for (int n = 1; n < 12; ++n) term *= -(2.0 * n - 1) / (2 * x2), sum += term;
  return -x2 - std::log(x) - 0.5 * std::log(M_PI) + std::log(sum);
}

double log_a_int(double q, double sigma, int alpha) {
  double log_a = -kInf;
  for (int i = 0; i <= alpha; ++i) {
    const double log_coef = std::log(binom(alpha, i)) + i * std::log(q) + (alpha - i) * std::log(1 - q);
    log_a = log_add(log_a, log_coef + (static_cast<double>(i) * i - i) / (2 * sigma * sigma));
  }
  return log_a;
}

double log_a_frac(double q, double sigma, double alpha) {
  double log_a0 = -kInf, log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  for (int i = 0;; ++i) {
    const double coef = binom(alpha, i);
    const double log_coef = std::log(std::fabs(coef));
    const double j = alpha - i;
    const double log_t0 = log_coef + i * std::log(q) + j * std::log(1 - q);
    const double log_t1 = log_coef + j * std::log(q) + i * std::log(1 - q);
    const double log_e0 = std::log(0.5) + log_erfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + log_erfc((z0 - j) / (std::sqrt(2.0) * sigma));
    const double log_s0 = log_t0 + (static_cast<double>(i) * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    if (coef > 0) {
      log_a0 = log_add(log_a0, log_s0), log_a1 = log_add(log_a1, log_s1);
    } else {
      log_a0 = log_sub(log_a0, log_s0), log_a1 = log_sub(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < -30) break;
  }
  return log_add(log_a0, log_a1);
}

double rdp_once(double q, double sigma, double alpha) {
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1.0) return alpha / (2 * sigma * sigma);
  if (std::isinf(alpha)) return kInf;
  const double log_a = alpha == std::floor(alpha) ? log_a_int(q, sigma, static_cast<int>(alpha))
                                                  : log_a_frac(q, sigma, alpha);
  return log_a / (alpha - 1);
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// ε of μ-GDP at δ: the root of Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2) = δ in [0, 500] (Opacus: brentq).
double gdp_epsilon(double mu, double delta) {
  auto f = [&](double eps) { return normal_cdf(-eps / mu + mu / 2) - std::exp(eps) * normal_cdf(-eps / mu - mu / 2) - delta; };
  boost::math::tools::eps_tolerance<double> tol(52);
  std::uintmax_t iters = 200;
  const auto r = boost::math::tools::toms748_solve(f, 0.0, 500.0, tol, iters);
  return 0.5 * (r.first + r.second);
}

}  // namespace

double analytic_gaussian_sigma(double epsilon, double delta, double sensitivity) {
  GF_CHECK(epsilon > 0 && delta > 0 && delta < 1 && sensitivity > 0, "analytic Gaussian mechanism needs ε > 0, ",
           "0 < δ < 1 and a positive sensitivity; got ε = ", epsilon, ", δ = ", delta, ", Δ = ", sensitivity);
  // δ(σ) = Φ(Δ/2σ - εσ/Δ) - e^ε Φ(-Δ/2σ - εσ/Δ) falls as σ grows (Balle & Wang 2018, Theorem 8).
  auto delta_of = [&](double sigma) {
    const double a = sensitivity / (2 * sigma), b = epsilon * sigma / sensitivity;
    return normal_cdf(a - b) - std::exp(epsilon) * normal_cdf(-a - b);
  };
  double lo = 1e-6 * sensitivity, hi = sensitivity;
  while (delta_of(hi) > delta) hi *= 2;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (delta_of(mid) > delta ? lo : hi) = mid;
  }
  return hi;
}

const std::vector<double>& default_orders() {
  static const std::vector<double> orders = [] {
    std::vector<double> o;
    for (int x = 1; x < 100; ++x) o.push_back(1 + x / 10.0);
    for (int a = 12; a < 64; ++a) o.push_back(a);
    return o;
  }();
  return orders;
}

std::vector<double> compute_rdp(double q, double noise_multiplier, int64_t steps, const std::vector<double>& orders) {
  GF_CHECK(q >= 0 && q <= 1, "sample rate must be in [0, 1], got ", q);
  GF_CHECK(noise_multiplier >= 0, "noise multiplier must be >= 0, got ", noise_multiplier);
  std::vector<double> out;
  for (double a : orders) out.push_back(rdp_once(q, noise_multiplier, a) * static_cast<double>(steps));
  return out;
}

Spent rdp_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp, double delta) {
  GF_CHECK(orders.size() == rdp.size() && !orders.empty(), "orders and RDP values must pair up");
  GF_CHECK(delta > 0 && delta < 1, "delta must be in (0, 1), got ", delta);
  Spent best{kInf, NAN};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    const double eps = rdp[k] - (std::log(delta) + std::log(a)) / (a - 1) + std::log((a - 1) / a);
    if (!std::isnan(eps) && eps < best.epsilon) best = {eps, a};
  }
  return best;
}

Spent epsilon_spent(const std::string& accountant, double noise_multiplier, double sample_rate, int64_t steps,
                    double delta) {
  if (accountant == "rdp") {
    return rdp_epsilon(default_orders(), compute_rdp(sample_rate, noise_multiplier, steps, default_orders()), delta);
  }
  if (accountant == "prv") return {prv_epsilon(noise_multiplier, sample_rate, steps, delta).upper, NAN};
  GF_CHECK_AS(InvalidArgument, accountant == "gdp", "use rdp, prv or gdp", "unknown privacy accountant '", accountant,
              "'");
  const double mu = std::sqrt(std::exp(1 / (noise_multiplier * noise_multiplier)) - 1) *
                    std::sqrt(static_cast<double>(steps)) * sample_rate;
  return {gdp_epsilon(mu, delta), NAN};
}

double noise_multiplier_for(double target_epsilon, double delta, double sample_rate, int64_t steps,
                            const std::string& accountant, double tolerance) {
  GF_CHECK(target_epsilon > 0, "target epsilon must be > 0, got ", target_epsilon);
  double eps_high = kInf, sigma_low = 0, sigma_high = 10;
  while (eps_high > target_epsilon) {
    sigma_high *= 2;
    eps_high = epsilon_spent(accountant, sigma_high, sample_rate, steps, delta).epsilon;
    GF_CHECK_AS(InvalidArgument, sigma_high <= 1e6, "raise epsilon or delta, or train fewer steps",
                "the privacy budget ε = ", target_epsilon, " is too low for ", steps, " steps at sample rate ",
                sample_rate);
  }
  while (target_epsilon - eps_high > tolerance) {
    const double sigma = (sigma_low + sigma_high) / 2;
    const double eps = epsilon_spent(accountant, sigma, sample_rate, steps, delta).epsilon;
    if (eps < target_epsilon) {
      sigma_high = sigma, eps_high = eps;
    } else {
      sigma_low = sigma;
    }
  }
  return sigma_high;
}

}  // namespace gf::privacy
