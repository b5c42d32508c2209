// W3 (../shared/WORKLOADS.md): LDA, K = 20, on the Brown corpus of bench-data/brown_lda_* (450 training
// documents, 50 held out). Settings as the gensim peer: 10 passes, at most 50 iterations per document,
// gamma_threshold 1e-3, symmetric alpha = eta = 1/K, decay 0.5, offset 1. Timed: fit(). Reported: held-out
// perplexity in gensim's convention (2^-bound per word) and the document-bound convention, UMass coherence of the
// top-10 words on the training documents (the peer's lda_util definition), NPMI.
// Usage: gf_bench_w3_lda BENCH_DATA_DIR THREADS [PASSES [SEED [vb|gibbs]]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "genforge/core/runtime.h"
#include "genforge/data/dataset.h"
#include "genforge/data/text.h"
#include "genforge/eval/topics.h"
#include "genforge/models/lda.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 6) {
    std::fprintf(stderr, "usage: %s BENCH_DATA_DIR THREADS [PASSES [SEED [vb|gibbs]]]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  gf::set_threads(std::atoi(argv[2]));
  const auto train = gf::read_id_lines(dir + "/brown_lda_train.txt"), test = gf::read_id_lines(dir + "/brown_lda_test.txt");
  int64_t vocab = 0;
  {
    std::ifstream in(dir + "/brown_lda_vocab.txt");
    for (std::string line; std::getline(in, line);) ++vocab;
  }
  gf::LdaOptions o;
  o.n_components = 20;
  o.n_features = vocab;
  o.passes = argc >= 4 ? std::atoll(argv[3]) : 10;
  if (argc >= 5) o.seed = std::atoll(argv[4]);
  if (argc >= 6 && std::string(argv[5]) == "gibbs") {  // collapsed Gibbs: PASSES is the number of sweeps
    o.algorithm = "gibbs";
    o.sweeps = o.passes;
  }
  gf::LatentDirichletAllocation lda(o);
  gf::FitContext ctx;
  ctx.progress = false;
  const auto tr = gf::id_sequences(train), te = gf::id_sequences(test);
  auto t0 = std::chrono::steady_clock::now();
  lda.fit(tr, ctx);
  const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto p = lda.perplexity(te.x, te.lengths);
  const auto tops = lda.top_words(10);
  const auto umass = gf::eval::umass_coherence(tops, train);
  const auto npmi = gf::eval::npmi_coherence(tops, train);
  nlohmann::json out = {{"threads", gf::threads()},
                        {"algorithm", o.algorithm},
                        {"passes", o.passes},
                        {"vocab", vocab},
                        {"fit_s", fit_s},
                        {"s_per_pass", fit_s / static_cast<double>(o.passes)},
                        {"heldout_perplexity_gensim", p.perplexity_gensim},
                        {"heldout_per_word_bound_gensim", p.per_word_bound_gensim},
                        {"heldout_perplexity_document_bound", p.perplexity},
                        {"umass_mean", umass.mean},
                        {"npmi_mean", npmi.mean}};
  std::cout << out.dump() << "\n";
  return 0;
}
