// The Bayesian network's variables, structure learning (hill climbing, Chow-Liu, PrivBayes) and ancestral
// sampling with evidence.
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "genforge/core/error.h"
#include "models/bayesnet/bayesnet_impl.h"

namespace gf::bayesnet {

int64_t Variable::state_of(double x) const {
  if (std::isnan(x)) return missing_state();
  switch (kind) {
    case categorical: return std::clamp<int64_t>(static_cast<int64_t>(std::llround(x)), 0, n_values - 1);
    case discrete: {
      const auto it = std::lower_bound(values.begin(), values.end(), x);
      if (it == values.end()) return n_values - 1;
      if (it != values.begin() && x - *(it - 1) < *it - x) return it - values.begin() - 1;
      return it - values.begin();
    }
    case binned: {
      const auto m = std::lower_bound(masses.begin(), masses.end(), x);
      if (m != masses.end() && *m == x) return m - masses.begin();
      const auto it = std::upper_bound(edges.begin() + 1, edges.end() - 1, x);
      return n_masses() + (it - (edges.begin() + 1));
    }
  }
  return 0;
}

namespace {

// Position in [0, 1] of x among a bin's order statistics (piecewise linear).
double knot_cdf(const std::vector<double>& k, double x) {
  if (k.size() < 2) return x < k.front() ? 0.0 : 1.0;
  if (x <= k.front()) return 0;
  if (x >= k.back()) return 1;
  const auto i = std::upper_bound(k.begin(), k.end(), x) - k.begin();  // k[i-1] <= x < k[i]
  const double gap = k[i] - k[i - 1];
  const double t = gap > 0 ? (x - k[i - 1]) / gap : 0.0;
  return (static_cast<double>(i - 1) + t) / static_cast<double>(k.size() - 1);
}

double knot_quantile(const std::vector<double>& k, double u) {
  if (k.size() < 2) return k.front();
  const double pos = std::clamp(u, 0.0, 1.0) * static_cast<double>(k.size() - 1);
  const auto i = std::min<size_t>(static_cast<size_t>(pos), k.size() - 2);
  return k[i] + (pos - static_cast<double>(i)) * (k[i + 1] - k[i]);
}

}  // namespace

double Variable::value_of(int64_t s, double u, double lo, double hi) const {
  if (s == missing_state()) return NAN;
  if (kind == categorical) return static_cast<double>(s);
  if (kind == discrete) return values[static_cast<size_t>(s)];
  if (s < n_masses()) return masses[static_cast<size_t>(s)];
  s -= n_masses();
  const double a = edges[static_cast<size_t>(s)], b = edges[static_cast<size_t>(s) + 1];
  const auto& k = knots.empty() ? std::vector<double>{} : knots[static_cast<size_t>(s)];
  if (k.empty()) {  // uniform in the bin
    const double from = std::max(a, lo), to = std::min(b, hi);
    return from + u * (to - from);
  }
  const double ulo = std::isinf(lo) ? 0.0 : knot_cdf(k, lo), uhi = std::isinf(hi) ? 1.0 : knot_cdf(k, hi);
  return std::clamp(knot_quantile(k, ulo + u * (uhi - ulo)), std::max(a, lo), std::min(b, hi));
}

double Variable::share_within(int64_t s, double lo, double hi) const {
  if (s == missing_state()) return 0;
  if (kind == categorical) return 1;
  if (kind == discrete) {
    const double v = values[static_cast<size_t>(s)];
    return v >= lo && v <= hi ? 1.0 : 0.0;
  }
  if (s < n_masses()) {
    const double v = masses[static_cast<size_t>(s)];
    return v >= lo && v <= hi ? 1.0 : 0.0;
  }
  s -= n_masses();
  const double a = edges[static_cast<size_t>(s)], b = edges[static_cast<size_t>(s) + 1];
  if (hi < a || lo > b) return 0;
  if (knots.empty() || knots[static_cast<size_t>(s)].empty()) {
    return b > a ? (std::min(b, hi) - std::max(a, lo)) / (b - a) : 1.0;
  }
  const auto& k = knots[static_cast<size_t>(s)];
  if (k.size() < 2) return k.front() >= lo && k.front() <= hi ? 1.0 : 0.0;
  return (std::isinf(hi) ? 1.0 : knot_cdf(k, hi)) - (std::isinf(lo) ? 0.0 : knot_cdf(k, lo));
}

double Variable::log_density_in_state(int64_t s) const {
  if (kind != binned || s == missing_state() || s < n_masses()) return 0;
  s -= n_masses();
  const double w = edges[static_cast<size_t>(s) + 1] - edges[static_cast<size_t>(s)];
  return w > 0 ? -std::log(w) : 0.0;
}

int64_t config_key(const std::vector<int64_t>& parents, const std::vector<Variable>& vars, const int64_t* row_states) {
  int64_t key = 0;
  for (auto p : parents) key = key * vars[static_cast<size_t>(p)].states() + row_states[p];
  return key;
}

namespace {

// Counts N(config, state) and N(config) of one family.
struct FamilyCounts {
  std::unordered_map<int64_t, std::vector<double>> by_config;
};
FamilyCounts count_family(const Codes& codes, const std::vector<Variable>& vars, int64_t child,
                          const std::vector<int64_t>& parents) {
  FamilyCounts f;
  const auto r = static_cast<size_t>(vars[static_cast<size_t>(child)].states());
  for (int64_t i = 0; i < codes.n; ++i) {
    const int64_t* row = codes.row(i);
    auto& counts = f.by_config[config_key(parents, vars, row)];
    if (counts.empty()) counts.assign(r, 0.0);
    counts[static_cast<size_t>(row[child])] += 1;
  }
  return f;
}

bool reaches(const std::vector<std::vector<int64_t>>& parents, int64_t from, int64_t to) {
  // Is there a directed path from -> ... -> to? Walk up from `to` through parents.
  std::vector<int64_t> stack = {to};
  std::vector<uint8_t> seen(parents.size(), 0);
  while (!stack.empty()) {
    const auto v = stack.back();
    stack.pop_back();
    if (v == from) return true;
    if (seen[static_cast<size_t>(v)]) continue;
    seen[static_cast<size_t>(v)] = 1;
    for (auto p : parents[static_cast<size_t>(v)]) stack.push_back(p);
  }
  return false;
}

}  // namespace

double family_score(const Codes& codes, const std::vector<Variable>& vars, int64_t child,
                    const std::vector<int64_t>& parents, const std::string& score) {
  const auto f = count_family(codes, vars, child, parents);
  const double r = static_cast<double>(vars[static_cast<size_t>(child)].states());
  double total = 0;
  if (score == "k2") {
    for (const auto& [key, counts] : f.by_config) {
      double n_c = 0;
      for (double c : counts) n_c += c, total += std::lgamma(c + 1);
      total += std::lgamma(r) - std::lgamma(n_c + r);
    }
    return total;
  }
  for (const auto& [key, counts] : f.by_config) {
    double n_c = 0;
    for (double c : counts) n_c += c;
    for (double c : counts) {
      if (c > 0) total += c * std::log(c / n_c);
    }
  }
  double q = 1;
  for (auto p : parents) q *= static_cast<double>(vars[static_cast<size_t>(p)].states());
  return total - 0.5 * std::log(static_cast<double>(codes.n)) * (r - 1) * q;
}

double mutual_information(const Codes& codes, const std::vector<Variable>& vars, int64_t child,
                          const std::vector<int64_t>& parents) {
  const auto f = count_family(codes, vars, child, parents);
  const auto r = static_cast<size_t>(vars[static_cast<size_t>(child)].states());
  std::vector<double> marginal(r, 0.0);
  for (const auto& [key, counts] : f.by_config) {
    for (size_t k = 0; k < r; ++k) marginal[k] += counts[k];
  }
  const auto n = static_cast<double>(codes.n);
  double mi = 0;
  for (const auto& [key, counts] : f.by_config) {
    double n_c = 0;
    for (double c : counts) n_c += c;
    for (size_t k = 0; k < r; ++k) {
      if (counts[k] > 0) mi += counts[k] / n * std::log(counts[k] * n / (n_c * marginal[k]));
    }
  }
  return mi;
}

std::vector<std::vector<int64_t>> hill_climb(const Codes& codes, const std::vector<Variable>& vars,
                                             const BayesNetOptions& o, int64_t* moves) {
  const auto d = static_cast<int64_t>(vars.size());
  std::vector<std::vector<int64_t>> parents(static_cast<size_t>(d));
  std::map<std::pair<int64_t, std::vector<int64_t>>, double> cache;
  auto score = [&](int64_t child, std::vector<int64_t> pa) {
    std::sort(pa.begin(), pa.end());
    auto key = std::make_pair(child, pa);
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    return cache[key] = family_score(codes, vars, child, pa, o.score);
  };
  auto without = [](std::vector<int64_t> v, int64_t x) {
    v.erase(std::remove(v.begin(), v.end(), x), v.end());
    return v;
  };
  auto with = [](std::vector<int64_t> v, int64_t x) {
    v.push_back(x);
    return v;
  };
  *moves = 0;
  for (int64_t iter = 0; iter < o.max_iter; ++iter) {
    double best = 1e-9;
    std::function<void()> apply;
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        if (i == j) continue;
        auto& pj = parents[static_cast<size_t>(j)];
        auto& pi = parents[static_cast<size_t>(i)];
        const bool edge = std::find(pj.begin(), pj.end(), i) != pj.end();
        if (!edge) {
          if (static_cast<int64_t>(pj.size()) >= o.max_parents || reaches(parents, j, i)) continue;
          const double delta = score(j, with(pj, i)) - score(j, pj);
          if (delta > best) best = delta, apply = [&parents, i, j] { parents[static_cast<size_t>(j)].push_back(i); };
          continue;
        }
        const double remove = score(j, without(pj, i)) - score(j, pj);
        if (remove > best) {
          best = remove;
          apply = [&parents, i, j, without] { parents[static_cast<size_t>(j)] = without(parents[static_cast<size_t>(j)], i); };
        }
        if (static_cast<int64_t>(pi.size()) >= o.max_parents) continue;
        auto reversed = parents;
        reversed[static_cast<size_t>(j)] = without(pj, i);
        if (reaches(reversed, i, j)) continue;  // adding j -> i would close a cycle
        const double flip = remove + score(i, with(pi, j)) - score(i, pi);
        if (flip > best) {
          best = flip;
          apply = [&parents, i, j, without] {
            parents[static_cast<size_t>(j)] = without(parents[static_cast<size_t>(j)], i);
            parents[static_cast<size_t>(i)].push_back(j);
          };
        }
      }
    }
    if (!apply) break;
    apply();
    ++*moves;
  }
  return parents;
}

