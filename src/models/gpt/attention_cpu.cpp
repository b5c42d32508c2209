#include "attention_cpu.h"
#include "dot.h"
#include "core/cpu_clones.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace gf::gpt_cpu {
namespace {

// y[e] += a x[e]
inline void axpy(float a, const float* x, float* y, int64_t d) {
  for (int64_t e = 0; e < d; ++e) y[e] += a * x[e];
}

struct Shape {
  int64_t b, t, c, h, d;
};

// One (batch, head) pair of the forward pass: probabilities [T, T] (lower triangle) and its slice of y.
GF_CPU_CLONES void forward_head(const float* qkv, float* p, float* y, const Shape& s, int64_t bh) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  const int64_t b = bh / s.h, h = bh % s.h;
  const float* base = qkv + b * s.t * 3 * s.c;
  float* pb = p + bh * s.t * s.t;
  for (int64_t i = 0; i < s.t; ++i) {
    const float* q = base + i * 3 * s.c + h * s.d;
    float* row = pb + i * s.t;
    float top = -INFINITY;
    for (int64_t j = 0; j <= i; ++j) {
      row[j] = dot8(q, base + j * 3 * s.c + s.c + h * s.d, s.d) * scale;
      top = std::max(top, row[j]);
    }
    float total = 0;
    for (int64_t j = 0; j <= i; ++j) total += (row[j] = std::exp(row[j] - top));
    const float inv = 1.0f / total;
    float* out = y + (b * s.t + i) * s.c + h * s.d;
    std::fill(out, out + s.d, 0.0f);
    for (int64_t j = 0; j <= i; ++j) {
      row[j] *= inv;
      axpy(row[j], base + j * 3 * s.c + 2 * s.c + h * s.d, out, s.d);
    }
    std::fill(row + i + 1, row + s.t, 0.0f);
  }
}

// One (batch, head) pair of the backward pass, in two sweeps so every gradient row is summed in a local buffer
// and written once: by rows, dS = P (dP - rowsum(P dP)) with dP_ij = dY_i . V_j, and dQ_i = scale sum_j dS_ij K_j;
// by columns, dK_j = scale sum_i dS_ij Q_i and dV_j = sum_i P_ij dY_i (i >= j). `ds` is scratch of T x T floats.
GF_CPU_CLONES void backward_head(const float* qkv, const float* p, const float* dy, float* dqkv, const Shape& s,
                                 int64_t bh, float* ds) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  const int64_t b = bh / s.h, h = bh % s.h, d = s.d, row3 = 3 * s.c;
  const float* base = qkv + b * s.t * row3;
  const float* q_at = base + h * d;
  const float* k_at = base + s.c + h * d;
  const float* v_at = base + 2 * s.c + h * d;
  float* dbase = dqkv + b * s.t * row3;
  const float* pb = p + bh * s.t * s.t;
  const float* g_at = dy + b * s.t * s.c + h * d;
  std::vector<float> acc(static_cast<size_t>(d)), acc2(static_cast<size_t>(d));
  for (int64_t i = 0; i < s.t; ++i) {
    const float* row = pb + i * s.t;
    const float* g = g_at + i * s.c;
    float* dsrow = ds + i * s.t;
    float dot_pdp = 0;
    for (int64_t j = 0; j <= i; ++j) {
      dsrow[j] = dot8(g, v_at + j * row3, d);  // dP_ij
      dot_pdp += row[j] * dsrow[j];
    }
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t j = 0; j <= i; ++j) {
      dsrow[j] = row[j] * (dsrow[j] - dot_pdp) * scale;
      axpy(dsrow[j], k_at + j * row3, acc.data(), d);
    }
    std::copy(acc.begin(), acc.end(), dbase + i * row3 + h * d);
  }
  for (int64_t j = 0; j < s.t; ++j) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::fill(acc2.begin(), acc2.end(), 0.0f);
    for (int64_t i = j; i < s.t; ++i) {
      axpy(ds[i * s.t + j], q_at + i * row3, acc.data(), d);
      axpy(pb[i * s.t + j], g_at + i * s.c, acc2.data(), d);
    }
    std::copy(acc.begin(), acc.end(), dbase + j * row3 + s.c + h * d);
    std::copy(acc2.begin(), acc2.end(), dbase + j * row3 + 2 * s.c + h * d);
  }
}

