#include "genforge/models/hmm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "models/hmm/emissions.h"
#include "models/state_checks.h"
#include "stats/gaussian_mixture.h"
#include "genforge/core/distributed.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "stats/markov.h"

namespace gf {
using stats::CovType;
using namespace hmm_detail;

namespace {

bool has_letter(const std::string& letters, char c) { return letters.find(c) != std::string::npos; }

void check_letters(const char* name, const std::string& value) {
  for (char c : value) {
    GF_CHECK(c == 's' || c == 't' || c == 'e', name, " may hold only the letters s (start), t (transitions) and ",
             "e (emissions), got '", value, "'");
  }
}

}  // namespace

void HmmOptions::validate() const {
  GF_CHECK(n_components >= 1, "n_components must be at least 1, got ", n_components);
  GF_CHECK(emission == "gaussian" || emission == "categorical" || emission == "gmm",
           "emission must be gaussian, categorical or gmm, got '", emission, "'");
  stats::parse_cov_type(covariance_type);
  GF_CHECK(emission != "gmm" || covariance_type != "tied",
           "gmm emissions take full, diag or spherical covariances, got 'tied'");
  GF_CHECK(n_mix >= 1, "n_mix must be at least 1, got ", n_mix);
  GF_CHECK(n_features >= 0, "n_features must be 0 (from the data) or a number of symbols, got ", n_features);
  GF_CHECK(topology == "ergodic" || topology == "left-right", "topology must be ergodic or left-right, got '",
           topology, "'");
  check_letters("params", params);
  check_letters("init_params", init_params);
  GF_CHECK(max_iter >= 1, "max_iter must be at least 1, got ", max_iter);
  GF_CHECK(tol >= 0, "tol must be non-negative, got ", tol);
  GF_CHECK(reg_covar >= 0, "reg_covar must be non-negative, got ", reg_covar);
  GF_CHECK(pseudocount >= 0, "pseudocount must be non-negative, got ", pseudocount);
  GF_CHECK(decoder == "viterbi" || decoder == "map", "decoder must be viterbi or map, got '", decoder, "'");
}

const OptionTable<HmmOptions>& HiddenMarkovModel::option_table() {
  static const OptionTable<HmmOptions> table = [] {
    OptionTable<HmmOptions> t("hmm");
    t.add("n_components", &HmmOptions::n_components, "number of hidden states")
        .add("emission", &HmmOptions::emission, "emission distribution of each state",
             {"gaussian", "categorical", "gmm"})
        .add("covariance_type", &HmmOptions::covariance_type, "covariance of Gaussian emissions",
             {"full", "diag", "tied", "spherical"})
        .add("n_mix", &HmmOptions::n_mix, "gmm emissions: Gaussians per state")
        .add("n_features", &HmmOptions::n_features, "categorical emissions: number of symbols (0: from the data)")
        .add("topology", &HmmOptions::topology, "allowed transitions (left-right: i -> i, i + 1)",
             {"ergodic", "left-right"})
        .add("params", &HmmOptions::params, "parameters EM updates: s start, t transitions, e emissions")
        .add("init_params", &HmmOptions::init_params, "parameters fit initialises (others via --init)")
        .add("max_iter", &HmmOptions::max_iter, "Baum-Welch iterations")
        .add("tol", &HmmOptions::tol, "stop when the total log-likelihood rises less than this")
        .add("reg_covar", &HmmOptions::reg_covar, "added to covariance diagonals")
        .add("pseudocount", &HmmOptions::pseudocount, "added to expected start, transition and symbol counts")
        .add("seed", &HmmOptions::seed, "random seed of the initialisation")
        .add("decoder", &HmmOptions::decoder, "predict: best path or most probable state per step",
             {"viterbi", "map"});
    return t;
  }();
  return table;
}

HiddenMarkovModel::HiddenMarkovModel(HmmOptions options) : options_(std::move(options)) {}

Capabilities HiddenMarkovModel::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::sequences;
  c.likelihood = Likelihood::exact;
  c.missing_values = true;
  return c;
}

nlohmann::json HiddenMarkovModel::options_json() const { return option_table().to_json(options_); }

std::vector<std::string> HiddenMarkovModel::init_names() const {
  if (options_.emission == "categorical") return {"startprob", "transmat", "emissionprob"};
  if (options_.emission == "gmm") return {"startprob", "transmat", "means", "covars", "weights"};
  return {"startprob", "transmat", "means", "covars"};
}

