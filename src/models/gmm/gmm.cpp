#include "genforge/models/gmm.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "models/state_checks.h"
#include "stats/gaussian_mixture.h"
#include "stats/restarts.h"

namespace gf {
using stats::CovType;

void GmmOptions::validate() const {
  stats::validate_shared_options(n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params, dtype);
}

const OptionTable<GmmOptions>& GaussianMixture::option_table() {
  static const OptionTable<GmmOptions> table = [] {
    OptionTable<GmmOptions> t("gmm");
    t.add("n_components", &GmmOptions::n_components, "number of mixture components")
        .add("covariance_type", &GmmOptions::covariance_type, "covariance of each component",
             {"full", "diag", "tied", "spherical"})
        .add("tol", &GmmOptions::tol, "stop when the mean log-likelihood changes less than this")
        .add("reg_covar", &GmmOptions::reg_covar, "added to covariance diagonals (keeps them invertible)")
        .add("max_iter", &GmmOptions::max_iter, "EM iterations per initialisation")
        .add("n_init", &GmmOptions::n_init, "initialisations; the one with the best likelihood is kept")
        .add("init_params", &GmmOptions::init_params, "how initial responsibilities are chosen",
             {"kmeans", "k-means++", "random", "random_from_data"})
        .add("warm_start", &GmmOptions::warm_start, "start from the previous fit (library use)")
        .add("seed", &GmmOptions::seed, "random seed of the initialisation")
        .add("dtype", &GmmOptions::dtype, "computation precision", {"float64", "float32"})
        .add("allow_missing", &GmmOptions::allow_missing, "marginalise NaN cells (false: they are an error)");
    return t;
  }();
  return table;
}

GaussianMixture::GaussianMixture(GmmOptions options) : options_(std::move(options)) {}

Capabilities GaussianMixture::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::table;
  c.likelihood = Likelihood::exact;
  c.conditional_sampling = true;
  c.missing_values = true;
  c.sample_weights = true;
  return c;
}

nlohmann::json GaussianMixture::options_json() const { return option_table().to_json(options_); }

void GaussianMixture::set_init(const std::string& name, const torch::Tensor& value) {
  if (name == "weights") {
    options_.weights_init = value;
  } else if (name == "means") {
    options_.means_init = value;
  } else if (name == "precisions") {
    options_.precisions_init = value;
  } else {
    Model::set_init(name, value);
  }
}

namespace {

at::ScalarType model_dtype(const GmmOptions& o) { return o.dtype == "float32" ? at::kFloat : at::kDouble; }

at::Tensor covariances_from_precisions(const at::Tensor& prec, CovType type) {
  return (type == CovType::full || type == CovType::tied) ? at::linalg_inv(prec) : prec.reciprocal();
}

}  // namespace

