// W2b (../shared/WORKLOADS.md): unsupervised categorical HMM, K=16 states, V=5001 symbols, Baum-Welch from the
// given initial parameters on the first 5000 training sentences of bench-data/brown_hmm_train_words.txt.
// Timed: 5 EM iterations (each one E-step + one M-step, as the peer's history epochs) plus the E-step that scores
// theta5, so the log-likelihood trace LL(theta0..theta5) can be compared with the peer's number for number.
// Usage: gf_bench_w2b_hmm BENCH_DATA_DIR THREADS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "genforge/core/runtime.h"
#include "genforge/data/npy.h"
#include "genforge/data/dataset.h"
#include "genforge/data/text.h"
#include "genforge/models/hmm.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s BENCH_DATA_DIR THREADS\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  gf::set_threads(std::atoi(argv[2]));
  const gf::Dataset data = gf::id_sequences(gf::read_id_lines(dir + "/brown_hmm_train_words.txt", 5000));
  gf::HmmOptions o;
  o.n_components = 16;
  o.emission = "categorical";
  o.init_params = "";
  o.max_iter = 6;  // E-steps at theta0..theta5; the M-step after the sixth is not needed but cheap
  o.tol = 0;
  gf::HiddenMarkovModel hmm(o);
  hmm.set_init("startprob", gf::read_npy(dir + "/brown_hmm_bw_init_start.npy"));
  hmm.set_init("transmat", gf::read_npy(dir + "/brown_hmm_bw_init_trans.npy"));
  hmm.set_init("emissionprob", gf::read_npy(dir + "/brown_hmm_bw_init_emit.npy"));
  gf::FitContext ctx;
  ctx.progress = false;
  auto t0 = std::chrono::steady_clock::now();
  auto report = hmm.fit(data, ctx);
  const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json out;
  out["threads"] = gf::threads();
  out["sentences"] = data.lengths.numel();
  out["tokens"] = data.x.size(0);
  out["fit_s"] = fit_s;  // six E-steps and six M-steps, plus a final scoring pass
  out["s_per_iter"] = fit_s / 6.0;  // conservative: the final scoring pass is counted in
  out["loglik_per_iter"] = report.history;  // LL(theta0) .. LL(theta5)
  std::cout << out.dump() << "\n";
  return 0;
}
