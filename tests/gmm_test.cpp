// GaussianMixture against scikit-learn 1.2 golden values (tests/reference/make_gmm_golden.py), parameter
// recovery, sample weights, missing values, conditional expectations and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/models/gmm.h"
#include "support/support.h"

namespace gf {
namespace {

using test::all_close;
using test::tensor_from_json;

const nlohmann::json& golden() {
  static const nlohmann::json g = test::read_json(test::source_path("tests/reference/gmm_golden.json"));
  return g;
}

using test::quiet;

class GmmGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GmmGolden, MatchesScikitLearnFromTheSameInitialParameters) {
  const auto& g = golden();
  const auto& f = g["fits"][GetParam()];
  GmmOptions o;
  o.n_components = 3;
  o.covariance_type = GetParam();
  o.tol = 1e-6;
  o.max_iter = 200;
  o.weights_init = tensor_from_json(g["weights_init"]);
  o.means_init = tensor_from_json(g["means_init"]);
  o.precisions_init = tensor_from_json(f["precisions_init"]);
  GaussianMixture gmm(o);
  auto x = tensor_from_json(g["x"]);
  auto report = gmm.fit({x}, quiet());
  EXPECT_EQ(report.n_iter, f["n_iter"].get<int64_t>());
  EXPECT_EQ(report.converged, f["converged"].get<bool>());
  // Tolerances: same algorithm and order of operations up to BLAS summation order.
  EXPECT_NEAR(report.objective, f["lower_bound"].get<double>(), 1e-10);
  EXPECT_TRUE(all_close(gmm.weights(), tensor_from_json(f["weights"]), 1e-9, 1e-12));
  EXPECT_TRUE(all_close(gmm.means(), tensor_from_json(f["means"]), 1e-9, 1e-10));
  EXPECT_TRUE(all_close(gmm.covariances(), tensor_from_json(f["covariances"]), 1e-8, 1e-10));
  auto test = tensor_from_json(g["test"]);
  EXPECT_TRUE(all_close(gmm.score_samples(test), tensor_from_json(f["score_samples_test"]), 1e-9, 1e-9));
  EXPECT_TRUE(all_close(gmm.predict_proba(test), tensor_from_json(f["predict_proba_test"]), 1e-7, 1e-9));
  EXPECT_NEAR(gmm.bic(x), f["bic"].get<double>(), 1e-7 * std::abs(f["bic"].get<double>()));
  EXPECT_NEAR(gmm.aic(x), f["aic"].get<double>(), 1e-7 * std::abs(f["aic"].get<double>()));
}

INSTANTIATE_TEST_SUITE_P(CovarianceTypes, GmmGolden, ::testing::Values("full", "tied", "diag", "spherical"));

TEST(Gmm, UpdateContinuesLikeScikitLearnsWarmStart) {
  // fit(x) from the explicit start, then update(more): scikit-learn's warm_start=True fit(x).fit(more).
  const auto& g = golden();
  for (const std::string cov : {"full", "diag"}) {
    const auto& want = g["warm_start"][cov];
    GmmOptions o;
    o.n_components = 3;
    o.covariance_type = cov;
    o.tol = 1e-6;
    o.max_iter = 200;
    o.weights_init = tensor_from_json(g["weights_init"]);
    o.means_init = tensor_from_json(g["means_init"]);
    o.precisions_init = tensor_from_json(g["fits"][cov]["precisions_init"]);
    GaussianMixture gmm(o);
    gmm.fit({tensor_from_json(g["x"])}, quiet());
    auto report = gmm.update({tensor_from_json(g["more"])}, quiet());
    EXPECT_EQ(report.n_iter, want["n_iter"].get<int64_t>()) << cov;
    EXPECT_NEAR(report.objective, want["lower_bound"].get<double>(), 1e-10) << cov;
    EXPECT_TRUE(all_close(gmm.weights(), tensor_from_json(want["weights"]), 1e-9, 1e-12)) << cov;
    EXPECT_TRUE(all_close(gmm.means(), tensor_from_json(want["means"]), 1e-9, 1e-10)) << cov;
    EXPECT_TRUE(all_close(gmm.covariances(), tensor_from_json(want["covariances"]), 1e-8, 1e-10)) << cov;
    EXPECT_FALSE(gmm.options().warm_start);  // the option is left as it was
  }
  GaussianMixture unfitted;
  test::expect_error_message([&] { unfitted.update({tensor_from_json(g["more"])}, quiet()); },
                             "is not fitted yet, so it cannot be updated");
}

// Draws n rows from a known 2-component mixture in 2-D.
torch::Tensor planted(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto z = torch::randn({n, 2}, gen, opts);
  auto first = torch::rand({n}, gen, opts) < 0.3;  // 30 % in component A
  auto a = z * torch::tensor({0.5, 0.5}, opts) + torch::tensor({-3.0, 0.0}, opts);
  auto l = torch::tensor({{1.0, 0.0}, {0.8, 0.6}}, opts);  // covariance l l^T
  auto b = torch::mm(z, l.t()) + torch::tensor({3.0, 2.0}, opts);
  return torch::where(first.unsqueeze(1), a, b);
}

int64_t component_near(const GaussianMixture& g, double x0) {
  return (g.means().select(1, 0) - x0).abs().argmin().item<int64_t>();
}

TEST(Gmm, RecoversPlantedParametersWithEveryInit) {
  auto x = planted(4000, 1);
  for (const char* init : {"kmeans", "k-means++", "random", "random_from_data"}) {
    GmmOptions o;
    o.n_components = 2;
    o.init_params = init;
    o.n_init = 3;
    if (std::string(init) == "random") {
      // Uniform random responsibilities start every component near the data mean (a saddle point), which EM
      // leaves slowly: scikit-learn behaves the same. A tight tol lets it get away.
      o.tol = 1e-10;
      o.max_iter = 3000;
    }
    GaussianMixture g(o);
    g.fit({x}, quiet());
    auto a = component_near(g, -3.0), b = 1 - a;
    EXPECT_NEAR(g.weights()[a].item<double>(), 0.3, 0.03) << init;
    EXPECT_TRUE(all_close(g.means()[b], torch::tensor({3.0, 2.0}, torch::kFloat64), 0, 0.08)) << init;
    EXPECT_TRUE(all_close(g.covariances()[b], torch::tensor({{1.0, 0.8}, {0.8, 1.0}}, torch::kFloat64), 0, 0.1))
        << init;
    EXPECT_TRUE(all_close(g.covariances()[a], torch::eye(2, torch::kFloat64) * 0.25, 0, 0.05)) << init;
  }
}

TEST(Gmm, IntegerSampleWeightsEqualDuplicatedRows) {
  auto x = planted(300, 2);
  auto w = torch::ones({300}, torch::kFloat64);
  w.slice(0, 0, 100).fill_(3.0);
  auto dup = torch::cat({x, x.slice(0, 0, 100), x.slice(0, 0, 100)});
  GmmOptions o;
  o.n_components = 2;
  o.tol = 1e-10;
  o.weights_init = torch::tensor({0.5, 0.5});
  o.means_init = torch::tensor({{-2.0, 0.0}, {2.0, 1.0}}, torch::kFloat64);
  o.precisions_init = torch::eye(2, torch::kFloat64).repeat({2, 1, 1});
  GaussianMixture weighted(o), duplicated(o);
  Dataset dw{x};
  dw.sample_weight = w;
  weighted.fit(dw, quiet());
  duplicated.fit({dup}, quiet());
  EXPECT_TRUE(all_close(weighted.means(), duplicated.means(), 1e-8, 1e-10));
  EXPECT_TRUE(all_close(weighted.covariances(), duplicated.covariances(), 1e-8, 1e-10));
  EXPECT_NEAR(weighted.fit_report().objective, duplicated.fit_report().objective, 1e-9);
}

TEST(Gmm, MissingValuesAreMarginalisedAndParametersStillRecovered) {
  auto x = planted(4000, 3);
  auto gen = make_generator(9);
  auto holes = torch::rand(x.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat64)) < 0.2;
  auto x_missing = x.masked_fill(holes, std::nan(""));
  GmmOptions o;
  o.n_components = 2;
  GaussianMixture g(o);
  auto report = g.fit({x_missing}, quiet());
  EXPECT_GT(report.extra["rows_with_missing"].get<int64_t>(), 1000);
  auto a = component_near(g, -3.0), b = 1 - a;
  EXPECT_NEAR(g.weights()[a].item<double>(), 0.3, 0.03);
  EXPECT_TRUE(all_close(g.means()[b], torch::tensor({3.0, 2.0}, torch::kFloat64), 0, 0.1));
  EXPECT_TRUE(all_close(g.covariances()[b], torch::tensor({{1.0, 0.8}, {0.8, 1.0}}, torch::kFloat64), 0, 0.12));
  // The score of a row with a hole is the marginal density of its observed cell.
  auto row = torch::tensor({{3.0, std::nan("")}}, torch::kFloat64);
  auto ll = g.score_samples(row).item<double>();
  double expect = 0;
  for (int64_t k = 0; k < 2; ++k) {
    double mu = g.means()[k][0].item<double>(), var = g.covariances()[k][0][0].item<double>();
    expect += g.weights()[k].item<double>() * std::exp(-0.5 * (3.0 - mu) * (3.0 - mu) / var) /
              std::sqrt(2 * M_PI * var);
  }
  EXPECT_NEAR(ll, std::log(expect), 1e-10);
}

