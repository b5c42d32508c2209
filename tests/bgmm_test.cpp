// BayesianGaussianMixture against scikit-learn 1.2 / scipy golden values (tests/reference/make_bgmm_golden.py),
// pruning of unneeded components, the posterior predictive as a proper density, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/bgmm.h"
#include "genforge/models/gmm.h"
#include "support/support.h"

namespace gf {
namespace {

using test::all_close;
using test::tensor_from_json;

const nlohmann::json& bgmm_golden() {
  static const nlohmann::json g = test::read_json(test::source_path("tests/reference/bgmm_golden.json"));
  return g;
}

using test::quiet;

class BgmmGolden : public ::testing::TestWithParam<int> {};

TEST_P(BgmmGolden, MatchesScikitLearnFromTheSameResponsibilities) {
  const auto& g = bgmm_golden();
  const auto& f = g["fits"][GetParam()];
  const auto& p = f["params"];
  BgmmOptions o;
  o.n_components = 5;
  o.covariance_type = p["covariance_type"];
  o.weight_concentration_prior_type = p["weight_concentration_prior_type"];
  o.tol = 1e-8;
  o.max_iter = 500;
  if (p.contains("weight_concentration_prior")) {
    o.weight_concentration_prior = p["weight_concentration_prior"];
    o.mean_precision_prior = p["mean_precision_prior"];
    o.degrees_of_freedom_prior = p["degrees_of_freedom_prior"];
    o.mean_prior = tensor_from_json(p["mean_prior"]);
    o.covariance_prior = tensor_from_json(p["covariance_prior"]);
  }
  o.resp_init = tensor_from_json(g["resp_init"]);
  BayesianGaussianMixture m(o);
  auto report = m.fit({tensor_from_json(g["x"])}, quiet());
  const std::string label = o.covariance_type + "/" + o.weight_concentration_prior_type;
  EXPECT_EQ(report.n_iter, f["n_iter"].get<int64_t>()) << label;
  EXPECT_EQ(report.converged, f["converged"].get<bool>()) << label;
  EXPECT_NEAR(m.lower_bound(), f["lower_bound"].get<double>(), 1e-7 * std::abs(f["lower_bound"].get<double>()))
      << label;
  EXPECT_TRUE(all_close(m.weight_concentration(), tensor_from_json(f["weight_concentration"]), 1e-7, 1e-9)) << label;
  EXPECT_TRUE(all_close(m.mean_precision(), tensor_from_json(f["mean_precision"]), 1e-7, 1e-9)) << label;
  EXPECT_TRUE(all_close(m.means(), tensor_from_json(f["means"]), 1e-7, 1e-8)) << label;
  EXPECT_TRUE(all_close(m.degrees_of_freedom(), tensor_from_json(f["degrees_of_freedom"]), 1e-7, 1e-9)) << label;
  EXPECT_TRUE(all_close(m.covariances(), tensor_from_json(f["covariances"]), 1e-6, 1e-8)) << label;
  EXPECT_TRUE(all_close(m.weights(), tensor_from_json(f["weights"]), 1e-6, 1e-9)) << label;
  auto test = tensor_from_json(g["test"]);
  EXPECT_TRUE(all_close(m.variational_log_prob(test), tensor_from_json(f["score_samples_test"]), 1e-7, 1e-7))
      << label;
  EXPECT_TRUE(all_close(m.predict_proba(test), tensor_from_json(f["predict_proba_test"]), 1e-6, 1e-8)) << label;
  EXPECT_TRUE(all_close(m.score_samples(test), tensor_from_json(f["predictive_log_density_test"]), 1e-7, 1e-7))
      << label;
}

INSTANTIATE_TEST_SUITE_P(PriorsAndCovarianceTypes, BgmmGolden, ::testing::Range(0, 9));

TEST(Bgmm, UpdateContinuesLikeScikitLearnsWarmStart) {
  const auto& g = bgmm_golden();
  const auto& want = g["warm_start"];
  BgmmOptions o;
  o.n_components = 5;
  o.covariance_type = want["params"]["covariance_type"];
  o.weight_concentration_prior_type = want["params"]["weight_concentration_prior_type"];
  o.tol = 1e-8;
  o.max_iter = 500;
  o.resp_init = tensor_from_json(g["resp_init"]);
  BayesianGaussianMixture m(o);
  m.fit({tensor_from_json(g["x"])}, quiet());
  auto report = m.update({tensor_from_json(g["more"])}, quiet());
  EXPECT_EQ(report.n_iter, want["n_iter"].get<int64_t>());
  EXPECT_NEAR(m.lower_bound(), want["lower_bound"].get<double>(), 1e-7 * std::abs(want["lower_bound"].get<double>()));
  EXPECT_TRUE(all_close(m.weights(), tensor_from_json(want["weights"]), 1e-6, 1e-9));
  EXPECT_TRUE(all_close(m.means(), tensor_from_json(want["means"]), 1e-7, 1e-8));
  EXPECT_TRUE(all_close(m.mean_precision(), tensor_from_json(want["mean_precision"]), 1e-7, 1e-9));
  EXPECT_TRUE(all_close(m.covariances(), tensor_from_json(want["covariances"]), 1e-6, 1e-8));
}

// 2-D data from two well-separated Gaussians.
torch::Tensor two_blobs(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto z = torch::randn({n, 2}, gen, opts);
  auto first = torch::rand({n}, gen, opts) < 0.4;
  return torch::where(first.unsqueeze(1), z * 0.5 + torch::tensor({-3.0, 0.0}, opts),
                      z + torch::tensor({3.0, 1.0}, opts));
}

TEST(Bgmm, DirichletProcessSwitchesOffComponentsTheDataDoNotNeed) {
  BgmmOptions o;
  o.n_components = 8;
  o.weight_concentration_prior = 1e-3;
  o.max_iter = 500;
  BayesianGaussianMixture m(o);
  auto report = m.fit({two_blobs(3000, 1)}, quiet());
  EXPECT_EQ(report.extra["effective_components"].get<int64_t>(), 2);
  auto top = std::get<0>(m.weights().sort(0, /*descending=*/true));
  EXPECT_NEAR(top[0].item<double>(), 0.6, 0.03);
  EXPECT_NEAR(top[1].item<double>(), 0.4, 0.03);
}

TEST(Bgmm, PredictiveDensityIntegratesToOne) {
  // In 1-D, integrate exp(score_samples) on a fine grid. scikit-learn's score (the variational expectation)
  // is not a density: it integrates to less than one, which is why it is not genforge's score.
  auto gen = make_generator(3);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto x = torch::cat({torch::randn({40, 1}, gen, opts) * 0.5 - 2.0, torch::randn({25, 1}, gen, opts) + 2.0});
  BgmmOptions o;
  o.n_components = 3;
  BayesianGaussianMixture m(o);
  m.fit({x}, quiet());
  auto grid = torch::linspace(-60.0, 60.0, 240001, opts).unsqueeze(1);
  const double step = 120.0 / 240000.0;
  const double predictive = m.score_samples(grid).exp().sum().item<double>() * step;
  const double variational = m.variational_log_prob(grid).exp().sum().item<double>() * step;
  EXPECT_NEAR(predictive, 1.0, 2e-3);  // Student-t tails beyond +-60 hold the rest
  EXPECT_LT(variational, 0.99);
}

TEST(Bgmm, HeldOutScoreAgreesWithTheMaximumLikelihoodMixtureOnPlentifulData) {
  auto train = two_blobs(4000, 4), test = two_blobs(2000, 5);
  BgmmOptions bo;
  bo.n_components = 4;
  bo.weight_concentration_prior = 1e-3;
  BayesianGaussianMixture bgmm(bo);
  bgmm.fit({train}, quiet());
  GmmOptions go;
  go.n_components = 2;
  GaussianMixture gmm(go);
  gmm.fit({train}, quiet());
  EXPECT_NEAR(bgmm.score(test), gmm.score(test), 0.01);
}

TEST(Bgmm, SamplesFollowTheFittedDistribution) {
  auto x = two_blobs(4000, 6);
  BgmmOptions o;
  o.n_components = 2;
  BayesianGaussianMixture m(o);
  m.fit({x}, quiet());
  auto gen = make_generator(0);
  auto s = m.sample(20000, gen);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{20000, 2}));
  EXPECT_TRUE(all_close(s.mean(0), x.mean(0), 0, 0.06));
  EXPECT_TRUE(all_close(s.std(0), x.std(0), 0, 0.06));
  EXPECT_NEAR((s.select(1, 0) < 0).to(torch::kDouble).mean().item<double>(), 0.4, 0.02);
}

