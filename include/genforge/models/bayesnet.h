// Bayesian network synthesizer for mixed-type tables: every column becomes a discrete variable (categories as
// they are; numbers with few distinct values as those values; other numbers cut into quantile bins, sampled inside
// a bin from the bin's own order statistics; missing cells a state of their own), the graph is learned by hill
// climbing on BIC or K2 with a parent limit, or as a Chow-Liu tree, the conditional tables are smoothed counts,
// and rows are drawn ancestrally. Conditioning (missing cells, fixed values, ranges) is by likelihood weighting
// with importance resampling.
// With dp_epsilon > 0 the fit is PrivBayes (Zhang et al. 2017): the graph chosen greedily by the exponential
// mechanism on mutual information (a share dp_structure_share of ε), the conditional tables from Laplace-noised
// joint counts (the rest); bins are equal-width over each numeric column's range, declared (dp_bounds) or
// estimated privately with a share of ε (privacy/bounds.h); categories and the row count are treated as public.
//
//   gf::BayesNetOptions o;          // categories come as ordinal codes (the registry's pipeline default)
//   gf::BayesianNetwork net(o);
//   net.fit(dataset);               // dataset.features says which columns are categorical
//   std::string dot = net.graphviz();
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct BayesNetOptions {
  std::string structure = "hill_climb";  // hill_climb | chow_liu
  std::string score = "k2";              // hill_climb: k2 | bic
  int64_t max_parents = 2;               // parents per column
  int64_t max_iter = 200;                // hill-climbing moves
  int64_t bins = 20;                     // quantile bins of a numeric column with more distinct values than this
  double alpha = 1.0;                    // Dirichlet smoothing: pseudo-counts per parent configuration
  int64_t particles = 200;               // likelihood weighting: particles per conditioned row
  double dp_epsilon = 0;                 // > 0: PrivBayes with this ε (pure ε-DP)
  double dp_structure_share = 0.3;       // the part of ε spent choosing the graph
  int64_t dp_bins = 0;                   // equal-width bins of a numeric column under DP (0: √(n ε) of a table,
                                         // within 3..8: a joint table multiplies them)
  std::string dp_bounds;                 // DP: public ranges "age:0..120"; other numeric columns' ranges are
                                         // private estimates ("data": the data's min and max, not private)
  double dp_bounds_share = 0.2;          // DP: the part of ε spent on the ranges not declared
  int64_t seed = 0;                      // PrivBayes' noise and choices
  void validate() const;
};

class BayesianNetwork : public Model, public ConditionalSampler, public BoxConditionalSampler, public GraphicalModel {
 public:
  using Options = BayesNetOptions;
  static const OptionTable<BayesNetOptions>& option_table();
  explicit BayesianNetwork(BayesNetOptions options = {});

  std::string kind() const override { return "bayesnet"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return impl_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, D]
  // log P(states) + log of the uniform density inside a bin: a score (discrete and continuous parts mixed).
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N]

  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;
  torch::Tensor sample_within(int64_t n, const torch::Tensor& lo, const torch::Tensor& hi,
                              at::Generator& gen) const override;

  std::vector<std::string> node_names() const override;
  std::vector<std::pair<int64_t, int64_t>> edges() const override;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Impl;  // variables, graph and conditional tables (src/models/bayesnet)

 private:
  void check_fitted() const;
  BayesNetOptions options_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace gf
