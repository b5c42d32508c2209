// gf::eval::classification_report against scikit-learn (tests/reference/make_classification_golden.py), the
// confusion-matrix picture, and `genforge score --confusion` on a deep belief net fine-tuned as a classifier.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "genforge/data/images.h"
#include "genforge/eval/classification.h"
#include "genforge/viz/plot.h"
#include "support/support.h"

namespace gf {
namespace {

TEST(Classification, ReportMatchesScikitLearn) {
  const auto golden = test::read_json(test::source_path("tests/reference/classification_golden.json"));
  for (const auto& [name, c] : golden["cases"].items()) {
    SCOPED_TRACE(name);
    const auto truth = torch::tensor(c["truth"].get<std::vector<int64_t>>());
    const auto predicted = torch::tensor(c["predicted"].get<std::vector<int64_t>>());
    const auto r = eval::classification_report(predicted, truth);
    EXPECT_NEAR(r.accuracy, c["accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(r.balanced_accuracy, c["balanced_accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(r.macro_precision, c["macro_precision"].get<double>(), 1e-12);
    EXPECT_NEAR(r.macro_recall, c["macro_recall"].get<double>(), 1e-12);
    EXPECT_NEAR(r.macro_f1, c["macro_f1"].get<double>(), 1e-12);
    ASSERT_EQ(r.per_class.size(), c["labels"].size());
    for (size_t i = 0; i < r.per_class.size(); ++i) {
      EXPECT_EQ(r.per_class[i].label, c["labels"][i].get<int64_t>());
      EXPECT_NEAR(r.per_class[i].precision, c["precision"][i].get<double>(), 1e-12);
      EXPECT_NEAR(r.per_class[i].recall, c["recall"][i].get<double>(), 1e-12);
      EXPECT_NEAR(r.per_class[i].f1, c["f1"][i].get<double>(), 1e-12);
      EXPECT_EQ(r.per_class[i].support, c["support"][i].get<int64_t>());
    }
    EXPECT_EQ(r.to_json()["confusion"], c["confusion"]);
  }
}

TEST(Classification, RefusesMismatchedOrNegativeLabels) {
  EXPECT_THROW(eval::classification_report(torch::tensor({0, 1}), torch::tensor({0})), Error);
  EXPECT_THROW(eval::classification_report(torch::tensor({0, -1}), torch::tensor({0, 1})), Error);
  // n_classes widens the matrix; classes absent on both sides are not averaged.
  const auto r = eval::classification_report(torch::tensor({0, 1}), torch::tensor({0, 1}), 5);
  EXPECT_EQ(r.confusion.sizes(), (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(r.per_class.size(), 2u);
  EXPECT_DOUBLE_EQ(r.macro_f1, 1.0);
}

TEST(Classification, ConfusionPictureShadesRowsAndNamesClasses) {
  test::TempDir dir;
  viz::write_confusion_png(dir.file("c.png"), {{8, 2, 0}, {1, 9, 0}, {0, 0, 4}}, {"cat", "dog", "bird"}, "pets");
  const auto image = read_image_file(dir.file("c.png")).images[0];  // [3, H, W] uint8
  EXPECT_GE(image.size(2), 420);
  // Blue cells: the picture is not blank, and the darkest pixel belongs to a full-row cell.
  EXPECT_LT(image[0].min().item<int>(), 60);
  EXPECT_THROW(viz::write_confusion_png(dir.file("e.png"), {}, {}, "none"), Error);
}

}  // namespace
}  // namespace gf

namespace gf::cli_test {

TEST_F(Cli, ScoreDrawsTheConfusionMatrixOfAClassifyingModel) {
  const std::string model = dir_.file("dbn.gf");
  // Small and fast: a 16-unit layer (its log Z enumerated exactly when scoring), fine-tuned 120 steps.
  ASSERT_EQ(test::run_cli({"train", "dbn", "--data", "fashion-mnist:test", "--limit", "600", "--set", "layers=16",
                           "--set", "layer_n_iter=2", "--set", "fine_tune_epochs=20", "--set", "fine_tune_lr=0.01",
                           "--set", "fine_tune_batch_size=32", "--set", "compute_log_z=false", "--out", model, "-q"})
                .rc,
            0);
  auto r = test::run_cli({"score", model, "--data", "fashion-mnist:test", "--limit", "300", "--estimator", "exact",
                          "--confusion", dir_.file("confusion.png"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  const auto& c = summary["classification"];
  EXPECT_GT(c["accuracy"].get<double>(), 0.6);  // 10 classes: chance is 0.1 (0.84 when written)
  EXPECT_EQ(c["per_class"].size(), 10u);
  EXPECT_EQ(c["per_class"][9]["class"], "Ankle boot");
  int64_t total = 0;
  for (const auto& row : c["confusion"]) {
    for (const auto& v : row) total += v.get<int64_t>();
  }
  EXPECT_EQ(total, 300);
  EXPECT_TRUE(test::exists(dir_.file("confusion.png")));
  expect_error({"score", trained_model(), "--data", csv_, "--confusion", dir_.file("x.png")},
               "made no class predictions");
}

}  // namespace gf::cli_test
