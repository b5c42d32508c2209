// DP-SGD in the Trainer: each example's gradient is its own batch-of-one backward pass, clipped and averaged over
// the expected batch; the noise multiplier comes from the accountant; the ε spent is reported; models with two
// optimizer groups are refused.
#include <gtest/gtest.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/vae.h"
#include "genforge/privacy/accountant.h"
#include "genforge/registry.h"
#include "genforge/train/trainer.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

class LeastSquares : public train::Trainable {
 public:
  LeastSquares() : w(torch::zeros({3}, torch::kFloat64).requires_grad_(true)) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", {w}}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return {{"w", w}}; }
  void set_training(bool) override {}
  torch::Tensor loss(const torch::Tensor& x, const torch::Tensor& y) { return (torch::mv(x, w) - y).pow(2).mean(); }
  void train_step(const train::Batch& b, train::StepContext& ctx) override {
    ctx.optimize("model", loss(b.x, b.labels.to(torch::kFloat64)));
  }
  double eval_loss(const train::Batch& b, at::Generator&) override {
    return loss(b.x, b.labels.to(torch::kFloat64)).item<double>();
  }
  torch::Tensor w;
};

class TwoGroups : public LeastSquares {
 public:
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"generator", {w}}, {"discriminator", {v}}};
  }
  torch::Tensor v = torch::zeros({1}, torch::kFloat64).requires_grad_(true);
};

train::TrainData data(int64_t n) {
  auto gen = make_generator(3);
  auto x = torch::randn({n, 3}, gen, torch::kFloat64);
  return {x, torch::mv(x, torch::tensor({2.0, -1.0, 0.5}, torch::kFloat64)).round().to(torch::kLong)};
}

TEST(DpSgd, OneStepIsTheMeanOfClippedBatchOfOneGradients) {
  const auto d = data(40);
  train::TrainOptions o;
  o.max_steps = 1;
  o.batch_size = 40;  // sample rate 1: every example in the step
  o.optimizer = "sgd";
  o.lr = 0.1;
  o.dp_noise_multiplier = 1e-30;  // DP on, noise negligible
  o.dp_max_grad_norm = 0.5;       // most examples' gradients are clipped
  o.checkpoint_every = 0;
  LeastSquares model;
  train::run(model, d, nullptr, o, quiet());
  // Each example's gradient from its own backward pass, clipped, averaged over the expected batch size (40).
  LeastSquares fresh;
  auto sum = torch::zeros({3}, torch::kFloat64);
  int clipped = 0;
  for (int64_t i = 0; i < 40; ++i) {
    fresh.w.mutable_grad() = torch::Tensor();
    fresh.loss(d.x.slice(0, i, i + 1), d.labels.slice(0, i, i + 1).to(torch::kFloat64)).backward();
    auto g = fresh.w.grad();
    const double norm = g.norm().item<double>();
    clipped += norm > 0.5;
    sum += g * std::min(1.0, 0.5 / norm);
  }
  EXPECT_GT(clipped, 20);
  EXPECT_TRUE(test::all_close(model.w.detach(), -0.1 * sum / 40.0, 1e-12, 1e-14)) << model.w << sum;
}

TEST(DpSgd, NoiseMultiplierFromTheBudgetAndEpsilonReported) {
  const auto d = data(200);
  train::TrainOptions o;
  o.max_steps = 30;
  o.batch_size = 20;  // q = 0.1
  o.dp_epsilon = 2.0;
  o.checkpoint_every = 0;
  LeastSquares model;
  const auto report = train::run(model, d, nullptr, o, quiet());
  ASSERT_TRUE(report.extra.contains("privacy"));
  const auto& p = report.extra["privacy"];
  EXPECT_DOUBLE_EQ(p["noise_multiplier"].get<double>(), privacy::noise_multiplier_for(2.0, 1e-5, 0.1, 30));
  EXPECT_LE(p["epsilon"].get<double>(), 2.0);
  EXPECT_GT(p["epsilon"].get<double>(), 1.98);  // the search stops within 0.01 below the target
  EXPECT_EQ(p["steps"].get<int64_t>(), 30);
  // Same seed, same private model (Poisson batches and noise are seeded).
  LeastSquares again;
  train::run(again, d, nullptr, o, quiet());
  EXPECT_TRUE(torch::equal(model.w, again.w));
  // The PRV accountant is tighter: less noise for the same budget, and it reports its own ε.
  o.dp_accountant = "prv";
  LeastSquares prv;
  const auto prv_report = train::run(prv, d, nullptr, o, quiet());
  const auto& q = prv_report.extra["privacy"];
  EXPECT_EQ(q["accountant"], "prv");
  EXPECT_DOUBLE_EQ(q["noise_multiplier"].get<double>(), privacy::noise_multiplier_for(2.0, 1e-5, 0.1, 30, "prv"));
  EXPECT_LT(q["noise_multiplier"].get<double>(), p["noise_multiplier"].get<double>());
  EXPECT_LE(q["epsilon"].get<double>(), 2.0);
  EXPECT_GT(q["epsilon"].get<double>(), 1.98);
}

TEST(DpSgd, RegisteredNeuralModelsTrainPrivatelyAndKeepTheBudgetInTheFile) {
  auto vae = create_model("vae", {}, {{"hidden", "16"}, {"latent", "2"}, {"max_steps", "3"}, {"batch_size", "16"},
                                      {"dp_epsilon", "8"}});
  auto gen = make_generator(1);
  Dataset images{torch::rand({64, 1, 8, 8}, gen, torch::kFloat64)};
  vae->fit(images, quiet());
  test::TempDir dir;
  save_model(*vae, dir.file("v.gf"));
  const auto loaded = load_model(dir.file("v.gf"));
  const auto& p = loaded->fit_report().extra["privacy"];
  EXPECT_LE(p["epsilon"].get<double>(), 8.0);
  EXPECT_GT(p["noise_multiplier"].get<double>(), 0.0);
  EXPECT_NE(p["public"].get<std::string>().find("DP-SGD covers the gradient steps"), std::string::npos);
  // TVAE's mode-specific normalisation is fitted before DP-SGD, without noise: its report says so.
  auto tvae = create_model("tvae", {}, {{"epochs", "1"}, {"batch_size", "16"}, {"dp_epsilon", "8"}});
  Dataset rows{torch::randn({64, 2}, gen, torch::kFloat64), {}, {"a", "b"}};
  tvae->fit(rows, quiet());
  EXPECT_EQ(tvae->fit_report().extra["privacy"]["public"].get<std::string>().rfind(
                "the mode-specific normalisation (each numeric column's modes and range, fitted on the data without "
                "noise)",
                0),
            0u);
  // Two optimizer groups (a GAN) are refused with the reason.
  TwoGroups two;
  train::TrainOptions o;
  o.max_steps = 1;
  o.dp_epsilon = 1;
  try {
    train::run(two, data(20), nullptr, o, quiet());
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("DP-SGD trains one optimizer group; this model has 2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gf
