#include "genforge/eval/image.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "eval/blas.h"
#include "genforge/core/error.h"

namespace gf::eval {

namespace {

// One summing pass instead of isfinite's elementwise mask (5x faster on 10k x 2048): NaN and inf propagate into
// the sum; only an overflowing sum of finite values needs the exact check.
bool all_finite(const torch::Tensor& t) {
  if (std::isfinite(t.sum().item<double>())) return true;
  return torch::isfinite(t).all().item<bool>();
}

const torch::Tensor& checked_shape(const torch::Tensor& x, const char* what, int64_t min_rows = 2) {
  GF_CHECK(x.defined() && x.dim() == 2, what, " must be a matrix [N, D], got ",
           x.defined() ? x.sizes() : torch::IntArrayRef{});
  GF_CHECK(x.size(0) >= min_rows, what, " has ", x.size(0), " rows; at least ", min_rows, " are needed");
  GF_CHECK(x.size(1) >= 1, what, " has no feature columns");
  return x;
}

torch::Tensor checked_features(const torch::Tensor& x, const char* what, int64_t min_rows, bool check_finite = true) {
  checked_shape(x, what, min_rows);
  auto d = x.to(torch::kDouble).contiguous();
  if (check_finite) {
    GF_CHECK_AS(DataError, all_finite(d), "remove or impute the rows with missing values", what,
                " contains NaN or infinite values");
  }
  return d;
}

void check_same_width(const torch::Tensor& a, const torch::Tensor& b) {
  GF_CHECK(a.size(1) == b.size(1), "feature sizes differ: ", a.size(1), " vs ", b.size(1),
           " (both sets must go through the same feature extractor)");
}

// Euclidean distances as sklearn's euclidean_distances: (-2 x.y + |x|^2) + |y|^2, clipped at 0. [N, M].
torch::Tensor pairwise_distances(const torch::Tensor& x, const torch::Tensor& y) {
  auto xx = (x * x).sum(1, true);         // [N, 1]
  auto yy = (y * y).sum(1).unsqueeze(0);  // [1, M]
  return torch::mm(x, y.t()).mul_(-2).add_(xx).add_(yy).clamp_min_(0).sqrt_();
}

// Distance from each row of x to its k-th nearest neighbour in x, the row itself excluded. [N].
torch::Tensor knn_radii(const torch::Tensor& x, int64_t k, int64_t block) {
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < x.size(0); r += block) {
    auto rows = x.slice(0, r, std::min(r + block, x.size(0)));
    auto d = pairwise_distances(rows, x);
    // The block's own rows sit at columns r.. r+b: their self-distance is exactly zero as sklearn's fill.
    d.narrow(1, r, rows.size(0)).fill_diagonal_(0);
    parts.push_back(std::get<0>(torch::kthvalue(d, k + 1, 1)));
  }
  return torch::cat(parts);
}

torch::Tensor inside(const torch::Tensor& d, const torch::Tensor& radius, BallRule rule) {
  return rule == BallRule::strict ? d.lt(radius) : d.le(radius);
}

// Rows [r0, r1) of x - shift (x and shift float64, row-major, D = dim) into out [r1 - r0, D] (float64, or float32
// for the mixed-precision statistics). Each thread adds the float64 differences, and with `squares` their squares,
// to its own slot of `partial` ([threads, 2 D]: sums, then squares); the static schedule makes the split depend on
// the thread count only.
template <class T>
void shift_rows(const double* x, const double* shift, int64_t r0, int64_t r1, int64_t dim, T* out, bool squares,
                std::vector<double>& partial) {
#pragma omp parallel
  {
    double* sum = partial.data() + size_t(omp_get_thread_num()) * 2 * size_t(dim);
    double* square = sum + dim;
#pragma omp for schedule(static)
    for (int64_t i = r0; i < r1; ++i) {
      const double* row = x + i * dim;
      T* o = out + (i - r0) * dim;
      if (squares) {
        for (int64_t j = 0; j < dim; ++j) {
          const double c = row[j] - shift[j];
          o[j] = static_cast<T>(c);
          sum[j] += c;
          square[j] += c * c;
        }
      } else {
        for (int64_t j = 0; j < dim; ++j) {
          const double c = row[j] - shift[j];
          o[j] = static_cast<T>(c);
          sum[j] += c;
        }
      }
    }
  }
}

// The rounding error of mixed-precision cross products, measured where it is cheap and extrapolated: the first
// block's float32 gram is compared with float64 products on `columns` evenly spaced columns (scaled to all D), and
// each block's error is taken to grow with its mean squared magnitude times the square root of its row count (what
// float32 rounding gives for independent errors), so E_b = E_1 (t_b / t_1) sqrt(k_1 / k_b) with t the block's trace,
// and blocks add in quadrature.
class GramErrorMeter {
 public:
  GramErrorMeter(int64_t dim, int64_t columns, const torch::Device& device)
      : index_(((torch::arange(std::min(columns, dim), torch::dtype(torch::kDouble)) + 0.5) *
                (double(dim) / double(std::min(columns, dim))))
                   .to(torch::kLong)
                   .to(device)),
        scale_(std::sqrt(double(dim) / double(index_.numel()))) {}