void HiddenMarkovModel::set_init(const std::string& name, const torch::Tensor& value) {
  const auto names = init_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) Model::set_init(name, value);
  init_[name] = value.to(at::kDouble);
}

namespace {


at::Tensor normalise_rows(const at::Tensor& counts, const at::Tensor& fallback) {
  auto total = counts.sum(-1, /*keepdim=*/true);
  auto ok = total > 0;
  return at::where(ok, counts / at::where(ok, total, at::ones_like(total)), fallback);
}

}  // namespace

torch::Tensor HiddenMarkovModel::prepare_input(const torch::Tensor& x_in, const char* what) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train hmm ...`) or load a fitted one",
              "this HiddenMarkovModel is not fitted yet, so it cannot ", what);
  GF_CHECK(x_in.defined() && (x_in.dim() == 2 || (x_in.dim() == 1 && options_.emission == "categorical")),
           "data for ", what, " must be a 2-D [N, D] matrix, got ", x_in.defined() ? x_in.dim() : 0, " dimensions");
  auto x = (x_in.dim() == 1 ? x_in.unsqueeze(1) : x_in).to(at::kCPU, at::kDouble);
  const int64_t d = options_.emission == "categorical" ? 1 : means_.size(-1);
  GF_CHECK_AS(DataError, x.size(1) == d, "give the columns the model was fitted on", "the data has ", x.size(1),
              " columns, the model was fitted on ", d);
  GF_CHECK_AS(DataError, !x.isinf().any().item<bool>(), "replace infinities with finite values or NaN",
              "the data holds infinite values");
  return x;
}

namespace {


// Statistics of one E-step (or of the labels) that the M-step turns into parameters.
struct Stats {
  at::Tensor start, trans, gamma, within;  // [K], [K, K], [N, K], [N, K * M]
};

HmmParams m_step(const Stats& st, const Observations& obs, const HmmParams& old, const HmmOptions& o,
                 const at::Tensor& start_mask, const at::Tensor& trans_mask) {
  HmmParams p = old;
  const double pc = o.pseudocount;
  if (has_letter(o.params, 's')) p.startprob = normalise_rows(st.start + pc * start_mask, old.startprob);
  if (has_letter(o.params, 't')) p.transmat = normalise_rows(st.trans + pc * trans_mask, old.transmat);
  if (!has_letter(o.params, 'e')) return p;
  if (o.emission == "categorical") {
    const int64_t k = old.emissionprob.size(0), v = old.emissionprob.size(1);
    auto seen = obs.missing.logical_not().nonzero().squeeze(1);
    auto counts = at::zeros({v, k}, st.gamma.options())
                      .index_add_(0, obs.ids.index_select(0, seen), st.gamma.index_select(0, seen));  // [V, K]
    p.emissionprob = normalise_rows(counts.t() + pc, old.emissionprob);
    return p;
  }
  const CovType type = stats::parse_cov_type(o.covariance_type);
  at::Tensor resp = st.gamma;  // [N, C]
  const int64_t k = st.gamma.size(1);
  if (o.emission == "gmm") {
    const int64_t m = old.mix.size(1);
    resp = (st.gamma.unsqueeze(2) * st.within.view({-1, k, m})).reshape({-1, k * m});
  }
  stats::Params next;
  if (obs.layout.any_missing) {
    stats::estimate_parameters_with_missing(obs.x, obs.layout, resp, old.g, o.reg_covar, type, next);
  } else {
    stats::estimate_parameters(obs.x, resp, {}, o.reg_covar, type, next);
  }
  // Components that received no mass keep their parameters (EM has nothing to say about them).
  auto mass = resp.sum(0);  // [C]
  auto alive = mass > 1e-10;
  const int64_t c = mass.size(0);
  auto keep = [&](const at::Tensor& fresh, const at::Tensor& stale) {
    if (fresh.dim() == 0 || fresh.size(0) != c) return fresh;  // tied: one shared matrix
    std::vector<int64_t> shape(static_cast<size_t>(fresh.dim()), 1);
    shape[0] = c;
    return at::where(alive.view(shape), fresh, stale);
  };
  next.means = keep(next.means, old.g.means);
  next.covariances = keep(next.covariances, old.g.covariances);
  next.precisions_chol = stats::precisions_cholesky(next.covariances, type, mass.clamp_min(1.0), o.reg_covar);
  p.g = next;
  if (o.emission == "gmm") {
    const int64_t m = old.mix.size(1);
    p.mix = normalise_rows(mass.view({k, m}), old.mix);
  }
  return p;
}

// Start, transition and emission statistics of the labelled steps (one-hot posteriors; unlabelled steps
// contribute nothing).
Stats label_stats(const at::Tensor& labels, const std::vector<int64_t>& offsets, int64_t k, int64_t n_mix) {
  Stats st;
  auto lab = labels.contiguous();
  const int64_t* l = lab.data_ptr<int64_t>();
  const int64_t n = lab.numel();
  auto dopt = at::TensorOptions().dtype(at::kDouble);
  st.start = at::zeros({k}, dopt);
  st.trans = at::zeros({k, k}, dopt);
  auto s = st.start.accessor<double, 1>();
  auto t = st.trans.accessor<double, 2>();
  for (size_t q = 0; q + 1 < offsets.size(); ++q) {
    if (l[offsets[q]] >= 0) s[l[offsets[q]]] += 1;
    for (int64_t i = offsets[q] + 1; i < offsets[q + 1]; ++i) {
      if (l[i - 1] >= 0 && l[i] >= 0) t[l[i - 1]][l[i]] += 1;
    }
  }
  auto known = lab >= 0;
  st.gamma = at::zeros({n, k}, dopt);
  auto rows = known.nonzero().squeeze(1);
  st.gamma.index_put_({rows, lab.index_select(0, rows)}, at::ones({rows.numel()}, dopt));
  st.within = at::full({n, k * n_mix}, 1.0 / static_cast<double>(n_mix), dopt);
  return st;
}

}  // namespace

FitReport HiddenMarkovModel::update(const Dataset& more, const FitContext& ctx) {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train hmm ...`)",
              "this HiddenMarkovModel is not fitted yet, so it cannot be updated");
  // hmmlearn's init_params="": every parameter starts where the last fit left it.
  const TensorMap given = init_;
  const std::string init_params = options_.init_params;
  const std::map<std::string, at::Tensor> current = {{"startprob", startprob_}, {"transmat", transmat_},
                                                     {"emissionprob", emissionprob_}, {"means", means_},
                                                     {"covars", covars_}, {"weights", weights_}};
  for (const auto& name : init_names()) init_[name] = current.at(name).to(at::kDouble);
  options_.init_params = "";
  try {
    FitReport report = fit(more, ctx);
    init_ = given;
    options_.init_params = init_params;
    return report;
  } catch (...) {
    init_ = given;
    options_.init_params = init_params;
    throw;
  }
}

