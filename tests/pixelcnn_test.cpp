// Gated PixelCNN: causality (no pixel sees itself or what follows it), cached sampling equal to the naive loop,
// exact likelihoods that normalise, completion of the bottom rows, class-conditional sampling and bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/pixelcnn.h"
#include "genforge/registry.h"
#include "support/quarters.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// Binary images of two classes: the left half on (class 0) or the top half on (class 1), with 5 % flipped pixels.
Dataset binary_halves(int64_t n, int64_t side, uint64_t seed) {
  auto gen = make_generator(seed);
  auto labels = at::randint(2, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto left = torch::zeros({1, side, side}), top = torch::zeros({1, side, side});
  left.slice(2, 0, side / 2).fill_(1);
  top.slice(1, 0, side / 2).fill_(1);
  auto x = torch::stack({left, top}).index_select(0, labels);
  auto flip = (at::rand({n, 1, side, side}, gen) < 0.05).to(torch::kFloat32);
  return {(x - flip).abs(), {}, {}, labels};
}

// Images [N, 1, H, W] with the top half hidden: only the bottom half (bright on the left, or dark) shows the kind.
torch::Tensor hide_top_half(const torch::Tensor& x) {
  auto out = x.clone();
  out.slice(2, 0, x.size(2) / 2).fill_(NAN);
  return out;
}

// The share of filled images whose top-right quarter is bright exactly when they are of the top kind (label 1).
double kind_agreement(const torch::Tensor& filled, const torch::Tensor& labels) {
  const int64_t h = filled.size(2), w = filled.size(3);
  auto bright = filled.slice(2, 0, h / 2).slice(3, w / 2, w).mean({1, 2, 3}) > 0.5;
  return (bright == (labels == 1)).to(torch::kFloat64).mean().item<double>();
}

// A network and schedule that learn binary_halves (the tests of sampling, completion and classes).
PixelCnnOptions learning_on_binary_halves(bool conditional) {
  PixelCnnOptions o;
  o.layers = 3;
  o.hidden = 16;
  o.first_kernel = 5;
  o.epochs = 30;
  o.batch_size = 32;
  o.lr = 3e-3;
  o.conditional = conditional;
  return o;
}

PixelCnnOptions small(const std::string& output) {
  PixelCnnOptions o;
  o.output = output;
  o.layers = 2;
  o.hidden = 8;
  o.max_steps = 3;
  o.batch_size = 16;
  return o;
}

TEST(PixelCnn, OutputAtAPixelDependsOnlyOnPixelsBeforeIt) {
  for (const char* output : {"bernoulli", "softmax", "logistic_mixture"}) {
    auto o = small(output);
    o.n_bins = 4;
    o.mixtures = 2;
    PixelCnn model(o);
    auto d = binary_halves(16, 8, 1);
    if (std::string(output) != "bernoulli") d.x = torch::round(d.x * 3 * at::rand({16, 1, 8, 8})) / 3;
    model.fit(d, quiet());
    for (int64_t r : {0, 3, 7}) {
      for (int64_t c : {0, 4, 7}) {
        auto x = torch::rand({1, 1, 8, 8}).requires_grad_(true);
        auto out = model.output_logits(x);  // [1, P, 8, 8]
        out.select(3, c).select(2, r).sum().backward();
        auto g = x.grad().reshape({-1}).abs();
        const int64_t pos = r * 8 + c;
        EXPECT_EQ(g.slice(0, pos).max().item<double>(), 0.0) << output << " at " << r << "," << c;
        if (pos > 0) { EXPECT_GT(g.slice(0, 0, pos).max().item<double>(), 0.0) << output << " at " << r << "," << c; }
      }
    }
  }
}

TEST(PixelCnn, CachedSamplingEqualsTheNaiveLoop) {
  for (const char* output : {"bernoulli", "softmax", "logistic_mixture"}) {
    auto o = small(output);
    o.n_bins = 8;
    o.mixtures = 2;
    o.max_steps = 20;
    PixelCnn fast(o);
    auto d = binary_halves(64, 8, 2);
    if (std::string(output) != "bernoulli") d.x = torch::round(d.x * 7 * at::rand({64, 1, 8, 8})) / 7;
    fast.fit(d, quiet());
    test::TempDir dir;
    save_model(fast, dir.file("m.gf"));
    auto naive = load_model(dir.file("m.gf"), "pixelcnn", {{"fast_sampling", "false"}});
    auto g1 = make_generator(11), g2 = make_generator(11);
    auto a = fast.sample(6, g1), b = naive->sample(6, g2);
    EXPECT_TRUE(torch::equal(a, b)) << output;
    // Completion of the bottom half given the top half: both paths again, and the top half is kept.
    auto given = d.x.slice(0, 0, 4).clone().to(torch::kFloat32);
    given.slice(2, 4, 8).fill_(NAN);
    auto g3 = make_generator(5), g4 = make_generator(5);
    auto ca = fast.conditional_sample(given, g3);
    auto cb = dynamic_cast<const ConditionalSampler&>(*naive).conditional_sample(given, g4);
    EXPECT_TRUE(torch::equal(ca, cb)) << output;
    EXPECT_TRUE(torch::equal(ca.slice(2, 0, 4), given.slice(2, 0, 4))) << output;
    EXPECT_FALSE(ca.isnan().any().item<bool>());
  }
}

TEST(PixelCnn, LikelihoodsOfAllImagesSumToOne) {
  // 2x2 images with 3 levels: all 81 images enumerated.
  for (const char* output : {"softmax", "logistic_mixture"}) {
    PixelCnnOptions o = small(output);
    o.n_bins = 3;
    o.mixtures = 2;
    o.first_kernel = 3;
    o.max_steps = 10;
    PixelCnn model(o);
    auto gen = make_generator(3);
    model.fit({torch::round(at::rand({32, 1, 2, 2}, gen) * 2) / 2}, quiet());
    auto all = torch::zeros({81, 1, 2, 2});
    for (int64_t i = 0; i < 81; ++i) {
      int64_t v = i;
      for (int64_t p = 0; p < 4; ++p, v /= 3) all[i][0][p / 2][p % 2] = static_cast<double>(v % 3) / 2;
    }
    EXPECT_NEAR(model.score_samples(all).exp().sum().item<double>(), 1.0, 1e-4) << output;
  }
}

TEST(PixelCnn, LearnsBinaryImagesAndTheClassAskedFor) {
  PixelCnn model(learning_on_binary_halves(/*conditional=*/true));
  auto d = binary_halves(256, 8, 4);
  model.fit(d, quiet());
  EXPECT_EQ(model.resolved_output(), "bernoulli");
  auto test = binary_halves(128, 8, 5);
  // 5 % flips cost 64 * H(0.05) = 12.7 nats per image at best (plus the class); a model that learned nothing pays
  // 64 log 2 = 44.4.
  const double nll = -model.score(test.x);
  EXPECT_LT(nll, 20.0);
  EXPECT_GT(nll, 12.0);
  auto gen = make_generator(0);
  auto s0 = model.sample_labelled(torch::zeros({32}, torch::kLong), gen);
  auto s1 = model.sample_labelled(torch::ones({32}, torch::kLong), gen);
  auto lr = [](const torch::Tensor& s) { return (s.slice(3, 0, 4).mean() - s.slice(3, 4, 8).mean()).item<double>(); };
  auto tb = [](const torch::Tensor& s) { return (s.slice(2, 0, 4).mean() - s.slice(2, 4, 8).mean()).item<double>(); };
  EXPECT_GT(lr(s0), 0.6);
  EXPECT_LT(std::abs(tb(s0)), 0.3);
  EXPECT_GT(tb(s1), 0.6);
  EXPECT_LT(std::abs(lr(s1)), 0.3);
  // Completion given the class: only the top-left quarter kept (on in both kinds); the class decides whether the
  // bottom-left (left kind) or the top-right (top kind) is on. Without the class the model refuses, naming the way.
  auto quarter = test::keep_top_left_quarter(test.x.slice(0, 0, 16).to(torch::kFloat64));
  auto as_left = model.conditional_samples_given_class(quarter, torch::zeros({16}, torch::kLong), 2, gen);
  auto as_top = model.conditional_samples_given_class(quarter, torch::ones({16}, torch::kLong), 2, gen);
  ASSERT_EQ(as_left.sizes(), torch::IntArrayRef({2, 16, 1, 8, 8}));
  EXPECT_GT(test::bottom_left_mean(as_left), test::top_right_mean(as_left) + 0.6);
  EXPECT_GT(test::top_right_mean(as_top), test::bottom_left_mean(as_top) + 0.6);
  EXPECT_TRUE(torch::equal(as_top.slice(3, 0, 4).slice(4, 0, 4).to(torch::kFloat64),
                           quarter.slice(2, 0, 4).slice(3, 0, 4).unsqueeze(0).expand({2, 16, 1, 4, 4})));
  // Without the class the completion infers it from the pixels shown: with the top half hidden, from the bottom half
  // (which the raster order reaches only after the gap); with the top-left quarter alone, bright in both kinds,
  // either kind, each one whole.
  auto labels = test.labels.slice(0, 0, 64);
  EXPECT_GT(kind_agreement(model.conditional_sample(hide_top_half(test.x.slice(0, 0, 64)), gen), labels), 0.95);
  auto either = model.conditional_sample(test::keep_top_left_quarter(test.x.slice(0, 0, 64)), gen);
  auto bottom_left = either.slice(2, 4, 8).slice(3, 0, 4).mean({1, 2, 3}) > 0.5;
  auto top_right = either.slice(2, 0, 4).slice(3, 4, 8).mean({1, 2, 3}) > 0.5;
  EXPECT_GE((bottom_left != top_right).sum().item<int64_t>(), 60);
  const double left_share = bottom_left.to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(left_share, 0.25);
  EXPECT_LT(left_share, 0.75);
}

TEST(PixelCnn, FillingInResamplesCompletionsByThePixelsAfterTheGap) {
  auto o = learning_on_binary_halves(/*conditional=*/false);
  PixelCnn model(o);
  model.fit({binary_halves(256, 8, 4).x}, quiet());
  test::TempDir dir;
  save_model(model, dir.file("p.gf"));
  auto resampling = load_model(dir.file("p.gf"), "pixelcnn", {{"fill_particles", "16"}});
  // The top half hidden: the raster-order draw fills the top-right quarter before it reaches the bottom half, which
  // alone tells the kind, so it guesses; 16 completions weighted by the bottom half's probability pick the right one.
  auto test = binary_halves(64, 8, 7);
  auto hidden = hide_top_half(test.x);
  auto gen = make_generator(1);
  const double plain = kind_agreement(model.conditional_sample(hidden, gen), test.labels);
  auto filled = dynamic_cast<const ConditionalSampler&>(*resampling).conditional_sample(hidden, gen);
  EXPECT_LT(plain, 0.8);
  EXPECT_GT(kind_agreement(filled, test.labels), 0.95) << "plain raster-order draws: " << plain;
  EXPECT_TRUE(torch::equal(filled.slice(2, 4, 8).to(torch::kFloat32), test.x.slice(2, 4, 8)));
  PixelCnnOptions bad = o;
  bad.fill_particles = 0;
  test::expect_error_message([&] { PixelCnn(bad).fit(binary_halves(8, 8, 1), quiet()); },
                             "fill_particles must be at least 1, got 0");
}

TEST(PixelCnn, BadInputGetsClearErrors) {
  PixelCnn model(small("bernoulli"));
  try {
    model.fit({torch::rand({8, 1, 8, 8})}, quiet());
    ADD_FAILURE() << "bernoulli output on grey images";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("are not all 0 or 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.fit({torch::rand({8, 5})}, quiet()), DataError);  // rows, not images
  model.fit(binary_halves(16, 8, 1), quiet());
  EXPECT_THROW(model.score_samples(torch::zeros({2, 1, 6, 6})), DataError);  // another size
  auto nan = binary_halves(2, 8, 2).x;
  nan[0][0][0][0] = NAN;
  EXPECT_THROW(model.score_samples(nan), DataError);
  PixelCnnOptions bad;
  bad.first_kernel = 4;
  EXPECT_THROW(PixelCnn(bad).fit(binary_halves(8, 8, 1), quiet()), InvalidArgument);
  test::TempDir dir;
  save_model(model, dir.file("p.gf"));
  EXPECT_THROW(load_model(dir.file("p.gf"), "flow"), Error);
}

}  // namespace
}  // namespace gf
