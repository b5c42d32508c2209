// Class-conditional and convolutional VAEs, and latent interpolation.
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/vae.h"
#include "genforge/registry.h"
#include "support/quarters.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// Kind 0: bright left half; kind 1: bright top half (1x8x8). The two prototypes [2, 1, 8, 8], and 256 images of
// kinds drawn with `seed` (the kinds in *kinds).
torch::Tensor left_or_top() {
  auto left = torch::full({1, 8, 8}, 0.05), top = torch::full({1, 8, 8}, 0.05);
  left.slice(2, 0, 4).fill_(0.95);
  top.slice(1, 0, 4).fill_(0.95);
  return torch::stack({left, top});
}
torch::Tensor left_or_top_images(uint64_t seed, torch::Tensor* kinds) {
  auto gen = make_generator(seed);
  *kinds = at::randint(2, {256}, gen, torch::TensorOptions().dtype(torch::kLong));
  return left_or_top().index_select(0, *kinds);  // [256, 1, 8, 8]
}

TEST(Vae, ConditionalModelDrawsTheClassAskedForAndScoresTheMarginal) {
  auto gen = make_generator(1);
  torch::Tensor labels;
  auto x = left_or_top_images(1, &labels);
  VaeOptions o;
  o.conditional = true;
  o.architecture = "conv";
  o.hidden = 32;
  o.latent = 2;
  o.max_steps = 150;
  o.batch_size = 32;
  o.lr = 3e-3;
  VariationalAutoencoder vae(o);
  vae.fit({x, {}, {}, labels}, quiet());
  EXPECT_EQ(vae.n_classes(), 2);
  auto s0 = vae.sample_labelled(torch::zeros({32}, torch::kLong), gen);  // [32, 1, 8, 8]
  auto s1 = vae.sample_labelled(torch::ones({32}, torch::kLong), gen);
  auto left_minus_right = [](const torch::Tensor& s) {
    return (s.slice(3, 0, 4).mean() - s.slice(3, 4, 8).mean()).item<double>();
  };
  auto top_minus_bottom = [](const torch::Tensor& s) {
    return (s.slice(2, 0, 4).mean() - s.slice(2, 4, 8).mean()).item<double>();
  };
  EXPECT_GT(left_minus_right(s0), 0.5);
  EXPECT_LT(std::abs(top_minus_bottom(s0)), 0.2);
  EXPECT_GT(top_minus_bottom(s1), 0.5);
  // Unlabelled scores are log sum_c p(c) p(x | c): above each class's own term.
  auto probe = x.slice(0, 0, 8);
  auto marginal = vae.score_samples(probe);
  auto prior = torch::bincount(labels, {}, 2).to(torch::kFloat64) / 256.0;
  auto terms = torch::stack({vae.importance_weighted_bound(probe, 1, torch::zeros({8}, torch::kLong)) +
                                 std::log(prior[0].item<double>()),
                             vae.importance_weighted_bound(probe, 1, torch::ones({8}, torch::kLong)) +
                                 std::log(prior[1].item<double>())});  // [2, 8]
  EXPECT_TRUE(test::all_close(marginal, torch::logsumexp(terms, 0), 1e-6, 1e-6));
  EXPECT_THROW(vae.sample_labelled(torch::tensor({2}), gen), InvalidArgument);  // class index out of range
  EXPECT_THROW(vae.fit({x}, quiet()), DataError);                                // conditional needs labels
}