TEST(Gmm, ConditionalMeanOfOneGaussianIsTheRegressionLine) {
  // One full-covariance component: E[x1 | x0] = mu1 + S10 / S00 (x0 - mu0).
  auto x = planted(3000, 4);
  x = x.index_select(0, (x.select(1, 0) > 0).nonzero().squeeze(1));  // component B only
  GmmOptions o;
  o.n_components = 1;
  GaussianMixture g(o);
  g.fit({x}, quiet());
  auto mu = g.means()[0];
  auto s = g.covariances()[0];
  auto query = torch::tensor({{4.0, std::nan("")}, {std::nan(""), 1.0}, {1.0, 2.0}}, torch::kFloat64);
  auto filled = g.conditional_mean(query);
  double e1 = mu[1].item<double>() + s[1][0].item<double>() / s[0][0].item<double>() * (4.0 - mu[0].item<double>());
  double e0 = mu[0].item<double>() + s[0][1].item<double>() / s[1][1].item<double>() * (1.0 - mu[1].item<double>());
  EXPECT_NEAR(filled[0][1].item<double>(), e1, 1e-10);
  EXPECT_NEAR(filled[1][0].item<double>(), e0, 1e-10);
  EXPECT_TRUE(all_close(filled[2], query[2], 0, 0));  // complete rows untouched
  // Conditional samples: observed cells kept, the missing cell scattered around the conditional mean with the
  // conditional variance S11 - S10^2 / S00.
  auto many = torch::tensor({{4.0, std::nan("")}}, torch::kFloat64).repeat({20000, 1});
  auto gen = make_generator(5);
  auto draws = g.conditional_sample(many, gen);
  EXPECT_TRUE((draws.select(1, 0) == 4.0).all().item<bool>());
  double cvar = s[1][1].item<double>() - std::pow(s[1][0].item<double>(), 2) / s[0][0].item<double>();
  EXPECT_NEAR(draws.select(1, 1).mean().item<double>(), e1, 4 * std::sqrt(cvar / 20000));
  EXPECT_NEAR(draws.select(1, 1).var().item<double>(), cvar, 0.05 * cvar);
}

