#include "genforge/models/copula.h"

#include <torch/linalg.h>
#include <torch/special.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/privacy/accountant.h"
#include "privacy/noise.h"
#include "models/copula/copula_impl.h"
#include "models/synth_columns.h"
#include "models/copula/truncated_normal.h"

namespace gf {

using stats::Marginal;

namespace {

constexpr double kMinProbability = 1e-12;

// The nearest correlation matrix by eigenvalue clipping (keeps it positive definite), unit diagonal.
at::Tensor nearest_correlation(at::Tensor r) {
  r = (r + r.t()) / 2;
  auto [evals, evecs] = torch::linalg::eigh(r, "L");
  r = evecs.matmul(torch::diag(evals.clamp_min(1e-6))).matmul(evecs.t());
  auto d = r.diagonal().sqrt();
  r = r / d.unsqueeze(0) / d.unsqueeze(1);
  r.fill_diagonal_(1.0);
  return r;
}

std::map<std::string, std::string> parse_distributions(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& part : split_list(text)) {
    const auto colon = part.rfind(':');
    GF_CHECK(colon != std::string::npos && colon > 0, "distributions: '", part,
             "' is not column:distribution (e.g. age:beta)");
    const std::string kind = part.substr(colon + 1);
    const auto& kinds = stats::Marginal::kinds();
    GF_CHECK_AS(InvalidArgument, kind == "auto" || std::find(kinds.begin(), kinds.end(), kind) != kinds.end(),
                "use auto, empirical, normal, truncnorm, beta, gamma, uniform or kde", "distributions: column '",
                part.substr(0, colon), "' has unknown distribution '", kind, "'");
    out[part.substr(0, colon)] = kind;
  }
  return out;
}

// Column j's normal scores and latent bounds from its cells.
void latent_scores(const GaussianCopula::Impl& impl, const at::Tensor& x, const at::Tensor& jitter, int64_t j,
                   at::Tensor& z, at::Tensor& lower, at::Tensor& upper) {
  const int64_t n = x.size(0), d = x.size(1);
  const double* px = x.data_ptr<double>();
  const double* pj = jitter.data_ptr<double>();
  double* pz = z.data_ptr<double>();
  double* pa = lower.data_ptr<double>();
  double* pb = upper.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = i * d + j;
    if (std::isnan(px[at])) {
      pz[at] = 0, pa[at] = -INFINITY, pb[at] = INFINITY;
      continue;
    }
    const auto [a, b] = impl.u_interval(static_cast<size_t>(j), px[at]);
    pz[at] = stats::normal_quantile(a + (b - a) * pj[at]);
    if (b > a) {
      pa[at] = a <= 0 ? -INFINITY : stats::normal_quantile(a);
      pb[at] = b >= 1 ? INFINITY : stats::normal_quantile(b);
    } else {
      pa[at] = pb[at] = pz[at];
    }
  }
}

// Puts a categorical column's categories in the order of `key` (ties keep the current order; categories without a
// key go last) and recomputes its latent scores. Returns whether the order changed.
bool reorder_categories(GaussianCopula::Impl& impl, int64_t c, const std::vector<double>& key, const at::Tensor& x,
                        const at::Tensor& jitter, at::Tensor& z, at::Tensor& lower, at::Tensor& upper) {
  auto& col = impl.columns[static_cast<size_t>(c)];
  std::vector<size_t> order(col.start.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return col.start[a] < col.start[b]; });
  const auto before = order;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
  if (order == before) return false;
  double at = 0;
  for (size_t q : order) col.start[q] = at, at += col.width[q];
  latent_scores(impl, x, jitter, c, z, lower, upper);
  return true;
}

