// The dot product of the GPT's CPU kernels (internal to src/models/gpt/): 8 interleaved partial sums, a fixed
// order the compiler keeps in one vector register (a single running sum would have to be added in sequence).
// Inline, so each caller's AVX2 clone gets an AVX2 copy.
#pragma once
#include <cstdint>

namespace gf::gpt_cpu {

inline float dot8(const float* a, const float* b, int64_t n) {
  float part[8] = {0};
  int64_t e = 0;
  for (; e + 8 <= n; e += 8) {
    for (int l = 0; l < 8; ++l) part[l] += a[e + l] * b[e + l];
  }
  float s = 0;
  for (; e < n; ++e) s += a[e] * b[e];
  for (float p : part) s += p;
  return s;
}

}  // namespace gf::gpt_cpu