TEST(Gmm, SamplesFollowTheWeightsAndAreNotGroupedByComponent) {
  auto x = planted(2000, 6);
  GmmOptions o;
  o.n_components = 2;
  GaussianMixture g(o);
  g.fit({x}, quiet());
  auto gen = make_generator(11);
  torch::Tensor comps;
  auto s = g.sample(20000, gen, &comps);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{20000, 2}));
  auto a = component_near(g, -3.0);
  EXPECT_NEAR(comps.eq(a).to(torch::kDouble).mean().item<double>(), g.weights()[a].item<double>(), 0.015);
  // Grouped output would change component at most once; shuffled output changes thousands of times.
  EXPECT_GT(comps.slice(0, 1).ne(comps.slice(0, 0, -1)).sum().item<int64_t>(), 5000);
}

TEST(Gmm, Float32AgreesWithFloat64) {
  auto x = planted(2000, 7);
  GmmOptions o;
  o.n_components = 2;
  GaussianMixture g64(o);
  o.dtype = "float32";
  GaussianMixture g32(o);
  g64.fit({x}, quiet());
  g32.fit({x}, quiet());
  EXPECT_EQ(g32.means().scalar_type(), torch::kFloat32);
  EXPECT_NEAR(g32.score(x), g64.score(x), 1e-3);
}

