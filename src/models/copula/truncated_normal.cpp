#include "models/copula/truncated_normal.h"

#include <torch/linalg.h>
#include <torch/special.h>

namespace gf::copula {
namespace {

at::Tensor index_of(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }

// Σ + a little on the diagonal, factored (a conditional covariance can be singular to rounding).
at::Tensor cholesky_of(const at::Tensor& cov) {
  const auto k = cov.size(0);
  return torch::linalg::cholesky(cov + torch::eye(k, cov.options()) * 1e-10);
}

}  // namespace

torch::Tensor draw_conditional(const torch::Tensor& r, const std::vector<int64_t>& fixed, const torch::Tensor& z_fixed,
                               const std::vector<int64_t>& truncated, const torch::Tensor& a, const torch::Tensor& b,
                               int64_t n, int64_t sweeps, at::Generator& gen) {
  const int64_t d = r.size(0);
  auto opts = r.options();
  std::vector<uint8_t> is_fixed(static_cast<size_t>(d), 0);
  for (auto j : fixed) is_fixed[static_cast<size_t>(j)] = 1;
  std::vector<int64_t> rest;  // not fixed: the truncated ones first, then the free ones
  std::vector<uint8_t> is_truncated(static_cast<size_t>(d), 0);
  for (auto j : truncated) is_truncated[static_cast<size_t>(j)] = 1, rest.push_back(j);
  for (int64_t j = 0; j < d; ++j) {
    if (!is_fixed[static_cast<size_t>(j)] && !is_truncated[static_cast<size_t>(j)]) rest.push_back(j);
  }
  const auto nt = static_cast<int64_t>(truncated.size()), nr = static_cast<int64_t>(rest.size());
  auto out = torch::empty({n, d}, opts);
  if (!fixed.empty()) out.index_copy_(1, index_of(fixed), z_fixed.to(opts));
  if (nr == 0) return out;
  // Given the fixed block: mean [n, R] and covariance [R, R] of the rest.
  const auto ir = index_of(rest);
  auto cov = r.index_select(0, ir).index_select(1, ir);
  auto mean = torch::zeros({n, nr}, opts);
  if (!fixed.empty()) {
    const auto ifx = index_of(fixed);
    auto r_ff = r.index_select(0, ifx).index_select(1, ifx);
    auto r_rf = r.index_select(0, ir).index_select(1, ifx);
    auto gain = torch::linalg::solve(r_ff, r_rf.t(), true).t();  // [R, F] = R_rf R_ff⁻¹
    mean = z_fixed.to(opts).matmul(gain.t());
    cov = cov - gain.matmul(r_rf.t());
  }
  auto z_rest = torch::empty({n, nr}, opts);
  if (nt > 0) {
    auto m_t = mean.slice(1, 0, nt);
    auto c_tt = cov.slice(0, 0, nt).slice(1, 0, nt);
    auto z_t = torch::empty({n, nt}, opts);
    for (int64_t k = 0; k < nt; ++k) {  // start: each coordinate from its own truncated marginal
      z_t.select(1, k).copy_(truncated_normal(m_t.select(1, k), c_tt[k][k].sqrt().clamp_min(1e-12),
                                              a.select(1, k), b.select(1, k), gen));
    }
    if (nt > 1) {
      auto q = torch::linalg::inv(c_tt + torch::eye(nt, opts) * 1e-10);  // [T, T] precision
      for (int64_t s = 0; s < sweeps; ++s) {
        for (int64_t k = 0; k < nt; ++k) {
          const double qkk = q[k][k].item<double>();
          auto resid = z_t - m_t;  // [n, T]
          auto shift = resid.matmul(q.select(0, k)) - resid.select(1, k) * qkk;  // Σ_{l≠k} Q_kl (z_l - m_l)
          auto cond_mean = m_t.select(1, k) - shift / qkk;
          z_t.select(1, k).copy_(truncated_normal(cond_mean, torch::full({}, 1.0 / std::sqrt(qkk), opts),
                                                  a.select(1, k), b.select(1, k), gen));
        }
      }
    }
    z_rest.slice(1, 0, nt).copy_(z_t);
    if (nr > nt) {
      auto c_ut = cov.slice(0, nt).slice(1, 0, nt);
      auto gain = torch::linalg::solve(c_tt + torch::eye(nt, opts) * 1e-10, c_ut.t(), true).t();  // [U, T]
      auto m_u = mean.slice(1, nt) + (z_t - m_t).matmul(gain.t());
      auto c_uu = cov.slice(0, nt).slice(1, nt) - gain.matmul(c_ut.t());
      z_rest.slice(1, nt).copy_(m_u + torch::randn({n, nr - nt}, gen, opts).matmul(cholesky_of(c_uu).t()));
    }
  } else {
    z_rest.copy_(mean + torch::randn({n, nr}, gen, opts).matmul(cholesky_of(cov).t()));
  }
  out.index_copy_(1, ir, z_rest);
  return out;
}

}  // namespace gf::copula

namespace gf::copula {

torch::Tensor correlation_of(const torch::Tensor& z) {
  auto s = z.t().matmul(z);
  auto d = s.diagonal().clamp_min(1e-300).sqrt();
  auto r = s / d.unsqueeze(0) / d.unsqueeze(1);
  r.fill_diagonal_(1.0);
  return r;
}

torch::Tensor latent_correlation(torch::Tensor& z, const torch::Tensor& a, const torch::Tensor& b, int64_t sweeps,
                                 at::Generator& gen) {
  const int64_t d = z.size(1);
  auto open = b > a;  // [n, D] cells known only up to an interval
  std::vector<int64_t> columns;
  for (int64_t j = 0; j < d; ++j) {
    if (open.select(1, j).any().item<bool>()) columns.push_back(j);
  }
  auto r = correlation_of(z);
  if (columns.empty() || d < 2 || sweeps == 0) return r;
  auto sum = torch::zeros_like(r);
  int64_t kept = 0;
  for (int64_t s = 0; s < sweeps; ++s) {
    auto q = torch::linalg::inv(r + torch::eye(d, r.options()) * 1e-8);  // [D, D]
    for (auto j : columns) {
      const double qjj = q[j][j].item<double>();
      auto cond_mean = -(z.matmul(q.select(0, j)) - z.select(1, j) * qjj) / qjj;
      auto draw = truncated_normal(cond_mean, torch::full({}, 1.0 / std::sqrt(qjj), z.options()), a.select(1, j),
                                   b.select(1, j), gen);
      z.select(1, j).copy_(torch::where(open.select(1, j), draw, z.select(1, j)));
    }
    r = correlation_of(z);
    if (2 * s >= sweeps) sum += r, ++kept;
  }
  return sum / static_cast<double>(kept);
}

}  // namespace gf::copula
