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

// out[r, i] = sum_j m[i, j] in[r, j] (+ out[r, i] when accumulate) for r < n_rows; m row-major [rows, cols], in
// [n_rows, cols], out [n_rows, rows]. Matrix rows split across threads; each row stays in cache for every input.
void matmul_rows(const float* m, const float* in, int64_t n_rows, int64_t rows, int64_t cols, float* out,
                 bool accumulate) {
  at::parallel_for(0, rows, std::max<int64_t>(1, 64 / std::max<int64_t>(n_rows, 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      for (int64_t r = 0; r < n_rows; ++r) {
        const float s = dot(m + i * cols, in + r * cols, cols);
        float& o = out[r * rows + i];
        o = accumulate ? o + s : s;
      }
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

void layer_norm_rows(const float* x, const float* w, int64_t n_rows, int64_t n, float* out) {
  for (int64_t r = 0; r < n_rows; ++r) layer_norm(x + r * n, w, n, out + r * n);
}

}  // namespace

void decode_rows(const Weights& w, const std::vector<Row>& rows) {
  const int64_t c = w.n_embd, heads = w.n_head, d = c / heads, block = w.block;
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n == 0) return;
  const auto cn = static_cast<size_t>(n * c);
  std::vector<float> x(cn), h(cn), qkv(3 * cn), y(cn), u(4 * cn);
  for (int64_t r = 0; r < n; ++r) {
    const Row& row = rows[static_cast<size_t>(r)];
    for (int64_t i = 0; i < c; ++i) x[static_cast<size_t>(r * c + i)] = w.wte[row.token * c + i] + w.wpe[row.pos * c + i];
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    layer_norm_rows(x.data(), L.ln_1, n, c, h.data());
    matmul_rows(L.c_attn, h.data(), n, 3 * c, c, qkv.data(), false);
    for (int64_t r = 0; r < n; ++r) {  // every row's keys and values first: later rows of a sequence attend to them
      const Row& row = rows[static_cast<size_t>(r)];
      const float* q = qkv.data() + r * 3 * c;
      for (int64_t hd = 0; hd < heads; ++hd) {
        std::copy(q + c + hd * d, q + c + (hd + 1) * d, row.caches->k[l] + hd * block * d + row.pos * d);
        std::copy(q + 2 * c + hd * d, q + 2 * c + (hd + 1) * d, row.caches->v[l] + hd * block * d + row.pos * d);
      }
    }
    at::parallel_for(0, n * heads, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> att(static_cast<size_t>(block));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r = t / heads, hd = t % heads;
        const Row& row = rows[static_cast<size_t>(r)];
        const float* kc = row.caches->k[l] + hd * block * d;
        const float* vc = row.caches->v[l] + hd * block * d;
        const float* q = qkv.data() + r * 3 * c + hd * d;
        float top = -INFINITY;
        for (int64_t j = 0; j <= row.pos; ++j) {
          const float s = dot(q, kc + j * d, d) * scale;
          att[static_cast<size_t>(j)] = s;
          top = std::max(top, s);
        }
        float total = 0;
        for (int64_t j = 0; j <= row.pos; ++j) {
          total += (att[static_cast<size_t>(j)] = std::exp(att[static_cast<size_t>(j)] - top));
        }
        float* yh = y.data() + r * c + hd * d;
        std::fill(yh, yh + d, 0.0f);
        for (int64_t j = 0; j <= row.pos; ++j) {
          const float a = att[static_cast<size_t>(j)] / total;
          for (int64_t e = 0; e < d; ++e) yh[e] += a * vc[j * d + e];
        }
      }
    });
    matmul_rows(L.attn_proj, y.data(), n, c, c, x.data(), true);
    layer_norm_rows(x.data(), L.ln_2, n, c, h.data());
    matmul_rows(L.c_fc, h.data(), n, 4 * c, c, u.data(), false);
    for (auto& v : u) v = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));  // GELU (erf), as torch's
    matmul_rows(L.mlp_proj, u.data(), n, c, 4 * c, x.data(), true);
  }
  // The logits of the rows that want them.
  std::vector<int64_t> wanted;
  for (int64_t r = 0; r < n; ++r) {
    if (rows[static_cast<size_t>(r)].logits) wanted.push_back(r);
  }
  if (wanted.empty()) return;
  const auto m = static_cast<int64_t>(wanted.size());
  std::vector<float> hf(static_cast<size_t>(m * c)), out(static_cast<size_t>(m * w.vocab));
  for (int64_t k = 0; k < m; ++k) layer_norm(x.data() + wanted[static_cast<size_t>(k)] * c, w.ln_f, c, hf.data() + k * c);
  matmul_rows(w.wte, hf.data(), m, w.vocab, c, out.data(), false);
  for (int64_t k = 0; k < m; ++k) {
    std::copy(out.begin() + k * w.vocab, out.begin() + (k + 1) * w.vocab, rows[static_cast<size_t>(wanted[static_cast<size_t>(k)])].logits);
  }
}

}  // namespace gf::gpt_cpu
