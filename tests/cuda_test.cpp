// The GPU path (issue 22 §2): each neural and Boltzmann family trains a few steps with FitContext::device = cuda, samples, and —
// saved and loaded back on the CPU — scores its data as it did on the GPU. The tests carry the CTest label `cuda`
// (tests/CMakeLists.txt) and skip, saying so, where LibTorch sees no CUDA device (the Debian LibTorch is CPU-only):
// `ctest -L cuda` on a GPU machine, after building against a CUDA LibTorch (docs/distributed.md, "GPU").
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

struct CudaCase {
  const char* kind;
  OptionOverrides options;
  DataKind data;
  const char* spec;
};

void PrintTo(const CudaCase& c, std::ostream* os) { *os << c.kind; }

class Cuda : public ::testing::TestWithParam<CudaCase> {};

TEST_P(Cuda, TrainsSamplesAndScoresLikeItsCpuCopy) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch: the GPU tests are skipped";
  const CudaCase& c = GetParam();
  test::TempDir dir;
  std::string spec = c.spec;
  if (c.data == DataKind::text) {
    std::string text;
    for (int i = 0; i < 60; ++i) text += "the cat sat on the mat .\nthe dog ran to the log .\n";
    test::write_text(dir.file("text.txt"), text);
    spec = dir.file("text.txt");
  }
  data::SourceOptions limit;
  limit.limit = 256;
  const auto source = data::load_source(spec, c.data, limit);
  auto model = create_model(c.kind, {}, c.options);
  FitContext ctx = test::quiet();
  ctx.device = torch::Device(torch::kCUDA);
  fit_source(*model, source, ctx);
  auto gen = make_generator(0);
  if (c.data != DataKind::text) {
    const auto samples = model->sample(8, gen);
    EXPECT_TRUE(samples.isfinite().all().item<bool>());
  }
  save_model(*model, dir.file("m.gf"));
  auto cpu = load_model(dir.file("m.gf"));
  if (model->capabilities().likelihood == Likelihood::none) return;
  // Every figure of the score summary (mean log-likelihood or score, bits per dim or character) agrees.
  const auto on_gpu = score_source(*model, source).summary, on_cpu = score_source(*cpu, source).summary;
  int compared = 0;
  for (const auto& [key, value] : on_cpu.items()) {
    if (!value.is_number_float() || !on_gpu.contains(key)) continue;
    const double want = value.get<double>();
    EXPECT_NEAR(on_gpu[key].get<double>(), want, 1e-3 * std::abs(want) + 1e-3) << key;
    ++compared;
  }
  EXPECT_GT(compared, 0) << on_cpu.dump();
}

// The semi-supervised VAE (M2) with half its images unlabelled: the extra labelled batch and the classifier on the
// GPU; the CPU copy classifies as the GPU model did.
TEST(CudaSemiSupervised, TrainsOnTheGpuAndClassifiesLikeItsCpuCopy) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch: the GPU tests are skipped";
  test::TempDir dir;
  data::SourceOptions limit;
  limit.limit = 256;
  auto source = data::load_source("fashion-mnist", DataKind::images, limit);
  source.images.labels = source.images.labels.to(torch::kLong).clone();
  source.images.labels.slice(0, 128).fill_(-1);
  auto model = create_model("vae", {}, {{"conditional", "true"}, {"semi_supervised", "true"}, {"max_steps", "20"}});
  FitContext ctx = test::quiet();
  ctx.device = torch::Device(torch::kCUDA);
  fit_source(*model, source, ctx);
  save_model(*model, dir.file("m.gf"));
  auto cpu = load_model(dir.file("m.gf"));
  const auto x = prepare(*model, source).x;
  const auto on_gpu = dynamic_cast<const Classifier&>(*model).predict_proba(x);
  const auto on_cpu = dynamic_cast<const Classifier&>(*cpu).predict_proba(x);
  EXPECT_TRUE(test::all_close(on_gpu, on_cpu, 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(
    Families, Cuda,
    ::testing::Values(CudaCase{"vae", {{"max_steps", "20"}}, DataKind::images, "fashion-mnist"},
                      CudaCase{"autoencoder", {{"max_steps", "20"}}, DataKind::images, "fashion-mnist"},
                      CudaCase{"gan", {{"max_steps", "20"}}, DataKind::images, "fashion-mnist"},
                      CudaCase{"flow", {{"max_steps", "10"}}, DataKind::images, "fashion-mnist"},
                      CudaCase{"pixelcnn", {{"max_steps", "10"}}, DataKind::images, "fashion-mnist"},
                      // Boltzmann machines (issue 17): small enough that log Z is enumerated, so CPU and GPU
                      // scores are the same number, not two AIS estimates.
                      CudaCase{"rbm", {{"n_components", "12"}, {"n_iter", "2"}}, DataKind::images, "fashion-mnist"},
                      CudaCase{"dbn", {{"layers", "16,8"}, {"n_iter", "2"}}, DataKind::images, "fashion-mnist"},
                      CudaCase{"dbm", {{"layers", "12,8"}, {"n_iter", "2"}, {"pretrain_n_iter", "1"},
                                       {"centering", "0.01"}},
                               DataKind::images, "fashion-mnist"},
                      CudaCase{"gpt",
                           {{"max_steps", "20"}, {"n_layer", "1"}, {"n_head", "2"}, {"n_embd", "16"},
                            {"block_size", "32"}, {"batch_size", "8"}},
                           DataKind::text, ""}),
    [](const ::testing::TestParamInfo<CudaCase>& info) { return std::string(info.param.kind); });

}  // namespace
}  // namespace gf