// The mean of `score` [N] over the rows of each category of column c (infinity for a category without rows).
std::vector<double> category_means(const at::Tensor& x, int64_t c, size_t k, const double* score) {
  const int64_t n = x.size(0), d = x.size(1);
  const double* px = x.data_ptr<double>();
  std::vector<double> sum(k, 0.0), count(k, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double code = px[i * d + c];
    if (!std::isnan(code)) sum[static_cast<size_t>(code)] += score[i], count[static_cast<size_t>(code)] += 1;
  }
  for (size_t q = 0; q < k; ++q) sum[q] = count[q] > 0 ? sum[q] / count[q] : INFINITY;
  return sum;
}

// A Gaussian copula sees a category column through the order of its intervals, so a strong association with
// another column (airport -> state) is kept only when that order follows it. Categorical columns, fewest
// categories first, are put in the order of the mean latent score of the column that explains them best (largest
// correlation ratio η² among the numeric columns and the categorical columns already ordered); categories that
// tie keep their frequency order.
void order_categories(GaussianCopula::Impl& impl, const at::Tensor& x, const at::Tensor& jitter, at::Tensor& z,
                      at::Tensor& lower, at::Tensor& upper) {
  const int64_t n = x.size(0), d = x.size(1);
  std::vector<size_t> cats;
  std::vector<uint8_t> anchored(static_cast<size_t>(d), 1);
  for (size_t j = 0; j < impl.columns.size(); ++j) {
    if (impl.columns[j].categorical) cats.push_back(j), anchored[j] = 0;
  }
  std::stable_sort(cats.begin(), cats.end(),
                   [&](size_t a, size_t b) { return impl.columns[a].start.size() < impl.columns[b].start.size(); });
  const double* px = x.data_ptr<double>();
  for (size_t c : cats) {
    auto& col = impl.columns[c];
    const size_t k = col.start.size();
    const double* pz = z.data_ptr<double>();
    double best_eta = 0.05;  // below this, no column explains the categories: keep the frequency order
    std::vector<double> best_mean, sum, count;
    for (int64_t other = 0; other < d; ++other) {
      if (static_cast<size_t>(other) == c || !anchored[static_cast<size_t>(other)]) continue;
      sum.assign(k, 0.0), count.assign(k, 0.0);
      double total = 0, total_sq = 0, rows = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double code = px[i * d + static_cast<int64_t>(c)], v = px[i * d + other];
        if (std::isnan(code) || std::isnan(v)) continue;
        const double s = pz[i * d + other];
        sum[static_cast<size_t>(code)] += s, count[static_cast<size_t>(code)] += 1;
        total += s, total_sq += s * s, rows += 1;
      }
      if (rows < 2) continue;
      const double grand = total / rows, ss_total = total_sq - rows * grand * grand;
      double ss_between = 0;
      for (size_t q = 0; q < k; ++q) {
        if (count[q] > 0) ss_between += count[q] * (sum[q] / count[q] - grand) * (sum[q] / count[q] - grand);
      }
      const double eta = ss_total > 0 ? ss_between / ss_total : 0.0;
      if (eta > best_eta) {
        best_eta = eta;
        best_mean.assign(k, INFINITY);
        for (size_t q = 0; q < k; ++q) {
          if (count[q] > 0) best_mean[q] = sum[q] / count[q];
        }
      }
    }
    anchored[c] = 1;
    if (!best_mean.empty()) reorder_categories(impl, static_cast<int64_t>(c), best_mean, x, jitter, z, lower, upper);
  }
}

// Optimal scaling: each categorical column's categories re-ordered by the mean, over the rows of a category, of
// the column's latent score as the other columns predict it (E[z_c | z_rest] under the current correlation), so
// that the order serves every association at once. Returns false when no order changed.
bool reorder_by_prediction(GaussianCopula::Impl& impl, const at::Tensor& x, const at::Tensor& jitter,
                           const at::Tensor& r, at::Tensor& z, at::Tensor& lower, at::Tensor& upper) {
  const int64_t d = x.size(1);
  const auto q = torch::linalg::inv(r);
  bool changed = false;
  for (int64_t c = 0; c < d; ++c) {
    const auto& col = impl.columns[static_cast<size_t>(c)];
    if (!col.categorical) continue;
    const double qcc = q[c][c].item<double>();
    auto predicted = (-(z.matmul(q.select(0, c)) - z.select(1, c) * qcc) / qcc).contiguous();  // [N]
    const auto key = category_means(x, c, col.start.size(), predicted.data_ptr<double>());
    changed = reorder_categories(impl, c, key, x, jitter, z, lower, upper) || changed;
  }
  return changed;
}

