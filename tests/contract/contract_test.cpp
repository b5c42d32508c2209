// The model contract, checked for every registered model: a model joins this suite by its registry line alone.
#include <gtest/gtest.h>

#include <cctype>
#include <sstream>
#include <typeinfo>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/io/model_file.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

// Data of the model's kind, drawn from a fixed seed.
Dataset data_for(const Model& model, uint64_t seed) {
  auto gen = make_generator(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  if (model.capabilities().data_kind == DataKind::table) {
    auto z = torch::randn({240, 3}, gen, opts);
    auto shift = (torch::rand({240, 1}, gen, opts) < 0.5).to(torch::kFloat64) * 4.0;
    return {z + shift, {}, {"a", "b", "c"}};
  }
  if (model.capabilities().data_kind == DataKind::images) {
    // 64 small 1x28x28 images of two classes (bright left half or bright top half), values in [0, 1].
    auto kind = torch::rand({64, 1, 1, 1}, gen, opts) < 0.5;
    auto left = torch::zeros({1, 1, 28, 28}, opts), top = torch::zeros({1, 1, 28, 28}, opts);
    left.slice(3, 0, 14).fill_(0.9);
    top.slice(2, 0, 14).fill_(0.9);
    auto noise = torch::rand({64, 1, 28, 28}, gen, opts) * 0.1;
    return {torch::where(kind, left, top) + noise, {}, {}, kind.reshape({64}).to(torch::kLong)};
  }
  if (model.capabilities().data_kind == DataKind::sequences) {
    // 12 sequences of 20 steps that switch between two regimes; categorical models see symbols 0..3.
    auto regime = (torch::rand({240, 1}, gen, opts) < 0.5).to(torch::kFloat64);
    Dataset d;
    if (model.options_json().value("emission", "") == "categorical") {
      d.x = (regime * 2 + (torch::rand({240, 1}, gen, opts) < 0.3).to(torch::kFloat64));
    } else {
      d.x = torch::randn({240, 2}, gen, opts) + regime * 4.0;
    }
    d.lengths = torch::full({12}, 20, torch::kLong);
    return d;
  }
  if (model.capabilities().data_kind == DataKind::documents) {
    // 12 documents of 20 words: half from words 0..4, half from words 5..9.
    auto topic = (torch::rand({12, 1}, gen, opts) < 0.5).to(torch::kFloat64).expand({12, 20});
    auto words = torch::floor(torch::rand({12, 20}, gen, opts) * 5) + topic * 5;
    Dataset d{words.reshape({240, 1})};
    d.lengths = torch::full({12}, 20, torch::kLong);
    return d;
  }
  if (model.capabilities().data_kind == DataKind::text) {
    // 400 tokens of 8 symbols that repeat a short pattern with noise.
    auto noise = (torch::rand({400}, gen, opts) < 0.2).to(torch::kLong);
    auto ids = (torch::arange(400, torch::kLong) % 5 + noise * 3) % 8;
    return {ids.unsqueeze(1).to(torch::kFloat64)};
  }
  if (model.capabilities().data_kind == DataKind::tagged_text) {
    // 30 sentences of determiner-noun-verb over a small lexicon, with some noun/verb ambiguity.
    const std::vector<std::string> dets = {"the", "a"}, nouns = {"dog", "cat", "walk"}, verbs = {"runs", "walk"};
    data::Source s;
    s.form = DataKind::tagged_text;
    for (int i = 0; i < 30; ++i) {
      const auto u = torch::randint(0, 6, {3}, gen).to(torch::kLong);
      s.sentences.push_back({{dets[u[0].item<int64_t>() % 2], nouns[u[1].item<int64_t>() % 3],
                              verbs[u[2].item<int64_t>() % 2]},
                             {"det", "noun", "verb"}});
    }
    data::InputPipeline p(DataKind::tagged_text, {});
    return p.fit_transform(s);
  }
  ADD_FAILURE() << "no contract data for data kind " << to_string(model.capabilities().data_kind);
  return {};
}

// A parameter is a registered name, optionally with variant options: "vae:architecture=conv,conditional=true".
std::unique_ptr<Model> make(const std::string& param) {
  const auto colon = param.find(':');
  const std::string name = param.substr(0, colon);
  // Two components/states where the family has such an option, so the suite exercises a real mixture.
  auto specs = model_info(name).option_specs();
  std::vector<std::pair<std::string, std::string>> set;
  for (const auto& s : specs) {
    if (s.name == "n_components") set.emplace_back("n_components", "2");
    if (s.name == "epochs") set.emplace_back("epochs", "3");  // neural models: a short run
    if (s.name == "max_steps" && s.default_value != "0") set.emplace_back("max_steps", "3");  // step-counted ones
    if (s.name == "hidden") set.emplace_back("hidden", "16");
    if (s.name == "width") set.emplace_back("width", "8");
    // Deep Boltzmann models: small layers (a list; a flow's `layers` is a count and keeps its default).
    if (s.name == "layers" && s.default_value.find(',') != std::string::npos) set.emplace_back("layers", "16,8");
  }
  if (colon != std::string::npos) {
    std::stringstream variant(param.substr(colon + 1));
    for (std::string kv; std::getline(variant, kv, ',');) {
      const auto eq = kv.find('=');
      set.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  return create_model(name, nlohmann::json::object(), set);
}

bool has_scores(const Model& m) { return m.capabilities().likelihood != Likelihood::none; }

// What a fitted model puts out from `gen`: its samples, or -- for a model that does not generate (a classifier)
// -- its class probabilities on the contract data.
torch::Tensor outputs(const Model& m, int64_t n, at::Generator& gen) {
  if (m.capabilities().generates) return m.sample(n, gen);
  const auto* classifier = dynamic_cast<const Classifier*>(&m);
  EXPECT_NE(classifier, nullptr) << m.kind() << " neither generates nor classifies";
  return classifier ? classifier->predict_proba(data_for(m, 1).x) : torch::Tensor();
}

using test::quiet;

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
  if (m->latent_dim() > 0) { EXPECT_THROW(m->decode(torch::zeros({2, m->latent_dim()})), NotFitted); }
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
  if (!m->capabilities().generates) {
    EXPECT_THROW(m->sample(17, gen), NotSupported);
    const auto p = outputs(*m, 17, gen);  // class probabilities [N, K] that sum to one
    ASSERT_EQ(p.dim(), 2);
    EXPECT_EQ(p.size(0), d.x.size(0));
    EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({p.size(0)}, p.options()), 1e-6, 1e-6));
  } else {
    auto s = m->sample(17, gen);
    auto want = d.x.sizes().vec();  // samples look like the data: [17, D] rows or [17, C, H, W] images
    want[0] = 17;
    EXPECT_EQ(s.sizes().vec(), want);
  }
  if (m->latent_dim() > 0) {
    auto strip = interpolate_latent(*m, 5, 2, gen);
    EXPECT_EQ(strip.size(0), 10);
    EXPECT_EQ(strip.sizes().slice(1), d.x.sizes().slice(1));
  }
  if (!has_scores(*m)) {
    EXPECT_THROW(m->score_samples(d.x), NotSupported);
    return;
  }
  auto ll = m->score_samples(d.x);
  EXPECT_EQ(ll.sizes(), (std::vector<int64_t>{d.x.size(0)}));
  EXPECT_TRUE(ll.isfinite().all().item<bool>());
  if (m->capabilities().data_kind == DataKind::table) { EXPECT_EQ(m->schema()["columns"], nlohmann::json(d.columns)); }
}