  // rows [k, D] float64 (uncentred), mean [D], block_gram [D, D] float32 (the lower triangle at least).
  void add_block(const torch::Tensor& rows, const torch::Tensor& mean, const torch::Tensor& block_gram) {
    const int64_t k = rows.size(0);
    const double trace = block_gram.diagonal().sum().item<double>();
    if (blocks_ == 0) {
      // [p, k] x [k, D]: the wide orientation runs at twice the speed of [D, k] x [k, p].
      auto centred = (rows.index_select(1, index_) - mean.index_select(0, index_)).t().contiguous();  // [p, k]
      auto exact = torch::mm(centred, rows) - torch::outer(centred.sum(1), mean);                    // [p, D]
      auto above = block_gram.index_select(0, index_);      // (j, i): defined for i <= j
      auto below = block_gram.index_select(1, index_).t();  // (i, j): defined for i >= j
      auto i = torch::arange(block_gram.size(0), index_.options()).unsqueeze(0);  // [1, D]
      auto approx = torch::where(i >= index_.unsqueeze(1), below, above).to(torch::kDouble);  // [p, D]
      first_error_ = (approx - exact).norm().item<double>() * scale_;
      first_trace_ = trace;
      first_rows_ = k;
    }
    const double e = first_trace_ > 0 ? first_error_ * (trace / first_trace_) * std::sqrt(double(first_rows_) / double(k)) : 0;
    squared_ += e * e;
    ++blocks_;
  }

  double error() const { return std::sqrt(squared_); }

 private:
  torch::Tensor index_;  // [p] columns recomputed in float64
  double scale_;
  double first_error_ = 0, first_trace_ = 0, squared_ = 0;
  int64_t first_rows_ = 0, blocks_ = 0;
};

}  // namespace

