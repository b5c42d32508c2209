// Image-generation metrics on feature vectors: FID, KID, Inception Score, precision/recall, density/coverage and
// the perceptual-path-length trimming rule. Every function here takes features (rows = images), so the same code
// serves Inception features, genforge's Fashion-MNIST classifier features (eval/features.h) or any TorchScript
// extractor. Conventions follow the reference implementations named on each function; docs/evaluation.md lists
// them side by side.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace gf::eval {

// ---- Fréchet distance (FID) --------------------------------------------------------------------------------

// Divisor of the covariance: N-1 as pytorch-fid, clean-fid and torch-fidelity (np.cov), or N as StyleGAN2-ADA.
enum class CovarianceDivisor { n_minus_1, n };

struct StatisticsOptions {
  CovarianceDivisor divisor = CovarianceDivisor::n_minus_1;
  // Cross products of the centred features in float32 over blocks of `block_rows` rows, each block's sum added in
  // float64; centring and the diagonal (hence every trace) stay float64. The statistics take ~40% less time; the
  // rounding error this leaves is measured (`GaussianStatistics::covariance_error`) so that `frechet_distance` can
  // estimate what it does to the distance, and `fid` uses it only where that estimate is small.
  bool mixed_precision = false;
  int64_t block_rows = 2048;     // rows centred and multiplied at a time (both precisions): no [N, D] centred copy
  int64_t error_columns = 16;    // mixed precision: covariance columns recomputed in float64 to measure the error
};

// Mean and covariance of a feature set, both float64 (mean [D], cov [D, D]).
struct GaussianStatistics {
  torch::Tensor mean;  // [D]
  torch::Tensor cov;   // [D, D]
  int64_t count = 0;
  // Frobenius norm of cov's rounding error against float64 cross products: measured for the first block on
  // `error_columns` evenly spaced columns (scaled to all columns), extrapolated to the other blocks from their
  // traces and row counts; 0 for float64 statistics.
  double covariance_error = 0;
};

// features: [N, D], N >= 2, any floating dtype, finite.
GaussianStatistics gaussian_statistics(const torch::Tensor& features, const StatisticsOptions& options = {});

struct FrechetResult {
  double distance = 0;
  double mean_term = 0;        // |mu1 - mu2|^2
  double trace_term = 0;       // tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2)
  double negative_mass = 0;    // sum of sqrt(-lambda) over negative eigenvalues of S1^1/2 S2 S1^1/2 (the
                               // imaginary part scipy's sqrtm would report on the trace)
  bool eps_retry = false;      // both covariances were offset by eps*I (pytorch-fid's retry)
  // One standard deviation of the distance's difference from float64 statistics, estimated from the statistics'
  // covariance_error (0 when both are float64; infinite when the product has eigenvalues <= 0). Rounding errors
  // taken as independent and zero-mean (probabilistic rounding-error analysis, Higham & Mary 2019): the error of
  // tr((S1 S2)^1/2) then spreads by at most sqrt(2) sigma_k ||K_k||_F per covariance, sigma_k =
  // covariance_error_k / D its RMS entry error, and ||K_1||_F <= ||S2||_2 (sum_i 1/mu_i)^1/2 with mu_i the
  // eigenvalues of S1 S2.
  double rounding_error = 0;
  bool mixed_precision = false;  // computed from mixed-precision statistics (set by `fid`)
};

struct FrechetOptions {
  double eps = 1e-6;            // pytorch-fid's offset for the retry
  double max_imaginary = 1e-3;  // pytorch-fid's tolerance on the imaginary part of the square root's diagonal
};

// d^2 = |mu1-mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2) (pytorch-fid calculate_frechet_distance). The trace of
// the square root is the sum of square roots of the eigenvalues of L^T S2 L with S1 = L L^T (a Cholesky factor,
// or the symmetric square root when S1 is singular), which equals scipy's sqrtm trace without forming the
// non-symmetric product. As pytorch-fid: when that fails to give finite values both covariances are offset by
// eps*I and it is retried; an imaginary part above max_imaginary (negative eigenvalues of the product) is an
// error, a smaller one is dropped.
FrechetResult frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b,
                               const FrechetOptions& options = {});

// How `fid` computes the statistics: `automatic` uses mixed precision when both sets have more rows than
// dimensions and keeps its result when the rounding-error estimate stays below tolerance x |FID|, else it
// recomputes everything in float64 (pytorch-fid's precision; the mixed attempt then costs ~35% of a float64 run).
// The estimate bounds ||K||_F loosely: on every set tried it exceeded the observed difference from float64 by 4x
// (W10a) to 10^6x (ill-conditioned covariances, which therefore fall back although mixed precision was fine).
enum class FidPrecision { automatic, float64, mixed };

