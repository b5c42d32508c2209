// Missing values: rows are grouped by their pattern of NaN cells; each group is handled by conditioning every
// component on the group's observed coordinates (marginal likelihood for the E-step, conditional moments for
// the M-step's expected sufficient statistics and for imputation).
#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "core/constants.h"
#include "genforge/core/error.h"
#include "stats/gaussian_mixture.h"

namespace gf::stats {

MissingLayout analyse_missing(const at::Tensor& x) {
  MissingLayout layout;
  auto nan = x.isnan().to(at::kCPU).contiguous();  // [N, D] bool
  const int64_t n = x.size(0), d = x.size(1);
  auto row_any = nan.any(1);
  layout.any_missing = row_any.any().item<bool>();
  auto long_opts = at::TensorOptions().dtype(at::kLong);
  if (!layout.any_missing) {
    layout.complete_rows = at::arange(n, long_opts.device(x.device()));
    return layout;
  }
  layout.complete_rows = row_any.logical_not().nonzero().squeeze(1).to(x.device());
  const bool* p = nan.data_ptr<bool>();
  std::map<std::string, std::vector<int64_t>> by_pattern;
  for (int64_t i = 0; i < n; ++i) {
    const bool* row = p + i * d;
    bool any = false;
    for (int64_t j = 0; j < d; ++j) any = any || row[j];
    if (!any) continue;
    std::string key(row, row + d);
    by_pattern[key].push_back(i);
  }
  for (auto& kv : by_pattern) {
    MissingLayout::Group g;
    std::vector<int64_t> obs, mis;
    for (int64_t j = 0; j < d; ++j) (kv.first[static_cast<size_t>(j)] ? mis : obs).push_back(j);
    g.rows = at::tensor(kv.second, long_opts).to(x.device());
    g.observed = at::tensor(obs, long_opts).to(x.device());
    g.missing = at::tensor(mis, long_opts).to(x.device());
    layout.groups.push_back(std::move(g));
  }
  return layout;
}

Conditional condition_group(const at::Tensor& x_rows, const MissingLayout::Group& g, const at::Tensor& means,
                            const at::Tensor& cov) {
  const int64_t k = means.size(0), n = x_rows.size(0);
  const int64_t o = g.observed.numel(), m = g.missing.numel();
  auto mu_m = means.index_select(1, g.missing);                            // [K, M]
  auto s_mm = cov.index_select(1, g.missing).index_select(2, g.missing);  // [K, M, M]
  Conditional c;
  if (o == 0) {
    c.log_prob = at::zeros({n, k}, x_rows.options());
    c.mahalanobis = at::zeros({n, k}, x_rows.options());
    c.log_det = at::zeros({k}, x_rows.options());
    c.mean = mu_m.unsqueeze(1).expand({k, n, m}).contiguous();
    c.cov = s_mm;
    return c;
  }
  auto x_o = x_rows.index_select(1, g.observed);                           // [n, O]
  auto mu_o = means.index_select(1, g.observed);                           // [K, O]
  auto s_oo = cov.index_select(1, g.observed).index_select(2, g.observed);  // [K, O, O]
  auto chol = at::linalg_cholesky_ex(s_oo);
  GF_CHECK_AS(NumericalError, std::get<1>(chol).eq(0).all().item<bool>(), "increase reg_covar",
              "a component's covariance restricted to the observed columns is singular");
  auto l = std::get<0>(chol);                                       // [K, O, O]
  auto diff = (x_o.unsqueeze(0) - mu_o.unsqueeze(1)).transpose(1, 2);  // [K, O, n]
  auto z = at::linalg_solve_triangular(l, diff, /*upper=*/false);   // [K, O, n]
  auto maha = z.square().sum(1);                                    // [K, n]
  auto logdet = 2.0 * l.diagonal(0, -2, -1).log().sum(-1);          // [K]
  c.log_prob = (-0.5 * (maha + static_cast<double>(o) * kLog2Pi) - 0.5 * logdet.unsqueeze(1)).t();  // [n, K]
  c.mahalanobis = maha.t();
  c.log_det = logdet;
  if (m == 0) return c;
  auto s_mo = cov.index_select(1, g.missing).index_select(2, g.observed);  // [K, M, O]
  auto alpha = at::linalg_solve_triangular(l.transpose(1, 2), z, /*upper=*/true);  // [K, O, n] = S_oo^-1 diff
  c.mean = (mu_m.unsqueeze(2) + at::bmm(s_mo, alpha)).transpose(1, 2).contiguous();  // [K, n, M]
  auto v = at::linalg_solve_triangular(l, s_mo.transpose(1, 2), /*upper=*/false);    // [K, O, M]
  c.cov = s_mm - at::bmm(v.transpose(1, 2), v);
  return c;
}

namespace {
// `draws` fills for one group's rows: a component by its posterior, then the conditional Gaussian, its covariance
// stretched by `spread` [n, K] and, for Student-t components, the draw by sqrt(dof / chi2(dof)) with dof `t_dof`
// [K] (undefined: Gaussian). [draws, n, M]
at::Tensor draw_conditionally(const Conditional& c, const at::Tensor& post, const at::Tensor& spread,
                              const at::Tensor& t_dof, int64_t draws, at::Generator& gen) {
  const int64_t n = post.size(0), width = c.cov.size(-1);
  auto cpu = at::TensorOptions().dtype(at::kDouble);
  auto chol = at::linalg_cholesky(c.cov.to(at::kCPU, at::kDouble));  // [K, M, M]
  auto mean = c.mean.to(at::kCPU, at::kDouble);                      // [K, n, M]
  auto rows = at::arange(n, cpu.dtype(at::kLong));
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < draws; ++i) {
    auto comp = at::multinomial(post.to(at::kCPU, at::kDouble), 1, true, gen).squeeze(1);
    auto z = at::randn({n, width}, gen, cpu);
    auto mu = mean.index({comp, rows});   // [n, M]
    auto l = chol.index_select(0, comp);  // [n, M, M]
    auto step = at::bmm(l, z.unsqueeze(2)).squeeze(2);
    if (t_dof.defined()) {
      auto dof = t_dof.to(at::kCPU, at::kDouble).index_select(0, comp);  // [n]
      auto chi2 = 2.0 * at::_standard_gamma(0.5 * dof, gen);
      auto stretch = spread.to(at::kCPU, at::kDouble).index({rows, comp}) * dof / chi2;  // [n]
      step = step * stretch.sqrt().unsqueeze(1);
    }
    out.push_back(mu + step);
  }
  return at::stack(out).to(post.device(), post.scalar_type());
}
}  // namespace

