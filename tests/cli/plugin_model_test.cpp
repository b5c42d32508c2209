// A model registered at run time -- one class, one register_model call, here in the test file -- is trained,
// sampled, scored and described by the verbs with no change to cli/: the command line knows no model family.
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

struct ToyOptions {
  double min_std = 1e-3;  // floor on each column's standard deviation
};

// Independent Gaussian columns: the simplest table model with an exact likelihood.
class ToyGaussian : public Model {
 public:
  using Options = ToyOptions;
  static const OptionTable<ToyOptions>& option_table() {
    static const OptionTable<ToyOptions> t =
        OptionTable<ToyOptions>("toy-gaussian").add("min_std", &ToyOptions::min_std, "floor on the std");
    return t;
  }
  explicit ToyGaussian(ToyOptions o) : o_(o) {}
  std::string kind() const override { return "toy-gaussian"; }
  Capabilities capabilities() const override { return {}; }
  nlohmann::json options_json() const override { return option_table().to_json(o_); }
  FitReport fit(const Dataset& d, const FitContext&) override {
    mean_ = d.x.nanmean(0);
    std_ = (d.x - mean_).pow(2).nanmean(0).sqrt().clamp_min(o_.min_std);
    schema_ = {{"data_kind", "table"}, {"columns", d.columns}};
    FitReport r;
    r.converged = true;
    r.n_iter = 1;
    report_ = r;
    return r;
  }
  bool fitted() const override { return mean_.defined(); }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override {
    GF_CHECK_AS(NotFitted, fitted(), "fit first", "not fitted");
    return mean_ + std_ * torch::randn({n, mean_.size(0)}, gen, torch::kFloat64);
  }
  torch::Tensor score_samples(const torch::Tensor& x) const override {
    GF_CHECK_AS(NotFitted, fitted(), "fit first", "not fitted");
    auto z = (x - mean_) / std_;
    return (-0.5 * z.pow(2) - std_.log() - 0.5 * std::log(2 * M_PI)).nansum(1);
  }
  TensorMap state() const override { return {{"mean", mean_}, {"std", std_}}; }
  void load_state(const TensorMap& t) override {
    mean_ = t.at("mean");
    std_ = t.at("std");
  }

 private:
  ToyOptions o_;
  torch::Tensor mean_, std_;
};

TEST(PluginModel, RegisteredAtRunTimeAndDrivenByEveryVerb) {
  register_model(make_model_info<ToyGaussian>("toy-gaussian", "independent Gaussian columns (test plugin)"));
  EXPECT_THROW(register_model(make_model_info<ToyGaussian>("toy-gaussian", "again")), InvalidArgument);
  test::TempDir dir;
  std::string csv = "height,colour,weight\n";
  for (int i = 0; i < 50; ++i) {
    csv += std::to_string(150 + i % 10) + "," + (i % 3 ? "red" : "blue") + "," + std::to_string(60 + (i * 7) % 13) +
           "\n";
  }
  test::write_text(dir.file("t.csv"), csv);
  auto r = test::run_cli({"models"});
  EXPECT_NE(r.out.find("toy-gaussian"), std::string::npos);
  r = test::run_cli({"train", "toy-gaussian", "--help"});
  EXPECT_NE(r.out.find("min_std (float, default 0.001)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("categorical (string, default error)"), std::string::npos) << r.out;
  // The input pipeline is the library's: one-hot colours and standardized numbers, undone on samples.
  r = test::run_cli({"train", "toy-gaussian", "--data", dir.file("t.csv"), "--out", dir.file("toy.gf"), "--categorical",
                     "onehot", "--set", "standardize=true", "--min-std", "0.01", "-q"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("toy-gaussian: 50 rows x 3 columns, 1 iterations, converged"), std::string::npos) << r.out;
  r = test::run_cli({"sample", dir.file("toy.gf"), "-n", "200", "--out", dir.file("s.csv"), "--seed", "2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const Table samples = read_table(dir.file("s.csv"));
  EXPECT_EQ(samples.names(), (std::vector<std::string>{"height", "colour", "weight"}));
  EXPECT_EQ(samples.column("colour").type, ColumnType::categorical);
  double mean_height = 0;
  for (double v : samples.column("height").values) mean_height += v / 200.0;
  EXPECT_NEAR(mean_height, 154.5, 1.0);  // standardization undone
  r = test::run_cli({"score", dir.file("toy.gf"), "--data", dir.file("t.csv"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"], 50);
  r = test::run_cli({"info", dir.file("toy.gf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["kind"], "toy-gaussian");
  EXPECT_EQ(info["options"]["min_std"], 0.01);
  EXPECT_EQ(info["pipeline"]["options"]["categorical"], "onehot");
  EXPECT_EQ(info["schema"]["columns"], nlohmann::json({"height", "colour=blue", "colour=red", "weight"}));
  // Unknown flags name themselves.
  r = test::run_cli({"train", "toy-gaussian", "--data", dir.file("t.csv"), "--out", dir.file("x.gf"), "--bogus", "1"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("unknown option 'bogus' for toy-gaussian"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gf