// Blocked kernels for head widths of 8·ND (16, 32, 64): keys (and, backward, values) are packed transposed so that
// score rows are built by broadcasting one query element against 8 consecutive keys (no horizontal sums), four
// query rows share each key load, and the weighted sums over rows or columns keep their accumulators in registers.
// Written with GCC vector types, so the x86-64-v3 clone runs on AVX2+FMA and the default clone on SSE pairs.
// The v8 helpers are always inlined into their callers' clones, so no call passes a vector across an ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

__attribute__((always_inline)) inline v8 load8(const float* p) { return *reinterpret_cast<const v8u*>(p); }
__attribute__((always_inline)) inline void store8(float* p, v8 v) { *reinterpret_cast<v8u*>(p) = v; }
__attribute__((always_inline)) inline v8 splat(float x) { return v8{} + x; }
inline int64_t round8(int64_t n) { return (n + 7) / 8 * 8; }
typedef int32_t v8i __attribute__((vector_size(32)));

// e^x for x <= 0 (softmax arguments) to about 2 ulp: x = n ln2 + r with |r| <= ln2/2, a degree-6 Taylor polynomial
// for e^r, and 2^n put into the exponent bits; arguments below -87 give e^-87 (~1.6e-38), not 0.
__attribute__((always_inline)) inline v8 exp8(v8 x) {
  x = x < -87.0f ? splat(-87.0f) : x;
  const v8 t = x * 1.44269504088896341f + 0.5f;
  v8i n = __builtin_convertvector(t, v8i);
  n += __builtin_convertvector(n, v8) > t;  // truncation to floor: -1 where the conversion rounded up
  const v8 nf = __builtin_convertvector(n, v8);
  const v8 r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
  v8 p = splat(1.0f / 720);
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const v8i bits = (n + 127) << 23;
  v8 scale;
  __builtin_memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

__attribute__((always_inline)) inline float hmax(v8 v) {
  float m = v[0];
  for (int l = 1; l < 8; ++l) m = std::max(m, v[l]);
  return m;
}
__attribute__((always_inline)) inline float hsum(v8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
// row[j] = softmax(scale * s[j]) for j <= i, 0 for i < j < n (s has round8(i + 1) readable entries, row has n).
__attribute__((always_inline)) inline void softmax_row(const float* s, float* row, int64_t i, int64_t n, float scale) {
  const int64_t len = i + 1, full = len / 8 * 8;
  v8 top = splat(-INFINITY);
  for (int64_t j = 0; j < full; j += 8) top = top > load8(s + j) ? top : load8(s + j);
  float m = hmax(top);
  for (int64_t j = full; j < len; ++j) m = std::max(m, s[j]);
  v8 total = splat(0.0f);
  float tail_total = 0;
  for (int64_t j = 0; j < full; j += 8) {
    const v8 e = exp8((load8(s + j) - m) * scale);
    store8(row + j, e);
    total += e;
  }
  if (full < len) {  // the last partial block: lanes past i are left out
    const v8 e = exp8((load8(s + full) - m) * scale);
    for (int64_t j = full; j < len; ++j) tail_total += (row[j] = e[j - full]);
  }
  const float inv = 1.0f / (hsum(total) + tail_total);
  for (int64_t j = 0; j < full; j += 8) store8(row + j, load8(row + j) * inv);
  for (int64_t j = full; j < len; ++j) row[j] *= inv;
  std::fill(row + len, row + n, 0.0f);
}

// out[r][j] = sum_e rows[r][e] xt[e][j] for 4 rows and j < jend (a multiple of 8); xt is [d][ld].
template <int ND>
inline void score_rows(const float* const rows[4], const float* xt, int64_t ld, int64_t jend, float* out,
                       int64_t out_ld) {
  constexpr int D = 8 * ND;
  int64_t j = 0;
  for (; j + 16 <= jend; j += 16) {
    v8 a00{}, a01{}, a10{}, a11{}, a20{}, a21{}, a30{}, a31{};
    for (int e = 0; e < D; ++e) {
      const v8 k0 = load8(xt + e * ld + j), k1 = load8(xt + e * ld + j + 8);
      const v8 q0 = splat(rows[0][e]), q1 = splat(rows[1][e]), q2 = splat(rows[2][e]), q3 = splat(rows[3][e]);
      a00 += q0 * k0; a01 += q0 * k1;
      a10 += q1 * k0; a11 += q1 * k1;
      a20 += q2 * k0; a21 += q2 * k1;
      a30 += q3 * k0; a31 += q3 * k1;
    }
    store8(out + j, a00); store8(out + j + 8, a01);
    store8(out + out_ld + j, a10); store8(out + out_ld + j + 8, a11);
    store8(out + 2 * out_ld + j, a20); store8(out + 2 * out_ld + j + 8, a21);
    store8(out + 3 * out_ld + j, a30); store8(out + 3 * out_ld + j + 8, a31);
  }
  if (j < jend) {  // one block of 8 left
    v8 a0{}, a1{}, a2{}, a3{};
    for (int e = 0; e < D; ++e) {
      const v8 k0 = load8(xt + e * ld + j);
      a0 += splat(rows[0][e]) * k0; a1 += splat(rows[1][e]) * k0;
      a2 += splat(rows[2][e]) * k0; a3 += splat(rows[3][e]) * k0;
    }
    store8(out + j, a0); store8(out + out_ld + j, a1); store8(out + 2 * out_ld + j, a2); store8(out + 3 * out_ld + j, a3);
  }
}

// Two weighted sums of the rows z_k (D floats each, z_ld apart) for k in [from, to): out0 = sum_k w0[k w_step] z_k
// and out1 likewise with w1. Rows of weights (w_step 1) give y_i and dQ_i; columns (w_step = row length) give dK_j
// and dV_j. Pass w1 = w0 when only one sum is wanted.
template <int ND>
inline void weighted_pair(const float* w0, const float* w1, int64_t w_step, int64_t from, int64_t to, const float* z,
                          int64_t z_ld, float* out0, float* out1) {
  v8 a0[ND] = {}, a1[ND] = {};
  for (int64_t k = from; k < to; ++k) {
    const v8 p0 = splat(w0[k * w_step]), p1 = splat(w1[k * w_step]);
    for (int v = 0; v < ND; ++v) {
      const v8 zv = load8(z + k * z_ld + 8 * v);
      a0[v] += p0 * zv;
      a1[v] += p1 * zv;
    }
  }
  for (int v = 0; v < ND; ++v) {
    store8(out0 + 8 * v, a0[v]);
    store8(out1 + 8 * v, a1[v]);
  }
}

// Packs x_j[0..D) (rows x_ld apart, t of them) into xt [D][ld], zero beyond t.
template <int ND>
inline void pack_transposed(const float* x, int64_t x_ld, int64_t t, int64_t ld, float* xt) {
  constexpr int D = 8 * ND;
  for (int e = 0; e < D; ++e) std::fill(xt + e * ld + t, xt + (e + 1) * ld, 0.0f);
  for (int64_t j = 0; j < t; ++j) {
    for (int e = 0; e < D; ++e) xt[e * ld + j] = x[j * x_ld + e];
  }
}

// Scratch per thread: 2 packed [D][T8] blocks and one [T + 4][T8] block (T8 = T + 1 rounded up to 8: column T
// exists and is zero).
struct Scratch {
  std::vector<float> kt, vt, rows;
  Scratch(const Shape& s) {
    const size_t t8 = static_cast<size_t>(round8(s.t + 1));
    kt.resize(static_cast<size_t>(s.d) * t8);
    vt.resize(static_cast<size_t>(s.d) * t8);
    rows.resize(static_cast<size_t>(s.t + 4) * t8);
  }
};

template <int ND>
GF_CPU_CLONES void forward_head_blocked(const float* qkv, float* p, float* y, const Shape& s, int64_t bh, Scratch& w) {
  constexpr int D = 8 * ND;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t b = bh / s.h, h = bh % s.h, row3 = 3 * s.c, t8 = round8(s.t + 1);
  const float* base = qkv + b * s.t * row3;
  const float* q_at = base + h * D;
  const float* v_at = base + 2 * s.c + h * D;
  float* pb = p + bh * s.t * s.t;
  pack_transposed<ND>(base + s.c + h * D, row3, s.t, t8, w.kt.data());
  float* sc = w.rows.data();  // 4 score rows
  for (int64_t i0 = 0; i0 < s.t; i0 += 4) {
    const float* rows[4];
    for (int r = 0; r < 4; ++r) rows[r] = q_at + std::min(i0 + r, s.t - 1) * row3;
    score_rows<ND>(rows, w.kt.data(), t8, round8(std::min(i0 + 4, s.t)), sc, t8);
    for (int64_t i = i0; i < std::min(i0 + 4, s.t); ++i) softmax_row(sc + (i - i0) * t8, pb + i * s.t, i, s.t, scale);
  }
  for (int64_t i = 0; i < s.t; i += 2) {
    const int64_t i1 = std::min(i + 1, s.t - 1);
    weighted_pair<ND>(pb + i * s.t, pb + i1 * s.t, 1, 0, i1 + 1, v_at, row3, y + (b * s.t + i) * s.c + h * D,
                      y + (b * s.t + i1) * s.c + h * D);
  }
}

template <int ND>
GF_CPU_CLONES void backward_head_blocked(const float* qkv, const float* p, const float* dy, float* dqkv, const Shape& s,
                                         int64_t bh, Scratch& w) {
  constexpr int D = 8 * ND;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t b = bh / s.h, h = bh % s.h, row3 = 3 * s.c, t8 = round8(s.t + 1);
  const float* base = qkv + b * s.t * row3;
  const float* q_at = base + h * D;
  const float* k_at = base + s.c + h * D;
  float* dbase = dqkv + b * s.t * row3;
  const float* pb = p + bh * s.t * s.t;
  const float* g_at = dy + b * s.t * s.c + h * D;
  pack_transposed<ND>(base + 2 * s.c + h * D, row3, s.t, t8, w.vt.data());
  float* ds = w.rows.data();  // [T][t8]: dP, then dS (zero beyond the diagonal)
  for (int64_t i0 = 0; i0 < s.t; i0 += 4) {
    const float* rows[4];
    for (int r = 0; r < 4; ++r) rows[r] = g_at + std::min(i0 + r, s.t - 1) * s.c;
    score_rows<ND>(rows, w.vt.data(), t8, round8(std::min(i0 + 4, s.t)), ds + i0 * t8, t8);
  }
  for (int64_t i = 0; i < s.t; ++i) {
    const float* row = pb + i * s.t;
    float* dsrow = ds + i * t8;
    const int64_t full = (i + 1) / 8 * 8;
    v8 acc = splat(0.0f);
    for (int64_t j = 0; j < full; j += 8) acc += load8(row + j) * load8(dsrow + j);
    float dot_pdp = hsum(acc);
    for (int64_t j = full; j <= i; ++j) dot_pdp += row[j] * dsrow[j];
    for (int64_t j = 0; j < full; j += 8) store8(dsrow + j, load8(row + j) * (load8(dsrow + j) - dot_pdp) * scale);
    for (int64_t j = full; j <= i; ++j) dsrow[j] = row[j] * (dsrow[j] - dot_pdp) * scale;
    std::fill(dsrow + i + 1, dsrow + t8, 0.0f);
  }
  for (int64_t i = 0; i < s.t; i += 2) {  // dQ_i = sum_j dS_ij K_j
    const int64_t i1 = std::min(i + 1, s.t - 1);
    weighted_pair<ND>(ds + i * t8, ds + i1 * t8, 1, 0, i1 + 1, k_at, row3, dbase + i * row3 + h * D,
                      dbase + i1 * row3 + h * D);
  }
  for (int64_t j = 0; j < s.t; j += 2) {  // dK_j = sum_i dS_ij Q_i, dV_j = sum_i P_ij dY_i
    float tail_k[D];
    const bool pair = j + 1 < s.t;
    // Column j + 1 of dS exists (zero) even past the last row's diagonal; P's rows end at T, so a lone last
    // column pairs with itself there.
    weighted_pair<ND>(ds + j, ds + j + 1, t8, j, s.t, q_at, row3, dbase + j * row3 + s.c + h * D,
                      pair ? dbase + (j + 1) * row3 + s.c + h * D : tail_k);
    weighted_pair<ND>(pb + j, pair ? pb + j + 1 : pb + j, s.t, j, s.t, g_at, s.c, dbase + j * row3 + 2 * s.c + h * D,
                      pair ? dbase + (j + 1) * row3 + 2 * s.c + h * D : tail_k);
  }
}

void backward_kernel(const float* qkv, const float* p, const float* dy, float* dqkv, const Shape& s) {
  at::parallel_for(0, s.b * s.h, 1, [&](int64_t bh0, int64_t bh1) {
    Scratch w(s);
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      switch (s.d) {
        case 16: backward_head_blocked<2>(qkv, p, dy, dqkv, s, bh, w); break;
        case 32: backward_head_blocked<4>(qkv, p, dy, dqkv, s, bh, w); break;
        case 64: backward_head_blocked<8>(qkv, p, dy, dqkv, s, bh, w); break;
        default: backward_head(qkv, p, dy, dqkv, s, bh, w.rows.data());
      }
    }
  });
}

// Forward for every (batch, head), in parallel: probabilities p [B, H, T, T] and y [B, T, C].
void forward_kernel(const float* qkv, float* p, float* y, const Shape& s) {
  at::parallel_for(0, s.b * s.h, 1, [&](int64_t bh0, int64_t bh1) {
    Scratch w(s);
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      switch (s.d) {
        case 16: forward_head_blocked<2>(qkv, p, y, s, bh, w); break;
        case 32: forward_head_blocked<4>(qkv, p, y, s, bh, w); break;
        case 64: forward_head_blocked<8>(qkv, p, y, s, bh, w); break;
        default: forward_head(qkv, p, y, s, bh);
      }
    }
  });
}

