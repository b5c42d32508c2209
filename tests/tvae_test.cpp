// TVAE: the mode-specific transformer round-trips a table exactly, and the model learns a bimodal column tied to a
// category.
#include <gtest/gtest.h>

#include <cmath>
#include <torch/types.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/ctgan.h"
#include "genforge/models/tvae.h"
#include "models/tvae/mode_transformer.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// x = -5 + N(0, 1) when the category is 0, +5 + N(0, 0.5) when it is 1 (probability 0.3); 10 % of x missing.
Dataset bimodal(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto cat = (torch::rand({n}, gen, torch::kFloat64) < 0.3).to(torch::kFloat64);
  auto x = torch::where(cat == 1, 5 + 0.5 * torch::randn({n}, gen, torch::kFloat64),
                        -5 + torch::randn({n}, gen, torch::kFloat64));
  x.masked_fill_(torch::rand({n}, gen, torch::kFloat64) < 0.1, NAN);
  Dataset d{torch::stack({x, cat}, 1), {}, {"x", "group"}};
  d.features = {{"x"}, {"group", ColumnType::categorical, "ordinal", 2}};
  return d;
}

TEST(Tvae, ModeTransformerFindsTheModesAndRoundTripsRows) {
  const auto d = bimodal(4000, 1);
  tvae::ModeTransformer t;
  t.fit(d.x, d.features, d.columns, 10, 0);
  ASSERT_EQ(t.columns().size(), 2u);
  const auto& c = t.columns()[0];
  // The Dirichlet process keeps a few of its ten components (CTGAN's pruning at weight 0.005), all near a planted
  // mode (an unconverged fit may split one), with the planted shares.
  const auto k = static_cast<int64_t>(c.means.size());
  ASSERT_GE(k, 2);
  ASSERT_LE(k, 10);
  double low = 0, high = 0;
  for (size_t i = 0; i < c.means.size(); ++i) {
    EXPECT_TRUE(std::fabs(c.means[i] + 5) < 2 || std::fabs(c.means[i] - 5) < 1) << c.means[i];
    (c.means[i] < 0 ? low : high) += c.weights[i];
  }
  EXPECT_NEAR(low, 0.7, 0.05);
  EXPECT_NEAR(high, 0.3, 0.05);
  EXPECT_TRUE(c.has_missing);
  EXPECT_EQ(t.width(), 1 + k + 2 + 2);  // scalar, modes, missing one-hot; the category's one-hot
  auto gen = make_generator(2);
  auto code = t.transform(d.x, gen);
  // Scalars given back before tanh and one-hots as they are: the rows come back.
  auto raw = code.to(torch::kFloat64).clone();
  raw.select(1, 0).copy_(torch::atanh(raw.select(1, 0)));
  auto back = t.inverse(raw, {}, gen);
  auto present = ~torch::isnan(d.x.select(1, 0));
  EXPECT_TRUE(torch::equal(torch::isnan(back.select(1, 0)), ~present));
  // Values come back unless their scalar was clipped at +-0.99 (a value drawn into a far mode: which ones depends on
  // the fitted modes' last bits, so on the build). The code is float32, and atanh near +-1 magnifies its last bit.
  auto kept = present & (code.select(1, 0).abs() < 0.99);
  EXPECT_GT(kept.sum().item<int64_t>(), present.sum().item<int64_t>() * 9 / 10);
  EXPECT_TRUE(test::all_close(back.select(1, 0).index({kept}), d.x.select(1, 0).index({kept}), 1e-4, 1e-4));
  EXPECT_TRUE(torch::equal(back.select(1, 1), d.x.select(1, 1)));
  const auto again = tvae::ModeTransformer::from_json(t.to_json());
  EXPECT_EQ(again.to_json(), t.to_json());
}