std::vector<std::vector<int64_t>> chow_liu(const Codes& codes, const std::vector<Variable>& vars) {
  const auto d = static_cast<int64_t>(vars.size());
  std::vector<std::vector<int64_t>> parents(static_cast<size_t>(d));
  if (d < 2) return parents;
  std::vector<std::vector<double>> mi(static_cast<size_t>(d), std::vector<double>(static_cast<size_t>(d), 0.0));
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = i + 1; j < d; ++j) {
      mi[static_cast<size_t>(i)][static_cast<size_t>(j)] = mi[static_cast<size_t>(j)][static_cast<size_t>(i)] =
          mutual_information(codes, vars, i, {j});
    }
  }
  // Prim's maximum spanning tree from column 0; each new column's parent is the tree column it joins through.
  std::vector<uint8_t> in(static_cast<size_t>(d), 0);
  in[0] = 1;
  for (int64_t added = 1; added < d; ++added) {
    double best = -1;
    int64_t from = -1, to = -1;
    for (int64_t i = 0; i < d; ++i) {
      if (!in[static_cast<size_t>(i)]) continue;
      for (int64_t j = 0; j < d; ++j) {
        if (in[static_cast<size_t>(j)] || mi[static_cast<size_t>(i)][static_cast<size_t>(j)] <= best) continue;
        best = mi[static_cast<size_t>(i)][static_cast<size_t>(j)], from = i, to = j;
      }
    }
    in[static_cast<size_t>(to)] = 1;
    parents[static_cast<size_t>(to)] = {from};
  }
  return parents;
}