GaussianStatistics gaussian_statistics(const torch::Tensor& features, const StatisticsOptions& options) {
  auto x = checked_features(features, "features", 2, /*check_finite=*/false);
  GF_CHECK(options.block_rows >= 1, "block_rows must be >= 1, got ", options.block_rows);
  GF_CHECK(options.error_columns >= 1, "error_columns must be >= 1, got ", options.error_columns);
  const int64_t n = x.size(0), dim = x.size(1);
  GaussianStatistics s;
  s.count = n;
  auto gram = torch::empty({dim, dim}, x.options());  // the first block's cross products overwrite it
  torch::Tensor scratch;
  GramErrorMeter meter(dim, options.error_columns, x.device());
  if (!x.device().is_cpu()) {
    s.mean = x.mean(0);
    auto centred = x - s.mean;
    blas::add_gram_lower(options.mixed_precision ? centred.to(torch::kFloat).contiguous() : centred, gram, scratch,
                         /*overwrite=*/true);
    blas::symmetrize_lower(gram);
    if (options.mixed_precision) {
      meter.add_block(x, s.mean, scratch);
      gram.diagonal().copy_((centred * centred).sum(0));
    }
  } else {
    // One pass: rows are taken relative to the mean of an evenly strided sample of at most ~1024 rows (within a
    // few percent of a standard deviation of the mean, however the rows are ordered), shifted block by block into
    // one reused buffer (no [N, D] copy) whose cross products are added in turn, while the shifted values are
    // summed. Then mean = shift + d and the gram loses N d d^T, a float64 correction ~1/1024 of its size.
    const int64_t stride = std::max<int64_t>(1, n / 1024);
    auto shift = x.slice(0, 0, n, stride).mean(0).contiguous();  // [D]
    const int64_t block = std::min(n, options.block_rows);
    auto buffer = torch::empty({block, dim}, x.options().dtype(options.mixed_precision ? torch::kFloat : torch::kDouble));
    std::vector<double> partial(size_t(omp_get_max_threads()) * 2 * size_t(dim), 0.0);
    const double* src = x.data_ptr<double>();
    const double* sh = shift.data_ptr<double>();
    for (int64_t r = 0; r < n; r += block) {
      const int64_t k = std::min(n, r + block) - r;
      if (options.mixed_precision) {
        shift_rows(src, sh, r, r + k, dim, buffer.data_ptr<float>(), /*squares=*/true, partial);
      } else {
        shift_rows(src, sh, r, r + k, dim, buffer.data_ptr<double>(), /*squares=*/false, partial);
      }
      blas::add_gram_lower(buffer.slice(0, 0, k), gram, scratch, /*overwrite=*/r == 0);
      if (options.mixed_precision) meter.add_block(x.slice(0, r, r + k), shift, scratch);
    }
    // Thread partials added in thread order (deterministic for a thread count).
    std::vector<double> sums(size_t(dim), 0.0), squares(size_t(dim), 0.0);
    for (size_t t = 0; t < partial.size() / (2 * size_t(dim)); ++t)
      for (int64_t j = 0; j < dim; ++j) {
        sums[size_t(j)] += partial[t * 2 * size_t(dim) + size_t(j)];
        squares[size_t(j)] += partial[(2 * t + 1) * size_t(dim) + size_t(j)];
      }
    std::vector<double> offset(static_cast<size_t>(dim));  // d = mean - shift
    for (int64_t j = 0; j < dim; ++j) offset[size_t(j)] = sums[size_t(j)] / double(n);
    double* g = gram.data_ptr<double>();
    if (options.mixed_precision) {
      // The diagonal is a sum of N squares: float32 partial sums would lose the most there, and every trace in
      // the distance is built from it, so it is always summed in float64.
      for (int64_t j = 0; j < dim; ++j) g[j * dim + j] = squares[size_t(j)];
    }
    blas::symmetrize_lower(gram, offset.data(), -double(n));
    s.mean = shift + torch::from_blob(offset.data(), {dim}, torch::kDouble).clone();
  }
  // The sums that give the mean also show any NaN or infinity (no separate pass over the features).
  if (!all_finite(s.mean)) {
    GF_CHECK_AS(DataError, all_finite(x), "remove or impute the rows with missing values",
                "features contains NaN or infinite values");
  }
  const double divisor = options.divisor == CovarianceDivisor::n_minus_1 ? double(n - 1) : double(n);
  s.covariance_error = meter.error() / divisor;
  s.cov = gram.div_(divisor);
  return s;
}

