// Clipped n-gram matching shared by sacreBLEU's and nltk's BLEU (and chrF's word n-grams): tokens are interned
// to integer ids, then each segment's n-grams (packed keys up to order 4) are counted against each reference's.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gf::eval::detail {

using Ids = std::vector<int32_t>;

class Vocabulary {
 public:
  int32_t id(std::string_view token);
  Ids ids(const std::vector<std::string>& tokens);

 private:
  // Open addressing with linear probing: interning is the serial part of corpus BLEU, and std::unordered_map's
  // node per token made it half of W10b's time.
  struct Slot {
    uint64_t hash = 0;
    int32_t id = -1;
  };
  void grow();
  std::deque<std::string> storage_;  // token text by id (a deque never moves its elements)
  std::vector<Slot> slots_ = std::vector<Slot>(1 << 12);
};

struct MatchStats {
  int64_t hyp_len = 0;
  int64_t ref_len = 0;               // the closest reference length, ties to the shorter
  std::vector<int64_t> correct;      // per order: sum over hypothesis n-grams of min(count, max over references)
  std::vector<int64_t> total;        // per order: hypothesis n-grams
};

int64_t closest_length(int64_t hyp_len, const std::vector<int64_t>& ref_lens);

MatchStats match_ngrams(const Ids& hypothesis, const std::vector<const Ids*>& references, int max_order);
// match_ngrams for every segment (references[i] = all references of hypothesis i), segments in parallel. Token
// ids only need to agree within a segment, so each segment interns its own tokens (no corpus-wide vocabulary: it
// was the serial third of corpus BLEU).
std::vector<MatchStats> match_corpus(const std::vector<const std::vector<std::string>*>& hypotheses,
                                     const std::vector<std::vector<const std::vector<std::string>*>>& references,
                                     int max_order);

// Hypotheses and reference streams (sacreBLEU's layout) agree in length and are not empty.
void check_streams(size_t n_hyp, const std::vector<std::vector<std::optional<std::string>>>& refs);

// Python's math.fsum: the correctly rounded sum.
double exact_sum(const std::vector<double>& values);

}  // namespace gf::eval::detail