TEST_P(Contract, SameSeedSameSamples) {
  auto m = make(GetParam());
  m->fit(data_for(*m, 1), quiet());
  auto g1 = make_generator(42), g2 = make_generator(42), g3 = make_generator(43);
  auto a = outputs(*m, 50, g1), b = outputs(*m, 50, g2), c = outputs(*m, 50, g3);
  EXPECT_TRUE(torch::equal(a, b));
  if (m->capabilities().generates) { EXPECT_FALSE(torch::equal(a, c)); }
}

TEST_P(Contract, SaveLoadRoundTripGivesIdenticalScoresAndSamples) {
  auto m = make(GetParam());
  auto d = data_for(*m, 1);
  m->fit(d, quiet());
  test::TempDir dir;
  save_model(*m, dir.file("m.gf"));
  auto loaded = load_model(dir.file("m.gf"), m->kind());
  EXPECT_EQ(loaded->kind(), m->kind());
  EXPECT_EQ(loaded->options_json(), m->options_json());
  EXPECT_EQ(loaded->schema(), m->schema());
  EXPECT_EQ(loaded->fit_report().n_iter, m->fit_report().n_iter);
  if (has_scores(*m)) { EXPECT_TRUE(torch::equal(loaded->score_samples(d.x), m->score_samples(d.x))); }
  auto g1 = make_generator(3), g2 = make_generator(3);
  EXPECT_TRUE(torch::equal(outputs(*loaded, 20, g1), outputs(*m, 20, g2)));
}