std::vector<std::vector<int64_t>> private_structure(const Codes& codes, const std::vector<Variable>& vars,
                                                   int64_t max_parents, double epsilon, at::Generator& gen) {
  const auto d = static_cast<int64_t>(vars.size());
  std::vector<std::vector<int64_t>> parents(static_cast<size_t>(d));
  if (d < 2) return parents;
  const auto n = static_cast<double>(codes.n);
  // Sensitivity of the mutual information (in nats) to one row (Zhang et al. 2017, Lemma 4.1).
  const double sensitivity = std::log(n) / n + (n - 1) / n * std::log(n / (n - 1));
  const double eps_step = epsilon / static_cast<double>(d - 1);
  std::vector<int64_t> chosen = {torch::randint(d, {1}, gen).item<int64_t>()};
  while (static_cast<int64_t>(chosen.size()) < d) {
    const auto k = std::min<int64_t>(max_parents, static_cast<int64_t>(chosen.size()));
    // Every k-subset of the chosen columns, as a parent set for every column not chosen yet.
    std::vector<std::vector<int64_t>> subsets;
    std::vector<int64_t> pick;
    std::function<void(size_t)> grow = [&](size_t from) {
      if (static_cast<int64_t>(pick.size()) == k) {
        subsets.push_back(pick);
        return;
      }
      for (size_t s = from; s < chosen.size(); ++s) pick.push_back(chosen[s]), grow(s + 1), pick.pop_back();
    };
    grow(0);
    std::vector<std::pair<int64_t, std::vector<int64_t>>> candidates;
    std::vector<double> logits;
    for (int64_t x = 0; x < d; ++x) {
      if (std::find(chosen.begin(), chosen.end(), x) != chosen.end()) continue;
      for (const auto& pa : subsets) {
        candidates.emplace_back(x, pa);
        logits.push_back(eps_step * mutual_information(codes, vars, x, pa) / (2 * sensitivity));
      }
    }
    auto w = torch::tensor(logits, torch::kFloat64);
    const auto pickk = torch::multinomial(torch::softmax(w, 0), 1, false, gen).item<int64_t>();
    const auto& [x, pa] = candidates[static_cast<size_t>(pickk)];
    parents[static_cast<size_t>(x)] = pa;
    chosen.push_back(x);
  }
  return parents;
}

