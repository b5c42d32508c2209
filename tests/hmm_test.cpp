// Hidden Markov model: forward, posteriors and Viterbi against brute-force enumeration; Baum-Welch against
// pomegranate 0.14.8 (tests/reference/make_hmm_golden.py); parameter recovery; supervised, semi-supervised and
// missing-observation training; zero-preserving and fixed parameters; errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <functional>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/models/hmm.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;
auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

// A model holding exactly the given parameters: nothing initialised, nothing updated.
HiddenMarkovModel fixed_model(HmmOptions o, const std::map<std::string, torch::Tensor>& params, const Dataset& d) {
  o.init_params = "";
  o.params = "";
  o.max_iter = 1;
  HiddenMarkovModel m(o);
  for (const auto& kv : params) m.set_init(kv.first, kv.second);
  log::WarningSink old = log::set_warning_sink([](const std::string&) {});
  m.fit(d, quiet());
  log::set_warning_sink(old);
  return m;
}

const torch::Tensor kStart = torch::tensor({0.5, 0.3, 0.2}, f64);
const torch::Tensor kTrans = torch::tensor({0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.25, 0.25, 0.5}, f64).view({3, 3});
const torch::Tensor kEmit = torch::tensor({0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6}, f64).view({3, 3});

// Every state path of a short sequence, with its joint probability p(z, x) given per-step emission
// probabilities e[t][k].
void enumerate_paths(const std::vector<std::vector<double>>& e, const torch::Tensor& start, const torch::Tensor& trans,
                     const std::function<void(const std::vector<int64_t>&, double)>& visit) {
  const int64_t len = static_cast<int64_t>(e.size()), k = start.numel();
  std::vector<int64_t> z(static_cast<size_t>(len), 0);
  int64_t total = 1;
  for (int64_t t = 0; t < len; ++t) total *= k;
  for (int64_t code = 0; code < total; ++code) {
    int64_t c = code;
    for (int64_t t = len - 1; t >= 0; --t) {
      z[static_cast<size_t>(t)] = c % k;
      c /= k;
    }
    double p = start[z[0]].item<double>() * e[0][static_cast<size_t>(z[0])];
    for (int64_t t = 1; t < len; ++t) {
      p *= trans[z[static_cast<size_t>(t - 1)]][z[static_cast<size_t>(t)]].item<double>() *
           e[static_cast<size_t>(t)][static_cast<size_t>(z[static_cast<size_t>(t)])];
    }
    visit(z, p);
  }
}

std::vector<std::vector<double>> categorical_emissions(const std::vector<int64_t>& symbols, const torch::Tensor& b) {
  std::vector<std::vector<double>> e;
  for (int64_t s : symbols) {
    std::vector<double> row;
    for (int64_t k = 0; k < b.size(0); ++k) row.push_back(s < 0 ? 1.0 : b[k][s].item<double>());
    e.push_back(row);
  }
  return e;
}

TEST(Hmm, ForwardPosteriorsAndViterbiMatchEnumerationOfEveryPath) {
  const std::vector<int64_t> seq = {0, 2, 1, 1, 0, 2, 2};
  Dataset d{torch::tensor(seq, f64).unsqueeze(1)};
  HmmOptions o;
  o.n_components = 3;
  o.emission = "categorical";
  auto m = fixed_model(o, {{"startprob", kStart}, {"transmat", kTrans}, {"emissionprob", kEmit}}, d);
  double total = 0, best = -1;
  std::vector<int64_t> best_path;
  auto marginals = torch::zeros({7, 3}, f64);
  enumerate_paths(categorical_emissions(seq, kEmit), kStart, kTrans, [&](const std::vector<int64_t>& z, double p) {
    total += p;
    for (size_t t = 0; t < z.size(); ++t) marginals[static_cast<int64_t>(t)][z[t]] += p;
    if (p > best) {
      best = p;
      best_path = z;
    }
  });
  EXPECT_NEAR(m.score_sequences(d.x).item<double>(), std::log(total), 1e-12);
  EXPECT_NEAR(m.score_samples(d.x).sum().item<double>(), std::log(total), 1e-12);
  EXPECT_TRUE(test::all_close(m.predict_proba(d.x), marginals / total, 1e-10, 1e-13));
  torch::Tensor logp;
  auto path = m.viterbi(d.x, {}, &logp);
  EXPECT_EQ(std::vector<int64_t>(path.data_ptr<int64_t>(), path.data_ptr<int64_t>() + 7), best_path);
  EXPECT_NEAR(logp.item<double>(), std::log(best), 1e-12);
}

