// The Bayesian network's conditioning (likelihood weighting with importance resampling) and saved state.
#include <torch/types.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/io/model_file.h"
#include "genforge/models/bayesnet.h"
#include "models/bayesnet/bayesnet_impl.h"

namespace gf {

using bayesnet::Variable;

namespace {

// One particle per group of `k` consecutive particles, drawn in proportion to exp(log_weight). Returns indices.
std::vector<int64_t> resample(const std::vector<double>& log_weight, int64_t groups, int64_t k, at::Generator& gen,
                              const std::string& what) {
  auto lw = torch::tensor(log_weight, torch::kFloat64).reshape({groups, k});
  auto best = std::get<0>(lw.max(1, true));
  GF_CHECK(torch::isfinite(best).all().item<bool>() && (best > -600).all().item<bool>(), what,
           " has no probability under the model");
  auto w = (lw - best).exp();
  auto pick = torch::multinomial(w, 1, true, gen).reshape({groups}).contiguous();
  std::vector<int64_t> out(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) out[static_cast<size_t>(g)] = g * k + pick[g].item<int64_t>();
  return out;
}

}  // namespace

torch::Tensor BayesianNetwork::conditional_sample(const torch::Tensor& x_in, at::Generator& gen) const {
  check_fitted();
  const auto& vars = impl_->vars;
  const auto d = static_cast<int64_t>(vars.size());
  GF_CHECK(x_in.dim() == 2 && x_in.size(1) == d, "bayesnet conditional_sample takes rows [N, ", d, "], got ",
           x_in.sizes());
  auto out = x_in.to(torch::kCPU, torch::kFloat64).contiguous().clone();
  const int64_t n = out.size(0), k = options_.particles;
  double* po = out.data_ptr<double>();
  bayesnet::Evidence ev;
  for (const auto& v : vars) {  // cells to fill are drawn as values, never as the missing state
    std::vector<double> allow(static_cast<size_t>(v.states()), 1.0);
    if (v.has_missing) allow.back() = 0;
    ev.allowed.push_back(allow);
  }
  const int64_t chunk = std::max<int64_t>(1, 200000 / (k * d));
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    std::vector<int64_t> todo;
    for (int64_t i = r0; i < r0 + rows; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        if (std::isnan(po[i * d + j])) {
          todo.push_back(i);
          break;
        }
      }
    }
    if (todo.empty()) continue;
    const auto g = static_cast<int64_t>(todo.size());
    ev.fixed.assign(static_cast<size_t>(g * k * d), -1);
    for (int64_t t = 0; t < g; ++t) {
      for (int64_t j = 0; j < d; ++j) {
        const double v = po[todo[static_cast<size_t>(t)] * d + j];
        if (std::isnan(v)) continue;
        const auto s = vars[static_cast<size_t>(j)].state_of(v);
        for (int64_t p = 0; p < k; ++p) ev.fixed[static_cast<size_t>((t * k + p) * d + j)] = s;
      }
    }
    std::vector<double> log_w;
    const auto states = bayesnet::draw_states(vars, impl_->cpts, impl_->order, g * k, ev, gen, log_w);
    const auto chosen = resample(log_w, g, k, gen, "a row's observed cells");
    auto u = torch::rand({g, d}, gen, torch::kFloat64).contiguous();
    const double* pu = u.data_ptr<double>();
    for (int64_t t = 0; t < g; ++t) {
      const int64_t i = todo[static_cast<size_t>(t)], p = chosen[static_cast<size_t>(t)];
      for (int64_t j = 0; j < d; ++j) {
        if (!std::isnan(po[i * d + j])) continue;
        po[i * d + j] = vars[static_cast<size_t>(j)].value_of(states[static_cast<size_t>(p * d + j)], pu[t * d + j]);
      }
    }
  }
  return out;
}

