// Normalizing flows: exact inverses, log-determinants against autograd Jacobians, densities that integrate to 1,
// the standardisation's Jacobian, dequantised images, class-conditional priors and bad input.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/model_interfaces.h"
#include "genforge/models/flow.h"
#include "genforge/models/gmm.h"
#include "genforge/registry.h"
#include "support/quarters.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// Two bright-half image classes (left or top), 1 x side x side, pixel values k / 255.
Dataset flow_two_class_images(int64_t n, int64_t side, uint64_t seed) {
  auto gen = make_generator(seed);
  auto labels = at::randint(2, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto left = torch::full({1, side, side}, 20.0), top = torch::full({1, side, side}, 20.0);
  left.slice(2, 0, side / 2).fill_(230.0);
  top.slice(1, 0, side / 2).fill_(230.0);
  auto noise = at::randint(-15, 16, {n, 1, side, side}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  auto x = ((torch::stack({left, top}).index_select(0, labels).to(torch::kFloat64) + noise) / 255.0);
  return {x, {}, {}, labels};
}

// Rows of a bent two-dimensional density (a banana): x2 depends on x1 non-linearly.
torch::Tensor banana(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto a = at::randn({n}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  auto b = at::randn({n}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  return torch::stack({a * 2 + 1, 0.5 * b + 0.5 * a.pow(2) - 3}, 1);  // [n, 2]
}

// A copy of a fitted flow whose learnable tensors are moved off their (identity-like) initial values, so the
// exactness checks see non-trivial couplings.
std::unique_ptr<NormalizingFlow> perturbed(const NormalizingFlow& flow, double scale) {
  auto state = flow.state();
  auto gen = make_generator(7);
  const std::vector<std::string> fixed = {"p", "sign_s", "lower_mask", "eye", "m1", "m2", "m3", "perm",
                                          "inverse_perm", "initialized", "shift", "scale", "log_class_prior"};
  for (auto& [name, t] : state) {
    const auto leaf = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
    if (name.rfind("meta/", 0) == 0 || std::find(fixed.begin(), fixed.end(), leaf) != fixed.end()) continue;
    if (!t.is_floating_point()) continue;
    // Random unit-triangular factors are exponentially ill-conditioned in their size: keep the 1x1 convolutions'
    // L and U near their (orthogonal) start.
    const double s = leaf == "lower" || leaf == "upper" ? scale / static_cast<double>(t.size(0)) : scale;
    t = t + s * at::randn(t.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat64)).to(t.scalar_type());
  }
  auto copy = std::make_unique<NormalizingFlow>(flow.options());
  copy->load_state(state);
  return copy;
}

// log|det J| of the flow at each example by brute force: the full Jacobian from autograd, one row per output.
double brute_force_logdet(const NormalizingFlow& flow, const torch::Tensor& v) {
  auto x = v.clone().requires_grad_(true);
  auto z = flow.flow_forward(x).first;  // [1, D]
  const int64_t d = z.size(1);
  auto jac = torch::zeros({d, d}, torch::kFloat64);
  for (int64_t i = 0; i < d; ++i) {
    auto g = torch::autograd::grad({z[0][i]}, {x}, {}, /*retain_graph=*/true)[0];
    jac[i] = g.reshape({-1}).to(torch::kFloat64);
  }
  return std::get<1>(torch::linalg_slogdet(jac)).item<double>();
}

struct ExactnessCase {
  std::string architecture;
  bool images;
};

class FlowExactness : public ::testing::TestWithParam<ExactnessCase> {};

TEST_P(FlowExactness, InverseUndoesForwardAndLogDetMatchesTheJacobian) {
  const auto& param = GetParam();
  FlowOptions o;
  o.architecture = param.architecture;
  o.dtype = "float64";
  o.hidden = 8;
  o.layers = 2;
  o.max_steps = 2;
  o.batch_size = 16;
  if (param.architecture.find("spline") == 0) o.tail_bound = 2.0;  // some test points fall in the linear tails
  NormalizingFlow flow(o);
  Dataset d = param.images ? flow_two_class_images(32, 4, 1) : Dataset{banana(64, 1)};
  if (!param.images) d.x = torch::cat({d.x, d.x.slice(1, 0, 1) * d.x.slice(1, 1, 2)}, 1);  // 3 features
  flow.fit(d, quiet());
  auto p = perturbed(flow, 0.1);
  auto gen = make_generator(3);
  auto v = at::randn(d.x.slice(0, 0, 5).sizes(), gen, torch::TensorOptions().dtype(torch::kFloat64)) * 1.5;
  torch::Tensor z, logdet;
  {
    torch::NoGradGuard no_grad;
    std::tie(z, logdet) = p->flow_forward(v);
    auto back = p->flow_inverse(z);
    EXPECT_LT((back - v).abs().max().item<double>(), 1e-10) << param.architecture;
  }
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(brute_force_logdet(*p, v.slice(0, i, i + 1)), logdet[i].item<double>(), 1e-8) << param.architecture;
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, FlowExactness,
                         ::testing::Values(ExactnessCase{"realnvp", true}, ExactnessCase{"glow", true},
                                           ExactnessCase{"realnvp_mlp", true}, ExactnessCase{"realnvp_mlp", false},
                                           ExactnessCase{"maf", false}, ExactnessCase{"spline", false},
                                           ExactnessCase{"spline_coupling", false}),
                         [](const auto& info) {
                           return info.param.architecture + (info.param.images ? "_images" : "_rows");
                         });

TEST(Flow, TrainedFloat32FlowsInvertTo1e5) {
  // Perturbed float32 weights quickly make a 12-coupling flow expand by e^20 somewhere, which no float32 inverse
  // survives; a trained flow is the case that matters: codes of held-out images decode back.
  for (const char* arch : {"glow", "realnvp"}) {
    FlowOptions o;
    o.architecture = arch;
    o.hidden = 16;
    o.epochs = 10;
    o.batch_size = 32;
    NormalizingFlow flow(o);
    flow.fit(flow_two_class_images(256, 8, 2), quiet());
    auto test = flow_two_class_images(16, 8, 3);
    auto gen = make_generator(4);
    auto v = flow.options().architecture == std::string("glow") ? test.x.to(torch::kFloat32) - 0.5
                                                                : torch::logit(0.05 + 0.9 * test.x.to(torch::kFloat32));
    torch::NoGradGuard no_grad;
    auto back = flow.flow_inverse(flow.flow_forward(v).first);
    EXPECT_LT((back - v).abs().max().item<double>(), 1e-5) << arch;
    auto z = at::randn({16, 64}, gen);
    auto again = flow.flow_forward(flow.flow_inverse(z)).first;
    EXPECT_LT((again - z).abs().max().item<double>(), 1e-4) << arch;
  }
}

TEST(Flow, DensityIntegratesToOneIn2D) {
  for (const char* arch : {"maf", "spline", "spline_coupling"}) {
    FlowOptions o;
    o.architecture = arch;
    o.hidden = 32;
    o.max_steps = 300;
    o.batch_size = 128;
    o.lr = 3e-3;
    o.dtype = "float64";
    NormalizingFlow flow(o);
    auto x = banana(2000, 5);
    flow.fit({x}, quiet());
    // Riemann sum of p(x) over a box holding all but a negligible part of the mass.
    const int64_t n = 400;
    auto a = torch::linspace(-9, 11, n, torch::kFloat64), b = torch::linspace(-8, 22, n, torch::kFloat64);
    auto grid = torch::stack(torch::meshgrid({a, b}, "ij"), -1).reshape({-1, 2});
    const double cell = (20.0 / (n - 1)) * (30.0 / (n - 1));
    const double mass = flow.score_samples(grid).exp().sum().item<double>() * cell;
    EXPECT_NEAR(mass, 1.0, 0.02) << arch;
    // And it beats a single Gaussian on held-out data (the banana is not Gaussian).
    GmmOptions go;
    go.n_components = 1;
    GaussianMixture gauss(go);
    gauss.fit({x});
    auto test = banana(2000, 6);
    EXPECT_GT(flow.score(test), gauss.score(test) + 0.2) << arch;
  }
}

TEST(Flow, ScoresCountTheJacobianOfTheFlowsOwnStandardisation) {
  // The same data in units 10x larger: the flow standardises it to the same values, trains identically, and its
  // log-density drops by exactly D log 10.
  FlowOptions o;
  o.architecture = "maf";
  o.hidden = 16;
  o.max_steps = 30;
  o.dtype = "float64";
  auto x = banana(500, 8);
  NormalizingFlow a(o), b(o);
  a.fit({x}, quiet());
  b.fit({x * 10}, quiet());
  auto diff = a.score_samples(x) - b.score_samples(x * 10);
  EXPECT_NEAR(diff.mean().item<double>(), 2 * std::log(10.0), 1e-6);
  EXPECT_LT((diff - diff.mean()).abs().max().item<double>(), 1e-6);
}

TEST(Flow, DiscreteColumnsAreDequantisedOverTheirGrid) {
  // Column a takes 10, 15, 20, 25 with probabilities 0.1 .. 0.4; b = a / 5 + noise. A density on a's four values
  // alone grows without bound; dequantised over cells of width 5, the flow learns P(a) and p(b | a): its samples
  // land on the grid with those frequencies, and exp(score) over b sums to P(a) per value.
  auto gen = make_generator(3);
  const int64_t n = 4000;
  auto a = 10.0 + 5.0 * at::multinomial(torch::tensor({0.1, 0.2, 0.3, 0.4}, torch::kFloat64), n, true, gen)
                            .to(torch::kFloat64);
  auto b = a / 5 + 0.3 * at::randn({n}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  Dataset data{torch::stack({a, b}, 1)};
  data.columns = {"a", "b"};
  data.features = {{"a", ColumnType::integer, "number", 0}, {"b", ColumnType::continuous, "number", 0}};
  FlowOptions o;
  o.architecture = "maf";
  o.hidden = 32;
  o.max_steps = 400;
  o.batch_size = 256;
  o.lr = 3e-3;
  o.dtype = "float64";
  NormalizingFlow flow(o);
  flow.fit(data, quiet());
  auto sample_gen = make_generator(4);
  auto s = flow.sample(4000, sample_gen);  // [4000, 2]
  auto sa = s.select(1, 0);
  std::vector<double> expected = {0.1, 0.2, 0.3, 0.4};
  int64_t on_grid = 0;
  for (int64_t k = 0; k < 4; ++k) {
    const auto share = sa.eq(10.0 + 5.0 * static_cast<double>(k)).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(share, expected[static_cast<size_t>(k)], 0.05) << "a = " << 10 + 5 * k;
    on_grid += sa.eq(10.0 + 5.0 * static_cast<double>(k)).sum().item<int64_t>();
  }
  EXPECT_GT(on_grid, 3900);  // a few fall into a neighbouring cell (5 or 30)
  EXPECT_TRUE(s.select(1, 1).isfinite().all().item<bool>());
  // exp(score) = p(a + (u - 1/2) 5, b) x 5 averages over the noise to the cell's mass: summed over a fine grid of b
  // it gives P(a).
  const auto bs = torch::linspace(-2, 8, 2000, torch::kFloat64);
  const double db = 10.0 / 1999;
  double total = 0;
  for (int64_t k = 0; k < 4; ++k) {
    auto rows = torch::stack({torch::full({2000}, 10.0 + 5.0 * static_cast<double>(k), torch::kFloat64), bs}, 1);
    const double mass = flow.score_samples(rows).exp().sum().item<double>() * db;
    EXPECT_NEAR(mass, expected[static_cast<size_t>(k)], 0.04) << "a = " << 10 + 5 * k;
    total += mass;
  }
  EXPECT_NEAR(total, 1.0, 0.06);
  // The grid travels with the model: a copy from its state scores and samples the same.
  NormalizingFlow copy(flow.options());
  copy.load_state(flow.state());
  EXPECT_TRUE(torch::allclose(copy.score_samples(data.x.slice(0, 0, 50)), flow.score_samples(data.x.slice(0, 0, 50))));
  auto g1 = make_generator(9), g2 = make_generator(9);
  EXPECT_TRUE(torch::equal(copy.sample(100, g1), flow.sample(100, g2)));
  // Without the column kinds (a plain tensor), or with dequantize = none, the columns stay continuous.
  o.max_steps = 20;
  o.dequantize = "none";
  NormalizingFlow plain(o);
  plain.fit(data, quiet());
  auto g3 = make_generator(4);
  EXPECT_GT(plain.sample(200, g3).select(1, 0).remainder(5.0).ne(0).sum().item<int64_t>(), 150);  // off the grid
}

TEST(Flow, GlowLearnsImagesAndReportsBitsPerDim) {
  FlowOptions o;
  o.architecture = "glow";
  o.hidden = 32;
  o.epochs = 20;
  o.batch_size = 32;
  NormalizingFlow flow(o);
  auto d = flow_two_class_images(256, 8, 3);
  auto report = flow.fit(d, quiet());
  EXPECT_TRUE(std::isfinite(report.objective));
  auto test = flow_two_class_images(128, 8, 4);
  const double bpd = flow.bits_per_dim(test.x);
  EXPECT_NEAR(bpd, -flow.score(test.x) / (64 * std::log(2.0)), 1e-9);
  // Each pixel is one of 31 values around its class level: about log2(31) + 1 bit (the class) per 64 pixels.
  EXPECT_LT(bpd, 6.0);
  EXPECT_GT(bpd, std::log2(31.0) - 0.2);  // a bound on a discrete probability cannot beat the entropy
  EXPECT_EQ(flow.capabilities().likelihood, Likelihood::lower_bound);
  EXPECT_FALSE(flow.capabilities().bits_per_dim.empty());
  // Samples are images on the 8-bit grid, and codes decode back to the image they came from.
  auto gen = make_generator(0);
  auto s = flow.sample(16, gen);
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{16, 1, 8, 8}));
  EXPECT_LT((s * 255 - torch::round(s * 255)).abs().max().item<double>(), 1e-4);
  auto back = flow.decode(flow.transform(test.x.slice(0, 0, 8)));
  EXPECT_LT((back - test.x.slice(0, 0, 8).to(torch::kFloat32)).abs().max().item<double>(), 1e-4);
  // A lower temperature draws from closer to the modes: samples vary less.
  test::TempDir dir;
  save_model(flow, dir.file("glow.gf"));
  auto cold_flow = load_model(dir.file("glow.gf"), "flow", {{"temperature", "0.3"}});
  auto g1 = make_generator(1);
  auto spread_cold = cold_flow->sample(64, g1).std(0).mean().item<double>();
  auto g2 = make_generator(1);
  auto spread_warm = flow.sample(64, g2).std(0).mean().item<double>();
  EXPECT_LT(spread_cold, spread_warm);
  // Inpainting by Langevin sampling: the bottom half of test images hidden; a left-bright image continues bright
  // on the left, a top-bright one is dark below. Kept pixels stay, filled ones lie on the 8-bit grid.
  auto chains = load_model(dir.file("glow.gf"), "flow", {{"mcmc_steps", "200"}});
  const auto& sampler = dynamic_cast<const ConditionalSampler&>(*chains);
  auto holes = test.x.slice(0, 0, 32).clone();
  holes.slice(2, 4, 8).fill_(NAN);
  auto g3 = make_generator(3);
  auto filled = sampler.conditional_sample(holes, g3);  // [32, 1, 8, 8]
  EXPECT_TRUE(torch::equal(filled.slice(2, 0, 4), holes.slice(2, 0, 4)));
  EXPECT_LT((filled * 255 - torch::round(filled * 255)).abs().max().item<double>(), 1e-4);
  auto left_kind = test.labels.slice(0, 0, 32) == 0;
  auto below = filled.slice(2, 4, 8);
  const double left_side = below.index({left_kind}).slice(3, 0, 4).mean().item<double>();
  const double right_side = below.index({left_kind}).slice(3, 4, 8).mean().item<double>();
  EXPECT_GT(left_side, right_side + 0.4);                                   // about 0.9 vs 0.08 in the data
  EXPECT_LT(below.index({~left_kind}).mean().item<double>(), 0.35);          // top kind: dark below
  // Each chain starts from the most probable of `mcmc_starts` (16) completions by the model's own samples: with two
  // steps only, the start alone fills nearly every row with its own kind; a single start, about half of them.
  auto rows_of_their_kind = [&](const std::string& starts) {
    auto quick = load_model(dir.file("glow.gf"), "flow", {{"mcmc_steps", "2"}, {"mcmc_starts", starts}});
    auto g = make_generator(5);
    auto b = dynamic_cast<const ConditionalSampler&>(*quick).conditional_sample(holes, g).slice(2, 4, 8);
    auto left_minus_right = b.slice(3, 0, 4).mean({1, 2, 3}) - b.slice(3, 4, 8).mean({1, 2, 3});  // [32]
    auto right = torch::where(left_kind, left_minus_right > 0.4, b.mean({1, 2, 3}) < 0.35);
    return right.sum().item<int64_t>();
  };
  EXPECT_GE(rows_of_their_kind("16"), 29);
  EXPECT_LE(rows_of_their_kind("1"), 25);
}

TEST(Flow, FillsMissingCellsFromTheExactConditional) {
  // A correlated Gaussian (unit variances, correlation 0.8): given a, b ~ N(0.8 a, 0.36) exactly.
  auto gen = make_generator(11);
  auto a = at::randn({3000}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  auto x = torch::stack({a, 0.8 * a + 0.6 * at::randn({3000}, gen, torch::TensorOptions().dtype(torch::kFloat64))}, 1);
  FlowOptions o;
  o.architecture = "maf";
  o.hidden = 32;
  o.max_steps = 400;
  o.batch_size = 128;
  o.lr = 3e-3;
  o.dtype = "float64";
  o.mcmc_steps = 100;
  NormalizingFlow flow(o);
  flow.fit({x}, quiet());
  auto given = torch::linspace(-1.5, 1.5, 7, torch::kFloat64);
  auto rows = torch::stack({given, torch::full({7}, NAN, torch::kFloat64)}, 1);  // [7, 2]
  auto mean = flow.conditional_mean(rows);
  EXPECT_TRUE(torch::equal(mean.select(1, 0), given));
  EXPECT_LT((mean.select(1, 1) - 0.8 * given).abs().mean().item<double>(), 0.15);
  auto g1 = make_generator(2), g2 = make_generator(2);
  auto draws = flow.conditional_samples(rows.slice(0, 2, 4), 300, g1);  // [300, 2, 2]: a = -0.5 and 0
  EXPECT_TRUE(torch::equal(draws, flow.conditional_samples(rows.slice(0, 2, 4), 300, g2)));
  for (int64_t r = 0; r < 2; ++r) {
    auto b = draws.select(1, r).select(1, 1);
    EXPECT_NEAR(b.mean().item<double>(), 0.8 * given[2 + r].item<double>(), 0.15);
    EXPECT_NEAR(b.std().item<double>(), 0.6, 0.1);  // the conditional spread, not the marginal's 1.0
  }
  EXPECT_TRUE(torch::equal(flow.conditional_sample(x.slice(0, 0, 3), g1), x.slice(0, 0, 3)));  // nothing missing
  test::expect_error_message([&] { flow.conditional_samples_given_class(rows, torch::zeros({7}, torch::kLong), 1, g1); },
                             "the model is not class-conditional");
}

TEST(Flow, DefaultFlowTrainsOnFashionMnistWithoutASkippedStep) {
  // The default flow for images (Glow) on real 8-bit images: no step skipped by the NaN/Inf guard, and a bound far
  // below the 8 bits/dim of a uniform model.
  auto train = data::scale_images(data::load_source("fashion-mnist", DataKind::images, {2048}).images.images);
  auto test = data::scale_images(data::load_source("fashion-mnist:test", DataKind::images, {500}).images.images);
  FlowOptions o;
  o.epochs = 3;
  NormalizingFlow flow(o);
  auto report = flow.fit({train}, quiet());
  EXPECT_EQ(flow.resolved_architecture(), "glow");
  EXPECT_EQ(report.extra["skipped_steps"], 0);
  EXPECT_TRUE(std::isfinite(report.objective));
  EXPECT_LT(flow.bits_per_dim(test), 6.5);
}

TEST(Flow, VariationalDequantisationAndRealNvpTrainWithoutNaN) {
  for (const char* arch : {"realnvp", "glow"}) {
    FlowOptions o;
    o.architecture = arch;
    o.dequantize = "variational";
    o.hidden = 16;
    o.epochs = 4;
    o.batch_size = 32;
    NormalizingFlow flow(o);
    auto d = flow_two_class_images(128, 8, 5);
    auto report = flow.fit(d, quiet());
    ASSERT_FALSE(report.history.empty()) << arch;
    EXPECT_TRUE(std::isfinite(report.objective)) << arch;
    auto ll = flow.score_samples(d.x);
    EXPECT_TRUE(ll.isfinite().all().item<bool>()) << arch;
    EXPECT_TRUE(torch::equal(ll, flow.score_samples(d.x))) << "scores use a fixed draw of the noise";
  }
}

TEST(Flow, ConditionalPriorDrawsTheClassAskedFor) {
  FlowOptions o;
  o.architecture = "glow";
  o.conditional = true;
  o.hidden = 32;
  o.epochs = 25;
  o.batch_size = 32;
  NormalizingFlow flow(o);
  auto d = flow_two_class_images(256, 8, 6);
  flow.fit(d, quiet());
  ASSERT_EQ(flow.n_classes(), 2);
  auto gen = make_generator(2);
  auto s0 = flow.sample_labelled(torch::zeros({64}, torch::kLong), gen);
  auto s1 = flow.sample_labelled(torch::ones({64}, torch::kLong), gen);
  auto left_minus_right = [](const torch::Tensor& s) {
    return (s.slice(3, 0, 4).mean() - s.slice(3, 4, 8).mean()).item<double>();
  };
  auto top_minus_bottom = [](const torch::Tensor& s) {
    return (s.slice(2, 0, 4).mean() - s.slice(2, 4, 8).mean()).item<double>();
  };
  EXPECT_GT(left_minus_right(s0), top_minus_bottom(s0) + 0.2);
  EXPECT_GT(top_minus_bottom(s1), left_minus_right(s1) + 0.2);
  // Scores given the right class beat the wrong one; without labels, log sum_c p(c) p(x | c) lies between the best
  // class's term (p(c) about 1/2) and its full likelihood.
  auto test = flow_two_class_images(64, 8, 7);
  auto right = flow.score_samples(test.x, test.labels), wrong = flow.score_samples(test.x, 1 - test.labels);
  EXPECT_GT((right - wrong).mean().item<double>(), 10.0);
  auto marginal = flow.score_samples(test.x);
  auto best = torch::max(right, wrong);
  EXPECT_TRUE((marginal <= best + 1e-6).all().item<bool>());
  EXPECT_TRUE((marginal >= best + std::log(0.35)).all().item<bool>());
  // Filling in given the class: only the top-left quarter kept (bright in both kinds), the class decides whether
  // the bottom-left (left kind) or the top-right (top kind) is bright. Kept pixels stay; seeded.
  auto quarter = test::keep_top_left_quarter(test.x.slice(0, 0, 8));
  auto g3 = make_generator(3), g4 = make_generator(3);
  auto as_left = flow.conditional_samples_given_class(quarter, torch::zeros({8}, torch::kLong), 2, g3);
  EXPECT_TRUE(torch::equal(as_left, flow.conditional_samples_given_class(quarter, torch::zeros({8}, torch::kLong), 2, g4)));
  auto as_top = flow.conditional_samples_given_class(quarter, torch::ones({8}, torch::kLong), 2, g3);
  ASSERT_EQ(as_left.sizes(), torch::IntArrayRef({2, 8, 1, 8, 8}));
  EXPECT_TRUE(torch::equal(as_left.slice(3, 0, 4).slice(4, 0, 4), quarter.slice(2, 0, 4).slice(3, 0, 4).unsqueeze(0).expand({2, 8, 1, 4, 4}).to(as_left.scalar_type())));
  EXPECT_GT(test::bottom_left_mean(as_left), test::top_right_mean(as_left) + 0.5);  // about 0.9 vs 0.08 in the data
  EXPECT_GT(test::top_right_mean(as_top), test::bottom_left_mean(as_top) + 0.5);
  // Without the class, from log sum_c p(c) p(x | c): the kept top half chooses -- a left-kind image continues bright
  // on the left, a top-kind one is dark below.
  auto bottom_hidden = test.x.slice(0, 0, 8).clone();
  bottom_hidden.slice(2, 4, 8).fill_(NAN);
  auto below = flow.conditional_sample(bottom_hidden, g3).slice(2, 4, 8);  // [8, 1, 4, 8]
  auto left_kind = test.labels.slice(0, 0, 8) == 0;
  ASSERT_GT(left_kind.sum().item<int64_t>(), 0);
  ASSERT_LT(left_kind.sum().item<int64_t>(), 8);
  EXPECT_GT(below.index({left_kind}).slice(3, 0, 4).mean().item<double>(),
            below.index({left_kind}).slice(3, 4, 8).mean().item<double>() + 0.4);
  EXPECT_LT(below.index({~left_kind}).mean().item<double>(), 0.35);
  EXPECT_THROW(flow.conditional_samples_given_class(quarter, torch::zeros({3}, torch::kLong), 1, g3), InvalidArgument);
  EXPECT_THROW(flow.conditional_samples_given_class(quarter, torch::full({8}, 2, torch::kLong), 1, g3), Error);
}

TEST(Flow, BadInputGetsClearErrors) {
  FlowOptions o;
  o.architecture = "glow";
  o.hidden = 8;
  o.max_steps = 2;
  NormalizingFlow flow(o);
  // Odd sides cannot be squeezed.
  auto odd = torch::rand({8, 1, 7, 7});
  try {
    flow.fit({odd}, quiet());
    ADD_FAILURE() << "glow on 7x7 images";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("glow needs image sides divisible by 2, got 1x7x7"), std::string::npos)
        << e.what();
  }
  FlowOptions deep = o;
  deep.architecture = "realnvp";
  deep.levels = 3;
  NormalizingFlow too_deep(deep);
  EXPECT_THROW(too_deep.fit({torch::rand({8, 1, 12, 12})}, quiet()), DataError);  // 12 halves twice, not 3 times
  // Rows for an image architecture.
  EXPECT_THROW(flow.fit({torch::rand({8, 5})}, quiet()), DataError);
  flow.fit(flow_two_class_images(16, 8, 1), quiet());
  // A trained model refuses other image sizes, NaN and out-of-range pixels.
  EXPECT_THROW(flow.score_samples(torch::rand({2, 1, 4, 4})), DataError);
  auto nan = torch::rand({2, 1, 8, 8});
  nan[0][0][0][0] = NAN;
  EXPECT_THROW(flow.score_samples(nan), DataError);
  EXPECT_THROW(flow.score_samples(torch::rand({2, 1, 8, 8}) + 1.5), DataError);
  // A .gf of another kind.
  test::TempDir dir;
  GmmOptions go;
  go.n_components = 1;
  GaussianMixture gmm(go);
  gmm.fit({torch::randn({20, 2}, torch::kFloat64)});
  save_model(gmm, dir.file("gmm.gf"));
  EXPECT_THROW(load_model(dir.file("gmm.gf"), "flow"), Error);
  // Option values.
  FlowOptions bad;
  bad.architecture = "nice";
  EXPECT_THROW(NormalizingFlow(bad).fit({torch::rand({8, 3})}, quiet()), InvalidArgument);
}

}  // namespace
}  // namespace gf
