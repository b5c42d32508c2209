// Topic coherence of a topic model's top words, measured on a reference corpus (usually the training documents).
// Both count document co-occurrence: D(w) = documents containing w, D(w, v) = documents containing both.
#pragma once
#include <cstdint>
#include <vector>

namespace gf::eval {

struct Coherence {
  std::vector<double> per_topic;
  double mean = 0;
};

// UMass (Mimno et al. 2011), natural log: C(t) = sum_{i=2..N} sum_{j<i} log((D(w_i, w_j) + 1) / D(w_j)), words in
// decreasing probability. A top word that occurs in no reference document is an error (log of zero).
Coherence umass_coherence(const std::vector<std::vector<int64_t>>& top_words,
                          const std::vector<std::vector<int64_t>>& documents);

// NPMI (Bouma 2009; Lau et al. 2014) with document co-occurrence: the mean over pairs i < j of
// log(P(w_i, w_j) / (P(w_i) P(w_j))) / -log P(w_i, w_j), P = D(.) / number of documents; a pair that never
// co-occurs scores -1, a word pair that always co-occurs 1.
Coherence npmi_coherence(const std::vector<std::vector<int64_t>>& top_words,
                         const std::vector<std::vector<int64_t>>& documents);

// Words among the top words of at least `share` of the topics (with 3 topics or more): stop words the vocabulary
// kept ("the", "of"), which make topics look alike; in order of first appearance.
std::vector<int64_t> words_in_most_topics(const std::vector<std::vector<int64_t>>& top_words, double share = 0.8);

}  // namespace gf::eval
