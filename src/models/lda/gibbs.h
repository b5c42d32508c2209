// Collapsed Gibbs sampling for LDA (Griffiths & Steyvers 2004) with SparseLDA's bucket decomposition (Yao, Mimno &
// McCallum 2009), internal to src/models/lda/. Single-threaded and seeded, so a seed gives one chain.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace gf::lda {

struct GibbsResult {
  at::Tensor topic_word;              // [K, V] final counts n_kw
  std::vector<double> log_likelihood; // log p(w | z) after each sweep (collapsed over the topics), nats
};

// tokens: word ids of every document, concatenated; offsets [D + 1]. `on_sweep(s, ll)` is called after each sweep.
GibbsResult collapsed_gibbs(const std::vector<int64_t>& tokens, const std::vector<int64_t>& offsets, int64_t k,
                            int64_t v, double alpha, double eta, int64_t sweeps, uint64_t seed,
                            const std::function<void(int64_t, double)>& on_sweep);

}  // namespace gf::lda
