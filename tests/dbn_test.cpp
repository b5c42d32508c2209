// Deep belief nets: the lower bound against the exact log-likelihood of a tiny net, sampling, the fine-tuned
// classifier, the model file and bad options.
#include <gtest/gtest.h>

#include <cmath>

#include "ebm/boltzmann.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/models/dbn.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

ebm::Rbm view(const RestrictedBoltzmannMachine& m) {
  return {ebm::Visible::bernoulli, m.components().to(torch::kFloat64), m.intercept_visible().to(torch::kFloat64),
          m.intercept_hidden().to(torch::kFloat64), {}};
}

// Binary rows [N, 8] from two prototypes with 10 % of the bits flipped.
torch::Tensor two_prototypes(int64_t n, at::Generator& gen, torch::Tensor* labels = nullptr) {
  auto protos = torch::tensor({{1, 1, 1, 1, 0, 0, 0, 0}, {0, 0, 1, 1, 1, 1, 0, 1}}, torch::kFloat32);
  auto which = at::randint(2, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto flip = (at::rand({n, 8}, gen) < 0.1).to(torch::kFloat32);
  if (labels) *labels = which;
  return (protos.index_select(0, which) - flip).abs();
}

TEST(Dbn, TheBoundIsBelowTheExactLogLikelihoodAndTightensWithSamples) {
  auto gen = make_generator(1);
  auto x = two_prototypes(400, gen);
  DbnOptions o;
  o.layers = "4,3";
  o.batch_size = 20;
  o.epochs = 10;
  o.lr = 0.1;
  DeepBeliefNet dbn(o);
  dbn.fit({x}, quiet());
  // Exact: log p(v) = log sum_h1 p(v | h1) p_top(h1), every h1 in {0, 1}^4, the top RBM's log Z enumerated.
  const auto bottom = view(dbn.layer(0)), top = view(dbn.layer(1));
  auto h1 = torch::zeros({16, 4}, torch::kFloat64);
  for (int64_t s = 0; s < 16; ++s) {
    for (int64_t j = 0; j < 4; ++j) h1[s][j] = static_cast<double>((s >> j) & 1);
  }
  auto log_top = -top.free_energy(h1) - ebm::exact_log_z(top);  // [16]
  auto v = x.slice(0, 0, 50).to(torch::kFloat64);                 // [50, 8]
  auto logits = bottom.visible_input(h1);                         // [16, 8]
  auto log_v_given_h = -torch::binary_cross_entropy_with_logits(logits.unsqueeze(0).expand({50, 16, 8}),
                                                                v.unsqueeze(1).expand({50, 16, 8}), {}, {},
                                                                at::Reduction::None)
                            .sum(2);  // [50, 16]
  auto exact = torch::logsumexp(log_v_given_h + log_top.unsqueeze(0), 1);  // [50]
  const double exact_mean = exact.mean().item<double>();
  const double one = dbn.score_samples(x.slice(0, 0, 50)).mean().item<double>();
  DbnOptions many = o;
  many.bound_samples = 2000;
  auto tight = create_model("dbn", DeepBeliefNet::option_table().to_json(many));
  tight->load_state(dbn.state());
  tight->load_state_json(dbn.state_json());
  const double k2000 = tight->score_samples(x.slice(0, 0, 50)).mean().item<double>();
  EXPECT_LT(one, exact_mean + 0.05);
  EXPECT_LE(one, k2000 + 0.05);
  EXPECT_NEAR(k2000, exact_mean, 0.05) << "bound " << k2000 << " exact " << exact_mean;
}

TEST(Dbn, SamplesFineTunedClassifierAndModelFile) {
  auto gen = make_generator(2);
  torch::Tensor labels;
  auto x = two_prototypes(600, gen, &labels);
  auto m = create_model("dbn", {}, {{"layers", "16,8"}, {"n_iter", "20"}, {"batch_size", "20"},
                                    {"fine_tune_epochs", "5"}, {"fine_tune_lr", "0.01"}, {"gibbs_steps", "100"}});
  auto report = m->fit({x, {}, {}, labels}, quiet());
  EXPECT_GT(report.extra["fine_tune"]["train_accuracy"].get<double>(), 0.95);
  const auto& classifier = dynamic_cast<const Classifier&>(*m);
  auto p = classifier.predict_proba(x.slice(0, 0, 100));
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{100, 2}));
  EXPECT_TRUE(test::all_close(p.sum(1), torch::ones({100}), 1e-5, 1e-5));
  EXPECT_GT((p.argmax(1) == labels.slice(0, 0, 100)).to(torch::kFloat).mean().item<double>(), 0.95);
  auto g1 = make_generator(9), g2 = make_generator(9);
  auto s = m->sample(200, g1);
  EXPECT_TRUE(torch::equal(s, m->sample(200, g2)));
  // Samples resemble the prototypes: bits 0, 1 and 4, 5 are anti-correlated.
  auto b0 = s.select(1, 0), b4 = s.select(1, 4);
  EXPECT_LT(((b0 - b0.mean()) * (b4 - b4.mean())).mean().item<double>(), -0.03);  // data: -0.14
  EXPECT_EQ(m->transform(x).size(1), 8);
  test::TempDir dir;
  save_model(*m, dir.file("dbn.gf"));
  auto loaded = load_model(dir.file("dbn.gf"));
  EXPECT_TRUE(torch::equal(loaded->score_samples(x), m->score_samples(x)));
  EXPECT_TRUE(torch::equal(dynamic_cast<const Classifier&>(*loaded).predict_proba(x), classifier.predict_proba(x)));
  // The lowest layer's features on request.
  auto low = load_model(dir.file("dbn.gf"), "", {{"transform_layer", "1"}});
  EXPECT_EQ(low->transform(x).size(1), 16);
  // Without fine-tuning there is no classifier.
  auto plain = create_model("dbn", {}, {{"layers", "4"}, {"n_iter", "1"}});
  plain->fit({x}, quiet());
  EXPECT_THROW(dynamic_cast<const Classifier&>(*plain).predict_proba(x), NotSupported);
}

