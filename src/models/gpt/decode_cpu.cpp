#include "decode_cpu.h"
#include "dot.h"
#include "core/cpu_clones.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace gf::gpt_cpu {
namespace {

// A matrix row times a vector, compiled for AVX2 as well.
GF_CPU_CLONES float dot(const float* a, const float* b, int64_t n) { return dot8(a, b, n); }

// out[i] = sum_j m[i, j] v[j] (+ out[i] when accumulate), m row-major [rows, cols]; rows split across threads
// (each row's sum is computed the same way whatever the split).
void matvec(const float* m, const float* v, int64_t rows, int64_t cols, float* out, bool accumulate) {
  at::parallel_for(0, rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const float s = dot(m + i * cols, v, cols);
      out[i] = accumulate ? out[i] + s : s;
    }
  });
}

void layer_norm(const float* x, const float* w, int64_t n, float* out) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + 1e-5);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((x[i] - mean) * inv) * w[i];
}

}  // namespace

void decode_step(const Weights& w, int64_t token, int64_t pos, const std::vector<float*>& k_cache,
                 const std::vector<float*>& v_cache, float* logits) {
  const int64_t c = w.n_embd, heads = w.n_head, d = c / heads, block = w.block;
  std::vector<float> x(static_cast<size_t>(c)), h(static_cast<size_t>(c)), qkv(static_cast<size_t>(3 * c)),
      y(static_cast<size_t>(c)), u(static_cast<size_t>(4 * c)), att(static_cast<size_t>(pos + 1));
  for (int64_t i = 0; i < c; ++i) x[static_cast<size_t>(i)] = w.wte[token * c + i] + w.wpe[pos * c + i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    layer_norm(x.data(), L.ln_1, c, h.data());
    matvec(L.c_attn, h.data(), 3 * c, c, qkv.data(), false);
    for (int64_t hd = 0; hd < heads; ++hd) {
      float* kc = k_cache[l] + hd * block * d;
      float* vc = v_cache[l] + hd * block * d;
      std::copy(qkv.begin() + c + hd * d, qkv.begin() + c + (hd + 1) * d, kc + pos * d);
      std::copy(qkv.begin() + 2 * c + hd * d, qkv.begin() + 2 * c + (hd + 1) * d, vc + pos * d);
      const float* q = qkv.data() + hd * d;
      float top = -INFINITY;
      for (int64_t j = 0; j <= pos; ++j) {
        const float s = dot(q, kc + j * d, d) * scale;
        att[static_cast<size_t>(j)] = s;
        top = std::max(top, s);
      }
      float total = 0;
      for (int64_t j = 0; j <= pos; ++j) total += (att[static_cast<size_t>(j)] = std::exp(att[static_cast<size_t>(j)] - top));
      float* yh = y.data() + hd * d;
      std::fill(yh, yh + d, 0.0f);
      for (int64_t j = 0; j <= pos; ++j) {
        const float a = att[static_cast<size_t>(j)] / total;
        for (int64_t e = 0; e < d; ++e) yh[e] += a * vc[j * d + e];
      }
    }
    matvec(L.attn_proj, y.data(), c, c, x.data(), true);
    layer_norm(x.data(), L.ln_2, c, h.data());
    matvec(L.c_fc, h.data(), 4 * c, c, u.data(), false);
    for (auto& v : u) v = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));  // GELU (erf), as torch's
    matvec(L.mlp_proj, u.data(), c, 4 * c, x.data(), true);
  }
  layer_norm(x.data(), w.ln_f, c, h.data());
  matvec(w.wte, h.data(), w.vocab, c, logits, false);
}

}  // namespace gf::gpt_cpu