at::Tensor fill_from_mixture(const at::Tensor& x, const at::Tensor& weights, const at::Tensor& means,
                             const at::Tensor& full_cov, const at::Tensor& dof, int64_t draws, at::Generator* gen) {
  GF_CHECK(draws == 0 || gen != nullptr, "draws need a generator");
  auto layout = analyse_missing(x);
  auto out = x.unsqueeze(0).repeat({std::max<int64_t>(draws, 1), 1, 1});  // [draws, N, D]
  if (!layout.any_missing) return out;
  for (const auto& g : layout.groups) {
    auto rows = x.index_select(0, g.rows);
    auto c = condition_group(rows, g, means, full_cov);
    auto log_marginal = c.log_prob;  // [n, K]
    at::Tensor spread, t_dof;
    if (dof.defined()) {
      // Student-t: the observed cells' marginal is a t with the same dof; the missing cells' conditional a t with
      // dof + O degrees of freedom and scale (dof + Mahalanobis) / (dof + O) times the Gaussian conditional's.
      const double o = static_cast<double>(g.observed.numel());
      auto nu = dof.unsqueeze(0);  // [1, K]
      log_marginal = at::lgamma(0.5 * (nu + o)) - at::lgamma(0.5 * nu) - 0.5 * o * at::log(nu * M_PI) -
                     0.5 * c.log_det.unsqueeze(0) - 0.5 * (nu + o) * at::log1p(c.mahalanobis / nu);
      spread = (nu + c.mahalanobis) / (nu + o);
      t_dof = dof + o;
    }
    auto post = at::softmax(log_marginal + weights.log().unsqueeze(0), 1);  // [n, K]
    // [draws or 1, n, M]; a t's mean is its location
    auto values = draws == 0 ? (c.mean * post.t().unsqueeze(2)).sum(0).unsqueeze(0)
                             : draw_conditionally(c, post, spread, t_dof, draws, *gen);
    auto block = rows.unsqueeze(0).repeat({values.size(0), 1, 1});  // [draws, n, D]
    block.index_copy_(2, g.missing, values);
    out.index_copy_(1, g.rows, block);
  }
  return out;
}

