// The applications (apps/): anomaly detection and imputation, on planted data, with golden detection metrics.
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/apps/anomaly.h"
#include "genforge/apps/impute.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/data/matrix.h"
#include "genforge/eval/detection.h"
#include "genforge/model_interfaces.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

data::Source table_source(const torch::Tensor& x, std::vector<std::string> names, const std::string& spec) {
  for (int64_t j = static_cast<int64_t>(names.size()); j < x.size(1); ++j) names.push_back("x" + std::to_string(j));
  data::Source s;
  s.spec = spec;
  s.form = DataKind::table;
  s.table = table_from_matrix(x, names);
  return s;
}

std::unique_ptr<Model> fitted(const std::string& kind, const data::Source& data, const OptionOverrides& sets) {
  auto model = create_model(kind, {}, sets);
  fit_source(*model, data, test::quiet());
  return model;
}

data::Source few_images(int64_t n, const std::vector<std::string>& classes = {}) {
  data::SourceOptions options;
  options.limit = n;
  options.classes = classes;
  return data::load_source("fashion-mnist:test", DataKind::images, options);
}

TEST(Detection, MatchesScikitLearnAndPyod) {
  const auto golden = test::read_json(test::source_path("tests/reference/detection_golden.json"));
  for (const auto& c : golden["cases"]) {
    const auto labels = c["labels"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    const auto r = eval::evaluate_detection(labels, scores);
    EXPECT_NEAR(r.roc_auc, c["roc_auc"].get<double>(), 1e-12);
    EXPECT_NEAR(r.average_precision, c["average_precision"].get<double>(), 1e-12);
    EXPECT_NEAR(r.precision_at_n, c["precision_at_n"].get<double>(), 1e-12);
  }
}

TEST(Detection, RefusesOneClassAndNonFiniteScores) {
  EXPECT_THROW(eval::evaluate_detection({0, 0, 0}, {1, 2, 3}), InvalidArgument);
  EXPECT_THROW(eval::evaluate_detection({0, 1, 0}, {1, NAN, 3}), InvalidArgument);
  EXPECT_THROW(eval::evaluate_detection({0, 1}, {1, 2, 3}), InvalidArgument);
}

class Anomaly : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = make_generator(3);
    auto normal = at::randn({400, 2}, gen, torch::kFloat64);
    train_ = table_source(normal, {"a", "b"}, "train");
    // 200 fresh normal rows and a planted cluster of 20 far away.
    auto test_normal = at::randn({200, 2}, gen, torch::kFloat64);
    auto planted = at::randn({20, 2}, gen, torch::kFloat64) * 0.3 + 6.0;
    test_ = table_source(torch::cat({test_normal, planted}), {"a", "b"}, "test");
    model_ = fitted("gmm", train_, {{"n_components", "1"}});
  }
  data::Source train_, test_;
  std::unique_ptr<Model> model_;
};

TEST_F(Anomaly, FindsAPlantedClusterAndCalibratesTheThreshold) {
  apps::AnomalyOptions o;
  o.contamination = 0.05;
  const auto calibration = apps::calibrate_anomaly(*model_, train_, o);
  EXPECT_EQ(calibration.calibration_items, 400);
  // The threshold is the 95 % quantile of the training scores: 5 % of them lie above it.
  const auto on_train = apps::detect_anomalies(*model_, train_, calibration);
  EXPECT_EQ(on_train.flag.sum().item<int64_t>(), 20);
  const auto r = apps::detect_anomalies(*model_, test_, calibration);
  // Higher = more anomalous: minus the log-likelihood.
  EXPECT_TRUE(test::all_close(r.score, -model_->score_samples(prepare(*model_, test_).x), 1e-12, 1e-12));
  EXPECT_EQ(r.flag.slice(0, 200).sum().item<int64_t>(), 20);  // every planted row
  EXPECT_LT(r.flag.slice(0, 0, 200).sum().item<int64_t>(), 25);
  std::vector<int> truth(220, 0);
  for (int i = 200; i < 220; ++i) truth[i] = 1;
  std::vector<double> scores(r.score.data_ptr<double>(), r.score.data_ptr<double>() + 220);
  EXPECT_GT(eval::evaluate_detection(truth, scores).roc_auc, 0.999);
  const auto table = apps::anomaly_table(r, truth);
  EXPECT_EQ(table.names(), (std::vector<std::string>{"item", "anomaly_score", "flag", "is_outlier"}));
}

TEST_F(Anomaly, SelfCalibrationScoresOnceAndAgreesWithCalibrateThenDetect) {
  apps::AnomalyOptions o;
  o.contamination = 0.1;
  const auto once = apps::detect_anomalies_self_calibrated(*model_, test_, o);
  const auto c = apps::calibrate_anomaly(*model_, test_, o);
  const auto twice = apps::detect_anomalies(*model_, test_, c);
  EXPECT_EQ(once.calibration.to_json(), c.to_json());
  EXPECT_TRUE(torch::equal(once.flag, twice.flag));
  EXPECT_TRUE(torch::equal(once.score, twice.score));
}

