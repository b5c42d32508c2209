// The kernels of the Boltzmann machines (rbm, dbn, dbm): one restricted Boltzmann machine's energy, conditionals
// and free energy; its partition function by exact enumeration or annealed importance sampling; pseudo-likelihoods.
// Every kernel is batched matrix products on the parameters' device and dtype (no per-unit loops).
//
// Energy (Bernoulli visible units v in {0, 1}^D, Bernoulli hidden units h in {0, 1}^H, weights W [H, D]):
//   E(v, h) = -b.v - c.h - h W v
// Gaussian visible units (Cho et al. 2011, with variances s2 [D]):
//   E(v, h) = sum_i (v_i - b_i)^2 / (2 s2_i) - c.h - h W (v / s2)
// so p(h_j = 1 | v) = sigmoid(c_j + W_j (v / s2)) and p(v | h) = N(b + W^T h, s2) (Bernoulli: sigmoid(b + W^T h)).
// Rectified Gaussian hidden units ("relu"; h_j >= 0, the energy gains sum_j h_j^2 / 2): p(h_j | v) is N(a_j, 1)
// truncated to [0, inf) with a = c + W (v / s2), whose mean a + phi(a) / Phi(a) is a smooth rectifier, and
// summing a unit out gives log integral_0^inf exp(-h^2 / 2 + a h) dh = a^2 / 2 + log Phi(a) + log(2 pi) / 2 in place
// of softplus(a). (Nair & Hinton's NReLU, max(0, a + N(0, sigmoid(a))), approximates such units.)
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "genforge/models/log_partition.h"

namespace gf::ebm {

enum class Visible { bernoulli, gaussian };
Visible visible_from_string(const std::string& name);  // "bernoulli" | "gaussian"
enum class Hidden { bernoulli, relu };
Hidden hidden_from_string(const std::string& name);  // "bernoulli" | "relu"

// One hidden unit of kind `kind` with input a (elementwise, any shape): log sum_h exp(h a - E_h(h)) (softplus(a), or
// the rectified Gaussian's a^2 / 2 + log Phi(a) + log(2 pi) / 2), E[h | a], and a draw.
torch::Tensor hidden_log_partition(Hidden kind, const torch::Tensor& input);
torch::Tensor hidden_mean(Hidden kind, const torch::Tensor& input);
torch::Tensor sample_hidden(Hidden kind, const torch::Tensor& input, at::Generator& gen);

// One RBM's parameters (a view: tensors are shared, not copied). Softmax groups (one-hot columns of a table) are
// visible units of which exactly one is on, p(v_g | h) = softmax(b_g + W_g^T h); the other visible units are all
// Bernoulli or all Gaussian. A Gaussian unit's variance does not apply to group units.
struct Rbm {
  Visible visible = Visible::bernoulli;
  torch::Tensor W;        // [H, D]
  torch::Tensor b;        // [D] visible biases (Gaussian: means)
  torch::Tensor c;        // [H] hidden biases
  torch::Tensor log_var;  // [D] Gaussian visible units only: log s2
  std::vector<torch::Tensor> groups;  // softmax groups: each [k] int64 visible unit indices (none: empty)
  torch::Tensor independent_mask;     // [D] independent_units(...) computed once (optional: else per call)
  Hidden hidden = Hidden::bernoulli;
  // Gaussian visible only: 1 for units that are Bernoulli instead (undefined: none). A Gaussian-visible DBM's
  // log Z is that of an RBM over its visible layer (Gaussian) and second hidden layer (Bernoulli) together.
  torch::Tensor bernoulli_units;  // [D]

  int64_t n_visible() const { return W.size(1); }
  int64_t n_hidden() const { return W.size(0); }
  bool gaussian() const { return visible == Visible::gaussian; }
  bool has_groups() const { return !groups.empty(); }
  bool relu() const { return hidden == Hidden::relu; }
  bool mixed() const { return gaussian() && bernoulli_units.defined(); }

