// The classifier of `finetune --new-head`: layer stacks rebuilt from JSON compute what the networks they were cut
// from compute (VAE encoder, MLP and DCGAN discriminators), a frozen trunk stays bit for bit, the head is new, the
// score verb reports the classification, and bad input is refused clearly.
#include <gtest/gtest.h>

#include "genforge/apps/finetune.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/classifier.h"
#include "genforge/models/gan.h"
#include "genforge/models/vae.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "nn/layer_stack.h"
#include "nn/neural.h"
#include "support/support.h"

namespace gf {
namespace {

// Two classes of 1x8x8 images: a bright left half or a bright top half, with noise; labels 0 / 1.
data::Source two_class_images(int64_t n, unsigned seed) {
  torch::manual_seed(seed);
  auto kind = torch::rand({n}) < 0.5;
  auto left = torch::zeros({1, 1, 8, 8}), top = torch::zeros({1, 1, 8, 8});
  left.slice(3, 0, 4).fill_(200);
  top.slice(2, 0, 4).fill_(200);
  auto images = torch::where(kind.reshape({n, 1, 1, 1}), left, top) + torch::rand({n, 1, 8, 8}) * 50;
  data::Source s;
  s.form = DataKind::images;
  s.spec = "two-class images";
  s.images.images = images.to(torch::kUInt8);
  s.images.labels = kind.to(torch::kLong);
  s.images.class_names = {"top", "left"};
  return s;
}

std::string save_fitted(const test::TempDir& dir, const std::string& kind, const OptionOverrides& sets,
                        const std::string& name) {
  OptionOverrides all = {{"max_steps", "20"}, {"batch_size", "16"}, {"checkpoint_every", "0"}};
  all.insert(all.end(), sets.begin(), sets.end());
  auto model = create_model(kind, {}, all);
  fit_source(*model, two_class_images(64, 1), test::quiet());
  const std::string path = dir.file(name);
  save_model(*model, path);
  return path;
}

// Fine-tunes a head only (the trunk frozen) on two-class images.
apps::FinetuneResult head_only(const std::string& base, int64_t steps = 30) {
  apps::FinetuneOptions o;
  o.new_head = "classes=2";
  o.train_only = {"head.*"};
  o.settings = {{"max_steps", std::to_string(steps)}, {"lr", "1e-2"}, {"batch_size", "16"}};
  return apps::finetune(base, two_class_images(64, 2), o, test::quiet());
}

template <class E, class F>
void expect_classifier_error(F&& f, const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "no error for " << words;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "another kind of error for '" << words << "': " << e.what();
  }
}

const NeuralClassifier& as_classifier(const Model& m) { return dynamic_cast<const NeuralClassifier&>(m); }

TEST(Classifier, VaeEncoderTrunkComputesTheEncodersHiddenLayerAndStaysFrozen) {
  test::TempDir dir;
  for (const char* arch : {"mlp", "conv"}) {
    SCOPED_TRACE(arch);
    const std::string base_path = save_fitted(dir, "vae", {{"architecture", arch}, {"hidden", "16"}, {"latent", "3"}},
                                              std::string(arch) + ".gf");
    const auto base = load_model(base_path);
    auto r = head_only(base_path);
    const auto& clf = as_classifier(*r.model);
    EXPECT_EQ(clf.classes(), 2);
    // The code layer applied to the classifier's features gives the VAE's code means: the trunk is the encoder.
    const Dataset d = prepare(*base, two_class_images(10, 3));
    const auto features = clf.features(d.x);  // [10, 16]
    ASSERT_EQ(features.sizes(), (std::vector<int64_t>{10, 16}));
    const auto state = base->state();
    const auto w = state.at("codec.fc_code.weight").slice(0, 0, 3), b = state.at("codec.fc_code.bias").slice(0, 0, 3);
    const auto means = base->transform(d.x).to(torch::kFloat32);  // [10, 3]
    EXPECT_TRUE(torch::allclose(torch::addmm(b, features, w.t()), means, 1e-5, 1e-5));
    // Frozen: every trunk tensor equals the base's; the head trained.
    const auto after = r.model->state();
    const auto trunk_names = std::string(arch) == "conv"
                                 ? std::vector<std::pair<std::string, std::string>>{{"trunk.0.weight", "codec.conv_encoder.conv1.weight"},
                                                                                    {"trunk.2.bias", "codec.conv_encoder.conv2.bias"},
                                                                                    {"trunk.5.weight", "codec.fc1.weight"}}
                                 : std::vector<std::pair<std::string, std::string>>{{"trunk.1.weight", "codec.fc1.weight"},
                                                                                    {"trunk.1.bias", "codec.fc1.bias"}};
    for (const auto& [mine, theirs] : trunk_names) EXPECT_TRUE(torch::equal(after.at(mine), state.at(theirs))) << mine;
    EXPECT_EQ(after.at("head.weight").sizes(), (std::vector<int64_t>{2, 16}));
    const auto& record = r.report.extra.at("finetune");
    EXPECT_EQ(record["new_head"]["classes"], 2);
    EXPECT_EQ(record["new_head"]["trunk"], "vae encoder");
    EXPECT_EQ(record["phases"][0]["trained"]["names"], nlohmann::json({"head.bias", "head.weight"}));
  }
}

TEST(Classifier, GanDiscriminatorTrunkGivesTheDiscriminatorsLogitThroughItsLastLayer) {
  test::TempDir dir;
  // MLP discriminator (last layer "discriminator.4", Linear(hidden, 1)) and the DCGAN one on 28x28 images (last
  // layer "discriminator.8", a 3x3 convolution without bias over 3x3 features, batch norm in between).
  struct Case {
    OptionOverrides sets;
    std::string last;
    int64_t side;
  };
  for (const Case& c : {Case{{{"architecture", "mlp"}, {"hidden", "16"}}, "discriminator.4", 8},
                        Case{{{"architecture", "dcgan"}, {"width", "4"}}, "discriminator.8", 28}}) {
    SCOPED_TRACE(c.last);
    auto gan = create_model("gan", {}, [&] {
      OptionOverrides all = {{"max_steps", "6"}, {"batch_size", "16"}, {"checkpoint_every", "0"}};
      all.insert(all.end(), c.sets.begin(), c.sets.end());
      return all;
    }());
    data::Source images = two_class_images(48, 4);
    if (c.side != 8) {
      // 28x28: each pixel repeated into a block (8 * 3.5 -> nearest rows / columns).
      auto index = (torch::arange(28) * 8 / 28).to(torch::kLong);
      images.images.images = images.images.images.index_select(2, index).index_select(3, index).contiguous();
    }
    fit_source(*gan, images, test::quiet());
    const std::string path = dir.file("gan.gf");
    save_model(*gan, path);
    // The stack rebuilt from the export (a fine-tuned classifier's batch norm statistics move in training).
    const TrunkExport cut = dynamic_cast<const FeatureTrunk&>(*gan).feature_trunk();
    auto stack = neural::build_layer_stack(nlohmann::json::parse(cut.spec.dump()));
    TensorMap weights(cut.weights.begin(), cut.weights.end());
    neural::load_module(*stack.layers, "", weights);
    stack.layers->eval();
    const Dataset d = prepare(*gan, images);
    const auto features = stack.layers->forward(d.x.slice(0, 0, 6).to(torch::kFloat32));  // [6, F]
    const auto state = gan->state();
    const auto w = state.at(c.last + ".weight").reshape({1, -1});
    auto logit = torch::mm(features, w.t()).reshape({-1});
    if (state.count(c.last + ".bias")) logit = logit + state.at(c.last + ".bias");
    const auto p = dynamic_cast<const Gan&>(*gan).discriminate(d.x.slice(0, 0, 6)).to(torch::kFloat32);
    EXPECT_TRUE(torch::allclose(torch::sigmoid(logit), p, 1e-5, 1e-5)) << torch::sigmoid(logit) << p;
    EXPECT_EQ(cut.part, "gan discriminator");
    apps::FinetuneOptions o;
    o.new_head = "classes=2";
    o.settings = {{"max_steps", "4"}, {"batch_size", "16"}};
    auto r = apps::finetune(path, images, o, test::quiet());
    EXPECT_EQ(r.report.extra.at("finetune")["new_head"]["trunk"], "gan discriminator");
  }
}

TEST(Classifier, LearnsTwoClassesAndScoreReportsTheClassification) {
  auto model = create_model("classifier", {}, {{"max_steps", "60"}, {"batch_size", "16"}, {"hidden", "16"}});
  const auto train = two_class_images(64, 5);
  const FitReport report = fit_source(*model, train, test::quiet());
  EXPECT_GE(report.extra.at("train_accuracy").get<double>(), 0.95);
  EXPECT_FALSE(model->capabilities().generates);
  auto gen = make_generator(0);
  EXPECT_THROW(model->sample(3, gen), NotSupported);
  const auto test_set = two_class_images(40, 6);
  const ScoreResult r = score_source(*model, test_set);
  ASSERT_TRUE(r.classification.has_value());
  EXPECT_GE(r.classification->accuracy, 0.95);
  EXPECT_EQ(r.per_example.names(), (std::vector<std::string>{"predicted", "p_top", "p_left"}));
  // Probabilities sum to one and the predicted class is the likelier one.
  const Dataset d = prepare(*model, test_set);
  const auto p = as_classifier(*model).predict_proba(d.x);
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({40}, torch::kFloat64)));
  EXPECT_EQ(r.classification->accuracy, (p.argmax(1) == d.labels).to(torch::kFloat64).mean().item<double>());
  // Without labels: predictions only.
  auto unlabelled = test_set;
  unlabelled.images.labels = torch::Tensor();
  const ScoreResult u = score_source(*model, unlabelled);
  EXPECT_FALSE(u.classification.has_value());
  EXPECT_NE(u.description.find("no labels"), std::string::npos) << u.description;
}

