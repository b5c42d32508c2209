// W2a (../shared/WORKLOADS.md): HMM POS tagger on Brown, coarse tags; train on categories a-m, test on n-r (the
// split of bench-data/brown_hmm_*). Timed: tagging the whole test split (the peer times its Viterbi the same
// way); training is reported but not compared. With BENCH_DATA_DIR it also trains the peer's plain model (Laplace
// HMM over the 5000-word vocabulary + <unk>, bench-data/brown_hmm_*) as a supervised genforge HiddenMarkovModel
// and reports its Viterbi accuracy, which must equal the peer's.
// Usage: gf_bench_w2a_tagger BROWN_DIR THREADS [BENCH_DATA_DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "genforge/core/runtime.h"
#include "genforge/data/dataset.h"
#include "genforge/data/text.h"
#include "genforge/models/hmm.h"
#include "genforge/models/pos_tagger.h"

namespace {

// The peer's model and accuracy, through genforge's HMM (supervised, pseudocount 1 = its Laplace estimates).
nlohmann::json plain_hmm(const std::string& dir) {
  // One line per sentence of integer ids (the peer's files).
  gf::Dataset d = gf::id_sequences(gf::read_id_lines(dir + "/brown_hmm_train_words.txt"));
  d.labels = gf::id_sequences(gf::read_id_lines(dir + "/brown_hmm_train_tags.txt")).x.reshape({-1}).to(torch::kLong);
  const gf::Dataset test = gf::id_sequences(gf::read_id_lines(dir + "/brown_hmm_test_words.txt"));
  const auto gold = gf::id_sequences(gf::read_id_lines(dir + "/brown_hmm_test_tags.txt")).x.reshape({-1}).to(torch::kLong);
  gf::HmmOptions o;
  o.n_components = 105;
  o.emission = "categorical";
  o.n_features = 5001;
  o.pseudocount = 1;
  gf::HiddenMarkovModel hmm(o);
  gf::FitContext ctx;
  ctx.progress = false;
  hmm.fit(d, ctx);
  auto t0 = std::chrono::steady_clock::now();
  auto path = hmm.viterbi(test.x, test.lengths);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {{"accuracy", path.eq(gold).to(torch::kFloat64).mean().item<double>()}, {"tag_s", s}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s BROWN_DIR THREADS [BENCH_DATA_DIR]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[2]));
  const auto train = gf::brown_sentences(gf::read_brown(argv[1], "a-m"));
  const auto test = gf::brown_sentences(gf::read_brown(argv[1], "n-r"));
  auto t0 = std::chrono::steady_clock::now();
  const auto tagger = gf::PosTagger::train(train);
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<std::vector<std::string>> words;
  for (const auto& s : test) words.push_back(s.words);
  // Best of three: the tagging pass is short, so one run is noisy.
  double tag_s = 1e300;
  for (int rep = 0; rep < 3; ++rep) {
    t0 = std::chrono::steady_clock::now();
    auto predicted = tagger.tag(words);
    tag_s = std::min(tag_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const auto acc = tagger.evaluate(test);
  nlohmann::json out = {{"threads", gf::threads()},
                        {"train_sentences", train.size()},
                        {"test_sentences", test.size()},
                        {"test_tokens", acc.tokens},
                        {"tags", tagger.tags().size()},
                        {"lexicon", tagger.lexicon_size()},
                        {"train_s", train_s},
                        {"tag_s", tag_s},
                        {"tokens_per_s", static_cast<double>(acc.tokens) / tag_s},
                        {"accuracy", acc.accuracy()},
                        {"accuracy_known", acc.known_accuracy()},
                        {"accuracy_unknown", acc.unknown_accuracy()},
                        {"unknown_rate", static_cast<double>(acc.unknown_tokens) / static_cast<double>(acc.tokens)}};
  if (argc == 4) out["plain_hmm_on_bench_data"] = plain_hmm(argv[3]);
  std::cout << out.dump() << "\n";
  return 0;
}
