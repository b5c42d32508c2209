// genforge eval text | image end to end: numbers equal to the library's (which the reference vectors pin), JSON
// output, TorchScript feature extractors made by Debian's python3-torch, and one-line errors with hints.
#include <gtest/gtest.h>

#include <cstdlib>

#include "genforge/data/images.h"
#include "genforge/eval/image.h"
#include "genforge/eval/text.h"
#include "support/support.h"

namespace gf {
namespace {

using test::run_cli;

void expect_error(const std::vector<std::string>& args, const std::string& contains) {
  test::expect_cli_error(args, contains);
}

TEST(EvalCli, TextMatchesSacreBleuOnItsOwnTestCorpus) {
  test::TempDir dir;
  // sacreBLEU test/test_bleu.py: two reference streams, BLEU 48.530827 (13a, exp); chrF 59.72751782684763.
  test::write_text(dir.file("hyp.txt"), "The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n");
  test::write_text(dir.file("ref1.txt"), "The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n");
  test::write_text(dir.file("ref2.txt"),
                   "The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n");
  auto r = run_cli({"eval", "text", "--hyp", dir.file("hyp.txt"), "--ref", dir.file("ref1.txt"), "--ref",
                    dir.file("ref2.txt"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["bleu"].get<double>(), 48.530827, 1e-6);
  EXPECT_NEAR(j["chrf"].get<double>(), 59.72751782684763, 1e-9);
  EXPECT_EQ(j["bleu_signature"], "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp");
  auto table = run_cli({"eval", "text", "--hyp", dir.file("hyp.txt"), "--ref", dir.file("ref1.txt")});
  EXPECT_NE(table.out.find("bleu"), std::string::npos);

  // METEOR: nltk 3.8, mean of meteor_score([r1.split(), r2.split()], h.split()) over the three lines.
  auto rm = run_cli({"eval", "text", "--hyp", dir.file("hyp.txt"), "--ref", dir.file("ref1.txt"), "--ref",
                     dir.file("ref2.txt"), "--metrics", "rouge,meteor", "--rouge-stemmer", "--json"});
  ASSERT_EQ(rm.rc, 0) << rm.err;
  auto k = nlohmann::json::parse(rm.out);
  EXPECT_NEAR(k["meteor"].get<double>(), 0.5500822649572649, 1e-15);
  eval::RougeOptions ro;
  ro.use_stemmer = true;
  const auto rouge = eval::corpus_rouge(
      {"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."},
      {{"The dog bit the man.", "The dog had bit the man."},
       {"It was not unexpected.", "No one was surprised."},
       {"The man bit him first.", "The man had bitten the dog."}},
      ro);
  for (const auto& type : {"rouge1", "rouge2", "rougeL", "rougeLsum"}) {
    EXPECT_DOUBLE_EQ(k[type].get<double>(), rouge.at(type).fmeasure) << type;
    EXPECT_DOUBLE_EQ(k[std::string(type) + "_recall"].get<double>(), rouge.at(type).recall) << type;
  }
  expect_error({"eval", "text", "--hyp", dir.file("hyp.txt"), "--ref", dir.file("ref1.txt"), "--metrics", "rouge",
                "--rouge-types", "rougeW"},
               "invalid ROUGE type 'rougeW'");

  test::write_text(dir.file("short.txt"), "one line\n");
  test::write_text(dir.file("empty.txt"), "");
  expect_error({"eval", "text", "--hyp", dir.file("short.txt"), "--ref", dir.file("ref1.txt")}, "has 3 lines");
  expect_error({"eval", "text", "--hyp", dir.file("empty.txt"), "--ref", dir.file("ref1.txt")}, "has no lines");
  expect_error({"eval", "text", "--hyp", dir.file("hyp.txt"), "--ref", dir.file("ref1.txt"), "--metrics", "bleu,cider"},
               "unknown metric 'cider'");
  expect_error({"eval", "text", "--hyp", dir.file("hyp.txt"), "--ref", dir.file("ref1.txt"), "--tokenize", "moses"},
               "unknown BLEU tokenizer");
  expect_error({"eval", "poetry"}, "unknown evaluation");
}

TEST(EvalCli, ImageMetricsOnPixelsAndOnATorchScriptExtractor) {
  test::TempDir dir;
  // Features = the mean of each image quarter: a 4-d extractor scripted by PyTorch
  // (tests/reference/make_quarters_module.py wrote it, so the tests need no PyTorch installed).
  const std::string module = test::source_path("tests/reference/quarters.pt");
  auto r = run_cli({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "300",
                    "--features", module, "--metrics", "fid,kid,prdc,is", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["feature_dim"], 4);
  // The same number from the library on the same features.
  auto pool = [](const torch::Tensor& x) {
    return torch::adaptive_avg_pool2d(x, {2, 2}).flatten(1).to(torch::kDouble);
  };
  auto real = load_images("fashion-mnist:test").images.slice(0, 0, 300).to(torch::kFloat) / 255.0;
  auto fake = load_images("fashion-mnist").images.slice(0, 0, 300).to(torch::kFloat) / 255.0;
  const double fid =
      eval::frechet_distance(eval::gaussian_statistics(pool(real)), eval::gaussian_statistics(pool(fake))).distance;
  EXPECT_NEAR(j["fid"].get<double>(), fid, 1e-6 * std::max(1.0, fid));
  EXPECT_GE(j["precision"].get<double>(), 0.0);
  // Mixed-precision statistics on these well-conditioned features (300 samples, 4 dimensions): the same FID.
  auto mixed = run_cli({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "300",
                        "--features", module, "--metrics", "fid", "--statistics", "mixed", "--json"});
  ASSERT_EQ(mixed.rc, 0) << mixed.err;
  EXPECT_NEAR(nlohmann::json::parse(mixed.out)["fid"].get<double>(), fid, 1e-6 * std::max(1.0, fid));
  EXPECT_EQ(nlohmann::json::parse(mixed.out)["fid_statistics"], "mixed");
  // The default (auto) says which precision it kept; float64 forced is pytorch-fid's arithmetic.
  EXPECT_TRUE(j["fid_statistics"] == "mixed" || j["fid_statistics"] == "float64") << j.dump();
  auto exact = run_cli({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "300",
                        "--features", module, "--metrics", "fid", "--statistics", "float64", "--json"});
  ASSERT_EQ(exact.rc, 0) << exact.err;
  EXPECT_EQ(nlohmann::json::parse(exact.out)["fid_statistics"], "float64");
  EXPECT_NEAR(nlohmann::json::parse(exact.out)["fid"].get<double>(), fid, 1e-12 * std::max(1.0, fid));
  expect_error({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "50", "--statistics",
                "half"},
               "--statistics must be auto, float64 or mixed, got 'half'");
  EXPECT_LE(j["coverage"].get<double>(), 1.0);

  auto same = run_cli({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist:test", "-n", "200",
                       "--metrics", "fid", "--json"});
  ASSERT_EQ(same.rc, 0) << same.err;
  // 200 images in 784 dimensions: a singular covariance, where pytorch-fid's scipy sqrtm itself returns -3.8e-5.
  EXPECT_NEAR(nlohmann::json::parse(same.out)["fid"].get<double>(), 0.0, 1e-4);

  test::write_text(dir.file("not_a_module.pt"), "hello");
  expect_error({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "50", "--features",
                dir.file("not_a_module.pt")},
               "is not a TorchScript module");
  expect_error({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "1"},
               "too few images");
  expect_error({"eval", "image", "--real", "fashion-mnist:test", "--fake", "fashion-mnist", "-n", "50", "--metrics",
                "lpips"},
               "unknown metric 'lpips'");
}

}  // namespace
}  // namespace gf

namespace gf {
namespace {

TEST(EvalCli, TableMetricsEqualTheLibraryAndSdmetrics) {
  const auto real = test::source_path("tests/reference/tabular/real.csv");
  const auto synthetic = test::source_path("tests/reference/tabular/synthetic.csv");
  const auto holdout = test::source_path("tests/reference/tabular/holdout.csv");
  auto r = test::run_cli({"eval", "table", "--real", real, "--synthetic", synthetic, "--holdout", holdout, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto g = test::read_json(test::source_path("tests/reference/sdmetrics_golden.json"));
  EXPECT_NEAR(j["quality_score"].get<double>(), g["quality_score"].get<double>(), 1e-12);
  EXPECT_NEAR(j["dcr_overfitting_protection"].get<double>(), g["dcr_overfitting"]["score"].get<double>(), 1e-15);
  EXPECT_NEAR(j["new_row_synthesis"].get<double>(), g["new_row_synthesis"]["score"].get<double>(), 1e-15);
  EXPECT_EQ(j["details"]["column_pair_trends"].size(), 21u);
  EXPECT_EQ(j["details"]["detection_auc"].size(), 3u);
  EXPECT_GT(j["detection_score"].get<double>(), 0.0);

  test::TempDir dir;
  test::write_text(dir.file("ragged.csv"), "Species,Island\nAdelie,Dream,3\n");
  test::write_text(dir.file("empty.csv"), "");
  expect_error({"eval", "table", "--real", real, "--synthetic", dir.file("ragged.csv")}, "error: ");
  expect_error({"eval", "table", "--real", real, "--synthetic", dir.file("empty.csv")}, "error: ");
  expect_error({"eval", "table", "--real", real, "--synthetic", synthetic, "--metrics", "fid"}, "unknown metric 'fid'");
}

}  // namespace
}  // namespace gf
