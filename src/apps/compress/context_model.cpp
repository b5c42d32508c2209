#include "context_model.h"

#include <algorithm>

#include "genforge/core/error.h"

namespace gf::coding {

namespace {
constexpr uint64_t kMass = 1ull << 22;  // probability mass in integer units (the total stays under kMaxTotal)
}

ContextModel::ContextModel(int order) : order_(order), mass_(256) {
  GF_CHECK(order >= 0 && order <= 7, "order must be 0 .. 7, got ", order);
}

uint64_t ContextModel::key(int o) const {
  const uint64_t bytes = o == 0 ? 0 : (history_ & ((1ull << (8 * o)) - 1));
  return (static_cast<uint64_t>(o) << 56) | bytes;
}

void ContextModel::predict(Frequencies& out) {
  std::fill(mass_.begin(), mass_.end(), 0);
  uint64_t remaining = kMass;
  for (int o = static_cast<int>(std::min<int64_t>(order_, seen_)); o >= 0 && remaining > 0; --o) {
    auto it = contexts_.find(key(o));
    if (it == contexts_.end()) continue;
    const Context& c = it->second;
    const uint64_t distinct = c.counts.size(), denominator = c.total + distinct;
    for (const auto& [symbol, count] : c.counts) mass_[symbol] += remaining * count / denominator;
    remaining = remaining * distinct / denominator;
  }
  out.cum.resize(257);
  out.cum[0] = 0;
  for (int s = 0; s < 256; ++s) {
    out.cum[static_cast<size_t>(s + 1)] =
        out.cum[static_cast<size_t>(s)] + static_cast<uint32_t>(1 + mass_[static_cast<size_t>(s)] + remaining / 256);
  }
}

void ContextModel::update(uint8_t byte) {
  for (int o = static_cast<int>(std::min<int64_t>(order_, seen_)); o >= 0; --o) {
    Context& c = contexts_[key(o)];
    auto it = std::find_if(c.counts.begin(), c.counts.end(), [&](const auto& p) { return p.first == byte; });
    if (it == c.counts.end()) {
      c.counts.emplace_back(byte, 1);
    } else {
      ++it->second;
    }
    ++c.total;
    if (c.total > 4000) {  // halve the counts: recent statistics weigh more (and counts stay in 16 bits)
      c.total = 0;
      for (auto& p : c.counts) c.total += (p.second = static_cast<uint16_t>((p.second + 1) / 2));
    }
  }
  history_ = (history_ << 8) | byte;
  ++seen_;
}

}  // namespace gf::coding