struct FidOptions {
  FidPrecision precision = FidPrecision::automatic;
  double tolerance = 1e-6;       // automatic: relative accuracy the mixed-precision result must keep
  StatisticsOptions statistics;  // its mixed_precision is set from `precision`
  FrechetOptions frechet;
};

// FID between two feature sets [N1, D] and [N2, D]: gaussian_statistics of each, then frechet_distance.
FrechetResult fid(const torch::Tensor& real, const torch::Tensor& fake, const FidOptions& options = {});

// ---- Kernel Inception Distance ---------------------------------------------------------------------------

enum class MmdEstimator { unbiased, biased, u_statistic };

// MMD^2 from the three kernel matrices (torch-fidelity mmd2): kxx [m, m], kyy [m, m], kxy [m, m].
double mmd2(const torch::Tensor& kxx, const torch::Tensor& kyy, const torch::Tensor& kxy,
            MmdEstimator estimator = MmdEstimator::unbiased);

// k(x, y) = (gamma x.y + coef0)^degree, gamma = 1/D when gamma <= 0. x [N, D], y [M, D] -> [N, M] float64.
torch::Tensor polynomial_kernel(const torch::Tensor& x, const torch::Tensor& y, int64_t degree = 3,
                                double gamma = 0, double coef0 = 1);

struct KidOptions {
  int64_t subsets = 100;        // torch-fidelity kid_subsets
  int64_t subset_size = 1000;   // torch-fidelity kid_subset_size (capped at min(N1, N2))
  int64_t degree = 3;
  double gamma = 0;             // 0 = 1/D
  double coef0 = 1;
  MmdEstimator estimator = MmdEstimator::unbiased;
};

struct MeanStd {
  double mean = 0;
  double std = 0;  // population standard deviation (ddof 0) over subsets / splits, as torch-fidelity
};

// MMD^2 with a Gaussian kernel exp(-|a - b|^2 / (2 bandwidth^2)), unbiased (diagonals left out), summed in blocks
// so no N x M matrix is held. bandwidth <= 0: the median heuristic -- the median Euclidean distance between
// distinct points of the pooled sample (its first 1000 rows of each set).
struct GaussianMmd {
  double mmd2 = 0;
  double bandwidth = 0;
};
GaussianMmd gaussian_mmd2(const torch::Tensor& x, const torch::Tensor& y, double bandwidth = 0);

// Mean and std of MMD^2 over random subsets drawn without replacement (torch-fidelity kid_features_to_metric).
MeanStd kernel_inception_distance(const torch::Tensor& real, const torch::Tensor& fake, const KidOptions& options,
                                  at::Generator& gen);

// ---- Inception Score ----------------------------------------------------------------------------------------

// exp(E_x KL(p(y|x) || p(y))) per split of consecutive rows [i*N/splits, (i+1)*N/splits), from logits [N, C]
// (softmax applied here, in float64), then mean and population std over splits (torch-fidelity, shuffle off).
MeanStd inception_score(const torch::Tensor& logits, int64_t splits = 10);

// ---- Precision, recall, density, coverage ------------------------------------------------------------------

// Whether a sample inside a k-NN ball is counted on the boundary: strict `<` as clovaai's prdc (Naeem et al.
// 2020), or inclusive `<=` as Kynkäänniemi et al. 2019 and torch-fidelity.
enum class BallRule { strict, inclusive };

struct PrdcOptions {
  int64_t k = 5;
  BallRule rule = BallRule::strict;
};

struct PrdcResult {
  double precision = 0, recall = 0, density = 0, coverage = 0;
};

// real [N, D], fake [M, D]. Radii are the distance to the k-th nearest neighbour within the same set (the point
// itself excluded); Euclidean distances as sklearn (|x|^2 - 2 x.y + |y|^2 in float64, clipped at 0).
PrdcResult precision_recall_density_coverage(const torch::Tensor& real, const torch::Tensor& fake,
                                             const PrdcOptions& options = {});

// ---- Perceptual path length -----------------------------------------------------------------------------

struct TrimmedMean {
  double mean = 0;
  double std = 0;      // population std of the kept values
  int64_t kept = 0;
  double low = 0, high = 0;
};

// StyleGAN's PPL aggregation: keep lo <= d <= hi with lo = 1st percentile (numpy 'lower'), hi = 99th ('higher').
TrimmedMean trimmed_path_length(const torch::Tensor& distances, double low_percent = 1, double high_percent = 99);

}  // namespace gf::eval
