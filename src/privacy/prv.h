// Internal: the PRV accountant's figures (src/privacy/prv.cpp).
#pragma once
#include <cstdint>

namespace gf::privacy {

struct PrvEpsilon {
  double lower = 0, estimate = 0, upper = 0;  // ε bounds (upper: what epsilon_spent reports) and the estimate
  int64_t domain_points = 0;                  // size of the discretisation
};
// ε of `steps` Poisson-subsampled Gaussian steps at δ, within eps_error, with delta_error (<= 0: δ / 1000).
PrvEpsilon prv_epsilon(double noise_multiplier, double sample_rate, int64_t steps, double delta, double eps_error = 0.01,
                       double delta_error = 0);

}  // namespace gf::privacy
