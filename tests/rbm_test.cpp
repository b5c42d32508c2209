// Restricted Boltzmann machines: energy kernels against scikit-learn and brute force, AIS against exact log Z,
// the CD gradient, recovery of a planted model, sampling, imputation, the model file and bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "ebm/boltzmann.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/models/rbm.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

using test::all_close;
using test::quiet;

torch::Tensor f64(const nlohmann::json& j) { return test::tensor_from_json(j); }

struct Golden {
  nlohmann::json j = test::read_json(test::source_path("tests/reference/rbm_golden.json"));
  ebm::Rbm rbm() const { return {ebm::Visible::bernoulli, f64(j["W"]), f64(j["b"]), f64(j["c"]), {}}; }
};

// An RBM model holding given parameters (through its state, as a loaded file would).
std::unique_ptr<RestrictedBoltzmannMachine> model_with(const ebm::Rbm& p, RbmOptions o = {}) {
  o.n_components = p.n_hidden();
  o.visible = p.gaussian() ? "gaussian" : "bernoulli";
  o.hidden_units = p.relu() ? "relu" : "bernoulli";
  o.dtype = "float64";
  TensorMap t;
  t["W"] = p.W.to(torch::kFloat64);
  t["b"] = p.b.to(torch::kFloat64);
  t["c"] = p.c.to(torch::kFloat64);
  if (p.gaussian()) t["log_var"] = p.log_var.to(torch::kFloat64);
  t["base_visible"] = p.gaussian() ? p.b.to(torch::kFloat64) : torch::zeros({p.n_visible()}, torch::kFloat64);
  t["chain"] = torch::zeros({1, p.n_hidden()}, torch::kFloat64);
  t["meta/shape"] = torch::tensor({p.n_visible()}, torch::kLong);
  t["meta/n_classes"] = torch::tensor({int64_t{0}}, torch::kLong);
  auto m = std::make_unique<RestrictedBoltzmannMachine>(o);
  m->load_state(t);
  return m;
}

// log Z of a Bernoulli RBM by summing exp(-E) over every joint state (tiny models only).
double brute_force_log_z(const ebm::Rbm& r) {
  const int64_t D = r.n_visible(), H = r.n_hidden();
  std::vector<double> terms;
  for (int64_t vs = 0; vs < (int64_t{1} << D); ++vs) {
    auto v = torch::zeros({D}, torch::kFloat64);
    for (int64_t i = 0; i < D; ++i) v[i] = static_cast<double>((vs >> i) & 1);
    for (int64_t hs = 0; hs < (int64_t{1} << H); ++hs) {
      auto h = torch::zeros({H}, torch::kFloat64);
      for (int64_t j = 0; j < H; ++j) h[j] = static_cast<double>((hs >> j) & 1);
      terms.push_back((r.b.dot(v) + r.c.dot(h) + h.dot(torch::mv(r.W, v))).item<double>());
    }
  }
  return torch::logsumexp(torch::tensor(terms, torch::kFloat64), 0).item<double>();
}

TEST(Rbm, FreeEnergyConditionalsAndPseudoLikelihoodMatchScikitLearn) {
  Golden g;
  const auto r = g.rbm();
  auto x = f64(g.j["x"]);
  EXPECT_TRUE(all_close(r.free_energy(x), f64(g.j["free_energy"]), 1e-10, 1e-10));
  EXPECT_TRUE(all_close(r.hidden_probs(x), f64(g.j["transform"]), 1e-10, 1e-12));
  auto flips = torch::tensor(g.j["flipped_bits"].get<std::vector<int64_t>>(), torch::kLong);
  EXPECT_TRUE(all_close(ebm::one_flip_pseudo_likelihood(r, x, flips), f64(g.j["stochastic_pl"]), 1e-10, 1e-10));
  EXPECT_TRUE(all_close(ebm::pseudo_log_likelihood(r, x), f64(g.j["exact_pl"]), 1e-10, 1e-10));
  // The model's public calls give the same numbers.
  auto m = model_with(r);
  EXPECT_TRUE(all_close(m->free_energy(x), f64(g.j["free_energy"]), 1e-10, 1e-10));
  EXPECT_TRUE(all_close(m->transform(x).to(torch::kFloat64), f64(g.j["transform"]), 1e-6, 1e-7));
  EXPECT_TRUE(all_close(m->pseudo_log_likelihood(x), f64(g.j["exact_pl"]), 1e-10, 1e-10));
}