TEST(Vae, ConditionalCodesComeFromEachClasssFittedAggregatePosterior) {
  // code_prior=class: after fit, each class's code distribution is the Gaussian moment-matched to its training
  // codes (mean of the posterior means; their covariance plus the mean posterior variance on the diagonal), and
  // sample_labelled decodes mean_c + T chol_c eps.
  torch::Tensor labels;
  auto x = left_or_top_images(3, &labels);
  VaeOptions o;
  o.conditional = true;
  o.hidden = 32;
  o.latent = 3;
  o.max_steps = 100;
  o.batch_size = 32;
  o.lr = 3e-3;
  o.temperature = 0.5;
  VariationalAutoencoder vae(o);
  vae.fit({x, {}, {}, labels}, quiet());
  const auto t = vae.state();
  auto mu = vae.transform(x, labels).to(torch::kFloat64);  // [256, 3]
  for (int64_t k = 0; k < 2; ++k) {
    auto m = mu.index_select(0, (labels == k).nonzero().reshape({-1}));
    auto mean = m.mean(0);
    EXPECT_TRUE(test::all_close(t.at("class_code_mean")[k].to(torch::kFloat64), mean, 1e-5, 1e-5)) << k;
    auto chol = t.at("class_code_chol")[k].to(torch::kFloat64);
    auto cov = chol.mm(chol.t());
    auto centred = m - mean;
    auto extra = cov - centred.t().mm(centred) / static_cast<double>(m.size(0) - 1);  // the mean posterior variance
    EXPECT_LT((extra - torch::diag(extra.diagonal())).abs().max().item<double>(), 1e-5) << k;
    EXPECT_GT(extra.diagonal().min().item<double>(), 0.0) << k;
  }
  auto want = torch::tensor({0, 1, 1, 0, 1}, torch::kLong);
  auto g1 = make_generator(9), g2 = make_generator(9);
  auto drawn = vae.sample_labelled(want, g1);
  auto eps = 0.5 * at::randn({5, 3}, g2, torch::TensorOptions().dtype(torch::kFloat32));
  auto z = t.at("class_code_mean").index_select(0, want) +
           torch::bmm(t.at("class_code_chol").index_select(0, want), eps.unsqueeze(2)).squeeze(2);
  EXPECT_TRUE(test::all_close(drawn, vae.decode(z, want), 1e-6, 1e-6));
  // A file written before the class prior has no such tensors: its classes sample N(0, T^2 I) codes, as before.
  auto old_state = t;
  old_state.erase("class_code_mean");
  old_state.erase("class_code_chol");
  VariationalAutoencoder old(o);
  old.load_state(old_state);
  auto g3 = make_generator(9), g4 = make_generator(9);
  auto standard = vae.decode(0.5 * at::randn({5, 3}, g4, torch::TensorOptions().dtype(torch::kFloat32)), want);
  EXPECT_TRUE(test::all_close(old.sample_labelled(want, g3), standard, 1e-6, 1e-6));
}

TEST(Vae, FillsHiddenPixelsByImportanceResampling) {
  // Two kinds of 8x8 images: a bright left half, or a bright top half. With the bottom half hidden, the kept top
  // half says which: the left kind continues down the left side, the top kind is dark below.
  torch::Tensor kinds;
  auto x = left_or_top_images(2, &kinds);
  VaeOptions o;
  o.hidden = 64;
  o.latent = 2;
  o.max_steps = 300;
  o.batch_size = 32;
  o.lr = 3e-3;
  VariationalAutoencoder vae(o);
  vae.fit({x}, quiet());
  auto holes = left_or_top();  // [2, 1, 8, 8]
  holes.slice(2, 4, 8).fill_(NAN);
  auto mean = vae.conditional_mean(holes);
  ASSERT_EQ(mean.sizes(), holes.sizes());
  EXPECT_FALSE(torch::isnan(mean).any().item<bool>());
  EXPECT_TRUE(torch::equal(mean.slice(2, 0, 4), holes.slice(2, 0, 4)));  // kept pixels unchanged
  auto below = mean.slice(2, 4, 8);
  EXPECT_GT(below[0].slice(2, 0, 4).mean().item<double>(), 0.7);  // left kind: bright bottom-left
  EXPECT_LT(below[0].slice(2, 4, 8).mean().item<double>(), 0.3);
  EXPECT_LT(below[1].mean().item<double>(), 0.3);                  // top kind: dark bottom
  // With every pixel hidden, draws come from the whole model: both kinds among 64, and seeded.
  auto blank = torch::full({1, 1, 8, 8}, NAN);
  auto g1 = make_generator(5), g2 = make_generator(5);
  auto draws = vae.conditional_samples(blank, 64, g1);  // [64, 1, 1, 8, 8]
  ASSERT_EQ(draws.sizes(), torch::IntArrayRef({64, 1, 1, 8, 8}));
  EXPECT_TRUE(torch::equal(draws, vae.conditional_samples(blank, 64, g2)));
  auto left_kind = (draws.slice(4, 0, 4).mean({1, 2, 3, 4}) > draws.slice(4, 4, 8).mean({1, 2, 3, 4}) + 0.3);
  auto top_kind = (draws.slice(3, 0, 4).mean({1, 2, 3, 4}) > draws.slice(3, 4, 8).mean({1, 2, 3, 4}) + 0.3);
  EXPECT_GT(left_kind.sum().item<int64_t>(), 8);
  EXPECT_GT(top_kind.sum().item<int64_t>(), 8);
  EXPECT_TRUE(torch::equal(vae.conditional_sample(x.slice(0, 0, 3), g1), x.slice(0, 0, 3)));  // nothing hidden
  // A class-conditional model: the class is one more latent variable, chosen by the kept pixels.
  VaeOptions c = o;
  c.conditional = true;
  VariationalAutoencoder conditional(c);
  conditional.fit({x, {}, {}, kinds}, quiet());
  auto filled = conditional.conditional_mean(holes).slice(2, 4, 8);
  EXPECT_GT(filled[0].slice(2, 0, 4).mean().item<double>(), 0.7);
  EXPECT_LT(filled[0].slice(2, 4, 8).mean().item<double>(), 0.3);
  EXPECT_LT(filled[1].mean().item<double>(), 0.3);
  auto g3 = make_generator(6);
  auto from_nothing = conditional.conditional_samples(blank, 64, g3);
  auto left_c = (from_nothing.slice(4, 0, 4).mean({1, 2, 3, 4}) > from_nothing.slice(4, 4, 8).mean({1, 2, 3, 4}) + 0.3);
  auto top_c = (from_nothing.slice(3, 0, 4).mean({1, 2, 3, 4}) > from_nothing.slice(3, 4, 8).mean({1, 2, 3, 4}) + 0.3);
  EXPECT_GT(left_c.sum().item<int64_t>(), 8);
  EXPECT_GT(top_c.sum().item<int64_t>(), 8);
  // Given the class: only the top-left quarter kept (bright in both kinds), the class decides whether the
  // bottom-left (left kind) or the top-right (top kind) is bright; an unconditional VAE takes no class.
  auto quarter = test::keep_top_left_quarter(left_or_top());
  auto as_left = conditional.conditional_samples_given_class(quarter, torch::zeros({2}, torch::kLong), 16, g3);
  auto as_top = conditional.conditional_samples_given_class(quarter, torch::ones({2}, torch::kLong), 16, g3);
  ASSERT_EQ(as_left.sizes(), torch::IntArrayRef({16, 2, 1, 8, 8}));
  EXPECT_GT(test::bottom_left_mean(as_left), test::top_right_mean(as_left) + 0.5);
  EXPECT_GT(test::top_right_mean(as_top), test::bottom_left_mean(as_top) + 0.5);
  test::expect_error_message([&] { vae.conditional_samples_given_class(quarter, torch::zeros({2}, torch::kLong), 1, g3); },
                             "the model is not class-conditional");
}

