// Gaussian copula: planted dependence recovered, exact log density for normal marginals, conditioning equal to
// rejection, missing rates, differential privacy, and clear errors.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/copula.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// Rows of N(0, R) through chosen marginals: x0 lognormal, x1 = 5 + 2 z1, x2 three categories cut at -0.5, 0.7.
Dataset copula_planted(int64_t n, uint64_t seed, const torch::Tensor& r) {
  auto gen = make_generator(seed);
  auto z = torch::randn({n, 3}, gen, torch::kFloat64).matmul(torch::linalg_cholesky(r).t());
  auto x = torch::stack({z.select(1, 0).exp(), 5 + 2 * z.select(1, 1),
                         (z.select(1, 2) > -0.5).to(torch::kFloat64) + (z.select(1, 2) > 0.7).to(torch::kFloat64)},
                        1);
  Dataset d{x, {}, {"income", "score", "level"}};
  d.features = {{"income"}, {"score"}, {"level", ColumnType::categorical, "ordinal", 3}};
  return d;
}

torch::Tensor planted_r() {
  return torch::tensor({1.0, 0.7, -0.4, 0.7, 1.0, 0.2, -0.4, 0.2, 1.0}, torch::kFloat64).reshape({3, 3});
}

TEST(Copula, RecoversAPlantedCorrelationThroughSkewedAndCategoricalMarginals) {
  GaussianCopula c;
  c.fit(copula_planted(20000, 1, planted_r()), quiet());
  const auto r = c.correlation();
  EXPECT_NEAR(r[0][1].item<double>(), 0.7, 0.02);
  // The category's latent score is known only up to its interval: Hoff's sampler recovers the correlation that
  // jittered positions would shrink.
  // (A category column has no direction of its own: its order is the model's, so signs are compared through the
  // product, which does not depend on it.)
  EXPECT_NEAR(std::fabs(r[0][2].item<double>()), 0.4, 0.04);
  EXPECT_NEAR(std::fabs(r[1][2].item<double>()), 0.2, 0.04);
  EXPECT_LT((r[0][1] * r[0][2] * r[1][2]).item<double>(), 0);
  const auto kinds = c.marginal_kinds();
  EXPECT_TRUE(kinds[1] == "normal" || kinds[1] == "truncnorm") << kinds[1];  // the KS choice finds the bell
  EXPECT_EQ(kinds[0], "empirical");  // no parametric family fits a lognormal within the KS threshold
  EXPECT_EQ(kinds[2], "categorical");
}

TEST(Copula, SamplesKeepMarginalsCategoryFrequenciesAndMissingRates) {
  auto d = copula_planted(8000, 2, planted_r());
  auto gen0 = make_generator(9);
  d.x.select(1, 1).masked_fill_(torch::rand({8000}, gen0, torch::kFloat64) < 0.2, NAN);  // 20 % missing
  GaussianCopula c;
  c.fit(d, quiet());
  auto gen = make_generator(3);
  auto s = c.sample(20000, gen);
  EXPECT_NEAR(torch::isnan(s.select(1, 1)).to(torch::kFloat64).mean().item<double>(), 0.2, 0.015);
  for (int64_t k = 0; k < 3; ++k) {
    const double real = (d.x.select(1, 2) == k).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR((s.select(1, 2) == k).to(torch::kFloat64).mean().item<double>(), real, 0.015) << k;
  }
  auto income = s.select(1, 0);
  EXPECT_NEAR(income.median().item<double>(), d.x.select(1, 0).median().item<double>(), 0.05);
  EXPECT_GE(income.min().item<double>(), d.x.select(1, 0).min().item<double>());  // enforce_min_max
}