TEST(Rbm, ExactLogZEnumeratesEitherLayerAndMatchesBruteForce) {
  Golden g;
  const auto r = g.rbm();  // 6 visible, 4 hidden: enumerates the hidden layer
  EXPECT_NEAR(ebm::exact_log_z(r), g.j["log_z"].get<double>(), 1e-9);
  EXPECT_NEAR(brute_force_log_z(r), g.j["log_z"].get<double>(), 1e-9);
  // 3 visible, 7 hidden: enumerates the visible layer.
  auto gen = make_generator(5);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  ebm::Rbm wide{ebm::Visible::bernoulli, at::randn({7, 3}, gen, opts), at::randn({3}, gen, opts),
                at::randn({7}, gen, opts), {}};
  EXPECT_EQ(ebm::enumerated_units(wide), 3);
  EXPECT_NEAR(ebm::exact_log_z(wide), brute_force_log_z(wide), 1e-9);
  // log p(v) sums to one over all visible states.
  auto m = model_with(wide);
  auto states = torch::zeros({8, 3}, opts);
  for (int64_t s = 0; s < 8; ++s) {
    for (int64_t i = 0; i < 3; ++i) states[s][i] = static_cast<double>((s >> i) & 1);
  }
  EXPECT_NEAR(torch::logsumexp(m->score_samples(states), 0).item<double>(), 0.0, 1e-9);
  EXPECT_EQ(m->score_estimator().name, "exact");
}

TEST(Rbm, GaussianVisibleUnitsHaveTheClosedFormMarginals) {
  // One Gaussian visible unit and two hidden units: Z by numerical integration over v.
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  ebm::Rbm r{ebm::Visible::gaussian, torch::tensor({{0.8}, {-1.3}}, opts), torch::tensor({0.4}, opts),
             torch::tensor({0.2, -0.5}, opts), torch::tensor({std::log(0.7)}, opts)};
  auto grid = torch::linspace(-15, 15, 300001, opts).unsqueeze(1);  // [G, 1]
  auto log_p = -r.free_energy(grid);
  const double step = 30.0 / 300000;
  const double numeric = torch::logsumexp(log_p, 0).item<double>() + std::log(step);
  EXPECT_NEAR(ebm::exact_log_z(r), numeric, 1e-6);
  // p(h | v) and E[v | h] by the formulas of the header.
  auto v = torch::tensor({{1.5}}, opts);
  auto expected_h = torch::sigmoid(r.c + r.W.squeeze(1) * 1.5 / 0.7);
  EXPECT_TRUE(all_close(r.hidden_probs(v).squeeze(0), expected_h, 1e-12, 1e-12));
  auto h = torch::tensor({{1.0, 1.0}}, opts);
  EXPECT_NEAR(r.visible_mean(h).item<double>(), 0.4 + 0.8 - 1.3, 1e-12);
}