namespace {

struct RootTrace {
  double positive = 0;     // sum of sqrt(mu) over the eigenvalues mu > 0 of S1^1/2 S2 S1^1/2 (= those of S1 S2)
  double negative = 0;     // sum of sqrt(-mu) over the negative ones
  double inverse_sum = 0;  // sum of 1/mu (infinite when some mu <= 0)
};

RootTrace trace_sqrt_product(const torch::Tensor& s1, const torch::Tensor& s2) {
  torch::Tensor product;
  auto l = s1.clone();
  if (blas::cholesky_lower_inplace(l)) {
    product = blas::congruence_lower(l, s2.contiguous());
  } else {
    // Singular S1 (fewer samples than features): its symmetric square root from the eigen-decomposition.
    auto [values, vectors] = torch::linalg_eigh(s1);
    auto root = torch::mm(vectors * values.clamp_min(0).sqrt().unsqueeze(0), vectors.t());
    product = torch::mm(torch::mm(root, s2), root).contiguous();
  }
  auto eig = blas::symmetric_eigenvalues(product);  // reads the lower triangle, all congruence_lower defines
  RootTrace r;
  r.positive = eig.clamp_min(0).sqrt().sum().item<double>();
  r.negative = (-eig).clamp_min(0).sqrt().sum().item<double>();
  r.inverse_sum = eig.min().item<double>() > 0 ? eig.reciprocal().sum().item<double>()
                                               : std::numeric_limits<double>::infinity();
  return r;
}

// Largest eigenvalue of a symmetric positive semi-definite matrix [D, D]: the Rayleigh quotient after a few power
// steps from a fixed start (from below, near the value on spectra like the covariances'; the estimate it feeds has
// its own margin).
double largest_eigenvalue(const torch::Tensor& s, int steps = 6) {
  auto v = torch::linspace(1.0, 2.0, s.size(0), s.options());  // [D]
  double rayleigh = 0;
  for (int i = 0; i < steps; ++i) {
    v = v / v.norm();
    auto w = torch::mv(s, v);
    rayleigh = v.dot(w).item<double>();
    v = w;
  }
  return rayleigh;
}

}  // namespace

FrechetResult frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b,
                               const FrechetOptions& options) {
  GF_CHECK(a.mean.defined() && b.mean.defined() && a.cov.defined() && b.cov.defined(),
           "frechet_distance: statistics are empty");
  GF_CHECK(a.mean.numel() == b.mean.numel(), "feature sizes differ: ", a.mean.numel(), " vs ", b.mean.numel(),
           " (both sets must go through the same feature extractor)");
  const int64_t dim = a.mean.numel();
  auto mu1 = a.mean.to(torch::kDouble).reshape({dim}), mu2 = b.mean.to(torch::kDouble).reshape({dim});
  auto s1 = a.cov.to(torch::kDouble).reshape({dim, dim}).contiguous();
  auto s2 = b.cov.to(torch::kDouble).reshape({dim, dim}).contiguous();
  GF_CHECK_AS(DataError, all_finite(s1) && all_finite(s2) && all_finite(mu1) && all_finite(mu2),
              "recompute the statistics from finite features",
              "frechet_distance: statistics contain NaN or infinite values");
  FrechetResult r;
  auto diff = mu1 - mu2;
  r.mean_term = diff.dot(diff).item<double>();
  auto root = trace_sqrt_product(s1, s2);
  double tr1 = s1.trace().item<double>(), tr2 = s2.trace().item<double>();
  if (!std::isfinite(root.positive)) {
    auto offset = torch::eye(dim, s1.options()) * options.eps;
    root = trace_sqrt_product(s1 + offset, s2 + offset);
    r.eps_retry = true;
  }
  GF_CHECK_AS(NumericalError, std::isfinite(root.positive), "check the features for extreme values",
              "frechet_distance: the matrix square root is not finite");
  r.negative_mass = root.negative;
  GF_CHECK_AS(NumericalError, root.negative <= options.max_imaginary * std::max<double>(1.0, double(dim)),
              "pass statistics computed by gaussian_statistics, or more samples than feature dimensions",
              "frechet_distance: imaginary component ", root.negative,
              " in the matrix square root (the covariances are far from positive semi-definite)");
  const double root_trace = root.positive;
  if (a.covariance_error > 0 || b.covariance_error > 0) {
    // The traces are exact (float64 diagonals): only the square-root term carries the cross products' error.
    const double rms1 = a.covariance_error / double(dim), rms2 = b.covariance_error / double(dim);
    const double k1 = rms1 > 0 ? rms1 * largest_eigenvalue(s2) : 0, k2 = rms2 > 0 ? rms2 * largest_eigenvalue(s1) : 0;
    r.rounding_error = r.eps_retry || !std::isfinite(root.inverse_sum)
                           ? std::numeric_limits<double>::infinity()
                           : std::sqrt(2.0) * std::sqrt(root.inverse_sum) * std::hypot(k1, k2);
  }
  r.trace_term = tr1 + tr2 - 2 * root_trace;
  r.distance = r.mean_term + r.trace_term;
  return r;
}

