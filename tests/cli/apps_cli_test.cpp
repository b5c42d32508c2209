// The application verbs end to end, in-process: anomaly, impute, inpaint, augment.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include <map>

#include "cli/cli_fixture.h"
#include "genforge/data/images.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

using cli_test::Cli;
using test::run_cli;

TEST_F(Cli, AnomalyScoresFlagsEvaluatesAndReusesTheThreshold) {
  std::string train = "a,b\n", test = "a,b,outlier\n";
  for (int i = 0; i < 80; ++i) {
    train += std::to_string(0.1 * (i % 9) - 0.4) + "," + std::to_string(0.07 * (i % 11) - 0.35) + "\n";
    test += std::to_string(0.1 * ((i + 3) % 9) - 0.4) + "," + std::to_string(0.07 * ((i + 5) % 11) - 0.35) + ",0\n";
  }
  for (int i = 0; i < 6; ++i) test += std::to_string(5.0 + 0.1 * i) + "," + std::to_string(-4.0 - 0.1 * i) + ",1\n";
  test::write_text(dir_.file("train.csv"), train);
  test::write_text(dir_.file("test.csv"), test);
  const auto model = dir_.file("m.gf");
  ASSERT_EQ(run_cli({"train", "gmm", "--data", dir_.file("train.csv"), "--out", model, "--set", "n_components=1", "-q"}).rc, 0);
  auto r = run_cli({"anomaly", model, "--data", dir_.file("test.csv"), "--calibrate", dir_.file("train.csv"), "--labels",
                    "outlier", "--out", dir_.file("s.csv"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["items"], 86);
  EXPECT_DOUBLE_EQ(summary["evaluation"]["roc_auc"].get<double>(), 1.0);
  EXPECT_EQ(summary["evaluation"]["outliers"], 6);
  ASSERT_TRUE(test::exists(dir_.file("s.threshold.json")));
  const auto scores = read_table(dir_.file("s.csv"), {});
  EXPECT_EQ(scores.names(), (std::vector<std::string>{"item", "anomaly_score", "flag", "is_outlier"}));
  for (size_t i = 80; i < 86; ++i) EXPECT_EQ(scores.column("flag").values[i], 1.0);
  // The saved threshold gives the same flags on the same data.
  r = run_cli({"anomaly", model, "--data", dir_.file("test.csv"), "--threshold-from", dir_.file("s.threshold.json"),
               "--out", dir_.file("again.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read_table(dir_.file("again.csv"), {}).column("flag").values, scores.column("flag").values);
  // A model that takes no missing cell (bgmm) leaves a row with one unscored and unflagged, and the evaluation
  // leaves it out, saying so.
  ASSERT_EQ(run_cli({"train", "bgmm", "--data", dir_.file("train.csv"), "--out", dir_.file("b.gf"), "--set",
                     "n_components=1", "-q"}).rc, 0);
  test::write_text(dir_.file("holes.csv"), test + ",-4.2,1\n");
  r = run_cli({"anomaly", dir_.file("b.gf"), "--data", dir_.file("holes.csv"), "--calibrate", dir_.file("train.csv"),
               "--labels", "outlier", "--out", dir_.file("h.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("ROC-AUC 1.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(1 items without a score left out)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 of 87 rows have a missing cell, which a bgmm model cannot take"), std::string::npos) << r.err;
  const auto holes = read_table(dir_.file("h.csv"), {});
  EXPECT_TRUE(holes.column("flag").missing[86]);
  EXPECT_FALSE(holes.column("flag").missing[85]);
  expect_error({"anomaly", model, "--data", dir_.file("test.csv"), "--threshold-from", dir_.file("s.threshold.json"),
                "--correction", "typicality"},
               "--threshold-from cannot be combined");
  expect_error({"anomaly", model, "--data", dir_.file("test.csv"), "--contamination", "0.9"},
               "contamination must be in (0, 0.5]");
  expect_error({"anomaly", model, "--data", dir_.file("test.csv"), "--correction", "complexity"},
               "defined for images and text lines");
  expect_error({"anomaly", model, "--data", dir_.file("test.csv"), "--correction", "magic"},
               "unknown anomaly correction 'magic'");
  expect_error({"anomaly", model, "--data", dir_.file("test.csv"), "--maps", dir_.file("maps.png")},
               "does not score single pixels");
}

TEST_F(Cli, ImputeFillsMissingCellsOnceOrManyTimes) {
  std::string text = "x,y,kind\n";
  for (int i = 0; i < 60; ++i) {
    const double x = 0.1 * (i % 13);
    const bool gap = i % 6 == 0;
    text += std::to_string(x) + "," + (gap ? std::string() : std::to_string(2 * x + 0.01 * (i % 3))) + "," +
            (i % 2 ? "odd" : "even") + "\n";
  }
  test::write_text(dir_.file("gaps.csv"), text);
  const auto model = dir_.file("m.gf");
  ASSERT_EQ(run_cli({"train", "gmm", "--data", dir_.file("gaps.csv"), "--columns", "x,y", "--out", model, "--set",
                     "n_components=1", "-q"}).rc, 0);
  auto r = run_cli({"impute", model, "--data", dir_.file("gaps.csv"), "--out", dir_.file("filled.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("filled 10 cells with the conditional mean"), std::string::npos) << r.out;
  const auto filled = read_table(dir_.file("filled.csv"), {});
  EXPECT_EQ(filled.names(), (std::vector<std::string>{"x", "y", "kind"}));  // unused columns carried along
  EXPECT_EQ(filled.column("y").n_missing(), 0u);
  EXPECT_NEAR(filled.column("y").values[6], 2 * filled.column("x").values[6], 0.05);
  r = run_cli({"impute", model, "--data", dir_.file("gaps.csv"), "--out", dir_.file("draws.csv"), "--multiple", "4",
               "--seed", "3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto draws = read_table(dir_.file("draws.csv"), {});
  EXPECT_EQ(draws.n_rows(), 240u);
  EXPECT_EQ(draws.names().front(), "imputation");
  r = run_cli({"impute", model, "--data", dir_.file("filled.csv"), "--out", dir_.file("same.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("notice: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("has no missing cells"), std::string::npos) << r.out;
  expect_error({"impute", model, "--data", dir_.file("gaps.csv"), "--out", dir_.file("o.csv"), "--separate"},
               "--separate writes one file per imputation");
  expect_error({"impute", model, "--data", dir_.file("gaps.csv"), "--out", dir_.file("o.csv"), "--bootstrap", "2"},
               "--bootstrap must be between 1 and the number of imputations");
}

TEST_F(Cli, ABayesianMixtureTrainsOnTheCompleteRowsAndImputesTheOthers) {
  // y = 2x (+ small noise); every sixth row lacks y, one of them also x. The BGMM fits complete rows only: refused
  // with the way out; with drop_incomplete it trains on the 50 complete rows (a warning says so) and fills the 11
  // missing cells of the other 10.
  std::string text = "x,y,w\n";
  for (int i = 0; i < 60; ++i) {
    const double x = 0.1 * (i % 13);
    const bool gap = i % 6 == 0;
    text += (i == 6 ? std::string() : std::to_string(x)) + "," +
            (gap ? std::string() : std::to_string(2 * x + 0.01 * (i % 3))) + "," + std::to_string(1 + i % 2) + "\n";
  }
  test::write_text(dir_.file("gaps.csv"), text);
  const auto model = dir_.file("b.gf");
  expect_error({"train", "bgmm", "--data", dir_.file("gaps.csv"), "--columns", "x,y", "--out", model},
               "the Bayesian GMM fits complete rows only");
  auto r = run_cli({"train", "bgmm", "--data", dir_.file("gaps.csv"), "--columns", "x,y", "--weights", "w", "--out",
                    model, "--set", "drop_incomplete=true"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("training on 50 of 60 rows: 10 with a missing cell left out (drop_incomplete)"),
            std::string::npos) << r.err;
  // Its score profile (for drift and serve) is of the rows it learnt from.
  const auto profile = load_model(model)->fit_report().extra.at("score_profile");
  EXPECT_EQ(profile.at("items").get<int64_t>(), 50) << profile.dump();
  r = run_cli({"impute", model, "--data", dir_.file("gaps.csv"), "--out", dir_.file("filled.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("filled 11 cells with the conditional mean"), std::string::npos) << r.out;
  const auto filled = read_table(dir_.file("filled.csv"), {});
  EXPECT_EQ(filled.n_rows(), 60u);
  EXPECT_EQ(filled.column("y").n_missing(), 0u);
  EXPECT_EQ(filled.column("x").n_missing(), 0u);
  EXPECT_NEAR(filled.column("y").values[12], 2 * filled.column("x").values[12], 0.05);
  EXPECT_NEAR(filled.column("x").values[1], 0.1, 1e-9);  // observed cells unchanged
  // Every row incomplete: nothing to train on.
  std::string holes = "x,y\n";
  for (int i = 0; i < 10; ++i) holes += std::to_string(i) + ",\n";
  test::write_text(dir_.file("holes.csv"), holes);
  expect_error({"train", "bgmm", "--data", dir_.file("holes.csv"), "--out", dir_.file("h.gf"), "--set",
                "drop_incomplete=true"},
               "has a missing cell, so drop_incomplete leaves none");
}

TEST_F(Cli, ImputeFillsSequenceStepsFromTheirNeighboursWithAnHmm) {
  // Sequences that sit at 0 for ten steps, then at 5 for ten; every seventh step wholly missing. Given its
  // neighbours, an HMM puts a missing step at its run's level; a mixture of the rows, blind to order, cannot.
  std::string text = "id,x,y\n";
  std::vector<double> level;
  for (int s = 0; s < 20; ++s) {
    for (int t = 0; t < 20; ++t) {
      const double base = t < 10 ? 0.0 : 5.0, wiggle = 0.3 * std::sin(1.7 * (s * 20 + t));
      const bool gap = (s * 20 + t) % 7 == 3;
      level.push_back(base);
      text += "s" + std::to_string(s) + "," + (gap ? std::string() : std::to_string(base + wiggle)) + "," +
              (gap ? std::string() : std::to_string(base - wiggle)) + "\n";
    }
  }
  test::write_text(dir_.file("seq.csv"), text);
  const auto model = dir_.file("hmm.gf");
  ASSERT_EQ(run_cli({"train", "hmm", "--data", dir_.file("seq.csv"), "--sequence-column", "id", "--set",
                     "n_components=2", "--out", model, "-q"}).rc, 0);
  auto r = run_cli({"impute", model, "--data", dir_.file("seq.csv"), "--out", dir_.file("filled.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("filled 114 cells with the conditional mean"), std::string::npos) << r.out;
  const auto filled = read_table(dir_.file("filled.csv"), {});
  for (size_t i = 0; i < level.size(); ++i) {
    // A step beside the switch (or a sequence's first) can belong to either level: its mean lies between.
    if (i % 7 != 3 || i % 20 == 0 || i % 20 == 9 || i % 20 == 10) continue;
    EXPECT_NEAR(filled.column("x").values[i], level[i], 1.0) << "row " << i;
  }
  r = run_cli({"impute", model, "--data", dir_.file("seq.csv"), "--out", dir_.file("draws.csv"), "--multiple", "3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read_table(dir_.file("draws.csv"), {}).column("y").n_missing(), 0u);
}

TEST_F(Cli, EnhanceEnlargesLowResolutionImagesAndMeasuresItWithDownscale) {
  const auto model = dir_.file("ae.gf");
  ASSERT_EQ(run_cli({"train", "autoencoder", "--data", "fashion-mnist:test", "--limit", "64", "--set", "epochs=1",
                     "--set", "hidden=32", "--set", "latent=4", "--out", model, "-q"}).rc, 0);
  auto r = run_cli({"enhance", model, "--images", "fashion-mnist:test", "--downscale", "--limit", "3", "--iterations",
                    "3", "--out", dir_.file("e.png"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto figures = nlohmann::json::parse(r.out);
  EXPECT_EQ(figures["from"], nlohmann::json({14, 14}));
  EXPECT_EQ(figures["to"], nlohmann::json({28, 28}));
  EXPECT_TRUE(figures["psnr_db"].is_number() && figures["bicubic_psnr_db"].is_number()) << r.out;
  const auto grid = read_image_file(dir_.file("e.png"));  // 3 rows of: input, bicubic, enhanced, original
  EXPECT_EQ(grid.images.size(3), 4 * 30 + 2);
  EXPECT_EQ(grid.images.size(2), 3 * 30 + 2);
  // Low-resolution PNGs (14x14) enlarged to the model's 28x28.
  const auto small = cli_test::image_folder(dir_, "small", 14);
  r = run_cli({"enhance", model, "--images", small, "--limit", "2", "--out", dir_.file("e.npy")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("enhanced 2 images from 14x14 to 28x28"), std::string::npos) << r.out;
  expect_error({"enhance", model, "--images", "fashion-mnist:test", "--out", dir_.file("o.png")},
               "images of 28x28 enlarged 2 times have 3136 values, the model's images 784");
  expect_error({"enhance", trained_model(), "--images", small, "--out", dir_.file("o.png")},
               "a gmm model cannot enhance images");
  expect_error({"enhance", model, "--images", small, "--factor", "1", "--out", dir_.file("o.png")},
               "factor must be in 2..16, got 1");
}

TEST_F(Cli, InpaintFillsABoxAndAugmentWritesLabelledRows) {
  const auto model = dir_.file("ae.gf");
  ASSERT_EQ(run_cli({"train", "autoencoder", "--data", "fashion-mnist:test", "--limit", "64", "--set", "epochs=1",
                     "--set", "hidden=32", "--set", "latent=4", "--out", model, "-q"}).rc, 0);
  auto r = run_cli({"inpaint", model, "--images", "fashion-mnist:test", "--limit", "3", "--box", "0,14,28,14", "-k",
                    "2", "--out", dir_.file("filled.png")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("filled 1176 pixels in 3 images"), std::string::npos) << r.out;
  const auto grid = read_image_file(dir_.file("filled.png"));  // 3 rows of: masked, 2 completions, original
  EXPECT_EQ(grid.images.size(3), 4 * 30 + 2);
  EXPECT_EQ(grid.images.size(2), 3 * 30 + 2);
  expect_error({"inpaint", model, "--images", "fashion-mnist:test", "--box", "20,20,10,10", "--out", dir_.file("o.png")},
               "does not fit in a 28x28 image");
  expect_error({"inpaint", model, "--images", "fashion-mnist:test", "--out", dir_.file("o.png")}, "no mask given");
  expect_error({"inpaint", trained_model(), "--images", "fashion-mnist:test", "--box", "0,0,4,4", "--out",
                dir_.file("o.png")},
               "cannot fill in parts of images");
  expect_error({"inpaint", model, "--images", "fashion-mnist:test", "--box", "0,0,4,4", "--method", "sample", "--out",
                dir_.file("o.png")},
               "a autoencoder model does not sample images conditionally");
  expect_error({"inpaint", model, "--images", "fashion-mnist:test", "--box", "0,0,4,4", "--method", "guess", "--out",
                dir_.file("o.png")},
               "unknown inpainting method 'guess'");
  // Given the class: a class-conditional VAE fills each image given its own label, or one class named for all.
  const auto cvae = dir_.file("cvae.gf");
  ASSERT_EQ(run_cli({"train", "vae", "--data", "fashion-mnist:test", "--limit", "64", "--set", "epochs=1", "--set",
                     "hidden=32", "--set", "latent=4", "--set", "conditional=true", "--out", cvae, "-q"}).rc, 0);
  for (const auto& given : {std::vector<std::string>{"--given-class"}, std::vector<std::string>{"--class", "Sneaker"}}) {
    std::vector<std::string> args{"inpaint", cvae, "--images", "fashion-mnist:test", "--limit", "3", "--box",
                                  "0,14,28,14", "--out", dir_.file("given.npy")};
    args.insert(args.end(), given.begin(), given.end());
    r = run_cli(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(read_npy(dir_.file("given.npy")).sizes(), torch::IntArrayRef({1, 3, 1, 28, 28}));
  }
  expect_error({"inpaint", cvae, "--images", "fashion-mnist:test", "--box", "0,0,4,4", "--class", "1",
                "--given-class", "--out", dir_.file("o.png")},
               "--class and --given-class together");
  expect_error({"inpaint", model, "--images", "fashion-mnist:test", "--box", "0,0,4,4", "--class", "1", "--out",
                dir_.file("o.png")},
               "the autoencoder model is not class-conditional");
  expect_error({"inpaint", cvae, "--images", "fashion-mnist:test", "--box", "0,0,4,4", "--given-class", "--method",
                "project", "--out", dir_.file("o.png")},
               "projection fills in without the class");

  std::string text = "x,y,kind\n";
  for (int i = 0; i < 40; ++i) {
    text += std::to_string(0.1 * (i % 7) + (i % 2 ? 5 : 0)) + "," + std::to_string(0.2 * (i % 5)) + "," +
            (i % 2 ? "odd" : "even") + "\n";
  }
  test::write_text(dir_.file("labelled.csv"), text);
  r = run_cli({"augment", "--data", dir_.file("labelled.csv"), "--label", "kind", "--model", "gmm", "--set",
               "n_components=1", "--per-class", "7", "--out", dir_.file("aug.csv"), "--mix"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto aug = read_table(dir_.file("aug.csv"), {});
  EXPECT_EQ(aug.n_rows(), 40u + 14u);
  EXPECT_EQ(aug.names(), (std::vector<std::string>{"x", "y", "kind", "origin"}));
  const Column& origin = aug.column("origin");
  int synthetic = 0;
  for (size_t i = 0; i < aug.n_rows(); ++i) {
    const auto& label = origin.categories[static_cast<size_t>(origin.values[i])];
    if (label != "real") {
      ++synthetic;
      EXPECT_EQ(label, "generated by genforge (one gmm per class)");
      // Each class's model learned its own level of x: odd rows sit near 5, even ones near 0.3.
      const auto& kind = aug.column("kind");
      const bool odd = kind.categories[static_cast<size_t>(kind.values[i])] == "odd";
      EXPECT_NEAR(aug.column("x").values[i], odd ? 5.3 : 0.3, 1.5) << i;
    }
  }
  EXPECT_EQ(synthetic, 14);
  expect_error({"augment", "--data", dir_.file("labelled.csv"), "--model", "gmm", "--out", dir_.file("a.csv")},
               "a table needs its label column");

  // --balance: each class up to the largest (30 / 10 / 4 rows -> 0 / 20 / 26 new rows), with a column subset.
  std::string imbalanced = "x,y,unused,kind\n";
  for (int i = 0; i < 44; ++i) {
    const char* kind = i < 30 ? "big" : i < 40 ? "mid" : "rare";
    imbalanced += std::to_string(0.1 * (i % 7) + (i < 30 ? 0 : i < 40 ? 4 : 8)) + "," + std::to_string(0.3 * (i % 5)) +
                  ",z" + std::to_string(i % 3) + "," + kind + "\n";
  }
  test::write_text(dir_.file("imbalanced.csv"), imbalanced);
  r = run_cli({"augment", "--data", dir_.file("imbalanced.csv"), "--label", "kind", "--model", "gmm", "--set",
               "n_components=1", "--columns", "x,y", "--balance", "--out", dir_.file("balanced.csv"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["per_class"], "balance");
  const auto balanced = read_table(dir_.file("balanced.csv"), {});
  EXPECT_EQ(balanced.names(), (std::vector<std::string>{"x", "y", "kind", "origin"}));
  std::map<std::string, int> per_kind;
  const auto& kinds = balanced.column("kind");
  for (size_t i = 0; i < balanced.n_rows(); ++i) ++per_kind[kinds.categories[static_cast<size_t>(kinds.values[i])]];
  EXPECT_EQ(per_kind, (std::map<std::string, int>{{"mid", 20}, {"rare", 26}}));
  expect_error({"augment", "--data", dir_.file("imbalanced.csv"), "--label", "kind", "--model", "gmm", "--balance",
                "--per-class", "5", "--out", dir_.file("b.csv")},
               "--per-class excludes --balance");
  expect_error({"augment", "--data", dir_.file("labelled.csv"), "--label", "kind", "--model", "gmm", "--set",
                "n_components=1", "--balance", "--out", dir_.file("b.csv")},
               "so --balance adds none");
}

}  // namespace
}  // namespace gf

namespace gf::cli_test {

TEST_F(Cli, SynthWritesRowsAndAReportAndRefusesBadRules) {
  const std::string penguins = test::source_path("data/vega-datasets/data/penguins.json");
  const auto out = dir_.file("syn.csv");
  auto r = test::run_cli({"synth", "--data", penguins, "-n", "120", "--out", out, "--condition", "Species=Gentoo",
                          "--constraint", "Body Mass (g) > 4500", "--save", dir_.file("s.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("wrote 120 rows"), std::string::npos) << r.out;
  const Table t = read_csv(out);
  ASSERT_EQ(t.n_rows(), 120u);
  const auto& species = t.column("Species");
  for (size_t i = 0; i < t.n_rows(); ++i) EXPECT_EQ(species.categories[size_t(species.values[i])], "Gentoo");
  const auto report = test::read_json(dir_.file("syn.report.json"));
  EXPECT_TRUE(report.contains("quality_score"));
  EXPECT_TRUE(report.contains("ml_efficacy_synthetic"));
  EXPECT_TRUE(report.contains("pmse_ratio"));
  EXPECT_EQ(report["synthesis"]["exact_rules"].size(), 2u);
  // Rows drawn under rules are judged against the real rows that meet them (Gentoo penguins above 4500 g).
  EXPECT_NE(report["compared_with"].get<std::string>().find("real rows that meet the conditions"), std::string::npos);
  EXPECT_LT(report["real_rows"].get<int64_t>(), 124);
  // Penguins' one "." in Sex is pooled: no sample carries it, and the real rows are read the same way.
  EXPECT_NE(r.out.find("rare labels: 1 seen in fewer than 5 rows pooled into _RARE_ (Sex 1); no synthetic cell "
                       "carries a label seen in fewer than 5 real rows\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(report["synthesis"]["rare_labels"]["pooled"]["Sex"]["rows"], 1);
  EXPECT_NE(report["compared_with"].get<std::string>().find(", its rare labels read as _RARE_"), std::string::npos);
  EXPECT_NE(test::read_text(dir_.file("syn.report.html")).find("<svg"), std::string::npos);
  // The saved synthesizer samples again, and a private fit states its budget.
  r = test::run_cli({"synth", "--data", penguins, "--from", dir_.file("s.gf"), "-n", "10", "--out",
                     dir_.file("again.csv"), "--no-report", "-q"});
  EXPECT_EQ(r.rc, 0) << r.err;
  r = test::run_cli({"synth", "--data", penguins, "--dp-epsilon", "1", "--out", dir_.file("dp.csv"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_DOUBLE_EQ(test::read_json(dir_.file("dp.report.json"))["privacy"]["epsilon"].get<double>(), 1.0);
  EXPECT_NE(test::read_text(dir_.file("dp.report.html")).find("<li>differential privacy: ε 1, δ 1e-05</li>"),
            std::string::npos);
  r = test::run_cli({"synth", "--data", penguins, "--dp-epsilon", "1", "--dp-bounds", "Body Mass (g):2000..8000",
                     "--out", dir_.file("dp.csv"), "--no-report"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("ranges declared: Body Mass (g) 2000..8000; private (ε 0.0666667 each): Beak Depth (mm) "),
            std::string::npos)
      << r.out;
  expect_error({"synth", "--data", penguins, "--dp-bounds", "Body Mass (g):0..9000", "--out", dir_.file("x.csv")},
               "--dp-bounds needs --dp-epsilon");
  expect_error({"synth", "--data", penguins, "--dp-epsilon", "1", "--dp-bounds", "Mass:0..9000", "--out",
                dir_.file("x.csv")},
               "dp_bounds names column 'Mass', which is not a numeric column of the data");
  // A Bayesian network: conditioned rows, its graph as DOT and PNG; a model without a graph says which have one.
  r = test::run_cli({"synth", "--data", penguins, "--model", "bayesnet", "-n", "50", "--out", dir_.file("bn.csv"),
                     "--condition", "Island=Dream", "--save", dir_.file("bn.gf"), "--no-report", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const Table bn = read_csv(dir_.file("bn.csv"));
  const auto& island = bn.column("Island");
  for (size_t i = 0; i < bn.n_rows(); ++i) EXPECT_EQ(island.categories[size_t(island.values[i])], "Dream");
  r = test::run_cli({"info", dir_.file("bn.gf"), "--graph", dir_.file("bn.dot")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(test::read_text(dir_.file("bn.dot")).find("\"Species\" -> "), std::string::npos);
  r = test::run_cli({"info", dir_.file("bn.gf"), "--graph", dir_.file("bn.png")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(test::read_text(dir_.file("bn.png")).substr(1, 3), "PNG");
  expect_error({"info", dir_.file("s.gf"), "--graph", dir_.file("c.dot")}, "the copula model has no graph");
  expect_error({"synth", "--data", penguins, "--out", dir_.file("x.csv"), "--condition", "Species=Dodo"},
               "'Dodo' is not a category of column 'Species'");
  expect_error({"synth", "--data", penguins, "--out", dir_.file("x.csv"), "--constraint", "Body Mass (g) > 5000",
                "--constraint", "Body Mass (g) < 4000"},
               "contradictory rules");
  expect_error({"synth", "--data", penguins, "--out", dir_.file("x.csv"), "--model", "gmm", "--categorical",
                "onehot", "--dp-epsilon", "1"},
               "the gmm model has no differentially private fit");
}

// A tiny GPT trained on 80 lines of one sentence (text.txt) into gpt.gf; returns the text.
std::string train_tiny_gpt(const test::TempDir& dir, int layers, int steps) {
  std::string text;
  for (int i = 0; i < 80; ++i) text += "the cat sat on the mat .\n";
  test::write_text(dir.file("text.txt"), text);
  EXPECT_EQ(run_cli({"train", "gpt", "--data", dir.file("text.txt"), "--set", "n_layer=" + std::to_string(layers),
                     "--set", "n_head=2", "--set", "n_embd=16", "--set", "block_size=32", "--set",
                     "max_steps=" + std::to_string(steps), "--set", "batch_size=8", "--out", dir.file("gpt.gf"), "-q"})
                .rc,
            0);
  return text;
}

TEST_F(Cli, CompressAndDecompressWithAGptAndWithTheBuiltInModel) {
  const std::string text = train_tiny_gpt(dir_, 1, 40);
  // With the model, in two threads; back in one thread.
  auto r = run_cli({"compress", dir_.file("gpt.gf"), dir_.file("text.txt"), dir_.file("text.gfz"), "--json",
                    "--threads", "2", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["original_bytes"], text.size());
  EXPECT_EQ(j["compressed_bytes"], test::read_text(dir_.file("text.gfz")).size());
  EXPECT_LT(j["bits_per_byte"].get<double>(), 8.0);  // smaller than the text, even from a barely trained model
  r = run_cli({"decompress", dir_.file("gpt.gf"), dir_.file("text.gfz"), dir_.file("back.txt"), "--threads", "1", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(test::read_text(dir_.file("back.txt")), text);
  EXPECT_NE(r.out.find("CRC-32 checked"), std::string::npos) << r.out;
  // The built-in model needs no model file.
  ASSERT_EQ(run_cli({"compress", dir_.file("text.txt"), dir_.file("b.gfz"), "--order", "3", "-q"}).rc, 0);
  ASSERT_EQ(run_cli({"decompress", dir_.file("b.gfz"), dir_.file("b.txt"), "-q"}).rc, 0);
  EXPECT_EQ(test::read_text(dir_.file("b.txt")), text);
  // Wrong or missing model, a truncated stream, a model that cannot code, bad arguments.
  expect_error({"decompress", dir_.file("text.gfz"), dir_.file("x.txt")}, "compressed with a gpt model (SHA-256 ");
  expect_error({"decompress", trained_model(), dir_.file("text.gfz"), dir_.file("x.txt")},
               "does not predict next symbols");
  std::string packed = test::read_text(dir_.file("text.gfz"));
  test::write_text(dir_.file("cut.gfz"), packed.substr(0, packed.size() - 3));
  expect_error({"decompress", dir_.file("gpt.gf"), dir_.file("cut.gfz"), dir_.file("x.txt")}, "truncated");
  expect_error({"compress", dir_.file("text.txt")}, "compress takes [MODEL] INPUT OUTPUT, got 1 paths");
  expect_error({"compress", dir_.file("nope.txt"), dir_.file("x.gfz")}, "'" + dir_.file("nope.txt") + "': no such file");
  EXPECT_FALSE(test::exists(dir_.file("x.txt")));
}


TEST_F(Cli, FinetuneFreezesByNameRecordsTheParentAndInfoListsParameters) {
  train_tiny_gpt(dir_, 2, 10);
  auto r = run_cli({"info", dir_.file("gpt.gf"), "--parameters"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("h1_mlp_c_fc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensors, "), std::string::npos);
  test::write_text(dir_.file("new.txt"), "the mat sat on the cat .\nthe cat sat on the mat .\n");
  r = run_cli({"finetune", dir_.file("gpt.gf"), "--data", dir_.file("new.txt"), "--train-only", "h1_*",
               "--unfreeze-after", "3", "--freeze", "wte", "--max_steps", "6", "--out", dir_.file("ft.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("phase: 3 steps"), std::string::npos) << r.out;
  r = run_cli({"info", dir_.file("ft.gf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["fit_report"]["extra"]["finetune"]["parent"]["path"], "gpt.gf");
  ASSERT_EQ(run_cli({"generate", dir_.file("ft.gf"), "--prompt", "the ", "-n", "5"}).rc, 0);
  // LoRA adapters, then merged: the same generation.
  ASSERT_EQ(run_cli({"finetune", dir_.file("gpt.gf"), "--data", dir_.file("new.txt"), "--lora", "rank=2,alpha=4",
                     "--max_steps", "3", "--out", dir_.file("lora.gf"), "-q"}).rc, 0);
  r = run_cli({"export", dir_.file("lora.gf"), "--merge", "--out", dir_.file("merged.gf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  // 2 layers x rank 2 x (16 + 48, 16 + 16, 16 + 64, 64 + 16): every block matrix by default
  EXPECT_NE(r.out.find("merged 1024 adapter parameters"), std::string::npos) << r.out;
  const auto a = run_cli({"generate", dir_.file("lora.gf"), "--prompt", "the ", "-n", "8", "--seed", "2"});
  const auto b = run_cli({"generate", dir_.file("merged.gf"), "--prompt", "the ", "-n", "8", "--seed", "2"});
  EXPECT_EQ(a.out, b.out);
  // The adapters alone: a small file that loads with the base beside it and generates as the whole model does.
  ASSERT_EQ(run_cli({"finetune", dir_.file("gpt.gf"), "--data", dir_.file("new.txt"), "--lora", "rank=2,alpha=4",
                     "--max_steps", "3", "--adapters-only", "--out", dir_.file("adapters.gf"), "-q"}).rc, 0);
  // (this tiny GPT: 1024 adapter values beside ~10000 weights; the metadata, tokenizer included, is most of the file)
  EXPECT_LT(test::read_text(dir_.file("adapters.gf")).size() * 3, test::read_text(dir_.file("lora.gf")).size());
  const auto c = run_cli({"generate", dir_.file("adapters.gf"), "--prompt", "the ", "-n", "8", "--seed", "2"});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_EQ(c.out, a.out);
  ASSERT_EQ(run_cli({"export", dir_.file("adapters.gf"), "--merge", "--out", dir_.file("merged2.gf")}).rc, 0);
  std::filesystem::rename(dir_.file("gpt.gf"), dir_.file("moved.gf"));
  expect_error({"generate", dir_.file("adapters.gf"), "--prompt", "the "},
               "'" + dir_.file("adapters.gf") + "' holds adapters for the base model '" + dir_.file("gpt.gf") +
                   "', which is not there");
  std::filesystem::copy_file(dir_.file("merged.gf"), dir_.file("gpt.gf"));
  expect_error({"generate", dir_.file("adapters.gf"), "--prompt", "the "},
               "'" + dir_.file("gpt.gf") + "' is not the base model the adapters in '" + dir_.file("adapters.gf") +
                   "' were trained on (its SHA-256 differs)");
  std::filesystem::remove(dir_.file("gpt.gf"));
  std::filesystem::rename(dir_.file("moved.gf"), dir_.file("gpt.gf"));
  expect_error({"finetune", dir_.file("gpt.gf"), "--data", dir_.file("new.txt"), "--adapters-only", "--out",
                dir_.file("x.gf")},
               "--adapters-only saves LoRA adapters, and no --lora was given");
  expect_error({"export", dir_.file("merged.gf"), "--merge", "--out", dir_.file("x.gf")}, "has no adapters to merge");
  expect_error({"finetune", dir_.file("gpt.gf"), "--data", dir_.file("new.txt"), "--freeze", "encoder*", "--out",
                dir_.file("x.gf")},
               "--freeze 'encoder*' matches no parameter");
  // A gmm continues its own fit (EM from where it stopped); a copula neither steps nor continues.
  auto tuned = test::run_cli({"finetune", trained_model(), "--data", csv_, "--out", dir_.file("tuned.gf"), "-q"});
  EXPECT_EQ(tuned.rc, 0) << tuned.err;
  EXPECT_NE(tuned.out.find("gmm: EM from the current parameters (warm start)"), std::string::npos) << tuned.out;
  std::filesystem::remove(dir_.file("tuned.gf"));
  ASSERT_EQ(test::run_cli({"train", "copula", "--data", csv_, "--out", dir_.file("copula.gf"), "-q"}).rc, 0);
  expect_error({"finetune", dir_.file("copula.gf"), "--data", csv_, "--out", dir_.file("x.gf")},
               "a copula model is not trained by gradient steps and cannot continue its fit");
}

}  // namespace gf::cli_test

namespace gf::cli_test {

TEST_F(Cli, FinetuneNewHeadMakesAClassifierThatScoreAndInfoReport) {
  const auto images = image_folder(dir_, "images");
  ASSERT_EQ(run_cli({"train", "vae", "--data", images, "--max_steps", "10", "--hidden", "16", "--latent", "2", "--out",
                     dir_.file("vae.gf"), "-q"}).rc, 0);
  auto r = run_cli({"finetune", dir_.file("vae.gf"), "--data", images, "--new-head", "classes=2", "--train-only",
                    "head.*", "--unfreeze-after", "20", "--max_steps", "40", "--lr", "1e-2", "--batch_size", "8",
                    "--out", dir_.file("clf.gf"), "--test", images, "--confusion", dir_.file("confusion.png"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("phase: 20 steps at lr 0.01, trained 34 parameters (2 tensors)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test (" + images + "): 24 examples classified into 2 classes; classification accuracy 1.0000"),
            std::string::npos) << r.out;
  EXPECT_TRUE(test::exists(dir_.file("confusion.png")));
  r = run_cli({"info", dir_.file("clf.gf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["kind"], "classifier");
  EXPECT_EQ(info["fit_report"]["extra"]["finetune"]["new_head"]["trunk"], "vae encoder");
  r = run_cli({"score", dir_.file("clf.gf"), "--data", images, "--out", dir_.file("pred.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string csv = test::read_text(dir_.file("pred.csv"));
  // Each row names its image file (the folder's class sub-folders in path order).
  EXPECT_NE(csv.find("\nfile,predicted,p_left,p_top\nleft/0.png,"), std::string::npos) << csv;
  expect_error({"sample", dir_.file("clf.gf"), "-n", "4", "--out", dir_.file("s.png")},
               "a classifier predicts classes; it does not generate examples");
  expect_error({"finetune", dir_.file("vae.gf"), "--data", images, "--new-head", "classes=2", "--confusion",
                dir_.file("c.png"), "--out", dir_.file("x.gf")},
               "--confusion draws the classification of --test data, and no --test was given");
}

}  // namespace gf::cli_test
