// The copula's row-wise work on data: scores, conditional draws for missing cells, and its saved state.
#include <torch/linalg.h>
#include <torch/special.h>

#include <cmath>
#include <map>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/copula.h"
#include "models/copula/copula_impl.h"
#include "models/copula/truncated_normal.h"
#include "stats/draws.h"

namespace gf {
namespace {

// Rows grouped by which cells are present (NaN = missing): pattern -> row indices.
std::map<std::vector<uint8_t>, std::vector<int64_t>> rows_by_pattern(const at::Tensor& x) {
  std::map<std::vector<uint8_t>, std::vector<int64_t>> out;
  const int64_t n = x.size(0), d = x.size(1);
  const double* px = x.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    std::vector<uint8_t> present(static_cast<size_t>(d));
    for (int64_t j = 0; j < d; ++j) present[static_cast<size_t>(j)] = !std::isnan(px[i * d + j]);
    out[present].push_back(i);
  }
  return out;
}

constexpr double kEdge = 1e-12;  // transform: u kept inside [kEdge, 1 - kEdge], so scores stay finite (|z| <= 7.04)

at::Tensor as_rows(const at::Tensor& x, int64_t d, const char* what) {
  GF_CHECK(x.dim() == 2 && x.size(1) == d, what, " takes rows [N, ", d, "], got ", x.sizes());
  return x.to(torch::kCPU, torch::kFloat64).contiguous();
}

}  // namespace

int64_t GaussianCopula::latent_dim() const { return fitted() ? correlation_.size(0) : 0; }

torch::Tensor GaussianCopula::transform(const torch::Tensor& x_in, const torch::Tensor&) const {
  check_fitted();
  const int64_t d = correlation_.size(0);
  const auto x = as_rows(x_in, d, "copula transform");
  const int64_t n = x.size(0);
  auto u = torch::empty({n, d}, torch::kFloat64);
  const double* px = x.data_ptr<double>();
  double* pu = u.data_ptr<double>();
  for (int64_t i = 0; i < n * d; ++i) {
    if (std::isnan(px[i])) {
      pu[i] = NAN;
      continue;
    }
    const auto [a, b] = impl_->u_interval(static_cast<size_t>(i % d), px[i]);
    pu[i] = std::clamp((a + b) / 2, kEdge, 1 - kEdge);
  }
  return torch::special::ndtri(u);  // [N, D]
}

torch::Tensor GaussianCopula::decode(const torch::Tensor& z, const torch::Tensor&) const {
  check_fitted();
  const int64_t d = correlation_.size(0);
  const auto u = torch::special::ndtr(as_rows(z, d, "copula decode")).contiguous();
  auto out = torch::empty_like(u);
  const double* pu = u.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < u.numel(); ++i) {
    po[i] = std::isnan(pu[i]) ? NAN : impl_->value_at(static_cast<size_t>(i % d), pu[i], options_.enforce_min_max);
  }
  return out;  // [N, D]
}

torch::Tensor GaussianCopula::sample_latent(int64_t n, at::Generator& gen) const {
  check_fitted();
  GF_CHECK(n >= 0, "number of codes must be >= 0, got ", n);
  const auto chol = torch::linalg::cholesky(correlation_);  // [D, D]
  return torch::randn({n, correlation_.size(0)}, gen, torch::kFloat64).mm(chol.t());
}

torch::Tensor GaussianCopula::score_samples(const torch::Tensor& x_in) const {
  check_fitted();
  const int64_t d = correlation_.size(0);
  const auto x = as_rows(x_in, d, "copula score");
  const int64_t n = x.size(0);
  auto out = torch::zeros({n}, torch::kFloat64);
  const double* px = x.data_ptr<double>();
  const double* rate = missing_rate_.data_ptr<double>();
  for (const auto& [present, rows] : rows_by_pattern(x)) {
    std::vector<int64_t> obs;
    for (int64_t j = 0; j < d; ++j) {
      if (present[static_cast<size_t>(j)]) obs.push_back(j);
    }
    const auto g = static_cast<int64_t>(rows.size()), k = static_cast<int64_t>(obs.size());
    auto z = torch::empty({g, k}, torch::kFloat64);
    auto base = torch::zeros({g}, torch::kFloat64);  // marginal terms
    double* pz = z.data_ptr<double>();
    double* pb = base.data_ptr<double>();
    double missing_term = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double r = rate[j];
      missing_term += present[static_cast<size_t>(j)] ? std::log1p(-std::min(r, 1 - 1e-12))
                                                      : std::log(std::max(r, 1e-12));
    }
    for (int64_t r = 0; r < g; ++r) {
      const int64_t i = rows[static_cast<size_t>(r)];
      for (int64_t c = 0; c < k; ++c) {
        const auto j = static_cast<size_t>(obs[static_cast<size_t>(c)]);
        const double v = px[i * d + static_cast<int64_t>(j)];
        const auto [ua, ub] = impl_->u_interval(j, v);
        const double zz = stats::normal_quantile(0.5 * (ua + ub));
        pz[r * k + c] = zz;
        const double log_f = impl_->columns[j].categorical ? std::log(std::max(ub - ua, 1e-300))
                                                            : impl_->columns[j].marginal.log_density(v);
        pb[r] += log_f + 0.5 * zz * zz;  // minus log φ(z) up to the constant, which cancels with the copula's
      }
    }
    if (k > 0) {
      const auto idx = torch::tensor(obs, torch::kLong);
      auto l = torch::linalg::cholesky(correlation_.index_select(0, idx).index_select(1, idx));
      auto w = torch::linalg::solve_triangular(l, z.t(), /*upper=*/false, /*left=*/true, /*unitriangular=*/false);  // [k, g]
      auto copula = -0.5 * (w * w).sum(0) - l.diagonal().log().sum();
      base = base + copula;
    }
    out.index_put_({torch::tensor(rows, torch::kLong)}, base + missing_term);
  }
  return out;
}

