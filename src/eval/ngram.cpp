#include "eval/ngram.h"

#include <algorithm>
#include <cmath>

#include "genforge/core/error.h"

namespace gf::eval::detail {

namespace {
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h ^ (h >> 29);
}
}  // namespace

void Vocabulary::grow() {
  std::vector<Slot> bigger(slots_.size() * 2);
  const size_t mask = bigger.size() - 1;
  for (const Slot& s : slots_) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask;
    while (bigger[i].id >= 0) i = (i + 1) & mask;
    bigger[i] = s;
  }
  slots_.swap(bigger);
}

int32_t Vocabulary::id(std::string_view token) {
  const uint64_t h = fnv1a(token);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].id >= 0) {
    if (slots_[i].hash == h && storage_[size_t(slots_[i].id)] == token) return slots_[i].id;
    i = (i + 1) & mask;
  }
  const auto next = static_cast<int32_t>(storage_.size());
  storage_.emplace_back(token);
  slots_[i] = {h, next};
  if (storage_.size() * 2 > slots_.size()) grow();
  return next;
}

Ids Vocabulary::ids(const std::vector<std::string>& tokens) {
  Ids out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(id(t));
  return out;
}

int64_t closest_length(int64_t hyp_len, const std::vector<int64_t>& ref_lens) {
  int64_t best = -1, best_diff = -1;
  for (int64_t r : ref_lens) {
    const int64_t diff = std::llabs(hyp_len - r);
    if (best_diff < 0 || diff < best_diff || (diff == best_diff && r < best)) best = r, best_diff = diff;
  }
  return best < 0 ? 0 : best;
}

namespace {

// Start positions of the n-grams of `s`, sorted by their token sequence.
void sorted_ngrams(const Ids& s, int n, std::vector<int32_t>& out) {
  out.clear();
  for (int32_t i = 0; i + n <= static_cast<int32_t>(s.size()); ++i) out.push_back(i);
  const int32_t* p = s.data();
  std::sort(out.begin(), out.end(), [p, n](int32_t a, int32_t b) {
    return std::lexicographical_compare(p + a, p + a + n, p + b, p + b + n);
  });
}

int compare(const int32_t* a, const int32_t* b, int n) {
  for (int k = 0; k < n; ++k)
    if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

}  // namespace

namespace {

// Up to four token ids packed into one integer key, exactly: 16 bits per id in a uint64_t when the ids fit (the
// common case), else 32 bits per id in an unsigned __int128. Keys of order n are built from those of order n - 1.
template <class Key>
void next_order_keys(const Ids& s, int n, std::vector<Key>& keys) {
  if (n == 1) {
    keys.resize(s.size());
    for (size_t i = 0; i < s.size(); ++i) keys[i] = Key(uint32_t(s[i]));
    return;
  }
  constexpr int bits = sizeof(Key) == 8 ? 16 : 32;
  const size_t count = s.size() >= size_t(n) ? s.size() - size_t(n) + 1 : 0;
  for (size_t i = 0; i < count; ++i) keys[i] = (keys[i] << bits) | Key(uint32_t(s[i + size_t(n) - 1]));
}

inline uint64_t mix(uint64_t k) { return k * 0x9E3779B97F4A7C15ULL; }
inline uint64_t mix(unsigned __int128 k) { return mix(uint64_t(k) ^ mix(uint64_t(k >> 64))); }

// Clipped n-gram matches by an open-addressing table of the hypothesis's n-grams (a sentence has a few dozen, so
// the table stays in L1): each slot counts the n-gram in the hypothesis and its largest count in any reference;
// clipped matches = sum of min(hypothesis count, reference count). Reused across calls; only used slots are reset.
template <class Key>
class ClipTable {
 public:
  int64_t clipped(const std::vector<Key>& hyp, size_t n_hyp, const std::vector<std::vector<Key>>& refs,
                  const std::vector<size_t>& n_refs) {
    size_t cap = 16;
    while (cap < 2 * n_hyp) cap *= 2;
    if (keys_.size() < cap) {
      keys_.resize(cap);
      hyp_.assign(cap, 0);
      best_.assign(cap, 0);
      now_.assign(cap, 0);
    }
    const int shift = 64 - __builtin_ctzll(cap);
    const size_t mask = cap - 1;
    for (size_t i = 0; i < n_hyp; ++i) {
      size_t slot = size_t(mix(hyp[i]) >> shift);
      while (hyp_[slot] != 0 && keys_[slot] != hyp[i]) slot = (slot + 1) & mask;
      if (hyp_[slot] == 0) keys_[slot] = hyp[i], used_.push_back(slot);
      ++hyp_[slot];
    }
    for (size_t r = 0; r < refs.size(); ++r) {
      for (size_t i = 0; i < n_refs[r]; ++i) {
        const Key k = refs[r][i];
        size_t slot = size_t(mix(k) >> shift);
        while (hyp_[slot] != 0 && keys_[slot] != k) slot = (slot + 1) & mask;
        if (hyp_[slot] != 0 && now_[slot]++ == 0) touched_.push_back(slot);
      }
      for (size_t slot : touched_) best_[slot] = std::max(best_[slot], now_[slot]), now_[slot] = 0;
      touched_.clear();
    }
    int64_t clipped = 0;
    for (size_t slot : used_) {
      clipped += std::min(hyp_[slot], best_[slot]);
      hyp_[slot] = best_[slot] = 0;
    }
    used_.clear();
    return clipped;
  }