TEST_F(Anomaly, ThresholdFileRoundTripsAndChecksTheModelKind) {
  test::TempDir dir;
  apps::AnomalyOptions o;
  o.correction = apps::AnomalyCorrection::typicality;
  const auto c = apps::calibrate_anomaly(*model_, train_, o);
  c.save(dir.file("t.json"));
  const auto back = apps::AnomalyCalibration::load(dir.file("t.json"));
  EXPECT_EQ(back.to_json(), c.to_json());
  auto other = back;
  other.model_kind = "vae";
  EXPECT_THROW(apps::detect_anomalies(*model_, test_, other), InvalidArgument);
  test::write_text(dir.file("bad.json"), "{\"format\": \"something else\"}");
  EXPECT_THROW(apps::AnomalyCalibration::load(dir.file("bad.json")), DataError);
}

TEST(AnomalyCorrections, TypicalityFlagsTheTooLikelyMode) {
  // In 20 dimensions a standard normal's samples lie near radius sqrt(20); the mode (the origin) is the most
  // likely point but not a typical one.
  auto gen = make_generator(5);
  const auto train = table_source(at::randn({2000, 20}, gen, torch::kFloat64), {}, "train");
  auto model = fitted("gmm", train, {{"n_components", "1"}});
  auto probe = torch::zeros({2, 20}, torch::kFloat64);
  probe[1] = at::randn({20}, gen, torch::kFloat64);  // a typical point
  const auto test = table_source(probe, {}, "probe");
  apps::AnomalyOptions plain, typical;
  typical.correction = apps::AnomalyCorrection::typicality;
  const auto r_plain = apps::detect_anomalies(*model, test, apps::calibrate_anomaly(*model, train, plain));
  const auto c = apps::calibrate_anomaly(*model, train, typical);
  const auto r_typical = apps::detect_anomalies(*model, test, c);
  EXPECT_EQ(r_plain.flag[0].item<int64_t>(), 0);  // the origin looks very normal to the likelihood
  EXPECT_EQ(r_typical.flag[0].item<int64_t>(), 1);
  EXPECT_NEAR(r_typical.score[0].item<double>(), std::abs(r_typical.raw[0].item<double>() - c.typical_nll), 1e-12);
  EXPECT_NEAR(c.typical_nll, 10.0 * (1.0 + std::log(2.0 * M_PI)), 0.3);  // the entropy of N(0, I_20)
}

TEST(AnomalyCorrections, ComplexityIsPngLengthInNatsAndRefusedForTables) {
  auto images = few_images(64);
  auto vae = fitted("vae", images, {{"epochs", "1"}, {"hidden", "32"}, {"latent", "4"}});
  const auto complexity = apps::input_complexity(*vae, images);
  ASSERT_EQ(complexity.numel(), 64);
  const Dataset ds = prepare(*vae, images);
  EXPECT_NEAR(complexity[3].item<double>(), 8.0 * std::log(2.0) * static_cast<double>(encode_png(ds.x[3]).size()),
              1e-9);
  apps::AnomalyOptions o;
  o.correction = apps::AnomalyCorrection::complexity;
  const auto r = apps::detect_anomalies(*vae, images, apps::calibrate_anomaly(*vae, images, o));
  EXPECT_TRUE(test::all_close(r.score, r.raw - complexity, 1e-12, 1e-9));

  auto gen = make_generator(1);
  const auto table = table_source(at::randn({50, 2}, gen, torch::kFloat64), {"a", "b"}, "t");
  auto gmm = fitted("gmm", table, {{"n_components", "1"}});
  EXPECT_THROW(apps::calibrate_anomaly(*gmm, table, o), NotSupported);
}

