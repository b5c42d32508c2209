// Rectified Gaussian ("relu") hidden units of the RBM: the unit's log partition, mean and draws against numerical
// integration; exact log Z against a sum taken the other way round (over visible states vs. integrating the hidden
// units); AIS and the pseudo-likelihood against exact values; the CD gradient; recovery of a planted machine; the
// model file and the refusals.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/special.h>

#include "ebm/boltzmann.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/rbm.h"
#include "genforge/registry.h"
#include "stats/truncated_normal.h"
#include "support/support.h"

namespace gf {
namespace {

using test::all_close;
using test::quiet;

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

ebm::Rbm relu_rbm(const torch::Tensor& W, const torch::Tensor& b, const torch::Tensor& c) {
  ebm::Rbm r{ebm::Visible::bernoulli, W, b, c, {}};
  r.hidden = ebm::Hidden::relu;
  return r;
}

// Every state of n binary units. [2^n, n]
torch::Tensor relu_all_states(int64_t n) {
  auto s = torch::zeros({int64_t{1} << n, n}, kF64);
  for (int64_t k = 0; k < (int64_t{1} << n); ++k) {
    for (int64_t i = 0; i < n; ++i) s[k][i] = static_cast<double>((k >> i) & 1);
  }
  return s;
}

TEST(RbmRelu, TheUnitsLogPartitionMeanAndDrawsMatchNumericalIntegration) {
  auto h = torch::linspace(0, 60, 600001, kF64);  // step 1e-4
  const double step = 1e-4;
  for (double a : {-8.0, -2.5, 0.0, 1.0, 4.0}) {
    auto log_density = -0.5 * h.pow(2) + a * h;  // [G]
    log_density[0] = log_density[0].item<double>() + std::log(0.5);  // trapezoid rule: half weight at h = 0
    const double log_z = torch::logsumexp(log_density, 0).item<double>() + std::log(step);
    auto w = torch::softmax(log_density, 0);
    const double mean = (w * h).sum().item<double>(), var = (w * h.pow(2)).sum().item<double>() - mean * mean;
    auto input = torch::full({1}, a, kF64);
    EXPECT_NEAR(ebm::hidden_log_partition(ebm::Hidden::relu, input).item<double>(), log_z, 1e-6) << a;
    EXPECT_NEAR(ebm::hidden_mean(ebm::Hidden::relu, input).item<double>(), mean, 1e-4 * std::max(1.0, mean)) << a;
    auto gen = make_generator(static_cast<uint64_t>(a * 10 + 100));
    auto draws = ebm::sample_hidden(ebm::Hidden::relu, torch::full({200000}, a, kF64), gen);
    EXPECT_GE(draws.min().item<double>(), 0.0);
    EXPECT_NEAR(draws.mean().item<double>(), mean, 4 * std::sqrt(var / 200000)) << a;
    EXPECT_NEAR(draws.var().item<double>(), var, 0.02 * var) << a;
  }
  // The mean is a smooth rectifier: about -1/a far below zero, about a far above; draws stay finite in float32.
  auto far = torch::tensor({-40.0, 40.0}, kF64);
  auto m = ebm::hidden_mean(ebm::Hidden::relu, far);
  EXPECT_NEAR(m[0].item<double>(), 1.0 / 40, 1e-4);
  EXPECT_NEAR(m[1].item<double>(), 40.0, 1e-9);
  auto gen = make_generator(1);
  auto d = ebm::sample_hidden(ebm::Hidden::relu, torch::tensor({-200.f, -30.f, 0.f, 30.f, 200.f}), gen);
  EXPECT_TRUE(d.isfinite().all().item<bool>());
  EXPECT_GE(d.min().item<double>(), 0.0);
  EXPECT_EQ(d.scalar_type(), torch::kFloat32);
}

TEST(RbmRelu, TheInverseNormalCdfHoldsFarIntoTheTail) {
  // LibTorch 1.13's ndtri is off by 2e-3 at z = -8 and gives -inf below -8.5; the truncated draws need the tail.
  auto z = torch::tensor({-300.0, -40.0, -8.5, -8.0, -3.0, -1.0, 0.0, 1.5}, kF64);
  EXPECT_TRUE(all_close(stats::ndtri_of_log(torch::special::log_ndtr(z)), z, 1e-9, 1e-9));
  // A normal truncated to an interval far out in the lower tail: draws inside it, with the mean of numerical
  // integration.
  auto gen = make_generator(26);
  auto mean = torch::zeros({100000}, kF64);
  auto draws = stats::truncated_normal(mean, torch::ones({}, kF64), torch::full({}, -31.0, kF64),
                                       torch::full({}, -30.0, kF64), gen);
  EXPECT_GE(draws.min().item<double>(), -31.0);
  EXPECT_LE(draws.max().item<double>(), -30.0);
  // Density there ~ exp(-z^2 / 2): mean -30 - 1/30 to within the sampling error (sd about 1/30).
  EXPECT_NEAR(draws.mean().item<double>(), -30.0 - 1.0 / 30.0, 1e-3);
}

TEST(RbmRelu, ExactLogZSumsVisibleStatesAndAgreesWithIntegratingTheHiddenUnits) {
  // 5 visible x 2 hidden: log Z over visible states (the code) against a 2-D integral over the hidden units of
  // exp(c.h - |h|^2 / 2) prod_i (1 + exp(b_i + (W^T h)_i)) (the other order).
  auto gen = make_generator(21);
  auto r = relu_rbm(at::randn({2, 5}, gen, kF64) * 0.6, at::randn({5}, gen, kF64) * 0.5,
                    at::randn({2}, gen, kF64) * 0.5);
  EXPECT_EQ(ebm::enumerated_units(r), 5);
  EXPECT_EQ(ebm::log_partition_method("auto", r), "exact");
  const double step = 0.01;
  auto g = torch::arange(0.0, 14.0, step, kF64);  // [G]
  auto h = torch::stack(torch::meshgrid({g, g}, "ij"), -1).reshape({-1, 2});  // [G^2, 2]
  auto log_p = torch::mv(h, r.c) - 0.5 * h.pow(2).sum(1) + torch::softplus(torch::addmm(r.b, h, r.W)).sum(1);
  // Trapezoid weights: half on the h = 0 edges.
  auto edge = (h == 0).to(torch::kFloat64);
  auto log_w = (edge * std::log(0.5)).sum(1);
  const double numeric = torch::logsumexp(log_p + log_w, 0).item<double>() + 2 * std::log(step);
  EXPECT_NEAR(ebm::exact_log_z(r), numeric, 2e-4);
  // Probabilities of all visible states sum to one through the model.
  RbmOptions o;
  o.hidden_units = "relu";
  o.n_components = 2;
  o.dtype = "float64";
  TensorMap t{{"W", r.W}, {"b", r.b}, {"c", r.c}, {"base_visible", torch::zeros({5}, kF64)},
              {"chain", torch::zeros({1, 2}, kF64)}, {"meta/shape", torch::tensor({int64_t{5}})},
              {"meta/n_classes", torch::tensor({int64_t{0}})}};
  RestrictedBoltzmannMachine m(o);
  m.load_state(t);
  EXPECT_NEAR(torch::logsumexp(m.score_samples(relu_all_states(5)), 0).item<double>(), 0.0, 1e-9);
  EXPECT_EQ(m.score_estimator().name, "exact");
  // Softmax groups cannot be enumerated under rectified units: exact is refused with a hint, auto picks AIS.
  auto grouped = r;
  grouped.groups = {torch::tensor({0, 1, 2})};
  EXPECT_EQ(ebm::log_partition_method("auto", grouped), "ais");
  EXPECT_THROW(ebm::exact_log_z(grouped), InvalidArgument);
}

TEST(RbmRelu, AisAndThePseudoLikelihoodAgreeWithExactValues) {
  auto gen = make_generator(22);
  auto r = relu_rbm(at::randn({20, 14}, gen, kF64) * 0.25, at::randn({14}, gen, kF64) * 0.5,
                    at::randn({20}, gen, kF64) * 0.3 - 0.5);
  const double exact = ebm::exact_log_z(r);
  const auto e = ebm::ais_log_z(r, torch::zeros({14}, kF64), {100, 3000}, gen);
  EXPECT_LT(std::abs(e.log_z - exact), std::max(3 * e.standard_error, 0.05)) << e.log_z << " vs " << exact;
  EXPECT_GT(e.effective_runs, 10);
  // Pseudo-likelihood: sum_i log sigmoid(F(v with bit i flipped) - F(v)), from the free energy directly.
  auto v = (at::rand({6, 14}, gen, kF64) < 0.4).to(torch::kFloat64);
  auto f0 = r.free_energy(v);
  auto expected = torch::zeros({6}, kF64);
  for (int64_t i = 0; i < 14; ++i) {
    auto flipped = v.clone();
    flipped.select(1, i).copy_(1 - v.select(1, i));
    expected += torch::log_sigmoid(r.free_energy(flipped) - f0);
  }
  EXPECT_TRUE(all_close(ebm::pseudo_log_likelihood(r, v), expected, 1e-10, 1e-10));
}

TEST(RbmRelu, TheLossGradientIsTheContrastiveDivergenceUpdate) {
  // dW = <E[h | v] v^T>_data - <E[h | v] v^T>_chains: the training loss (expected-energy gap) and the free-energy
  // gap both have minus that gradient; that the second does checks E[h | v] against the derivative of the unit's
  // log partition.
  auto gen = make_generator(23);
  auto pos = (at::rand({5, 7}, gen, kF64) < 0.5).to(torch::kFloat64);
  auto neg = (at::rand({3, 7}, gen, kF64) < 0.5).to(torch::kFloat64);
  auto W0 = at::randn({4, 7}, gen, kF64), b0 = at::randn({7}, gen, kF64), c0 = at::randn({4}, gen, kF64);
  auto mean_h = [&](const torch::Tensor& v) {
    return ebm::hidden_mean(ebm::Hidden::relu, torch::addmm(c0, v, W0.t()));
  };
  auto hp = mean_h(pos), hn = mean_h(neg);
  auto dW = -(hp.t().mm(pos) / 5 - hn.t().mm(neg) / 3), dc = -(hp.mean(0) - hn.mean(0));
  for (int loss_kind = 0; loss_kind < 2; ++loss_kind) {
    auto W = W0.clone().requires_grad_(), b = b0.clone().requires_grad_(), c = c0.clone().requires_grad_();
    auto r = relu_rbm(W, b, c);
    auto loss = loss_kind == 0 ? r.free_energy(pos).mean() - r.free_energy(neg).mean()
                               : ebm::cd_loss(r, pos, neg, nullptr, nullptr);
    loss.backward();
    EXPECT_TRUE(all_close(W.grad(), dW, 1e-9, 1e-9)) << loss_kind;
    EXPECT_TRUE(all_close(c.grad(), dc, 1e-9, 1e-9)) << loss_kind;
    EXPECT_TRUE(all_close(b.grad(), -(pos.mean(0) - neg.mean(0)), 1e-12, 1e-12)) << loss_kind;
  }
}

TEST(RbmRelu, PcdRecoversAPlantedMachine) {
  // A planted 10 x 2 machine with rectified units, data drawn by long Gibbs chains: the fitted relu RBM's exact
  // distribution over all 2^10 states is close to the planted one.
  auto gen = make_generator(24);
  auto W = torch::zeros({2, 10}, kF64);
  W[0].slice(0, 0, 5).fill_(1.5);
  W[1].slice(0, 5, 10).fill_(1.5);
  W[1].slice(0, 0, 5).fill_(-0.5);
  auto planted = relu_rbm(W, torch::full({10}, -1.5, kF64), torch::full({2}, -0.5, kF64));
  auto x = ebm::bernoulli(torch::full({4000, 10}, 0.5, kF64), gen);
  for (int s = 0; s < 300; ++s) x = planted.sample_visible(planted.sample_hidden(x, gen), gen);
  RbmOptions o;
  o.hidden_units = "relu";
  o.n_components = 8;
  o.batch_size = 20;
  o.epochs = 40;
  o.lr = 0.01;  // unbounded units: at 0.05 this run diverged
  o.momentum = 0.9;
  o.schedule = "cosine";
  o.n_chains = 100;
  o.seed = 2;
  RestrictedBoltzmannMachine rbm(o);
  rbm.fit({x.to(torch::kFloat32)}, quiet());
  EXPECT_EQ(rbm.score_estimator().name, "exact");
  auto states = relu_all_states(10);
  auto log_p = -planted.free_energy(states) - ebm::exact_log_z(planted);
  auto log_q = rbm.score_samples(states);
  const double kl = (log_p.exp() * (log_p - log_q)).sum().item<double>();
  auto p1 = x.mean(0).clamp(1e-3, 1 - 1e-3);
  auto log_independent = (states * p1.log() + (1 - states) * (1 - p1).log()).sum(1);
  const double kl_independent = (log_p.exp() * (log_p - log_independent)).sum().item<double>();
  EXPECT_LT(kl, 0.03) << "independent units: " << kl_independent;
  EXPECT_GT(kl_independent, 5 * kl);
  // Features are non-negative; samples are probabilities; seeded sampling repeats.
  EXPECT_GE(rbm.transform(states).min().item<double>(), 0.0);
  auto g1 = make_generator(3), g2 = make_generator(3);
  auto s1 = rbm.sample(20, g1);
  EXPECT_TRUE(torch::equal(s1, rbm.sample(20, g2)));
  EXPECT_TRUE(((s1 >= 0) & (s1 <= 1)).all().item<bool>());
}

TEST(RbmRelu, TheModelFileKeepsTheUnitsAndBadSettingsAreRefused) {
  test::TempDir dir;
  auto gen = make_generator(25);
  auto x = (at::rand({200, 12}, gen) < 0.3).to(torch::kFloat32);
  auto m = create_model("rbm", {}, {{"hidden_units", "relu"}, {"n_components", "6"}, {"n_iter", "2"},
                                    {"batch_size", "20"}});
  m->fit({x}, quiet());
  const auto before = m->score_samples(x);
  save_model(*m, dir.file("relu.gf"));
  auto loaded = load_model(dir.file("relu.gf"));
  EXPECT_EQ(loaded->options_json()["hidden_units"], "relu");
  EXPECT_TRUE(torch::equal(loaded->score_samples(x), before));
  test::expect_error_message([] { create_model("rbm", {}, {{"hidden_units", "relu"}, {"visible", "gaussian"}}); },
                 "relu (rectified Gaussian) hidden units need bernoulli visible units");
  test::expect_error_message([] { create_model("rbm", {}, {{"hidden_units", "relu"}, {"sparsity_cost", "0.1"}}); },
                 "it applies to bernoulli hidden units only");
  test::expect_error_message([] { create_model("rbm", {}, {{"hidden_units", "tanh"}}); }, "tanh");
  test::expect_error_message([] { create_model("dbm", {}, {{"hidden_units", "relu"}}); },
                 "the deep Boltzmann machine has Bernoulli hidden units; got hidden_units = relu");
  test::expect_error_message([] { create_model("dbn", {}, {{"hidden_units", "relu"}}); }, "a deep belief net stacks Bernoulli");
}

}  // namespace
}  // namespace gf