FitReport HiddenMarkovModel::fit(const Dataset& train, const FitContext& ctx) {
  options_.validate();
  const auto started = std::chrono::steady_clock::now();
  const HmmOptions& o = options_;
  GF_CHECK(train.x.defined() && (train.x.dim() == 2 || (train.x.dim() == 1 && o.emission == "categorical")),
           "training data must be a 2-D [N, D] matrix, got ", train.x.defined() ? train.x.dim() : 0, " dimensions");
  auto x = (train.x.dim() == 1 ? train.x.unsqueeze(1) : train.x).to(at::kCPU, at::kDouble);  // [N, D]
  const int64_t n = x.size(0), d = x.size(1), k = o.n_components;
  GF_CHECK_AS(DataError, !x.isinf().any().item<bool>(), "replace infinities with finite values or NaN",
              "the training data holds infinite values");
  const auto offsets = sequence_offsets(train.lengths, n);
  const bool categorical = o.emission == "categorical", mixture = o.emission == "gmm";
  const int64_t n_mix = mixture ? o.n_mix : 1;
  // Category codes (a text's characters or words, an ordinal column) are symbols, not numbers on a line.
  const bool codes = !train.features.empty() &&
                     std::all_of(train.features.begin(), train.features.end(), [](const TableFeature& f) {
                       return f.type == ColumnType::categorical && f.encoding == "ordinal";
                     });
  GF_CHECK_AS(DataError, categorical || !codes, "train with --emission categorical: each state emits symbols",
              "the data is category codes (column '", train.features.front().column, "', ",
              train.features.front().n_categories, " categories), which ", o.emission,
              " emissions would read as numbers");

  int64_t v = o.n_features;
  if (categorical && v == 0 && codes && train.features.size() == 1) v = train.features.front().n_categories;
  if (categorical && init_.count("emissionprob")) v = init_.at("emissionprob").size(1);
  Observations obs = observe(x, o, v);
  if (categorical && v == 0) {
    auto seen = obs.ids.masked_select(obs.missing.logical_not());
    GF_CHECK_AS(DataError, seen.numel() > 0, "give at least one observed symbol", "every observation is missing");
    v = seen.max().item<int64_t>() + 1;
  }
  if (!categorical) {
    GF_CHECK_AS(DataError, obs.layout.complete_rows.numel() >= k * n_mix,
                "give more complete observations or fewer states", "the data has ",
                obs.layout.complete_rows.numel(), " complete observations, fewer than the ", k * n_mix,
                " Gaussians to initialise");
  }

  at::Tensor labels;
  int64_t n_labelled = 0;
  if (train.labels.defined()) {
    labels = train.labels.to(at::kCPU, at::kLong).reshape({-1});
    GF_CHECK_AS(DataError, labels.numel() == n, "give one state label per observation (-1 = unknown)", "there are ",
                labels.numel(), " state labels for ", n, " observations");
    auto bad = ((labels < -1) | (labels >= k)).nonzero();
    GF_CHECK_AS(DataError, bad.numel() == 0, "state labels are 0 .. n_components - 1, or -1 for unknown",
                "state label ", bad.numel() ? labels[bad[0].item<int64_t>()].item<int64_t>() : 0, " at row ",
                bad.numel() ? bad[0].item<int64_t>() : 0, " is out of range for ", k, " states");
    n_labelled = (labels >= 0).sum().item<int64_t>();
  }

  // Initial parameters: given ones (set_init), else by init_params.
  auto dopt = at::TensorOptions().dtype(at::kDouble);
  at::Generator gen = make_generator(static_cast<uint64_t>(o.seed));
  const bool left_right = o.topology == "left-right";
  auto need = [&](const char* name, char letter) {
    if (init_.count(name)) return false;
    GF_CHECK(has_letter(o.init_params, letter), "no initial '", name, "' was given and init_params '",
             o.init_params, "' does not initialise it; give it with --init ", name, "=FILE.npy or add '", letter,
             "' to init_params");
    return true;
  };
  HmmParams p;
  if (need("startprob", 's')) {
    p.startprob = left_right ? at::zeros({k}, dopt).index_fill_(0, at::zeros({1}, at::kLong), 1.0)
                             : at::full({k}, 1.0 / static_cast<double>(k), dopt);
  } else {
    p.startprob = init_.at("startprob").reshape({-1});
    GF_CHECK(p.startprob.numel() == k, "startprob must have ", k, " entries, got ", p.startprob.numel());
  }
  if (need("transmat", 't')) {
    if (left_right) {
      p.transmat = at::zeros({k, k}, dopt);
      for (int64_t i = 0; i < k; ++i) {
        p.transmat[i][i] = i + 1 < k ? 0.5 : 1.0;
        if (i + 1 < k) p.transmat[i][i + 1] = 0.5;
      }
    } else {
      p.transmat = at::full({k, k}, 1.0 / static_cast<double>(k), dopt);
    }
  } else {
    p.transmat = init_.at("transmat");
    GF_CHECK(p.transmat.sizes() == at::IntArrayRef({k, k}), "transmat must have shape [", k, ", ", k, "], got ",
             p.transmat.sizes());
  }
  GF_CHECK(((p.startprob >= 0).all() & (p.transmat >= 0).all()).item<bool>() &&
               std::abs(p.startprob.sum().item<double>() - 1) < 1e-6 &&
               ((p.transmat.sum(1) - 1).abs() < 1e-6).all().item<bool>(),
           "startprob and every row of transmat must be probabilities summing to 1");
  const CovType type = stats::parse_cov_type(o.covariance_type);
  if (categorical) {
    if (need("emissionprob", 'e')) {
      auto u = at::rand({k, v}, gen, dopt);
      p.emissionprob = u / u.sum(1, true);
    } else {
      p.emissionprob = init_.at("emissionprob");
      GF_CHECK(p.emissionprob.dim() == 2 && p.emissionprob.size(0) == k, "emissionprob must have shape [", k,
               ", V], got ", p.emissionprob.sizes());
    }
  } else {
    const int64_t c = k * n_mix;
    const bool given = init_.count("means") && init_.count("covars");
    if (!given) need(init_.count("means") ? "covars" : "means", 'e');
    if (!given || !init_.count("means") || !init_.count("covars")) {
      auto filled = stats::fill_missing_with_means(x);
      auto complete = filled.index_select(0, obs.layout.complete_rows.numel() > 0 ? obs.layout.complete_rows
                                                                                   : at::arange(n, at::kLong));
      auto resp = stats::initial_responsibilities(complete, c, "kmeans", {}, gen);  // [Nc, C]
      stats::estimate_parameters(complete, resp, {}, o.reg_covar, type, p.g);
    }
    if (init_.count("means")) p.g.means = init_.at("means").reshape({c, d});
    if (init_.count("covars")) {
      auto shape = stats::covariance_shape(type, c, d);
      p.g.covariances = init_.at("covars").reshape(shape);
    }
    p.g.precisions_chol = stats::precisions_cholesky(p.g.covariances, type, at::ones({c}, dopt), o.reg_covar);
    if (mixture) {
      p.mix = init_.count("weights") ? init_.at("weights").reshape({k, n_mix})
                                     : at::full({k, n_mix}, 1.0 / static_cast<double>(n_mix), dopt);
    }
  }
  // Zero-preserving masks: pseudocounts go only where the initial parameters allow a transition.
  const at::Tensor start_mask = (p.startprob > 0).to(at::kDouble), trans_mask = (p.transmat > 0).to(at::kDouble);

  FitReport report;
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("hmm Baum-Welch", o.max_iter, "iter");
  const bool supervised = n_labelled == n;
  if (n_labelled > 0) {
    // Labelled counts: the maximum-likelihood answer when every step is labelled, else EM's starting point.
    Stats st = label_stats(labels, offsets, k, n_mix);
    if (mixture) {
      at::Tensor ls;
      emission_prob(obs, p, o, &ls, &st.within);
    }
    HmmOptions counting = o;
    if (!supervised) counting.pseudocount = std::max(1.0, o.pseudocount);  // keep unseen moves possible for EM
    p = m_step(st, obs, p, counting, start_mask, trans_mask);
  }
  at::Tensor clamp;  // [N, K] 1 where a step may be in a state
  if (n_labelled > 0 && !supervised) {
    clamp = at::where((labels >= 0).unsqueeze(1),
                      at::one_hot(labels.clamp_min(0), k).to(at::kDouble), at::ones({n, k}, dopt));
  }
  // In a distributed job (genforge launch) each rank runs the E-step on a share of the sequences and the
  // posteriors are summed; the M-step then sees every row's, as in one process.
  dist::Communicator& comm = dist::world();
  const int64_t n_seq = static_cast<int64_t>(offsets.size()) - 1;
  const bool sharded = comm.distributed() && n_seq >= comm.size();
  int64_t row0 = 0, row1 = n;
  std::vector<int64_t> my_offsets = offsets;
  Observations my_obs;
  if (sharded) {
    const auto [q0, q1] = dist::shard(n_seq, comm.rank(), comm.size());
    row0 = offsets[static_cast<size_t>(q0)];
    row1 = offsets[static_cast<size_t>(q1)];
    my_offsets.assign(offsets.begin() + q0, offsets.begin() + q1 + 1);
    for (auto& off : my_offsets) off -= row0;
    my_obs = observe(x.slice(0, row0, row1), o, v);
  }
  const Observations& e_obs = sharded ? my_obs : obs;
  double ll = -std::numeric_limits<double>::infinity();
  for (int64_t it = 1; it <= (supervised ? 0 : o.max_iter); ++it) {
    log::ScopedTimer timer("hmm.em");
    const double prev = ll;
    Stats st;
    at::Tensor log_scale;
    auto prob = emission_prob(e_obs, p, o, &log_scale, mixture ? &st.within : nullptr);  // [N, K]
    if (clamp.defined()) prob *= clamp.slice(0, row0, row1);
    auto fb = stats::forward_backward(prob, log_scale, my_offsets, p.startprob, p.transmat, /*posteriors=*/true);
    ll = fb.seq_log_likelihood.sum().item<double>();
    if (sharded) {
      auto gamma = at::zeros({n, k}, dopt);
      gamma.slice(0, row0, row1).copy_(fb.gamma);
      auto totals = at::tensor({ll}, at::kDouble);
      std::vector<at::Tensor> parts{fb.start.contiguous(), fb.trans.contiguous(), gamma, totals};
      if (mixture) {
        auto within = at::zeros({n, st.within.size(1)}, dopt);
        within.slice(0, row0, row1).copy_(st.within);
        parts.push_back(within);
      }
      comm.all_reduce_sum(parts);
      fb.start = parts[0];
      fb.trans = parts[1];
      fb.gamma = parts[2];
      ll = totals.item<double>();
      if (mixture) st.within = parts[4];
    }
    GF_CHECK_AS(NumericalError, std::isfinite(ll),
                "check that every symbol can be emitted and every sequence is possible under the initial parameters",
                "the log-likelihood at Baum-Welch iteration ", it, " is ", ll);
    st.start = fb.start;
    st.trans = fb.trans;
    st.gamma = fb.gamma;
    p = m_step(st, obs, p, o, start_mask, trans_mask);
    report.history.push_back(ll);
    report.n_iter = it;
    if (bar) bar->update(it, msg("log-likelihood ", ll));
    if (it > 1 && std::abs(ll - prev) < o.tol) {
      report.converged = true;
      break;
    }
  }
  if (supervised) {
    report.n_iter = 1;
    report.converged = true;
  }
  startprob_ = p.startprob;
  transmat_ = p.transmat;
  if (categorical) {
    emissionprob_ = p.emissionprob;
    means_ = covars_ = weights_ = at::Tensor();
  } else {
    means_ = mixture ? p.g.means.view({k, n_mix, d}) : p.g.means;
    covars_ = p.g.covariances;
    if (mixture) {
      auto shape = covars_.sizes().vec();
      shape[0] = n_mix;
      shape.insert(shape.begin(), k);
      covars_ = covars_.reshape(shape);
    }
    weights_ = mixture ? p.mix : at::Tensor();
    emissionprob_ = at::Tensor();
  }
  // The final model's log-likelihood (EM's history holds each iteration's starting point).
  ll = score_sequences(x, train.lengths).sum().item<double>();
  if (bar) bar->finish(msg("log-likelihood ", ll));
  if (!report.converged) {
    log::warn(msg("Baum-Welch did not converge in max_iter=", o.max_iter, " iterations; raise max_iter or tol"));
  }
  report.objective = ll;
  report.objective_name = "total log-likelihood (nats)";
  report.extra["n_sequences"] = static_cast<int64_t>(offsets.size()) - 1;
  report.extra["n_observations"] = n;
  report.extra["labelled_observations"] = n_labelled;
  report.extra["training"] = supervised ? "supervised" : (n_labelled > 0 ? "semi-supervised" : "unsupervised");
  if (ctx.validation && ctx.validation->x.defined()) {
    report.extra["validation_log_likelihood"] =
        score_sequences(ctx.validation->x, ctx.validation->lengths).sum().item<double>();
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<std::string> columns = train.columns;
  if (columns.empty()) {
    for (int64_t j = 0; j < d; ++j) columns.push_back("x" + std::to_string(j));
  }
  schema_ = {{"data_kind", "sequences"}, {"columns", columns}, {"n_features", categorical ? v : d}};
  report_ = report;
  return report_;
}


torch::Tensor HiddenMarkovModel::scaled_emissions(const torch::Tensor& x, torch::Tensor* log_scale) const {
  auto obs = observe(x, options_, emissionprob_.defined() ? emissionprob_.size(1) : 0);
  return emission_prob(obs, params_of(*this), options_, log_scale);
}

torch::Tensor HiddenMarkovModel::emission_log_prob(const torch::Tensor& x) const {
  at::Tensor log_scale;
  auto prob = scaled_emissions(x, &log_scale);
  auto lp = prob.log();
  return log_scale.defined() ? lp + log_scale.unsqueeze(1) : lp;
}

torch::Tensor HiddenMarkovModel::score_sequences(const torch::Tensor& x_in, const torch::Tensor& lengths) const {
  auto x = prepare_input(x_in, "score sequences");
  auto offsets = sequence_offsets(lengths, x.size(0));
  at::Tensor log_scale;
  auto prob = scaled_emissions(x, &log_scale);
  return stats::forward_backward(prob, log_scale, offsets, startprob_, transmat_, false).seq_log_likelihood;
}

torch::Tensor HiddenMarkovModel::score_samples(const torch::Tensor& x_in) const {
  auto x = prepare_input(x_in, "score samples");
  at::Tensor log_scale;
  auto prob = scaled_emissions(x, &log_scale);
  return stats::forward_backward(prob, log_scale, {0, x.size(0)}, startprob_, transmat_, false, /*steps=*/true)
      .step_log_likelihood;
}

torch::Tensor HiddenMarkovModel::predict_proba(const torch::Tensor& x_in, const torch::Tensor& lengths) const {
  auto x = prepare_input(x_in, "predict states");
  auto offsets = sequence_offsets(lengths, x.size(0));
  at::Tensor log_scale;
  auto prob = scaled_emissions(x, &log_scale);
  auto fb = stats::forward_backward(prob, log_scale, offsets, startprob_, transmat_, true);
  GF_CHECK_AS(DataError, fb.seq_log_likelihood.isfinite().all().item<bool>(),
              "the model gives such a sequence probability zero", "a sequence is impossible under the model");
  return fb.gamma;
}

torch::Tensor HiddenMarkovModel::viterbi(const torch::Tensor& x_in, const torch::Tensor& lengths,
                                         torch::Tensor* log_prob) const {
  auto x = prepare_input(x_in, "decode");
  auto offsets = sequence_offsets(lengths, x.size(0));
  at::Tensor best;
  auto path = stats::viterbi(emission_log_prob(x), offsets, startprob_.log(), transmat_.log(), &best);
  auto impossible = best.isinf().nonzero();
  GF_CHECK_AS(DataError, impossible.numel() == 0, "the model gives such a sequence probability zero", "sequence ",
              impossible.numel() ? impossible[0].item<int64_t>() : 0, " is impossible under the model");
  if (log_prob) *log_prob = best;
  return path;
}

torch::Tensor HiddenMarkovModel::predict(const torch::Tensor& x, const torch::Tensor& lengths) const {
  if (options_.decoder == "map") return predict_proba(x, lengths).argmax(1);
  return viterbi(x, lengths);
}

int64_t HiddenMarkovModel::n_parameters() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this HiddenMarkovModel is not fitted yet");
  const std::string& params = options_.params;
  const int64_t k = startprob_.numel();
  int64_t count = 0;
  if (has_letter(params, 's')) count += (startprob_ > 0).sum().item<int64_t>() - 1;
  if (has_letter(params, 't')) count += (transmat_ > 0).sum().item<int64_t>() - k;
  if (!has_letter(params, 'e')) return count;
  if (options_.emission == "categorical") return count + k * (emissionprob_.size(1) - 1);
  const int64_t d = means_.size(-1);
  const int64_t c = options_.emission == "gmm" ? k * options_.n_mix : k;
  int64_t cov = 0;
  switch (stats::parse_cov_type(options_.covariance_type)) {
    case CovType::full: cov = c * d * (d + 1) / 2; break;
    case CovType::tied: cov = d * (d + 1) / 2; break;
    case CovType::diag: cov = c * d; break;
    case CovType::spherical: cov = c; break;
  }
  const int64_t mix = options_.emission == "gmm" ? k * (options_.n_mix - 1) : 0;
  return count + c * d + cov + mix;
}