TEST(Rbm, TheLossGradientIsTheContrastiveDivergenceUpdate) {
  // scikit-learn's update, written out: dW = <h v^T>_data - <h v^T>_chains with h = p(h = 1 | v), db = <v>_data -
  // <v>_chains, dc = <h>_data - <h>_chains. Both the free-energy gap and the training loss (the expected-energy gap,
  // ebm::cd_loss) have minus that as their gradient.
  Golden g;
  auto x = f64(g.j["x"]);
  auto pos = x.slice(0, 0, 5), neg = x.slice(0, 5);
  auto W0 = f64(g.j["W"]), b0 = f64(g.j["b"]), c0 = f64(g.j["c"]);
  auto hp = torch::sigmoid(torch::addmm(c0, pos, W0.t())), hn = torch::sigmoid(torch::addmm(c0, neg, W0.t()));
  auto dW = -(hp.t().mm(pos) / 5 - hn.t().mm(neg) / 3);
  auto db = -(pos.mean(0) - neg.mean(0)), dc = -(hp.mean(0) - hn.mean(0));
  for (int loss_kind = 0; loss_kind < 2; ++loss_kind) {
    auto W = W0.clone().requires_grad_(), b = b0.clone().requires_grad_(), c = c0.clone().requires_grad_();
    ebm::Rbm r{ebm::Visible::bernoulli, W, b, c, {}};
    torch::Tensor q;
    auto loss = loss_kind == 0 ? r.free_energy(pos).mean() - r.free_energy(neg).mean()
                               : ebm::cd_loss(r, pos, neg, &q, nullptr);
    loss.backward();
    EXPECT_TRUE(all_close(W.grad(), dW, 1e-12, 1e-12)) << loss_kind;
    EXPECT_TRUE(all_close(b.grad(), db, 1e-12, 1e-12)) << loss_kind;
    EXPECT_TRUE(all_close(c.grad(), dc, 1e-12, 1e-12)) << loss_kind;
    if (loss_kind == 1) {
      EXPECT_TRUE(all_close(q, torch::cat({hp, hn}), 1e-12, 1e-12));
    }
  }
}

// Binary data drawn from a planted RBM by long Gibbs chains.
torch::Tensor draw_from(const ebm::Rbm& r, int64_t n, at::Generator& gen) {
  auto v = ebm::bernoulli(torch::full({n, r.n_visible()}, 0.5, torch::kFloat64), gen);
  for (int s = 0; s < 500; ++s) v = r.sample_visible(ebm::bernoulli(r.hidden_probs(v), gen), gen);
  return v;
}

TEST(Rbm, PcdRecoversAPlantedDistribution) {
  // 10 visible units in two blocks, each block mostly all-on or mostly all-off (a hidden cause each, on half the
  // time): the fitted model's distribution over all 2^10 states must be close to the planted one (KL exactly).
  auto gen = make_generator(11);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto W = torch::zeros({2, 10}, opts);
  W[0].slice(0, 0, 5).fill_(4.0);
  W[1].slice(0, 5, 10).fill_(4.0);
  ebm::Rbm planted{ebm::Visible::bernoulli, W, torch::full({10}, -2.0, opts), torch::full({2}, -10.0, opts), {}};
  auto x = draw_from(planted, 4000, gen);
  RbmOptions o;
  o.n_components = 4;
  o.batch_size = 20;
  o.epochs = 40;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.schedule = "cosine";
  o.n_chains = 100;
  o.seed = 1;
  RestrictedBoltzmannMachine rbm(o);
  rbm.fit({x}, quiet());
  EXPECT_EQ(rbm.score_estimator().name, "exact");
  auto states = torch::zeros({1024, 10}, opts);
  for (int64_t s = 0; s < 1024; ++s) {
    for (int64_t i = 0; i < 10; ++i) states[s][i] = static_cast<double>((s >> i) & 1);
  }
  auto log_p = -planted.free_energy(states) - ebm::exact_log_z(planted);
  auto log_q = rbm.score_samples(states);
  const double kl = (log_p.exp() * (log_p - log_q)).sum().item<double>();
  EXPECT_LT(kl, 0.02);
  // And it beats the independent-units model by far.
  auto p1 = x.mean(0).clamp(1e-3, 1 - 1e-3);
  auto log_independent = (states * p1.log() + (1 - states) * (1 - p1).log()).sum(1);
  const double kl_independent = (log_p.exp() * (log_p - log_independent)).sum().item<double>();
  EXPECT_GT(kl_independent, 5 * kl);
}

