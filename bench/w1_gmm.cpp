// W1 (../shared/WORKLOADS.md): GaussianMixture K=10, tol 1e-3, max_iter 100, reg_covar 1e-6, k-means init, on
// Fashion-MNIST PCA-32 (60000 x 32 train, 10000 test). Timed: fit() including the k-means initialisation, as
// the peer. Prints one JSON object per covariance type. Usage: gf_bench_w1_gmm TRAIN.npy TEST.npy THREADS SEED
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/runtime.h"
#include "genforge/data/npy.h"
#include "genforge/models/gmm.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s TRAIN.npy TEST.npy THREADS SEED\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[3]));
  auto train = gf::read_npy(argv[1]).to(torch::kFloat64);
  auto test = gf::read_npy(argv[2]).to(torch::kFloat64);
  nlohmann::json out;
  out["threads"] = gf::threads();
  for (const char* cov : {"full", "diag", "tied", "spherical"}) {
    gf::GmmOptions o;
    o.n_components = 10;
    o.covariance_type = cov;
    o.seed = std::atoll(argv[4]);
    gf::GaussianMixture g(o);
    gf::FitContext ctx;
    ctx.progress = false;
    auto t0 = std::chrono::steady_clock::now();
    auto report = g.fit({train}, ctx);
    double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out[cov] = {{"fit_s", fit_s},
                {"n_iter", report.n_iter},
                {"s_per_iter", fit_s / static_cast<double>(report.n_iter)},
                {"converged", report.converged},
                {"lower_bound", report.objective},
                {"test_score", g.score(test)}};
  }
  std::cout << out.dump() << std::endl;
  return 0;
}
