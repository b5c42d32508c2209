// The arithmetic coder of `genforge compress` (internal to src/apps/compress/): a 32-bit binary arithmetic coder
// (Witten, Neal & Cleary 1987, in the form of Nayuki's reference coder). The interval [low, high] of 32-bit
// integers narrows to each symbol's share [cum_lo, cum_hi) of a total; settled top bits go out, and an interval
// straddling the middle is widened with pending (underflow) bits. Frequencies are integers, so both sides narrow
// the interval identically; the models' floating-point probabilities are quantised once, by quantise(), with every
// symbol keeping a frequency of at least 1 (any symbol stays codable, whatever the model says).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gf::coding {

constexpr uint64_t kStateMask = 0xFFFFFFFFull;
constexpr uint64_t kHalf = 0x80000000ull;
constexpr uint64_t kQuarter = 0x40000000ull;
// Frequencies sum to at most this (the interval never falls below a quarter of the state range, 2^30, so every
// symbol's share stays non-empty).
constexpr uint64_t kMaxTotal = 1ull << 24;

// Cumulative frequencies: cum[s] .. cum[s + 1] is symbol s's share; cum.back() the total.
struct Frequencies {
  std::vector<uint32_t> cum;  // [V + 1]
  uint64_t total() const { return cum.back(); }
  int64_t size() const { return static_cast<int64_t>(cum.size()) - 1; }
  int64_t symbol_at(uint64_t target) const;  // the s with cum[s] <= target < cum[s + 1]
  // Set by quantise_scores: -log2 of a symbol's exact model probability from its score (what an ideal coder would
  // spend: the model's own cross-entropy), without a second pass over the scores.
  double ideal_bits(double score) const;
  double top = 0, log_sum = 0;  // the largest finite score; log sum_s exp(score_s - top) (NaN: uniform)
};

// Integer frequencies for scores whose softmax is the distribution (logits or log-probabilities; -inf allowed):
// f_s = 1 + floor(p_s * (kMaxTotal - 2 V)), in one fixed order of double arithmetic, so the same scores give the
// same frequencies on every run. Non-finite scores other than -inf are treated as -inf; all -inf is the uniform
// distribution.
void quantise_scores(const float* scores, int64_t v, Frequencies& out);
void quantise_scores(const double* scores, int64_t v, Frequencies& out);
// The same for probabilities (non-negative, any positive sum).
void quantise_probabilities(const double* p, int64_t v, Frequencies& out);

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  void encode(const Frequencies& f, int64_t symbol);
  void finish();  // writes the final bits; the output is complete afterwards

 private:
  void put_bit(int bit);
  std::string& out_;
  uint64_t low_ = 0, high_ = kStateMask;
  uint64_t pending_ = 0;
  int byte_ = 0, n_bits_ = 0;
};

class Decoder {
 public:
  // Reads [data, data + size); past the end it reads zero bits (a damaged stream decodes to some symbols, never
  // out of bounds; the CRC-32 of the result then tells).
  Decoder(const uint8_t* data, size_t size);
  int64_t decode(const Frequencies& f);

 private:
  int get_bit();
  const uint8_t* data_;
  size_t size_, pos_ = 0;
  int bit_ = 8;
  uint64_t low_ = 0, high_ = kStateMask, code_ = 0;
};

}  // namespace gf::coding