// Two 2-D diagonal Gaussian states and a sequence whose third step is missing entirely, the fifth in one
// coordinate; e[t][k] the emission probabilities of the observed cells, for enumeration.
struct GaussianWithGaps {
  static constexpr double kGap = std::numeric_limits<double>::quiet_NaN();
  torch::Tensor x = torch::tensor({0.1, 0.3, 1.9, 2.2, kGap, kGap, 0.4, -0.2, 2.5, kGap}, f64).view({5, 2});
  torch::Tensor means = torch::tensor({0.0, 0.0, 2.0, 2.0}, f64).view({2, 2});
  torch::Tensor covars = torch::tensor({1.0, 0.5, 0.8, 1.5}, f64).view({2, 2});
  torch::Tensor start = torch::tensor({0.7, 0.3}, f64), trans = torch::tensor({0.9, 0.1, 0.3, 0.7}, f64).view({2, 2});
  HiddenMarkovModel model() const {
    HmmOptions o;
    o.n_components = 2;
    o.covariance_type = "diag";
    return fixed_model(o, {{"startprob", start}, {"transmat", trans}, {"means", means}, {"covars", covars}}, {x});
  }
  std::vector<std::vector<double>> emissions() const {
    std::vector<std::vector<double>> e;
    for (int64_t t = 0; t < 5; ++t) {
      std::vector<double> row;
      for (int64_t k = 0; k < 2; ++k) {
        double logp = 0;
        for (int64_t j = 0; j < 2; ++j) {
          const double v = x[t][j].item<double>(), var = covars[k][j].item<double>(), mu = means[k][j].item<double>();
          if (!std::isnan(v)) logp += -0.5 * std::log(2 * M_PI * var) - 0.5 * (v - mu) * (v - mu) / var;
        }
        row.push_back(std::exp(logp));
      }
      e.push_back(row);
    }
    return e;
  }
};

TEST(Hmm, GaussianAndMissingObservationsMatchEnumeration) {
  const GaussianWithGaps g;
  auto m = g.model();
  double total = 0;
  enumerate_paths(g.emissions(), g.start, g.trans, [&](const std::vector<int64_t>&, double p) { total += p; });
  EXPECT_NEAR(m.score_sequences(g.x).item<double>(), std::log(total), 1e-12);
}

