// Variational Bayesian Gaussian mixture: the updates and lower bound of scikit-learn's BayesianGaussianMixture
// (Bishop, PRML ch. 10.2; Blei & Jordan 2006 for the stick-breaking weights), on the shared single-pass E-step
// of the GMM family; plus the Student-t posterior predictive for scoring and sampling.
#include "genforge/models/bgmm.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "stats/gaussian_mixture.h"
#include "stats/restarts.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"

namespace gf {
using stats::CovType;

namespace {
constexpr double kLogPi = 1.1447298858494002;  // log(pi)

at::ScalarType model_dtype(const BgmmOptions& o) { return o.dtype == "float32" ? at::kFloat : at::kDouble; }

struct Priors {
  bool dirichlet_process = true;
  double weight_concentration = 0;  // gamma_0
  double mean_precision = 0;        // beta_0
  double degrees_of_freedom = 0;    // nu_0
  at::Tensor mean;                  // [D]
  at::Tensor covariance;            // full/tied [D, D], diag [D], spherical [1]
};

// The variational posterior q(pi) q(mu, Lambda).
struct Posterior {
  at::Tensor weight_concentration;  // DP [2, K] (Beta a_k, b_k); Dirichlet [K]
  at::Tensor mean_precision;        // [K] beta_k
  at::Tensor means;                 // [K, D] m_k
  at::Tensor degrees_of_freedom;    // [K] nu_k (tied: K equal values)
  at::Tensor covariances;           // W_k^-1 / nu_k, by covariance type
  at::Tensor precisions_chol;
};

// Sum over i < D of f(0.5 * (nu - i)), for each nu. [K]
template <class F>
at::Tensor sum_over_dimensions(const at::Tensor& nu, int64_t d, F f) {
  auto i = at::arange(d, nu.options()).unsqueeze(1);  // [D, 1]
  return f(0.5 * (nu.unsqueeze(0) - i)).sum(0);
}

Posterior update_posterior(const stats::GaussianStats& st, const Priors& pr, CovType type, double reg_covar) {
  const auto& nk = st.nk;  // [K]
  const int64_t k = nk.size(0);
  Posterior q;
  if (pr.dirichlet_process) {
    // b_k = gamma_0 + sum_{j > k} n_j, summed from the end as scikit-learn does.
    auto from_end = nk.flip(0).cumsum(0).flip(0);  // [K] sum_{j >= k}
    auto tail = at::cat({from_end.slice(0, 1), at::zeros({1}, nk.options())});
    q.weight_concentration = at::stack({1.0 + nk, pr.weight_concentration + tail});  // [2, K]
  } else {
    q.weight_concentration = pr.weight_concentration + nk;
  }
  q.mean_precision = pr.mean_precision + nk;
  q.means = (pr.mean_precision * pr.mean.unsqueeze(0) + nk.unsqueeze(1) * st.means) / q.mean_precision.unsqueeze(1);
  auto diff = st.means - pr.mean;                   // [K, D]
  auto shrink = pr.mean_precision / q.mean_precision;  // [K]
  switch (type) {
    case CovType::full: {
      q.degrees_of_freedom = pr.degrees_of_freedom + nk;
      auto outer = diff.unsqueeze(2) * diff.unsqueeze(1);  // [K, D, D]
      q.covariances = (pr.covariance.unsqueeze(0) + nk.view({k, 1, 1}) * st.covariances +
                       (nk * shrink).view({k, 1, 1}) * outer) /
                      q.degrees_of_freedom.view({k, 1, 1});
      break;
    }
    case CovType::tied: {
      const double mass = nk.sum().item<double>() / static_cast<double>(k);
      const double nu = pr.degrees_of_freedom + mass;
      q.degrees_of_freedom = at::full({k}, nu, nk.options());
      auto spread = at::mm(((nk / q.mean_precision).unsqueeze(1) * diff).t(), diff);  // [D, D]
      q.covariances =
          (pr.covariance + st.covariances * mass + pr.mean_precision / static_cast<double>(k) * spread) / nu;
      break;
    }
    case CovType::diag:
      q.degrees_of_freedom = pr.degrees_of_freedom + nk;
      q.covariances = (pr.covariance.unsqueeze(0) +
                       nk.unsqueeze(1) * (st.covariances + shrink.unsqueeze(1) * diff.square())) /
                      q.degrees_of_freedom.unsqueeze(1);
      break;
    case CovType::spherical:
      q.degrees_of_freedom = pr.degrees_of_freedom + nk;
      q.covariances = (pr.covariance + nk * (st.covariances + shrink * diff.square().mean(1))) / q.degrees_of_freedom;
      break;
  }
  q.precisions_chol = stats::precisions_cholesky(q.covariances, type, nk, reg_covar);
  return q;
}

// E_q[log pi_k]. [K]
at::Tensor expected_log_weights(const Posterior& q, bool dirichlet_process) {
  const auto& wc = q.weight_concentration;
  if (!dirichlet_process) return at::digamma(wc) - at::digamma(wc.sum());
  auto a = wc[0], b = wc[1];
  auto digamma_sum = at::digamma(a + b);
  auto log_stick_left = (at::digamma(b) - digamma_sum).cumsum(0);  // [K]
  auto before = at::cat({at::zeros({1}, a.options()), log_stick_left.slice(0, 0, -1)});
  return at::digamma(a) - digamma_sum + before;
}

// Per-component terms the E-step adds to log N(x | m_k, covariances_k): E_q[log pi_k] plus the expectations
// over the Wishart (E[log |Lambda_k|] and the mean's spread, 1/beta_k per dimension). [K]
at::Tensor e_step_offset(const Posterior& q, bool dirichlet_process, int64_t d) {
  const auto& nu = q.degrees_of_freedom;
  auto log_lambda = static_cast<double>(d) * std::log(2.0) + sum_over_dimensions(nu, d, [](const at::Tensor& v) {
                      return at::digamma(v);
                    });
  return expected_log_weights(q, dirichlet_process) - 0.5 * static_cast<double>(d) * nu.log() +
         0.5 * (log_lambda - static_cast<double>(d) / q.mean_precision);
}

// scikit-learn's lower bound (constant terms dropped), given sum_n sum_k r_nk log r_nk.
double variational_lower_bound(const Posterior& q, const Priors& pr, CovType type, double resp_log_resp) {
  const int64_t k = q.means.size(0), d = q.means.size(1);
  const auto& nu = q.degrees_of_freedom;
  auto log_det = stats::log_det_cholesky(q.precisions_chol, type, k, d) - 0.5 * static_cast<double>(d) * nu.log();
  auto log_wishart_norm = -(nu * log_det + nu * (0.5 * static_cast<double>(d) * std::log(2.0)) +
                            sum_over_dimensions(nu, d, [](const at::Tensor& v) { return at::lgamma(v); }));
  double log_norm_weight;
  const auto& wc = q.weight_concentration;
  if (pr.dirichlet_process) {
    auto betaln = at::lgamma(wc[0]) + at::lgamma(wc[1]) - at::lgamma(wc[0] + wc[1]);
    log_norm_weight = -betaln.sum().item<double>();
  } else {
    log_norm_weight = (at::lgamma(wc.sum()) - at::lgamma(wc).sum()).item<double>();
  }
  return -resp_log_resp - log_wishart_norm.sum().item<double>() - log_norm_weight -
         0.5 * static_cast<double>(d) * q.mean_precision.log().sum().item<double>();
}

// E_q[pi]: scikit-learn's weights_.
at::Tensor expected_weights(const Posterior& q, bool dirichlet_process) {
  const auto& wc = q.weight_concentration;
  if (!dirichlet_process) return wc / wc.sum();
  auto total = wc[0] + wc[1];
  auto left = (wc[1] / total).slice(0, 0, -1).cumprod(0);  // [K-1] E[prod_{j<=k} (1 - v_j)]
  auto w = wc[0] / total * at::cat({at::ones({1}, wc.options()), left});
  return w / w.sum();
}

// Student-t posterior predictive of each component: dof nu_k + 1 - D and scale
// c_k * covariances_k with c_k = (1 + beta_k) nu_k / ((nu_k + 1 - D) beta_k) (PRML eq. 10.81-10.82).
struct Predictive {
  at::Tensor dof;    // [K]
  at::Tensor scale;  // [K] c_k
};
Predictive predictive(const at::Tensor& nu, const at::Tensor& beta, int64_t d) {
  auto dof = nu + (1.0 - static_cast<double>(d));
  return {dof, (1.0 + beta) * nu / (dof * beta)};
}

Priors resolve_priors(const BgmmOptions& o, const at::Tensor& x, const at::Tensor& sw, CovType type) {
  const int64_t n = x.size(0), d = x.size(1), k = o.n_components;
  Priors pr;
  pr.dirichlet_process = o.weight_concentration_prior_type == "dirichlet_process";
  pr.weight_concentration = o.weight_concentration_prior > 0 ? o.weight_concentration_prior : 1.0 / k;
  pr.mean_precision = o.mean_precision_prior > 0 ? o.mean_precision_prior : 1.0;
  pr.degrees_of_freedom = o.degrees_of_freedom_prior > 0 ? o.degrees_of_freedom_prior : static_cast<double>(d);
  GF_CHECK(pr.degrees_of_freedom > static_cast<double>(d) - 1, "degrees_of_freedom_prior must be greater than ",
           d - 1, " (the number of columns minus one), got ", pr.degrees_of_freedom);
  auto w = sw.defined() ? sw : at::ones({n}, x.options());  // [N]
  const double total = w.sum().item<double>();
  auto data_mean = at::mv(x.t(), w) / total;  // [D]
  if (o.mean_prior.defined()) {
    pr.mean = o.mean_prior.to(x.device(), x.scalar_type()).reshape({-1});
    GF_CHECK(pr.mean.numel() == d && pr.mean.isfinite().all().item<bool>(), "mean_prior must hold ", d,
             " finite numbers, got shape ", o.mean_prior.sizes());
  } else {
    pr.mean = data_mean;
  }
  if (o.covariance_prior.defined()) {
    pr.covariance = o.covariance_prior.to(x.device(), x.scalar_type());
    if (type == CovType::full || type == CovType::tied) {
      GF_CHECK(pr.covariance.dim() == 2 && pr.covariance.size(0) == d && pr.covariance.size(1) == d,
               "covariance_prior must have shape [", d, ", ", d, "] for ", o.covariance_type,
               " covariances, got ", pr.covariance.sizes());
      GF_CHECK(std::get<1>(at::linalg_cholesky_ex(pr.covariance)).item<int64_t>() == 0,
               "covariance_prior must be symmetric positive definite");
    } else {
      const int64_t want = type == CovType::diag ? d : 1;
      pr.covariance = pr.covariance.reshape({-1});
      GF_CHECK(pr.covariance.numel() == want && (pr.covariance > 0).all().item<bool>(), "covariance_prior must be ",
               want, " positive number(s) for ", o.covariance_type, " covariances, got shape ",
               o.covariance_prior.sizes());
    }
  } else {
    // scikit-learn's: the unbiased (co)variance of the data (np.cov; np.var with ddof=1), frequency weights.
    auto xc = x - data_mean;  // [N, D]
    GF_CHECK_AS(DataError, total > 1, "give at least two rows", "the data's covariance needs at least two rows");
    if (type == CovType::full || type == CovType::tied) {
      pr.covariance = at::mm(xc.t(), xc * w.unsqueeze(1)) / (total - 1);
    } else {
      auto var = at::mv(xc.square().t(), w) / (total - 1);  // [D]
      pr.covariance = type == CovType::diag ? var : var.mean().reshape({1});
    }
  }
  return pr;
}
}  // namespace

void BgmmOptions::validate() const {
  stats::validate_shared_options(n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params, dtype);
  GF_CHECK(weight_concentration_prior_type == "dirichlet_process" ||
               weight_concentration_prior_type == "dirichlet_distribution",
           "weight_concentration_prior_type must be dirichlet_process or dirichlet_distribution, got '",
           weight_concentration_prior_type, "'");
  GF_CHECK(weight_concentration_prior >= 0, "weight_concentration_prior must be positive (0: 1/n_components), got ",
           weight_concentration_prior);
  GF_CHECK(mean_precision_prior >= 0, "mean_precision_prior must be positive (0: 1), got ", mean_precision_prior);
  GF_CHECK(degrees_of_freedom_prior >= 0, "degrees_of_freedom_prior must be positive (0: the number of columns), got ",
           degrees_of_freedom_prior);
}

const OptionTable<BgmmOptions>& BayesianGaussianMixture::option_table() {
  static const OptionTable<BgmmOptions> table = [] {
    OptionTable<BgmmOptions> t("bgmm");
    t.add("n_components", &BgmmOptions::n_components, "upper bound on the number of components")
        .add("covariance_type", &BgmmOptions::covariance_type, "covariance of each component",
             {"full", "diag", "tied", "spherical"})
        .add("tol", &BgmmOptions::tol, "stop when the lower bound (sum over rows) changes less than this")
        .add("reg_covar", &BgmmOptions::reg_covar, "added to covariance diagonals (keeps them invertible)")
        .add("max_iter", &BgmmOptions::max_iter, "iterations per initialisation")
        .add("n_init", &BgmmOptions::n_init, "initialisations; the one with the best lower bound is kept")
        .add("init_params", &BgmmOptions::init_params, "how initial responsibilities are chosen",
             {"kmeans", "k-means++", "random", "random_from_data"})
        .add("weight_concentration_prior_type", &BgmmOptions::weight_concentration_prior_type,
             "prior on the weights", {"dirichlet_process", "dirichlet_distribution"})
        .add("weight_concentration_prior", &BgmmOptions::weight_concentration_prior,
             "gamma_0: small values switch off unneeded components (0: 1/n_components)")
        .add("mean_precision_prior", &BgmmOptions::mean_precision_prior,
             "beta_0: how strongly means are pulled to mean_prior (0: 1)")
        .add("degrees_of_freedom_prior", &BgmmOptions::degrees_of_freedom_prior,
             "nu_0 of the Wishart prior, > columns - 1 (0: the number of columns)")
        .add("warm_start", &BgmmOptions::warm_start, "start from the previous fit (library use)")
        .add("seed", &BgmmOptions::seed, "random seed of the initialisation")
        .add("dtype", &BgmmOptions::dtype, "computation precision", {"float64", "float32"});
    return t;
  }();
  return table;
}

BayesianGaussianMixture::BayesianGaussianMixture(BgmmOptions options) : options_(std::move(options)) {}

Capabilities BayesianGaussianMixture::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::table;
  c.likelihood = Likelihood::exact;  // the posterior predictive is a normalised density
  c.sample_weights = true;
  c.conditional_sampling = true;  // imputation from the posterior predictive
  return c;
}