TEST(Dbn, OneHotColumnsAreSoftmaxGroupsOfTheBottomLayer) {
  // A table with a 3-category column (one-hot): the bottom RBM keeps the group, samples pick exactly one
  // category, and the lower bound is one of a distribution over valid rows.
  auto gen = make_generator(7);
  auto cat = at::randint(3, {300}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto x = torch::cat({torch::one_hot(cat, 3).to(torch::kFloat32), (at::rand({300, 2}, gen) < 0.4).to(torch::kFloat32)}, 1);
  const std::vector<std::string> columns{"c=a", "c=b", "c=c", "u", "w"};
  auto m = create_model("dbn", {}, {{"layers", "6,4"}, {"n_iter", "5"}, {"batch_size", "20"},
                                    {"bound_samples", "500"}});
  m->fit({x, {}, columns}, quiet());
  const auto& dbn = dynamic_cast<const DeepBeliefNet&>(*m);
  ASSERT_EQ(dbn.layer(0).softmax_groups().size(), 1u);
  auto s = m->sample(100, gen);
  EXPECT_TRUE(test::all_close(s.slice(1, 0, 3).sum(1).to(torch::kFloat64), torch::ones({100}, torch::kFloat64),
                              1e-5, 1e-5));
  // Summed over all 3 x 2 x 2 valid rows, the (tight, K = 500) bound's probabilities come to 1: no mass is lost to
  // rows with no or two categories.
  std::vector<torch::Tensor> rows;
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t u = 0; u < 4; ++u) {
      auto r = torch::zeros({5});
      r[c] = 1;
      r[3] = static_cast<float>(u & 1);
      r[4] = static_cast<float>(u >> 1);
      rows.push_back(r);
    }
  }
  EXPECT_NEAR(torch::logsumexp(m->score_samples(torch::stack(rows)), 0).item<double>(), 0.0, 0.03);
}

TEST(Dbn, LongPretrainedClassifierOnFashionMnist) {
  // The classic recipe at a small scale: 784-256-256 pre-trained one epoch on 10000 images, fine-tuned 10 epochs.
  auto train = data::load_source("fashion-mnist", DataKind::images, {10000});
  auto test = data::load_source("fashion-mnist:test", DataKind::images, {2000});
  auto m = create_model("dbn", {}, {{"layers", "256,256"}, {"n_iter", "1"}, {"batch_size", "50"},
                                    {"learning_rate", "0.05"}, {"binarize", "threshold"}, {"fine_tune_epochs", "10"},
                                    {"compute_log_z", "false"}});
  auto rep = m->fit({data::scale_images(train.images.images), {}, {}, train.images.labels}, quiet());
  EXPECT_GT(rep.extra["fine_tune"]["train_accuracy"].get<double>(), 0.85);
  auto p = dynamic_cast<const Classifier&>(*m).predict_proba(data::scale_images(test.images.images));
  const double accuracy = (p.argmax(1) == test.images.labels).to(torch::kFloat).mean().item<double>();
  EXPECT_GT(accuracy, 0.8);
}

TEST(Dbn, BadOptionsGetClearErrors) {
  auto expect_message = [](const OptionOverrides& sets, const std::string& part) {
    test::expect_error_message([&] { create_model("dbn", {}, sets); }, part);
  };
  expect_message({{"layers", ""}}, "layers must list the hidden units of each RBM");
  expect_message({{"layers", "10,0"}}, "every layer needs at least one hidden unit");
  expect_message({{"layers", "10,x"}}, "layers");
  expect_message({{"layers", "10,5"}, {"layer_n_iter", "3"}}, "layer_n_iter must give one value per layer (2)");
  expect_message({{"estimator", "pseudo_likelihood"}}, "a deep belief net scores by its lower bound");
  expect_message({{"transform_layer", "5"}}, "transform_layer must be 0 (top) or a layer 1..2");
  auto m = create_model("dbn", {}, {{"layers", "4"}, {"fine_tune_epochs", "2"}});
  try {
    m->fit({torch::rand({20, 6})}, quiet());
    ADD_FAILURE() << "fine-tuning without labels did not fail";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("the data has no labels"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gf
