// The shared Trainer (exact resume after an interruption, NaN guard, metrics and checkpoints) and the VAE that
// runs on it (learning, importance-weighted bound against the ELBO).
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/models/vae.h"
#include "genforge/train/trainer.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// Least squares for y = x w with noise in the gradient (the step's generator), so that resume must restore
// parameters, Adam's moments and the noise generator to match.
class Regression : public train::Trainable {
 public:
  explicit Regression(torch::Dtype dtype = torch::kFloat64) : w(torch::zeros({3}, dtype).requires_grad_(true)) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", {w}}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return {{"w", w}}; }
  void set_training(bool) override {}
  void train_step(const train::Batch& b, train::StepContext& ctx) override {
    if (interrupt_at >= 0 && ctx.step() == interrupt_at) std::raise(SIGINT);
    if (die_at >= 0 && ctx.step() == die_at) throw std::runtime_error("killed");  // no checkpoint: a hard kill
    auto noise = at::randn({1}, ctx.generator(), w.options()) * 0.01;
    auto loss = (torch::mv(b.x.to(w.scalar_type()), w) - b.labels.to(w.scalar_type())).pow(2).mean() + noise.sum() * w.sum();
    if (nan_every > 0 && ctx.step() % nan_every == 0) loss = loss * std::nan("");
    // sqrt at 0: the loss stays finite, its gradient is 0 * inf = NaN.
    if (bad_gradient_every > 0 && ctx.step() % bad_gradient_every == 0) loss = loss + (w * 0).sum().sqrt();
    ctx.optimize("model", loss);
  }
  double eval_loss(const train::Batch& b, at::Generator&) override {
    return (torch::mv(b.x, w) - b.labels.to(torch::kFloat64)).pow(2).mean().item<double>();
  }
  torch::Tensor w;
  int64_t interrupt_at = -1;
  int64_t die_at = -1;
  int64_t nan_every = 0;
  int64_t bad_gradient_every = 0;
};

