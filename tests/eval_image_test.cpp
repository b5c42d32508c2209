// Image metrics against the reference image_vectors (tests/reference/vectors/image_metrics.json: pytorch-fid's own tests
// and values computed by pytorch-fid, torch-fidelity, clean-fid and clovaai/prdc on small inputs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "eval/blas.h"
#include "eval/tridiagonal.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/eval/image.h"
#include "support/support.h"

namespace gf {
namespace {

using eval::GaussianStatistics;

const nlohmann::json& image_vectors() {
  static const nlohmann::json v = test::read_json(test::source_path("tests/reference/vectors/image_metrics.json"));
  return v;
}

// The vectors spell big inputs as "zeros(2048)", "ones(2048)", "eye(2048)".
torch::Tensor spelled(const nlohmann::json& j) {
  if (!j.is_string()) return test::tensor_from_json(j);
  const std::string s = j.get<std::string>();
  const auto open = s.find('(');
  const int64_t n = std::stoll(s.substr(open + 1));
  const std::string f = s.substr(0, open);
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  if (f == "zeros") return torch::zeros({n}, o);
  if (f == "ones") return torch::ones({n}, o);
  if (f == "eye") return torch::eye(n, o);
  throw std::runtime_error("unknown spelling " + s);
}

GaussianStatistics stats_of(const torch::Tensor& mean, const torch::Tensor& cov) {
  GaussianStatistics s;
  s.mean = mean;
  s.cov = cov.dim() == 2 ? cov : cov.reshape({1, 1});
  return s;
}

TEST(Fid, MatchesEveryReferenceCase) {
  int checked = 0;
  for (const auto& c : image_vectors()["fid"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    const auto& in = c["input"];
    if (in.contains("features")) {  // pytorch-fid's statistics test: np.cov divides by N - 1
      auto s = eval::gaussian_statistics(test::tensor_from_json(in["features"]));
      EXPECT_TRUE(test::all_close(s.mean, test::tensor_from_json(c["expected"]["mu"]), 0, 1e-3));
      EXPECT_TRUE(test::all_close(s.cov, torch::full({3, 3}, 0.25, torch::kDouble), 0, 1e-3));
      ++checked;
      continue;
    }
    double expected;
    double distance;
    if (in.contains("features1")) {
      eval::StatisticsOptions o;
      if (c["id"].get<std::string>().find("biased_cov") != std::string::npos &&
          c["id"].get<std::string>().find("unbiased") == std::string::npos)
        o.divisor = eval::CovarianceDivisor::n;
      for (bool mixed : {true, false}) {
        o.mixed_precision = mixed;
        auto a = eval::gaussian_statistics(test::tensor_from_json(in["features1"]), o);
        auto b = eval::gaussian_statistics(test::tensor_from_json(in["features2"]), o);
        distance = eval::frechet_distance(a, b).distance;
        expected = c["computed"]["pytorch_fid_sqrtm"].get<double>();
        // Float32 cross products round as the CPU's BLAS kernel sums them (which varies between kernels and thread
        // counts); forced on these small or rank-deficient sets, where `fid` itself would take float64, they hold
        // the reference to 1e-4.
        const double tol = mixed ? std::max(c["tol"].get<double>(), 1e-4) : c["tol"].get<double>();
        EXPECT_NEAR(distance, expected, tol * std::max(1.0, std::abs(expected))) << mixed;
      }
    } else {
      auto r = eval::frechet_distance(stats_of(spelled(in["mu1"]), spelled(in["sigma1"])),
                                      stats_of(spelled(in["mu2"]), spelled(in["sigma2"])));
      distance = r.distance;
      expected = c["expected"].get<double>();
      EXPECT_FALSE(r.eps_retry);
      EXPECT_NEAR(distance, expected, std::max(c["tol"].get<double>(), 1e-9) * std::max(1.0, std::abs(expected)));
    }
    ++checked;
  }
  EXPECT_EQ(checked, int(image_vectors()["fid"].size()));
}

TEST(Fid, MixedPrecisionStatisticsAgreeWithFloat64OnWideFeatures) {
  // 3000 x 256 features with a shared offset and correlated columns: the float32 cross products must not move
  // FID beyond 1e-7 relative.
  auto gen = make_generator(7);
  auto mix = torch::randn({256, 256}, gen, torch::kDouble) * 0.2 + torch::eye(256, torch::kDouble);
  auto x = torch::mm(torch::randn({3000, 256}, gen, torch::kDouble), mix) + 3.0;
  auto y = torch::mm(torch::randn({3000, 256}, gen, torch::kDouble), mix) * 1.05 + 3.1;
  eval::StatisticsOptions exact;
  exact.mixed_precision = false;
  const double reference =
      eval::frechet_distance(eval::gaussian_statistics(x, exact), eval::gaussian_statistics(y, exact)).distance;
  EXPECT_EQ(reference, eval::frechet_distance(eval::gaussian_statistics(x), eval::gaussian_statistics(y)).distance)
      << "float64 is the default";
  eval::StatisticsOptions fast;
  fast.mixed_precision = true;
  const double mixed =
      eval::frechet_distance(eval::gaussian_statistics(x, fast), eval::gaussian_statistics(y, fast)).distance;
  EXPECT_NEAR(mixed, reference, 1e-7 * reference);
  // ... and the float64 path equals the textbook formula with an eigen-decomposition square root.
  auto cov = [](const torch::Tensor& f) {
    auto c = f - f.mean(0);
    return torch::mm(c.t(), c) / double(f.size(0) - 1);
  };
  auto s1 = cov(x), s2 = cov(y);
  auto [w, v] = torch::linalg_eigh(s1);
  auto root = torch::mm(v * w.sqrt().unsqueeze(0), v.t());
  const double textbook = (x.mean(0) - y.mean(0)).pow(2).sum().item<double>() + s1.trace().item<double>() +
                          s2.trace().item<double>() -
                          2 * torch::linalg_eigvalsh(torch::mm(torch::mm(root, s2), root)).sqrt().sum().item<double>();
  EXPECT_NEAR(reference, textbook, 1e-9 * textbook);
}

// Independent columns with spreads between 0.5 and 2 (well-conditioned covariances), and a shifted, wider copy.
std::pair<torch::Tensor, torch::Tensor> spread_features(uint64_t seed, int64_t rows, int64_t dim) {
  auto gen = make_generator(seed);
  auto scale = torch::linspace(0.5, 2.0, dim, torch::kDouble);
  auto x = torch::randn({rows, dim}, gen, torch::kDouble) * scale + 3.0;
  auto y = torch::randn({rows, dim}, gen, torch::kDouble) * scale * 1.05 + 3.1;
  return {x, y};
}

eval::FidOptions with_precision(eval::FidPrecision p) {
  eval::FidOptions o;
  o.precision = p;
  return o;
}

TEST(FidAutomatic, KeepsMixedPrecisionWhereItsErrorEstimateAllows) {
  auto [x, y] = spread_features(7, 4000, 128);
  const auto exact = eval::fid(x, y, with_precision(eval::FidPrecision::float64));
  const auto automatic = eval::fid(x, y);
  EXPECT_FALSE(exact.mixed_precision);
  EXPECT_EQ(exact.rounding_error, 0.0);
  ASSERT_TRUE(automatic.mixed_precision) << automatic.rounding_error << " vs FID " << exact.distance;
  EXPECT_GT(automatic.rounding_error, 0.0);
  const double difference = std::abs(automatic.distance - exact.distance);
  EXPECT_LE(difference, automatic.rounding_error / 4);  // the estimate is far above the actual error
  EXPECT_LE(automatic.rounding_error, 1e-6 * exact.distance);
  EXPECT_LE(difference, 1e-8 * exact.distance);
  EXPECT_EQ(automatic.distance, eval::fid(x, y, with_precision(eval::FidPrecision::mixed)).distance);
  // The measured covariance error (16 columns of the first block, extrapolated) is within a factor 3 of the true
  // one, here with three blocks and correlated columns.
  auto gen = make_generator(8);
  auto mixing = torch::randn({128, 128}, gen, torch::kDouble) * 0.2 + torch::eye(128, torch::kDouble);
  auto z = torch::mm(x, mixing);
  eval::StatisticsOptions mixed;
  mixed.mixed_precision = true;
  mixed.block_rows = 1500;
  const auto fast = eval::gaussian_statistics(z, mixed);
  const double true_error = (fast.cov - eval::gaussian_statistics(z).cov).norm().item<double>();
  EXPECT_GT(true_error, 0.0);
  EXPECT_GT(fast.covariance_error, true_error / 3) << true_error;
  EXPECT_LT(fast.covariance_error, true_error * 3) << true_error;
  EXPECT_EQ(eval::gaussian_statistics(z).covariance_error, 0.0);
}

TEST(FidAutomatic, FallsBackToFloat64OnSingularOrNearlySingularCovariances) {
  // Fewer rows than dimensions: singular covariances, float64 straight away.
  auto [x, y] = spread_features(11, 200, 256);
  auto r = eval::fid(x, y);
  EXPECT_FALSE(r.mixed_precision);
  EXPECT_EQ(r.distance, eval::fid(x, y, with_precision(eval::FidPrecision::float64)).distance);
  // Plenty of rows, but 32 pairs of nearly equal columns and two sets from one distribution (a small FID): float32
  // cross products move FID by more than 1e-6 relative here, and the estimate sees it.
  auto gen = make_generator(5);
  auto a = torch::randn({2000, 64}, gen, torch::kDouble) + 5, b = torch::randn({2000, 64}, gen, torch::kDouble) + 5;
  for (int c = 0; c < 32; ++c) {
    a.select(1, 63 - c).copy_(a.select(1, c) + 1e-8 * torch::randn({2000}, gen, torch::kDouble));
    b.select(1, 63 - c).copy_(b.select(1, c) + 1e-8 * torch::randn({2000}, gen, torch::kDouble));
  }
  const auto exact = eval::fid(a, b, with_precision(eval::FidPrecision::float64));
  const auto forced = eval::fid(a, b, with_precision(eval::FidPrecision::mixed));
  // The estimate says float32 may move FID by more than 1e-6 relative (how much it does depends on the BLAS
  // kernel's summation order), and it bounds what float32 did.
  EXPECT_GT(forced.rounding_error, 1e-6 * exact.distance) << "the guard must matter here";
  EXPECT_LE(std::abs(forced.distance - exact.distance), forced.rounding_error);
  const auto automatic = eval::fid(a, b);
  EXPECT_FALSE(automatic.mixed_precision);
  EXPECT_EQ(automatic.distance, exact.distance);
}

TEST(FidAutomatic, RejectsBadInput) {
  eval::FidOptions o;
  o.tolerance = 0;
  auto x = torch::randn({10, 4}, torch::kDouble);
  EXPECT_THROW(eval::fid(x, x, o), InvalidArgument);
  EXPECT_THROW(eval::fid(x, torch::randn({10, 5}, torch::kDouble)), InvalidArgument);
  EXPECT_THROW(eval::fid(torch::randn({1, 4}, torch::kDouble), x), InvalidArgument);
}

TEST(Fid, RejectsMismatchedOrTooFewFeatures) {
  auto a = torch::randn({10, 4}, torch::kDouble), b = torch::randn({10, 5}, torch::kDouble);
  EXPECT_THROW(eval::frechet_distance(eval::gaussian_statistics(a), eval::gaussian_statistics(b)), InvalidArgument);
  EXPECT_THROW(eval::gaussian_statistics(torch::randn({1, 4})), InvalidArgument);
  auto nan = a.clone();
  nan[3][2] = std::nan("");
  EXPECT_THROW(eval::gaussian_statistics(nan), DataError);
}

TEST(InceptionScore, MatchesTorchFidelity) {
  for (const auto& c : image_vectors()["inception_score"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    auto r = eval::inception_score(test::tensor_from_json(c["logits"]), c["splits"].get<int64_t>());
    EXPECT_NEAR(r.mean, c["computed"]["inception_score_mean"].get<double>(), 1e-9);
    EXPECT_NEAR(r.std, c["computed"]["inception_score_std"].get<double>(), 1e-9);
  }
}

TEST(Kid, MatchesTorchFidelityAndCleanFid) {
  for (const auto& c : image_vectors()["kid"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    auto x = test::tensor_from_json(c["features1"]), y = test::tensor_from_json(c["features2"]);
    if (c.contains("kernel_matrices")) {
      auto kxx = eval::polynomial_kernel(x, x), kyy = eval::polynomial_kernel(y, y);
      auto kxy = eval::polynomial_kernel(x, y);
      const auto& km = c["kernel_matrices"];
      EXPECT_TRUE(test::all_close(kxx, test::tensor_from_json(km["K_XX"]), 0, 1e-12));
      EXPECT_TRUE(test::all_close(kyy, test::tensor_from_json(km["K_YY"]), 0, 1e-12));
      EXPECT_TRUE(test::all_close(kxy, test::tensor_from_json(km["K_XY"]), 0, 1e-12));
      EXPECT_NEAR(eval::mmd2(kxx, kyy, kxy, eval::MmdEstimator::unbiased),
                  c["computed"]["mmd2_unbiased"].get<double>(), 1e-12);
      EXPECT_NEAR(eval::mmd2(kxx, kyy, kxy, eval::MmdEstimator::biased), c["computed"]["mmd2_biased"].get<double>(),
                  1e-12);
      EXPECT_NEAR(eval::mmd2(kxx, kyy, kxy, eval::MmdEstimator::u_statistic),
                  c["computed"]["mmd2_u_statistic"].get<double>(), 1e-12);
      continue;
    }
    eval::KidOptions o;
    o.subsets = c["subsets"].get<int64_t>();
    o.subset_size = c["subset_size"].get<int64_t>();
    auto gen = make_generator(0);
    auto r = eval::kernel_inception_distance(x, y, o, gen);
    EXPECT_NEAR(r.mean, c["computed"]["torch_fidelity_mean"].get<double>(), 1e-9);
    EXPECT_NEAR(r.mean, c["computed"]["clean_fid"].get<double>(), 1e-9);
    EXPECT_NEAR(r.std, 0.0, 1e-9);
  }
}

TEST(Kid, SubsetLargerThanTheDataIsAnError) {
  auto gen = make_generator(0);
  eval::KidOptions o;
  o.subset_size = 50;
  EXPECT_THROW(eval::kernel_inception_distance(torch::randn({20, 3}), torch::randn({30, 3}), o, gen),
               InvalidArgument);
}

TEST(Prdc, MatchesPrdcAndTorchFidelity) {
  for (const auto& c : image_vectors()["precision_recall_density_coverage"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    auto real = test::tensor_from_json(c["real"]), fake = test::tensor_from_json(c["fake"]);
    eval::PrdcOptions o;
    o.k = c["k"].get<int64_t>();
    const auto& e = c["computed"];
    auto strict = eval::precision_recall_density_coverage(real, fake, o);
    EXPECT_NEAR(strict.precision, e["prdc_precision"].get<double>(), 1e-12);
    EXPECT_NEAR(strict.recall, e["prdc_recall"].get<double>(), 1e-12);
    EXPECT_NEAR(strict.density, e["prdc_density"].get<double>(), 1e-12);
    EXPECT_NEAR(strict.coverage, e["prdc_coverage"].get<double>(), 1e-12);
    o.rule = eval::BallRule::inclusive;
    auto inclusive = eval::precision_recall_density_coverage(real, fake, o);
    // torch-fidelity reports float32 fractions.
    EXPECT_NEAR(inclusive.precision, e["torch_fidelity_precision"].get<double>(), 1e-7);
    EXPECT_NEAR(inclusive.recall, e["torch_fidelity_recall"].get<double>(), 1e-7);
  }
}

TEST(Ppl, TrimsAtTheFirstAndNinetyNinthPercentile) {
  for (const auto& c : image_vectors()["ppl"]) {
    auto d = torch::arange(200, torch::kDouble).pow(2) / 7.0;  // "d_i = i^2/7 for i=0..199"
    auto t = eval::trimmed_path_length(d);
    EXPECT_NEAR(t.low, c["lo"].get<double>(), 1e-12);
    EXPECT_NEAR(t.high, c["hi"].get<double>(), 1e-9);
    EXPECT_EQ(t.kept, c["kept"].get<int64_t>());
    EXPECT_NEAR(t.mean, c["expected_mean"].get<double>(), 1e-9);
    EXPECT_NEAR(t.std, c["expected_std_torch_fidelity"].get<double>(), 1e-9);
  }
}

}  // namespace
}  // namespace gf

namespace gf {
namespace {

TEST(GaussianMmd, EqualsTheFullKernelMatricesAndTheClosedForm) {
  auto gen = make_generator(11);
  auto x = torch::randn({300, 3}, gen, torch::kDouble), y = torch::randn({300, 3}, gen, torch::kDouble) + 0.5;
  const double bandwidth = 1.7;
  auto k = [&](const torch::Tensor& a, const torch::Tensor& b) {
    return torch::exp(-torch::cdist(a, b).pow(2) / (2 * bandwidth * bandwidth));
  };
  EXPECT_NEAR(eval::gaussian_mmd2(x, y, bandwidth).mmd2,
              eval::mmd2(k(x, x), k(y, y), k(x, y), eval::MmdEstimator::unbiased), 1e-12);
  // N(0, I) against N(mu, I) in d dimensions: MMD^2 = 2 c (1 - exp(-|mu|^2 / (2 (s^2 + 2)))), c = (s^2/(s^2+2))^(d/2).
  auto a = torch::randn({4000, 2}, gen, torch::kDouble), b = torch::randn({4000, 2}, gen, torch::kDouble) + 1.0;
  const double s2 = 4.0, c = std::pow(s2 / (s2 + 2), 1.0);
  EXPECT_NEAR(eval::gaussian_mmd2(a, b, 2.0).mmd2, 2 * c * (1 - std::exp(-2.0 / (2 * (s2 + 2)))), 0.01);
  EXPECT_NEAR(eval::gaussian_mmd2(a, torch::randn({4000, 2}, gen, torch::kDouble), 2.0).mmd2, 0.0, 0.003);
  // The median heuristic picks the median distance between distinct pooled points.
  auto r = eval::gaussian_mmd2(x, y);
  auto pooled = torch::cat({x, y});
  auto d = torch::cdist(pooled, pooled).masked_select(~torch::eye(600, torch::dtype(torch::kBool)));
  EXPECT_DOUBLE_EQ(r.bandwidth, d.median().item<double>());
  EXPECT_THROW(eval::gaussian_mmd2(x, y.slice(1, 0, 2)), DataError);
}

// A symmetric matrix with the given eigenvalues: Q diag(values) Q^T for a random orthogonal Q.
torch::Tensor with_spectrum(const torch::Tensor& values, uint64_t seed) {
  auto gen = make_generator(seed);
  const int64_t n = values.numel();
  auto q = std::get<0>(torch::linalg_qr(torch::randn({n, n}, gen, torch::kDouble)));
  return torch::mm(q * values.unsqueeze(0), q.t());
}

TEST(SymmetricEigenvalues, RecoverKnownSpectraPastTheTwoStageThreshold) {
  // 770 is not a multiple of the band width (the last panel is short); the spectra are indefinite, with a
  // repeated eigenvalue and a tight cluster. Rows padded as congruence_lower pads them; only the lower triangle
  // may be read, so the upper one holds NaN.
  for (int64_t n : {770, 1024}) {
    auto gen = make_generator(uint64_t(n));
    auto o = torch::TensorOptions().dtype(torch::kDouble);
    auto values = torch::cat({torch::randn({n - 40}, gen, torch::kDouble) * 3, torch::full({20}, 2.5, o),
                              1 + 1e-9 * torch::arange(20, o)});
    auto m = torch::zeros({n, n + 8}, o).narrow(1, 0, n);
    m.copy_(with_spectrum(values, uint64_t(n) + 1));
    m.masked_fill_(torch::ones({n, n}, o.dtype(torch::kBool)).triu(1), std::nan(""));
    auto eig = blas::symmetric_eigenvalues(m);
    const double scale = values.abs().max().item<double>();
    EXPECT_LT((eig - std::get<0>(values.sort())).abs().max().item<double>(), 1e-12 * scale) << "n = " << n;
  }
}

#ifdef GF_OPENBLAS_DIR
TEST(SymmetricEigenvalues, TwoStageReductionMatchesLapackForAnyBandWidthAndThreadCount) {
  struct Case {
    int n, bandwidth, threads;
  };
  for (const Case c : {Case{1, 32, 1}, Case{2, 3, 1}, Case{7, 5, 2}, Case{37, 32, 2}, Case{100, 7, 3},
                       Case{257, 16, 2}, Case{300, 32, 4}}) {
    auto gen = make_generator(uint64_t(c.n));
    auto x = torch::randn({c.n, c.n}, gen, torch::kDouble);
    // A dense symmetric matrix, and a diagonal one (every reflector is the identity).
    for (auto a : {(x + x.t()).contiguous(), torch::diag(torch::randn({c.n}, gen, torch::kDouble))}) {
      auto expected = torch::linalg_eigvalsh(a);
      auto work = a.clone();
      std::vector<double> eig(size_t(c.n));
      ASSERT_EQ(blas::two_stage_eigenvalues(work.data_ptr<double>(), c.n, c.n, eig.data(), {c.bandwidth, c.threads}), 0);
      std::sort(eig.begin(), eig.end());
      const double scale = std::max(1.0, expected.abs().max().item<double>());
      for (int i = 0; i < c.n; ++i)
        ASSERT_NEAR(eig[size_t(i)], expected[i].item<double>(), 1e-12 * scale)
            << "n " << c.n << " band " << c.bandwidth << " threads " << c.threads << " eigenvalue " << i;
    }
  }
}
#endif

}  // namespace
}  // namespace gf