FrechetResult fid(const torch::Tensor& real, const torch::Tensor& fake, const FidOptions& options) {
  GF_CHECK(options.tolerance > 0, "fid: tolerance must be > 0, got ", options.tolerance);
  check_same_width(checked_shape(real, "real features"), checked_shape(fake, "fake features"));
  auto with_precision = [&](bool mixed) {
    StatisticsOptions so = options.statistics;
    so.mixed_precision = mixed;
    auto r = frechet_distance(gaussian_statistics(real, so), gaussian_statistics(fake, so), options.frechet);
    r.mixed_precision = mixed;
    return r;
  };
  const int64_t dim = real.size(1);
  switch (options.precision) {
    case FidPrecision::float64:
      return with_precision(false);
    case FidPrecision::mixed:
      return with_precision(true);
    case FidPrecision::automatic:
      break;
  }
  // With no more rows than dimensions a covariance is singular: float32 rounding in its null space reaches the
  // distance through square roots of near-zero eigenvalues, so those sets go to float64 straight away.
  if (real.size(0) > dim && fake.size(0) > dim) {
    auto r = with_precision(true);
    if (r.rounding_error <= options.tolerance * std::abs(r.distance)) return r;
  }
  return with_precision(false);
}

double mmd2(const torch::Tensor& kxx, const torch::Tensor& kyy, const torch::Tensor& kxy, MmdEstimator estimator) {
  const int64_t m = kxx.size(0);
  GF_CHECK(m >= 2 && kxx.dim() == 2 && kxx.size(1) == m && kyy.sizes() == kxx.sizes() && kxy.sizes() == kxx.sizes(),
           "mmd2: kernel matrices must all be [m, m] with m >= 2, got ", kxx.sizes(), ", ", kyy.sizes(), ", ",
           kxy.sizes());
  auto xx = kxx.to(torch::kDouble), yy = kyy.to(torch::kDouble), xy = kxy.to(torch::kDouble);
  const double diag_x = xx.diagonal().sum().item<double>(), diag_y = yy.diagonal().sum().item<double>();
  const double off_x = xx.sum().item<double>() - diag_x, off_y = yy.sum().item<double>() - diag_y;
  const double cross = xy.sum().item<double>();
  const double mm = double(m) * double(m), m1 = double(m) * double(m - 1);
  switch (estimator) {
    case MmdEstimator::biased:
      return (off_x + diag_x) / mm + (off_y + diag_y) / mm - 2 * cross / mm;
    case MmdEstimator::unbiased:
      return (off_x + off_y) / m1 - 2 * cross / mm;
    case MmdEstimator::u_statistic:
      return (off_x + off_y) / m1 - 2 * (cross - xy.diagonal().sum().item<double>()) / m1;
  }
  throw InternalError("mmd2: unknown estimator");
}

torch::Tensor polynomial_kernel(const torch::Tensor& x, const torch::Tensor& y, int64_t degree, double gamma,
                                double coef0) {
  auto a = x.to(torch::kDouble), b = y.to(torch::kDouble);
  if (gamma <= 0) gamma = 1.0 / double(a.size(1));
  return torch::mm(a, b.t()).mul_(gamma).add_(coef0).pow_(double(degree));
}

namespace {
MeanStd mean_std(const std::vector<double>& v) {
  MeanStd r;
  for (double x : v) r.mean += x;
  r.mean /= double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / double(v.size()));
  return r;
}
}  // namespace