nlohmann::json BayesianGaussianMixture::options_json() const { return option_table().to_json(options_); }

void BayesianGaussianMixture::set_init(const std::string& name, const torch::Tensor& value) {
  if (name == "mean_prior") {
    options_.mean_prior = value;
  } else if (name == "covariance_prior") {
    options_.covariance_prior = value;
  } else if (name == "resp") {
    options_.resp_init = value;
  } else {
    Model::set_init(name, value);
  }
}

torch::Tensor BayesianGaussianMixture::prepare_input(const torch::Tensor& x, const char* what,
                                                     bool allow_missing) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train bgmm ...`) or load a fitted one",
              "this BayesianGaussianMixture is not fitted yet, so it cannot ", what);
  GF_CHECK(x.defined() && x.dim() == 2, "data for ", what, " must be a 2-D [N, D] matrix, got ",
           x.defined() ? x.dim() : 0, " dimensions");
  GF_CHECK_AS(DataError, x.size(1) == means_.size(1), "give the same columns the model was fitted on",
              "the data has ", x.size(1), " columns, the model was fitted on ", means_.size(1));
  auto out = x.to(means_.device(), means_.scalar_type());
  if (allow_missing) {
    GF_CHECK_AS(DataError, !out.isinf().any().item<bool>(), "replace infinities with finite values or NaN",
                "the data holds infinite values");
  } else {
    GF_CHECK_AS(DataError, out.isfinite().all().item<bool>(), "drop or impute rows with missing or infinite cells",
                "the data holds NaN or infinite values (bgmm does not marginalise missing cells; gmm does)");
  }
  return out;
}

FitReport BayesianGaussianMixture::fit(const Dataset& train, const FitContext& ctx) {
  options_.validate();
  const auto started = std::chrono::steady_clock::now();
  const CovType type = stats::parse_cov_type(options_.covariance_type);
  stats::check_training_matrix(train.x, options_.n_components);
  const int64_t n = train.x.size(0), d = train.x.size(1), k = options_.n_components;
  auto x = train.x.to(ctx.device, model_dtype(options_));  // [N, D]
  stats::check_rows(x, /*allow_missing=*/false, train.columns, ": the Bayesian GMM fits complete rows only",
                    "train on the complete rows with --set drop_incomplete=true, or use gmm, which marginalises "
                    "missing cells");
  const at::Tensor sw = stats::checked_sample_weight(train.sample_weight, x);  // [N] or undefined
  const Priors priors = resolve_priors(options_, x, sw, type);
  // In a distributed job (genforge launch) each rank takes a share of the rows; statistics are summed.
  const stats::EmData data = stats::prepare_em_data(x, sw, type, &dist::world());
  const bool dp = priors.dirichlet_process;

  const bool warm = options_.warm_start && fitted() && means_.size(0) == k && means_.size(1) == d;
  at::Tensor resp_init;
  if (options_.resp_init.defined() && !warm) {  // a warm start continues the fit; rows may differ in number
    resp_init = options_.resp_init.to(x.device(), x.scalar_type());
    GF_CHECK(resp_init.dim() == 2 && resp_init.size(0) == n && resp_init.size(1) == k,
             "resp_init must have shape [", n, ", ", k, "], got ", resp_init.sizes());
    GF_CHECK(resp_init.isfinite().all().item<bool>() && (resp_init >= 0).all().item<bool>(),
             "resp_init must hold finite non-negative numbers");
  }

  at::Generator gen = make_generator(static_cast<uint64_t>(options_.seed));
  const int64_t n_init = warm ? 1 : options_.n_init;
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("bgmm VB", n_init * options_.max_iter, "iter");
  auto start = [&](int64_t) {
    if (warm) {
      return Posterior{weight_concentration_, mean_precision_, means_, degrees_of_freedom_, covariances_,
                       precisions_cholesky_};
    }
    log::ScopedTimer timer("bgmm.init");
    auto resp = resp_init.defined() ? resp_init
                                    : stats::initial_responsibilities(x, k, options_.init_params, sw, gen);  // [N, K]
    if (sw.defined()) resp = resp * sw.unsqueeze(1);
    return update_posterior(stats::gaussian_stats(x, resp, sw, options_.reg_covar, type), priors, type,
                            options_.reg_covar);
  };
  // One variational update: responsibilities and statistics of the current posterior, the new posterior, its bound.
  auto step = [&](Posterior& q) {
    log::ScopedTimer timer("bgmm.iteration");
    stats::GaussianStats st;
    auto totals = stats::em_iteration(data, q.means, q.precisions_chol, e_step_offset(q, dp, d), type,
                                      options_.reg_covar, /*want_resp_log_resp=*/true, st);
    q = update_posterior(st, priors, type, options_.reg_covar);
    return variational_lower_bound(q, priors, type, totals.resp_log_resp);
  };
  auto run = stats::best_of_restarts<Posterior>(n_init, options_.max_iter, options_.tol, start, step,
                                                bar ? &*bar : nullptr, "lower bound");
  const double best_lb = run.objective;
  const std::vector<double>& init_bounds = run.init_objectives;
  FitReport best = run.report();
  if (!best.converged) {
    log::warn(msg("variational inference did not converge in max_iter=", options_.max_iter,
                  " iterations; raise max_iter or tol"));
  }
  const Posterior& q = run.state;
  weight_concentration_ = q.weight_concentration;
  mean_precision_ = q.mean_precision;
  means_ = q.means;
  degrees_of_freedom_ = q.degrees_of_freedom;
  covariances_ = q.covariances;
  precisions_cholesky_ = q.precisions_chol;
  weights_ = expected_weights(q, dp);
  lower_bound_ = best_lb;
  scalar_priors_ = at::tensor({priors.weight_concentration, priors.mean_precision, priors.degrees_of_freedom},
                              means_.options());
  mean_prior_ = priors.mean;
  covariance_prior_ = priors.covariance;

  std::vector<std::string> columns = train.columns;
  if (columns.empty()) {
    for (int64_t j = 0; j < d; ++j) columns.push_back("x" + std::to_string(j));
  }
  schema_ = {{"data_kind", "table"}, {"columns", columns}, {"n_features", d}};
  best.objective_name = "variational lower bound (sum over rows, constants dropped, as scikit-learn)";
  best.extra["init_lower_bounds"] = init_bounds;
  best.extra["n_rows"] = n;
  best.extra["effective_components"] = (weights_ > 1e-2).sum().item<int64_t>();
  best.extra["train_mean_log_predictive"] = score(x);
  if (ctx.validation && ctx.validation->x.defined()) {
    best.extra["validation_mean_log_predictive"] = score(ctx.validation->x);
  }
  best.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report_ = best;
  return report_;
}

FitReport BayesianGaussianMixture::update(const Dataset& more, const FitContext& ctx) {
  return stats::warm_start_update(fitted(), fitted() ? means_.size(1) : 0, "bgmm", options_.warm_start, more,
                                  [&] { return fit(more, ctx); });
}

torch::Tensor BayesianGaussianMixture::score_samples(const torch::Tensor& x_in) const {
  auto x = prepare_input(x_in, "score samples");
  const CovType type = stats::parse_cov_type(options_.covariance_type);
  const int64_t k = means_.size(0), d = means_.size(1);
  const auto t = predictive(degrees_of_freedom_, mean_precision_, d);
  const double half_d = 0.5 * static_cast<double>(d);
  auto quad = stats::mahalanobis_sq(x, means_, precisions_cholesky_, type) / t.scale.unsqueeze(0);  // [N, K]
  auto log_norm = at::lgamma(0.5 * t.dof + half_d) - at::lgamma(0.5 * t.dof) - half_d * (t.dof.log() + kLogPi) +
                  stats::log_det_cholesky(precisions_cholesky_, type, k, d) - half_d * t.scale.log();  // [K]
  auto log_t = log_norm.unsqueeze(0) - (0.5 * t.dof + half_d).unsqueeze(0) * at::log1p(quad / t.dof.unsqueeze(0));
  return at::logsumexp(log_t + weights_.log().unsqueeze(0), 1).to(at::kDouble);
}

namespace {
// E_q[log pi_k + log N(x | mu_k, Lambda_k)] for rows already checked by prepare_input: the variational E-step's
// weighted log-probabilities. [N, K]
at::Tensor variational_joint(const BayesianGaussianMixture& m, const at::Tensor& x) {
  const auto& o = m.options();
  const Posterior q{m.weight_concentration(), m.mean_precision(), m.means(), m.degrees_of_freedom(),
                    m.covariances(),          m.precisions_cholesky()};
  const bool dp = o.weight_concentration_prior_type == "dirichlet_process";
  return stats::log_gaussian_prob(x, q.means, q.precisions_chol, stats::parse_cov_type(o.covariance_type)) +
         e_step_offset(q, dp, q.means.size(1)).unsqueeze(0);
}
}  // namespace

torch::Tensor BayesianGaussianMixture::variational_log_prob(const torch::Tensor& x) const {
  return at::logsumexp(variational_joint(*this, prepare_input(x, "score samples")), 1).to(at::kDouble);
}

torch::Tensor BayesianGaussianMixture::predict_proba(const torch::Tensor& x) const {
  return at::softmax(variational_joint(*this, prepare_input(x, "predict")), 1);
}

torch::Tensor BayesianGaussianMixture::predict(const torch::Tensor& x) const { return predict_proba(x).argmax(1); }

torch::Tensor BayesianGaussianMixture::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first",
              "this BayesianGaussianMixture is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  const int64_t k = means_.size(0), d = means_.size(1);
  auto cpu = at::TensorOptions().dtype(at::kDouble);
  const CovType type = stats::parse_cov_type(options_.covariance_type);
  const auto t = predictive(degrees_of_freedom_.to(at::kCPU, at::kDouble), mean_precision_.to(at::kCPU, at::kDouble), d);
  auto comps = at::multinomial(weights_.to(at::kCPU, at::kDouble), n, /*replacement=*/true, gen);  // [n]
  auto z = at::randn({n, d}, gen, cpu);                                                          // [n, D]
  // A Student-t draw is a Gaussian draw scaled by sqrt(dof / chi2(dof)).
  auto dof = t.dof.index_select(0, comps);                                             // [n]
  auto chi2 = 2.0 * at::_standard_gamma(0.5 * dof, gen);                              // [n]
  auto stretch = (dof / chi2).sqrt().unsqueeze(1);                                     // [n, 1]
  auto full = stats::full_covariances(covariances_.to(at::kCPU, at::kDouble), type, k, d) * t.scale.view({k, 1, 1});
  auto chol = at::linalg_cholesky(full);  // [K, D, D]
  auto means = means_.to(at::kCPU, at::kDouble);
  auto out = at::empty({n, d}, cpu);
  for (int64_t c = 0; c < k; ++c) {
    auto rows = comps.eq(c).nonzero().squeeze(1);
    if (rows.numel() == 0) continue;
    auto draws = at::mm(z.index_select(0, rows) * stretch.index_select(0, rows), chol[c].t());
    out.index_copy_(0, rows, draws + means[c]);
  }
  return out.to(means_.device());
}

torch::Tensor BayesianGaussianMixture::fill_missing(const torch::Tensor& x_in, int64_t draws, at::Generator* gen) const {
  auto x = prepare_input(x_in, "impute", /*allow_missing=*/true);
  const int64_t k = means_.size(0), d = means_.size(1);
  const auto t = predictive(degrees_of_freedom_, mean_precision_, d);
  auto scale = stats::full_covariances(covariances_, stats::parse_cov_type(options_.covariance_type), k, d) *
               t.scale.view({k, 1, 1});  // [K, D, D] the predictive t's scale matrices
  return stats::fill_from_mixture(x, weights_, means_, scale, t.dof, draws, gen);
}

torch::Tensor BayesianGaussianMixture::conditional_mean(const torch::Tensor& x) const {
  return fill_missing(x, 0, nullptr)[0];
}

torch::Tensor BayesianGaussianMixture::conditional_sample(const torch::Tensor& x, at::Generator& gen) const {
  return fill_missing(x, 1, &gen)[0];
}

torch::Tensor BayesianGaussianMixture::conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const {
  GF_CHECK(m >= 1, "the number of draws must be at least 1, got ", m);
  return fill_missing(x, m, &gen);
}

TensorMap BayesianGaussianMixture::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this BayesianGaussianMixture is not fitted yet");
  return {{"weights", weights_},
          {"weight_concentration", weight_concentration_},
          {"mean_precision", mean_precision_},
          {"means", means_},
          {"degrees_of_freedom", degrees_of_freedom_},
          {"covariances", covariances_},
          {"precisions_cholesky", precisions_cholesky_},
          {"scalar_priors", scalar_priors_},
          {"mean_prior", mean_prior_},
          {"covariance_prior", covariance_prior_},
          {"lower_bound", at::tensor({lower_bound_}, means_.options())}};
}

void BayesianGaussianMixture::load_state(const TensorMap& t) {
  const int64_t k = options_.n_components;
  const auto& m = stored_tensor(t, "means");
  GF_CHECK(m.dim() == 2 && m.size(0) == k, "means has shape ", m.sizes(), ", expected [", k, ", D]");
  const int64_t d = m.size(1);
  const CovType type = stats::parse_cov_type(options_.covariance_type);
  const bool dp = options_.weight_concentration_prior_type == "dirichlet_process";
  auto expect = [&](const char* name, std::vector<int64_t> shape) {
    const auto& v = stored_tensor(t, name, shape);
    GF_CHECK(v.scalar_type() == model_dtype(options_), "tensor '", name, "' has dtype ", v.scalar_type(),
             ", expected ", options_.dtype);
    GF_CHECK(v.isfinite().all().item<bool>(), "tensor '", name, "' holds non-finite values");
  };
  expect("weights", {k});
  expect("weight_concentration", dp ? std::vector<int64_t>{2, k} : std::vector<int64_t>{k});
  expect("mean_precision", {k});
  expect("degrees_of_freedom", {k});
  expect("covariances", stats::covariance_shape(type, k, d));
  expect("precisions_cholesky", stats::covariance_shape(type, k, d));
  expect("scalar_priors", {3});
  expect("mean_prior", {d});
  expect("lower_bound", {1});
  weights_ = t.at("weights");
  weight_concentration_ = t.at("weight_concentration");
  mean_precision_ = t.at("mean_precision");
  means_ = m;
  degrees_of_freedom_ = t.at("degrees_of_freedom");
  covariances_ = t.at("covariances");
  precisions_cholesky_ = t.at("precisions_cholesky");
  scalar_priors_ = t.at("scalar_priors");
  mean_prior_ = t.at("mean_prior");
  covariance_prior_ = stored_tensor(t, "covariance_prior");
  lower_bound_ = t.at("lower_bound").item<double>();
}

}  // namespace gf
