// Variational Bayesian Gaussian mixture (scikit-learn's BayesianGaussianMixture, same priors, defaults and
// updates): a Dirichlet-process (stick-breaking) or Dirichlet prior on the weights lets the data switch off
// components it does not need; Normal-Wishart priors on means and precisions.
//
// Its score is honest: score_samples is the log posterior predictive density, a mixture of Student-t
// distributions (Bishop, PRML eq. 10.81), which is a proper density of new data. scikit-learn's score_samples
// is the log of exp(E_q[log p(x, z)]), a lower bound that is not normalised; it is available here as
// variational_log_prob for comparison. Imputation (`genforge impute`) draws from the same predictive: given a row's
// observed cells, a component by its Student-t marginal, then that component's conditional t.
//
//   gf::BgmmOptions o;
//   o.n_components = 10;                            // an upper bound; unused components get ~0 weight
//   gf::BayesianGaussianMixture bgmm(o);
//   bgmm.fit({x});                                  // x: [N, D] float64
//   double heldout = bgmm.score(x_test);            // mean log predictive density, nats per row
#pragma once
#include <torch/types.h>

#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct BgmmOptions {
  int64_t n_components = 1;              // upper bound on the number of components
  std::string covariance_type = "full";  // full | diag | tied | spherical
  double tol = 1e-3;                     // stop when the lower bound (a sum over rows) changes less than this
  double reg_covar = 1e-6;               // added to covariance diagonals
  int64_t max_iter = 100;                // iterations per initialisation
  int64_t n_init = 1;                    // initialisations; the best lower bound wins
  std::string init_params = "kmeans";    // kmeans | k-means++ | random | random_from_data
  std::string weight_concentration_prior_type = "dirichlet_process";  // | dirichlet_distribution
  // Priors; 0 means scikit-learn's data-dependent default (its None).
  double weight_concentration_prior = 0;  // gamma_0 > 0; default 1 / n_components
  double mean_precision_prior = 0;        // beta_0 > 0; default 1
  double degrees_of_freedom_prior = 0;    // nu_0 > D - 1; default D
  bool warm_start = false;                // start from the previous fit (n_init ignored)
  int64_t seed = 0;                       // seeds initialisation
  std::string dtype = "float64";          // float64 | float32
  // Optional tensors (library, or `genforge train ... --init name=FILE.npy`).
  torch::Tensor mean_prior;        // [D]; default: the data mean
  torch::Tensor covariance_prior;  // full/tied [D, D], diag [D], spherical [1]; default: the data's (co)variance
  torch::Tensor resp_init;         // [N, K] initial responsibilities (replaces init_params)

  void validate() const;
};

class BayesianGaussianMixture : public Model, public ConditionalSampler, public PartAssigner, public Updatable {
 public:
  using Options = BgmmOptions;
  static const OptionTable<BgmmOptions>& option_table();

  explicit BayesianGaussianMixture(BgmmOptions options = {});

  std::string kind() const override { return "bgmm"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const BgmmOptions& options() const { return options_; }
  std::vector<std::string> init_names() const override { return {"mean_prior", "covariance_prior", "resp"}; }
  void set_init(const std::string& name, const torch::Tensor& value) override;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  // scikit-learn's warm_start: variational EM on `more` from the current posterior.
  std::string update_method() const override { return "variational EM from the current posterior (warm start)"; }
  FitReport update(const Dataset& more, const FitContext& ctx = {}) override;
  bool fitted() const override { return means_.defined(); }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // [n, D] from the posterior predictive
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // [N] log posterior predictive, nats
  torch::Tensor variational_log_prob(const torch::Tensor& x) const;   // [N] scikit-learn's score_samples
  torch::Tensor predict_proba(const torch::Tensor& x) const;          // [N, K] variational responsibilities
  torch::Tensor predict(const torch::Tensor& x) const;                // [N] int64
  std::string part_name() const override { return "component"; }
  torch::Tensor part_probabilities(const torch::Tensor& x, const torch::Tensor&) const override {
    return predict_proba(x);
  }
  // Rows [N, D] with NaN cells filled from the posterior predictive given their observed cells (a mixture of
  // Student-t conditionals): E[missing | observed], one draw, or m draws [m, N, D].
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  torch::Tensor conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const override;

  // Posterior parameters (scikit-learn's names and shapes).
  const torch::Tensor& weights() const { return weights_; }                            // [K] E[pi]
  const torch::Tensor& weight_concentration() const { return weight_concentration_; }  // DP [2, K]; Dirichlet [K]
  const torch::Tensor& mean_precision() const { return mean_precision_; }              // [K] beta_k
  const torch::Tensor& means() const { return means_; }                                // [K, D] m_k
  const torch::Tensor& degrees_of_freedom() const { return degrees_of_freedom_; }      // [K] nu_k
  const torch::Tensor& covariances() const { return covariances_; }                    // W_k^-1 / nu_k
  const torch::Tensor& precisions_cholesky() const { return precisions_cholesky_; }
  double lower_bound() const { return lower_bound_; }

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

 private:
  torch::Tensor prepare_input(const torch::Tensor& x, const char* what, bool allow_missing = false) const;
  // Fills NaN cells: draws == 0 the conditional mean [1, N, D], else draws [draws, N, D].
  torch::Tensor fill_missing(const torch::Tensor& x, int64_t draws, at::Generator* gen) const;
  BgmmOptions options_;
  // Resolved priors: [weight concentration, mean precision, degrees of freedom], mean [D], covariance.
  torch::Tensor scalar_priors_, mean_prior_, covariance_prior_;
  torch::Tensor weights_, weight_concentration_, mean_precision_, means_, degrees_of_freedom_, covariances_,
      precisions_cholesky_;
  double lower_bound_ = 0;
};

}  // namespace gf
