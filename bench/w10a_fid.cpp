// W10a (../shared/WORKLOADS.md): FID on two 10000 x 2048 float64 feature sets made by the peer's generator
// (SplitMix64 + Box-Muller, ../shared/bench/peers/common.py; X2 has +0.1 in every dimension). Not timed: making
// the data. Timed, as the peer: both sets' mean and covariance, then the Fréchet distance: genforge's default
// (gf::eval::fid, automatic precision: mixed-precision statistics kept when their error estimate allows) as the
// headline, and each precision forced (float64 as pytorch-fid; mixed), best of REPS each.
// Usage: gf_bench_w10a_fid THREADS [N] [D] [REPS]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "genforge/core/runtime.h"
#include "genforge/eval/image.h"

namespace {

// The peer's splitmix64_u01: k-th value (k = 1..n) from z = seed + k * golden gamma, then the SplitMix64 mix.
double splitmix_u01(uint64_t seed, uint64_t k) {
  uint64_t z = seed + k * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

torch::Tensor splitmix_normal(uint64_t seed, int64_t rows, int64_t cols, double shift) {
  auto out = torch::empty({rows, cols}, torch::kDouble);
  double* p = out.data_ptr<double>();
  const int64_t n = rows * cols;
#pragma omp parallel for
  for (int64_t i = 0; i < n / 2; ++i) {
    const double u1 = splitmix_u01(seed, 2 * i + 1), u2 = splitmix_u01(seed, 2 * i + 2);
    const double r = std::sqrt(-2.0 * std::log1p(-u1)), th = 2.0 * M_PI * u2;
    p[2 * i] = r * std::cos(th) + shift;
    p[2 * i + 1] = r * std::sin(th) + shift;
  }
  return out;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s THREADS [N] [D] [REPS]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 10000, dim = argc > 3 ? std::atoll(argv[3]) : 2048;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 3;
  auto x1 = splitmix_normal(1, n, dim, 0.0), x2 = splitmix_normal(2, n, dim, 0.1);
  struct Timing {
    double total = 1e30, stats = 0, frechet = 0;
    gf::eval::FrechetResult result;
  };
  auto run = [&](gf::eval::FidPrecision precision) {
    Timing best;
    for (int i = 0; i < reps; ++i) {
      double t = now();
      gf::eval::FrechetResult r;
      double stats_s = 0;
      if (precision == gf::eval::FidPrecision::automatic) {
        r = gf::eval::fid(x1, x2);  // one call: the split is not visible from outside
      } else {
        gf::eval::StatisticsOptions o;
        o.mixed_precision = precision == gf::eval::FidPrecision::mixed;
        auto a = gf::eval::gaussian_statistics(x1, o), b = gf::eval::gaussian_statistics(x2, o);
        stats_s = now() - t;
        r = gf::eval::frechet_distance(a, b);
      }
      const double total = now() - t;
      if (total < best.total) best = {total, stats_s, total - stats_s, r};
    }
    return best;
  };
  const auto automatic = run(gf::eval::FidPrecision::automatic);
  const auto float64 = run(gf::eval::FidPrecision::float64);
  const auto mixed = run(gf::eval::FidPrecision::mixed);
  nlohmann::json out = {{"workload", "W10a"},
                        {"threads", gf::threads()},
                        {"n", n},
                        {"dim", dim},
                        {"reps", reps},
                        {"total_s", automatic.total},
                        {"fid", automatic.result.distance},
                        {"fid_statistics", automatic.result.mixed_precision ? "mixed" : "float64"},
                        {"fid_rounding_error", automatic.result.rounding_error},
                        {"float64_total_s", float64.total},
                        {"float64_stats_s", float64.stats},
                        {"float64_frechet_s", float64.frechet},
                        {"fid_float64", float64.result.distance},
                        {"mixed_total_s", mixed.total},
                        {"mixed_stats_s", mixed.stats},
                        {"mixed_frechet_s", mixed.frechet},
                        {"fid_mixed", mixed.result.distance},
                        {"mean_term", float64.result.mean_term}};
  std::cout << std::setprecision(17) << out.dump() << std::endl;
  return 0;
}