torch::Tensor BayesianNetwork::sample_within(int64_t n, const torch::Tensor& lo_in, const torch::Tensor& hi_in,
                                             at::Generator& gen) const {
  check_fitted();
  const auto& vars = impl_->vars;
  const auto d = static_cast<int64_t>(vars.size());
  GF_CHECK(n >= 0, "number of samples must be >= 0, got ", n);
  GF_CHECK(lo_in.numel() == d && hi_in.numel() == d, "conditions need ", d, " bounds per side");
  const auto lo_t = lo_in.to(torch::kFloat64).contiguous(), hi_t = hi_in.to(torch::kFloat64).contiguous();
  const std::vector<double> lo(lo_t.data_ptr<double>(), lo_t.data_ptr<double>() + d);
  const std::vector<double> hi(hi_t.data_ptr<double>(), hi_t.data_ptr<double>() + d);
  bayesnet::Evidence ev;
  bool any = false;
  for (int64_t j = 0; j < d; ++j) {
    const auto& v = vars[static_cast<size_t>(j)];
    std::vector<double> allow;
    if (!(std::isinf(lo[j]) && std::isinf(hi[j]) && lo[j] < 0 && hi[j] > 0)) {
      GF_CHECK(lo[j] <= hi[j], "column '", v.name, "': the condition's lower bound is above its upper bound");
      GF_CHECK(v.kind != Variable::categorical || lo[j] == hi[j], "column '", v.name,
               "' is categorical: condition it on one category, not a range");
      allow.assign(static_cast<size_t>(v.states()), 0.0);
      if (lo[j] == hi[j] && v.kind != Variable::discrete) {
        const auto s = v.state_of(lo[j]);
        const bool inside = v.kind == Variable::categorical
                                ? lo[j] >= 0 && lo[j] < static_cast<double>(v.n_values)
                                : (lo[j] >= v.edges.front() && lo[j] <= v.edges.back()) ||
                                      std::binary_search(v.masses.begin(), v.masses.end(), lo[j]);
        GF_CHECK(s >= 0 && inside, "column '", v.name, "': ", lo[j], " is outside the values the model knows");
        allow[static_cast<size_t>(s)] = 1;
      } else {
        for (int64_t s = 0; s < v.states(); ++s) allow[static_cast<size_t>(s)] = v.share_within(s, lo[j], hi[j]);
      }
      GF_CHECK(std::any_of(allow.begin(), allow.end(), [](double a) { return a > 0; }), "column '", v.name,
               "': the condition [", lo[j], ", ", hi[j], "] has no probability under the model");
      any = true;
    }
    ev.allowed.push_back(allow);
  }
  const int64_t k = any ? std::min<int64_t>(options_.particles, 20) : 1;
  std::vector<double> log_w;
  const auto states = bayesnet::draw_states(vars, impl_->cpts, impl_->order, n * k, ev, gen, log_w);
  const auto chosen = any ? resample(log_w, n, k, gen, "the condition") : std::vector<int64_t>();
  auto out = torch::empty({n, d}, torch::kFloat64);
  double* po = out.data_ptr<double>();
  auto u = torch::rand({n, d}, gen, torch::kFloat64).contiguous();
  const double* pu = u.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = any ? chosen[static_cast<size_t>(i)] : i;
    for (int64_t j = 0; j < d; ++j) {
      const auto& v = vars[static_cast<size_t>(j)];
      const auto s = states[static_cast<size_t>(p * d + j)];
      if (lo[j] == hi[j] && v.kind == Variable::binned && s >= v.n_masses()) {
        po[i * d + j] = lo[j];  // an exact value inside its bin
      } else {
        po[i * d + j] = v.value_of(s, pu[i * d + j], lo[j], hi[j]);
      }
    }
  }
  return out;
}

TensorMap BayesianNetwork::state() const {
  check_fitted();
  TensorMap t;
  for (size_t j = 0; j < impl_->cpts.size(); ++j) {
    const auto& c = impl_->cpts[j];
    const auto r = static_cast<int64_t>(c.fallback.size());
    std::vector<int64_t> keys(c.row_of.size());
    for (const auto& [key, row] : c.row_of) keys[static_cast<size_t>(row)] = key;
    const std::string p = "cpt." + std::to_string(j) + ".";
    t[p + "keys"] = torch::tensor(keys, torch::kLong);
    t[p + "probs"] = torch::tensor(c.probs, torch::kFloat64).reshape({static_cast<int64_t>(keys.size()), r});
    t[p + "fallback"] = torch::tensor(c.fallback, torch::kFloat64);
  }
  return t;
}

void BayesianNetwork::load_state(const TensorMap& tensors) {
  GF_CHECK_AS(ModelFileError, impl_ != nullptr, "re-create the file with `genforge train bayesnet`",
              "the network's structure is missing from the model file");
  for (size_t j = 0; j < impl_->cpts.size(); ++j) {
    auto& c = impl_->cpts[j];
    const std::string p = "cpt." + std::to_string(j) + ".";
    const int64_t states = impl_->vars[j].states();
    const auto keys = stored_tensor(tensors, p + "keys", {-1}).to(torch::kLong).contiguous();
    const auto probs = stored_tensor(tensors, p + "probs", {keys.size(0), states}).to(torch::kFloat64).contiguous();
    const auto fallback = stored_tensor(tensors, p + "fallback", {states}).to(torch::kFloat64).contiguous();
    c.row_of.clear();
    for (int64_t r = 0; r < keys.size(0); ++r) c.row_of[keys[r].item<int64_t>()] = r;
    c.probs.assign(probs.data_ptr<double>(), probs.data_ptr<double>() + probs.numel());
    c.fallback.assign(fallback.data_ptr<double>(), fallback.data_ptr<double>() + fallback.numel());
  }
}