  // v scaled as the hidden units see it: v / s2 (Gaussian units) or v. [N, D]
  torch::Tensor scaled_visible(const torch::Tensor& v) const;
  torch::Tensor hidden_input(const torch::Tensor& v) const;  // c + W (v / s2). [N, H]
  torch::Tensor hidden_probs(const torch::Tensor& v) const;  // E[h | v]: p(h = 1 | v) for Bernoulli units. [N, H]
  torch::Tensor sample_hidden(const torch::Tensor& v, at::Generator& gen) const;  // h ~ p(h | v). [N, H]
  torch::Tensor visible_input(const torch::Tensor& h) const;  // b + W^T h. [N, D]
  torch::Tensor visible_mean(const torch::Tensor& h) const;   // E[v | h]. [N, D]
  torch::Tensor sample_visible(const torch::Tensor& h, at::Generator& gen) const;  // [N, D]
  // E[v] and draws of visible units whose input (b + W^T h, or an AIS mixture of it) is `input`. [N, D]
  torch::Tensor mean_from_input(const torch::Tensor& input) const;
  torch::Tensor sample_from_input(torch::Tensor input, at::Generator& gen) const;
  // The visible part of -E: b.v (Bernoulli, groups) or -sum (v - b)^2 / (2 s2) (Gaussian units). [N]
  torch::Tensor visible_term(const torch::Tensor& v) const;
  // log of the visible part's normaliser with no weights and biases `bias` [D]: sum over units of log sum_v
  // exp(-E_visible(v)).
  double visible_log_partition(const torch::Tensor& bias) const;
  // F(v) = -log sum_h exp(-E(v, h)); differentiable in the parameters (CD's gradient is that of
  // mean F(data) - mean F(model samples)). [N]
  torch::Tensor free_energy(const torch::Tensor& v) const;
  torch::Tensor free_energy_from_input(const torch::Tensor& v, const torch::Tensor& hidden_input) const;
  // log sum_v exp(-E(v, h)) for hidden states h [N, H]. [N]
  torch::Tensor hidden_log_marginal(const torch::Tensor& h) const;
  // log p(v | h), v [N, D] (Bernoulli units may hold probabilities: then the cross-entropy). [N]
  torch::Tensor log_visible_given_hidden(const torch::Tensor& v, const torch::Tensor& h) const;

