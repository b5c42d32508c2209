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
// common case, and twice as fast to shift and sort), else 32 bits per id in an unsigned __int128.
template <class Key>
void clip_sorted(const std::vector<Key>& hyp, const std::vector<std::vector<Key>>& refs, int64_t& correct) {
  correct = 0;
  size_t i = 0;
  std::vector<size_t> cursor(refs.size(), 0);
  while (i < hyp.size()) {
    size_t j = i;
    while (j < hyp.size() && hyp[j] == hyp[i]) ++j;
    const int64_t count = int64_t(j - i);
    int64_t best = 0;
    for (size_t r = 0; r < refs.size(); ++r) {
      const auto& ref = refs[r];
      size_t& c = cursor[r];
      while (c < ref.size() && ref[c] < hyp[i]) ++c;
      int64_t in_ref = 0;
      while (c < ref.size() && ref[c] == hyp[i]) ++in_ref, ++c;
      best = std::max(best, in_ref);
    }
    correct += std::min(count, best);
    i = j;
  }
}

// Keys of the n-grams of `s` built from those of order n - 1 (in place), then sorted into `sorted`.
template <class Key>
void next_order_keys(const Ids& s, int n, std::vector<Key>& keys, std::vector<Key>& sorted) {
  const size_t count = s.size() >= size_t(n) ? s.size() - size_t(n) + 1 : 0;
  if (n == 1) {
    keys.resize(s.size());
    for (size_t i = 0; i < s.size(); ++i) keys[i] = Key(uint32_t(s[i]));
  } else {
    constexpr int bits = sizeof(Key) == 8 ? 16 : 32;
    for (size_t i = 0; i < count; ++i) keys[i] = (keys[i] << bits) | Key(uint32_t(s[i + size_t(n) - 1]));
  }
  sorted.assign(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(count));
  std::sort(sorted.begin(), sorted.end());
}

template <class Key>
MatchStats match_packed(const Ids& hyp, const std::vector<const Ids*>& refs, MatchStats m, int max_order) {
  thread_local std::vector<Key> hyp_keys, hyp_sorted;
  thread_local std::vector<std::vector<Key>> ref_keys, ref_sorted;
  ref_keys.resize(refs.size());
  ref_sorted.resize(refs.size());
  for (int n = 1; n <= max_order; ++n) {
    next_order_keys(hyp, n, hyp_keys, hyp_sorted);
    for (size_t r = 0; r < refs.size(); ++r) next_order_keys(*refs[r], n, ref_keys[r], ref_sorted[r]);
    m.total[size_t(n - 1)] = int64_t(hyp_sorted.size());
    clip_sorted(hyp_sorted, ref_sorted, m.correct[size_t(n - 1)]);
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

std::vector<MatchStats> match_corpus(const std::vector<Ids>& hyps, const std::vector<std::vector<Ids>>& refs,
                                     int max_order) {
  std::vector<MatchStats> stats(hyps.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < int64_t(hyps.size()); ++i) {
    std::vector<const Ids*> ptrs;
    for (const auto& r : refs[size_t(i)]) ptrs.push_back(&r);
    stats[size_t(i)] = match_ngrams(hyps[size_t(i)], ptrs, max_order);
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