nlohmann::json BayesianNetwork::state_json() const {
  check_fitted();
  nlohmann::json vars = nlohmann::json::array();
  for (size_t j = 0; j < impl_->vars.size(); ++j) {
    const auto& v = impl_->vars[j];
    vars.push_back({{"name", v.name}, {"kind", static_cast<int>(v.kind)}, {"n_values", v.n_values},
                    {"has_missing", v.has_missing}, {"values", v.values}, {"masses", v.masses}, {"edges", v.edges},
                    {"knots", v.knots},
                    {"parents", impl_->cpts[j].parents}});
  }
  return {{"variables", vars}, {"order", impl_->order}};
}

namespace {
// A stored structure that sampling can walk: variables with states and their codes' tables, parents among the
// variables, an order that puts every parent first (a damaged file is refused here, not at the first draw).
void check_structure(const std::vector<Variable>& vars, const std::vector<bayesnet::Cpt>& cpts,
                     const std::vector<int64_t>& order) {
  const auto d = static_cast<int64_t>(vars.size());
  for (const auto& v : vars) {
    GF_CHECK(v.n_values >= 1, "variable '", v.name, "' has ", v.n_values, " values");
    if (v.kind == Variable::discrete) {
      GF_CHECK(static_cast<int64_t>(v.values.size()) == v.n_values, "variable '", v.name, "' lists ",
               v.values.size(), " values for ", v.n_values, " states");
    }
    if (v.kind == Variable::binned) {
      GF_CHECK(v.edges.size() >= 2 && v.n_values == v.n_masses() + static_cast<int64_t>(v.edges.size()) - 1 &&
                   (v.knots.empty() || v.knots.size() == v.edges.size() - 1),
               "variable '", v.name, "' has ", v.n_values, " states for ", v.masses.size(), " point masses, ",
               v.edges.size(), " bin edges and ", v.knots.size(), " bins' knots");
    }
  }
  std::vector<int64_t> position(static_cast<size_t>(d), -1);
  GF_CHECK(static_cast<int64_t>(order.size()) == d, "the sampling order has ", order.size(),
           " entries for ", d, " variables");
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t j = order[i];
    GF_CHECK(j >= 0 && j < d && position[static_cast<size_t>(j)] < 0, "the sampling order is not a permutation of the ",
             d, " variables (", j, " at position ", i, ")");
    position[static_cast<size_t>(j)] = static_cast<int64_t>(i);
  }
  for (int64_t j = 0; j < d; ++j) {
    for (const int64_t parent : cpts[static_cast<size_t>(j)].parents) {
      GF_CHECK(parent >= 0 && parent < d && position[static_cast<size_t>(parent)] < position[static_cast<size_t>(j)],
               "variable ", j, " has parent ", parent, ", which is not a variable sampled before it");
    }
  }
}
}  // namespace

void BayesianNetwork::load_state_json(const nlohmann::json& state) {
  if (!state.contains("variables")) return;  // unfitted
  auto impl = std::make_shared<Impl>();
  for (const auto& j : state.at("variables")) {
    Variable v;
    v.name = j.at("name").get<std::string>();
    // Checked before the cast: an int outside the enumerators is no Variable::Kind at all (undefined behaviour).
    const int kind = j.at("kind").get<int>();
    GF_CHECK(kind == Variable::categorical || kind == Variable::discrete || kind == Variable::binned,
             "variable '", v.name, "' has an unknown kind ", kind);
    v.kind = static_cast<Variable::Kind>(kind);
    v.n_values = j.at("n_values").get<int64_t>();
    v.has_missing = j.at("has_missing").get<bool>();
    v.values = j.at("values").get<std::vector<double>>();
    v.masses = j.at("masses").get<std::vector<double>>();
    v.edges = j.at("edges").get<std::vector<double>>();
    v.knots = j.at("knots").get<std::vector<std::vector<double>>>();
    impl->vars.push_back(std::move(v));
    bayesnet::Cpt c;
    c.parents = j.at("parents").get<std::vector<int64_t>>();
    impl->cpts.push_back(std::move(c));
  }
  impl->order = state.at("order").get<std::vector<int64_t>>();
  check_structure(impl->vars, impl->cpts, impl->order);
  impl_ = impl;
}

}  // namespace gf
