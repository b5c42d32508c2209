// Internal: the Bayesian network's variables (columns as discrete states), graph, conditional tables, structure
// learning and sampling with evidence.
#pragma once
#include <ATen/core/Generator.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "genforge/models/bayesnet.h"

namespace gf::bayesnet {

// One column as a discrete variable. States 0..n_values-1, then the missing state when the column had gaps.
struct Variable {
  enum Kind { categorical, discrete, binned };
  std::string name;
  Kind kind = categorical;
  int64_t n_values = 0;
  bool has_missing = false;
  std::vector<double> values;               // discrete: the distinct values, ascending
  // binned: states 0..masses-1 are values frequent enough to be states of their own (point masses: 0 in a column
  // of costs), then one state per bin between consecutive edges.
  std::vector<double> masses;               // binned: ascending
  std::vector<double> edges;                // binned: bins + 1 edges, ascending
  std::vector<std::vector<double>> knots;   // binned: each bin's order statistics (empty: uniform in the bin)
  int64_t n_masses() const { return static_cast<int64_t>(masses.size()); }

  int64_t states() const { return n_values + (has_missing ? 1 : 0); }
  int64_t missing_state() const { return has_missing ? n_values : -1; }
  // The state of a cell (NaN: the missing state, or -1 when the column has none).
  int64_t state_of(double x) const;
  // A value of state s from u in [0, 1) (binned: inside the bin, restricted to [lo, hi]).
  double value_of(int64_t s, double u, double lo = -INFINITY, double hi = INFINITY) const;
  // The share of state s's values inside [lo, hi] (1 for states wholly inside, 0 outside; the missing state: 0).
  double share_within(int64_t s, double lo, double hi) const;
  double log_density_in_state(int64_t s) const;  // binned: -log(bin width); else 0
};

// P(child | parents) for the parent configurations seen (or, under DP, all), with a fallback for the others.
struct Cpt {
  std::vector<int64_t> parents;
  std::unordered_map<int64_t, int64_t> row_of;  // configuration key -> row of probs
  std::vector<double> probs;                    // [rows, states] row-major
  std::vector<double> fallback;                 // [states]
  const double* row(int64_t key) const {
    const auto it = row_of.find(key);
    return it == row_of.end() ? fallback.data() : probs.data() + it->second * static_cast<int64_t>(fallback.size());
  }
};

// Mixed-radix key of the parents' states of one row.
int64_t config_key(const std::vector<int64_t>& parents, const std::vector<Variable>& vars, const int64_t* row_states);

// Structure learning on state codes [N, D] (row-major).
struct Codes {
  int64_t n = 0, d = 0;
  std::vector<int64_t> states;  // [N * D]
  const int64_t* row(int64_t i) const { return states.data() + i * d; }
};
double family_score(const Codes& codes, const std::vector<Variable>& vars, int64_t child,
                    const std::vector<int64_t>& parents, const std::string& score);
std::vector<std::vector<int64_t>> hill_climb(const Codes& codes, const std::vector<Variable>& vars,
                                             const BayesNetOptions& o, int64_t* moves);
std::vector<std::vector<int64_t>> chow_liu(const Codes& codes, const std::vector<Variable>& vars);
double mutual_information(const Codes& codes, const std::vector<Variable>& vars, int64_t child,
                          const std::vector<int64_t>& parents);
// PrivBayes' greedy network: each column's parents chosen by the exponential mechanism on mutual information.
std::vector<std::vector<int64_t>> private_structure(const Codes& codes, const std::vector<Variable>& vars,
                                                   int64_t max_parents, double epsilon, at::Generator& gen);
std::vector<int64_t> topological_order(const std::vector<std::vector<int64_t>>& parents);

// Evidence for ancestral sampling with likelihood weighting: per particle, a fixed state per column (-1: none);
// per column, weights of the allowed states (empty: all allowed).
struct Evidence {
  std::vector<int64_t> fixed;                // [particles * D] or empty
  std::vector<std::vector<double>> allowed;  // [D][states] or empty per column
};
// States [particles, D] drawn ancestrally with the evidence imposed; `log_weight` [particles] receives each
// particle's log likelihood weight.
std::vector<int64_t> draw_states(const std::vector<Variable>& vars, const std::vector<Cpt>& cpts,
                                 const std::vector<int64_t>& order, int64_t particles, const Evidence& evidence,
                                 at::Generator& gen, std::vector<double>& log_weight);

}  // namespace gf::bayesnet

namespace gf {
struct BayesianNetwork::Impl {
  std::vector<bayesnet::Variable> vars;
  std::vector<bayesnet::Cpt> cpts;
  std::vector<int64_t> order;  // topological
};
}  // namespace gf
