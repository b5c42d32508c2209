// Privacy accounting for DP-SGD (the sampled Gaussian mechanism iterated over training steps), as Opacus computes
// it, so that an ε reported by genforge and by Opacus for the same run agree:
//   RDP  Rényi DP of the sampled Gaussian mechanism (Mironov et al. 2019), at Opacus' default orders, converted to
//        (ε, δ) by Balle et al. 2020, Theorem 21; the default accountant
//   PRV  numerical composition of privacy loss random variables by FFT (Gopi, Lee & Wutschitz 2021), Opacus'
//        PRVAccountant: the upper bound of ε with eps_error 0.01 and delta_error δ/1000 (tighter than RDP)
//   GDP  Gaussian DP by the central limit theorem (Dong, Roth & Su 2019), Poisson sampling
// and the noise multiplier σ that reaches a target ε, by Opacus' own binary search (get_noise_multiplier).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gf::privacy {

// Opacus' DEFAULT_ALPHAS: 1.1, 1.2, ..., 10.9, then 12, ..., 63.
const std::vector<double>& default_orders();

// RDP of `steps` sampled Gaussian mechanisms with sampling rate q and noise multiplier σ, at each order.
std::vector<double> compute_rdp(double q, double noise_multiplier, int64_t steps, const std::vector<double>& orders);

struct Spent {
  double epsilon = 0;
  double order = 0;  // the RDP order that gave it (NaN for GDP)
};
// The smallest ε over the orders for this δ.
Spent rdp_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp, double delta);
// ε of `steps` DP-SGD steps: accountant "rdp" (default orders), "prv" or "gdp".
Spent epsilon_spent(const std::string& accountant, double noise_multiplier, double sample_rate, int64_t steps,
                    double delta);

// The noise multiplier that spends at most `target_epsilon` in `steps` steps: Opacus' get_noise_multiplier (σ
// doubled from 20 until ε fits, then bisection until ε is within `tolerance` below the target). A budget that
// needs σ above 1e6 is InvalidArgument.
double noise_multiplier_for(double target_epsilon, double delta, double sample_rate, int64_t steps,
                            const std::string& accountant = "rdp", double tolerance = 0.01);

// σ of the analytic Gaussian mechanism (Balle & Wang 2018): the smallest noise for which adding N(0, σ²) to a query
// of L2 sensitivity `sensitivity` is (ε, δ)-differentially private (any ε > 0, unlike the classical bound).
double analytic_gaussian_sigma(double epsilon, double delta, double sensitivity);

}  // namespace gf::privacy
