#include "gibbs.h"

#include <cmath>

namespace gf::lda {
namespace {

// xoshiro256** seeded by SplitMix64: a fast, well-tested generator for the tens of millions of draws of a run.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9E3779B97F4A7C15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      s = z ^ (z >> 31);
    }
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t out = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return out;
  }
  uint64_t s_[4];
};

// Topics with a nonzero count, kept as an unordered list with positions for O(1) insertion and removal.
struct NonZero {
  std::vector<int32_t> topics, where;  // where[k] = index in topics, or -1
  explicit NonZero(int64_t k = 0) : where(static_cast<size_t>(k), -1) {}
  void add(int32_t t) {
    if (where[static_cast<size_t>(t)] >= 0) return;
    where[static_cast<size_t>(t)] = static_cast<int32_t>(topics.size());
    topics.push_back(t);
  }
  void remove(int32_t t) {
    const int32_t i = where[static_cast<size_t>(t)];
    const int32_t last = topics.back();
    topics[static_cast<size_t>(i)] = last;
    where[static_cast<size_t>(last)] = i;
    topics.pop_back();
    where[static_cast<size_t>(t)] = -1;
  }
};

}  // namespace

GibbsResult collapsed_gibbs(const std::vector<int64_t>& tokens, const std::vector<int64_t>& offsets, int64_t k,
                            int64_t v, double alpha, double eta, int64_t sweeps, uint64_t seed,
                            const std::function<void(int64_t, double)>& on_sweep) {
  Rng rng(seed);
  const int64_t n = static_cast<int64_t>(tokens.size()), d_count = static_cast<int64_t>(offsets.size()) - 1;
  const double v_eta = static_cast<double>(v) * eta;
  std::vector<int32_t> z(static_cast<size_t>(n));
  std::vector<int32_t> nkw(static_cast<size_t>(v * k), 0), nk(static_cast<size_t>(k), 0);
  std::vector<int32_t> ndk(static_cast<size_t>(k), 0);
  std::vector<NonZero> word_topics(static_cast<size_t>(v), NonZero(k));
  for (int64_t i = 0; i < n; ++i) {  // random start
    const auto t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(k)));
    z[static_cast<size_t>(i)] = t;
    nkw[static_cast<size_t>(tokens[static_cast<size_t>(i)] * k + t)] += 1;
    nk[static_cast<size_t>(t)] += 1;
    word_topics[static_cast<size_t>(tokens[static_cast<size_t>(i)])].add(t);
  }
  std::vector<double> coef(static_cast<size_t>(k)), denom(static_cast<size_t>(k));
  NonZero doc_topics(k);
  GibbsResult out;
  for (int64_t sweep = 0; sweep < sweeps; ++sweep) {
    // s bucket: sum_k alpha eta / (V eta + n_k), kept up to date as n_k changes.
    double s = 0;
    for (int64_t t = 0; t < k; ++t) {
      denom[static_cast<size_t>(t)] = 1.0 / (v_eta + nk[static_cast<size_t>(t)]);
      s += alpha * eta * denom[static_cast<size_t>(t)];
    }
    for (int64_t d = 0; d < d_count; ++d) {
      const int64_t first = offsets[static_cast<size_t>(d)], last = offsets[static_cast<size_t>(d) + 1];
      std::fill(ndk.begin(), ndk.end(), 0);
      for (int32_t t : doc_topics.topics) doc_topics.where[static_cast<size_t>(t)] = -1;
      doc_topics.topics.clear();
      for (int64_t i = first; i < last; ++i) {
        const int32_t t = z[static_cast<size_t>(i)];
        ndk[static_cast<size_t>(t)] += 1;
        doc_topics.add(t);
      }
      // r bucket and the per-topic coefficients (alpha + n_dk) / (V eta + n_k) of the q bucket.
      double r = 0;
      for (int64_t t = 0; t < k; ++t) coef[static_cast<size_t>(t)] = alpha * denom[static_cast<size_t>(t)];
      for (int32_t t : doc_topics.topics) {
        r += ndk[static_cast<size_t>(t)] * eta * denom[static_cast<size_t>(t)];
        coef[static_cast<size_t>(t)] = (alpha + ndk[static_cast<size_t>(t)]) * denom[static_cast<size_t>(t)];
      }
      // Moves token i's count for topic t by delta, keeping s, r, coef and the nonzero lists in step.
      auto move = [&](int64_t w, int32_t t, int delta) {
        const auto ut = static_cast<size_t>(t);
        s -= alpha * eta * denom[ut];
        r -= ndk[ut] * eta * denom[ut];
        nk[ut] += delta;
        ndk[ut] += delta;
        int32_t& c = nkw[static_cast<size_t>(w * k + t)];
        c += delta;
        if (c == 0) word_topics[static_cast<size_t>(w)].remove(t);
        if (c == 1 && delta > 0) word_topics[static_cast<size_t>(w)].add(t);
        if (ndk[ut] == 0) doc_topics.remove(t);
        if (ndk[ut] == 1 && delta > 0) doc_topics.add(t);
        denom[ut] = 1.0 / (v_eta + nk[ut]);
        s += alpha * eta * denom[ut];
        r += ndk[ut] * eta * denom[ut];
        coef[ut] = (alpha + ndk[ut]) * denom[ut];
      };
      for (int64_t i = first; i < last; ++i) {
        const int64_t w = tokens[static_cast<size_t>(i)];
        move(w, z[static_cast<size_t>(i)], -1);
        // q bucket: topics where the word has counts.
        double q = 0;
        const auto& wt = word_topics[static_cast<size_t>(w)].topics;
        for (int32_t t : wt) q += coef[static_cast<size_t>(t)] * nkw[static_cast<size_t>(w * k + t)];
        double u = rng.uniform() * (s + r + q);
        int32_t chosen = -1;
        if (u < q) {
          for (int32_t t : wt) {
            u -= coef[static_cast<size_t>(t)] * nkw[static_cast<size_t>(w * k + t)];
            if (u <= 0) {
              chosen = t;
              break;
            }
          }
          if (chosen < 0) chosen = wt.back();
        } else if ((u -= q) < r) {
          const auto& dt = doc_topics.topics;
          for (int32_t t : dt) {
            u -= ndk[static_cast<size_t>(t)] * eta * denom[static_cast<size_t>(t)];
            if (u <= 0) {
              chosen = t;
              break;
            }
          }
          if (chosen < 0) chosen = dt.back();
        } else {
          u -= r;
          for (int64_t t = 0; t < k; ++t) {
            u -= alpha * eta * denom[static_cast<size_t>(t)];
            if (u <= 0) {
              chosen = static_cast<int32_t>(t);
              break;
            }
          }
          if (chosen < 0) chosen = static_cast<int32_t>(k - 1);
        }
        z[static_cast<size_t>(i)] = chosen;
        move(w, chosen, +1);
      }
    }
    // log p(w | z) = sum_k [lgamma(V eta) - lgamma(V eta + n_k) + sum_w (lgamma(eta + n_kw) - lgamma(eta))].
    double ll = 0;
    for (int64_t t = 0; t < k; ++t) ll += std::lgamma(v_eta) - std::lgamma(v_eta + nk[static_cast<size_t>(t)]);
    for (int64_t w = 0; w < v; ++w) {
      for (int32_t t : word_topics[static_cast<size_t>(w)].topics) {
        ll += std::lgamma(eta + nkw[static_cast<size_t>(w * k + t)]) - std::lgamma(eta);
      }
    }
    out.log_likelihood.push_back(ll);
    if (on_sweep) on_sweep(sweep, ll);
  }
  out.topic_word = at::empty({k, v}, at::kDouble);
  auto a = out.topic_word.accessor<double, 2>();
  for (int64_t t = 0; t < k; ++t) {
    for (int64_t w = 0; w < v; ++w) a[t][w] = nkw[static_cast<size_t>(w * k + t)];
  }
  return out;
}

}  // namespace gf::lda