TEST(Hmm, FillsMissingObservationsAsEnumerationOfEveryPathSays) {
  const GaussianWithGaps g;
  auto m = g.model();
  const auto& x = g.x;
  const auto& means = g.means;
  const auto& covars = g.covars;
  const auto e = g.emissions();
  // E[cell | sequence] and E[cell^2 | sequence] of the three missing cells, summed over every path.
  const std::vector<std::pair<int64_t, int64_t>> cells{{2, 0}, {2, 1}, {4, 1}};
  std::vector<double> first(3, 0.0), second(3, 0.0);
  double total = 0;
  enumerate_paths(e, g.start, g.trans, [&](const std::vector<int64_t>& z, double p) {
    total += p;
    for (size_t c = 0; c < cells.size(); ++c) {
      const auto [t, j] = cells[c];
      const double mu = means[z[static_cast<size_t>(t)]][j].item<double>();
      first[c] += p * mu;
      second[c] += p * (mu * mu + covars[z[static_cast<size_t>(t)]][j].item<double>());
    }
  });
  auto mean = m.sequence_mean(x, {});
  auto gen = make_generator(3);
  auto draws = m.sequence_samples(x, {}, 20000, gen);  // [20000, 5, 2]
  for (size_t c = 0; c < cells.size(); ++c) {
    const auto [t, j] = cells[c];
    const double expected = first[c] / total, variance = second[c] / total - expected * expected;
    EXPECT_NEAR(mean[t][j].item<double>(), expected, 1e-10);
    auto d = draws.select(1, t).select(1, j);
    EXPECT_NEAR(d.mean().item<double>(), expected, 4 * std::sqrt(variance / 20000));
    EXPECT_NEAR(d.var().item<double>(), variance, 0.05 * variance);
  }
  auto observed = ~torch::isnan(x);
  EXPECT_TRUE(torch::equal(mean.masked_select(observed), x.masked_select(observed)));
  EXPECT_TRUE(torch::equal(draws[7].masked_select(observed), x.masked_select(observed)));
  auto again = make_generator(3);
  EXPECT_TRUE(torch::equal(m.sequence_samples(x, {}, 20000, again)[19999], draws[19999]));
  // Two sequences are filled each on its own: the same as filling them one by one.
  auto split = m.sequence_mean(x, torch::tensor({2, 3}));
  EXPECT_TRUE(torch::allclose(split.slice(0, 2), m.sequence_mean(x.slice(0, 2), {})));
  EXPECT_FALSE(torch::allclose(split.slice(0, 2), mean.slice(0, 2)));
  // Categorical: the missing symbol is the most probable one given the whole sequence.
  HmmOptions c;
  c.emission = "categorical";
  c.n_components = 3;
  auto symbols = torch::tensor({0.0, 2.0, -1.0, 2.0, 2.0}, f64).unsqueeze(1);
  auto cm = fixed_model(c, {{"startprob", kStart}, {"transmat", kTrans}, {"emissionprob", kEmit}}, {symbols});
  std::vector<double> p_symbol(3, 0.0);
  enumerate_paths(categorical_emissions({0, 2, -1, 2, 2}, kEmit), kStart, kTrans,
                  [&](const std::vector<int64_t>& z, double p) {
                    for (int64_t v = 0; v < 3; ++v) p_symbol[static_cast<size_t>(v)] += p * kEmit[z[2]][v].item<double>();
                  });
  const auto best = std::max_element(p_symbol.begin(), p_symbol.end()) - p_symbol.begin();
  EXPECT_EQ(cm.sequence_mean(symbols, {})[2][0].item<double>(), static_cast<double>(best));
  auto symbol_draws = cm.sequence_samples(symbols, {}, 20000, gen).select(1, 2).select(1, 0);
  const double norm = p_symbol[0] + p_symbol[1] + p_symbol[2];
  for (int64_t v = 0; v < 3; ++v) {
    EXPECT_NEAR((symbol_draws == v).to(torch::kFloat64).mean().item<double>(), p_symbol[static_cast<size_t>(v)] / norm, 0.015);
  }
}