TEST(Tvae, LearnsABimodalColumnTiedToACategory) {
  TvaeOptions o;
  o.epochs = 300;
  o.batch_size = 200;
  o.embedding_dim = 16;
  o.compress_dims = o.decompress_dims = "64,64";
  Tvae model(o);
  model.fit(bimodal(2000, 3), quiet());
  auto gen = make_generator(4);
  auto s = model.sample(4000, gen);
  auto x = s.select(1, 0), group = s.select(1, 1);
  auto present = ~torch::isnan(x);
  EXPECT_NEAR(present.logical_not().to(torch::kFloat64).mean().item<double>(), 0.1, 0.04);
  EXPECT_NEAR(group.mean().item<double>(), 0.3, 0.05);
  // The category says which mode: x > 0 in group 1, x < 0 in group 0, for nearly every row.
  auto agree = ((x > 0) == (group == 1)).index({present}).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(agree, 0.9);  // a model that mixes the modes up scores about 0.6

  // score_samples: an importance-weighted bound on log p(row) in the row's own units. exp(score) over a grid of x
  // gives each group's share of the rows with x present (0.7 x 0.9, 0.3 x 0.9: being present counts, as x has gaps);
  // with x missing the cell is left out, and the row gets its group's probability. Far-off values score far lower;
  // the same rows score the same.
  const int64_t steps = 2400;
  const double dx = 24.0 / static_cast<double>(steps - 1);
  const auto grid = torch::linspace(-12, 12, steps, torch::kFloat64);
  double total = 0;
  for (const double g : {0.0, 1.0}) {
    auto rows = torch::stack({grid, torch::full({steps}, g, torch::kFloat64)}, 1);
    const double present_mass = model.score_samples(rows).exp().sum().item<double>() * dx;
    const double share = g == 0 ? 0.7 : 0.3;
    EXPECT_NEAR(present_mass, share * 0.9, 0.06) << "group " << g;
    // One row's estimate comes from 50 codes; exp of it is unbiased for the probability, so 400 copies (each with
    // its own codes) average to it: the model's own share of the group, read off its samples.
    const auto alone = torch::tensor({std::nan(""), g}, torch::kFloat64).view({1, 2}).repeat({400, 1});
    const double group_mass = model.score_samples(alone).exp().mean().item<double>();
    const double model_share = group.eq(g).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(group_mass, model_share, 0.05) << "group " << g;
    total += present_mass;
  }
  EXPECT_GT(total, 0.82);
  EXPECT_LT(total, 0.96);
  auto typical = torch::tensor({-5.0, 0.0, 30.0, 0.0}, torch::kFloat64).view({2, 2});
  auto ll = model.score_samples(typical);
  EXPECT_LT(ll[1].item<double>(), ll[0].item<double>() - 10);
  EXPECT_TRUE(torch::equal(ll, model.score_samples(typical)));
  // transform: the encoder's posterior means, one code per row, the same every call.
  auto codes = model.transform(s.slice(0, 0, 100));
  EXPECT_EQ(codes.sizes(), (std::vector<int64_t>{100, 16}));
  EXPECT_TRUE(torch::equal(codes, model.transform(s.slice(0, 0, 100))));

  // Imputation (MIWAE-style) agrees with the model's own joint: E[x | group = 0] and P(group = 1 | x near 4.8)
  // read off 40000 samples; the category is a column with no gaps in training. Complete rows and observed cells
  // come back unchanged; the mean is deterministic, draws follow the generator.
  auto joint = model.sample(40000, gen);
  auto jx = joint.select(1, 0), jg = joint.select(1, 1);
  const double x_given_0 = jx.index({(jg == 0) & ~torch::isnan(jx)}).mean().item<double>();
  const double g1_given_x = jg.index({(jx > 4.3) & (jx < 5.3)}).mean().item<double>();
  const double nan = NAN;
  auto gaps = torch::tensor({nan, 0.0, 4.8, nan, -5.5, nan, -4.0, 0.0}, torch::kFloat64).view({4, 2});
  auto mean = model.conditional_mean(gaps);
  EXPECT_FALSE(torch::isnan(mean).any().item<bool>());
  EXPECT_NEAR(mean[0][0].item<double>(), x_given_0, 0.3);
  EXPECT_EQ(mean[1][1].item<double>(), g1_given_x > 0.5 ? 1.0 : 0.0);
  EXPECT_EQ(mean[2][1].item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(mean[3], gaps[3]));
  EXPECT_EQ(mean[1][0].item<double>(), 4.8);
  EXPECT_TRUE(torch::equal(model.conditional_mean(gaps), mean));
  auto rows = gaps.slice(0, 0, 2).repeat({200, 1});  // [400, 2]
  auto g1 = make_generator(9), g2 = make_generator(9);
  auto draws = model.conditional_sample(rows, g1);
  EXPECT_TRUE(torch::equal(draws, model.conditional_sample(rows, g2)));
  EXPECT_FALSE(torch::isnan(draws).any().item<bool>());
  auto drawn_x = draws.slice(0, 0, 400, 2).select(1, 0), drawn_g = draws.slice(0, 1, 400, 2).select(1, 1);
  EXPECT_NEAR(drawn_x.mean().item<double>(), x_given_0, 0.4);
  EXPECT_GT(drawn_x.std().item<double>(), 0.3);  // draws, not a repeated mean
  // One draw per row resamples a pool of impute_samples (200) codes: a self-normalised pool leans towards its
  // proposal (measured 0.75-0.81 over 8 seeds against 0.84); many draws share a pool of 5 m codes and come close
  // (0.794 against 0.851 for a model trained with other BLAS kernels' rounding).
  EXPECT_NEAR(drawn_g.mean().item<double>(), g1_given_x, 0.15);
  auto many = model.conditional_samples(rows.slice(0, 1, 2), 2000, g1);  // [2000, 1, 2]: a pool of 10000 codes
  EXPECT_NEAR(many.select(2, 1).mean().item<double>(), g1_given_x, 0.08);
  EXPECT_THROW(model.conditional_mean(torch::zeros({2, 3}, torch::kFloat64)), InvalidArgument);
}

}  // namespace
}  // namespace gf

