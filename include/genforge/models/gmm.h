// Gaussian mixture model fitted by expectation-maximisation, with everything scikit-learn's GaussianMixture has
// (covariance types, k-means / k-means++ / random inits, n_init, warm start, BIC/AIC) plus sample weights,
// missing values (EM that marginalises missing coordinates) and conditional sampling / expectation.
//
//   gf::GmmOptions o;
//   o.n_components = 3;
//   o.covariance_type = "full";
//   gf::GaussianMixture gmm(o);
//   gmm.fit({x});                                  // x: [N, D] float64, NaN = missing
//   auto ll = gmm.score_samples(x);                // [N] log-likelihood in nats
//   auto gen = gf::make_generator(0);
//   auto s = gmm.sample(100, gen);                 // [100, D]
//   auto filled = gmm.conditional_mean(x_with_nan);  // imputation by E[x_missing | x_observed]
#pragma once
#include <torch/types.h>

#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct GmmOptions {
  int64_t n_components = 1;
  std::string covariance_type = "full";  // full | diag | tied | spherical
  double tol = 1e-3;                     // stop when the mean log-likelihood changes less than this
  double reg_covar = 1e-6;               // added to covariance diagonals
  int64_t max_iter = 100;                // EM iterations per initialisation
  int64_t n_init = 1;                    // initialisations; the best lower bound wins
  std::string init_params = "kmeans";    // kmeans | k-means++ | random | random_from_data
  bool warm_start = false;               // start from the previous fit's parameters (n_init ignored)
  int64_t seed = 0;                      // seeds initialisation
  std::string dtype = "float64";         // float64 | float32 (computation precision)
  bool allow_missing = true;             // NaN cells are marginalised; false makes them an error
  // Optional user-given initial parameters (library, or `--init means=FILE.npy`), with scikit-learn's shapes.
  torch::Tensor weights_init;     // [K]
  torch::Tensor means_init;       // [K, D]
  torch::Tensor precisions_init;  // full [K, D, D] | tied [D, D] | diag [K, D] | spherical [K]

  void validate() const;
};

class GaussianMixture : public Model,
                        public InformationCriteria,
                        public ConditionalSampler,
                        public PartAssigner,
                        public Updatable {
 public:
  using Options = GmmOptions;
  static const OptionTable<GmmOptions>& option_table();

  explicit GaussianMixture(GmmOptions options = {});

  std::string kind() const override { return "gmm"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const GmmOptions& options() const { return options_; }
  std::vector<std::string> init_names() const override { return {"weights", "means", "precisions"}; }
  void set_init(const std::string& name, const torch::Tensor& value) override;

  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  // scikit-learn's warm_start: EM on `more` from the current parameters (one initialisation), the same as
  // GaussianMixture(warm_start=True).fit(old).fit(more).
  std::string update_method() const override { return "EM from the current parameters (warm start)"; }
  FitReport update(const Dataset& more, const FitContext& ctx = {}) override;
  bool fitted() const override { return weights_.defined(); }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;        // [n, D], rows in random order
  torch::Tensor sample(int64_t n, at::Generator& gen, torch::Tensor* components) const;  // also [n] labels
  torch::Tensor score_samples(const torch::Tensor& x) const override;        // [N] nats (marginal if NaN)

  torch::Tensor predict_proba(const torch::Tensor& x) const;  // [N, K] responsibilities
  torch::Tensor predict(const torch::Tensor& x) const;        // [N] int64 most likely component
  std::string part_name() const override { return "component"; }
  torch::Tensor part_probabilities(const torch::Tensor& x, const torch::Tensor&) const override {
    return predict_proba(x);
  }
  double bic(const torch::Tensor& x) const;
  double aic(const torch::Tensor& x) const;
  int64_t n_parameters() const;

  // Rows with NaN cells get them filled by E[x_missing | x_observed] (a mixture of the components' conditional
  // means) or by a draw from p(x_missing | x_observed). Rows without NaN are returned unchanged. [N, D]
  torch::Tensor conditional_mean(const torch::Tensor& x) const override;
  torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const override;
  // m draws with each missing pattern's conditional computed once. [m, N, D]
  torch::Tensor conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const override;
  double criterion(Criterion which, const Dataset& data) const override {
    return which == Criterion::bic ? bic(data.x) : aic(data.x);
  }

  // Learned parameters (scikit-learn's shapes; covariances by covariance_type).
  const torch::Tensor& weights() const { return weights_; }          // [K]
  const torch::Tensor& means() const { return means_; }              // [K, D]
  const torch::Tensor& covariances() const { return covariances_; }
  const torch::Tensor& precisions_cholesky() const { return precisions_cholesky_; }

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

 private:
  torch::Tensor prepare_input(const torch::Tensor& x, const char* what) const;  // checks, casts to model dtype
  GmmOptions options_;
  torch::Tensor weights_, means_, covariances_, precisions_cholesky_;
};

}  // namespace gf