// Laplace-noised counts of one column's categories or bins with its missing cells as one more cell (adding or
// removing a row moves one cell by one: L1 sensitivity 1), negatives cut to 0. Returns the noisy missing rate.
double noisy_counts(std::vector<double>& counts, double missing, double epsilon, at::Generator& gen) {
  const auto k = static_cast<int64_t>(counts.size());
  auto noise = privacy::laplace_noise(k + 1, 1.0 / epsilon, gen);
  const double* pn = noise.data_ptr<double>();
  double total = missing = std::max(0.0, missing + pn[k]);
  for (int64_t b = 0; b < k; ++b) total += (counts[static_cast<size_t>(b)] = std::max(0.0, counts[static_cast<size_t>(b)] + pn[b]));
  return total > 0 ? missing / total : 0.0;
}

}  // namespace

void CopulaOptions::validate() const {
  const auto& kinds = stats::Marginal::kinds();
  GF_CHECK(distribution == "auto" || std::find(kinds.begin(), kinds.end(), distribution) != kinds.end(),
           "distribution must be auto, empirical, normal, truncnorm, beta, gamma, uniform or kde, got '",
           distribution, "'");
  parse_distributions(distributions);
  GF_CHECK(parametric_ks >= 0 && parametric_ks <= 1, "parametric_ks must be in [0, 1], got ", parametric_ks);
  GF_CHECK(reorder_passes >= 0, "reorder_passes must be >= 0, got ", reorder_passes);
  GF_CHECK(latent_sweeps >= 0, "latent_sweeps must be >= 0, got ", latent_sweeps);
  GF_CHECK(gibbs_sweeps >= 1, "gibbs_sweeps must be at least 1, got ", gibbs_sweeps);
  GF_CHECK(dp_epsilon >= 0, "dp_epsilon must be >= 0 (0: no differential privacy), got ", dp_epsilon);
  GF_CHECK(dp_delta > 0 && dp_delta < 1, "dp_delta must be in (0, 1), got ", dp_delta);
  GF_CHECK(dp_marginal_share > 0 && dp_marginal_share < 1, "dp_marginal_share must be in (0, 1), got ",
           dp_marginal_share);
  GF_CHECK(dp_bins == 0 || dp_bins >= 2, "dp_bins must be 0 (auto) or at least 2, got ", dp_bins);
  GF_CHECK(dp_bounds_share > 0 && dp_bounds_share < 1, "dp_bounds_share must be in (0, 1), got ", dp_bounds_share);
  privacy::parse_declared_ranges(dp_bounds);
}