GaussianMmd gaussian_mmd2(const torch::Tensor& x_in, const torch::Tensor& y_in, double bandwidth) {
  GF_CHECK_AS(DataError, x_in.dim() == 2 && y_in.dim() == 2 && x_in.size(1) == y_in.size(1),
              "give two feature matrices [N, D] with the same D", "MMD of shapes ", x_in.sizes(), " and ",
              y_in.sizes());
  GF_CHECK_AS(DataError, x_in.size(0) >= 2 && y_in.size(0) >= 2, "give at least 2 samples per side",
              "MMD needs 2 samples per side, got ", x_in.size(0), " and ", y_in.size(0));
  auto x = x_in.to(torch::kDouble).contiguous(), y = y_in.to(torch::kDouble).contiguous();  // [M, D], [N, D]
  if (bandwidth <= 0) {
    auto pooled = torch::cat({x.slice(0, 0, 1000), y.slice(0, 0, 1000)});  // [P, D]
    auto d = torch::cdist(pooled, pooled);
    const int64_t p = pooled.size(0);
    auto off_diagonal = d.masked_select(~torch::eye(p, torch::dtype(torch::kBool)));
    bandwidth = off_diagonal.median().item<double>();
    GF_CHECK_AS(DataError, bandwidth > 0, "the samples are all identical; give a bandwidth",
                "median heuristic bandwidth is 0");
  }
  const double gamma = 1 / (2 * bandwidth * bandwidth);
  // Sum of k(a_i, b_j) over all pairs, in row blocks; the diagonal of a same-set sum is m ones.
  auto kernel_sum = [gamma](const torch::Tensor& a, const torch::Tensor& b) {
    double total = 0;
    for (int64_t i = 0; i < a.size(0); i += 1024) {
      auto block = a.slice(0, i, std::min(a.size(0), i + 1024));
      total += torch::exp(-gamma * torch::cdist(block, b).pow(2)).sum().item<double>();
    }
    return total;
  };
  const double m = double(x.size(0)), n = double(y.size(0));
  GaussianMmd out;
  out.bandwidth = bandwidth;
  out.mmd2 = (kernel_sum(x, x) - m) / (m * (m - 1)) + (kernel_sum(y, y) - n) / (n * (n - 1)) -
             2 * kernel_sum(x, y) / (m * n);
  return out;
}

MeanStd kernel_inception_distance(const torch::Tensor& real, const torch::Tensor& fake, const KidOptions& options,
                                  at::Generator& gen) {
  auto x = checked_features(real, "real features", 2), y = checked_features(fake, "fake features", 2);
  check_same_width(x, y);
  GF_CHECK(options.subsets >= 1, "KID subsets must be >= 1, got ", options.subsets);
  GF_CHECK(options.subset_size >= 2, "KID subset size must be >= 2, got ", options.subset_size);
  GF_CHECK_AS(InvalidArgument, options.subset_size <= std::min(x.size(0), y.size(0)),
              "use a subset size of at most the smaller set's size, or more samples", "KID subset size ",
              options.subset_size, " exceeds the number of samples (", x.size(0), " real, ", y.size(0), " fake)");
  std::vector<double> values;
  for (int64_t i = 0; i < options.subsets; ++i) {
    auto ix = torch::randperm(x.size(0), gen, torch::kLong).slice(0, 0, options.subset_size);
    auto iy = torch::randperm(y.size(0), gen, torch::kLong).slice(0, 0, options.subset_size);
    auto a = x.index_select(0, ix), b = y.index_select(0, iy);
    auto k = [&](const torch::Tensor& p, const torch::Tensor& q) {
      return polynomial_kernel(p, q, options.degree, options.gamma, options.coef0);
    };
    values.push_back(mmd2(k(a, a), k(b, b), k(a, b), options.estimator));
  }
  return mean_std(values);
}