TEST(Hmm, BaumWelchMatchesPomegranate) {
  auto g = test::read_json(test::source_path("tests/reference/hmm_golden.json"));
  std::vector<double> ids;
  std::vector<int64_t> lengths;
  for (const auto& s : g["sequences"]) {
    for (const auto& v : s) ids.push_back(v.get<double>());
    lengths.push_back(static_cast<int64_t>(s.size()));
  }
  Dataset d{torch::tensor(ids, f64).unsqueeze(1)};
  d.lengths = torch::tensor(lengths, torch::kLong);
  HmmOptions o;
  o.n_components = 3;
  o.emission = "categorical";
  o.init_params = "";
  o.max_iter = 6;
  o.tol = 0;
  HiddenMarkovModel m(o);
  m.set_init("startprob", test::tensor_from_json(g["startprob"]));
  m.set_init("transmat", test::tensor_from_json(g["transmat"]));
  m.set_init("emissionprob", test::tensor_from_json(g["emissionprob"]));
  log::WarningSink old = log::set_warning_sink([](const std::string&) {});
  auto report = m.fit(d, quiet());
  log::set_warning_sink(old);
  ASSERT_EQ(report.history.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(report.history[i], g["loglik_per_iter"][i].get<double>(), 1e-9) << "iteration " << i;
  }
  // Decoding under the initial parameters, sequence by sequence.
  auto m0 = fixed_model(o, {{"startprob", test::tensor_from_json(g["startprob"])},
                            {"transmat", test::tensor_from_json(g["transmat"])},
                            {"emissionprob", test::tensor_from_json(g["emissionprob"])}},
                        d);
  int64_t first = 0;
  for (int s = 0; s < 3; ++s) {
    auto x = d.x.slice(0, first, first + lengths[static_cast<size_t>(s)]);
    first += lengths[static_cast<size_t>(s)];
    torch::Tensor logp;
    auto path = m0.viterbi(x, {}, &logp);
    EXPECT_NEAR(logp.item<double>(), g["viterbi_first3"][s]["log_prob"].get<double>(), 1e-9);
    EXPECT_EQ(std::vector<int64_t>(path.data_ptr<int64_t>(), path.data_ptr<int64_t>() + path.numel()),
              g["viterbi_first3"][s]["states"].get<std::vector<int64_t>>());
    EXPECT_TRUE(test::all_close(m0.predict_proba(x), test::tensor_from_json(g["posteriors_first3"][s]), 1e-9, 1e-12));
  }
}

// Sequences from a known 2-state Gaussian HMM (drawn by the model's own sampler).
Dataset gaussian_sequences(int64_t n_seq, int64_t len, uint64_t seed, torch::Tensor* states = nullptr) {
  HmmOptions o;
  o.n_components = 2;
  auto x0 = torch::zeros({2, 1}, f64);
  auto truth = fixed_model(o,
                           {{"startprob", torch::tensor({0.5, 0.5}, f64)},
                            {"transmat", torch::tensor({0.9, 0.1, 0.2, 0.8}, f64).view({2, 2})},
                            {"means", torch::tensor({-2.0, 3.0}, f64).view({2, 1})},
                            {"covars", torch::tensor({1.0, 0.25}, f64).view({2, 1})}},
                           {x0});
  std::vector<torch::Tensor> xs, zs;
  auto gen = make_generator(seed);
  for (int64_t s = 0; s < n_seq; ++s) {
    torch::Tensor z;
    xs.push_back(truth.sample(len, gen, &z));
    zs.push_back(z);
  }
  Dataset d{torch::cat(xs)};
  d.lengths = torch::full({n_seq}, len, torch::kLong);
  if (states) *states = torch::cat(zs);
  return d;
}

TEST(Hmm, BaumWelchRecoversTheParametersOfSampledSequences) {
  auto d = gaussian_sequences(100, 100, 1);
  HmmOptions o;
  o.n_components = 2;
  HiddenMarkovModel m(o);
  auto report = m.fit(d, quiet());
  EXPECT_TRUE(report.converged);
  for (size_t i = 1; i < report.history.size(); ++i) EXPECT_GE(report.history[i], report.history[i - 1] - 1e-8);
  const int64_t low = m.means()[0][0].item<double>() < m.means()[1][0].item<double>() ? 0 : 1, high = 1 - low;
  EXPECT_NEAR(m.means()[low][0].item<double>(), -2.0, 0.05);
  EXPECT_NEAR(m.means()[high][0].item<double>(), 3.0, 0.05);
  EXPECT_NEAR(m.covars()[low][0].item<double>(), 1.0, 0.05);
  EXPECT_NEAR(m.covars()[high][0].item<double>(), 0.25, 0.02);
  EXPECT_NEAR(m.transmat()[low][low].item<double>(), 0.9, 0.02);
  EXPECT_NEAR(m.transmat()[high][high].item<double>(), 0.8, 0.02);
}