const OptionTable<CopulaOptions>& GaussianCopula::option_table() {
  static const OptionTable<CopulaOptions> table = [] {
    OptionTable<CopulaOptions> t("copula");
    t.add("distribution", &CopulaOptions::distribution, "marginal of every numeric column (auto: by KS distance)",
          {"auto", "empirical", "normal", "truncnorm", "beta", "gamma", "uniform", "kde"})
        .add("distributions", &CopulaOptions::distributions, "per-column marginals, e.g. age:beta,income:empirical")
        .add("parametric_ks", &CopulaOptions::parametric_ks,
             "auto keeps the best parametric family when its KS distance is at most this (else empirical)")
        .add("enforce_min_max", &CopulaOptions::enforce_min_max, "keep numeric samples within the training range")
        .add("gibbs_sweeps", &CopulaOptions::gibbs_sweeps, "Gibbs sweeps when conditioning on several ranges")
        .add("latent_sweeps", &CopulaOptions::latent_sweeps,
             "fitting: Gibbs sweeps over the latent scores of categories, ties and missing cells")
        .add("reorder_passes", &CopulaOptions::reorder_passes,
             "fitting: passes that re-order categories by their scores as the other columns predict them")
        .add("dp_epsilon", &CopulaOptions::dp_epsilon, "differential privacy: ε of the fit (0: off)")
        .add("dp_delta", &CopulaOptions::dp_delta, "differential privacy: δ of the correlation's Gaussian noise")
        .add("dp_marginal_share", &CopulaOptions::dp_marginal_share, "part of ε spent on the marginals")
        .add("dp_bins", &CopulaOptions::dp_bins,
             "histogram bins of a numeric marginal under DP (0: 2 sqrt(n eps) of the column, within 4..64)")
        .add("dp_bounds", &CopulaOptions::dp_bounds,
             "DP: public ranges, e.g. age:0..120,income:0..1e6 (others estimated privately; data: min and max)")
        .add("dp_bounds_share", &CopulaOptions::dp_bounds_share, "DP: part of ε spent on the ranges not declared")
        .add("seed", &CopulaOptions::seed, "random positions inside categories and point masses when fitting");
    return t;
  }();
  return table;
}

GaussianCopula::GaussianCopula(CopulaOptions options) : options_(std::move(options)) {}

Capabilities GaussianCopula::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::table;
  c.likelihood = Likelihood::score;
  c.score_meaning = "the log-density of the numbers, categories and repeated values by their probability (mixed)";
  c.conditional_sampling = true;
  c.missing_values = true;
  c.latent_space = true;  // the normal scores: transform and decode through the marginals
  c.encoder = true;
  c.standard_normal_prior = false;  // codes are N(0, correlation)
  return c;
}

nlohmann::json GaussianCopula::options_json() const { return option_table().to_json(options_); }

