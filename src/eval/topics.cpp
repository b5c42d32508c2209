#include "genforge/eval/topics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "genforge/core/error.h"

namespace gf::eval {
namespace {

// For every word of the topics: the sorted ids of the reference documents containing it.
std::unordered_map<int64_t, std::vector<int64_t>> postings(const std::vector<std::vector<int64_t>>& top_words,
                                                           const std::vector<std::vector<int64_t>>& documents) {
  std::unordered_map<int64_t, std::vector<int64_t>> out;
  for (const auto& t : top_words) {
    for (int64_t w : t) out[w];
  }
  for (size_t d = 0; d < documents.size(); ++d) {
    std::unordered_set<int64_t> seen;
    for (int64_t w : documents[d]) {
      auto it = out.find(w);
      if (it != out.end() && seen.insert(w).second) it->second.push_back(static_cast<int64_t>(d));
    }
  }
  return out;
}

int64_t both(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  int64_t n = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++n, ++i, ++j;
    }
  }
  return n;
}

template <class PairScore>
Coherence coherence(const std::vector<std::vector<int64_t>>& top_words,
                    const std::vector<std::vector<int64_t>>& documents, bool mean_over_pairs, PairScore score) {
  GF_CHECK(!top_words.empty(), "coherence needs at least one topic");
  GF_CHECK_AS(DataError, !documents.empty(), "give the reference documents (usually the training corpus)",
              "coherence needs reference documents");
  const auto post = postings(top_words, documents);
  Coherence c;
  for (const auto& t : top_words) {
    double s = 0;
    int64_t pairs = 0;
    for (size_t i = 1; i < t.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        const auto& pi = post.at(t[i]);
        const auto& pj = post.at(t[j]);
        s += score(static_cast<double>(pi.size()), static_cast<double>(pj.size()),
                   static_cast<double>(both(pi, pj)), t[j]);
        ++pairs;
      }
    }
    c.per_topic.push_back(mean_over_pairs && pairs ? s / static_cast<double>(pairs) : s);
  }
  for (double v : c.per_topic) c.mean += v / static_cast<double>(c.per_topic.size());
  return c;
}

}  // namespace

Coherence umass_coherence(const std::vector<std::vector<int64_t>>& top_words,
                          const std::vector<std::vector<int64_t>>& documents) {
  return coherence(top_words, documents, false, [](double, double dj, double dij, int64_t wj) {
    GF_CHECK_AS(DataError, dj > 0, "measure coherence on the documents the model was trained on", "top word ", wj,
                " occurs in no reference document, so its UMass term is undefined");
    return std::log((dij + 1.0) / dj);
  });
}

Coherence npmi_coherence(const std::vector<std::vector<int64_t>>& top_words,
                         const std::vector<std::vector<int64_t>>& documents) {
  const double n = static_cast<double>(documents.size());
  return coherence(top_words, documents, true, [n](double di, double dj, double dij, int64_t) {
    if (dij == 0) return -1.0;
    const double pij = dij / n;
    if (pij >= 1.0) return 1.0;
    return std::log(pij / ((di / n) * (dj / n))) / -std::log(pij);
  });
}

std::vector<int64_t> words_in_most_topics(const std::vector<std::vector<int64_t>>& top_words, double share) {
  std::vector<int64_t> out;
  if (top_words.size() < 3) return out;
  std::map<int64_t, size_t> topics_with;
  for (const auto& topic : top_words) {
    for (int64_t w : std::set<int64_t>(topic.begin(), topic.end())) ++topics_with[w];
  }
  for (const auto& topic : top_words) {
    for (int64_t w : topic) {
      const bool most = static_cast<double>(topics_with[w]) >= share * static_cast<double>(top_words.size());
      if (most && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
    }
  }
  return out;
}

}  // namespace gf::eval