torch::Tensor GaussianMixture::prepare_input(const torch::Tensor& x, const char* what) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train gmm ...`) or load a fitted one",
              "this GaussianMixture is not fitted yet, so it cannot ", what);
  GF_CHECK(x.defined() && x.dim() == 2, "data for ", what, " must be a 2-D [N, D] matrix, got ",
           x.defined() ? x.dim() : 0, " dimensions");
  GF_CHECK_AS(DataError, x.size(1) == means_.size(1), "give the same columns the model was fitted on",
              "the data has ", x.size(1), " columns, the model was fitted on ", means_.size(1));
  auto out = x.to(means_.device(), means_.scalar_type());
  GF_CHECK_AS(DataError, !out.isinf().any().item<bool>(), "replace infinities with finite values or NaN",
              "the data holds infinite values");
  return out;
}

FitReport GaussianMixture::fit(const Dataset& train, const FitContext& ctx) {
  options_.validate();
  const auto started = std::chrono::steady_clock::now();
  const CovType type = stats::parse_cov_type(options_.covariance_type);
  stats::check_training_matrix(train.x, options_.n_components);
  const int64_t n = train.x.size(0), d = train.x.size(1), k = options_.n_components;
  {
    // EM holds a few [N, K] matrices (log-densities, responsibilities) and K covariances and their factors.
    const double element = options_.dtype == "float32" ? 4.0 : 8.0;
    const double per_component = type == CovType::full ? 2.0 * static_cast<double>(d) * d : 2.0 * d;
    check_memory_estimate(element * (3.0 * n * k + k * per_component + 2.0 * n * d),
                          msg("gmm with n_components=", k, " on ", n, " rows of ", d, " columns"),
                          "lower n_components, or fit on a sample of the rows (--limit)");
  }
  auto x = train.x.to(ctx.device, model_dtype(options_));  // [N, D]
  stats::check_rows(x, options_.allow_missing, train.columns, ", and allow_missing is false",
                    "drop or impute incomplete rows, or leave allow_missing true (the GMM then marginalises them)");
  const at::Tensor sw = stats::checked_sample_weight(train.sample_weight, x);  // [N] or undefined
  const auto layout = stats::analyse_missing(x);
  const auto x_filled = stats::fill_missing_with_means(x);

  // User-given initial parameters.
  auto dopt = x.options();
  at::Tensor w_init, m_init, p_init;
  if (options_.weights_init.defined()) {
    w_init = options_.weights_init.to(dopt).reshape({-1});
    GF_CHECK(w_init.numel() == k && (w_init >= 0).all().item<bool>(), "weights_init must be ", k,
             " non-negative numbers");
    w_init = w_init / w_init.sum();
  }
  if (options_.means_init.defined()) {
    m_init = options_.means_init.to(dopt);
    GF_CHECK(m_init.dim() == 2 && m_init.size(0) == k && m_init.size(1) == d, "means_init must have shape [", k,
             ", ", d, "], got ", m_init.sizes());
  }
  if (options_.precisions_init.defined()) {
    p_init = options_.precisions_init.to(dopt);
    std::vector<int64_t> want = stats::covariance_shape(type, k, d);
    GF_CHECK(p_init.sizes().vec() == want, "precisions_init must have shape ", at::IntArrayRef(want), " for ",
             options_.covariance_type, " covariances, got ", p_init.sizes());
  }

  at::Generator gen = make_generator(static_cast<uint64_t>(options_.seed));
  auto initialise = [&]() {
    log::ScopedTimer timer("gmm.init");
    stats::Params p;
    if (!(w_init.defined() && m_init.defined() && p_init.defined())) {
      at::Tensor resp = stats::initial_responsibilities(x_filled, k, options_.init_params, sw, gen);  // [N, K]
      if (sw.defined()) resp *= sw.unsqueeze(1);
      stats::estimate_parameters(x_filled, resp, sw, options_.reg_covar, type, p);
    }
    if (w_init.defined()) p.weights = w_init;
    if (m_init.defined()) p.means = m_init;
    if (p_init.defined()) {
      p.precisions_chol = stats::precisions_cholesky_from_precisions(p_init, type);
      p.covariances = covariances_from_precisions(p_init, type);
    } else {
      p.precisions_chol = stats::precisions_cholesky(p.covariances, type, p.weights * n, options_.reg_covar);
    }
    return p;
  };

  const bool warm = options_.warm_start && fitted() && means_.size(1) == d && means_.size(0) == k;
  const int64_t n_init = warm ? 1 : options_.n_init;
  const double total_weight = sw.defined() ? sw.sum().item<double>() : static_cast<double>(n);
  // In a distributed job (genforge launch) each rank takes a share of the complete rows' E-step; statistics are
  // summed. (With missing cells every rank runs the whole E-step: same result, no speed-up.)
  const stats::EmData em_data =
      layout.any_missing ? stats::EmData{} : stats::prepare_em_data(x, sw, type, &dist::world());
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("gmm EM", n_init * options_.max_iter, "iter");
  auto start = [&](int64_t) {
    return warm ? stats::Params{weights_.to(dopt), means_.to(dopt), covariances_.to(dopt), precisions_cholesky_.to(dopt)}
                : initialise();
  };
  // One EM iteration: the E-step's mean log-likelihood of the current parameters, then the M-step.
  auto step = [&](stats::Params& p) {
    log::ScopedTimer timer("gmm.em");
    double lb;
    stats::Params next;
    if (layout.any_missing) {
      std::optional<log::ScopedTimer> t_e(std::in_place, "gmm.estep");
      auto weighted = stats::log_prob_with_missing(x, layout, p, type) + p.weights.log().unsqueeze(0);  // [N, K]
      auto norm = at::logsumexp(weighted, 1);  // [N]
      auto resp = (weighted - norm.unsqueeze(1)).exp_();
      if (sw.defined()) resp *= sw.unsqueeze(1);
      lb = (sw.defined() ? (norm * sw).sum() : norm.sum()).item<double>() / total_weight;
      t_e.reset();
      log::ScopedTimer t_m("gmm.mstep");
      stats::estimate_parameters_with_missing(x, layout, resp, p, options_.reg_covar, type, next);
    } else {
      stats::GaussianStats st;
      lb = stats::em_iteration(em_data, p.means, p.precisions_chol, p.weights.log(), type, options_.reg_covar,
                               /*want_resp_log_resp=*/false, st)
               .mean_log_norm;
      next.weights = st.nk / st.nk.sum();
      next.means = st.means;
      next.covariances = st.covariances;
    }
    next.precisions_chol =
        stats::precisions_cholesky(next.covariances, type, next.weights * total_weight, options_.reg_covar);
    p = std::move(next);
    return lb;
  };
  auto run = stats::best_of_restarts<stats::Params>(n_init, options_.max_iter, options_.tol, start, step,
                                                    bar ? &*bar : nullptr, "ll");
  const stats::Params& best_params = run.state;
  const std::vector<double>& init_bounds = run.init_objectives;
  FitReport best = run.report();
  if (!best.converged) {
    const auto& h = best.history;
    double change = h.size() >= 2 ? std::abs(h[h.size() - 1] - h[h.size() - 2]) : std::nan("");
    log::warn(msg("EM did not converge in max_iter=", options_.max_iter, " iterations (last change ", change,
                  " > tol ", options_.tol, "); raise max_iter or tol"));
  }
  weights_ = best_params.weights;
  means_ = best_params.means;
  covariances_ = best_params.covariances;
  precisions_cholesky_ = best_params.precisions_chol;
  best.objective_name = "mean log-likelihood (nats per row)";
  best.extra["init_lower_bounds"] = init_bounds;
  best.extra["n_rows"] = n;
  best.extra["rows_with_missing"] = n - layout.complete_rows.numel();
  if (ctx.validation && ctx.validation->x.defined()) {
    best.extra["validation_mean_log_likelihood"] = score(ctx.validation->x);
  }
  best.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<std::string> columns = train.columns;
  if (columns.empty()) {
    for (int64_t j = 0; j < d; ++j) columns.push_back("x" + std::to_string(j));
  }
  schema_ = {{"data_kind", "table"}, {"columns", columns}, {"n_features", d}};
  report_ = best;
  return report_;
}

FitReport GaussianMixture::update(const Dataset& more, const FitContext& ctx) {
  return stats::warm_start_update(fitted(), fitted() ? means_.size(1) : 0, "gmm", options_.warm_start, more,
                                  [&] { return fit(more, ctx); });
}

namespace {
at::Tensor weighted_log_prob(const at::Tensor& x, const stats::Params& p, CovType type) {
  auto layout = stats::analyse_missing(x);
  auto lp = layout.any_missing ? stats::log_prob_with_missing(x, layout, p, type)
                               : stats::log_gaussian_prob(x, p.means, p.precisions_chol, type);
  return lp + p.weights.log().unsqueeze(0);  // [N, K]
}
}  // namespace

torch::Tensor GaussianMixture::score_samples(const torch::Tensor& x_in) const {
  auto x = prepare_input(x_in, "score samples");
  stats::Params p{weights_, means_, covariances_, precisions_cholesky_};
  return at::logsumexp(weighted_log_prob(x, p, stats::parse_cov_type(options_.covariance_type)), 1).to(at::kDouble);
}

torch::Tensor GaussianMixture::predict_proba(const torch::Tensor& x_in) const {
  auto x = prepare_input(x_in, "predict");
  stats::Params p{weights_, means_, covariances_, precisions_cholesky_};
  return at::softmax(weighted_log_prob(x, p, stats::parse_cov_type(options_.covariance_type)), 1);
}

torch::Tensor GaussianMixture::predict(const torch::Tensor& x) const { return predict_proba(x).argmax(1); }

int64_t GaussianMixture::n_parameters() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GaussianMixture is not fitted yet");
  const int64_t k = means_.size(0), d = means_.size(1);
  int64_t cov = 0;
  switch (stats::parse_cov_type(options_.covariance_type)) {
    case CovType::full: cov = k * d * (d + 1) / 2; break;
    case CovType::tied: cov = d * (d + 1) / 2; break;
    case CovType::diag: cov = k * d; break;
    case CovType::spherical: cov = k; break;
  }
  return cov + k * d + k - 1;
}

double GaussianMixture::bic(const torch::Tensor& x) const {
  const double n = static_cast<double>(x.size(0));
  return -2.0 * score(x) * n + static_cast<double>(n_parameters()) * std::log(n);
}

double GaussianMixture::aic(const torch::Tensor& x) const {
  return -2.0 * score(x) * static_cast<double>(x.size(0)) + 2.0 * static_cast<double>(n_parameters());
}

torch::Tensor GaussianMixture::sample(int64_t n, at::Generator& gen) const { return sample(n, gen, nullptr); }

torch::Tensor GaussianMixture::sample(int64_t n, at::Generator& gen, torch::Tensor* components) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GaussianMixture is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  const int64_t k = means_.size(0), d = means_.size(1);
  auto cpu = at::TensorOptions().dtype(at::kDouble);
  auto comps = at::multinomial(weights_.to(at::kCPU, at::kDouble), n, /*replacement=*/true, gen);  // [n]
  auto z = at::randn({n, d}, gen, cpu);                                                          // [n, D]
  auto means = means_.to(at::kCPU, at::kDouble);
  auto full = stats::full_covariances(covariances_.to(at::kCPU, at::kDouble), stats::parse_cov_type(options_.covariance_type), k, d);
  auto chol = at::linalg_cholesky(full);  // [K, D, D]
  auto out = at::empty({n, d}, cpu);
  for (int64_t c = 0; c < k; ++c) {
    auto rows = comps.eq(c).nonzero().squeeze(1);
    if (rows.numel() == 0) continue;
    out.index_copy_(0, rows, at::addmm(means[c].unsqueeze(0), z.index_select(0, rows), chol[c].t()));
  }
  if (components) *components = comps;
  return out.to(means_.device());
}

torch::Tensor GaussianMixture::conditional_mean(const torch::Tensor& x_in) const {
  auto x = prepare_input(x_in, "impute");
  const auto full = stats::full_covariances(covariances_, stats::parse_cov_type(options_.covariance_type),
                                            means_.size(0), means_.size(1));
  return stats::fill_from_mixture(x, weights_, means_, full, {}, 0, nullptr)[0];
}

torch::Tensor GaussianMixture::conditional_sample(const torch::Tensor& x_in, at::Generator& gen) const {
  return conditional_samples(x_in, 1, gen)[0];
}

torch::Tensor GaussianMixture::conditional_samples(const torch::Tensor& x_in, int64_t m, at::Generator& gen) const {
  GF_CHECK(m >= 1, "the number of draws must be at least 1, got ", m);
  auto x = prepare_input(x_in, "impute");
  const auto full = stats::full_covariances(covariances_, stats::parse_cov_type(options_.covariance_type),
                                            means_.size(0), means_.size(1));
  return stats::fill_from_mixture(x, weights_, means_, full, {}, m, &gen);
}

TensorMap GaussianMixture::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GaussianMixture is not fitted yet");
  return {{"weights", weights_},
          {"means", means_},
          {"covariances", covariances_},
          {"precisions_cholesky", precisions_cholesky_}};
}

namespace {
// Mixture weights on the simplex, covariances and precision Cholesky factors with positive diagonals (positive
// entries for diagonal and spherical types): what a damaged file breaks first.
void check_loaded_covariances(stats::CovType type, const at::Tensor& w, const at::Tensor& c, const at::Tensor& pc) {
  state_checks::simplex(w, "weights");
  if (type == stats::CovType::full || type == stats::CovType::tied) {
    state_checks::positive_diagonal(c, "covariances");
    state_checks::positive_diagonal(pc, "precisions_cholesky");
  } else {
    state_checks::positive(c, "covariances");
    state_checks::positive(pc, "precisions_cholesky");
  }
}
}  // namespace

void GaussianMixture::load_state(const TensorMap& t) {
  const auto& w = stored_tensor(t, "weights");
  const auto& m = stored_tensor(t, "means");
  const auto& c = stored_tensor(t, "covariances");
  const auto& pc = stored_tensor(t, "precisions_cholesky");
  const int64_t k = options_.n_components;
  GF_CHECK(m.dim() == 2 && m.size(0) == k, "means has shape ", m.sizes(), ", expected [", k, ", D]");
  const int64_t d = m.size(1);
  GF_CHECK(w.dim() == 1 && w.size(0) == k, "weights has shape ", w.sizes(), ", expected [", k, "]");
  std::vector<int64_t> want = stats::covariance_shape(stats::parse_cov_type(options_.covariance_type), k, d);
  GF_CHECK(c.sizes().vec() == want && pc.sizes().vec() == want, "covariances have shape ", c.sizes(), ", expected ",
           at::IntArrayRef(want));
  auto dtype = model_dtype(options_);
  for (const auto* tensor : {&w, &m, &c, &pc}) {
    GF_CHECK(tensor->scalar_type() == dtype, "tensor dtype ", tensor->scalar_type(), " does not match dtype option ",
             options_.dtype);
    GF_CHECK(tensor->isfinite().all().item<bool>(), "tensor holds non-finite values");
  }
  check_loaded_covariances(stats::parse_cov_type(options_.covariance_type), w, c, pc);
  weights_ = w;
  means_ = m;
  covariances_ = c;
  precisions_cholesky_ = pc;
}

}  // namespace gf