std::vector<int64_t> topological_order(const std::vector<std::vector<int64_t>>& parents) {
  const auto d = parents.size();
  std::vector<int64_t> order;
  std::vector<uint8_t> done(d, 0);
  while (order.size() < d) {
    bool progress = false;
    for (size_t j = 0; j < d; ++j) {
      if (done[j]) continue;
      if (std::all_of(parents[j].begin(), parents[j].end(), [&](int64_t p) { return done[static_cast<size_t>(p)] != 0; })) {
        order.push_back(static_cast<int64_t>(j));
        done[j] = 1;
        progress = true;
      }
    }
    GF_CHECK(progress, "the network's graph has a cycle");
  }
  return order;
}

std::vector<int64_t> draw_states(const std::vector<Variable>& vars, const std::vector<Cpt>& cpts,
                                 const std::vector<int64_t>& order, int64_t particles, const Evidence& evidence,
                                 at::Generator& gen, std::vector<double>& log_weight) {
  const auto d = static_cast<int64_t>(vars.size());
  std::vector<int64_t> states(static_cast<size_t>(particles * d), 0);
  log_weight.assign(static_cast<size_t>(particles), 0.0);
  auto u = torch::rand({particles, d}, gen, torch::kFloat64).contiguous();
  const double* pu = u.data_ptr<double>();
  std::vector<double> p;
  for (int64_t j : order) {
    const auto& cpt = cpts[static_cast<size_t>(j)];
    const auto r = vars[static_cast<size_t>(j)].states();
    const auto& allowed = evidence.allowed.empty() ? std::vector<double>{} : evidence.allowed[static_cast<size_t>(j)];
    for (int64_t i = 0; i < particles; ++i) {
      int64_t* row = states.data() + i * d;
      const double* probs = cpt.row(config_key(cpt.parents, vars, row));
      const int64_t fixed = evidence.fixed.empty() ? -1 : evidence.fixed[static_cast<size_t>(i * d + j)];
      if (fixed >= 0) {
        row[j] = fixed;
        log_weight[static_cast<size_t>(i)] += std::log(std::max(probs[fixed], 1e-300));
        continue;
      }
      p.assign(probs, probs + r);
      double total = 1;
      if (!allowed.empty()) {
        total = 0;
        for (int64_t k = 0; k < r; ++k) total += (p[static_cast<size_t>(k)] *= allowed[static_cast<size_t>(k)]);
        log_weight[static_cast<size_t>(i)] += std::log(std::max(total, 1e-300));
        if (total <= 0) {  // nothing allowed under this configuration: a dead particle
          row[j] = static_cast<int64_t>(std::max_element(allowed.begin(), allowed.end()) - allowed.begin());
          continue;
        }
      }
      double acc = 0, target = pu[i * d + j] * total;
      int64_t s = r - 1;
      for (int64_t k = 0; k < r; ++k) {
        acc += p[static_cast<size_t>(k)];
        if (target < acc) {
          s = k;
          break;
        }
      }
      while (s > 0 && p[static_cast<size_t>(s)] <= 0) --s;  // rounding at the top: the last state with mass
      row[j] = s;
    }
  }
  return states;
}

}  // namespace gf::bayesnet