torch::Tensor GaussianCopula::conditional_sample(const torch::Tensor& x_in, at::Generator& gen) const {
  check_fitted();
  const int64_t d = correlation_.size(0);
  const auto x = as_rows(x_in, d, "copula conditional_sample");
  auto out = x.clone();
  const double* px = x.data_ptr<double>();
  for (const auto& [present, rows] : rows_by_pattern(x)) {
    if (std::all_of(present.begin(), present.end(), [](uint8_t p) { return p != 0; })) continue;
    const auto g = static_cast<int64_t>(rows.size());
    // Observed cells: numbers are fixed points in normal-score space; categories and point masses intervals.
    std::vector<int64_t> fixed, truncated, free_cols;
    for (int64_t j = 0; j < d; ++j) {
      if (!present[static_cast<size_t>(j)]) {
        free_cols.push_back(j);
        continue;
      }
      const auto& col = impl_->columns[static_cast<size_t>(j)];
      bool interval = col.categorical;
      for (size_t r = 0; r < rows.size() && !interval; ++r) interval = col.marginal.mass(px[rows[r] * d + j]) > 0;
      (interval ? truncated : fixed).push_back(j);
    }
    auto zf = torch::empty({g, static_cast<int64_t>(fixed.size())}, torch::kFloat64);
    auto ta = torch::empty({g, static_cast<int64_t>(truncated.size())}, torch::kFloat64), tb = torch::empty_like(ta);
    for (int64_t r = 0; r < g; ++r) {
      const int64_t i = rows[static_cast<size_t>(r)];
      for (size_t c = 0; c < fixed.size(); ++c) {
        const auto [ua, ub] = impl_->u_interval(static_cast<size_t>(fixed[c]), px[i * d + fixed[c]]);
        zf[r][static_cast<int64_t>(c)] = stats::normal_quantile(0.5 * (ua + ub));
      }
      for (size_t c = 0; c < truncated.size(); ++c) {
        const auto [ua, ub] = impl_->u_interval(static_cast<size_t>(truncated[c]), px[i * d + truncated[c]]);
        ta[r][static_cast<int64_t>(c)] = ua <= 0 ? -INFINITY : stats::normal_quantile(ua);
        tb[r][static_cast<int64_t>(c)] = ub >= 1 ? INFINITY : stats::normal_quantile(ub);
      }
    }
    auto z = copula::draw_conditional(correlation_, fixed, zf, truncated, ta, tb, g, options_.gibbs_sweeps, gen);
    auto u = torch::special::ndtr(z).contiguous();
    double* po = out.data_ptr<double>();
    const double* pu = u.data_ptr<double>();
    for (int64_t r = 0; r < g; ++r) {
      for (auto j : free_cols) {
        po[rows[static_cast<size_t>(r)] * d + j] =
            impl_->value_at(static_cast<size_t>(j), pu[r * d + j], options_.enforce_min_max);
      }
    }
  }
  return out;
}

torch::Tensor GaussianCopula::conditional_mean(const torch::Tensor& x_in) const {
  check_fitted();
  const auto x = as_rows(x_in, correlation_.size(0), "copula conditional_mean");
  std::vector<bool> categorical;
  for (const auto& c : impl_->columns) categorical.push_back(c.categorical);
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  return stats::mean_of_draws(x, categorical, 64, [&](const torch::Tensor& rows) { return conditional_sample(rows, gen); });
}

TensorMap GaussianCopula::state() const {
  check_fitted();
  return {{"correlation", correlation_}, {"missing_rate", missing_rate_}};
}

void GaussianCopula::load_state(const TensorMap& tensors) {
  GF_CHECK_AS(ModelFileError, impl_ != nullptr, "re-create the file with `genforge train copula`",
              "the copula's columns are missing from the model file");
  const auto d = static_cast<int64_t>(impl_->columns.size());
  correlation_ = stored_tensor(tensors, "correlation", {d, d}).to(torch::kFloat64).contiguous();
  missing_rate_ = stored_tensor(tensors, "missing_rate", {d}).to(torch::kFloat64).contiguous();
}

nlohmann::json GaussianCopula::state_json() const {
  check_fitted();
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : impl_->columns) {
    nlohmann::json j = {{"name", c.name}, {"categorical", c.categorical}};
    if (c.categorical) {
      j["start"] = c.start, j["width"] = c.width;
    } else {
      j["marginal"] = c.marginal.to_json();
    }
    cols.push_back(j);
  }
  return {{"columns", cols}};
}

void GaussianCopula::load_state_json(const nlohmann::json& state) {
  auto impl = std::make_shared<Impl>();
  for (const auto& j : state.at("columns")) {
    Impl::ColumnModel c;
    c.name = j.at("name").get<std::string>();
    c.categorical = j.at("categorical").get<bool>();
    if (c.categorical) {
      c.start = j.at("start").get<std::vector<double>>();
      c.width = j.at("width").get<std::vector<double>>();
    } else {
      c.marginal = stats::Marginal::from_json(j.at("marginal"));
    }
    impl->columns.push_back(std::move(c));
  }
  impl_ = impl;
}

}  // namespace gf
