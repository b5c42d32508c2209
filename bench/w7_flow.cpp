// W7 (../shared/WORKLOADS.md, ../shared/bench/peers/w7_flow.py): RealNVP with 8 MLP couplings (two hidden layers of
// 1024, separate scale and shift networks, tanh log-scales, alternating checkerboard masks) on flattened
// Fashion-MNIST with uniform dequantisation and the logit pre-processing (alpha 0.05); Adam lr 1e-3, batch 128.
// Timed: 100 training steps after 3 warm-up steps, as the peer -- measured as the fit time of a 103-step run minus
// that of a 3-step run from the same start. Quality: test bits/dim of the first 1000 test images after 103 steps
// (bits/dim = -log2 P(pixels) / 784 with the pixels dequantised, the peer's nll/(D ln 2) + 8).
// Usage: gf_bench_w7_flow THREADS [STEPS [SEED]]
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/runtime.h"
#include "genforge/data/source.h"
#include "genforge/models/flow.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s THREADS [STEPS]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  const int64_t steps = argc > 2 ? std::atoll(argv[2]) : 100, warmup = 3;
  auto train = gf::data::scale_images(gf::data::load_source("fashion-mnist", gf::DataKind::images).images.images);
  auto test = gf::data::scale_images(gf::data::load_source("fashion-mnist:test", gf::DataKind::images).images.images)
                  .slice(0, 0, 1000);
  gf::FlowOptions o;
  o.architecture = "realnvp_mlp";
  o.layers = 8;
  o.hidden = 1024;
  o.scale_clamp = 1.0;  // s = tanh(raw), as the peer
  o.preprocess = "logit";
  o.logit_alpha = 0.05;
  o.batch_size = 128;
  o.lr = 1e-3;
  o.log_every = 1000000;
  o.checkpoint_every = 0;
  if (argc > 3) o.seed = std::atoll(argv[3]);
  gf::FitContext ctx;
  ctx.progress = false;
  o.max_steps = warmup;
  gf::NormalizingFlow warm(o);
  const double warm_s = warm.fit({train}, ctx).seconds;
  o.max_steps = warmup + steps;
  gf::NormalizingFlow flow(o);
  const auto report = flow.fit({train}, ctx);
  int64_t params = 0;
  for (const auto& [name, t] : flow.state()) {
    if (name.rfind("meta/", 0) != 0) params += t.numel();
  }
  const double timed = report.seconds - warm_s;
  nlohmann::json out = {{"workload", "W7"},
                        {"threads", gf::threads()},
                        {"steps_timed", steps},
                        {"timed_s", timed},
                        {"s_per_step", timed / static_cast<double>(steps)},
                        {"s_per_100_steps", 100 * timed / static_cast<double>(steps)},
                        {"tensors_in_state", params},
                        {"test_bpd_1000", flow.bits_per_dim(test)}};
  std::cout << out.dump() << std::endl;
  return 0;
}