double HiddenMarkovModel::aic(const torch::Tensor& x, const torch::Tensor& lengths) const {
  return -2.0 * score_sequences(x, lengths).sum().item<double>() + 2.0 * static_cast<double>(n_parameters());
}

double HiddenMarkovModel::bic(const torch::Tensor& x, const torch::Tensor& lengths) const {
  return -2.0 * score_sequences(x, lengths).sum().item<double>() +
         static_cast<double>(n_parameters()) * std::log(static_cast<double>(x.size(0)));
}

torch::Tensor HiddenMarkovModel::sample(int64_t n, at::Generator& gen) const { return sample(n, gen, nullptr); }

torch::Tensor HiddenMarkovModel::sample(int64_t n, at::Generator& gen, torch::Tensor* states_out) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this HiddenMarkovModel is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  const int64_t k = startprob_.numel();
  auto dopt = at::TensorOptions().dtype(at::kDouble);
  // All randomness drawn up front, in a fixed order, so a seed gives one sequence.
  auto u_state = at::rand({n}, gen, dopt), u_emit = at::rand({n}, gen, dopt);
  auto cum_start = startprob_.cumsum(0).contiguous(), cum_trans = transmat_.cumsum(1).contiguous();
  auto pick = [&](const double* cum, int64_t len, double u) {
    int64_t i = 0;
    while (i + 1 < len && u >= cum[i]) ++i;
    return i;
  };
  auto states = at::empty({n}, at::kLong);
  auto st = states.accessor<int64_t, 1>();
  auto us = u_state.accessor<double, 1>();
  for (int64_t t = 0; t < n; ++t) {
    st[t] = t == 0 ? pick(cum_start.data_ptr<double>(), k, us[t])
                   : pick(cum_trans.data_ptr<double>() + st[t - 1] * k, k, us[t]);
  }
  if (states_out) *states_out = states;
  auto ue = u_emit.accessor<double, 1>();
  if (options_.emission == "categorical") {
    const int64_t v = emissionprob_.size(1);
    auto cum = emissionprob_.cumsum(1).contiguous();
    auto out = at::empty({n, 1}, at::kLong);
    auto o = out.accessor<int64_t, 2>();
    for (int64_t t = 0; t < n; ++t) o[t][0] = pick(cum.data_ptr<double>() + st[t] * v, v, ue[t]);
    return out;
  }
  const int64_t d = means_.size(-1);
  const bool mixture = options_.emission == "gmm";
  const int64_t m = mixture ? options_.n_mix : 1;
  auto comp = states.clone();  // Gaussian component of each step
  if (mixture) {
    auto cum = weights_.cumsum(1).contiguous();
    auto c = comp.accessor<int64_t, 1>();
    for (int64_t t = 0; t < n; ++t) c[t] = st[t] * m + pick(cum.data_ptr<double>() + st[t] * m, m, ue[t]);
  }
  auto p = params_of(*this);
  auto chol = at::linalg_cholesky(stats::full_covariances(p.g.covariances, stats::parse_cov_type(options_.covariance_type),
                                                        k * m, d));  // [C, D, D]
  auto z = at::randn({n, d, 1}, gen, dopt);
  return p.g.means.index_select(0, comp) + at::bmm(chol.index_select(0, comp), z).squeeze(2);
}