TEST(Rbm, AisAgreesWithExactLogZOnAPlantedModel) {
  auto gen = make_generator(2);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  ebm::Rbm r{ebm::Visible::bernoulli, at::randn({12, 100}, gen, opts) * 0.3, at::randn({100}, gen, opts) * 0.5,
             at::randn({12}, gen, opts) * 0.5, {}};
  const double exact = ebm::exact_log_z(r);
  auto base = torch::zeros({100});
  const auto e = ebm::ais_log_z(r, base, {100, 2000}, gen);
  EXPECT_LT(std::abs(e.log_z - exact), std::max(3 * e.standard_error, 0.05)) << e.log_z << " vs " << exact;
  EXPECT_LT(std::abs(e.log_z - exact), 0.5);
  EXPECT_GT(e.effective_runs, 10);
  // Gaussian visible units.
  ebm::Rbm gauss{ebm::Visible::gaussian, at::randn({10, 20}, gen, opts) * 0.2, at::randn({20}, gen, opts),
                 at::randn({10}, gen, opts) * 0.5, torch::full({20}, std::log(0.5f))};
  const auto eg = ebm::ais_log_z(gauss, gauss.b, {100, 2000}, gen);
  EXPECT_LT(std::abs(eg.log_z - ebm::exact_log_z(gauss)), std::max(3 * eg.standard_error, 0.05));
}

TEST(Rbm, LongAisWithDefaultSettingsMatchesExactLogZOnFashionMnist) {
  // 784 visible x 16 hidden, trained on binarised Fashion-MNIST: exact log Z by enumerating 2^16 hidden states;
  // AIS with the default 100 runs x 10000 temperatures must land within 3 s.e. and 0.5 nats.
  auto images = data::scale_images(data::load_source("fashion-mnist", DataKind::images, {5000}).images.images);
  RbmOptions o;
  o.n_components = 16;
  o.batch_size = 50;
  o.epochs = 3;
  o.lr = 0.05;
  o.binarize = "threshold";
  o.estimator = "ais";
  RestrictedBoltzmannMachine rbm(o);
  rbm.fit({images}, quiet());
  const double ais = rbm.log_partition();
  const auto e = rbm.score_estimator();
  RbmOptions exact_o = o;
  exact_o.estimator = "exact";
  auto exact_model = model_with({ebm::Visible::bernoulli, rbm.components(), rbm.intercept_visible(),
                                 rbm.intercept_hidden(), {}}, exact_o);
  const double exact = exact_model->log_partition();
  EXPECT_LT(std::abs(ais - exact), 3 * e.standard_error + 1e-3) << ais << " vs " << exact;
  EXPECT_LT(std::abs(ais - exact), 0.5);
}