 private:
  std::vector<Key> keys_;
  std::vector<int32_t> hyp_, best_, now_;
  std::vector<size_t> used_, touched_;
};

template <class Key>
MatchStats match_packed(const Ids& hyp, const std::vector<const Ids*>& refs, MatchStats m, int max_order) {
  thread_local std::vector<Key> hyp_keys;
  thread_local std::vector<std::vector<Key>> ref_keys;
  thread_local std::vector<size_t> ref_counts;
  thread_local ClipTable<Key> table;
  ref_keys.resize(refs.size());
  ref_counts.resize(refs.size());
  auto count_of = [](const Ids& s, int n) { return s.size() >= size_t(n) ? s.size() - size_t(n) + 1 : size_t(0); };
  for (int n = 1; n <= max_order; ++n) {
    next_order_keys(hyp, n, hyp_keys);
    for (size_t r = 0; r < refs.size(); ++r) {
      next_order_keys(*refs[r], n, ref_keys[r]);
      ref_counts[r] = count_of(*refs[r], n);
    }
    const size_t n_hyp = count_of(hyp, n);
    m.total[size_t(n - 1)] = int64_t(n_hyp);
    m.correct[size_t(n - 1)] = table.clipped(hyp_keys, n_hyp, ref_keys, ref_counts);
  }
  return m;
}

}  // namespace

MatchStats match_ngrams(const Ids& hyp, const std::vector<const Ids*>& refs, int max_order) {
  MatchStats m;
  m.hyp_len = static_cast<int64_t>(hyp.size());
  std::vector<int64_t> ref_lens;
  for (const Ids* r : refs) ref_lens.push_back(static_cast<int64_t>(r->size()));
  m.ref_len = closest_length(m.hyp_len, ref_lens);
  m.correct.assign(size_t(max_order), 0);
  m.total.assign(size_t(max_order), 0);
  if (max_order <= 4) {
    int32_t largest = 0;
    for (int32_t t : hyp) largest = std::max(largest, t);
    for (const Ids* r : refs)
      for (int32_t t : *r) largest = std::max(largest, t);
    if (largest < (1 << 16)) return match_packed<uint64_t>(hyp, refs, std::move(m), max_order);
    return match_packed<unsigned __int128>(hyp, refs, std::move(m), max_order);
  }
  // Longer n-grams: sort start positions by their token sequence.
  std::vector<int32_t> hpos, rpos;
  std::vector<int64_t> distinct_start, distinct_count, best;
  for (int n = 1; n <= max_order; ++n) {
    sorted_ngrams(hyp, n, hpos);
    m.total[size_t(n - 1)] = static_cast<int64_t>(hpos.size());
    if (hpos.empty()) continue;
    distinct_start.clear();
    distinct_count.clear();
    for (size_t i = 0; i < hpos.size(); ++i) {
      if (i > 0 && compare(hyp.data() + hpos[i], hyp.data() + hpos[i - 1], n) == 0) {
        ++distinct_count.back();
      } else {
        distinct_start.push_back(hpos[i]);
        distinct_count.push_back(1);
      }
    }
    best.assign(distinct_start.size(), 0);
    for (const Ids* r : refs) {
      sorted_ngrams(*r, n, rpos);
      size_t j = 0;
      for (size_t d = 0; d < distinct_start.size() && j < rpos.size(); ++d) {
        const int32_t* h = hyp.data() + distinct_start[d];
        while (j < rpos.size() && compare(r->data() + rpos[j], h, n) < 0) ++j;
        int64_t c = 0;
        while (j < rpos.size() && compare(r->data() + rpos[j], h, n) == 0) ++c, ++j;
        best[d] = std::max(best[d], c);
      }
    }
    int64_t clipped = 0;
    for (size_t d = 0; d < best.size(); ++d) clipped += std::min(best[d], distinct_count[d]);
    m.correct[size_t(n - 1)] = clipped;
  }
  return m;
}

namespace {

// Ids for the tokens of one segment: views of the caller's strings in a small open-addressing table, reset per
// segment (only the used slots).
class SegmentVocabulary {
 public:
  void ids(const std::vector<std::string>& tokens, Ids& out) {
    out.clear();
    for (const auto& t : tokens) out.push_back(id(t));
  }
  void clear() {
    for (size_t slot : used_) slots_[slot] = -1;
    used_.clear();
    words_.clear();
  }