namespace gf {
namespace {

TEST(Ctgan, LearnsCategoryFrequenciesAndTheModeEachCategoryTakes) {
  CtganOptions o;
  o.epochs = 300;  // 3000 steps: a GAN needs them (600 left the modes mixed up)
  o.batch_size = 100;
  o.embedding_dim = 16;
  o.generator_dim = o.discriminator_dim = "64,64";
  Ctgan model(o);
  model.fit(bimodal(1000, 5), test::quiet());
  auto gen = make_generator(6);
  auto s = model.sample(4000, gen);
  auto x = s.select(1, 0), group = s.select(1, 1);
  auto present = ~torch::isnan(x);
  EXPECT_NEAR(group.mean().item<double>(), 0.3, 0.05);
  EXPECT_NEAR(present.logical_not().to(torch::kFloat64).mean().item<double>(), 0.1, 0.05);
  auto agree = ((x > 0) == (group == 1)).index({present}).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(agree, 0.9);
  // A fixed category rides in the condition vector; a range on x is met by drawing again.
  const double inf = INFINITY;
  auto only = model.sample_within(500, torch::tensor({0.0, 1.0}, torch::kFloat64), torch::tensor({inf, 1.0}, torch::kFloat64), gen);
  EXPECT_EQ(only.size(0), 500);
  EXPECT_TRUE((only.select(1, 1) == 1).all().item<bool>());
  EXPECT_TRUE((only.select(1, 0) >= 0).all().item<bool>());
  EXPECT_THROW(model.sample_within(10, torch::tensor({1e6, -inf}, torch::kFloat64),
                                   torch::tensor({inf, inf}, torch::kFloat64), gen),
               InvalidArgument);
  CtganOptions bad;
  bad.batch_size = 64;  // not a multiple of pac = 10
  EXPECT_THROW(Ctgan(bad).fit(bimodal(100, 1), test::quiet()), InvalidArgument);
}

}  // namespace
}  // namespace gf
