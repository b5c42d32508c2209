// Shared numerics of Markov chains below the families (the HMM, the POS tagger): the scaled forward-backward pass
// and Viterbi, written on raw float64 arrays and run in parallel across sequences. Sequence offsets come from
// data/dataset.h.
// Shapes: N steps in all, S sequences, K states.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "genforge/data/dataset.h"

namespace gf::stats {

struct ForwardBackward {
  at::Tensor seq_log_likelihood;  // [S] log p(sequence)
  at::Tensor step_log_likelihood; // [N] log p(x_t | x_<t) (only when asked)
  at::Tensor gamma;               // [N, K] p(z_t | sequence) (only when asked)
  at::Tensor start;               // [K] sum over sequences of gamma at their first step
  at::Tensor trans;               // [K, K] expected transition counts
};

// Emission probabilities are given scaled: prob [N, K] = p(x_n | k) * exp(-log_scale[n]) (log_scale [N] may be
// undefined = 0), so Gaussian densities can be kept in range. Each sequence is split into blocks processed in
// parallel; sums are reduced in a fixed order so the result does not depend on the number of threads.
// posteriors=false runs the forward pass only (log-likelihoods, and per-step terms if steps=true).
ForwardBackward forward_backward(const at::Tensor& prob, const at::Tensor& log_scale,
                                 const std::vector<int64_t>& offsets, const at::Tensor& startprob,
                                 const at::Tensor& transmat, bool posteriors, bool steps = false);

// Best state path of one sequence of length L: log_emit [L, K] row-major (entries of -inf are states that cannot
// emit the observation and are skipped, which makes tag-dictionary decoding sparse), log_start [K],
// log_trans [K, K]. Writes L states to path and returns the path's log-probability. Ties go to the lowest state.
double viterbi_sequence(const double* log_emit, int64_t length, int64_t k, const double* log_start,
                        const double* log_trans, int64_t* path);

// Viterbi for every sequence (in parallel). log_emit [N, K]; returns [N] int64 states, and the per-sequence
// log-probabilities of the best paths [S] in *log_prob when given.
at::Tensor viterbi(const at::Tensor& log_emit, const std::vector<int64_t>& offsets, const at::Tensor& log_start,
                   const at::Tensor& log_trans, at::Tensor* log_prob);

}  // namespace gf::stats