TEST(Rbm, SamplingIsDeterministicForASeedAndLooksLikeTheData) {
  // Two patterns (left or right half on) in 4x4 images.
  auto gen = make_generator(3);
  auto left = torch::zeros({1, 4, 4}), right = torch::zeros({1, 4, 4});
  left.slice(2, 0, 2).fill_(1);
  right.slice(2, 2, 4).fill_(1);
  auto which = at::randint(2, {400}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto x = torch::stack({left, right}).index_select(0, which);  // [400, 1, 4, 4]
  RbmOptions o;
  o.n_components = 8;
  o.batch_size = 20;
  o.epochs = 20;
  o.lr = 0.1;
  o.gibbs_steps = 200;
  RestrictedBoltzmannMachine rbm(o);
  rbm.fit({x}, quiet());
  auto g1 = make_generator(7), g2 = make_generator(7);
  auto a = rbm.sample(50, g1), b = rbm.sample(50, g2);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{50, 1, 4, 4}));
  EXPECT_TRUE(torch::equal(a, b));
  // Each sample is one of the patterns: one half bright, the other dark.
  auto l = a.slice(3, 0, 2).mean({1, 2, 3}), r = a.slice(3, 2, 4).mean({1, 2, 3});
  EXPECT_GT(((l - r).abs() > 0.8).to(torch::kFloat64).mean().item<double>(), 0.9);
  // Thinned samples from fewer chains have the same shape.
  RbmOptions thin = o;
  thin.sample_chains = 5;
  thin.thin = 3;
  auto m = model_with({ebm::Visible::bernoulli, rbm.components(), rbm.intercept_visible(), rbm.intercept_hidden(),
                       {}}, thin);
  EXPECT_EQ(m->sample(12, g1).size(0), 12);
  // Clamped Gibbs fills in the missing right half given the left half.
  auto half = left.unsqueeze(0).repeat({10, 1, 1, 1}).clone();
  half.slice(3, 2, 4).fill_(NAN);
  auto filled = rbm.conditional_mean(half);
  EXPECT_LT(filled.slice(3, 2, 4).max().item<double>(), 0.2);
  EXPECT_TRUE(torch::equal(filled.slice(3, 0, 2), half.slice(3, 0, 2)));
  auto drawn = rbm.conditional_sample(half, g1);
  EXPECT_FALSE(drawn.isnan().any().item<bool>());
}

TEST(Rbm, SavedModelScoresTheSameAndKeepsItsLogZ) {
  test::TempDir dir;
  auto gen = make_generator(4);
  auto x = (at::rand({300, 30}, gen) < 0.3).to(torch::kFloat32);
  auto m = create_model("rbm", {}, {{"n_components", "24"}, {"n_iter", "2"}, {"batch_size", "30"},
                                    {"ais_betas", "300"}, {"binarize", "threshold"}});
  m->fit({x}, quiet());
  const auto before = m->score_samples(x);
  save_model(*m, dir.file("rbm.gf"));
  auto loaded = load_model(dir.file("rbm.gf"));
  EXPECT_TRUE(torch::equal(loaded->score_samples(x), before));
  const auto e = dynamic_cast<const EstimatedLikelihood&>(*loaded).score_estimator();
  EXPECT_EQ(e.name, "ais");
  EXPECT_GT(e.standard_error, 0);
  EXPECT_EQ(loaded->options_json()["binarize"], "threshold");
  // A setting changed for this use: the pseudo-likelihood instead.
  auto pl = load_model(dir.file("rbm.gf"), "", {{"estimator", "pseudo_likelihood"}});
  EXPECT_FALSE(dynamic_cast<const EstimatedLikelihood&>(*pl).score_estimator().is_likelihood);
  EXPECT_TRUE(all_close(pl->score_samples(x),
                        dynamic_cast<const RestrictedBoltzmannMachine&>(*loaded).pseudo_log_likelihood(x), 1e-12,
                        1e-12));
}

TEST(Rbm, GaussianVisibleUnitsFitStandardizedTables) {
  // Two clusters in 4-D: the Gaussian-Bernoulli RBM must give the data a higher likelihood than a single
  // Gaussian with the data's mean and variances.
  auto gen = make_generator(8);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto side = (at::rand({1000, 1}, gen, opts) < 0.5).to(torch::kFloat64) * 2 - 1;
  auto x = side * 1.5 + at::randn({1000, 4}, gen, opts) * 0.5;
  RbmOptions o;
  o.visible = "gaussian";
  o.learn_variance = true;
  o.n_components = 6;
  o.batch_size = 20;
  o.epochs = 5;
  o.lr = 0.01;
  o.momentum = 0.9;
  RestrictedBoltzmannMachine rbm(o);
  rbm.fit({x}, quiet());
  const double ll = rbm.score_samples(x).mean().item<double>();
  auto var = x.var(0, false);
  const double single = (-0.5 * ((x - x.mean(0)).pow(2) / var + var.log() + std::log(2 * M_PI))).sum(1).mean()
                            .item<double>();
  EXPECT_GT(ll, single + 1.0) << ll << " vs " << single;
  auto s = rbm.sample(200, gen);
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{200, 4}));
}

