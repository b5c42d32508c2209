#include "genforge/models/bayesnet.h"

#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "privacy/noise.h"
#include "models/bayesnet/bayesnet_impl.h"
#include "models/synth_columns.h"
#include "stats/point_masses.h"
#include "stats/draws.h"

namespace gf {

using bayesnet::Codes;
using bayesnet::Cpt;
using bayesnet::Variable;

void BayesNetOptions::validate() const {
  GF_CHECK(structure == "hill_climb" || structure == "chow_liu", "structure must be hill_climb or chow_liu, got '",
           structure, "'");
  GF_CHECK(score == "bic" || score == "k2", "score must be bic or k2, got '", score, "'");
  GF_CHECK(max_parents >= 0 && max_parents <= 4, "max_parents must be in [0, 4], got ", max_parents);
  GF_CHECK(max_iter >= 0, "max_iter must be >= 0, got ", max_iter);
  GF_CHECK(bins >= 2, "bins must be at least 2, got ", bins);
  GF_CHECK(alpha > 0, "alpha must be > 0, got ", alpha);
  GF_CHECK(particles >= 1, "particles must be at least 1, got ", particles);
  GF_CHECK(dp_epsilon >= 0, "dp_epsilon must be >= 0 (0: no differential privacy), got ", dp_epsilon);
  GF_CHECK(dp_structure_share > 0 && dp_structure_share < 1, "dp_structure_share must be in (0, 1), got ",
           dp_structure_share);
  GF_CHECK(dp_bins == 0 || dp_bins >= 2, "dp_bins must be 0 (auto) or at least 2, got ", dp_bins);
  GF_CHECK(dp_bounds_share > 0 && dp_bounds_share < 1, "dp_bounds_share must be in (0, 1), got ", dp_bounds_share);
  privacy::parse_declared_ranges(dp_bounds);
}

const OptionTable<BayesNetOptions>& BayesianNetwork::option_table() {
  static const OptionTable<BayesNetOptions> table = [] {
    OptionTable<BayesNetOptions> t("bayesnet");
    t.add("structure", &BayesNetOptions::structure, "how the graph is learned", {"hill_climb", "chow_liu"})
        .add("score", &BayesNetOptions::score, "hill climbing's score", {"bic", "k2"})
        .add("max_parents", &BayesNetOptions::max_parents, "parents per column")
        .add("max_iter", &BayesNetOptions::max_iter, "hill-climbing moves at most")
        .add("bins", &BayesNetOptions::bins, "quantile bins of a numeric column with more distinct values")
        .add("alpha", &BayesNetOptions::alpha, "Dirichlet smoothing: pseudo-counts per parent configuration")
        .add("particles", &BayesNetOptions::particles, "likelihood weighting: particles per conditioned row")
        .add("dp_epsilon", &BayesNetOptions::dp_epsilon, "differential privacy (PrivBayes): ε of the fit (0: off)")
        .add("dp_structure_share", &BayesNetOptions::dp_structure_share, "part of ε spent choosing the graph")
        .add("dp_bins", &BayesNetOptions::dp_bins,
             "equal-width bins of a numeric column under DP (0: sqrt(n eps) of a table, within 3..8)")
        .add("dp_bounds", &BayesNetOptions::dp_bounds,
             "DP: public ranges, e.g. age:0..120,income:0..1e6 (others estimated privately; data: min and max)")
        .add("dp_bounds_share", &BayesNetOptions::dp_bounds_share, "DP: part of ε spent on the ranges not declared")
        .add("seed", &BayesNetOptions::seed, "PrivBayes' noise and choices");
    return t;
  }();
  return table;
}

BayesianNetwork::BayesianNetwork(BayesNetOptions options) : options_(std::move(options)) {}

Capabilities BayesianNetwork::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::table;
  c.likelihood = Likelihood::score;
  c.score_meaning = "the log-probability of the bins and categories plus the log uniform density inside each bin";
  c.conditional_sampling = true;
  c.missing_values = true;
  c.standard_normal_prior = false;
  return c;
}

nlohmann::json BayesianNetwork::options_json() const { return option_table().to_json(options_); }

