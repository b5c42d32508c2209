// Privacy accounting against Opacus: its own test anchors and values computed by its rdp.py
// (tests/reference/vectors/dp_accounting.json, copied from the project's reference vectors).
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/privacy/accountant.h"
#include "stats/marginal.h"
#include "support/support.h"

namespace gf {
namespace {

nlohmann::json privacy_vectors() { return test::read_json(test::source_path("tests/reference/vectors/dp_accounting.json")); }

TEST(Privacy, RdpAccountantReproducesOpacusTestAnchor) {
  const auto v = privacy_vectors();
  for (const auto& c : v["cases"]) {
    if (c["id"] != "rdp_accountant") continue;
    const auto spent = privacy::epsilon_spent("rdp", c["noise_multiplier"], c["sample_rate"], c["steps"], c["delta"]);
    EXPECT_NEAR(spent.epsilon, c["expected_epsilon"].get<double>(), 1e-7);
    return;
  }
  FAIL() << "no rdp_accountant case";
}

TEST(Privacy, RdpValuesAndEpsilonsMatchOpacusAtEveryComputedCase) {
  int cases = 0;
  const auto v = privacy_vectors();
  for (const auto& c : v["computed_cases"]) {
    const auto& orders = privacy::default_orders();
    const auto rdp = privacy::compute_rdp(c["sample_rate"], c["noise_multiplier"], c["steps"], orders);
    for (const auto& [order, expected] : c["rdp_at_orders"].items()) {
      const double a = std::stod(order);
      const auto k = std::find(orders.begin(), orders.end(), a) - orders.begin();
      ASSERT_LT(k, static_cast<long>(orders.size())) << order;
      EXPECT_NEAR(rdp[static_cast<size_t>(k)], expected.get<double>(), 1e-9 * std::max(1.0, expected.get<double>()))
          << c["id"] << " order " << order;
    }
    const auto spent = privacy::rdp_epsilon(orders, rdp, c["delta"]);
    EXPECT_NEAR(spent.epsilon, c["expected_epsilon"].get<double>(), 1e-9) << c["id"];
    EXPECT_DOUBLE_EQ(spent.order, c["optimal_alpha"].get<double>()) << c["id"];
    ++cases;
  }
  EXPECT_GE(cases, 6);
}

TEST(Privacy, NoiseMultiplierSearchAndGdpMatchOpacus) {
  int checked = 0;
  const auto v = privacy_vectors();
  for (const auto& c : v["cases"]) {
    const std::string id = c["id"];
    if (id.rfind("get_noise_multiplier", 0) == 0) {
      const double q = c["sample_rate"];
      const int64_t steps = c.contains("steps") ? c["steps"].get<int64_t>()
                                                : static_cast<int64_t>(c["epochs"].get<double>() / q);
      const double sigma = privacy::noise_multiplier_for(c["target_epsilon"], c["delta"], q, steps, c["accountant"]);
      EXPECT_NEAR(sigma, c["expected_noise_multiplier"].get<double>(), 0.5 * std::pow(10.0, -c["places"].get<int>()))
          << id;
      ++checked;
    } else if (id == "prv_accountant") {
      const auto spent = privacy::epsilon_spent("prv", c["noise_multiplier"], c["sample_rate"], c["steps"], c["delta"]);
      EXPECT_NEAR(spent.epsilon, c["expected_epsilon"].get<double>(), 0.5 * std::pow(10.0, -c["places"].get<int>()));
      ++checked;
    } else if (id == "gdp_accountant") {
      const auto spent = privacy::epsilon_spent("gdp", c["noise_multiplier"], c["sample_rate"], c["steps"], c["delta"]);
      EXPECT_GE(spent.epsilon, c["expected_epsilon_range"][0].get<double>());
      EXPECT_LE(spent.epsilon, c["expected_epsilon_range"][1].get<double>());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 7);
}

TEST(Privacy, TooSmallABudgetIsAClearError) {
  EXPECT_THROW(privacy::noise_multiplier_for(1e-9, 1e-5, 0.5, 100000), InvalidArgument);
  EXPECT_THROW(privacy::epsilon_spent("moments", 1.0, 0.1, 10, 1e-5), InvalidArgument);
}

// The analytic Gaussian mechanism: δ at the σ returned equals the target (Balle & Wang 2018, Theorem 8), and σ
// is below the classical bound sqrt(2 ln(1.25/δ)) Δ / ε where that bound applies (ε < 1).
TEST(Privacy, AnalyticGaussianSigmaMeetsDeltaExactly) {
  for (double eps : {0.1, 0.5, 0.9, 2.0, 8.0}) {
    const double delta = 1e-5, sens = 3.0;
    const double sigma = privacy::analytic_gaussian_sigma(eps, delta, sens);
    const double a = sens / (2 * sigma), b = eps * sigma / sens;
    const double got = stats::normal_cdf(a - b) - std::exp(eps) * stats::normal_cdf(-a - b);
    EXPECT_NEAR(got, delta, 1e-9) << eps;
    if (eps < 1) {
      EXPECT_LT(sigma, std::sqrt(2 * std::log(1.25 / delta)) * sens / eps);
    }
  }
}

}  // namespace
}  // namespace gf