TEST(Rbm, ParallelTemperingKeepsTheModelDistributionAndMixesBetweenModes) {
  // Two far-apart modes (all-on / all-off blocks): plain Gibbs chains started in one mode stay there, tempered chains
  // visit both, in the proportions of the exact distribution.
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto W = torch::full({1, 12}, 6.0, opts);
  ebm::Rbm r{ebm::Visible::bernoulli, W, torch::full({12}, -3.0, opts), torch::tensor({-36.0}, opts), {}};
  // p(h = 1) under the model, exactly.
  auto h_states = torch::tensor({{0.0}, {1.0}}, opts);
  auto log_p_h = r.hidden_log_marginal(h_states);
  const double p_on = torch::softmax(log_p_h, 0)[1].item<double>();
  ASSERT_GT(p_on, 0.2);
  ASSERT_LT(p_on, 0.8);
  auto gen = make_generator(12);
  const auto betas = ebm::tempering_betas(8);
  EXPECT_EQ(betas.front(), 1.0);
  EXPECT_EQ(betas.back(), 0.0);
  auto base = torch::zeros({12}, opts);  // the data's marginals (half on), as a fitted model's base
  auto v = torch::zeros({8 * 200, 12}, opts);  // every chain starts in the all-off mode
  torch::Tensor h;
  double on = 0, rate = 0;
  int64_t counted = 0;
  for (int64_t s = 0; s < 600; ++s) {
    rate += ebm::tempered_sweep(r, base, betas, v, h, gen, s);
    if (s >= 100) {
      on += h.slice(0, 0, 200).mean().item<double>();
      ++counted;
    }
  }
  EXPECT_NEAR(on / counted, p_on, 0.05);
  EXPECT_GT(rate / 600, 0.05);
  // Plain Gibbs from the same start: stuck.
  auto plain = torch::zeros({200, 12}, opts);
  torch::Tensor hp;
  for (int64_t s = 0; s < 600; ++s) {
    hp = ebm::bernoulli(r.hidden_probs(plain), gen);
    plain = r.sample_visible(hp, gen);
  }
  EXPECT_LT(hp.mean().item<double>(), 0.05);
  // Training and sampling with tempering through the model.
  auto x = draw_from(r, 400, gen);
  auto m = create_model("rbm", {}, {{"n_components", "2"}, {"n_iter", "5"}, {"batch_size", "20"},
                                    {"pt_temperatures", "5"}, {"gibbs_steps", "50"}});
  m->fit({x}, quiet());
  auto g1 = make_generator(3), g2 = make_generator(3);
  EXPECT_TRUE(torch::equal(m->sample(20, g1), m->sample(20, g2)));
}

