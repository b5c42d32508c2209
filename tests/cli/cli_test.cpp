// The verbs end to end, in-process: the happy path, and every bad input giving a one-line error with a hint,
// exit code 2 and no partial output file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "genforge/data/images.h"
#include "genforge/data/matrix.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "genforge/data/tokenizers.h"
#include "genforge/eval/image.h"
#include "genforge/io/model_file.h"
#include "genforge/models/gmm.h"
#include "genforge/models/hmm.h"
#include "genforge/registry.h"
#include "cli/cli_fixture.h"
#include "support/support.h"

namespace gf {
namespace {

using cli_test::Cli;
using test::run_cli;

torch::Tensor read_csv_matrix(const std::string& csv) { return numeric_matrix(read_table(csv, {})); }

// The Cli fixture (a temporary folder, a small table, expect_error) is in cli_fixture.h.

TEST_F(Cli, TrainSampleScoreInfo) {
  auto model = trained_model();
  auto r = run_cli({"sample", model, "-n", "25", "--out", dir_.file("s.csv"), "--seed", "7"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto samples = test::read_text(dir_.file("s.csv"));
  EXPECT_EQ(samples.substr(0, 6), "a,b,c\n");
  EXPECT_EQ(std::count(samples.begin(), samples.end(), '\n'), 26);
  run_cli({"sample", model, "-n", "25", "--out", dir_.file("s2.csv"), "--seed", "7"});
  EXPECT_EQ(test::read_text(dir_.file("s2.csv")), samples);  // same seed, same samples
  r = run_cli({"score", model, "--data", csv_, "--out", dir_.file("scores.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("60 rows, mean log-likelihood"), std::string::npos) << r.out;
  auto scores = test::read_text(dir_.file("scores.csv"));
  EXPECT_EQ(scores.substr(0, 15), "log_likelihood\n");
  EXPECT_EQ(std::count(scores.begin(), scores.end(), '\n'), 61);
  r = run_cli({"info", model});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["kind"], "gmm");
  EXPECT_EQ(info["options"]["n_components"], 2);
  EXPECT_EQ(info["schema"]["columns"], nlohmann::json({"a", "b", "c"}));
  EXPECT_EQ(info["capabilities"]["likelihood"], "exact");
}

TEST_F(Cli, ModelsAndHelpListOptionsWithDefaults) {
  auto r = run_cli({"models"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("gmm"), std::string::npos);
  r = run_cli({"train", "gmm", "--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("n_components (int, default 1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("covariance_type (string, default full)"), std::string::npos);
  EXPECT_NE(r.out.find("reg_covar (float, default 1e-06)"), std::string::npos);
  r = run_cli({"info", "--build"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("loaded_libraries"), std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(r.out).contains("sentencepiece"));
}

TEST_F(Cli, BadDataIsAClearError) {
  auto out = dir_.file("m.gf");
  expect_error({"train", "gmm", "--data", dir_.file("none.csv"), "--out", out}, "no such file");
  test::write_text(dir_.file("empty.csv"), "");
  expect_error({"train", "gmm", "--data", dir_.file("empty.csv"), "--out", out}, "is empty");
  test::write_text(dir_.file("header.csv"), "a,b\n");
  expect_error({"train", "gmm", "--data", dir_.file("header.csv"), "--out", out}, "has a header but no data rows");
  test::write_text(dir_.file("ragged.csv"), "a,b\n1,2\n3,4,5\n");
  expect_error({"train", "gmm", "--data", dir_.file("ragged.csv"), "--out", out}, "line 3: 3 fields, expected 2");
  test::write_text(dir_.file("text.csv"), "a,b\n1,2\n3,x\n5,6\n");
  expect_error({"train", "gmm", "--data", dir_.file("text.csv"), "--out", out}, "line 3, column 'b': 'x' is not a number");
  test::write_text(dir_.file("inf.csv"), "a,b\n1,2\n3,inf\n5,6\n");
  expect_error({"train", "gmm", "--data", dir_.file("inf.csv"), "--out", out}, "'inf' is not a finite number");
  test::write_text(dir_.file("nan.csv"), "a,b\n1,2\n3,NaN\n5,6\n");
  expect_error({"train", "gmm", "--data", dir_.file("nan.csv"), "--out", out, "--set", "allow_missing=false"},
               "row 2, column 'b': missing value");
  test::write_text(dir_.file("dup.csv"), "a,a\n1,2\n");
  expect_error({"train", "gmm", "--data", dir_.file("dup.csv"), "--out", out}, "duplicate column name 'a'");
  test::write_text(dir_.file("cat.csv"), "a,kind\n1,x\n2,y\n");
  expect_error({"train", "gmm", "--data", dir_.file("cat.csv"), "--out", out}, "'kind' (categorical)");
  expect_error({"train", "gmm", "--data", csv_, "--out", out, "--columns", ","}, "has no columns");
  expect_error({"train", "gmm", "--data", csv_, "--out", out, "--set", "n_components=100"},
               "n_components=100 is larger than the number of rows (60)");
}

TEST_F(Cli, InitialValuesFromNpyFilesAndValidationScore) {
  auto means = torch::tensor({{0.2, -0.3, 0.3}, {4.3, 3.6, 0.3}}, torch::kFloat64);
  write_npy(dir_.file("means.npy"), means);
  auto out = dir_.file("m.gf");
  auto r = run_cli({"train", "gmm", "--data", csv_, "--out", out, "--set", "n_components=2", "--set", "max_iter=1",
                    "--init", "means=" + dir_.file("means.npy"), "--validation", csv_, "--json", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto report = nlohmann::json::parse(r.out);
  // The same fit through the library.
  GmmOptions o;
  o.n_components = 2;
  o.max_iter = 1;
  o.means_init = means;
  GaussianMixture g(o);
  FitContext ctx;
  ctx.progress = false;
  auto x = read_csv_matrix(csv_);
  auto lib = g.fit({x}, ctx);
  EXPECT_NEAR(report["objective"].get<double>(), lib.objective, 1e-12);
  EXPECT_NEAR(report["extra"]["validation_mean_log_likelihood"].get<double>(), g.score(x), 1e-12);

  r = run_cli({"train", "bgmm", "--data", csv_, "--out", dir_.file("b.gf"), "--set", "n_components=4",
               "--validation", csv_, "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("mean_log_predictive on " + csv_ + ": "), std::string::npos) << r.out;

  expect_error({"train", "gmm", "--data", csv_, "--out", out + "2", "--set", "n_components=3", "--init",
                "means=" + dir_.file("means.npy")},
               "means_init must have shape [3, 3], got [2, 3]");
  expect_error({"train", "gmm", "--data", csv_, "--out", out + "2", "--init", "mean=" + dir_.file("means.npy")},
               "gmm takes no initial value 'mean'");
  expect_error({"train", "gmm", "--data", csv_, "--out", out + "2", "--init", "means"},
               "--init 'means' is not of the form key=value");
  expect_error({"train", "gmm", "--data", csv_, "--out", out + "2", "--init", "means=" + dir_.file("nope.npy")},
               "nope.npy");
}

TEST_F(Cli, BadOptionsAreClearErrors) {
  auto out = dir_.file("m.gf");
  expect_error({"train", "gmm", "--data", csv_, "--out", out, "--set", "n_componets=3"},
               "unknown option 'n_componets' for gmm");
  expect_error({"train", "gmm", "--data", csv_, "--out", out, "--set", "n_components=three"},
               "option 'n_components' must be an integer, got 'three'");
  expect_error({"train", "gmm", "--data", csv_, "--out", out, "--set", "covariance_type=round"},
               "option 'covariance_type' must be one of full | diag | tied | spherical");
  expect_error({"train", "gmm", "--data", csv_, "--out", out, "--set", "tol"}, "is not of the form key=value");
  expect_error({"train", "nosuchmodel", "--data", csv_, "--out", out}, "unknown model 'nosuchmodel'");
  expect_error({"frobnicate"}, "unknown verb 'frobnicate'");
  expect_error({"train", "gmm", "--data", csv_, "--out", dir_.file("no/dir/m.gf")}, "folder '" + dir_.file("no/dir") + "' does not exist");
  std::string locked = geteuid() == 0 ? "/proc/genforge_test.gf" : dir_.file("ro/m.gf");
  if (geteuid() != 0) {
    ::mkdir(dir_.file("ro").c_str(), 0555);
  }
  auto r = run_cli({"train", "gmm", "--data", csv_, "--out", locked, "-q"});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: cannot ", 0), 0u) << r.err;
}

TEST_F(Cli, BadModelFilesAreClearErrors) {
  auto model = trained_model();
  std::string bytes = test::read_text(model);
  test::write_text(dir_.file("trunc.gf"), bytes.substr(0, bytes.size() / 2));
  expect_error({"sample", dir_.file("trunc.gf"), "-n", "3", "--out", dir_.file("s.csv")}, "truncated");
  test::write_text(dir_.file("magic.gf"), "GIF89a not a model at all, just some bytes");
  expect_error({"info", dir_.file("magic.gf")}, "bad magic");
  ModelFileContents other = read_model_file(model);
  other.kind = "no-such-kind";
  write_model_file(dir_.file("unknown.gf"), other);
  expect_error({"score", dir_.file("unknown.gf"), "--data", csv_}, "holds an unknown model kind 'no-such-kind'");
  expect_error({"sample", model, "-n", "0", "--out", dir_.file("s.csv")}, "-n must be at least 1, got 0");
  expect_error({"sample", model, "-n", "5", "--out", dir_.file("missing/s.csv")}, "does not exist");
  test::write_text(dir_.file("two.csv"), "a,b\n1,2\n");
  expect_error({"score", model, "--data", dir_.file("two.csv")}, "has no column 'c', which the model was fitted on");
}

// A folder of 28x28 grayscale PNGs in two class sub-folders ("left": bright left half, "top": bright top half).
std::string image_folder(const test::TempDir& dir, const std::string& name, int64_t side = 28) {
  const std::string root = dir.file(name);
  for (const std::string cls : {"left", "top"}) {
    std::filesystem::create_directories(root + "/" + cls);
    for (int i = 0; i < 12; ++i) {
      auto img = torch::full({1, side, side}, 0.1 + 0.01 * i);
      if (cls == "left") img.slice(2, 0, side / 2).fill_(0.9);
      if (cls == "top") img.slice(1, 0, side / 2).fill_(0.9);
      write_png(root + "/" + cls + "/" + std::to_string(i) + ".png", img);
    }
  }
  return root;
}

TEST_F(Cli, ImageModelsTrainWithARunDirectoryResumeAndSampleGrids) {
  auto images = image_folder(dir_, "images");
  auto run = dir_.file("run");
  auto r = run_cli({"train", "vae", "--data", images, "--run-dir", run, "--set", "architecture=conv", "--set",
                    "hidden=16", "--set", "max_steps=6", "--set", "batch_size=8", "--set", "sample_every=3", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("24 examples, 6 steps"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "metrics.jsonl", "loss.png", "checkpoint.gf", "model.gf",
                        "samples/step_000003.png", "samples/step_000006.png", "samples/final.png"}) {
    EXPECT_TRUE(test::exists(run + "/" + f)) << f;
  }
  EXPECT_EQ(test::read_json(run + "/config.json")["options"]["architecture"], "conv");
  // --resume takes model, data and options from config.json; --set extends the run.
  r = run_cli({"train", "--resume", run, "--set", "max_steps=9", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("9 steps"), std::string::npos) << r.out;
  auto model = run + "/model.gf";
  r = run_cli({"sample", model, "-n", "10", "--out", dir_.file("grid.png"), "--seed", "1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto grid = load_images(dir_.file("grid.png")).images;  // 4x3 tiles of 28 pixels with 2-pixel padding
  EXPECT_EQ(grid.size(2), 3 * 28 + 4 * 2);
  EXPECT_EQ(grid.size(3), 4 * 28 + 5 * 2);
  // The grid read back as 10 tiles; in the model's own latent space the grid against itself is at distance 0.
  r = run_cli({"eval", "image", "--real", dir_.file("grid.png"), "--fake", dir_.file("grid.png"), "--tile", "28",
               "--features", model, "--metrics", "fid,mmd", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto latent = nlohmann::json::parse(r.out);
  EXPECT_EQ(latent["real"], 10);
  EXPECT_EQ(latent["feature_dim"], load_model(model)->latent_dim());
  EXPECT_NEAR(latent["fid"].get<double>(), 0.0, 1e-6);
  EXPECT_GT(latent["mmd_bandwidth"].get<double>(), 0.0);
  // Against the training images, the same numbers as the library computes on the model's codes.
  r = run_cli({"eval", "image", "--real", images, "--fake", dir_.file("grid.png"), "--tile", "28", "--features",
               model, "--metrics", "fid,mmd", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  latent = nlohmann::json::parse(r.out);
  {
    auto vae = load_model(model);
    auto codes_real = vae->transform(load_images(images).images.to(torch::kFloat) / 255).to(torch::kDouble);
    auto codes_fake =
        vae->transform(read_png_grid(dir_.file("grid.png"), 28, 28).images.to(torch::kFloat) / 255).to(torch::kDouble);
    EXPECT_NEAR(latent["fid"].get<double>(),
                eval::frechet_distance(eval::gaussian_statistics(codes_real), eval::gaussian_statistics(codes_fake))
                    .distance,
                1e-9);
    EXPECT_NEAR(latent["mmd2"].get<double>(), eval::gaussian_mmd2(codes_real, codes_fake).mmd2, 1e-12);
  }
  expect_error({"eval", "image", "--real", dir_.file("grid.png"), "--fake", images, "--tile", "27"},
               "not a whole number of 27x27 tiles");
  r = run_cli({"sample", model, "--interpolate", "--steps", "6", "--rows", "2", "--out", dir_.file("strip.png")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(load_images(dir_.file("strip.png")).images.size(3), 6 * 28 + 7 * 2);
  r = run_cli({"score", model, "--data", images, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"], 24);
  expect_error({"sample", model, "-n", "4", "--class", "1", "--out", dir_.file("c.png")}, "not class-conditional");
  expect_error({"score", model, "--data", image_folder(dir_, "small", 16)}, "the VAE expects 1x28x28");
  std::filesystem::remove_all(dir_.file("small"));
  expect_error({"train", "--resume", dir_.file("images"), "--out", dir_.file("x.gf")}, "has no config.json");
}

TEST_F(Cli, ConditionalGanSamplesAClassAndRefusesAnUnknownOne) {
  auto images = image_folder(dir_, "images");
  auto model = dir_.file("gan.gf");
  auto r = run_cli({"train", "gan", "--data", images, "--out", model, "--set", "conditional=true", "--set", "width=8",
                    "--set", "max_steps=2", "--set", "batch_size=8", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"sample", model, "-n", "4", "--class", "1", "--out", dir_.file("one.npy")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read_npy(dir_.file("one.npy")).sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  expect_error({"sample", model, "-n", "4", "--class", "2", "--out", dir_.file("c.png")},
               "class index 2 is out of range: the model has 2 classes");
  // Class names from the PNG sub-folders are kept in the model: a class by name samples as its index does.
  r = run_cli({"sample", model, "-n", "4", "--class", "left", "--out", dir_.file("left.npy"), "--seed", "5"});
  ASSERT_EQ(r.rc, 0) << r.err;
  run_cli({"sample", model, "-n", "4", "--class", "0", "--out", dir_.file("zero.npy"), "--seed", "5"});
  EXPECT_TRUE(torch::equal(read_npy(dir_.file("left.npy")), read_npy(dir_.file("zero.npy"))));
  expect_error({"sample", model, "-n", "4", "--class", "Sneaker", "--out", dir_.file("c.png")},
               "unknown class 'Sneaker'");
  expect_error({"score", model, "--data", images}, "has no likelihood");
  expect_error({"sample", trained_model(), "-n", "4", "--out", dir_.file("g.png")}, "does not produce images");
  std::filesystem::remove(dir_.file("m.gf"));
  std::filesystem::create_directories(dir_.file("empty"));
  expect_error({"train", "gan", "--data", dir_.file("empty"), "--out", dir_.file("e.gf")}, "no PNG");
  test::write_text(dir_.file("bad-images-idx3-ubyte"), std::string("\x00\x00\x08\x03\x00\x00", 6));
  expect_error({"train", "vae", "--data", dir_.file("bad-images-idx3-ubyte"), "--out", dir_.file("e.gf")},
               "bad-images-idx3-ubyte");
  expect_error({"train", "gmm", "--data", csv_, "--run-dir", dir_.file("r")}, "does not train in steps");
}

TEST_F(Cli, RbmTrainsScoresWithAChosenEstimatorSamplesAndInpaints) {
  auto images = image_folder(dir_, "images");
  auto model = dir_.file("rbm.gf");
  auto r = run_cli({"train", "rbm", "--data", images, "--out", model, "--n_components", "12", "--binarize",
                    "threshold", "--n_iter", "5", "--batch_size", "8", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  // 12 hidden units: log Z is enumerated (estimator auto).
  r = run_cli({"score", model, "--data", images, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["estimator"], "exact");
  EXPECT_EQ(j["rows"], 24);
  const double exact = j["mean_log_likelihood"].get<double>();
  EXPECT_LT(exact, 0);
  // The same model scored by AIS agrees with the exact value; the pseudo-likelihood is labelled as such.
  r = run_cli({"score", model, "--data", images, "--estimator", "ais", "--ais-betas", "2000", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["estimator"], "ais");
  EXPECT_GT(j["standard_error"].get<double>(), 0);
  EXPECT_NEAR(j["mean_log_likelihood"].get<double>(), exact, std::max(0.1, 4 * j["standard_error"].get<double>()));
  r = run_cli({"score", model, "--data", images, "--estimator", "pseudo_likelihood"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("exact pseudo-log-likelihood"), std::string::npos) << r.out;
  expect_error({"score", model, "--data", images, "--estimator", "magic"}, "magic");
  expect_error({"score", model, "--data", images, "--n_components", "3"}, "n_components");
  r = run_cli({"sample", model, "-n", "9", "--out", dir_.file("rbm.png"), "--gibbs-steps", "50"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(test::exists(dir_.file("rbm.png")));
  expect_error({"sample", model, "-n", "9", "--out", dir_.file("x.png"), "--gibbs_steps", "-1"}, "gibbs_steps");
}

TEST_F(Cli, FlowAndPixelCnnPrintBitsPerDimSampleWithATemperatureAndComplete) {
  auto images = image_folder(dir_, "images", 8);
  auto flow = dir_.file("flow.gf");
  auto r = run_cli({"train", "flow", "--data", images, "--out", flow, "--hidden", "8", "--max-steps", "5",
                    "--batch-size", "8", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"score", flow, "--data", images, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["bits_per_dim"].get<double>(), -j["mean_log_likelihood"].get<double>() / (64 * std::log(2.0)), 1e-9);
  EXPECT_NE(j["bits_per_dim_convention"].get<std::string>().find("256 bins dequantised (uniform)"),
            std::string::npos);
  r = run_cli({"score", flow, "--data", images});
  EXPECT_NE(r.out.find("bits/dim"), std::string::npos) << r.out;
  r = run_cli({"sample", flow, "-n", "4", "--out", dir_.file("flow.png"), "--temperature", "0.5"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(test::exists(dir_.file("flow.png")));
  expect_error({"sample", flow, "-n", "4", "--out", dir_.file("f.png"), "--temperature", "-1"}, "temperature");
  expect_error({"train", "flow", "--data", image_folder(dir_, "odd", 7), "--out", dir_.file("o.gf")},
               "glow needs image sides divisible by 2");
  auto pcnn = dir_.file("pixelcnn.gf");
  r = run_cli({"train", "pixelcnn", "--data", images, "--out", pcnn, "--binarize", "threshold", "--hidden", "8",
               "--layers", "1", "--max-steps", "3", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"score", pcnn, "--data", images, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["bits_per_dim_convention"], "-log2 P(image) / D of binary pixels");
  r = run_cli({"sample", pcnn, "-n", "4", "--out", dir_.file("pcnn.png")});
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_error({"train", "pixelcnn", "--data", images, "--out", dir_.file("p.gf"), "--output", "bernoulli"},
               "not all 0 or 1");
}

TEST_F(Cli, TrainHmmOnSequencesOfATableAndTagWithASupervisedTagger) {
  // Two regimes, sequences named by an id column; the state column labels the first sequence only.
  std::string text = "id,x,state\n";
  for (int seq = 0; seq < 6; ++seq) {
    for (int t = 0; t < 20; ++t) {
      const int regime = (t / 5) % 2;
      text += std::to_string(seq) + "," + std::to_string(regime * 5.0 + 0.1 * ((t * 7 + seq) % 5)) + "," +
              (seq == 0 ? std::to_string(regime) : "") + "\n";
    }
  }
  test::write_text(dir_.file("seq.csv"), text);
  auto r = run_cli({"train", "hmm", "--data", dir_.file("seq.csv"), "--sequence-column", "id", "--state-column",
                    "state", "--out", dir_.file("hmm.gf"), "--json", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["extra"]["n_sequences"], 6);
  EXPECT_EQ(report["extra"]["training"], "semi-supervised");
  auto model = load_model(dir_.file("hmm.gf"), "hmm");
  EXPECT_EQ(model->schema()["columns"], nlohmann::json({"x"}));
  // Every sequence starts low; label 1 names the high regime.
  auto path = dynamic_cast<HiddenMarkovModel&>(*model).predict(torch::tensor({0.2, 5.1, 5.2, 0.1}, torch::kFloat64).view({4, 1}));
  EXPECT_TRUE(torch::equal(path, torch::tensor({0, 1, 1, 0}, torch::kLong)));
  expect_error({"train", "gmm", "--data", dir_.file("seq.csv"), "--sequence-column", "id", "--out",
                dir_.file("g.gf")},
               "does not take sequences");
  // Per-sequence scores equal the library's.
  r = run_cli({"score", dir_.file("hmm.gf"), "--data", dir_.file("seq.csv"), "--columns", "x", "--sequence-column",
               "id", "--out", dir_.file("seq_scores.csv"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto scored = nlohmann::json::parse(r.out);
  EXPECT_EQ(scored["sequences"], 6);
  auto table = read_table(dir_.file("seq.csv"), {});
  auto lib = dynamic_cast<HiddenMarkovModel&>(*model).score_sequences(
      numeric_matrix(table.select({"x"})), torch::full({6}, 20, torch::kLong));
  EXPECT_NEAR(scored["total_log_likelihood"].get<double>(), lib.sum().item<double>(), 1e-9);
  EXPECT_EQ(read_table(dir_.file("seq_scores.csv"), {}).n_rows(), 6u);

  // The tagger: word/tag sentences in, word/tag sentences out.
  test::write_text(dir_.file("tagged.txt"),
                   "He/pps ran/vbd quickly/rb ./.\nThe/at dog/nn barked/vbd loudly/rb ./.\nThe/at cat/nn sat/vbd ./.\n");
  r = run_cli({"train", "pos-tagger", "--data", dir_.file("tagged.txt"), "--out", dir_.file("tagger.gf"),
               "--set", "rare_word_count=5", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  test::write_text(dir_.file("in.txt"), "The cat ran happily .\n");
  r = run_cli({"tag", dir_.file("tagger.gf"), "-i", dir_.file("in.txt")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "The/at cat/nn ran/vbd happily/rb ./.\n");
  r = run_cli({"tag", dir_.file("tagger.gf"), "--gold", dir_.file("tagged.txt"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["accuracy"], 1.0);
  r = run_cli({"info", dir_.file("tagger.gf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["kind"], "pos-tagger");
  test::write_text(dir_.file("bad.txt"), "The/at cat sat/vbd\n");
  expect_error({"train", "pos-tagger", "--data", dir_.file("bad.txt"), "--out", dir_.file("t2.gf")},
               "bad.txt:1: malformed token 'cat' (expected word/tag)");
  expect_error({"train", "gmm", "--data", "brown:a", "--out", dir_.file("t2.gf")}, "'brown:a' is text, not a table");
  expect_error({"train", "hmm", "--data", dir_.file("tagged.txt"), "--supervised", "--out", dir_.file("t2.gf")},
               "unknown option 'supervised'");
  expect_error({"tag", dir_.file("hmm.gf"), "-i", dir_.file("in.txt")}, "holds a hmm model, which does not tag words");
  expect_error({"tag", dir_.file("tagger.gf")}, "give exactly one of --input");
}

TEST_F(Cli, TrainLdaOnTextAndShowTopics) {
  // Two kinds of documents: animal words and money words; "the" is in every document (dropped by --max-df).
  std::string text;
  for (int d = 0; d < 30; ++d) {
    text += d % 2 ? "the cat dog cat horse dog cow the\n" : "the bank money loan bank cash money the\n";
  }
  test::write_text(dir_.file("docs.txt"), text);
  auto r = run_cli({"train", "lda", "--data", dir_.file("docs.txt"), "--max-df", "0.9", "--set", "n_components=2",
                    "--set", "passes=20", "--out", dir_.file("lda.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"topics", dir_.file("lda.gf"), "-n", "3", "--data", dir_.file("docs.txt"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::set<std::string> first, second;
  for (const auto& w : j["topics"][0]["words"]) first.insert(w.get<std::string>());
  for (const auto& w : j["topics"][1]["words"]) second.insert(w.get<std::string>());
  const std::set<std::string> animals = {"cat", "dog", "horse", "cow"}, money = {"bank", "money", "loan", "cash"};
  auto within = [](const std::set<std::string>& words, const std::set<std::string>& group) {
    for (const auto& w : words) {
      if (!group.count(w)) return false;
    }
    return true;
  };
  EXPECT_TRUE((within(first, animals) && within(second, money)) || (within(first, money) && within(second, animals)))
      << r.out;
  EXPECT_TRUE(std::isfinite(j["umass_mean"].get<double>()));
  expect_error({"topics", trained_model()}, "holds a gmm model, which has no topics");
  expect_error({"train", "lda", "--data", dir_.file("docs.txt"), "--min-df", "100", "--out", dir_.file("x.gf")},
               "no word passes the vocabulary cut-offs");
}

TEST_F(Cli, TrainGptOnTextGenerateAndScore) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "the cat sat on the mat .\n";
  test::write_text(dir_.file("text.txt"), text);
  auto r = run_cli({"train", "gpt", "--data", dir_.file("text.txt"), "--set", "n_layer=1", "--set", "n_head=2",
                    "--set", "n_embd=16", "--set", "block_size=32", "--set", "max_steps=5", "--set", "batch_size=8",
                    "--out", dir_.file("gpt.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"generate", dir_.file("gpt.gf"), "--prompt", "the ", "-n", "10", "--seed", "3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the ", 0), 0u);
  EXPECT_EQ(r.out.size(), 4u + 10u + 1u);  // prompt, 10 characters, a line end
  auto again = run_cli({"generate", dir_.file("gpt.gf"), "--prompt", "the ", "-n", "10", "--seed", "3"});
  EXPECT_EQ(again.out, r.out);
  test::write_text(dir_.file("held.txt"), "the cat sat .\nthe mat .\n");
  r = run_cli({"score", dir_.file("gpt.gf"), "--data", dir_.file("held.txt"), "--out", dir_.file("s.csv"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["documents"], 2);
  EXPECT_EQ(j["characters"], 24);
  EXPECT_GT(j["bits_per_character"].get<double>(), 0.0);
  EXPECT_EQ(read_table(dir_.file("s.csv"), {}).n_rows(), 2u);
  expect_error({"generate", dir_.file("gpt.gf"), "--prompt", "dog"}, "character 'd' (byte 100) at offset 0 of the prompt");
  expect_error({"generate", trained_model()}, "holds a gmm model, which does not generate text");
  std::string long_prompt(40, 't');
  // A prompt longer than the context keeps its last tokens, and says so.
  r = run_cli({"generate", dir_.file("gpt.gf"), "--prompt", long_prompt, "-n", "3", "--seed", "1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("notice: the prompt has 40 tokens; the model sees its last 32"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.substr(0, 40), long_prompt);
  expect_error({"generate", dir_.file("gpt.gf"), "-n", "0"}, "-n must be at least 1, got 0");
  expect_error({"sample", dir_.file("gpt.gf"), "-n", "5", "--out", dir_.file("ids.csv")},
               "samples token ids, not table rows or images");
  // Byte-level BPE tokens: any prompt can be encoded, the output decodes to text again.
  r = run_cli({"train", "gpt", "--data", dir_.file("text.txt"), "--tokenizer", "bpe", "--vocab-size", "270", "--set",
               "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16", "--set", "block_size=16", "--set", "max_steps=3",
               "--set", "batch_size=8", "--out", dir_.file("bpe.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"generate", dir_.file("bpe.gf"), "--prompt", "dog ", "-n", "5"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("dog ", 0), 0u);
  r = run_cli({"score", dir_.file("bpe.gf"), "--data", dir_.file("held.txt"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokenizer"], "bpe");
  EXPECT_LT(nlohmann::json::parse(r.out)["tokens"].get<int>(), 24);
  // SentencePiece: trained here (unigram), or a .model file given as it is (not in sanitizer builds).
  std::string why;
  if (!sentencepiece_available(&why) && why.find("sanitizer") != std::string::npos) return;
  r = run_cli({"train", "gpt", "--data", dir_.file("text.txt"), "--tokenizer", "spm-unigram", "--vocab-size", "300",
               "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16", "--set", "block_size=16", "--set",
               "max_steps=3", "--set", "batch_size=8", "--out", dir_.file("spm.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_cli({"generate", dir_.file("spm.gf"), "--prompt", "the dog ", "-n", "4"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the dog ", 0), 0u);
  r = run_cli({"score", dir_.file("spm.gf"), "--data", dir_.file("held.txt"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokenizer"], "sentencepiece");
  EXPECT_EQ(nlohmann::json::parse(r.out)["characters"], 24);
  r = run_cli({"train", "gpt", "--data", dir_.file("text.txt"), "--tokenizer",
               test::source_path("tests/reference/sentencepiece_bpe.model"), "--set", "n_layer=1", "--set", "n_head=2",
               "--set", "n_embd=16", "--set", "block_size=16", "--set", "max_steps=2", "--set", "batch_size=8", "--out",
               dir_.file("spm_file.gf"), "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_error({"train", "gpt", "--data", dir_.file("text.txt"), "--tokenizer", "spm-bpe", "--vocab-size", "900",
                "--out", dir_.file("x.gf")},
               "SentencePiece training failed");
  expect_error({"train", "gpt", "--data", dir_.file("text.txt"), "--tokenizer", "words", "--out", dir_.file("x.gf")},
               "unknown tokenizer 'words'");
}

}  // namespace
}  // namespace gf

namespace gf {
namespace {

TEST_F(Cli, SelectByBicKeepsTheBestAndSampleGivenFixesAColumn) {
  // Two clusters (a, b near 0 or near 4): BIC prefers two components among 1..4.
  auto r = run_cli({"train", "gmm", "--data", csv_, "--out", dir_.file("sel.gf"), "--select", "bic", "--set",
                    "n_components=1:4", "--set", "covariance_type=diag", "--json", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["best"], "2");
  EXPECT_EQ(j["values"], nlohmann::json({"1", "2", "3", "4"}));
  const auto scores = j["scores"].get<std::vector<double>>();
  EXPECT_EQ(std::min_element(scores.begin(), scores.end()) - scores.begin(), 1);
  // The kept model is the two-component one, and its BIC is the one printed.
  auto kept = load_model(dir_.file("sel.gf"), "gmm");
  EXPECT_EQ(kept->options_json()["n_components"], 2);
  EXPECT_NEAR(dynamic_cast<GaussianMixture&>(*kept).bic(read_csv_matrix(csv_)), scores[1], 1e-9);
  EXPECT_EQ(read_table(dir_.file("sel.selection.csv"), {}).n_rows(), 4u);
  EXPECT_TRUE(test::exists(dir_.file("sel.selection.png")));
  expect_error({"train", "gmm", "--data", csv_, "--out", dir_.file("x.gf"), "--select", "bic"},
               "--select needs one option given as a sweep");
  expect_error({"train", "gmm", "--data", csv_, "--out", dir_.file("x.gf"), "--select", "bic", "--set",
                "n_components=3:1"},
               "'3:1' is not a range of integers");
  expect_error({"train", "bgmm", "--data", csv_, "--out", dir_.file("x.gf"), "--select", "aic", "--set",
                "n_components=1:2"},
               "a bgmm model reports no information criterion");

  // sample --given: column a fixed at 4, b drawn from p(b | a = 4) -- the high cluster, b near 3.6.
  r = run_cli({"sample", dir_.file("sel.gf"), "-n", "400", "--given", "a=4", "--out", dir_.file("g.csv"), "--seed",
               "3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const Table g = read_table(dir_.file("g.csv"), {});
  double mean_b = 0;
  for (size_t i = 0; i < g.n_rows(); ++i) {
    EXPECT_EQ(g.column("a").values[i], 4.0);
    mean_b += g.column("b").values[i] / static_cast<double>(g.n_rows());
  }
  EXPECT_NEAR(mean_b, 3.6, 0.25);
  expect_error({"sample", dir_.file("sel.gf"), "-n", "4", "--given", "zz=1", "--out", dir_.file("x.csv")},
               "--given names column 'zz', which the model was not fitted on");
  expect_error({"sample", dir_.file("sel.gf"), "-n", "4", "--given", "a=high", "--out", dir_.file("x.csv")},
               "column 'a': 'high' is not a number");
}

}  // namespace
}  // namespace gf

namespace gf {
namespace {

TEST_F(Cli, ErrorsAreOneLineWithControlCharactersEscaped) {
  // A header cell holding a carriage return (a quoted name from a CRLF-damaged file): the error still prints as
  // one line, the \r shown escaped.
  test::write_text(dir_.file("cr.csv"), "a,\"b\r\"\n1,2\n3,4\n");
  auto r = run_cli({"train", "gmm", "--data", dir_.file("cr.csv"), "--columns", "zz", "--out", dir_.file("m.gf")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("b\\r"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;  // error line + hint line
}

}  // namespace
}  // namespace gf