train::TrainData regression_data() {
  auto gen = make_generator(1);
  auto x = torch::randn({100, 3}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  auto y = torch::mv(x, torch::tensor({1.0, -2.0, 0.5}, torch::kFloat64)).round().to(torch::kLong);
  return {x, y};
}

train::TrainOptions regression_options(const std::string& dir) {
  train::TrainOptions o;
  o.max_steps = 40;
  o.batch_size = 16;
  o.lr = 0.05;
  o.schedule = "cosine";
  o.warmup_steps = 5;
  o.ema_decay = 0.9;
  o.checkpoint_every = 7;
  o.log_every = 5;
  o.run_dir = dir;
  return o;
}

// Denormal floats read as zero under FlushDenormals, on the calling thread and the pool's (an elementwise product
// of 65,536 values runs in two chunks on two threads), and keep their IEEE meaning once it ends.
TEST(Runtime, FlushDenormalsZeroesThemOnEveryPoolThreadAndRestoresTheModeAfter) {
  const int before = threads();
  set_threads(2);
  const auto tiny = torch::full({int64_t{1} << 16}, 1e-39f);  // below FLT_MIN: denormal
  const auto surviving = [&] { return (tiny * 3.0f).ne(0).sum().item<int64_t>(); };
  EXPECT_EQ(surviving(), int64_t{1} << 16);
  {
    const FlushDenormals flush;
    EXPECT_EQ(surviving(), 0);
    {
      const FlushDenormals nested;
      EXPECT_EQ(surviving(), 0);
    }
    EXPECT_EQ(surviving(), 0);  // the outer one still holds
  }
  EXPECT_EQ(surviving(), int64_t{1} << 16);
  set_threads(before);
}

TEST(Trainer, InterruptedAndResumedRunEqualsAStraightRunBitForBit) {
  test::TempDir dir;
  auto data = regression_data();
  Regression straight;
  train::run(straight, data, nullptr, regression_options(dir.file("a")), quiet());

  Regression first;
  first.interrupt_at = 17;  // SIGINT arrives during step 17
  try {
    train::run(first, data, nullptr, regression_options(dir.file("b")), quiet());
    FAIL() << "expected Interrupted";
  } catch (const Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("interrupted at step 18 of 40"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("--resume"), std::string::npos);
    EXPECT_EQ(e.exit_code(), 130);
  }
  Regression second;  // a fresh process would start from scratch like this
  auto resumed = regression_options(dir.file("b"));
  resumed.resume = true;
  auto report = train::run(second, data, nullptr, resumed, quiet());
  EXPECT_EQ(report.n_iter, 40);
  EXPECT_TRUE(torch::equal(second.w, straight.w)) << second.w << straight.w;
  // metrics.jsonl has one line per log_every steps.
  std::ifstream metrics(dir.file("a/metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("loss/model") && j.contains("grad_norm/model") && j.contains("lr"));
    ++lines;
  }
  EXPECT_EQ(lines, 8);
}

// A run that dies without a last checkpoint (SIGKILL, power loss) after writing metrics lines past it: the resumed
// run ends bit for bit as a straight run, and metrics.jsonl has each logged step once (the lines after the
// checkpoint and a line cut short are dropped on resume).
TEST(Trainer, HardKilledRunResumesWithoutDuplicatedMetrics) {
  test::TempDir dir;
  auto data = regression_data();
  Regression straight;
  train::run(straight, data, nullptr, regression_options(dir.file("a")), quiet());
  Regression dying;
  dying.die_at = 18;  // checkpoints at 7 and 14; metrics at 5, 10, 15
  EXPECT_THROW(train::run(dying, data, nullptr, regression_options(dir.file("b")), quiet()), std::runtime_error);
  { std::ofstream(dir.file("b/metrics.jsonl"), std::ios::app) << "{\"step\": 16, \"loss/mod"; }
  Regression second;
  auto resumed = regression_options(dir.file("b"));
  resumed.resume = true;
  train::run(second, data, nullptr, resumed, quiet());
  EXPECT_TRUE(torch::equal(second.w, straight.w)) << second.w << straight.w;
  std::ifstream metrics(dir.file("b/metrics.jsonl"));
  std::vector<int64_t> steps;
  for (std::string line; std::getline(metrics, line);) steps.push_back(nlohmann::json::parse(line)["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{5, 10, 15, 20, 25, 30, 35, 40}));
}

TEST(Trainer, NonFiniteLossesAreSkippedThenStopWithAClearError) {
  test::TempDir dir;
  auto data = regression_data();
  Regression sometimes;
  sometimes.nan_every = 3;
  auto report = train::run(sometimes, data, nullptr, regression_options(dir.file("a")), quiet());
  EXPECT_EQ(report.extra["skipped_steps"].get<int64_t>(), 14);  // steps 0, 3, ..., 39
  EXPECT_TRUE(sometimes.w.isfinite().all().item<bool>());

  Regression always;
  always.nan_every = 1;
  auto o = regression_options(dir.file("b"));
  o.max_bad_steps = 4;
  try {
    train::run(always, data, nullptr, o, quiet());
    FAIL() << "expected NumericalError";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("training stopped at step 3: the loss was nan for 4 steps in a row"),
              std::string::npos)
        << e.what();
  }
}

TEST(Trainer, FiniteLossesWithNonFiniteGradientsAreSkippedToo) {
  test::TempDir dir;
  auto data = regression_data();
  auto o = regression_options(dir.file("a"));
  o.clip_grad_norm = 0;  // no norm is computed on these steps: the finiteness pass must catch them
  o.log_every = 1000;
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {  // a sum per tensor; the raw float32 pass
    Regression sometimes(dtype);
    sometimes.bad_gradient_every = 4;
    o.run_dir = dir.file(dtype == torch::kFloat32 ? "f32" : "f64");
    auto report = train::run(sometimes, data, nullptr, o, quiet());
    EXPECT_EQ(report.extra["skipped_steps"].get<int64_t>(), 10);  // steps 0, 4, ..., 36
    EXPECT_TRUE(sometimes.w.isfinite().all().item<bool>());
  }

  Regression always;
  always.bad_gradient_every = 1;
  o.max_bad_steps = 3;
  o.run_dir = dir.file("b");
  try {
    train::run(always, data, nullptr, o, quiet());
    FAIL() << "expected NumericalError";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("training stopped at step 2: the gradients were not finite (loss "),
              std::string::npos)
        << e.what();
  }
}

TEST(Trainer, ResumeWithoutACheckpointIsAClearError) {
  test::TempDir dir;
  Regression m;
  auto data = regression_data();
  auto o = regression_options(dir.file("none"));
  o.resume = true;
  EXPECT_THROW(train::run(m, data, nullptr, o, quiet()), ModelFileError);
  auto bad = regression_options(dir.file("x"));
  bad.optimizer = "adagrad";
  EXPECT_THROW(train::run(m, data, nullptr, bad, quiet()), InvalidArgument);
}

// Images of two kinds (bright left or bright top half) with noise, in [0, 1].
torch::Tensor trainer_two_kinds(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto kind = torch::rand({n, 1, 1, 1}, gen) < 0.5;
  auto left = torch::zeros({1, 1, 8, 8}), top = torch::zeros({1, 1, 8, 8});
  left.slice(3, 0, 4).fill_(0.8);
  top.slice(2, 0, 4).fill_(0.8);
  return (torch::where(kind, left, top) + torch::rand({n, 1, 8, 8}, gen) * 0.2);
}

TEST(Vae, LearnsAndTheImportanceWeightedBoundTightensWithK) {
  VaeOptions o;
  o.hidden = 32;
  o.latent = 2;
  o.epochs = 30;
  o.batch_size = 32;
  VariationalAutoencoder vae(o);
  auto x = trainer_two_kinds(256, 1);
  auto report = vae.fit({x}, quiet());
  ASSERT_GE(report.history.size(), 2u);
  EXPECT_LT(report.history.back(), report.history.front() - 3.0);
  auto test = trainer_two_kinds(128, 2);
  const double elbo = vae.importance_weighted_bound(test, 1).mean().item<double>();
  const double k10 = vae.importance_weighted_bound(test, 10).mean().item<double>();
  const double k100 = vae.importance_weighted_bound(test, 100).mean().item<double>();
  EXPECT_LT(elbo, k10);
  EXPECT_LT(k10, k100);
  // Codes separate the two kinds.
  auto z = vae.transform(test);
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{128, 2}));
  auto s = vae.sample(5, *std::make_unique<at::Generator>(make_generator(0)));
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{5, 1, 8, 8}));
}

TEST(Vae, BadInputsAreClearErrors) {
  VaeOptions o;
  o.epochs = 1;
  VariationalAutoencoder vae(o);
  EXPECT_THROW(vae.fit({torch::full({4, 1, 2, 2}, 2.0)}, quiet()), DataError);  // outside [0, 1]
  vae.fit({torch::rand({4, 1, 2, 2})}, quiet());
  EXPECT_THROW(vae.score_samples(torch::rand({3, 1, 3, 3})), DataError);  // other image size
  VaeOptions bad;
  bad.decoder = "poisson";
  EXPECT_THROW(VariationalAutoencoder(bad).fit({torch::rand({4, 4})}, quiet()), InvalidArgument);
}

}  // namespace
}  // namespace gf