void GaussianCopula::check_fitted() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train copula ...`) or load a fitted one",
              "the copula is not fitted");
}

FitReport GaussianCopula::fit(const Dataset& train, const FitContext&) {
  options_.validate();
  const auto start = std::chrono::steady_clock::now();
  GF_CHECK_AS(DataError, train.x.defined() && train.x.dim() == 2 && train.x.size(0) > 0,
              "give a table with at least one row", "the copula fits tables [N, D]");
  const auto x = train.x.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  const bool dp = options_.dp_epsilon > 0;
  GF_CHECK_AS(DataError, train.features.empty() || static_cast<int64_t>(train.features.size()) == d,
              "build the Dataset's features with the input pipeline", "the dataset describes ", train.features.size(),
              " features for ", d, " columns");
  const auto per_column = parse_distributions(options_.distributions);
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  auto impl = std::make_shared<Impl>();
  std::vector<double> missing(static_cast<size_t>(d));
  std::vector<synth::ColumnView> views;
  for (int64_t j = 0; j < d; ++j) views.push_back(synth::column_view(train, x, j, "copula"));
  privacy::RangePlan ranges;  // DP: the numeric columns' ranges, declared or private
  if (dp) ranges = synth::numeric_ranges(views, options_.dp_bounds, options_.dp_epsilon * options_.dp_bounds_share, gen);
  const double eps_rest = options_.dp_epsilon - ranges.epsilon;  // the marginals' and the correlation's
  const double eps_column = eps_rest * options_.dp_marginal_share / static_cast<double>(d);
  const int64_t dp_bins = options_.dp_bins > 0 ? options_.dp_bins
                                               : privacy::private_bins(static_cast<double>(n), eps_column, 2, 4, 64);
  nlohmann::json chosen = nlohmann::json::object();
  for (int64_t j = 0; j < d; ++j) {
    Impl::ColumnModel col;
    auto& view = views[static_cast<size_t>(j)];
    col.name = view.name;
    const TableFeature* f = view.feature;
    col.categorical = view.categorical();
    std::vector<double> values = std::move(view.values);
    const auto n_missing = static_cast<double>(n - static_cast<int64_t>(values.size()));
    missing[static_cast<size_t>(j)] = n_missing / static_cast<double>(n);
    if (col.categorical) {
      const auto k = static_cast<size_t>(f->n_categories);
      std::vector<double> counts(k, 0.0);
      for (double v : values) counts[static_cast<size_t>(v)] += 1;
      if (dp) missing[static_cast<size_t>(j)] = noisy_counts(counts, n_missing, eps_column, gen);
      double total = std::accumulate(counts.begin(), counts.end(), 0.0);
      if (total <= 0) std::fill(counts.begin(), counts.end(), 1.0), total = static_cast<double>(k);
      std::vector<size_t> order(k);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return counts[a] > counts[b]; });
      col.start.assign(k, 0.0), col.width.assign(k, 0.0);
      double at = 0;
      for (size_t c : order) col.start[c] = at, col.width[c] = counts[c] / total, at += counts[c] / total;
      chosen[col.name] = "categorical";
    } else if (dp) {
      const auto& range = ranges.ranges.at(col.name);
      const double lo = range.lo, hi = range.hi;
      const auto bins = static_cast<size_t>(dp_bins);
      std::vector<double> counts(bins, 0.0);
      for (double v : values) {  // cells outside the range count in its end bins
        const double at = hi > lo ? std::clamp((v - lo) / (hi - lo), 0.0, 1.0) * static_cast<double>(bins) : 0.0;
        counts[std::min(static_cast<size_t>(at), bins - 1)] += 1;
      }
      missing[static_cast<size_t>(j)] = noisy_counts(counts, n_missing, eps_column, gen);
      col.marginal = Marginal::histogram(lo, hi, counts);
      chosen[col.name] = "histogram";
    } else {
      const auto it = per_column.find(col.name);
      col.marginal = Marginal::fit(it != per_column.end() ? it->second : options_.distribution, std::move(values),
                                   options_.parametric_ks);
      chosen[col.name] = col.marginal.kind();
    }
    impl->columns.push_back(std::move(col));
  }
  for (const auto& named : per_column) {
    const std::string& name = named.first;
    const bool known = std::any_of(impl->columns.begin(), impl->columns.end(),
                                   [&](const Impl::ColumnModel& c) { return c.name == name && !c.categorical; });
    GF_CHECK_AS(InvalidArgument, known, "name numeric columns of the data", "distributions names column '", name,
                "', which is not a numeric column of the data");
  }
  impl_ = impl;

  // Normal scores: a cell's position in [0, 1] drawn uniformly inside its category or point mass, then Φ⁻¹;
  // [lower, upper] bound what the cell says about its latent score (missing cells: nothing).
  auto z = torch::zeros({n, d}, torch::kFloat64);
  auto jitter = torch::rand({n, d}, gen, torch::kFloat64);
  auto lower = torch::full({n, d}, -INFINITY, torch::kFloat64), upper = torch::full({n, d}, INFINITY, torch::kFloat64);
  for (int64_t j = 0; j < d; ++j) latent_scores(*impl, x, jitter, j, z, lower, upper);
  if (!dp) order_categories(*impl, x, jitter, z, lower, upper);
  nlohmann::json privacy;
  if (!dp) {
    // Categories, ties and missing cells only bound a row's latent scores: Hoff's Gibbs sampler draws them given
    // the rest of the row (jittered positions alone would pull correlations towards zero).
    correlation_ = nearest_correlation(copula::latent_correlation(z, lower, upper, options_.latent_sweeps, gen));
    for (int64_t pass = 0; pass < options_.reorder_passes; ++pass) {
      if (!reorder_by_prediction(*impl, x, jitter, correlation_, z, lower, upper)) break;
      correlation_ = nearest_correlation(copula::latent_correlation(z, lower, upper, options_.latent_sweeps, gen));
    }
  } else {
    // Rows clipped to L2 norm C; the sum of z zᵀ then moves by at most C² in Frobenius norm when one row is added
    // or removed, and its upper triangle gets Gaussian noise of the analytic mechanism.
    const double clip = std::sqrt(2.0 * static_cast<double>(d));
    auto norms = z.norm(2, 1, true).clamp_min(1e-12);
    auto zc = z * (clip / norms).clamp_max(1.0);
    const double eps_corr = eps_rest * (1 - options_.dp_marginal_share);
    const double sigma = privacy::analytic_gaussian_sigma(eps_corr, options_.dp_delta, clip * clip);
    auto noise = torch::randn({d, d}, gen, torch::kFloat64) * sigma;
    noise = noise.triu() + noise.triu(1).t();
    auto s = zc.t().matmul(zc) + noise;
    auto diag = s.diagonal().clamp_min(0.1 * static_cast<double>(n)).sqrt();
    correlation_ = nearest_correlation((s / diag.unsqueeze(0) / diag.unsqueeze(1)).clamp(-1, 1));
    privacy = {{"epsilon", options_.dp_epsilon},
               {"delta", options_.dp_delta},
               {"marginals", {{"mechanism", "Laplace histograms, one per column (missing cells a bin)"},
                              {"epsilon_per_column", eps_column},
                              {"bins", dp_bins}}},
               {"correlation", {{"mechanism", "analytic Gaussian on the clipped normal scores' Gram matrix"},
                                {"epsilon", eps_corr},
                                {"clip_norm", clip},
                                {"sigma", sigma}}},
               {"ranges", ranges.to_json()},
               {"public", privacy::public_facts(options_.dp_bounds)}};
  }
  missing_rate_ = torch::tensor(missing, torch::kFloat64);

  FitReport report;
  report.converged = true;
  report.n_iter = 1;
  report.objective_name = "mean score (nats)";
  report.objective = score_samples(x).mean().item<double>();
  report.history = {report.objective};
  report.extra["marginals"] = chosen;
  if (dp) report.extra["privacy"] = privacy;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json schema = {{"columns", train.columns}, {"dim", d}};
  set_schema(schema);
  set_fit_report(report);
  return report;
}

std::vector<std::string> GaussianCopula::marginal_kinds() const {
  check_fitted();
  std::vector<std::string> out;
  for (const auto& c : impl_->columns) out.push_back(c.categorical ? "categorical" : c.marginal.kind());
  return out;
}

torch::Tensor GaussianCopula::sample(int64_t n, at::Generator& gen) const {
  check_fitted();
  const int64_t d = correlation_.size(0);
  auto inf = torch::full({d}, std::numeric_limits<double>::infinity(), torch::kFloat64);
  return sample_within(n, -inf, inf, gen);
}

torch::Tensor GaussianCopula::sample_within(int64_t n, const torch::Tensor& lo_in, const torch::Tensor& hi_in,
                                            at::Generator& gen) const {
  check_fitted();
  const int64_t d = correlation_.size(0);
  GF_CHECK(n >= 0, "number of samples must be >= 0, got ", n);
  GF_CHECK(lo_in.numel() == d && hi_in.numel() == d, "conditions need ", d, " bounds per side, got ", lo_in.numel(),
           " and ", hi_in.numel());
  const auto lo = lo_in.to(torch::kFloat64).contiguous(), hi = hi_in.to(torch::kFloat64).contiguous();
  std::vector<int64_t> fixed, truncated;
  std::vector<double> z_fixed, a, b;
  for (int64_t j = 0; j < d; ++j) {
    const double l = lo[j].item<double>(), h = hi[j].item<double>();
    if (std::isinf(l) && std::isinf(h) && l < 0 && h > 0) continue;
    const auto& col = impl_->columns[static_cast<size_t>(j)];
    GF_CHECK(!(l > h), "column '", col.name, "': the condition's lower bound ", l, " is above its upper bound ", h);
    double ua = 0, ub = 0;
    if (col.categorical) {
      GF_CHECK(l == h, "column '", col.name, "' is categorical: condition it on one category, not a range");
      std::tie(ua, ub) = impl_->u_interval(static_cast<size_t>(j), l);
    } else if (l == h && impl_->columns[static_cast<size_t>(j)].marginal.mass(l) == 0) {
      const double u = col.marginal.cdf(l);
      GF_CHECK(u > 0 && u < 1, "column '", col.name, "': ", l, " is outside the values the model knows [",
               col.marginal.lo(), ", ", col.marginal.hi(), "]");
      fixed.push_back(j);
      z_fixed.push_back(stats::normal_quantile(u));
      continue;
    } else {
      ua = std::isinf(l) ? 0.0 : impl_->u_interval(static_cast<size_t>(j), l).first;
      ub = std::isinf(h) ? 1.0 : impl_->u_interval(static_cast<size_t>(j), h).second;
    }
    GF_CHECK(ub - ua > kMinProbability, "column '", col.name, "': the condition [", l, ", ", h,
             "] has no probability under the model (its values span [", col.categorical ? 0.0 : col.marginal.lo(),
             ", ", col.categorical ? static_cast<double>(col.start.size() - 1) : col.marginal.hi(), "])");
    truncated.push_back(j);
    a.push_back(stats::normal_quantile(std::max(ua, 0.0)));
    b.push_back(ub >= 1 ? std::numeric_limits<double>::infinity() : stats::normal_quantile(ub));
    if (ua <= 0) a.back() = -std::numeric_limits<double>::infinity();
  }
  const auto nf = static_cast<int64_t>(fixed.size()), nt = static_cast<int64_t>(truncated.size());
  auto zf = torch::tensor(z_fixed, torch::kFloat64).reshape({1, nf}).expand({n, nf});
  auto ta = torch::tensor(a, torch::kFloat64).reshape({1, nt}).expand({n, nt});
  auto tb = torch::tensor(b, torch::kFloat64).reshape({1, nt}).expand({n, nt});
  auto z = copula::draw_conditional(correlation_, fixed, zf, truncated, ta, tb, n, options_.gibbs_sweeps, gen);
  auto u = torch::special::ndtr(z).contiguous();
  auto missing_draw = torch::rand({n, d}, gen, torch::kFloat64).contiguous();
  auto out = torch::empty({n, d}, torch::kFloat64);
  const double* pu = u.data_ptr<double>();
  const double* pr = missing_draw.data_ptr<double>();
  const double* rate = missing_rate_.data_ptr<double>();
  double* po = out.data_ptr<double>();
  std::vector<double> lo_v(lo.data_ptr<double>(), lo.data_ptr<double>() + d);
  std::vector<double> hi_v(hi.data_ptr<double>(), hi.data_ptr<double>() + d);
  std::vector<uint8_t> conditioned(static_cast<size_t>(d), 0);
  for (auto j : fixed) conditioned[static_cast<size_t>(j)] = 1;
  for (auto j : truncated) conditioned[static_cast<size_t>(j)] = 1;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const auto c = static_cast<size_t>(j);
      if (!conditioned[c] && pr[i * d + j] < rate[j]) {
        po[i * d + j] = NAN;
        continue;
      }
      double v = impl_->value_at(c, pu[i * d + j], options_.enforce_min_max);
      if (conditioned[c] && !impl_->columns[c].categorical) v = std::clamp(v, lo_v[c], hi_v[c]);
      po[i * d + j] = v;
    }
  }
  return out;
}

}  // namespace gf