at::Tensor log_prob_with_missing(const at::Tensor& x, const MissingLayout& layout, const Params& p, CovType type) {
  const int64_t n = x.size(0), k = p.means.size(0), d = p.means.size(1);
  if (!layout.any_missing) return log_gaussian_prob(x, p.means, p.precisions_chol, type);
  auto out = at::empty({n, k}, x.options());
  if (layout.complete_rows.numel() > 0) {
    out.index_copy_(0, layout.complete_rows,
                    log_gaussian_prob(x.index_select(0, layout.complete_rows), p.means, p.precisions_chol, type));
  }
  auto full = full_covariances(p.covariances, type, k, d);
  for (const auto& g : layout.groups) {
    out.index_copy_(0, g.rows, condition_group(x.index_select(0, g.rows), g, p.means, full).log_prob);
  }
  return out;
}

void estimate_parameters_with_missing(const at::Tensor& x, const MissingLayout& layout, const at::Tensor& resp,
                                      const Params& old, double reg, CovType type, Params& out) {
  const double eps = x.scalar_type() == at::kFloat ? 1.1920928955078125e-07 : 2.220446049250313e-16;
  const int64_t k = old.means.size(0), d = old.means.size(1);
  auto old_full = full_covariances(old.covariances, type, k, d);
  auto nk = resp.sum(0) + 10 * eps;  // [K]
  // Expected rows E[x | x_obs, k] per group: [K, n, D]; conditional covariances [K, M, M].
  std::vector<at::Tensor> xhat, ccov;
  for (const auto& g : layout.groups) {
    auto rows = x.index_select(0, g.rows);
    auto c = condition_group(rows, g, old.means, old_full);
    auto filled = rows.unsqueeze(0).expand({k, rows.size(0), d}).clone();
    filled.index_copy_(2, g.missing, c.mean);
    xhat.push_back(filled);
    ccov.push_back(c.cov);
  }
  auto xc = x.index_select(0, layout.complete_rows);     // [Nc, D]
  auto rc = resp.index_select(0, layout.complete_rows);  // [Nc, K]
  auto sum_x = at::mm(rc.t(), xc);                       // [K, D]
  for (size_t i = 0; i < layout.groups.size(); ++i) {
    auto r = resp.index_select(0, layout.groups[i].rows).t().unsqueeze(2);  // [K, n, 1]
    sum_x += (xhat[i] * r).sum(1);
  }
  auto means = sum_x / nk.unsqueeze(1);  // [K, D]
  auto full = at::zeros({k, d, d}, x.options());
  for (int64_t c = 0; c < k; ++c) {
    auto diff = xc - means[c];
    full[c] += at::mm((diff * rc.select(1, c).unsqueeze(1)).t(), diff);
  }
  for (size_t i = 0; i < layout.groups.size(); ++i) {
    const auto& g = layout.groups[i];
    auto r = resp.index_select(0, g.rows).t();           // [K, n]
    auto diff = xhat[i] - means.unsqueeze(1);            // [K, n, D]
    full += at::bmm((diff * r.unsqueeze(2)).transpose(1, 2), diff);
    // The conditional covariance of the missing block adds to the expected outer product.
    auto block = ccov[i] * r.sum(1).view({k, 1, 1});     // [K, M, M]
    auto rows_idx = g.missing.view({-1, 1}).expand({g.missing.numel(), g.missing.numel()});
    auto cols_idx = g.missing.view({1, -1}).expand({g.missing.numel(), g.missing.numel()});
    for (int64_t c = 0; c < k; ++c) full[c].index_put_({rows_idx, cols_idx}, block[c], /*accumulate=*/true);
  }
  full /= nk.view({k, 1, 1});
  out.weights = nk / nk.sum();
  out.means = means;
  out.covariances = covariances_from_full(full, nk, type, reg);
}

}  // namespace gf::stats
