// The HMM's observations and emission probabilities (internal to src/models/hmm/): the data prepared once for EM
// and scoring, and the scaled per-state emission probabilities of categorical, Gaussian and GMM emissions.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "genforge/models/hmm.h"
#include "stats/gaussian_mixture.h"

namespace gf::hmm_detail {

// The parameters EM works on. Gaussian emissions keep K components (gmm: K * M, state-major) in `g`.
struct HmmParams {
  at::Tensor startprob, transmat, emissionprob;  // [K], [K, K], [K, V]
  stats::Params g;                                 // means [C, D], covariances, precisions_chol; C = K or K * M
  at::Tensor mix;                                // [K, M] (gmm)
};

// Observations prepared once: categorical symbol ids (-1 = missing) or Gaussian rows with their missing layout.
struct Observations {
  at::Tensor x;        // [N, D] float64
  at::Tensor ids;      // [N] int64 (categorical)
  at::Tensor missing;  // [N] bool (categorical)
  stats::MissingLayout layout;
};
// A fitted model's parameters in EM's form.
HmmParams params_of(const HiddenMarkovModel& m);
// Checks and prepares `x` [N, D] (categorical: one column of symbol ids below n_symbols when n_symbols > 0).
Observations observe(const at::Tensor& x, const HmmOptions& o, int64_t n_symbols);
// Scaled emission probabilities [N, K] and their log scale [N] (see forward_backward); `within` [N, K * M] gets
// the posterior of each mixture component given its state (gmm emissions) when asked for.
at::Tensor emission_prob(const Observations& obs, const HmmParams& p, const HmmOptions& o, at::Tensor* log_scale,
                         at::Tensor* within = nullptr);

}  // namespace gf::hmm_detail