TEST(Hmm, UpdateContinuesBaumWelchFromTheCurrentParameters) {
  // hmmlearn's init_params="": update() starts EM where the last fit ended, so its first E-step sees the old model's
  // likelihood of the new sequences, and EM only climbs from there to the planted parameters.
  HmmOptions o;
  o.n_components = 2;
  o.max_iter = 3;
  HiddenMarkovModel m(o);
  m.fit(gaussian_sequences(100, 100, 1), quiet());
  auto more = gaussian_sequences(100, 100, 2);
  const double before = m.score_sequences(more.x, more.lengths).sum().item<double>();
  const auto means_before = m.means().clone();
  auto report = m.update(more, quiet());
  ASSERT_FALSE(report.history.empty());
  EXPECT_NEAR(report.history[0], before, 1e-8 * std::abs(before));
  for (size_t i = 1; i < report.history.size(); ++i) EXPECT_GE(report.history[i], report.history[i - 1] - 1e-8);
  EXPECT_GT(m.score_sequences(more.x, more.lengths).sum().item<double>(), before);
  // The states keep their identity (no re-initialisation): each mean moves, if at all, towards its own planted one.
  for (int64_t s = 0; s < 2; ++s) {
    const double planted = means_before[s][0].item<double>() < 0.5 ? -2.0 : 3.0;
    EXPECT_LE(std::abs(m.means()[s][0].item<double>() - planted),
              std::abs(means_before[s][0].item<double>() - planted) + 1e-9);
  }
  EXPECT_EQ(m.options().init_params, "ste");  // left as it was
}

TEST(Hmm, GmmEmissionsWithOneComponentEqualGaussianEmissions) {
  auto d = gaussian_sequences(20, 50, 2);
  HmmOptions o;
  o.n_components = 2;
  o.covariance_type = "full";
  o.max_iter = 8;
  o.tol = 0;
  HiddenMarkovModel gauss(o);
  o.emission = "gmm";
  o.n_mix = 1;
  HiddenMarkovModel mix(o);
  log::WarningSink old = log::set_warning_sink([](const std::string&) {});
  auto a = gauss.fit(d, quiet()), b = mix.fit(d, quiet());
  log::set_warning_sink(old);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) EXPECT_NEAR(a.history[i], b.history[i], 1e-8 * std::abs(a.history[i]));
  EXPECT_TRUE(test::all_close(mix.means().squeeze(1), gauss.means(), 1e-9, 1e-12));
}

TEST(Hmm, GmmEmissionsLearnTwoModesPerState) {
  // One state emits around -4 or +4 (half each), the other around 0: a Gaussian state cannot fit the first.
  auto gen = make_generator(3);
  const int64_t n = 4000;
  auto z = (torch::rand({n}, gen, f64) < 0.5).to(torch::kLong);
  auto sign = (torch::rand({n}, gen, f64) < 0.5).to(torch::kFloat64) * 2 - 1;
  auto x = torch::where(z.eq(1), sign * 4.0, torch::zeros({n}, f64)) + 0.3 * torch::randn({n}, gen, f64);
  Dataset d{x.unsqueeze(1)};
  d.lengths = torch::full({40}, 100, torch::kLong);
  HmmOptions o;
  o.n_components = 2;
  o.seed = 1;
  HiddenMarkovModel gauss(o);
  o.emission = "gmm";
  o.n_mix = 2;
  HiddenMarkovModel mix(o);
  gauss.fit(d, quiet());
  mix.fit(d, quiet());
  EXPECT_GT(mix.score_sequences(d.x, d.lengths).sum().item<double>(),
            gauss.score_sequences(d.x, d.lengths).sum().item<double>() + 500);
}

