#include "arithmetic_coder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "genforge/core/error.h"

namespace gf::coding {

int64_t Frequencies::symbol_at(uint64_t target) const {
  // The last s with cum[s] <= target.
  auto it = std::upper_bound(cum.begin(), cum.end(), static_cast<uint32_t>(target));
  return std::clamp<int64_t>(static_cast<int64_t>(it - cum.begin()) - 1, 0, size() - 1);
}

void quantise_probabilities(const double* p, int64_t v, Frequencies& out) {
  GF_CHECK_AS(InternalError, v >= 1 && static_cast<uint64_t>(2 * v) < kMaxTotal, "", "alphabet of ", v, " symbols");
  double sum = 0;
  for (int64_t s = 0; s < v; ++s) sum += (p[s] > 0 && std::isfinite(p[s])) ? p[s] : 0.0;
  out.cum.resize(static_cast<size_t>(v + 1));
  out.cum[0] = 0;
  // 2 V of the total stay unassigned: V for the floor of 1, V as slack for the rounding of the sum.
  const double budget = static_cast<double>(kMaxTotal - 2 * static_cast<uint64_t>(v));
  const double scale = sum > 0 ? budget / sum : 0.0;
  uint64_t cum = 0;
  for (int64_t s = 0; s < v; ++s) {
    const double ps = (p[s] > 0 && std::isfinite(p[s])) ? p[s] : 0.0;
    const double f = std::min(std::floor(ps * scale), budget);
    cum += 1 + static_cast<uint64_t>(f);
    out.cum[static_cast<size_t>(s + 1)] = static_cast<uint32_t>(std::min(cum, kMaxTotal));
  }
}

namespace {

template <typename T>
void quantise_scores_impl(const T* scores, int64_t v, Frequencies& out) {
  thread_local std::vector<double> p;
  p.resize(static_cast<size_t>(v));
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t s = 0; s < v; ++s) {
    if (std::isfinite(scores[s])) top = std::max(top, static_cast<double>(scores[s]));
  }
  double sum = 0;
  for (int64_t s = 0; s < v; ++s) {
    const double e = std::isfinite(scores[s]) ? std::exp(static_cast<double>(scores[s]) - top) : 0.0;
    p[static_cast<size_t>(s)] = e;
    sum += e;
  }
  quantise_probabilities(p.data(), v, out);
  out.top = std::isfinite(top) ? top : 0.0;
  out.log_sum = std::isfinite(top) ? std::log(sum) : std::nan("");
}

}  // namespace

double Frequencies::ideal_bits(double score) const {
  if (std::isnan(log_sum)) return std::log2(static_cast<double>(size()));  // all scores -inf: uniform
  if (!std::isfinite(score)) return std::numeric_limits<double>::infinity();
  return (log_sum - (score - top)) / std::log(2.0);
}

void quantise_scores(const float* scores, int64_t v, Frequencies& out) { quantise_scores_impl(scores, v, out); }
void quantise_scores(const double* scores, int64_t v, Frequencies& out) { quantise_scores_impl(scores, v, out); }

void Encoder::put_bit(int bit) {
  byte_ = (byte_ << 1) | bit;
  if (++n_bits_ == 8) {
    out_.push_back(static_cast<char>(byte_));
    byte_ = 0;
    n_bits_ = 0;
  }
}

void Encoder::encode(const Frequencies& f, int64_t symbol) {
  const uint64_t range = high_ - low_ + 1, total = f.total();
  const uint64_t lo = f.cum[static_cast<size_t>(symbol)], hi = f.cum[static_cast<size_t>(symbol + 1)];
  high_ = low_ + hi * range / total - 1;
  low_ = low_ + lo * range / total;
  while (((low_ ^ high_) & kHalf) == 0) {  // the top bit is settled
    const int bit = static_cast<int>(low_ >> 31);
    put_bit(bit);
    for (; pending_ > 0; --pending_) put_bit(bit ^ 1);
    low_ = (low_ << 1) & kStateMask;
    high_ = ((high_ << 1) & kStateMask) | 1;
  }
  while ((low_ & ~high_ & kQuarter) != 0) {  // low = 01..., high = 10...: widen around the middle
    ++pending_;
    low_ = (low_ << 1) ^ kHalf;
    high_ = ((high_ ^ kHalf) << 1) | kHalf | 1;
  }
}

void Encoder::finish() {
  // One more bit (and the pending ones) selects a point inside [low, high]; the decoder reads zeros after it.
  put_bit(1);
  while (n_bits_ != 0) put_bit(0);
}

Decoder::Decoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
  for (int i = 0; i < 32; ++i) code_ = (code_ << 1) | static_cast<uint64_t>(get_bit());
}

int Decoder::get_bit() {
  if (pos_ >= size_) return 0;
  const int bit = (data_[pos_] >> (--bit_)) & 1;
  if (bit_ == 0) {
    bit_ = 8;
    ++pos_;
  }
  return bit;
}

int64_t Decoder::decode(const Frequencies& f) {
  const uint64_t range = high_ - low_ + 1, total = f.total();
  const uint64_t value = ((code_ - low_ + 1) * total - 1) / range;
  const int64_t symbol = f.symbol_at(value);
  const uint64_t lo = f.cum[static_cast<size_t>(symbol)], hi = f.cum[static_cast<size_t>(symbol + 1)];
  high_ = low_ + hi * range / total - 1;
  low_ = low_ + lo * range / total;
  while (((low_ ^ high_) & kHalf) == 0) {
    code_ = ((code_ << 1) & kStateMask) | static_cast<uint64_t>(get_bit());
    low_ = (low_ << 1) & kStateMask;
    high_ = ((high_ << 1) & kStateMask) | 1;
  }
  while ((low_ & ~high_ & kQuarter) != 0) {
    code_ = (code_ & kHalf) | ((code_ << 1) & (kStateMask >> 1)) | static_cast<uint64_t>(get_bit());
    low_ = (low_ << 1) ^ kHalf;
    high_ = ((high_ ^ kHalf) << 1) | kHalf | 1;
  }
  return symbol;
}

}  // namespace gf::coding
