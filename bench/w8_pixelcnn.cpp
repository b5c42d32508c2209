// W8 (../shared/WORKLOADS.md, ../shared/bench/peers/w8_pixelcnn.py): gated PixelCNN, 1 + 6 layers of 64 channels,
// on binarised Fashion-MNIST (pixel >= 128), Bernoulli output; Adam lr 1e-3, batch 64. Timed as the peer's shrunk
// run: 20 training steps after 1 warm-up step (the fit time of a 21-step run minus that of a 1-step run). Quality:
// test NLL (nats per image) of the first 500 test images after 21 steps. Also: drawing 64 images with the cached
// sampler, timed in full.
// Usage: gf_bench_w8_pixelcnn THREADS [STEPS [PRECISION [SEED]]]
#include <torch/csrc/autograd/profiler_legacy.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/data/source.h"
#include "genforge/models/pixelcnn.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s THREADS [STEPS]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  const int64_t steps = argc > 2 ? std::atoll(argv[2]) : 20, warmup = 1;
  auto train = gf::data::scale_images(gf::data::load_source("fashion-mnist", gf::DataKind::images).images.images);
  auto test = gf::data::scale_images(gf::data::load_source("fashion-mnist:test", gf::DataKind::images).images.images)
                  .slice(0, 0, 500);
  gf::PixelCnnOptions o;
  o.layers = 6;
  o.hidden = 64;
  o.binarize = "threshold";
  o.output = "bernoulli";
  o.batch_size = 64;
  o.lr = 1e-3;
  o.log_every = 1000000;
  o.checkpoint_every = 0;
  if (argc > 3) o.precision = argv[3];
  if (argc > 4) o.seed = std::atoll(argv[4]);
  gf::FitContext ctx;
  ctx.progress = false;
  o.max_steps = warmup;
  gf::PixelCnn warm(o);
  const double warm_s = warm.fit({train}, ctx).seconds;
  o.max_steps = warmup + steps;
  gf::PixelCnn model(o);
  gf::FitReport report;
  if (std::getenv("GF_PROFILE")) {  // a Chrome trace of the timed fit
    torch::autograd::profiler::RecordProfile guard(std::getenv("GF_PROFILE"));
    report = model.fit({train}, ctx);
  } else {
    report = model.fit({train}, ctx);
  }
  const double timed = report.seconds - warm_s;
  const double nll = -model.score(test);
  auto gen = gf::make_generator(0);
  const auto t0 = std::chrono::steady_clock::now();
  auto samples = model.sample(64, gen);
  const double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json out = {{"workload", "W8"},        {"threads", gf::threads()},
                        {"steps_timed", steps},    {"timed_s", timed},
                        {"s_per_step", timed / static_cast<double>(steps)},
                        {"s_per_50_steps", 50 * timed / static_cast<double>(steps)},
                        {"test_nll_nats", nll},    {"sample_64_s", sample_s}, {"precision", o.precision},
                        {"sample_mean", samples.mean().item<double>()}};
  std::cout << out.dump() << std::endl;
  return 0;
}
