// W10b (../shared/WORKLOADS.md): nltk corpus_bleu on 5000 Brown pairs (bench-data/brown_bleu_{hyps,refs}.txt),
// one reference each, default weights, no smoothing. Tokens = each line split on single spaces, as the peer.
// Timed as the peer: the corpus BLEU call on token lists (best of REPS, and the first).
// Usage: gf_bench_w10b_bleu HYPS REFS [REPS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "genforge/core/runtime.h"
#include "genforge/eval/text.h"

namespace {
std::vector<gf::eval::Tokens> read_lines(const char* path) {
  std::ifstream in(path);
  std::vector<gf::eval::Tokens> out;
  std::string line;
  while (std::getline(in, line)) {
    gf::eval::Tokens t;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i)
      if (i == line.size() || line[i] == ' ') t.push_back(line.substr(start, i - start)), start = i + 1;
    out.push_back(std::move(t));
  }
  return out;
}
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s HYPS REFS [REPS]\n", argv[0]);
    return 2;
  }
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  auto hyps = read_lines(argv[1]);
  auto refs = read_lines(argv[2]);
  std::vector<std::vector<gf::eval::Tokens>> list_of_references;
  for (auto& r : refs) list_of_references.push_back({r});
  double first = 0, best = 1e30, score = 0;
  for (int i = 0; i < reps; ++i) {
    const double t = now();
    score = gf::eval::nltk_corpus_bleu(list_of_references, hyps);
    const double s = now() - t;
    if (i == 0) first = s;
    best = std::min(best, s);
  }
  nlohmann::json out = {{"workload", "W10b"}, {"threads", gf::threads()}, {"pairs", hyps.size()},
                        {"bleu", score},      {"first_s", first},         {"best_s", best},
                        {"reps", reps}};
  std::cout << std::setprecision(17) << out.dump() << std::endl;
  return 0;
}
