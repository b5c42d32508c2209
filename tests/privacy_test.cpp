// Privacy accounting against Opacus: its own test anchors and values computed by its rdp.py
// (tests/reference/vectors/dp_accounting.json, copied from the project's reference vectors); declared and private
// column ranges.
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/privacy/accountant.h"
#include "genforge/privacy/bounds.h"
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

std::vector<double> uniform_values(int64_t n, double lo, double hi, uint64_t seed) {
  auto gen = make_generator(seed);
  auto u = torch::rand({n}, gen, torch::kFloat64).contiguous();
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = lo + (hi - lo) * u.data_ptr<double>()[i];
  return v;
}

// The private range spans the octaves that hold the data: [100, 900] -> [64, 1024], [-300, -5] -> [-512, -4].
TEST(PrivateRange, SpansTheOctavesOfTheData) {
  auto gen = make_generator(1);
  const auto r = privacy::private_range(uniform_values(5000, 100, 900, 2), 1.0, gen);
  EXPECT_EQ(r.lo, 64);
  EXPECT_EQ(r.hi, 1024);
  EXPECT_EQ(r.how, "private");
  const auto n = privacy::private_range(uniform_values(5000, -300, -5, 3), 1.0, gen);
  EXPECT_EQ(n.lo, -512);
  EXPECT_EQ(n.hi, -4);
  // Straddling zero: values in (-1, 3) reach from the octave [-1, -0.5) to [2, 4).
  const auto z = privacy::private_range(uniform_values(20000, -1, 3, 4), 1.0, gen);
  EXPECT_EQ(z.lo, -1);
  EXPECT_EQ(z.hi, 4);
  // No bin passes the threshold (ln(193 / 0.002) / 0.01 = 1148 rows): the fullest noisy bin, here the data's, and
  // perhaps a neighbour whose noise (scale 100) reached a quarter of it.
  const auto weak = privacy::private_range(std::vector<double>(900, 3.0), 0.01, gen);
  EXPECT_LE(weak.lo, 2);
  EXPECT_GE(weak.hi, 4);
  EXPECT_LE(weak.hi / weak.lo, 8);
  // The bulk straddling an octave edge with neither half past the threshold (ε = 0.02: 574 rows): both halves.
  const auto halves = privacy::private_range(uniform_values(700, 3000, 5000, 7), 0.02, gen);
  EXPECT_EQ(halves.lo, 2048);
  EXPECT_EQ(halves.hi, 8192);
}

// The point of it: one person's extreme value does not show. A row of 1e9 among 1000 values in [100, 900] never
// moves the upper bound (the data's own max would be 1e9), over 200 seeds.
TEST(PrivateRange, OneExtremeRowDoesNotMoveTheRange) {
  auto values = uniform_values(1000, 100, 900, 5);
  values.push_back(1e9);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto gen = make_generator(seed);
    const auto r = privacy::private_range(values, 1.0, gen);
    ASSERT_EQ(r.hi, 1024) << "seed " << seed;
  }
  auto gen = make_generator(0);
  const auto plan = privacy::plan_ranges("data", {"x"}, {values}, 1.0, gen);
  EXPECT_EQ(plan.ranges.at("x").hi, 1e9);
  EXPECT_EQ(plan.ranges.at("x").how, "data (not private)");
  EXPECT_EQ(plan.epsilon, 0);
}

// Declared ranges spend nothing; the others share the budget.
TEST(PrivateRange, DeclaredRangesAreTakenAsGivenAndTheRestShareEpsilon) {
  auto gen = make_generator(0);
  const auto v = uniform_values(2000, 10, 50, 6);
  const auto plan = privacy::plan_ranges("age:0..120", {"age", "income", "score"}, {v, v, v}, 0.5, gen);
  EXPECT_EQ(plan.ranges.at("age").lo, 0);
  EXPECT_EQ(plan.ranges.at("age").hi, 120);
  EXPECT_EQ(plan.ranges.at("age").how, "declared");
  EXPECT_EQ(plan.ranges.at("income").how, "private");
  EXPECT_DOUBLE_EQ(plan.epsilon_per_column, 0.25);
  const auto all = privacy::plan_ranges("age:0..120, income:-1e3..1e6,score:0..1", {"age", "income", "score"},
                                        {v, v, v}, 0.5, gen);
  EXPECT_EQ(all.epsilon, 0);
  EXPECT_EQ(all.ranges.at("income").lo, -1000);
  EXPECT_EQ(all.ranges.at("income").hi, 1e6);
  test::expect_error_message([] { privacy::parse_declared_ranges("age:120..0"); },
                             "dp_bounds: 'age:120..0' has its lower bound above its upper bound");
  test::expect_error_message([] { privacy::parse_declared_ranges("age 0..120"); },
                             "dp_bounds: 'age 0..120' is not column:lo..hi");
  test::expect_error_message([] { privacy::parse_declared_ranges("age:0..old"); },
                             "dp_bounds: 'old' in 'age:0..old' is not a number or a date");
  // Dates and datetimes in the data's own spelling, as seconds since 1970; colons in times and names are no
  // separators.
  const auto dates = privacy::parse_declared_ranges("Flight Date:1990-01-01..2003-01-01,t:2000-01-01T00:00..2000-01-02 "
                                                    "12:30,a:b:1..2");
  EXPECT_EQ(dates.at("Flight Date").lo, 631152000);
  EXPECT_EQ(dates.at("Flight Date").hi, 1041379200);
  EXPECT_EQ(dates.at("t").lo, 946684800);
  EXPECT_EQ(dates.at("t").hi, 946684800 + 86400 + 12 * 3600 + 30 * 60);
  EXPECT_EQ(dates.at("a:b").lo, 1);
  test::expect_error_message([&] { privacy::plan_ranges("height:0..3", {"age"}, {v}, 1.0, gen); },
                             "dp_bounds names column 'height', which is not a numeric column of the data");
}

}  // namespace
}  // namespace gf