// The latent space is the normal scores: decode undoes transform, codes of the data follow N(0, R), and a planted
// score z1 comes back as (x1 - 5) / 2 through the normal marginal.
TEST(Copula, TransformGivesNormalScoresThatDecodeBackToTheRows) {
  const auto d = copula_planted(6000, 4, planted_r());
  GaussianCopula c;
  c.fit(d, quiet());
  ASSERT_EQ(c.latent_dim(), 3);
  const auto caps = c.capabilities();
  EXPECT_TRUE(caps.encoder && caps.latent_space && !caps.standard_normal_prior);
  const auto rows = d.x.slice(0, 0, 500);
  const auto z = c.transform(rows);  // [500, 3]
  const auto back = c.decode(z);
  EXPECT_LT((back.slice(1, 0, 2) - rows.slice(1, 0, 2)).abs().max().item<double>(), 1e-6);
  EXPECT_TRUE(torch::equal(back.select(1, 2), rows.select(1, 2)));  // categories exactly
  if (c.marginal_kinds()[1] == "normal") {
    EXPECT_NEAR(((rows.select(1, 1) - 5) / 2 - z.select(1, 1)).abs().max().item<double>(), 0, 0.1);
  }
  // Codes of the data have the fitted correlation among the numeric columns; drawn codes have it everywhere.
  const auto all = c.transform(d.x);
  const auto numeric = torch::corrcoef(all.slice(1, 0, 2).t());
  EXPECT_NEAR(numeric[0][1].item<double>(), c.correlation()[0][1].item<double>(), 0.03);
  auto gen = make_generator(2);
  const auto drawn = torch::corrcoef(c.sample_latent(20000, gen).t());
  EXPECT_LT((drawn - c.correlation()).abs().max().item<double>(), 0.03);
  // Missing cells stay missing; codes outside the data decode inside the training range.
  auto holes = rows.slice(0, 0, 2).clone();
  holes[0][1] = NAN;
  EXPECT_TRUE(std::isnan(c.transform(holes)[0][1].item<double>()));
  const auto far = c.decode(torch::full({1, 3}, 9.0, torch::kFloat64));
  EXPECT_LE(far[0][0].item<double>(), d.x.select(1, 0).max().item<double>());
  EXPECT_THROW(c.decode(torch::zeros({2, 4}, torch::kFloat64)), Error);
}

// With normal marginals the copula is a multivariate normal: its score must be that density exactly.
TEST(Copula, ScoreIsTheMultivariateNormalDensityForNormalMarginals) {
  auto gen = make_generator(4);
  auto cov = torch::tensor({2.0, 0.8, 0.8, 1.0}, torch::kFloat64).reshape({2, 2});
  auto x = torch::randn({500, 2}, gen, torch::kFloat64).matmul(torch::linalg_cholesky(cov).t()) + 3;
  CopulaOptions o;
  o.distribution = "normal";
  GaussianCopula c(o);
  c.fit({x}, quiet());
  auto mean = x.mean(0), sd = x.std(0, /*unbiased=*/true);
  auto covariance = c.correlation() * sd.unsqueeze(0) * sd.unsqueeze(1);
  auto l = torch::linalg_cholesky(covariance);
  auto w = torch::linalg_solve_triangular(l, (x - mean).t(), /*upper=*/false);
  auto expected = -0.5 * (w * w).sum(0) - l.diagonal().log().sum() - std::log(2 * M_PI);
  EXPECT_TRUE(test::all_close(c.score_samples(x), expected, 1e-9, 1e-9));
}