 private:
  torch::Tensor independent() const;  // [D] 1 for units outside every group, 0 inside (defined with groups)
  // Gaussian visible units with groups or Bernoulli units among them: [D] masks of the Gaussian units and of the
  // Bernoulli ones (group units in neither).
  std::pair<torch::Tensor, torch::Tensor> unit_masks() const;
};

// 1 for visible units outside every group, 0 inside. [D] in `options`
torch::Tensor independent_units(int64_t n_visible, const std::vector<torch::Tensor>& groups,
                                const torch::TensorOptions& options);

// Softmax groups from feature names: consecutive columns "name=value" with the same name (a one-hot block of the
// input pipeline), at least two of them. Each [k] int64.
std::vector<torch::Tensor> one_hot_groups(const std::vector<std::string>& columns);

// Bernoulli draws with probabilities p, in p's dtype. [same as p] Uniforms come from `gen`; when gen is a CPU
// generator and p lives on another device they are drawn on the CPU and moved (slower, but the same draws).
torch::Tensor bernoulli(const torch::Tensor& p, at::Generator& gen);

// Parallel tempering (Desjardins et al. 2010) on the path of AIS: p_beta(v, h) ~ exp(-E_base(v) + beta g(v, h)),
// g = -E(v, h) + E_base(v), from the base model (beta = 0, no weights, visible biases `base_visible`) to the RBM
// (beta = 1). v [M * C, D] holds C chains at each of the M inverse temperatures `betas` (rows m*C .. m*C + C - 1 at
// betas[m]): one Gibbs sweep at every temperature, then neighbouring temperatures m, m + 1 (m even when `parity` is
// even, odd otherwise) exchange states with probability min(1, exp((beta_m - beta_{m+1}) (g_{m+1} - g_m))).
// `h` receives the hidden states the sweep drew. Returns the fraction of exchanges accepted.
double tempered_sweep(const Rbm& rbm, const torch::Tensor& base_visible, const std::vector<double>& betas,
                      torch::Tensor& v, torch::Tensor& h, at::Generator& gen, int64_t parity);
// M inverse temperatures from 1 down to 0, evenly spaced (M = 1: {1}).
std::vector<double> tempering_betas(int64_t m);
// The inverse temperature of each row of a ladder of C chains per temperature. [M * C, 1] in `options`
torch::Tensor ladder_betas(const std::vector<double>& betas, int64_t chains, const torch::TensorOptions& options);
// The exchange step of parallel tempering: states at neighbouring temperatures m, m + 1 (m even when `parity` is
// even, odd otherwise) swap, in every tensor of `states` (rows laid out as ladder_betas says), with probability
// min(1, exp((beta_m - beta_{m+1}) (g_{m+1} - g_m))), g [M * C] the log-density gap whose multiple by beta
// tempers. Returns the fraction of exchanges accepted.
double tempering_exchange(const std::vector<double>& betas, const torch::Tensor& g,
                          std::vector<torch::Tensor*> states, at::Generator& gen, int64_t parity);

// Visible data as Bernoulli units read it: `binarize` "threshold" (v >= 0.5), "stochastic" (v ~ Bernoulli(v) from a
// generator seeded with `seed`: the same draw every time) or "none"; with `strict`, values other than 0 and 1 are a
// gf::DataError. [same as v]
torch::Tensor binarized(const torch::Tensor& v, const std::string& binarize, bool strict, int64_t seed);

// The CD / SML loss of a batch: the gap in expected energy under q(h | v) = p(h | v), mean over the data v_pos
// minus mean over the negative samples v_neg, with q held fixed. Its gradient is the CD update (dF/dtheta =
// E_q[dE/dtheta]) and it needs no log or exp beyond q. `q` receives p(h | v) of [v_pos; v_neg] (no gradient),
// `input` the hidden input of both (with gradient). [] scalar
torch::Tensor cd_loss(const Rbm& rbm, const torch::Tensor& v_pos, const torch::Tensor& v_neg, torch::Tensor* q,
                      torch::Tensor* input);

// log Z exactly, by enumerating the hidden states (or, for Bernoulli visible units, the visible states when there
// are fewer; always the visible states for rectified Gaussian hidden units, which then need Bernoulli visible units
// without softmax groups). The enumerated layer must have at most `max_units` units (2^max_units states).
double exact_log_z(const Rbm& rbm, int64_t max_units = 24);
// The number of units exact_log_z enumerates (a huge number where it cannot).
int64_t enumerated_units(const Rbm& rbm);
// How log Z is found for an `estimator` option: "exact" and "ais" as given; anything else ("auto", or a
// pseudo-likelihood that needs no log Z) picks exact enumeration up to 2^20 states, else AIS.
std::string log_partition_method(const std::string& estimator, const Rbm& rbm);

// Annealed importance sampling of log Z (Neal 2001; Salakhutdinov & Murray 2008): `runs` chains from a base RBM
// with no weights and the visible biases `base_visible` [D] (Bernoulli: log-odds of the data's means; Gaussian:
// its means, with the model's variances) to the model, through `betas` intermediate distributions spaced as
// Salakhutdinov & Murray's (dense near beta = 1). Weights are accumulated in float64.
struct AisSettings {
  int64_t runs = 100;
  int64_t betas = 10000;
};
struct AisEstimate {
  double log_z = 0;           // log of the mean importance weight times Z_base
  double standard_error = 0;  // of log_z (delta method: sd of the weights / (sqrt(runs) mean weight))
  double log_z_base = 0;      // the base model's exact log Z
  double effective_runs = 0;  // (sum w)^2 / sum w^2: near `runs` when the weights agree
  std::vector<double> log_weights;
};
// `progress_label` non-empty shows a progress bar. `base_hidden` [H] gives the base model hidden biases too (default
// 0: free units), for hidden units whose marginals are known (a DBM's visible layer).
AisEstimate ais_log_z(const Rbm& rbm, const torch::Tensor& base_visible, const AisSettings& settings,
                      at::Generator& gen, const std::string& progress_label = "",
                      const torch::Tensor& base_hidden = {});
// log Z by `method` ("exact" or "ais"), AIS drawing from a generator seeded with `seed`.
LogPartition estimate_log_partition(const Rbm& rbm, const torch::Tensor& base_visible, const std::string& method,
                                    const AisSettings& settings, uint64_t seed, bool show_progress,
                                    const torch::Tensor& base_hidden = {});

// The inverse temperatures 0 = beta_0 < ... < beta_K = 1 (K = n; the 500 / 4000 / 10000 proportions of
// Salakhutdinov & Murray over [0, 0.5], [0.5, 0.9], [0.9, 1]). [n + 1]
std::vector<double> ais_betas(int64_t n);

// Exact pseudo-log-likelihood sum_i log p(v_i | v_-i) of Bernoulli data. [N] float64
torch::Tensor pseudo_log_likelihood(const Rbm& rbm, const torch::Tensor& v);
// scikit-learn's BernoulliRBM.score_samples: D log sigmoid(F(v~) - F(v)) where v~ is v with one bit, drawn from
// `gen`, flipped (1 - v_i). [N] float64
torch::Tensor stochastic_pseudo_likelihood(const Rbm& rbm, const torch::Tensor& v, at::Generator& gen);
// The same with the flipped bit of each row given: `flipped_bits` [N] int64. [N] float64
torch::Tensor one_flip_pseudo_likelihood(const Rbm& rbm, const torch::Tensor& v, const torch::Tensor& flipped_bits);

}  // namespace gf::ebm
