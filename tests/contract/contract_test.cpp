// The model contract, checked for every registered model: a model joins this suite by its registry line alone.
#include <gtest/gtest.h>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

// Data of the model's kind, drawn from a fixed seed.
Dataset data_for(const Model& model, uint64_t seed) {
  auto gen = make_generator(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  if (model.capabilities().data_kind == "table") {
    auto z = torch::randn({240, 3}, gen, opts);
    auto shift = (torch::rand({240, 1}, gen, opts) < 0.5).to(torch::kFloat64) * 4.0;
    return {z + shift, {}, {"a", "b", "c"}};
  }
  if (model.capabilities().data_kind == "images") {
    // 64 tiny 1x6x6 images of two kinds (bright left half or bright top half), values in [0, 1].
    auto kind = torch::rand({64, 1, 1, 1}, gen, opts) < 0.5;
    auto left = torch::zeros({1, 1, 6, 6}, opts), top = torch::zeros({1, 1, 6, 6}, opts);
    left.slice(3, 0, 3).fill_(0.9);
    top.slice(2, 0, 3).fill_(0.9);
    auto noise = torch::rand({64, 1, 6, 6}, gen, opts) * 0.1;
    return {torch::where(kind, left, top) + noise, {}, {}};
  }
  ADD_FAILURE() << "no contract data for data kind " << model.capabilities().data_kind;
  return {};
}

std::unique_ptr<Model> make(const std::string& name) {
  // Two components/states where the family has such an option, so the suite exercises a real mixture.
  auto specs = model_info(name).option_specs();
  std::vector<std::pair<std::string, std::string>> set;
  for (const auto& s : specs) {
    if (s.name == "n_components") set.emplace_back("n_components", "2");
    if (s.name == "epochs") set.emplace_back("epochs", "3");  // neural models: a short run
    if (s.name == "hidden") set.emplace_back("hidden", "16");
  }
  return create_model(name, nlohmann::json::object(), set);
}

FitContext quiet() {
  FitContext c;
  c.progress = false;
  return c;
}

class Contract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { old_ = log::set_warning_sink([](const std::string&) {}); }
  void TearDown() override { log::set_warning_sink(old_); }
  log::WarningSink old_;
};

TEST_P(Contract, UnfittedModelRefusesWithNotFitted) {
  auto m = make(GetParam());
  auto gen = make_generator(0);
  EXPECT_FALSE(m->fitted());
  EXPECT_THROW(m->sample(3, gen), NotFitted);
  EXPECT_THROW(m->score_samples(data_for(*m, 1).x), NotFitted);
  EXPECT_THROW(m->state(), NotFitted);
  test::TempDir dir;
  EXPECT_THROW(save_model(*m, dir.file("m.gf")), NotFitted);
}

TEST_P(Contract, ShapesOfScoresAndSamples) {
  auto m = make(GetParam());
  auto d = data_for(*m, 1);
  auto report = m->fit(d, quiet());
  EXPECT_TRUE(m->fitted());
  EXPECT_GE(report.n_iter, 1);
  auto gen = make_generator(0);
  auto s = m->sample(17, gen);
  auto want = d.x.sizes().vec();  // samples look like the data: [17, D] rows or [17, C, H, W] images
  want[0] = 17;
  EXPECT_EQ(s.sizes().vec(), want);
  auto ll = m->score_samples(d.x);
  EXPECT_EQ(ll.sizes(), (std::vector<int64_t>{d.x.size(0)}));
  EXPECT_TRUE(ll.isfinite().all().item<bool>());
  if (m->capabilities().data_kind == "table") EXPECT_EQ(m->schema()["columns"], nlohmann::json(d.columns));
}

TEST_P(Contract, SameSeedSameSamples) {
  auto m = make(GetParam());
  m->fit(data_for(*m, 1), quiet());
  auto g1 = make_generator(42), g2 = make_generator(42), g3 = make_generator(43);
  auto a = m->sample(50, g1), b = m->sample(50, g2), c = m->sample(50, g3);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
}

TEST_P(Contract, SaveLoadRoundTripGivesIdenticalScoresAndSamples) {
  auto m = make(GetParam());
  auto d = data_for(*m, 1);
  m->fit(d, quiet());
  test::TempDir dir;
  save_model(*m, dir.file("m.gf"));
  auto loaded = load_model(dir.file("m.gf"), GetParam());
  EXPECT_EQ(loaded->kind(), m->kind());
  EXPECT_EQ(loaded->options_json(), m->options_json());
  EXPECT_EQ(loaded->schema(), m->schema());
  EXPECT_EQ(loaded->fit_report().n_iter, m->fit_report().n_iter);
  EXPECT_TRUE(torch::equal(loaded->score_samples(d.x), m->score_samples(d.x)));
  auto g1 = make_generator(3), g2 = make_generator(3);
  EXPECT_TRUE(torch::equal(loaded->sample(20, g1), m->sample(20, g2)));
}

TEST_P(Contract, RefitIgnoresThePreviousFit) {
  auto once = make(GetParam()), twice = make(GetParam());
  auto a = data_for(*once, 1), b = data_for(*once, 2);
  twice->fit(a, quiet());
  twice->fit(b, quiet());
  once->fit(b, quiet());
  EXPECT_TRUE(torch::equal(once->score_samples(b.x), twice->score_samples(b.x)));
}

std::vector<std::string> model_names() {
  std::vector<std::string> out;
  for (const auto& m : registered_models()) out.push_back(m.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Registered, Contract, ::testing::ValuesIn(model_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace gf