// A file with any one tensor taken out, or with one grown by an element, is refused as damaged (a ModelFileError
// naming the file) or, where the family can do without it, loads and samples; never another exception or a crash
// (the fuzzer found a table model whose load threw std::out_of_range for a missing tensor).
TEST_P(Contract, AFileMissingOrMisshapingATensorIsRefusedAsDamaged) {
  auto m = make(GetParam());
  m->fit(data_for(*m, 1), quiet());
  test::TempDir dir;
  save_model(*m, dir.file("m.gf"));
  const auto whole = read_model_file(dir.file("m.gf"));
  const auto try_load = [&](const ModelFileContents& c, const std::string& what) {
    write_model_file(dir.file("bad.gf"), c);
    try {
      auto loaded = load_model(dir.file("bad.gf"));
      auto gen = make_generator(0);
      outputs(*loaded, 4, gen);
    } catch (const ModelFileError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("'" + dir.file("bad.gf") + "': ", 0), 0u) << what << ": " << e.what();
    } catch (const Error& e) {
      // Loaded, then refused by the model's own checks: a gf::Error with a message is acceptable use of a file
      // whose optional tensor was taken out; a damaged required tensor must not get this far.
      SUCCEED() << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": " << typeid(e).name() << ": " << e.what();
    }
  };
  for (const auto& [name, t] : whole.tensors) {
    auto missing = whole;
    missing.tensors.erase(name);
    try_load(missing, "without '" + name + "'");
    auto grown = whole;
    grown.tensors[name] = torch::cat({t.reshape({-1}), t.reshape({-1}).slice(0, 0, 1)}).clone();
    try_load(grown, "'" + name + "' grown to " + std::to_string(t.numel() + 1) + " elements");
  }
}

TEST_P(Contract, RefitIgnoresThePreviousFit) {
  auto once = make(GetParam()), twice = make(GetParam());
  auto a = data_for(*once, 1), b = data_for(*once, 2);
  twice->fit(a, quiet());
  twice->fit(b, quiet());
  once->fit(b, quiet());
  if (has_scores(*once)) { EXPECT_TRUE(torch::equal(once->score_samples(b.x), twice->score_samples(b.x))); }
  auto g1 = make_generator(5), g2 = make_generator(5);
  EXPECT_TRUE(torch::equal(outputs(*once, 8, g1), outputs(*twice, 8, g2)));
}

// Same seed, same result, whatever the thread count: a fit with 1 and with 2 intra-op threads gives the same
// parameters (state tensors) to 1e-9. The float32 networks with convolutions or batch normalisation (gan, flow,
// pixelcnn, ctgan, conv VAEs and autoencoders) are the documented exception (docs/training.md, "Determinism"):
// LibTorch splits those kernels' sums by thread count, so the last bits differ and a few training steps grow that to
// ~1e-3; they must still agree to 1e-2 -- a seed that depended on the thread count would not.
bool thread_count_changes_the_last_bits(const std::string& param) {
  for (const char* family : {"gan", "flow", "pixelcnn", "ctgan"}) {
    if (param.rfind(family, 0) == 0 && param.rfind("gan:architecture=mlp", 0) != 0) return true;
  }
  return param.find("architecture=conv") != std::string::npos;
}

// How close a float tensor of `param`'s model must be on 1 and 2 threads: the families above at 1e-2; float32
// tensors to their rounding (1e-5), as BLAS kernels may split a product's sums by thread (OpenBLAS's Haswell and
// Prescott kernels do, its SkylakeX ones do not); float64 ones to 1e-9.
double thread_tolerance(const std::string& param, const torch::Tensor& t) {
  if (thread_count_changes_the_last_bits(param)) return 1e-2;
  return t.scalar_type() == torch::kFloat64 ? 1e-9 : 1e-5;
}

// A model whose parameters are float32 computes its samples and scores in float32 (whatever dtype they come in).
bool computes_in_float32(const Model& m) {
  for (const auto& [name, t] : m.state()) {
    if (t.scalar_type() == torch::kFloat32) return true;
  }
  return false;
}

TEST_P(Contract, SameSeedSameFitOnOneAndTwoThreads) {
  const int before = threads();
  auto fit_with = [&](int n) {
    set_threads(n);
    auto m = make(GetParam());
    m->fit(data_for(*m, 1), quiet());
    return m;
  };
  auto one = fit_with(1), two = fit_with(2);
  set_threads(before);
  const auto a = one->state(), b = two->state();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(b.count(name));
    if (!tensor.is_floating_point()) {
      EXPECT_TRUE(torch::equal(tensor, b.at(name)));
    } else {
      const double tolerance = thread_tolerance(GetParam(), tensor);
      EXPECT_TRUE(torch::allclose(tensor.to(torch::kFloat64), b.at(name).to(torch::kFloat64), tolerance, tolerance))
          << "max difference " << (tensor.to(torch::kFloat64) - b.at(name).to(torch::kFloat64)).abs().max().item<double>();
    }
  }
}

