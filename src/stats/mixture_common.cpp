// Checks and initialisation shared by the Gaussian mixture models (EM and variational).
#include "genforge/core/error.h"
#include "stats/gaussian_mixture.h"

namespace gf::stats {
namespace {
std::string column_name(const std::vector<std::string>& columns, int64_t c) {
  return c < static_cast<int64_t>(columns.size()) ? columns[c] : msg("x", c);
}
}  // namespace

void validate_shared_options(int64_t n_components, const std::string& covariance_type, double tol, double reg_covar,
                             int64_t max_iter, int64_t n_init, const std::string& init_params,
                             const std::string& dtype) {
  GF_CHECK(n_components >= 1, "n_components must be at least 1, got ", n_components);
  parse_cov_type(covariance_type);
  GF_CHECK(tol >= 0, "tol must be non-negative, got ", tol);
  GF_CHECK(reg_covar >= 0, "reg_covar must be non-negative, got ", reg_covar);
  GF_CHECK(max_iter >= 1, "max_iter must be at least 1, got ", max_iter);
  GF_CHECK(n_init >= 1, "n_init must be at least 1, got ", n_init);
  GF_CHECK(init_params == "kmeans" || init_params == "k-means++" || init_params == "random" ||
               init_params == "random_from_data",
           "init_params must be kmeans, k-means++, random or random_from_data, got '", init_params, "'");
  GF_CHECK(dtype == "float64" || dtype == "float32", "dtype must be float64 or float32, got '", dtype, "'");
}

void check_training_matrix(const at::Tensor& x, int64_t n_components) {
  GF_CHECK(x.defined() && x.dim() == 2, "mixture data must be a 2-D [N, D] matrix, got ", x.defined() ? x.dim() : 0,
           " dimensions");
  GF_CHECK_AS(DataError, x.size(1) > 0, "choose at least one numeric column", "the data has no columns");
  GF_CHECK_AS(DataError, x.size(0) > 0, "give at least one row", "the data has no rows");
  GF_CHECK_AS(InvalidArgument, n_components <= x.size(0), "lower n_components or give more rows", "n_components=",
              n_components, " is larger than the number of rows (", x.size(0), ")");
}

void check_rows(const at::Tensor& x, bool allow_missing, const std::vector<std::string>& columns,
                const std::string& refusal, const std::string& hint) {
  auto bad_inf = x.isinf();
  if (bad_inf.any().item<bool>()) {
    auto where = bad_inf.nonzero()[0];
    int64_t r = where[0].item<int64_t>(), c = where[1].item<int64_t>();
    throw DataError(msg("row ", r + 1, ", column '", column_name(columns, c), "': value is infinite"),
                    "replace infinities with finite values or NaN (missing)");
  }
  if (!allow_missing) {
    auto nan = x.isnan();
    if (nan.any().item<bool>()) {
      auto where = nan.nonzero()[0];
      int64_t r = where[0].item<int64_t>(), c = where[1].item<int64_t>();
      throw DataError(msg("row ", r + 1, ", column '", column_name(columns, c), "': missing value (NaN)", refusal),
                      hint);
    }
  }
}

at::Tensor checked_sample_weight(const at::Tensor& weight, const at::Tensor& x) {
  if (!weight.defined()) return weight;
  const int64_t n = x.size(0);
  auto sw = weight.to(x.device(), x.scalar_type()).reshape({-1});
  GF_CHECK_AS(DataError, sw.numel() == n, "give one weight per row", "sample_weight has ", sw.numel(), " values for ",
              n, " rows");
  GF_CHECK_AS(DataError, sw.isfinite().all().item<bool>() && (sw >= 0).all().item<bool>(),
              "weights must be finite and non-negative", "sample_weight holds negative, NaN or infinite values");
  GF_CHECK_AS(DataError, sw.sum().item<double>() > 0, "give at least one positive weight",
              "sample_weight sums to zero");
  return sw;
}

at::Tensor fill_missing_with_means(const at::Tensor& x) {
  auto nan = x.isnan();
  if (!nan.any().item<bool>()) return x;
  auto count = nan.logical_not().sum(0).clamp_min(1);
  auto means = at::where(nan, at::zeros_like(x), x).sum(0) / count;
  return at::where(nan, means.unsqueeze(0).expand_as(x), x);
}

std::vector<int64_t> covariance_shape(CovType type, int64_t k, int64_t d) {
  switch (type) {
    case CovType::full: return {k, d, d};
    case CovType::tied: return {d, d};
    case CovType::diag: return {k, d};
    case CovType::spherical: return {k};
  }
  return {};
}

at::Tensor initial_responsibilities(const at::Tensor& x, int64_t k, const std::string& init_params,
                                    const at::Tensor& sample_weight, at::Generator& gen) {
  const int64_t n = x.size(0);
  auto opt = x.options();
  if (init_params == "kmeans") {
    auto labels = kmeans_labels(x, k, sample_weight, gen);
    return at::zeros({n, k}, opt).scatter_(1, labels.unsqueeze(1), 1.0);
  }
  if (init_params == "random") {
    auto resp = at::rand({n, k}, gen, opt.device(at::kCPU)).to(x.device());
    return resp / resp.sum(1, true);
  }
  GF_CHECK(init_params == "k-means++" || init_params == "random_from_data",
           "init_params must be kmeans, k-means++, random or random_from_data, got '", init_params, "'");
  auto idx = init_params == "k-means++"
                 ? kmeans_plusplus(x, k, sample_weight, gen)
                 : at::randperm(n, gen, at::TensorOptions().dtype(at::kLong)).slice(0, 0, k).to(x.device());
  auto resp = at::zeros({n, k}, opt);
  resp.index_put_({idx, at::arange(k, idx.options())}, 1.0);
  return resp;
}

}  // namespace gf::stats