TEST(Bgmm, ImputesFromThePosteriorPredictiveAsQuadratureSays) {
  // Few rows, so the predictive's Student-t components have few degrees of freedom and heavy tails. For x1 given
  // and x2 missing, the exact conditional p(x2 | x1) is exp(score_samples([x1, x2])) normalised over x2: its mean and
  // variance by quadrature on a fine grid against the model's conditional mean and 40,000 draws -- at x1 inside each
  // cluster, between them (both components share the posterior) and far out (the t's stretched scale).
  auto gen = make_generator(11);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto a = torch::randn({12, 2}, gen, opts), b = torch::randn({9, 2}, gen, opts);
  auto first = torch::stack({a.select(1, 0) - 2.0, 0.8 * a.select(1, 0) + 0.5 * a.select(1, 1)}, 1);
  auto second = torch::stack({b.select(1, 0) * 0.7 + 2.5, -0.6 * b.select(1, 0) + 0.4 * b.select(1, 1) + 3.0}, 1);
  auto x = torch::cat({first, second});
  for (const char* type : {"full", "diag"}) {
    BgmmOptions o;
    o.n_components = 2;
    o.covariance_type = type;
    BayesianGaussianMixture m(o);
    m.fit({x}, quiet());
    auto grid = torch::linspace(-150.0, 150.0, 300001, opts);
    for (double x1 : {-2.0, 0.3, 2.5, 9.0}) {
      auto density = m.score_samples(torch::stack({torch::full_like(grid, x1), grid}, 1)).exp();  // [G]
      const double mass = density.sum().item<double>();
      const double mean = (density * grid).sum().item<double>() / mass;
      const double var = (density * (grid - mean).square()).sum().item<double>() / mass;
      auto row = torch::tensor({{x1, std::nan("")}}, opts);
      EXPECT_NEAR(m.conditional_mean(row)[0][1].item<double>(), mean, 1e-6) << type << " x1 = " << x1;
      auto draws = m.conditional_samples(row.expand({4, 2}).contiguous(), 10000, gen).select(2, 1).reshape({-1});
      EXPECT_TRUE(torch::equal(m.conditional_samples(row, 3, gen).select(2, 0), torch::full({3, 1}, x1, opts)));
      EXPECT_NEAR(draws.mean().item<double>(), mean, 4 * std::sqrt(var / 40000)) << type << " x1 = " << x1;
      EXPECT_NEAR(draws.var().item<double>() / var, 1.0, 0.05) << type << " x1 = " << x1;
    }
  }
  // A complete row comes back unchanged; the draws follow the generator.
  BayesianGaussianMixture m;
  m.fit({x}, quiet());
  EXPECT_TRUE(torch::equal(m.conditional_mean(x.slice(0, 0, 3)), x.slice(0, 0, 3)));
  auto g1 = make_generator(4), g2 = make_generator(4);
  auto holes = x.slice(0, 0, 5).clone();
  holes.select(1, 1).fill_(std::nan(""));
  EXPECT_TRUE(torch::equal(m.conditional_sample(holes, g1), m.conditional_sample(holes, g2)));
  holes[0][0] = std::numeric_limits<double>::infinity();
  EXPECT_THROW(m.conditional_mean(holes), DataError);
}