TEST(Classifier, ReinitialisedTrunkStartsFromFreshWeights) {
  test::TempDir dir;
  const std::string base_path = save_fitted(dir, "vae", {{"hidden", "16"}, {"latent", "3"}}, "vae.gf");
  apps::FinetuneOptions o;
  o.new_head = "classes=2";
  o.train_only = {"head.*"};
  o.reinitialise = true;
  o.settings = {{"max_steps", "5"}, {"batch_size", "16"}};
  auto r = apps::finetune(base_path, two_class_images(32, 2), o, test::quiet());
  EXPECT_FALSE(torch::equal(r.model->state().at("trunk.1.weight"), load_model(base_path)->state().at("codec.fc1.weight")));
  EXPECT_EQ(r.report.extra.at("finetune")["reinitialised"], true);
}

TEST(Classifier, BadInputGetsClearErrors) {
  test::TempDir dir;
  const std::string vae = save_fitted(dir, "vae", {{"hidden", "8"}, {"latent", "2"}}, "vae.gf");
  auto attempt = [&](const std::string& base, const std::string& head, const data::Source& data) {
    apps::FinetuneOptions o;
    o.new_head = head;
    o.settings = {{"max_steps", "2"}};
    apps::finetune(base, data, o, test::quiet());
  };
  expect_classifier_error<InvalidArgument>([&] { attempt(vae, "classes=1", two_class_images(16, 1)); },
                                      "--new-head classes=K needs K >= 2, got '1'");
  expect_classifier_error<InvalidArgument>([&] { attempt(vae, "labels=3", two_class_images(16, 1)); },
                                      "--new-head takes classes=K or vocab, got 'labels=3'");
  expect_classifier_error<NotSupported>([&] { attempt(vae, "vocab", two_class_images(16, 1)); },
                                   "a vae model does not read tokens, so it has no vocabulary to replace");
  auto unlabelled = two_class_images(16, 1);
  unlabelled.images.labels = torch::Tensor();
  expect_classifier_error<DataError>([&] { attempt(vae, "classes=2", unlabelled); },
                                "a classifier fit needs one class label per example; the data has no labels");
  auto three = two_class_images(16, 1);
  three.images.labels[0] = 2;
  expect_classifier_error<DataError>([&] { attempt(vae, "classes=2", three); },
                                "a class label is 2 but the classifier has 2 classes");
  const std::string conditional =
      save_fitted(dir, "vae", {{"hidden", "8"}, {"latent", "2"}, {"conditional", "true"}}, "cvae.gf");
  expect_classifier_error<NotSupported>([&] { attempt(conditional, "classes=2", two_class_images(16, 1)); },
                                   "the vae encoder of a class-conditional model also takes the class");
  const std::string pixelcnn = save_fitted(dir, "pixelcnn", {{"max_steps", "2"}}, "pixelcnn.gf");
  expect_classifier_error<NotSupported>([&] { attempt(pixelcnn, "classes=2", two_class_images(16, 1)); },
                             "a pixelcnn model has no encoder or discriminator to put a classification head on");
  // Layer stacks read from a file are checked before anything is built.
  using neural::build_layer_stack;
  auto stack = [](const char* text) { return build_layer_stack(nlohmann::json::parse(text)); };
  expect_classifier_error<InvalidArgument>([&] { stack(R"({"input": [4], "layers": [{"type": "softmax"}]})"); },
                                      "layer 0 has an unknown type 'softmax'");
  expect_classifier_error<InvalidArgument>(
      [&] { stack(R"({"input": [1, 8, 8], "layers": [{"type": "linear", "in": 64, "out": 4}]})"); },
      "layer 0 (linear 64 -> 4) gets examples of shape 1x8x8 (flatten first)");
  expect_classifier_error<InvalidArgument>(
      [&] { stack(R"({"input": [1, 8, 8], "layers": [{"type": "relu"}]})"); },
      "a layer stack must end with flat features (add a flatten layer), it ends with 1x8x8");
  expect_classifier_error<InvalidArgument>(
      [&] {
        stack(R"({"input": [4], "layers": [{"type": "linear", "in": 4, "out": 1048576},
                 {"type": "linear", "in": 1048576, "out": 1048576}]})");
      },
      "a layer stack holds at most 268435456 weights");
  expect_classifier_error<InvalidArgument>(
      [&] { stack(R"({"input": [2], "layers": [{"type": "standardize", "mean": [0, 1, 2], "scale": [1]}]})"); },
      "layer 0 (standardize): 'mean' holds 3 values for examples of shape 2 (1 or one per element)");
}

}  // namespace
}  // namespace gf