TEST(AnomalyMaps, PerPixelScoresSumToTheModelsScore) {
  auto images = few_images(32);
  auto ae = fitted("autoencoder", images, {{"epochs", "1"}, {"hidden", "32"}, {"latent", "4"}});
  const Dataset ds = prepare(*ae, images);
  const auto* scorer = dynamic_cast<const DimensionScorer*>(ae.get());
  ASSERT_NE(scorer, nullptr);
  const auto per_pixel = scorer->dimension_scores(ds.x);
  EXPECT_EQ(per_pixel.sizes(), ds.x.sizes());
  EXPECT_TRUE(test::all_close(per_pixel.flatten(1).sum(1), -ae->score_samples(ds.x), 1e-4, 1e-3));

  auto pixelcnn = fitted("pixelcnn", images, {{"epochs", "1"}, {"layers", "2"}, {"hidden", "8"}, {"output", "bernoulli"}, {"binarize", "threshold"}});
  const auto* pixel_scorer = dynamic_cast<const DimensionScorer*>(pixelcnn.get());
  ASSERT_NE(pixel_scorer, nullptr);
  const auto px = prepare(*pixelcnn, images).x;
  EXPECT_TRUE(test::all_close(pixel_scorer->dimension_scores(px).flatten(1).sum(1), -pixelcnn->score_samples(px),
                              1e-4, 1e-2));

  test::TempDir dir;
  apps::write_anomaly_maps(dir.file("maps.png"), *ae, images, {0, 5, 7}, 2);
  const auto grid = read_image_file(dir.file("maps.png"));
  EXPECT_EQ(grid.images.size(1), 3);  // RGB: images beside coloured maps
  EXPECT_EQ(apps::anomaly_maps(*ae, images).sizes(), (std::vector<int64_t>{32, 28, 28}));
}

TEST(AnomalyErrors, NameTheModelsThatHaveTheCapability) {
  auto images = few_images(32);
  auto gan = fitted("gan", images, {{"epochs", "1"}, {"architecture", "mlp"}, {"hidden", "16"}, {"latent", "4"}});
  try {
    apps::raw_anomaly_scores(*gan, images);
    FAIL() << "a GAN has no likelihood";
  } catch (const NotSupported& e) {
    EXPECT_NE(std::string(e.hint()).find("gmm"), std::string::npos) << e.hint();
    EXPECT_NE(std::string(e.hint()).find("vae"), std::string::npos) << e.hint();
  }
  auto gen = make_generator(1);
  const auto table = table_source(at::randn({50, 2}, gen, torch::kFloat64), {"a", "b"}, "t");
  auto gmm = fitted("gmm", table, {{"n_components", "1"}});
  try {
    apps::anomaly_maps(*gmm, table);
    FAIL() << "a GMM draws no maps";
  } catch (const NotSupported& e) {
    EXPECT_NE(std::string(e.hint()).find("pixelcnn"), std::string::npos) << e.hint();
  }
  EXPECT_THROW(apps::outlier_labels(table, "", {"0"}), InvalidArgument);  // a table has no image labels
  EXPECT_THROW(apps::outlier_labels(few_images(10), "", {}), InvalidArgument);  // which classes are normal?
  EXPECT_THROW(apps::outlier_labels(few_images(10), "", {"Jacket"}), InvalidArgument);
  const auto labels = apps::outlier_labels(few_images(10), "", {"Ankle boot", "2"});
  const auto truth = few_images(10).images.labels;
  for (int64_t i = 0; i < 10; ++i) {
    const int64_t c = truth[i].item<int64_t>();
    EXPECT_EQ(labels[static_cast<size_t>(i)], (c == 9 || c == 2) ? 0 : 1);
  }
}

// Imputation.

data::Source planted_table(int64_t n, uint64_t seed) {
  // x2 = 2 x1 + 1 + N(0, 0.1^2); a category that sets the level of x3 (A: 0, B: 10).
  auto gen = make_generator(seed);
  auto x1 = at::randn({n}, gen, torch::kFloat64);
  auto x2 = 2.0 * x1 + 1.0 + 0.1 * at::randn({n}, gen, torch::kFloat64);
  auto b = at::rand({n}, gen, torch::kFloat64) < 0.5;
  auto x3 = torch::where(b, torch::full_like(x1, 10.0), torch::zeros_like(x1)) + 0.5 * at::randn({n}, gen, torch::kFloat64);
  data::Source s = table_source(torch::stack({x1, x2, x3}, 1), {"x1", "x2", "x3"}, "planted");
  Column group{"group"};
  group.type = ColumnType::categorical;
  group.categories = {"A", "B"};
  for (int64_t i = 0; i < n; ++i) {
    group.values.push_back(b[i].item<bool>() ? 1.0 : 0.0);
    group.missing.push_back(0);
  }
  s.table.add_column(std::move(group));
  return s;
}

void blank(data::Source& s, const std::string& column, int64_t row) {
  for (auto& c : const_cast<std::vector<Column>&>(s.table.columns())) {
    if (c.name == column) c.missing[static_cast<size_t>(row)] = 1;
  }
}