class CausalAttention : public torch::autograd::Function<CausalAttention> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv_in, int64_t n_head) {
    auto qkv = qkv_in.contiguous();
    const Shape s{qkv.size(0), qkv.size(1), qkv.size(2) / 3, n_head, qkv.size(2) / 3 / n_head};
    auto p = torch::empty({s.b, s.h, s.t, s.t}, qkv.options());
    auto y = torch::empty({s.b, s.t, s.c}, qkv.options());
    forward_kernel(qkv.data_ptr<float>(), p.data_ptr<float>(), y.data_ptr<float>(), s);
    ctx->save_for_backward({qkv, p});
    ctx->saved_data["n_head"] = n_head;
    return y;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad) {
    auto saved = ctx->get_saved_variables();
    const auto& qkv = saved[0];
    const auto& p = saved[1];
    const int64_t n_head = ctx->saved_data["n_head"].toInt();
    const Shape s{qkv.size(0), qkv.size(1), qkv.size(2) / 3, n_head, qkv.size(2) / 3 / n_head};
    auto dy = grad[0].contiguous();
    auto dqkv = torch::empty_like(qkv);  // every element is written by exactly one (batch, head) sweep
    backward_kernel(qkv.data_ptr<float>(), p.data_ptr<float>(), dy.data_ptr<float>(), dqkv.data_ptr<float>(), s);
    return {dqkv, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor causal_attention(const torch::Tensor& qkv, int64_t n_head) {
  return CausalAttention::apply(qkv, n_head);
}

}  // namespace gf::gpt_cpu