TEST(Hmm, SupervisedTrainingGivesTheSmoothedCounts) {
  // Two sequences with every state labelled.
  auto x = torch::tensor({0, 1, 1, 2, 0, 0, 2}, f64).unsqueeze(1);
  auto z = torch::tensor({0, 0, 1, 1, 0, 1, 1}, torch::kLong);
  Dataset d{x};
  d.lengths = torch::tensor({4, 3}, torch::kLong);
  d.labels = z;
  HmmOptions o;
  o.emission = "categorical";
  o.n_features = 3;
  o.pseudocount = 1;
  HiddenMarkovModel m(o);
  auto report = m.fit(d, quiet());
  EXPECT_EQ(report.extra["training"], "supervised");
  // start: both sequences start in 0 -> (2+1, 0+1)/4; transitions 0->0: 1, 0->1: 2, 1->1: 2 (+1 each).
  EXPECT_TRUE(test::all_close(m.startprob(), torch::tensor({0.75, 0.25}, f64), 1e-12, 0));
  EXPECT_TRUE(test::all_close(m.transmat(), torch::tensor({2.0 / 5, 3.0 / 5, 1.0 / 4, 3.0 / 4}, f64).view({2, 2}),
                              1e-12, 0));
  // state 0 emits 0, 1, 0 ; state 1 emits 1, 2, 0, 2 (+1 each)
  EXPECT_TRUE(test::all_close(m.emissionprob(),
                              torch::tensor({3.0 / 6, 2.0 / 6, 1.0 / 6, 2.0 / 7, 2.0 / 7, 3.0 / 7}, f64).view({2, 3}),
                              1e-12, 0));
}

TEST(Hmm, SemiSupervisedTrainingKeepsTheLabelledStateNames) {
  // A quarter of the sequences labelled; the states must come out with the labels' numbering, and the unlabelled
  // sequences must be decoded well.
  torch::Tensor z;
  auto d = gaussian_sequences(40, 50, 4, &z);
  auto labels = z.clone();
  labels.slice(0, 500).fill_(-1);  // sequences 10..39 unlabelled
  // Swap the state names, so an unsupervised fit could not match them by luck of the initialisation.
  auto named = torch::where(labels >= 0, 1 - labels, labels);
  d.labels = named;
  HmmOptions o;
  o.n_components = 2;
  HiddenMarkovModel m(o);
  auto report = m.fit(d, quiet());
  EXPECT_EQ(report.extra["training"], "semi-supervised");
  EXPECT_GT(m.means()[0][0].item<double>(), 2.5);  // label 0 now names the state around 3
  auto path = m.predict(d.x.slice(0, 500), d.lengths.slice(0, 10, 40));
  const double accuracy = path.eq(1 - z.slice(0, 500)).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(accuracy, 0.97);
}

TEST(Hmm, LeftRightTopologyKeepsItsZerosAndFixedParametersStay) {
  auto d = gaussian_sequences(10, 60, 5);
  HmmOptions o;
  o.n_components = 3;
  o.topology = "left-right";
  o.pseudocount = 0.5;
  HiddenMarkovModel m(o);
  m.fit(d, quiet());
  auto t = m.transmat();
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      if (j < i || j > i + 1) {
        EXPECT_EQ(t[i][j].item<double>(), 0.0) << i << "->" << j;
      }
    }
  }
  EXPECT_EQ(m.startprob()[1].item<double>(), 0.0);
  EXPECT_EQ(m.n_parameters(), 2 /*transitions*/ + 3 * 1 + 3 * 1 /*means, diag covars*/);
  EXPECT_NEAR(m.bic(d.x, d.lengths),
              -2 * m.score_sequences(d.x, d.lengths).sum().item<double>() + m.n_parameters() * std::log(600.0), 1e-8);
  // Transitions fixed (params = "se"): they stay as given.
  o.topology = "ergodic";
  o.params = "se";
  o.init_params = "se";
  HiddenMarkovModel fixed(o);
  auto given = torch::tensor({0.5, 0.5, 0.0, 0.0, 0.5, 0.5, 0.5, 0.0, 0.5}, f64).view({3, 3});
  fixed.set_init("transmat", given);
  fixed.fit(d, quiet());
  EXPECT_TRUE(torch::equal(fixed.transmat(), given));
}