TensorMap HiddenMarkovModel::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this HiddenMarkovModel is not fitted yet, so it cannot be saved");
  TensorMap t{{"startprob", startprob_}, {"transmat", transmat_}};
  if (emissionprob_.defined()) t["emissionprob"] = emissionprob_;
  if (means_.defined()) {
    t["means"] = means_;
    t["covars"] = covars_;
  }
  if (weights_.defined()) t["weights"] = weights_;
  return t;
}

void HiddenMarkovModel::load_state(const TensorMap& tensors) {
  auto get = [&](const char* name, const std::vector<int64_t>& shape) {
    return stored_tensor(tensors, name, shape).to(at::kDouble);
  };
  const int64_t k = options_.n_components;
  const bool mixture = options_.emission == "gmm";
  startprob_ = get("startprob", {k});
  transmat_ = get("transmat", {k, k});
  emissionprob_ = means_ = covars_ = weights_ = at::Tensor();
  if (options_.emission == "categorical") {
    emissionprob_ = get("emissionprob", {k, -1});
  } else {
    means_ = get("means", mixture ? std::vector<int64_t>{k, options_.n_mix, -1} : std::vector<int64_t>{k, -1});
    // As fit() shapes them: the mixture's k * n_mix components split into [k, n_mix].
    auto covars = stats::covariance_shape(stats::parse_cov_type(options_.covariance_type),
                                          mixture ? k * options_.n_mix : k, means_.size(-1));
    if (mixture) {
      covars[0] = options_.n_mix;
      covars.insert(covars.begin(), k);
    }
    covars_ = get("covars", covars);
    if (mixture) weights_ = get("weights", {k, options_.n_mix});
  }
  // Probabilities on the simplex and positive variances: a damaged file would otherwise score silently wrong.
  state_checks::simplex(startprob_, "startprob");
  state_checks::simplex(transmat_, "transmat");
  if (emissionprob_.defined()) state_checks::simplex(emissionprob_, "emissionprob");
  if (weights_.defined()) state_checks::simplex(weights_, "weights");
  if (covars_.defined()) {
    const CovType type = stats::parse_cov_type(options_.covariance_type);
    if (type == CovType::full || type == CovType::tied) {
      state_checks::positive_diagonal(covars_, "covars");
    } else {
      state_checks::positive(covars_, "covars");
    }
  }
}

}  // namespace gf
