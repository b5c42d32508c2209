// genforge report: the memorisation check flags a planted copy and only it, the coverage check names a planted
// missing class, the chi-square tail matches known quantiles, and the page has each section for each kind of model.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "genforge/apps/report.h"
#include "genforge/core/error.h"
#include "support/support.h"
#include "cli/cli_fixture.h"

namespace gf {
namespace {

TEST(Report, MemorisationFlagsAPlantedCopyAndNothingElse) {
  torch::manual_seed(4);
  const auto train = torch::randn({300, 5}, torch::kFloat64);
  const auto holdout = torch::randn({150, 5}, torch::kFloat64);
  auto samples = torch::randn({80, 5}, torch::kFloat64);
  samples[7] = train[13];
  const auto c = apps::memorisation_check(samples, train, holdout);
  EXPECT_EQ(c.reference, "held-out data");
  ASSERT_EQ(c.flagged_samples, std::vector<int64_t>{7});
  ASSERT_EQ(c.shown.size(), 16u);
  EXPECT_EQ(c.shown[0].sample, 7);
  EXPECT_EQ(c.shown[0].train, 13);
  EXPECT_NEAR(c.shown[0].distance, 0.0, 1e-6);
  EXPECT_TRUE(c.shown[0].flagged);
  EXPECT_FALSE(c.shown[1].flagged);
  // New samples from the data's own distribution lie as far from training as held-out data does.
  EXPECT_NEAR(c.median_ratio, 1.0, 0.2);
  EXPECT_LT(c.share_below_reference_p05, 0.15);
  // A model that copies: every sample a training item plus a little noise.
  const auto copies = train.slice(0, 0, 80) + 0.001 * torch::randn({80, 5}, torch::kFloat64);
  const auto copied = apps::memorisation_check(copies, train, holdout);
  EXPECT_EQ(copied.flagged, 80);
  EXPECT_LT(copied.median_ratio, 0.01);
  EXPECT_EQ(apps::memorisation_check(samples, train, torch::Tensor()).reference, "training data (leave-one-out)");
  EXPECT_THROW(apps::memorisation_check(samples, train.slice(1, 0, 4), holdout), InvalidArgument);
}

TEST(Report, CoverageNamesAPlantedMissingClass) {
  std::vector<std::string> classes;
  for (int k = 0; k < 10; ++k) classes.push_back("class " + std::to_string(k));
  const std::vector<double> real(10, 600.0);
  std::vector<int64_t> missing_three = {112, 111, 111, 0, 111, 111, 111, 111, 111, 111};
  const auto c = apps::coverage_check("class", classes, real, missing_three);
  EXPECT_EQ(c.under, std::vector<std::string>{"class 3"});
  EXPECT_TRUE(c.over.empty());
  EXPECT_EQ(c.degrees_of_freedom, 9);
  EXPECT_LT(c.p_value, 1e-12);
  // Counts within chance of the training shares: nothing named, a large p-value.
  const auto fair = apps::coverage_check("class", classes, real, {98, 105, 101, 95, 99, 103, 100, 97, 104, 98});
  EXPECT_TRUE(fair.under.empty() && fair.over.empty());
  EXPECT_GT(fair.p_value, 0.5);
  // A category the model invents is listed apart and left out of the test.
  const auto invented = apps::coverage_check("colour", {"red", "blue", "mauve"}, {50, 50, 0}, {45, 45, 10});
  EXPECT_EQ(invented.unseen, std::vector<std::string>{"mauve"});
  EXPECT_EQ(invented.degrees_of_freedom, 1);
  EXPECT_THROW(apps::coverage_check("x", {"a"}, {1.0, 2.0}, {1}), InvalidArgument);
}

TEST(Report, ChiSquareTailMatchesKnownQuantiles) {
  // scipy.stats.chi2.isf(0.05, k) for k = 1, 10 and isf(0.001, 3).
  EXPECT_NEAR(apps::chi_square_tail(3.841458820694124, 1), 0.05, 1e-12);
  EXPECT_NEAR(apps::chi_square_tail(18.307038053275146, 10), 0.05, 1e-12);
  EXPECT_NEAR(apps::chi_square_tail(16.26623619623813, 3), 0.001, 1e-12);
  EXPECT_EQ(apps::chi_square_tail(0.0, 4), 1.0);
}

TEST(Report, TextFeaturesPutNearCopiesClose) {
  const auto f = apps::text_features({"the jury said it did find that many of the reports were true",
                                      "the jury said it did find that many of the reports were true .",
                                      "a completely different line about ships and the sea"});
  EXPECT_NEAR(f.norm(2, {1}).sum().item<double>(), 3.0, 1e-9);
  const double near = (f[0] - f[1]).norm().item<double>(), far = (f[0] - f[2]).norm().item<double>();
  EXPECT_LT(near, 0.2);
  EXPECT_GT(far, 1.0);
}

using cli_test::Cli;

TEST_F(Cli, ReportOfATableModelHasEverySectionAndFlagsAPlantedCopy) {
  const std::string model = trained_model();
  ASSERT_EQ(test::run_cli({"sample", model, "-n", "100", "--seed", "1", "--out", dir_.file("s.csv")}).rc, 0);
  // Plant the first data row among the samples.
  std::string samples = test::read_text(dir_.file("s.csv"));
  const std::string data = test::read_text(csv_);
  const size_t first_row = data.find('\n') + 1;
  samples += data.substr(first_row, data.find('\n', first_row) + 1 - first_row);
  test::write_text(dir_.file("planted.csv"), samples);
  auto r = test::run_cli({"report", model, "--data", csv_, "--samples", dir_.file("planted.csv"), "--out",
                          dir_.file("r.html")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("memorisation: "), std::string::npos) << r.out;
  const auto figures = test::read_json(dir_.file("r.json"));
  const auto flagged = figures["memorisation"]["flagged_samples"].get<std::vector<int64_t>>();
  EXPECT_NE(std::find(flagged.begin(), flagged.end(), 100), flagged.end()) << figures["memorisation"].dump();
  EXPECT_TRUE(figures["metrics"].contains("likelihood"));
  EXPECT_TRUE(figures["metrics"].contains("quality_score"));
  EXPECT_EQ(figures["model"]["kind"], "gmm");
  const std::string html = test::read_text(dir_.file("r.html"));
  for (const char* section : {"id='card'", "id='training'", "id='samples'", "id='metrics'", "id='memorisation'"}) {
    EXPECT_NE(html.find(section), std::string::npos) << section;
  }
  EXPECT_EQ(html.find("http://"), std::string::npos) << "the page must not reach the network";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "the page must not reach the network";
  // Without data: the card and samples, and a note saying what is missing.
  ASSERT_EQ(test::run_cli({"report", model, "--out", dir_.file("bare.html")}).rc, 0);
  EXPECT_NE(test::read_text(dir_.file("bare.html")).find("no --data"), std::string::npos);
}

TEST_F(Cli, ReportErrors) {
  const std::string model = trained_model();
  expect_error({"report", model, "--out", dir_.file("r.txt")}, "--out must end in .html, got '");
  expect_error({"report", dir_.path(), "--out", dir_.file("r.html")}, "' holds no model.gf");
  expect_error({"report", model, "--data", dir_.file("missing.csv"), "--out", dir_.file("r.html")}, "missing.csv");
}

TEST_F(Cli, ReportOfImageTopicAndTaggerModels) {
  // An image model trained with a run directory: its metrics.jsonl curves, a sample grid, image pairs.
  const auto images = cli_test::image_folder(dir_, "images");
  const auto run = dir_.file("run");
  ASSERT_EQ(test::run_cli({"train", "vae", "--data", images, "--run-dir", run, "--set", "architecture=conv", "--set",
                           "hidden=16", "--set", "max_steps=6", "--set", "batch_size=8", "--set", "log_every=2", "-q"})
                .rc, 0);
  auto r = test::run_cli({"report", run, "--data", images, "-n", "16", "--out", dir_.file("vae.html")});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::string html = test::read_text(dir_.file("vae.html"));
  for (const char* part : {"<img class='grid'", "<img class='pix'", "run configuration", "<polyline"}) {
    EXPECT_NE(html.find(part), std::string::npos) << part;
  }
  const auto figures = test::read_json(dir_.file("vae.json"));
  EXPECT_EQ(figures["memorisation"]["samples"], 16);
  EXPECT_TRUE(figures["coverage"].empty());  // pixels have no classes: the note says how to get them
  EXPECT_NE(figures["notes"].dump().find("--features fmnist"), std::string::npos) << figures["notes"].dump();
  // A topic model: its topics are its samples.
  std::string text;
  for (int d = 0; d < 30; ++d) text += d % 2 ? "cat dog cat horse dog cow\n" : "bank money loan bank cash money\n";
  test::write_text(dir_.file("docs.txt"), text);
  ASSERT_EQ(test::run_cli({"train", "lda", "--data", dir_.file("docs.txt"), "--set", "n_components=2", "--out",
                           dir_.file("lda.gf"), "-q"}).rc, 0);
  r = test::run_cli({"report", dir_.file("lda.gf"), "--data", dir_.file("docs.txt"), "--out", dir_.file("lda.html")});
  ASSERT_EQ(r.rc, 0) << r.err;
  html = test::read_text(dir_.file("lda.html"));
  EXPECT_NE(html.find("<ol><li>"), std::string::npos);
  EXPECT_NE(html.find("samples are its topics"), std::string::npos);
  // An HMM on the same lines of text (characters): samples of symbols, compared with the text's symbols.
  ASSERT_EQ(test::run_cli({"train", "hmm", "--data", dir_.file("docs.txt"), "--emission", "categorical",
                           "--n_components", "2", "--out", dir_.file("hmm.gf"), "-q"}).rc, 0);
  r = test::run_cli({"report", dir_.file("hmm.gf"), "--data", dir_.file("docs.txt"), "--out", dir_.file("hmm.html")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(test::read_json(dir_.file("hmm.json")).contains("memorisation"));
  // A tagger draws no samples: one clear error.
  test::write_text(dir_.file("tagged.txt"), "He/pps ran/vbd ./.\nThe/at dog/nn barked/vbd ./.\n");
  ASSERT_EQ(test::run_cli({"train", "pos-tagger", "--data", dir_.file("tagged.txt"), "--out", dir_.file("tagger.gf"),
                           "-q"}).rc, 0);
  expect_error({"report", dir_.file("tagger.gf"), "--out", dir_.file("t.html")},
               "cannot report on '" + dir_.file("tagger.gf") + "': a pos-tagger model tags words");
}

}  // namespace
}  // namespace gf