MeanStd inception_score(const torch::Tensor& logits, int64_t splits) {
  auto z = checked_features(logits, "logits", 1);
  GF_CHECK(splits >= 1 && splits <= z.size(0), "Inception Score splits must be in [1, ", z.size(0), "], got ",
           splits);
  auto log_p = torch::log_softmax(z, 1);  // [N, C]
  auto p = log_p.exp();
  const int64_t n = z.size(0);
  std::vector<double> scores;
  for (int64_t i = 0; i < splits; ++i) {
    const int64_t lo = i * n / splits, hi = (i + 1) * n / splits;
    auto part_p = p.slice(0, lo, hi), part_log = log_p.slice(0, lo, hi);
    auto log_marginal = part_p.mean(0, true).log();
    auto kl = (part_p * (part_log - log_marginal)).sum(1).mean();
    scores.push_back(std::exp(kl.item<double>()));
  }
  return mean_std(scores);
}

PrdcResult precision_recall_density_coverage(const torch::Tensor& real, const torch::Tensor& fake,
                                             const PrdcOptions& options) {
  auto x = checked_features(real, "real features", 2), y = checked_features(fake, "fake features", 2);
  check_same_width(x, y);
  GF_CHECK(options.k >= 1 && options.k < std::min(x.size(0), y.size(0)), "k must be in [1, ",
           std::min(x.size(0), y.size(0)) - 1, "] (fewer than the samples in each set), got ", options.k);
  constexpr int64_t block = 1024;
  auto real_radii = knn_radii(x, options.k, block);  // [N]
  auto fake_radii = knn_radii(y, options.k, block);  // [M]
  const int64_t n = x.size(0), m = y.size(0);
  double precision = 0, density = 0, recall = 0, coverage = 0;
  for (int64_t r = 0; r < m; r += block) {  // fake rows against every real ball
    auto d = pairwise_distances(y.slice(0, r, std::min(m, r + block)), x);  // [b, N]
    auto in_real = inside(d, real_radii.unsqueeze(0), options.rule);
    precision += in_real.any(1).sum().item<double>();
    density += in_real.sum().item<double>();
  }
  for (int64_t r = 0; r < n; r += block) {  // real rows against every fake ball
    auto rows = x.slice(0, r, std::min(n, r + block));
    auto d = pairwise_distances(rows, y);  // [b, M]
    recall += inside(d, fake_radii.unsqueeze(0), options.rule).any(1).sum().item<double>();
    auto nearest_fake = std::get<0>(d.min(1));
    coverage += inside(nearest_fake, real_radii.slice(0, r, r + rows.size(0)), options.rule).sum().item<double>();
  }
  PrdcResult res;
  res.precision = precision / double(m);
  res.density = density / (double(options.k) * double(m));
  res.recall = recall / double(n);
  res.coverage = coverage / double(n);
  return res;
}

TrimmedMean trimmed_path_length(const torch::Tensor& distances, double low_percent, double high_percent) {
  GF_CHECK(distances.defined() && distances.numel() >= 1, "path lengths are empty");
  GF_CHECK(0 <= low_percent && low_percent <= high_percent && high_percent <= 100,
           "percentiles must satisfy 0 <= low <= high <= 100, got ", low_percent, " and ", high_percent);
  auto d = distances.to(torch::kDouble).reshape({-1});
  GF_CHECK_AS(DataError, all_finite(d), "check the generator's outputs",
              "path lengths contain NaN or infinite values");
  auto sorted = std::get<0>(d.sort());
  const int64_t n = sorted.numel();
  // numpy.percentile(method='lower' / 'higher'): the order statistics either side of (n-1) p / 100.
  const double low_pos = (n - 1) * low_percent / 100.0, high_pos = (n - 1) * high_percent / 100.0;
  TrimmedMean t;
  t.low = sorted[static_cast<int64_t>(std::floor(low_pos))].item<double>();
  t.high = sorted[static_cast<int64_t>(std::ceil(high_pos))].item<double>();
  auto kept = d.masked_select(d.ge(t.low).logical_and(d.le(t.high)));
  t.kept = kept.numel();
  t.mean = kept.mean().item<double>();
  t.std = kept.std(/*unbiased=*/false).item<double>();
  return t;
}

}  // namespace gf::eval
