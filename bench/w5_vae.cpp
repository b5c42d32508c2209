// W5 (../shared/WORKLOADS.md): the VAE of pytorch/examples (784-400-20, Bernoulli decoder), Fashion-MNIST, Adam
// lr 1e-3, batch 128 reshuffled each epoch, 3 epochs. Timed: each epoch of VariationalAutoencoder::fit (the
// trainer's clock; one fit per epoch, resumed from the previous epoch's checkpoint so the optimizer state carries
// over). Test loss: negative ELBO with one sampled z per test image, per example, as the peer.
// Usage: gf_bench_w5_vae THREADS RUN_DIR [SEED]
#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/runtime.h"
#include "genforge/data/source.h"
#include "genforge/models/vae.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s THREADS RUN_DIR [SEED]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  auto train = gf::data::scale_images(gf::data::load_source("fashion-mnist", gf::DataKind::images).images.images);
  auto test = gf::data::scale_images(gf::data::load_source("fashion-mnist:test", gf::DataKind::images).images.images);
  gf::VaeOptions o;
  o.log_every = 1000000;
  o.checkpoint_every = 0;
  o.run_dir = argv[2];
  if (argc == 4) o.seed = std::atoll(argv[3]);
  gf::FitContext ctx;
  ctx.progress = false;
  nlohmann::json epochs = nlohmann::json::array(), test_loss = nlohmann::json::array();
  double total = 0;
  for (int64_t e = 1; e <= 3; ++e) {
    o.epochs = e;
    o.resume = e > 1;
    gf::VariationalAutoencoder vae(o);
    gf::FitReport report;
    if (std::getenv("GF_PROFILE") && e == 1) {
      torch::autograd::profiler::RecordProfile guard(std::getenv("GF_PROFILE"));
      report = vae.fit({train}, ctx);
    } else {
      report = vae.fit({train}, ctx);
    }
    epochs.push_back(report.seconds);
    total += report.seconds;
    test_loss.push_back(-vae.importance_weighted_bound(test, 1).mean().item<double>());
  }
  nlohmann::json out = {{"workload", "W5"}, {"threads", gf::threads()}, {"seed", o.seed}, {"epoch_s", epochs},
                        {"mean_epoch_s", total / 3}, {"test_loss_per_example", test_loss},
                        {"test_loss_per_example_after_3", test_loss.back()}};
  std::cout << out.dump() << std::endl;
  return 0;
}