TEST(Hmm, MissingObservationsAreMarginalisedInTraining) {
  // Dropping a tenth of the observations of sampled sequences still recovers the means.
  auto d = gaussian_sequences(50, 100, 6);
  auto gen = make_generator(7);
  auto drop = torch::rand({d.x.size(0), 1}, gen, f64) < 0.1;
  d.x = torch::where(drop, torch::full_like(d.x, std::nan("")), d.x);
  HmmOptions o;
  o.n_components = 2;
  HiddenMarkovModel m(o);
  m.fit(d, quiet());
  auto means = std::get<0>(m.means().squeeze(1).sort());
  EXPECT_NEAR(means[0].item<double>(), -2.0, 0.08);
  EXPECT_NEAR(means[1].item<double>(), 3.0, 0.08);
  EXPECT_TRUE(m.score_sequences(d.x, d.lengths).isfinite().all().item<bool>());
  // Categorical: -1 is a missing symbol.
  HmmOptions c;
  c.emission = "categorical";
  Dataset cat{torch::tensor({0, 1, -1, 1, 0, -1, 1}, f64).unsqueeze(1)};
  HiddenMarkovModel cm(c);
  cm.fit(cat, quiet());
  EXPECT_EQ(cm.emissionprob().size(1), 2);
  EXPECT_TRUE(cm.score_sequences(cat.x).isfinite().all().item<bool>());
}

TEST(Hmm, BadInputGetsClearErrors) {
  HmmOptions o;
  o.emission = "categorical";
  o.n_features = 3;
  HiddenMarkovModel m(o);
  Dataset d{torch::tensor({0, 1, 2, 1}, f64).unsqueeze(1)};
  d.lengths = torch::tensor({2, 0, 2}, torch::kLong);
  auto message = [&](const Dataset& data) {
    try {
      HiddenMarkovModel fresh(o);
      fresh.fit(data, quiet());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(d), "sequence 1 has length 0; every sequence needs at least one observation");
  d.lengths = torch::tensor({2, 3}, torch::kLong);
  EXPECT_EQ(message(d), "the sequence lengths sum to 5 but the data has 4 rows");
  d.lengths = torch::Tensor();
  d.x = torch::tensor({0, 1, 3, 1}, f64).unsqueeze(1);
  EXPECT_EQ(message(d), "symbol 3 at row 2 is outside the model's 3 symbols");
  d.x = torch::tensor({0.0, 1.0, 0.5, 1.0}, f64).unsqueeze(1);
  EXPECT_EQ(message(d), "row 2 holds 0.5, which is not a symbol id");
  d.x = torch::tensor({0, 1, 2, 1}, f64).unsqueeze(1);
  d.labels = torch::tensor({0, 1, 2, -1}, torch::kLong);
  EXPECT_EQ(message(d), "state label 2 at row 2 is out of range for 2 states");
  HmmOptions tied;
  tied.emission = "gmm";
  tied.covariance_type = "tied";
  EXPECT_THROW(tied.validate(), InvalidArgument);
  HmmOptions letters;
  letters.params = "stx";
  EXPECT_THROW(letters.validate(), InvalidArgument);
  // A transition matrix not given and not initialised.
  HmmOptions missing_init;
  missing_init.init_params = "se";
  HiddenMarkovModel needs_init(missing_init);
  EXPECT_THROW(needs_init.fit(gaussian_sequences(2, 10, 1), quiet()), InvalidArgument);
}

}  // namespace
}  // namespace gf
