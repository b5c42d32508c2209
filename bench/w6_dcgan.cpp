// W6 (../shared/WORKLOADS.md): the DCGAN of pytorch/examples cpp/dcgan on Fashion-MNIST, batch 64, Adam lr 2e-4
// betas (0.5, 0.5), real labels ~ U(0.8, 1), no EMA (the peer has none). Timed: ITERS training steps of Gan::fit
// (the trainer's own clock), after a 5-step warm-up fit in the same process, as the peer times 200 iterations after
// 5 untimed ones. Usage: gf_bench_w6_dcgan THREADS [ITERS]
#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/runtime.h"
#include "genforge/data/source.h"
#include "genforge/models/gan.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s THREADS [ITERS]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  const int64_t iters = argc > 2 ? std::atoll(argv[2]) : 200;
  auto x = gf::data::scale_images(gf::data::load_source("fashion-mnist", gf::DataKind::images).images.images);  // [60000, 1, 28, 28]
  gf::GanOptions o;
  o.beta2 = 0.5;
  o.label_smoothing = 0.2;
  o.ema_decay = 0.0;
  o.log_every = 1000000;
  o.checkpoint_every = 0;
  gf::FitContext ctx;
  ctx.progress = false;
  o.max_steps = 5;
  gf::Gan(o).fit({x}, ctx);
  o.max_steps = iters;
  gf::Gan gan(o);
  gf::FitReport report;
  if (std::getenv("GF_PROFILE")) {
    torch::autograd::profiler::RecordProfile guard(std::getenv("GF_PROFILE"));
    report = gan.fit({x}, ctx);
  } else {
    report = gan.fit({x}, ctx);
  }
  nlohmann::json out = {{"workload", "W6"},
                        {"threads", gf::threads()},
                        {"iters", iters},
                        {"timed_s", report.seconds},
                        {"s_per_iter", report.seconds / static_cast<double>(iters)},
                        {"s_per_200_iters", 200 * report.seconds / static_cast<double>(iters)},
                        {"final_d_loss", report.objective}};
  std::cout << out.dump() << std::endl;
  return 0;
}