// Semi-supervised (M2): one labelled image per kind among 256 noisy ones. With the classifier's cross-entropy
// weighted 0, q(y | x) learns only from the unlabelled cost sum_y q(y|x) (L(x, y) - log p(y) + log q(y|x)): the
// two labelled images tell the decoder which class looks like which, and the unlabelled ones then pull q towards the
// class whose decoder explains them. Accuracy on fresh images, the class codes fitted on the classifier's guesses,
// sampling by class, exact resume and the file round trip.
TEST(Vae, SemiSupervisedLearnsTheClassesFromUnlabelledImages) {
  auto noisy = [](uint64_t seed, torch::Tensor* kinds) {
    auto gen = make_generator(seed + 100);
    auto x = left_or_top_images(seed, kinds);
    return (x + 0.1 * at::randn(x.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32))).clamp(0, 1);
  };
  torch::Tensor kinds, fresh_kinds;
  auto x = noisy(5, &kinds);
  auto fresh = noisy(6, &fresh_kinds);
  auto labels = torch::full({256}, -1, torch::kLong);
  const int64_t first0 = (kinds == 0).nonzero()[0][0].item<int64_t>(), first1 = (kinds == 1).nonzero()[0][0].item<int64_t>();
  labels[first0] = 0;
  labels[first1] = 1;
  const OptionOverrides recipe{{"conditional", "true"}, {"semi_supervised", "true"}, {"classifier_weight", "0"},
                               {"hidden", "32"}, {"latent", "2"}, {"batch_size", "32"}, {"lr", "3e-3"}};
  auto fitted = [&](const OptionOverrides& more) {
    OptionOverrides sets = recipe;
    sets.insert(sets.end(), more.begin(), more.end());
    auto m = create_model("vae", {}, sets);
    m->fit({x, {}, {}, labels}, quiet());
    return m;
  };
  auto model = fitted({{"max_steps", "300"}});
  const auto& vae = dynamic_cast<const VariationalAutoencoder&>(*model);
  auto q = vae.predict_proba(fresh);  // [256, 2]
  EXPECT_NEAR(q.sum(1).mean().item<double>(), 1.0, 1e-6);
  const double accuracy = (q.argmax(1) == fresh_kinds).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(accuracy, 0.95);
  // One labelled image per class is too few for a code Gaussian; the classifier's guesses make 128-odd each.
  const auto t = vae.state();
  EXPECT_GT(t.at("class_code_mean").abs().sum(1).min().item<double>(), 0.0);
  auto gen = make_generator(4);
  auto s0 = vae.sample_labelled(torch::zeros({32}, torch::kLong), gen);
  auto s1 = vae.sample_labelled(torch::ones({32}, torch::kLong), gen);
  EXPECT_GT((s0.slice(3, 0, 4).mean() - s0.slice(3, 4, 8).mean()).item<double>(), 0.5);
  EXPECT_GT((s1.slice(2, 0, 4).mean() - s1.slice(2, 4, 8).mean()).item<double>(), 0.5);
  // The file keeps the classifier.
  VariationalAutoencoder loaded(vae.options());
  loaded.load_state(t);
  EXPECT_TRUE(torch::equal(loaded.predict_proba(fresh), q));
  // The convolutional trunk, with validation images partly unlabelled.
  {
    VaeOptions c = vae.options();
    c.architecture = "conv";
    c.max_steps = 20;
    c.validate_every = 10;
    VariationalAutoencoder conv(c);
    Dataset validation{fresh, {}, {}, torch::where(torch::arange(256) < 128, fresh_kinds, torch::full({256}, -1L))};
    FitContext ctx = quiet();
    ctx.validation = &validation;
    const auto report = conv.fit({x, {}, {}, labels}, ctx);
    EXPECT_TRUE(std::isfinite(report.extra.value("best_validation_loss", NAN))) << report.extra.dump();
    EXPECT_EQ(conv.predict_proba(fresh).sizes(), torch::IntArrayRef({256, 2}));
  }
  // A resumed run equals a straight one (the labelled batches come from the checkpointed generator).
  test::TempDir dir;
  auto straight = fitted({{"max_steps", "20"}, {"run_dir", dir.file("a")}, {"checkpoint_every", "10"}});
  fitted({{"max_steps", "10"}, {"run_dir", dir.file("b")}});
  auto resumed = fitted({{"max_steps", "20"}, {"run_dir", dir.file("b")}, {"resume", "true"}});
  for (const auto& [name, tensor] : straight->state()) {
    EXPECT_TRUE(torch::equal(tensor, resumed->state().at(name))) << name;
  }
}

