// W4 (../shared/WORKLOADS.md): scikit-learn's BernoulliRBM workload. Fashion-MNIST binarised at pixel >= 128,
// 60000 x 784 train, RBM with 256 hidden units, PCD-1, learning rate 0.05, batch 64, 5 epochs (float32; the peer
// computes in float64). Timed: RestrictedBoltzmannMachine::fit's training loop (the trainer's clock, data already
// in memory as the peer's). Quality: the exact pseudo-log-likelihood of the first 1000 test images (the peer's
// deterministic measure) and scikit-learn's stochastic pseudo-likelihood of all test images; also the AIS estimate
// of the test log-likelihood (not timed; the peer has none).
// Usage: gf_bench_w4_rbm THREADS [SEED]
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/data/source.h"
#include "genforge/models/rbm.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s THREADS [SEED]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  auto load = [](const char* spec) {
    auto x = gf::data::scale_images(gf::data::load_source(spec, gf::DataKind::images).images.images);
    return (x >= 0.5).to(torch::kFloat32).reshape({x.size(0), -1});  // pixel >= 128
  };
  auto train = load("fashion-mnist"), test = load("fashion-mnist:test");
  gf::RbmOptions o;
  o.n_components = 256;
  o.lr = 0.05;
  o.batch_size = 64;
  o.epochs = 5;
  o.log_every = 1000000;
  o.checkpoint_every = 0;
  o.estimator = "pseudo_likelihood";  // no log Z inside the timed fit
  if (argc == 3) o.seed = std::atoll(argv[2]);
  gf::FitContext ctx;
  ctx.progress = false;
  gf::RestrictedBoltzmannMachine rbm(o);
  const auto report = rbm.fit({train}, ctx);
  const double exact_pl = rbm.pseudo_log_likelihood(test.slice(0, 0, 1000)).mean().item<double>();
  auto gen = gf::make_generator(0);
  const double stochastic_pl = rbm.stochastic_pseudo_likelihood(test, gen).mean().item<double>();
  gf::RbmOptions ais_o = o;
  ais_o.estimator = "ais";
  gf::RestrictedBoltzmannMachine scorer(ais_o);
  scorer.load_state(rbm.state());
  const double test_ll = scorer.score_samples(test).mean().item<double>();
  nlohmann::json out = {{"workload", "W4"},
                        {"threads", gf::threads()},
                        {"seed", o.seed},
                        {"fit_s", report.seconds},
                        {"s_per_epoch", report.seconds / 5},
                        {"test_exact_pseudo_loglik_first1000", exact_pl},
                        {"test_score_samples_mean", stochastic_pl},
                        {"test_log_likelihood_ais", test_ll},
                        {"log_z_standard_error", scorer.score_estimator().standard_error}};
  std::cout << out.dump() << std::endl;
  return 0;
}