TEST(Gmm, WarmStartContinuesFromThePreviousFit) {
  auto x = planted(2000, 8);
  GmmOptions o;
  o.n_components = 2;
  o.max_iter = 2;
  o.warm_start = true;
  GaussianMixture g(o);
  log::WarningSink old = log::set_warning_sink([](const std::string&) {});
  g.fit({x}, quiet());
  double first = g.fit_report().objective;
  g.fit({x}, quiet());
  log::set_warning_sink(old);
  EXPECT_GT(g.fit_report().objective, first);
}

TEST(Gmm, NonConvergenceIsAWarningNotAnError) {
  auto x = planted(500, 9);
  GmmOptions o;
  o.n_components = 2;
  o.max_iter = 1;
  GaussianMixture g(o);
  std::vector<std::string> warnings;
  auto old = log::set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  auto report = g.fit({x}, quiet());
  log::set_warning_sink(old);
  EXPECT_FALSE(report.converged);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("did not converge in max_iter=1"), std::string::npos);
}

TEST(Gmm, DegenerateComponentErrorNamesTheComponent) {
  // Two identical rows form their own component; without regularisation its covariance is singular.
  auto x = torch::cat({planted(200, 10), torch::tensor({{50.0, 50.0}, {50.0, 50.0}}, torch::kFloat64)});
  GmmOptions o;
  o.n_components = 3;
  o.reg_covar = 0.0;
  o.weights_init = torch::tensor({0.3, 0.6, 0.1});
  o.means_init = torch::tensor({{-3.0, 0.0}, {3.0, 2.0}, {50.0, 50.0}}, torch::kFloat64);
  o.precisions_init = torch::eye(2, torch::kFloat64).repeat({3, 1, 1});
  GaussianMixture g(o);
  try {
    g.fit({x}, quiet());
    FAIL() << "expected a NumericalError";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("component 2 of 3 has a singular covariance"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("reg_covar"), std::string::npos);
  }
  o.reg_covar = 1e-6;  // the default keeps it invertible
  GaussianMixture ok(o);
  EXPECT_NO_THROW(ok.fit({x}, quiet()));
}

TEST(Gmm, BadInputsAreClearErrors) {
  GmmOptions o;
  o.n_components = 5;
  GaussianMixture g(o);
  auto x = torch::randn({3, 2}, torch::kFloat64);
  try {
    g.fit({x}, quiet());
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "n_components=5 is larger than the number of rows (3)");
  }
  GmmOptions bad;
  bad.covariance_type = "banana";
  EXPECT_THROW(GaussianMixture(bad).fit({x}, quiet()), InvalidArgument);
  auto inf = torch::tensor({{1.0, std::numeric_limits<double>::infinity()}, {2.0, 3.0}}, torch::kFloat64);
  try {
    GaussianMixture(GmmOptions{}).fit({inf, {}, {"a", "b"}}, quiet());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "row 1, column 'b': value is infinite");
  }
  GmmOptions strict;
  strict.allow_missing = false;
  auto nan = torch::tensor({{1.0, 2.0}, {std::nan(""), 3.0}}, torch::kFloat64);
  try {
    GaussianMixture(strict).fit({nan}, quiet());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("row 2, column 'x0': missing value"), std::string::npos);
  }
  EXPECT_THROW(GaussianMixture().score_samples(x), NotFitted);
  GaussianMixture fitted;
  fitted.fit({x}, quiet());
  try {
    fitted.score_samples(torch::randn({2, 3}, torch::kFloat64));
    FAIL();
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "the data has 3 columns, the model was fitted on 2");
  }
}

// A mixture whose EM matrices cannot fit in memory is refused before anything is allocated, with the figures (it
// used to run k-means silently for minutes, or die with "can't allocate memory ... a genforge bug").
TEST(Gmm, TooLargeForMemoryIsRefusedBeforeAllocating) {
  const double machine = static_cast<double>(physical_memory_bytes());
  if (machine <= 0 || machine > 2e11) GTEST_SKIP() << "the machine holds the 240 GB this test asks for";
  GmmOptions o;
  o.n_components = 100000;
  GaussianMixture gmm(o);
  try {
    gmm.fit({torch::randn({100000, 2}, torch::kFloat64)}, test::quiet());
    FAIL() << "fitted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("gmm with n_components=100000 on 100000 rows of 2 columns needs about 240.0 GB, "
                                          "more than this machine's ", 0), 0u) << e.what();
    EXPECT_EQ(e.hint(), "lower n_components, or fit on a sample of the rows (--limit)");
  }
  EXPECT_NO_THROW(check_memory_estimate(1e6, "a small thing", ""));
}

}  // namespace
}  // namespace gf