 private:
  int32_t id(std::string_view token) {
    if (2 * (words_.size() + 1) > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    size_t slot = size_t(fnv1a(token)) & mask;
    while (slots_[slot] >= 0) {
      if (words_[size_t(slots_[slot])] == token) return slots_[slot];
      slot = (slot + 1) & mask;
    }
    slots_[slot] = int32_t(words_.size());
    used_.push_back(slot);
    words_.push_back(token);
    return slots_[slot];
  }
  void grow() {
    slots_.assign(std::max<size_t>(64, slots_.size() * 2), -1);
    used_.clear();
    const size_t mask = slots_.size() - 1;
    for (size_t w = 0; w < words_.size(); ++w) {
      size_t slot = size_t(fnv1a(words_[w])) & mask;
      while (slots_[slot] >= 0) slot = (slot + 1) & mask;
      slots_[slot] = int32_t(w);
      used_.push_back(slot);
    }
  }
  std::vector<int32_t> slots_;
  std::vector<size_t> used_;
  std::vector<std::string_view> words_;
};

}  // namespace

std::vector<MatchStats> match_corpus(const std::vector<const std::vector<std::string>*>& hyps,
                                     const std::vector<std::vector<const std::vector<std::string>*>>& refs,
                                     int max_order) {
  std::vector<MatchStats> stats(hyps.size());
#pragma omp parallel
  {
    SegmentVocabulary vocab;
    Ids hyp;
    std::vector<Ids> ref_ids;
    std::vector<const Ids*> ptrs;
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < int64_t(hyps.size()); ++i) {
      vocab.clear();
      vocab.ids(*hyps[size_t(i)], hyp);
      const auto& mine = refs[size_t(i)];
      ref_ids.resize(mine.size());
      ptrs.clear();
      for (size_t r = 0; r < mine.size(); ++r) {
        vocab.ids(*mine[r], ref_ids[r]);
        ptrs.push_back(&ref_ids[r]);
      }
      stats[size_t(i)] = match_ngrams(hyp, ptrs, max_order);
    }
  }
  return stats;
}

void check_streams(size_t n_hyp, const std::vector<std::vector<std::optional<std::string>>>& refs) {
  GF_CHECK_AS(InvalidArgument, n_hyp > 0, "give at least one hypothesis line", "there are no hypotheses");
  GF_CHECK_AS(InvalidArgument, !refs.empty(), "give at least one reference file", "there are no references");
  for (size_t k = 0; k < refs.size(); ++k)
    GF_CHECK_AS(InvalidArgument, refs[k].size() == n_hyp, "every reference file needs one line per hypothesis",
                "reference stream ", k + 1, " has ", refs[k].size(), " segments but there are ", n_hyp,
                " hypotheses");
}

double exact_sum(const std::vector<double>& values) {
  // Shewchuk's algorithm as CPython's math.fsum: non-overlapping partials, then a correctly rounded total.
  std::vector<double> partials;
  for (double x : values) {
    size_t i = 0;
    for (double y : partials) {
      if (std::fabs(x) < std::fabs(y)) std::swap(x, y);
      const double hi = x + y;
      const double lo = y - (hi - x);
      if (lo != 0.0) partials[i++] = lo;
      x = hi;
    }
    partials.resize(i);
    partials.push_back(x);
  }
  if (partials.empty()) return 0.0;
  size_t n = partials.size();
  double hi = partials[--n], lo = 0;
  while (n > 0) {
    const double x = hi, y = partials[--n];
    hi = x + y;
    const double yr = hi - x;
    lo = y - yr;
    if (lo != 0.0) break;
  }
  if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
    const double y = lo * 2, x = hi + y, yr = x - hi;
    if (y == yr) hi = x;
  }
  return hi;
}

}  // namespace gf::eval::detail