TEST(Rbm, SoftmaxGroupsForOneHotColumns) {
  // Units 1..3 are one categorical column (exactly one on): log Z against brute force over the valid visible states,
  // AIS against it, draws one-hot.
  auto gen = make_generator(6);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto groups = ebm::one_hot_groups({"a", "colour=red", "colour=green", "colour=blue", "b"});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_TRUE(torch::equal(groups[0], torch::tensor({1, 2, 3}, torch::kLong)));
  EXPECT_TRUE(ebm::one_hot_groups({"x=1", "y=1", "z"}).empty());  // one-column "groups" are plain units
  ebm::Rbm r{ebm::Visible::bernoulli, at::randn({3, 5}, gen, opts), at::randn({5}, gen, opts),
             at::randn({3}, gen, opts), {}, groups};
  std::vector<double> terms;
  for (int64_t a = 0; a < 2; ++a) {
    for (int64_t colour = 1; colour <= 3; ++colour) {
      for (int64_t bb = 0; bb < 2; ++bb) {
        auto v = torch::zeros({1, 5}, opts);
        v[0][0] = static_cast<double>(a);
        v[0][colour] = 1;
        v[0][4] = static_cast<double>(bb);
        terms.push_back(-r.free_energy(v).item<double>());
      }
    }
  }
  const double brute = torch::logsumexp(torch::tensor(terms, opts), 0).item<double>();
  EXPECT_NEAR(ebm::exact_log_z(r), brute, 1e-9);
  const auto e = ebm::ais_log_z(r, torch::zeros({5}, opts), {100, 1000}, gen);
  EXPECT_NEAR(e.log_z, brute, std::max(0.05, 3 * e.standard_error));
  auto draws = r.sample_visible(torch::ones({200, 3}, opts), gen);
  EXPECT_TRUE(torch::equal(draws.slice(1, 1, 4).sum(1), torch::ones({200}, opts)));
  auto means = r.visible_mean(torch::ones({4, 3}, opts));
  EXPECT_TRUE(all_close(means.slice(1, 1, 4).sum(1), torch::ones({4}, opts), 1e-12, 1e-12));
  // A model fitted on a table with a one-hot column keeps the group and samples valid rows.
  auto x = torch::cat({(at::rand({300, 1}, gen, opts) < 0.5).to(torch::kFloat64),
                       torch::one_hot(at::randint(3, {300}, gen, torch::TensorOptions().dtype(torch::kLong)), 3)
                           .to(torch::kFloat64),
                       (at::rand({300, 1}, gen, opts) < 0.3).to(torch::kFloat64)}, 1);
  auto m = create_model("rbm", {}, {{"n_components", "4"}, {"n_iter", "3"}, {"batch_size", "20"}});
  m->fit({x, {}, {"a", "colour=red", "colour=green", "colour=blue", "b"}}, quiet());
  test::TempDir dir;
  save_model(*m, dir.file("g.gf"));
  auto loaded = load_model(dir.file("g.gf"));
  auto logp = loaded->score_samples(x);
  EXPECT_TRUE(torch::equal(logp, m->score_samples(x)));
  auto s = dynamic_cast<const RestrictedBoltzmannMachine&>(*loaded).sample(50, gen);
  EXPECT_TRUE(all_close(s.slice(1, 1, 4).sum(1).to(torch::kFloat64), torch::ones({50}, opts), 1e-5, 1e-5));
  EXPECT_THROW(create_model("rbm", {}, {{"estimator", "pseudo_likelihood"}, {"n_components", "4"}})
                   ->fit({x, {}, {"a", "colour=red", "colour=green", "colour=blue", "b"}}, quiet()),
               NotSupported);
}

TEST(Rbm, BadInputGetsClearErrors) {
  auto x = torch::full({20, 6}, 0.5);
  test::expect_error_message([&] { create_model("rbm", {}, {{"n_components", "0"}})->fit({x}, quiet()); },
                 "an RBM needs at least one hidden unit: n_components must be >= 1, got 0");
  test::expect_error_message([&] { create_model("rbm", {}, {{"estimator", "magic"}}); }, "magic");
  test::expect_error_message([&] { create_model("rbm", {}, {{"strict", "true"}})->fit({x}, quiet()); },
                 "strict Bernoulli units need values 0 and 1; the data has other values");
  auto with_nan = x.clone();
  with_nan[3][2] = NAN;
  test::expect_error_message([&] { create_model("rbm")->fit({with_nan}, quiet()); }, "holds NaN or inf");
  test::expect_error_message([&] { create_model("rbm")->fit({x * 3}, quiet()); }, "needs values in [0, 1]");
  test::expect_error_message([&] { create_model("rbm", {}, {{"visible", "gaussian"}, {"estimator", "pseudo_likelihood"}})
                           ->fit({x}, quiet()); },
                 "the pseudo-likelihood estimators need bernoulli visible units");
  EXPECT_THROW(create_model("rbm")->score_samples(x), NotFitted);
}

}  // namespace
}  // namespace gf
