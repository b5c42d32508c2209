// The PRV accountant (Gopi, Lee & Wutschitz 2021, "Numerical composition of differential privacy"), as Opacus'
// PRVAccountant computes it, so that the two agree: the privacy loss random variable of one Poisson-subsampled
// Gaussian step, truncated to a domain [-L, L] that the RDP accountant shows safe, discretised on a mesh fine enough
// for eps_error, composed over the steps by FFT, and ε read off the composed distribution (the upper bound).
#include <ATen/ATen.h>

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <vector>

#include "genforge/core/error.h"
#include "genforge/privacy/accountant.h"
#include "privacy/prv.h"

namespace gf::privacy {
namespace {

// The PRV of one step of the Poisson-subsampled Gaussian mechanism (Gopi et al., propositions B1 and B4): its CDF.
double prv_cdf(double t, double q, double sigma) {
  if (t <= std::log1p(-q)) return 0.0;
  const double z = std::log((std::exp(t) + q - 1) / q);
  const double r = 2 * std::sqrt(2.0) * sigma;
  return -q * std::erfc((2 * z * sigma * sigma - 1) / r) / 2 - (1 - q) * std::erfc((2 * z * sigma * sigma + 1) / r) / 2 + 1.0;
}

// The mesh: t_min, t_max aligned to multiples of dt, an even number of points.
struct Domain {
  double t_min = 0, t_max = 0, shifts = 0;
  int64_t size = 0;
  double dt() const { return (t_max - t_min) / static_cast<double>(size - 1); }
  // numpy.linspace(t_min, t_max, size)
  std::vector<double> ts() const {
    std::vector<double> t(static_cast<size_t>(size));
    const double step = (t_max - t_min) / static_cast<double>(size - 1);
    for (int64_t i = 0; i < size; ++i) t[static_cast<size_t>(i)] = t_min + static_cast<double>(i) * step;
    t.back() = t_max;
    return t;
  }
  Domain shifted(double by) const { return {t_min + by, t_max + by, shifts + by, size}; }
};

Domain aligned_domain(double t_min, double t_max, double dt) {
  Domain d;
  d.t_min = std::floor(t_min / dt) * dt;
  d.t_max = std::ceil(t_max / dt) * dt;
  d.size = static_cast<int64_t>(std::llround((d.t_max - d.t_min) / dt)) + 1;
  if (d.size % 2 == 1) {
    d.size += 1;
    d.t_max += dt;
  }
  GF_CHECK(std::abs(d.dt() - dt) / dt < 1e-8, "PRV accountant: the mesh could not be aligned");
  return d;
}

}  // namespace

PrvEpsilon prv_epsilon(double noise_multiplier, double sample_rate, int64_t steps, double delta, double eps_error,
                       double delta_error) {
  GF_CHECK(noise_multiplier > 0 && sample_rate > 0 && sample_rate <= 1 && steps >= 0 && delta > 0 && delta < 1,
           "the PRV accountant needs sigma > 0, 0 < q <= 1, steps >= 0 and 0 < delta < 1");
  if (steps == 0) return {};  // nothing released
  if (delta_error <= 0) delta_error = delta / 1000;
  const double q = sample_rate, sigma = noise_multiplier;
  const auto n = static_cast<double>(steps);
  // A safe domain (Gopi et al., remark 5.6), from the RDP accountant.
  const auto& orders = default_orders();
  double l_max = rdp_epsilon(orders, compute_rdp(q, sigma, steps, orders), delta_error / 4).epsilon;
  l_max = std::max(l_max, rdp_epsilon(orders, compute_rdp(q, sigma, 1, orders), delta_error / (8 * n)).epsilon);
  const double half_width = std::max(l_max, eps_error) + 3;
  const double mesh = eps_error / std::sqrt(n * std::log(12 / delta_error) / 2);
  Domain domain = aligned_domain(-half_width, half_width, mesh);
  // The PRV truncated to the domain.
  const double lo = domain.t_min, hi = domain.t_max;
  const double c_lo = prv_cdf(lo, q, sigma), mass = prv_cdf(hi, q, sigma) - c_lo;
  auto cdf = [&](double t) { return t < lo ? 0.0 : t < hi ? (prv_cdf(t, q, sigma) - c_lo) / mass : 1.0; };
  // Its mean, by parts on the pieces Opacus integrates: sum of [t F(t)] - integral of F.
  std::vector<double> points{lo};
  for (int k = -1; k >= -5; --k) points.push_back(-std::pow(10.0, k));
  for (int k = -5; k <= -1; ++k) points.push_back(std::pow(10.0, k));
  points.push_back(hi);
  double mean_continuous = 0;
  // The CDF is 0 up to log(1 - q) and smooth after it: integrating the two sides apart keeps the quadrature exact.
  auto integrate = [&](double a, double b) {
    return boost::math::quadrature::gauss_kronrod<double, 21>::integrate(cdf, a, b, 12, 1e-13);
  };
  const double kink = std::log1p(-q);
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const double a = points[i], b = points[i + 1];
    const double integral = a < kink && kink < b ? integrate(a, kink) + integrate(kink, b) : integrate(a, b);
    mean_continuous += b * cdf(b) - a * cdf(a) - integral;
  }
  // Discretised: the mass of each cell, the domain shifted so the discrete mean equals the continuous one.
  const auto ts = domain.ts();
  const double dt = domain.dt();
  std::vector<double> pmf(ts.size());
  double mean_discrete = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    pmf[i] = cdf(ts[i] + dt / 2) - cdf(ts[i] - dt / 2);
    mean_discrete += ts[i] * pmf[i];
  }
  const double shift = mean_continuous - mean_discrete;
  GF_CHECK(std::abs(shift) < dt / 2, "PRV accountant: the discrete mean differs from the continuous one by ", shift);
  domain = domain.shifted(shift);
  // `steps` self-compositions by FFT; the circular result rolled back into place.
  const auto size = domain.size;
  auto spectrum = at::fft_rfft(at::from_blob(pmf.data(), {size}, at::kDouble).clone());
  auto composed = at::fft_irfft(spectrum.pow(static_cast<double>(steps)), size);
  int64_t roll = steps - 1;
  if (steps % 2 == 0) roll += size / 2;
  composed = at::roll(composed, {roll % size}).contiguous();
  domain = domain.shifted(domain.shifts * static_cast<double>(steps - 1));
  // ε from the composed PRV: delta(eps) = sum over t >= eps of p(t) (1 - e^(eps - t)).
  const auto t = domain.ts();
  const double* p = composed.data_ptr<double>();
  std::vector<double> d1(t.size()), d2(t.size()), ndelta(t.size());
  double s1 = 0, s2 = 0;
  for (size_t i = t.size(); i-- > 0;) {
    s1 += p[i];
    s2 += p[i] * std::exp(-t[i]);
    d1[i] = s1, d2[i] = s2;
  }
  for (size_t i = 0; i < t.size(); ++i) ndelta[i] = std::exp(t[i]) * d2[i] - d1[i];
  auto find_epsilon = [&](double target) {
    const auto it = std::lower_bound(ndelta.begin(), ndelta.end(), -target);
    GF_CHECK(it != ndelta.begin() && it != ndelta.end(), "PRV accountant: cannot compute epsilon for delta ", target);
    const auto i = static_cast<size_t>(it - ndelta.begin());
    return std::log((d1[i] - target) / d2[i]);
  };
  PrvEpsilon out;
  out.upper = find_epsilon(delta - delta_error) + eps_error;
  out.lower = find_epsilon(delta + delta_error) - eps_error;
  out.estimate = find_epsilon(delta);
  out.domain_points = size;
  return out;
}

}  // namespace gf::privacy