TEST(Impute, RecoversAPlantedConditionalStructure) {
  auto train = planted_table(600, 1);
  auto model = fitted("gmm", train, {{"n_components", "2"}, {"categorical", "onehot"}});
  auto data = planted_table(40, 2);
  const auto complete = data.table;
  for (int64_t i = 0; i < 40; i += 2) blank(data, "x2", i);
  for (int64_t i = 1; i < 40; i += 4) blank(data, "group", i);
  const auto r = apps::impute(*model, data, {});
  EXPECT_EQ(r.missing_cells, 30);
  const Column& x2 = r.filled.column("x2");
  const Column& group = r.filled.column("group");
  for (int64_t i = 0; i < 40; ++i) {
    const size_t k = static_cast<size_t>(i);
    EXPECT_FALSE(x2.missing[k]);
    const double expected = 2.0 * complete.column("x1").values[k] + 1.0;
    if (i % 2 == 0) {
      EXPECT_NEAR(x2.values[k], expected, 0.35) << i;
    } else {
      EXPECT_EQ(x2.values[k], complete.column("x2").values[k]);  // observed cells are copied exactly
    }
    EXPECT_EQ(group.categories[static_cast<size_t>(group.values[k])],
              complete.column("group").categories[static_cast<size_t>(complete.column("group").values[k])])
        << i;
  }
}

TEST(Impute, MultipleImputationIsSeededAndCalibrated) {
  auto gen = make_generator(4);
  const auto full = at::randn({400, 3}, gen, torch::kFloat64).mm(
      torch::tensor({{1.0, 0.6, 0.2}, {0.0, 0.8, 0.3}, {0.0, 0.0, 0.9}}, torch::kFloat64));
  auto data = table_source(full, {"a", "b", "c"}, "gaussian");
  auto mask = at::rand({400, 3}, gen, torch::kFloat64) < 0.2;
  mask.select(1, 0).masked_fill_(mask.all(1), false);
  for (int64_t j = 0; j < 3; ++j) {
    auto& col = const_cast<Column&>(data.table.columns()[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < 400; ++i) col.missing[static_cast<size_t>(i)] = mask[i][j].item<bool>();
  }
  auto model = fitted("gmm", data, {{"n_components", "1"}});
  apps::ImputeOptions o;
  o.multiple = 200;
  o.seed = 9;
  const auto r = apps::impute(*model, data, o);
  ASSERT_EQ(r.draws.size(), 200u);
  const auto again = apps::impute(*model, data, o);
  EXPECT_EQ(again.draws[7].column("b").values, r.draws[7].column("b").values);
  o.seed = 10;
  EXPECT_NE(apps::impute(*model, data, o).draws[7].column("b").values, r.draws[7].column("b").values);
  // The 90 % interval of the draws covers the true value of about 90 % of the masked cells.
  int64_t covered = 0, cells = 0;
  for (int64_t j = 0; j < 3; ++j) {
    for (int64_t i = 0; i < 400; ++i) {
      if (!mask[i][j].item<bool>()) continue;
      std::vector<double> v;
      for (const auto& t : r.draws) v.push_back(t.columns()[static_cast<size_t>(j)].values[static_cast<size_t>(i)]);
      std::sort(v.begin(), v.end());
      const double lo = v[10], hi = v[189], truth = full[i][j].item<double>();
      covered += lo <= truth && truth <= hi;
      ++cells;
    }
  }
  const double coverage = static_cast<double>(covered) / static_cast<double>(cells);
  // Without --bootstrap the draws leave out the parameters' uncertainty, and the 11th and 190th of 200 draws sit
  // inside the true 5 % / 95 % quantiles: about 0.86 is expected (0.845-0.865 over seeds 1-9).
  EXPECT_GT(coverage, 0.83);
  EXPECT_LT(coverage, 0.95);
  const auto stacked = apps::stack_imputations(r.draws);
  EXPECT_EQ(stacked.n_rows(), 200u * 400u);
  EXPECT_EQ(stacked.names().front(), "imputation");
  o.bootstrap = 5;
  o.multiple = 10;
  EXPECT_EQ(apps::impute(*model, data, o).draws.size(), 10u);
}

TEST(Impute, CompleteTablesAndModelsWithoutConditionalSampling) {
  auto data = planted_table(50, 3);
  auto model = fitted("gmm", data, {{"n_components", "1"}, {"categorical", "onehot"}});
  const auto r = apps::impute(*model, data, {});
  EXPECT_EQ(r.missing_cells, 0);
  EXPECT_EQ(r.filled.column("x3").values, data.table.column("x3").values);
  auto gen = make_generator(1);
  const auto table = table_source(at::randn({60, 2}, gen, torch::kFloat64), {"a", "b"}, "t");
  auto ctgan = fitted("ctgan", table, {{"epochs", "1"}, {"batch_size", "60"}});
  try {
    apps::impute(*ctgan, table, {});
    FAIL() << "ctgan does not sample given some cells";
  } catch (const NotSupported& e) {
    EXPECT_NE(std::string(e.hint()).find("gmm"), std::string::npos) << e.hint();
  }
  apps::ImputeOptions bad;
  bad.bootstrap = 3;  // without --multiple
  EXPECT_THROW(apps::impute(*model, data, bad), InvalidArgument);
}

}  // namespace
}  // namespace gf
