// EM kernels for Gaussian mixtures on complete rows, following scikit-learn's conventions (precision Cholesky
// factors, 10*eps added to component masses) so results match it to rounding.
#include <cmath>

#include "core/constants.h"
#include "genforge/core/error.h"
#include "stats/gaussian_mixture.h"

namespace gf::stats {

CovType parse_cov_type(const std::string& name) {
  if (name == "full") return CovType::full;
  if (name == "tied") return CovType::tied;
  if (name == "diag") return CovType::diag;
  if (name == "spherical") return CovType::spherical;
  throw InvalidArgument(msg("covariance_type must be full, tied, diag or spherical, got '", name, "'"),
                        "choose one of: full | tied | diag | spherical");
}

at::Tensor log_det_cholesky(const at::Tensor& pc, CovType type, int64_t k, int64_t d) {
  switch (type) {
    case CovType::full: return pc.diagonal(0, -2, -1).log().sum(-1);
    case CovType::tied: return pc.diagonal().log().sum().expand({k});
    case CovType::diag: return pc.log().sum(1);
    case CovType::spherical: return static_cast<double>(d) * pc.log();
  }
  return {};
}

at::Tensor log_gaussian_prob(const at::Tensor& x, const at::Tensor& means, const at::Tensor& pc, CovType type) {
  const int64_t d = x.size(1), k = means.size(0);
  return mahalanobis_sq(x, means, pc, type)
      .add_(static_cast<double>(d) * kLog2Pi)
      .mul_(-0.5)
      .add_(log_det_cholesky(pc, type, k, d).unsqueeze(0));
}

at::Tensor full_covariances(const at::Tensor& cov, CovType type, int64_t k, int64_t d) {
  switch (type) {
    case CovType::full: return cov;
    case CovType::tied: return cov.unsqueeze(0).expand({k, d, d}).contiguous();
    case CovType::diag: return at::diag_embed(cov);
    case CovType::spherical:
      return at::eye(d, cov.options()).unsqueeze(0) * cov.view({k, 1, 1});
  }
  return cov;
}

at::Tensor covariances_from_full(const at::Tensor& full, const at::Tensor& nk, CovType type, double reg) {
  const int64_t d = full.size(-1);
  switch (type) {
    case CovType::full:
      return full + reg * at::eye(d, full.options());
    case CovType::tied:
      return (full * nk.view({-1, 1, 1})).sum(0) / nk.sum() + reg * at::eye(d, full.options());
    case CovType::diag:
      return full.diagonal(0, -2, -1) + reg;
    case CovType::spherical:
      return full.diagonal(0, -2, -1).mean(1) + reg;
  }
  return full;
}

namespace {
[[noreturn]] void singular(int64_t component, int64_t k, const at::Tensor& nk, double reg) {
  std::string mass = nk.defined() ? msg(" (it holds ", nk[component].item<double>(), " effective samples)") : "";
  throw NumericalError(
      msg("component ", component, " of ", k, " has a singular covariance matrix", mass,
          ": some rows are duplicates or a column is (nearly) constant within that component"),
      msg("increase reg_covar (now ", reg, "; e.g. --set reg_covar=1e-3 on standardised data), lower "
          "n_components, or remove duplicate rows and constant columns"));
}
}  // namespace

at::Tensor precisions_cholesky(const at::Tensor& cov, CovType type, const at::Tensor& nk, double reg) {
  switch (type) {
    case CovType::full:
    case CovType::tied: {
      auto batched = type == CovType::tied ? cov.unsqueeze(0) : cov;  // [K, D, D]
      auto res = at::linalg_cholesky_ex(batched);
      auto info = std::get<1>(res);
      auto bad = info.nonzero();
      if (bad.size(0) > 0 || !std::get<0>(res).isfinite().all().item<bool>()) {
        int64_t which = bad.size(0) > 0 ? bad[0][0].item<int64_t>() : 0;
        singular(which, batched.size(0), type == CovType::tied ? at::Tensor() : nk, reg);
      }
      auto eye = at::eye(cov.size(-1), cov.options()).expand_as(batched);
      auto pc = at::linalg_solve_triangular(std::get<0>(res), eye, /*upper=*/false).transpose(-2, -1).contiguous();
      return type == CovType::tied ? pc.squeeze(0) : pc;
    }
    case CovType::diag:
    case CovType::spherical: {
      auto bad = (cov <= 0).logical_or(cov.isnan());
      if (bad.any().item<bool>()) {
        auto idx = bad.nonzero()[0][0].item<int64_t>();
        singular(idx, cov.size(0), nk, reg);
      }
      return cov.rsqrt();
    }
  }
  return cov;
}

at::Tensor precisions_cholesky_from_precisions(const at::Tensor& prec, CovType type) {
  switch (type) {
    case CovType::full:
    case CovType::tied: {
      auto res = at::linalg_cholesky_ex(prec);
      GF_CHECK(std::get<1>(res).eq(0).all().item<bool>(), "precisions_init is not positive definite");
      return std::get<0>(res);
    }
    default:
      GF_CHECK((prec > 0).all().item<bool>(), "precisions_init must be positive");
      return prec.sqrt();
  }
}

void estimate_parameters(const at::Tensor& x, const at::Tensor& resp, const at::Tensor& row_weight, double reg,
                         CovType type, Params& out) {
  const double eps = x.scalar_type() == at::kFloat ? 1.1920928955078125e-07 : 2.220446049250313e-16;
  auto nk = resp.sum(0) + 10 * eps;          // [K]
  auto means = at::mm(resp.t(), x) / nk.unsqueeze(1);  // [K, D]
  const int64_t k = means.size(0), d = means.size(1);
  at::Tensor cov;
  switch (type) {
    case CovType::full: {
      // Second moments about a shift point (the weighted data mean) for all components in one GEMM per block of
      // rows: S_k = sum_n r_nk (x_n - s)(x_n - s)^T, then cov_k = S_k / nk - (mu_k - s)(mu_k - s)^T. Shifting by
      // the data mean keeps the cancellation small; one [rows, K*D] x [rows, D] GEMM replaces K passes over X.
      auto shift = (means * nk.unsqueeze(1)).sum(0) / nk.sum();  // [D]
      auto second = at::zeros({k * d, d}, x.options());          // [K*D, D]
      const int64_t rows = std::max<int64_t>(256, (int64_t{1} << 19) / (k * d));
      for (int64_t s = 0; s < x.size(0); s += rows) {
        const int64_t e = std::min(x.size(0), s + rows);
        auto xc = x.slice(0, s, e) - shift;                                                  // [B, D]
        auto weighted = (xc.unsqueeze(1) * resp.slice(0, s, e).unsqueeze(2)).reshape({e - s, k * d});  // [B, K*D]
        second.addmm_(weighted.t(), xc);
      }
      auto centred = means - shift;  // [K, D]
      cov = second.view({k, d, d}) / nk.view({k, 1, 1}) - centred.unsqueeze(2) * centred.unsqueeze(1);
      cov.diagonal(0, -2, -1).add_(reg);
      break;
    }
    case CovType::tied: {
      auto avg_x2 = row_weight.defined() ? at::mm(x.t(), x * row_weight.unsqueeze(1)) : at::mm(x.t(), x);
      auto avg_means2 = at::mm((nk.unsqueeze(1) * means).t(), means);
      cov = (avg_x2 - avg_means2) / nk.sum();
      cov.diagonal().add_(reg);
      break;
    }
    case CovType::diag:
    case CovType::spherical: {
      auto avg_x2 = at::mm(resp.t(), x * x) / nk.unsqueeze(1);
      auto avg_means2 = means.square();
      auto avg_x_means = means * at::mm(resp.t(), x) / nk.unsqueeze(1);
      cov = avg_x2 - 2 * avg_x_means + avg_means2 + reg;
      if (type == CovType::spherical) cov = cov.mean(1);
      break;
    }
  }
  out.weights = nk / nk.sum();
  out.means = means;
  out.covariances = cov;
}

GaussianStats gaussian_stats(const at::Tensor& x, const at::Tensor& resp, const at::Tensor& row_weight,
                             double reg_covar, CovType type) {
  Params p;
  estimate_parameters(x, resp, row_weight, reg_covar, type, p);
  const double eps = x.scalar_type() == at::kFloat ? 1.1920928955078125e-07 : 2.220446049250313e-16;
  return {resp.sum(0) + 10 * eps, p.means, p.covariances};
}

}  // namespace gf::stats
