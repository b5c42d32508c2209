// The built-in adaptive order-k model of `genforge compress` (internal to src/apps/compress/): byte contexts of
// lengths k, k - 1, ..., 0 blended PPM-style (Cleary & Witten 1984; escape estimate of PPM-C): the longest context
// seen gives its symbols their counts' share of the probability and passes an escape share, d / (n + d) for n
// occurrences of d distinct symbols, down to the next shorter context, ending at a uniform distribution. Counts
// adapt as bytes are coded, identically on both sides. Integer arithmetic throughout, so the frequencies are the
// same on every machine.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "arithmetic_coder.h"

namespace gf::coding {

class ContextModel {
 public:
  explicit ContextModel(int order);
  // The frequencies of the next byte given the bytes seen so far.
  void predict(Frequencies& out);
  void update(uint8_t byte);  // counts the byte in every context, then moves the context on

 private:
  struct Context {
    uint32_t total = 0;
    std::vector<std::pair<uint8_t, uint16_t>> counts;  // seen bytes and their counts
  };
  uint64_t key(int o) const;  // context of the last o bytes
  int order_;
  uint64_t history_ = 0;  // the last 8 bytes, newest in the low byte
  int64_t seen_ = 0;
  std::unordered_map<uint64_t, Context> contexts_;
  std::vector<uint64_t> mass_;  // [256] scratch
};

}  // namespace gf::coding