TEST(Vae, SemiSupervisedBadInputIsRefusedWithTheReason) {
  torch::Tensor kinds;
  auto x = left_or_top_images(7, &kinds);
  auto unlabelled = torch::full({256}, -1, torch::kLong);
  test::expect_error_message([&] { create_model("vae", {}, {{"semi_supervised", "true"}})->fit({x, {}, {}, kinds}, quiet()); },
                            "semi_supervised needs conditional=true (the decoder is given the class), got conditional=false");
  test::expect_error_message(
      [&] { create_model("vae", {}, {{"conditional", "true"}, {"max_steps", "1"}})->fit({x, {}, {}, unlabelled}, quiet()); },
      "class label -1 is negative");
  auto semi = [&](const torch::Tensor& labels) {
    create_model("vae", {}, {{"conditional", "true"}, {"semi_supervised", "true"}, {"max_steps", "1"}})
        ->fit({x, {}, {}, labels}, quiet());
  };
  test::expect_error_message([&] { semi(unlabelled); },
                                "every example is unlabelled (-1): semi-supervised VAE needs some labels");
  auto only_class_2 = unlabelled.clone();
  only_class_2[0] = 2;
  test::expect_error_message([&] { semi(only_class_2); },
                                "class 0 has no labelled example (classes are 0 to 2)");
  auto minus_two = kinds.clone();
  minus_two[3] = -2;
  test::expect_error_message([&] { semi(minus_two); }, "class label -2 is neither a class nor -1 (unlabelled)");
  VaeOptions plain;
  VariationalAutoencoder vae(plain);
  vae.fit({x.slice(0, 0, 8)}, quiet());
  test::expect_error_message([&] { vae.predict_proba(x); }, "this VAE has no classifier q(y|x)");
}

TEST(Latent, SlerpKeepsTheRadiusAndHitsTheEnds) {
  auto a = torch::tensor({3.0f, 0.0f}), b = torch::tensor({0.0f, 3.0f});
  EXPECT_TRUE(test::all_close(slerp(a, b, 0), a, 0, 1e-6));
  EXPECT_TRUE(test::all_close(slerp(a, b, 1), b, 0, 1e-6));
  auto mid = slerp(a, b, 0.5);
  EXPECT_NEAR(mid.norm().item<double>(), 3.0, 1e-5);  // a straight line would pass at radius 2.12
  EXPECT_NEAR(mid[0].item<double>(), mid[1].item<double>(), 1e-6);
}

}  // namespace
}  // namespace gf