// Conditioning is exact: the rows drawn under a range (one: a direct draw; two: Gibbs) look like the unconditional
// rows that fall in the range.
TEST(Copula, RangeConditionsMatchRejectionSampling) {
  GaussianCopula c;
  c.fit(copula_planted(20000, 5, planted_r()), quiet());
  auto gen = make_generator(6);
  auto all = c.sample(300000, gen);
  const double inf = INFINITY;
  auto in_range = (all.select(1, 0) > 2.0);
  auto lo = torch::tensor({2.0, -inf, -inf}, torch::kFloat64), hi = torch::tensor({inf, inf, inf}, torch::kFloat64);
  auto s = c.sample_within(20000, lo, hi, gen);
  EXPECT_TRUE((s.select(1, 0) >= 2.0).all().item<bool>());
  EXPECT_NEAR(s.select(1, 1).nanmean().item<double>(), all.select(1, 1).index({in_range}).nanmean().item<double>(), 0.05);
  // Two ranges at once.
  auto both = in_range & (all.select(1, 1) < 5.0);
  hi[1] = 5.0;
  auto s2 = c.sample_within(20000, lo, hi, gen);
  EXPECT_TRUE((s2.select(1, 1) <= 5.0).all().item<bool>());
  const double want = (all.select(1, 2).index({both}) == 0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR((s2.select(1, 2) == 0).to(torch::kFloat64).mean().item<double>(), want, 0.02);
  // A fixed value and a category.
  auto fixed_lo = torch::tensor({-inf, 6.5, 2.0}, torch::kFloat64), fixed_hi = torch::tensor({inf, 6.5, 2.0}, torch::kFloat64);
  auto s3 = c.sample_within(100, fixed_lo, fixed_hi, gen);
  EXPECT_TRUE((s3.select(1, 1) == 6.5).all().item<bool>());
  EXPECT_TRUE((s3.select(1, 2) == 2).all().item<bool>());
}

TEST(Copula, ConditionalSampleFillsOnlyMissingCellsFromTheConditionalGaussian) {
  auto gen = make_generator(7);
  auto cov = torch::tensor({1.0, 0.8, 0.8, 1.0}, torch::kFloat64).reshape({2, 2});
  auto x = torch::randn({5000, 2}, gen, torch::kFloat64).matmul(torch::linalg_cholesky(cov).t());
  CopulaOptions o;
  o.distribution = "normal";
  GaussianCopula c(o);
  c.fit({x}, quiet());
  auto query = torch::tensor({1.5, std::nan("")}, torch::kFloat64).reshape({1, 2}).repeat({4000, 1});
  auto filled = c.conditional_sample(query, gen);
  EXPECT_TRUE((filled.select(1, 0) == 1.5).all().item<bool>());
  EXPECT_NEAR(filled.select(1, 1).mean().item<double>(), 0.8 * 1.5, 0.05);
  EXPECT_NEAR(filled.select(1, 1).std().item<double>(), std::sqrt(1 - 0.64), 0.03);
  EXPECT_NEAR(c.conditional_mean(query.slice(0, 0, 1))[0][1].item<double>(), 1.2, 0.1);
}

TEST(Copula, DifferentiallyPrivateFitUsesNoisyHistogramsAndStatesItsBudget) {
  auto d = copula_planted(5000, 8, planted_r());
  CopulaOptions o;
  o.dp_epsilon = 1.0;
  GaussianCopula c(o);
  const auto report = c.fit(d, quiet());
  EXPECT_EQ(c.marginal_kinds()[0], "histogram");
  ASSERT_TRUE(report.extra.contains("privacy"));
  EXPECT_DOUBLE_EQ(report.extra["privacy"]["epsilon"].get<double>(), 1.0);
  EXPECT_GT(report.extra["privacy"]["correlation"]["sigma"].get<double>(), 0);
  // A huge budget adds almost no noise: the correlation of the clipped scores is close to the planted one (with
  // bins fine enough for the lognormal column: its private range reaches to the octave edge 64).
  o.dp_epsilon = 1e6;
  o.dp_bins = 128;
  GaussianCopula loose(o);
  loose.fit(d, quiet());
  EXPECT_NEAR(loose.correlation()[0][1].item<double>(), 0.7, 0.08);
  // Same seed, same private model.
  auto g1 = make_generator(1), g2 = make_generator(1);
  GaussianCopula c2(o);
  c2.fit(d, quiet());
  EXPECT_TRUE(torch::equal(loose.sample(50, g1), c2.sample(50, g2)));
}

// A private fit never reads a column's min and max: one row of 1e6 among values near 50 leaves the samples (and the
// model's range) at the octaves of the bulk; declared ranges bound the samples and spend nothing; "data" is the old
// behaviour, stated as not private.
TEST(Copula, PrivateFitKeepsAnExtremeRowOutOfTheRangesUnlessDeclaredOrAskedForTheData) {
  auto d = copula_planted(3000, 12, planted_r());
  d.x = d.x.clone();
  d.x[0][1] = 1e6;  // "score": 5 + 2 z elsewhere
  CopulaOptions o;
  o.dp_epsilon = 1.0;
  GaussianCopula c(o);
  const auto report = c.fit(d, quiet());
  const auto& ranges = report.extra["privacy"]["ranges"];
  EXPECT_EQ(ranges["columns"]["score"]["how"], "private");
  EXPECT_LE(ranges["columns"]["score"]["hi"].get<double>(), 32);
  EXPECT_DOUBLE_EQ(ranges["epsilon"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(ranges["epsilon_per_column"].get<double>(), 0.1);
  auto gen = make_generator(3);
  const auto present_max = [](const torch::Tensor& v) { return v.masked_select(~torch::isnan(v)).max().item<double>(); };
  const auto present_min = [](const torch::Tensor& v) { return v.masked_select(~torch::isnan(v)).min().item<double>(); };
  EXPECT_LE(present_max(c.sample(5000, gen).select(1, 1)), 32);

  o.dp_bounds = "score:0..12,income:0..20";
  GaussianCopula declared(o);
  const auto declared_report = declared.fit(d, quiet());
  EXPECT_EQ(declared_report.extra["privacy"]["ranges"]["epsilon"].get<double>(), 0);
  const auto s = declared.sample(5000, gen).select(1, 1);
  EXPECT_GE(present_min(s), 0);
  EXPECT_LE(present_max(s), 12);
  // The histogram over the declared range keeps the bulk's shape: mean 5.
  EXPECT_NEAR(s.masked_select(~torch::isnan(s)).mean().item<double>(), 5, 0.5);

  o.dp_bounds = "data";
  GaussianCopula from_data(o);
  const auto data_report = from_data.fit(d, quiet());
  EXPECT_EQ(data_report.extra["privacy"]["ranges"]["columns"]["score"]["hi"].get<double>(), 1e6);
  EXPECT_NE(data_report.extra["privacy"]["public"].get<std::string>().find("column ranges (dp_bounds=data)"),
            std::string::npos);
  o.dp_bounds = "level:0..2";
  GaussianCopula categorical(o);
  test::expect_error_message([&] { categorical.fit(d, quiet()); },
                             "dp_bounds names column 'level', which is not a numeric column of the data");
}

TEST(Copula, SameSeedSameRowsOnOneOrTwoThreads) {
  auto d = copula_planted(3000, 10, planted_r());
  const int before = torch::get_num_threads();
  torch::Tensor rows[2];
  for (int t = 1; t <= 2; ++t) {
    torch::set_num_threads(t);
    GaussianCopula c;
    c.fit(d, quiet());
    auto gen = make_generator(11);
    rows[t - 1] = c.sample(500, gen);
  }
  torch::set_num_threads(before);
  EXPECT_TRUE(torch::allclose(rows[0], rows[1], 1e-12, 1e-12));
}

TEST(Copula, RefusesConstantCategoriesEmptyColumnsOneHotAndImpossibleConditions) {
  auto d = copula_planted(200, 12, planted_r());
  auto single = d;
  single.x = d.x.clone();
  single.features[2].n_categories = 1;
  single.x.select(1, 2).fill_(0);
  EXPECT_THROW(GaussianCopula().fit(single, quiet()), DataError);
  // One level with missing cells is a flag (set or not): fitted, its missing rate kept.
  auto flag = single;
  flag.x = single.x.clone();
  flag.x.select(1, 2).slice(0, 0, 50).fill_(NAN);  // 50 of 200 unset
  GaussianCopula flagged;
  flagged.fit(flag, quiet());
  auto flag_gen = make_generator(2);
  const auto drawn = flagged.sample(4000, flag_gen).select(1, 2);
  EXPECT_NEAR(drawn.isnan().to(torch::kFloat64).mean().item<double>(), 0.25, 0.03);
  EXPECT_TRUE((drawn.masked_select(drawn.isnan().logical_not()) == 0).all().item<bool>());
  auto empty = d;
  empty.x = d.x.clone();
  empty.x.select(1, 1).fill_(NAN);
  EXPECT_THROW(GaussianCopula().fit(empty, quiet()), DataError);
  auto onehot = d;
  onehot.features[2].encoding = "onehot";
  EXPECT_THROW(GaussianCopula().fit(onehot, quiet()), DataError);
  GaussianCopula c;
  c.fit(d, quiet());
  auto gen = make_generator(0);
  const double inf = INFINITY;
  // A range beyond everything the model knows has no probability.
  EXPECT_THROW(c.sample_within(5, torch::tensor({1e9, -inf, -inf}, torch::kFloat64),
                               torch::tensor({inf, inf, inf}, torch::kFloat64), gen),
               InvalidArgument);
  EXPECT_THROW(c.sample_within(5, torch::tensor({-inf, -inf, 0.0}, torch::kFloat64),
                               torch::tensor({inf, inf, 1.0}, torch::kFloat64), gen),
               InvalidArgument);  // a category range
  CopulaOptions bad;
  bad.distributions = "income:weibull";
  EXPECT_THROW(GaussianCopula(bad).fit(d, quiet()), InvalidArgument);
}

}  // namespace
}  // namespace gf