void BayesianNetwork::check_fitted() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train bayesnet ...`) or load a fitted one",
              "the Bayesian network is not fitted");
}

namespace {

// `range`: the column's range under DP (declared or private), else null.
Variable make_variable(const std::string& name, const TableFeature* f, std::vector<double> values, bool has_missing,
                       const BayesNetOptions& o, const privacy::Range* range) {
  Variable v;
  v.name = name;
  v.has_missing = has_missing;
  if (f && f->type == ColumnType::categorical) {
    v.kind = Variable::categorical;
    v.n_values = f->n_categories;
    return v;
  }
  std::sort(values.begin(), values.end());
  if (range) {  // data-independent states: the private or declared range cut evenly (integers one by one)
    const double lo = range->lo, hi = range->hi;
    const bool integers = std::all_of(values.begin(), values.end(), [](double x) { return x == std::round(x); });
    if (integers && hi - lo + 1 <= static_cast<double>(o.dp_bins)) {
      v.kind = Variable::discrete;
      for (double x = lo; x <= hi; x += 1) v.values.push_back(x);
    } else {
      v.kind = Variable::binned;
      for (int64_t b = 0; b <= o.dp_bins; ++b) v.edges.push_back(lo + (hi - lo) * static_cast<double>(b) / static_cast<double>(o.dp_bins));
    }
    v.n_values = static_cast<int64_t>(v.kind == Variable::discrete ? v.values.size() : v.edges.size() - 1);
    return v;
  }
  const double lo = values.front(), hi = values.back();
  std::vector<double> distinct = values;
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (static_cast<int64_t>(distinct.size()) <= o.bins) {
    v.kind = Variable::discrete;
    v.values = distinct;
    v.n_values = static_cast<int64_t>(distinct.size());
    return v;
  }
  v.kind = Variable::binned;
  // Values holding at least 1/(2 bins) of the rows become states of their own; the rest is cut into equal-count
  // bins.
  auto split = stats::split_point_masses(values, 1.0 / (2.0 * static_cast<double>(o.bins)));
  v.masses = std::move(split.values);
  std::vector<double> rest = std::move(split.rest);
  if (rest.empty()) rest = {lo, hi};  // every value is a mass: one spare bin over the range
  const auto n = rest.size();
  const int64_t bins = std::max<int64_t>(1, o.bins - v.n_masses());
  for (int64_t b = 0; b <= bins; ++b) {
    const double e = rest[std::min(n - 1, static_cast<size_t>(static_cast<double>(b) / static_cast<double>(bins) * static_cast<double>(n)))];
    if (v.edges.empty() || e > v.edges.back()) v.edges.push_back(e);
  }
  if (v.edges.back() < rest.back()) v.edges.push_back(rest.back());
  if (v.edges.size() < 2) v.edges = {rest.front(), rest.back()};
  v.n_values = v.n_masses() + static_cast<int64_t>(v.edges.size() - 1);
  // Each bin's values, kept as at most 17 evenly spaced order statistics for sampling inside the bin.
  std::vector<std::vector<double>> inside(v.edges.size() - 1);
  for (double x : rest) {
    const auto s = v.state_of(x) - v.n_masses();
    if (s >= 0) inside[static_cast<size_t>(s)].push_back(x);
  }
  for (auto& in : inside) {
    std::vector<double> k;
    for (int q = 0; q <= 16 && !in.empty(); ++q) k.push_back(in[std::min(in.size() - 1, static_cast<size_t>(q / 16.0 * static_cast<double>(in.size() - 1) + 0.5))]);
    v.knots.push_back(k);
  }
  // Empty bins (possible after ties) fall back to their edges.
  for (size_t b = 0; b < v.knots.size(); ++b) {
    if (v.knots[b].empty()) v.knots[b] = {v.edges[b], v.edges[b + 1]};
  }
  return v;
}

Cpt fit_cpt(const Codes& codes, const std::vector<Variable>& vars, int64_t child, const std::vector<int64_t>& parents,
            const BayesNetOptions& o, double eps_table, at::Generator& gen) {
  Cpt cpt;
  cpt.parents = parents;
  const auto r = vars[static_cast<size_t>(child)].states();
  if (eps_table > 0) {  // every configuration, noisy counts (one row moves one cell by one: L1 sensitivity 1)
    int64_t q = 1;
    for (auto p : parents) q *= vars[static_cast<size_t>(p)].states();
    GF_CHECK_AS(InvalidArgument, q * r <= 5000000, "lower dp_bins or max_parents", "a private conditional table of '",
                vars[static_cast<size_t>(child)].name, "' would have ", q * r, " cells");
    std::vector<double> counts(static_cast<size_t>(q * r), 0.0);
    for (int64_t i = 0; i < codes.n; ++i) {
      const int64_t* row = codes.row(i);
      counts[static_cast<size_t>(bayesnet::config_key(parents, vars, row) * r + row[child])] += 1;
    }
    auto noise = privacy::laplace_noise(q * r, 1.0 / eps_table, gen);
    const double* pn = noise.data_ptr<double>();
    cpt.probs.resize(counts.size());
    for (int64_t c = 0; c < q; ++c) {
      double total = 0;
      for (int64_t k = 0; k < r; ++k) {
        const auto at = static_cast<size_t>(c * r + k);
        total += (cpt.probs[at] = std::max(0.0, counts[at] + pn[at]));
      }
      for (int64_t k = 0; k < r; ++k) {
        auto& p = cpt.probs[static_cast<size_t>(c * r + k)];
        p = total > 0 ? p / total : 1.0 / static_cast<double>(r);
      }
      cpt.row_of[c] = c;
    }
    cpt.fallback.assign(static_cast<size_t>(r), 1.0 / static_cast<double>(r));
    return cpt;
  }
  std::map<int64_t, std::vector<double>> by_config;  // ordered: the same table on every run
  std::vector<double> marginal(static_cast<size_t>(r), 0.0);
  for (int64_t i = 0; i < codes.n; ++i) {
    const int64_t* row = codes.row(i);
    auto& c = by_config[bayesnet::config_key(parents, vars, row)];
    if (c.empty()) c.assign(static_cast<size_t>(r), 0.0);
    c[static_cast<size_t>(row[child])] += 1;
    marginal[static_cast<size_t>(row[child])] += 1;
  }
  // Smoothing spreads `alpha` pseudo-counts over the states in the column's overall proportions, so that an
  // unseen combination stays rare rather than uniform.
  const double n = static_cast<double>(codes.n);
  for (auto& m : marginal) m = (m + o.alpha / static_cast<double>(r)) / (n + o.alpha);
  for (const auto& [key, counts] : by_config) {
    double total = 0;
    for (double c : counts) total += c;
    cpt.row_of[key] = static_cast<int64_t>(cpt.probs.size()) / r;
    for (int64_t k = 0; k < r; ++k) {
      cpt.probs.push_back((counts[static_cast<size_t>(k)] + o.alpha * marginal[static_cast<size_t>(k)]) / (total + o.alpha));
    }
  }
  cpt.fallback = marginal;
  return cpt;
}

}  // namespace

FitReport BayesianNetwork::fit(const Dataset& train, const FitContext&) {
  options_.validate();
  const auto start = std::chrono::steady_clock::now();
  GF_CHECK_AS(DataError, train.x.defined() && train.x.dim() == 2 && train.x.size(0) > 0,
              "give a table with at least one row", "the Bayesian network fits tables [N, D]");
  const auto x = train.x.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  GF_CHECK_AS(DataError, train.features.empty() || static_cast<int64_t>(train.features.size()) == d,
              "build the Dataset's features with the input pipeline", "the dataset describes ", train.features.size(),
              " features for ", d, " columns");
  const double* px = x.data_ptr<double>();
  auto impl = std::make_shared<Impl>();
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  const bool dp = options_.dp_epsilon > 0;
  std::vector<synth::ColumnView> views;
  for (int64_t j = 0; j < d; ++j) views.push_back(synth::column_view(train, x, j, "Bayesian network"));
  privacy::RangePlan ranges;  // DP: the numeric columns' ranges, declared or private
  if (dp) ranges = synth::numeric_ranges(views, options_.dp_bounds, options_.dp_epsilon * options_.dp_bounds_share, gen);
  const double eps_rest = options_.dp_epsilon - ranges.epsilon;  // the graph's and the tables'
  const double eps_table = dp ? eps_rest * (1 - options_.dp_structure_share) / static_cast<double>(d) : 0.0;
  BayesNetOptions variable_options = options_;  // dp_bins at auto: from the row count and each table's ε
  if (dp && options_.dp_bins == 0) variable_options.dp_bins = privacy::private_bins(static_cast<double>(n), eps_table, 1, 3, 8);
  for (auto& view : views) {
    const bool has_missing = static_cast<int64_t>(view.values.size()) < n;
    const auto range = ranges.ranges.find(view.name);
    impl->vars.push_back(make_variable(view.name, view.feature, std::move(view.values), has_missing, variable_options,
                                       range == ranges.ranges.end() ? nullptr : &range->second));
  }
  Codes codes;
  codes.n = n, codes.d = d;
  codes.states.resize(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) codes.states[static_cast<size_t>(i * d + j)] = impl->vars[static_cast<size_t>(j)].state_of(px[i * d + j]);
  }
  int64_t moves = 0;
  std::vector<std::vector<int64_t>> parents;
  if (dp) {
    parents = bayesnet::private_structure(codes, impl->vars, options_.max_parents, eps_rest * options_.dp_structure_share,
                                          gen);
  } else if (options_.structure == "chow_liu") {
    parents = bayesnet::chow_liu(codes, impl->vars);
  } else {
    parents = bayesnet::hill_climb(codes, impl->vars, options_, &moves);
  }
  for (int64_t j = 0; j < d; ++j) {
    impl->cpts.push_back(fit_cpt(codes, impl->vars, j, parents[static_cast<size_t>(j)], options_, eps_table, gen));
  }
  impl->order = bayesnet::topological_order(parents);
  impl_ = impl;

  FitReport report;
  report.converged = true;
  report.n_iter = std::max<int64_t>(1, moves);
  report.objective_name = "mean score (nats)";
  report.objective = score_samples(x).mean().item<double>();
  report.history = {report.objective};
  report.extra["edges"] = static_cast<int64_t>(edges().size());
  nlohmann::json states = nlohmann::json::object();
  for (const auto& v : impl->vars) states[v.name] = v.states();
  report.extra["states"] = states;
  if (dp) {
    report.extra["privacy"] = {{"epsilon", options_.dp_epsilon},
                               {"delta", 0.0},
                               {"mechanism", "PrivBayes: exponential mechanism on mutual information for the graph, "
                                             "Laplace noise on each column's joint counts with its parents"},
                               {"structure_epsilon", eps_rest * options_.dp_structure_share},
                               {"table_epsilon_each", eps_table},
                               {"bins", variable_options.dp_bins},
                               {"ranges", ranges.to_json()},
                               {"public", privacy::public_facts(options_.dp_bounds) +
                                              ", which columns have missing cells"}};
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  set_schema({{"columns", train.columns}, {"dim", d}});
  set_fit_report(report);
  return report;
}

torch::Tensor BayesianNetwork::sample(int64_t n, at::Generator& gen) const {
  check_fitted();
  const auto d = static_cast<int64_t>(impl_->vars.size());
  auto inf = torch::full({d}, INFINITY, torch::kFloat64);
  return sample_within(n, -inf, inf, gen);
}

torch::Tensor BayesianNetwork::score_samples(const torch::Tensor& x_in) const {
  check_fitted();
  const auto d = static_cast<int64_t>(impl_->vars.size());
  GF_CHECK(x_in.dim() == 2 && x_in.size(1) == d, "bayesnet score takes rows [N, ", d, "], got ", x_in.sizes());
  const auto x = x_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = x.size(0);
  auto out = torch::zeros({n}, torch::kFloat64);
  const double* px = x.data_ptr<double>();
  double* po = out.data_ptr<double>();
  std::vector<int64_t> row(static_cast<size_t>(d));
  for (int64_t i = 0; i < n; ++i) {
    bool known = true;
    for (int64_t j = 0; j < d; ++j) {
      row[static_cast<size_t>(j)] = impl_->vars[static_cast<size_t>(j)].state_of(px[i * d + j]);
      known = known && row[static_cast<size_t>(j)] >= 0;
    }
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
      const auto& v = impl_->vars[static_cast<size_t>(j)];
      const auto st = row[static_cast<size_t>(j)];
      if (st < 0 || !known) {  // a gap where training had none: the lowest score
        s += -700;
        continue;
      }
      const auto& cpt = impl_->cpts[static_cast<size_t>(j)];
      s += std::log(std::max(cpt.row(bayesnet::config_key(cpt.parents, impl_->vars, row.data()))[st], 1e-300)) +
           v.log_density_in_state(st);
    }
    po[i] = s;
  }
  return out;
}

std::vector<std::string> BayesianNetwork::node_names() const {
  check_fitted();
  std::vector<std::string> out;
  for (const auto& v : impl_->vars) out.push_back(v.name);
  return out;
}

std::vector<std::pair<int64_t, int64_t>> BayesianNetwork::edges() const {
  check_fitted();
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t j = 0; j < impl_->cpts.size(); ++j) {
    for (auto p : impl_->cpts[j].parents) out.emplace_back(p, static_cast<int64_t>(j));
  }
  return out;
}

torch::Tensor BayesianNetwork::conditional_mean(const torch::Tensor& x) const {
  check_fitted();
  std::vector<bool> categorical;
  for (const auto& v : impl_->vars) categorical.push_back(v.kind == Variable::categorical);
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  return stats::mean_of_draws(x.to(torch::kFloat64), categorical, 64,
                              [&](const torch::Tensor& rows) { return conditional_sample(rows, gen); });
}

}  // namespace gf
