// Gaussian copula synthesizer for mixed-type tables (SDV's GaussianCopulaSynthesizer, with exact conditioning):
// each column gets a marginal distribution (numeric: chosen per column by the Kolmogorov-Smirnov distance among
// normal, truncated normal, beta, gamma and uniform, else the empirical CDF; or set per column; categorical: its
// frequencies as intervals of [0, 1], most frequent first), and the dependence between columns is one correlation
// matrix of the normal scores Φ⁻¹(F(x)). Missing cells are learned as a per-column rate.
// Conditioning is exact: fixed values and ranges become a truncated multivariate normal in normal-score space
// (one range: a direct draw; several: Gibbs sweeps), then the free columns come from the conditional Gaussian.
// With dp_epsilon > 0 the fit is (ε, δ)-differentially private: Laplace-noised histograms for the marginals and a
// Gaussian-noised correlation of L2-clipped normal scores (the analytic Gaussian mechanism). Numeric columns' ranges
// are declared (dp_bounds) or estimated privately with a share of ε (privacy/bounds.h), never read off the data
// unless dp_bounds=data says so; the categories and the row count are treated as public.
//
//   gf::CopulaOptions o;                 // categories come as ordinal codes (the registry's pipeline default)
//   gf::GaussianCopula copula(o);
//   copula.fit(dataset);                 // dataset.features says which columns are categorical
//   auto rows = copula.sample(1000, gen);
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct CopulaOptions {
  std::string distribution = "auto";  // numeric marginals: auto | empirical | normal | truncnorm | beta | gamma |
                                      // uniform | kde
  std::string distributions;          // per column, overriding `distribution`: "age:beta,income:empirical"
  double parametric_ks = 0.03;        // auto: a parametric family is kept when its KS distance is at most this
  bool enforce_min_max = true;        // numeric samples stay within the training range
  int64_t gibbs_sweeps = 50;          // conditioning on several ranges: sweeps of the truncated-normal Gibbs sampler
  int64_t latent_sweeps = 20;         // fitting: Gibbs sweeps over the latent scores of categories, ties and missing
                                      // cells (Hoff's extended rank likelihood; 0: jittered positions only)
  int64_t reorder_passes = 2;         // fitting: category orders refined from the other columns' predictions
  double dp_epsilon = 0;              // > 0: differentially private fit with this ε
  double dp_delta = 1e-5;             // δ of the correlation's Gaussian mechanism
  double dp_marginal_share = 0.5;     // the part of ε spent on the marginals (split evenly over the columns)
  int64_t dp_bins = 0;                // histogram bins of a numeric marginal under DP (0: 2 √(n ε) of the column,
                                      // within 4..64)
  std::string dp_bounds;              // DP: public ranges "age:0..120,income:0..1e6"; other numeric columns' ranges
                                      // are private estimates ("data": the data's min and max, not private)
  double dp_bounds_share = 0.2;       // DP: the part of ε spent on the ranges not declared
  int64_t seed = 0;                   // positions inside categories and point masses when fitting
  void validate() const;
};

class GaussianCopula : public Model, public ConditionalSampler, public BoxConditionalSampler {
 public:
  using Options = CopulaOptions;
  static const OptionTable<CopulaOptions>& option_table();
  explicit GaussianCopula(CopulaOptions options = {});

  std::string kind() const override { return "copula"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return correlation_.defined(); }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, D]
  // log c(Φ⁻¹(u)) + Σ log f_j(x_j) + missingness terms: the exact log density for numeric columns with parametric
  // marginals; categories and point masses enter with their probability (a score, not a density).
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N]

  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;  // mean of 64 draws; mode for categories
  torch::Tensor sample_within(int64_t n, const torch::Tensor& lo, const torch::Tensor& hi,
                              at::Generator& gen) const override;

  // The latent space is the normal scores z_j = Φ⁻¹(u_j): transform takes each cell to the middle u of the part of
  // [0, 1] it covers (a category's interval, a repeated value's jump of the CDF; missing cells stay NaN); decode
  // takes z back through the marginals' quantiles (a category by the interval holding u; within the training range
  // under enforce_min_max). Codes are N(0, correlation()): sample() draws as decode(sample_latent()) does, then drops
  // cells at the missing rates.
  int64_t latent_dim() const override;
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const override;  // [N, D]
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const override;     // [N, D]
  torch::Tensor sample_latent(int64_t n, at::Generator& gen) const override;                         // [n, D]

  const torch::Tensor& correlation() const { return correlation_; }  // [D, D] of the normal scores
  // The marginal chosen for each column ("beta", "empirical", "categorical", "histogram", ...).
  std::vector<std::string> marginal_kinds() const;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  struct Impl;  // the per-column marginals (src/models/copula)

 private:
  void check_fitted() const;
  CopulaOptions options_;
  std::shared_ptr<Impl> impl_;
  torch::Tensor correlation_;   // [D, D]
  torch::Tensor missing_rate_;  // [D]
};

}  // namespace gf
