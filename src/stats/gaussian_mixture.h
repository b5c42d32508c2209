// Shared numerics of Gaussian mixtures below the families (GMM, Bayesian GMM, the HMM's Gaussian and GMM
// emissions): Gaussian log-densities, E-step and M-step kernels, k-means initialisation and the missing-value
// machinery. Shapes: N rows, D features, K components, M missing coordinates, O observed ones.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "genforge/core/distributed.h"

namespace gf::stats {

enum class CovType { full, tied, diag, spherical };
CovType parse_cov_type(const std::string& name);

// Checks of the options the EM and variational mixtures share.
void validate_shared_options(int64_t n_components, const std::string& covariance_type, double tol, double reg_covar,
                             int64_t max_iter, int64_t n_init, const std::string& init_params,
                             const std::string& dtype);
// A training matrix [N, D] with N >= 1, D >= 1 and N >= n_components.
void check_training_matrix(const at::Tensor& x, int64_t n_components);
// Infinite cells are a DataError naming row and column; NaN cells too unless allow_missing, the message saying
// why after "missing value (NaN)" (`refusal`, e.g. ", and allow_missing is false") with `hint`.
void check_rows(const at::Tensor& x, bool allow_missing, const std::vector<std::string>& columns,
                const std::string& refusal = "", const std::string& hint = "drop or impute incomplete rows");
// Sample weights [N] on x's device and dtype, checked (count, finite, non-negative, positive sum); undefined
// stays undefined.
at::Tensor checked_sample_weight(const at::Tensor& weight, const at::Tensor& x);
// NaN cells replaced by their column's mean (0 for an all-missing column); for initialisation only.
at::Tensor fill_missing_with_means(const at::Tensor& x);
// scikit-learn's shape of covariances (and precisions) for each covariance type.
std::vector<int64_t> covariance_shape(CovType type, int64_t k, int64_t d);
// Initial responsibilities [N, K] by init_params: kmeans | k-means++ | random | random_from_data.
at::Tensor initial_responsibilities(const at::Tensor& x, int64_t k, const std::string& init_params,
                                    const at::Tensor& sample_weight, at::Generator& gen);

struct Params {
  at::Tensor weights;          // [K]
  at::Tensor means;            // [K, D]
  at::Tensor covariances;      // full [K,D,D] | tied [D,D] | diag [K,D] | spherical [K]
  at::Tensor precisions_chol;  // same shapes as covariances
};

// (x_n - mu_k)^T P_k (x_n - mu_k) for complete rows, in blocks with the E-step's formulas (em_fused.cpp). [N, K]
at::Tensor mahalanobis_sq(const at::Tensor& x, const at::Tensor& means, const at::Tensor& precisions_chol,
                          CovType type);
// log det of each component's precision Cholesky factor. [K]
at::Tensor log_det_cholesky(const at::Tensor& precisions_chol, CovType type, int64_t k, int64_t d);
// log N(x_n | mu_k, Sigma_k) for complete rows. [N, K]
at::Tensor log_gaussian_prob(const at::Tensor& x, const at::Tensor& means, const at::Tensor& precisions_chol,
                             CovType type);
// Cholesky factors of the precisions from covariances; a singular component is a gf::NumericalError naming it.
at::Tensor precisions_cholesky(const at::Tensor& covariances, CovType type, const at::Tensor& nk, double reg_covar);
// Cholesky factors of precisions given directly (user's precisions_init).
at::Tensor precisions_cholesky_from_precisions(const at::Tensor& precisions, CovType type);
// Covariances of every component as full matrices. [K, D, D]
at::Tensor full_covariances(const at::Tensor& covariances, CovType type, int64_t k, int64_t d);
// Converts full per-component covariances [K,D,D] (plus component masses nk [K]) to the given type.
at::Tensor covariances_from_full(const at::Tensor& full, const at::Tensor& nk, CovType type, double reg_covar);

// M-step on complete rows: resp [N, K] already multiplied by sample weights; row_weight [N] or undefined.
// Sets weights (normalised), means and covariances (reg_covar added); not the precisions.
void estimate_parameters(const at::Tensor& x, const at::Tensor& resp, const at::Tensor& row_weight, double reg_covar,
                         CovType type, Params& out);

// Complete-row data prepared once per fit for em_iteration.
struct EmData {
  at::Tensor centred;     // [N, D] rows minus shift
  at::Tensor centred_sq;  // [N, D] squares (diag and spherical only)
  at::Tensor shift;       // [D] weighted mean of the rows
  at::Tensor scatter;     // [D, D] sum_n w_n xc_n xc_n^T (tied only)
  at::Tensor row_weight;  // [N] or undefined
  double total_weight = 0;
  dist::Communicator* across = nullptr;  // set when the rows are shared out among the ranks of a distributed job
};
// With `across` in a distributed job, every rank passes all rows and keeps its share of them; em_iteration then
// sums the statistics over the ranks (the same parameters as one process, to rounding).
EmData prepare_em_data(const at::Tensor& x, const at::Tensor& row_weight, CovType type,
                       dist::Communicator* across = nullptr);
// Weighted Gaussian statistics of the data under responsibilities, as scikit-learn's
// _estimate_gaussian_parameters: component masses (10*eps added), means, covariances (reg_covar added).
struct GaussianStats {
  at::Tensor nk;           // [K]
  at::Tensor means;        // [K, D]
  at::Tensor covariances;  // shape of the covariance type
};
struct EStepTotals {
  double mean_log_norm = 0;  // (1/W) sum_n w_n log sum_k exp(offset_k + log N(x_n | k)); the GMM's log-likelihood
  double resp_log_resp = 0;  // sum_n w_n sum_k r_nk log r_nk (only when asked for)
};
// One E-step (log-densities plus a per-component offset, e.g. log weights) and the statistics of its
// responsibilities, in a single blocked, multi-threaded pass over the data.
EStepTotals em_iteration(const EmData& data, const at::Tensor& means, const at::Tensor& precisions_chol,
                         const at::Tensor& log_offset, CovType type, double reg_covar, bool want_resp_log_resp,
                         GaussianStats& next);

// The same statistics from explicit responsibilities (already multiplied by sample weights).
GaussianStats gaussian_stats(const at::Tensor& x, const at::Tensor& resp, const at::Tensor& row_weight,
                             double reg_covar, CovType type);

// Rows grouped by missing-value pattern.
struct MissingLayout {
  bool any_missing = false;
  at::Tensor complete_rows;  // int64 [Nc]
  struct Group {
    at::Tensor rows;      // int64 [n]
    at::Tensor observed;  // int64 [O]
    at::Tensor missing;   // int64 [M]
  };
  std::vector<Group> groups;
};
MissingLayout analyse_missing(const at::Tensor& x);

// Gaussian conditioning of one group's rows on their observed coordinates, for every component.
struct Conditional {
  at::Tensor log_prob;     // [n, K] marginal log N(x_obs | mu_k,obs, Sigma_k,obs)
  at::Tensor mahalanobis;  // [n, K] (x_obs - mu_k,obs)' Sigma_k,obs^-1 (x_obs - mu_k,obs)
  at::Tensor log_det;      // [K] log |Sigma_k,obs|
  at::Tensor mean;         // [K, n, M] E[x_mis | x_obs, k]
  at::Tensor cov;          // [K, M, M] Cov[x_mis | x_obs, k]
};
Conditional condition_group(const at::Tensor& x_rows, const MissingLayout::Group& group, const at::Tensor& means,
                            const at::Tensor& full_cov);

// The NaN cells of rows x [N, D] filled from a mixture's conditional given each row's observed cells: a component
// by its posterior given them, then its conditional. Components are Gaussian (`dof` undefined) or multivariate
// Student-t with `dof` [K] degrees of freedom and scale matrices `full_cov` (a Bayesian mixture's posterior
// predictive): the conditional of a t is a t with dof + O degrees of freedom and its scale stretched by
// (dof + Mahalanobis) / (dof + O), O the observed cells. draws == 0: the conditional mean [1, N, D]; else `draws`
// fills [draws, N, D] from gen; each missing pattern's conditional is computed once for all of them.
at::Tensor fill_from_mixture(const at::Tensor& x, const at::Tensor& weights, const at::Tensor& means,
                             const at::Tensor& full_cov, const at::Tensor& dof, int64_t draws, at::Generator* gen);

// log N for all rows, marginalising missing coordinates. [N, K]
at::Tensor log_prob_with_missing(const at::Tensor& x, const MissingLayout& layout, const Params& p, CovType type);
// M-step with expected sufficient statistics for the missing coordinates.
void estimate_parameters_with_missing(const at::Tensor& x, const MissingLayout& layout, const at::Tensor& resp,
                                      const Params& old, double reg_covar, CovType type, Params& out);

// k-means++ seeding (greedy, 2 + log K local trials) on rows of x; sample_weight may be undefined. Returns row
// indices [K].
at::Tensor kmeans_plusplus(const at::Tensor& x, int64_t k, const at::Tensor& sample_weight, at::Generator& gen);
// Lloyd's algorithm from k-means++ seeds; returns labels [N] (int64).
at::Tensor kmeans_labels(const at::Tensor& x, int64_t k, const at::Tensor& sample_weight, at::Generator& gen,
                         int64_t max_iter = 300, double rel_tol = 1e-4);

}  // namespace gf::stats