TEST(Bgmm, BadInputsAreClearErrors) {
  auto x = two_blobs(100, 7);
  BgmmOptions low_dof;
  low_dof.degrees_of_freedom_prior = 0.5;  // must exceed D - 1 = 1
  try {
    BayesianGaussianMixture(low_dof).fit({x}, quiet());
    FAIL() << "expected an error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("greater than 1"), std::string::npos) << e.what();
  }
  BgmmOptions bad_cov;
  bad_cov.covariance_prior = torch::eye(3, torch::kFloat64);
  EXPECT_THROW(BayesianGaussianMixture(bad_cov).fit({x}, quiet()), InvalidArgument);
  BgmmOptions bad_resp;
  bad_resp.n_components = 2;
  bad_resp.resp_init = torch::ones({10, 2}, torch::kFloat64);
  EXPECT_THROW(BayesianGaussianMixture(bad_resp).fit({x}, quiet()), InvalidArgument);
  BgmmOptions bad_type;
  bad_type.weight_concentration_prior_type = "pitman_yor";
  EXPECT_THROW(BayesianGaussianMixture(bad_type).fit({x}, quiet()), InvalidArgument);
  auto with_nan = x.clone();
  with_nan[3][1] = std::nan("");
  EXPECT_THROW(BayesianGaussianMixture().fit({with_nan}, quiet()), DataError);
  BayesianGaussianMixture m;
  EXPECT_THROW(m.set_init("means", torch::zeros({1, 2})), NotSupported);
  EXPECT_THROW(m.score_samples(x), NotFitted);
  m.fit({x}, quiet());
  EXPECT_THROW(m.score_samples(torch::zeros({4, 3}, torch::kFloat64)), DataError);
}

}  // namespace
}  // namespace gf