// The verbs after the fit: one fitted model samples (same seed) and scores on 1 and then 2 threads.
TEST_P(Contract, SameSeedSameSamplesAndScoresOnOneAndTwoThreads) {
  const int before = threads();
  set_threads(1);
  auto m = make(GetParam());
  const auto d = data_for(*m, 1);
  m->fit(d, quiet());
  auto verbs_with = [&](int n) {
    set_threads(n);
    auto gen = make_generator(5);
    return std::make_pair(outputs(*m, 24, gen), has_scores(*m) ? m->score_samples(d.x) : torch::Tensor());
  };
  const auto one = verbs_with(1), two = verbs_with(2);
  set_threads(before);
  auto same = [&](const torch::Tensor& a, const torch::Tensor& b, const char* what) {
    SCOPED_TRACE(what);
    ASSERT_EQ(a.sizes(), b.sizes());
    const double tolerance = thread_tolerance(GetParam(), computes_in_float32(*m) ? a.to(torch::kFloat32) : a);
    const auto x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
    EXPECT_TRUE(torch::allclose(x, y, tolerance, tolerance, /*equal_nan=*/true))
        << "max difference " << (x - y).abs().nan_to_num(0).max().item<double>();
  };
  same(one.first, two.first, "samples");
  if (one.second.defined()) same(one.second, two.second, "scores");
}

TEST_P(Contract, ClassConditionalModelsSampleTheClassAskedFor) {
  auto m = make(GetParam());
  m->fit(data_for(*m, 1), quiet());
  auto gen = make_generator(0);
  if (m->n_classes() == 0) {
    EXPECT_THROW(m->sample_labelled(torch::tensor({0}), gen), NotSupported);
    return;
  }
  EXPECT_EQ(m->n_classes(), 2);
  EXPECT_EQ(m->sample_labelled(torch::tensor({0, 1, 1}), gen).size(0), 3);
  EXPECT_THROW(m->sample_labelled(torch::tensor({0, 2}), gen), InvalidArgument);  // class index out of range
  EXPECT_THROW(m->sample_labelled(torch::tensor({-1}), gen), InvalidArgument);
}

// A model that fills in (ConditionalSampler: imputation, inpainting) returns the rows' shape with every missing cell
// filled and the observed ones kept (to the model's value resolution: a PixelCNN's 256 levels), the same fill for
// the same seed; a class-conditional one fills both given each row's class and without it.
TEST_P(Contract, ConditionalSamplersFillOnlyTheMissingCells) {
  auto m = make(GetParam());
  const auto* sampler = dynamic_cast<const ConditionalSampler*>(m.get());
  const auto kind = m->capabilities().data_kind;
  if (sampler == nullptr || (kind != DataKind::table && kind != DataKind::images)) {
    GTEST_SKIP() << m->kind() << " does not fill in rows or images";
  }
  const auto d = data_for(*m, 1);
  m->fit(d, quiet());
  auto x = d.x.slice(0, 0, 6).clone();
  if (kind == DataKind::images) {
    x.slice(2, 14, 28).fill_(NAN);  // the bottom half
  } else {
    for (auto [row, column] : {std::pair{0, 0}, {1, 2}, {2, 0}, {2, 1}}) x[row][column] = NAN;  // two in row 2
  }
  const auto observed = x.isnan().logical_not();
  auto check = [&](const torch::Tensor& filled, const char* what) {
    ASSERT_EQ(filled.sizes(), x.sizes()) << what;
    EXPECT_TRUE(torch::isfinite(filled).all().item<bool>()) << what;
    const double moved =
        (filled.to(torch::kFloat64) - x.nan_to_num(0.0)).abs().masked_select(observed).max().item<double>();
    EXPECT_LE(moved, 2.5e-3) << what << ": an observed cell changed";
  };
  auto gen = make_generator(5), again = make_generator(5);
  const auto filled = sampler->conditional_sample(x, gen);
  check(filled, "conditional_sample");
  EXPECT_TRUE(torch::equal(filled, sampler->conditional_sample(x, again))) << "the same seed filled differently";
  if (m->n_classes() > 0) {
    const auto given = sampler->conditional_samples_given_class(x, d.labels.slice(0, 0, 6), 2, gen);
    ASSERT_EQ(given.size(0), 2);
    check(given[0], "given the class");
    check(given[1], "given the class (second draw)");
  }
}

// Every registered model with its defaults, plus the variants whose networks or training differ.
std::vector<std::string> model_names() {
  std::vector<std::string> out;
  for (const auto& m : registered_models()) out.push_back(m.name);
  for (const char* v : {"vae:architecture=conv", "vae:conditional=true,decoder=gaussian", "autoencoder:architecture=conv",
                        "gan:architecture=mlp", "gan:loss=wgan-gp", "gan:conditional=true",
                        "flow:conditional=true", "hmm:emission=categorical", "hmm:emission=gmm,covariance_type=full"}) {
    out.push_back(v);
  }
  return out;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Registered, Contract, ::testing::ValuesIn(model_names()), test_name);

}  // namespace
}  // namespace gf
