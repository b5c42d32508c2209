#include "attention_cpu.h"
#include "dot.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

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
__attribute__((target_clones("arch=x86-64-v3", "default"))) void forward_head(const float* qkv, float* p, float* y,
                                                                     const Shape& s, int64_t bh) {
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

// Forward for every (batch, head), in parallel: probabilities p [B, H, T, T] and y [B, T, C].
void forward_kernel(const float* qkv, float* p, float* y, const Shape& s) {
  at::parallel_for(0, s.b * s.h, 1, [&](int64_t bh0, int64_t bh1) {
    for (int64_t bh = bh0; bh < bh1; ++bh) forward_head(qkv, p, y, s, bh);
  });
}

// One (batch, head) pair of the backward pass, in two sweeps so every gradient row is summed in a local buffer
// and written once: by rows, dS = P (dP - rowsum(P dP)) with dP_ij = dY_i . V_j, and dQ_i = scale sum_j dS_ij K_j;
// by columns, dK_j = scale sum_i dS_ij Q_i and dV_j = sum_i P_ij dY_i (i >= j). `ds` is scratch of T x T floats.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void backward_head(const float* qkv, const float* p,
                                                                      const float* dy, float* dqkv, const Shape& s,
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

void backward_kernel(const float* qkv, const float* p, const float* dy, float* dqkv, const Shape& s) {
  at::parallel_for(0, s.b * s.h, 1, [&](int64_t bh0, int64_t bh1) {
    std::vector<float> ds(static_cast<size_t>(s.t * s.t));
    for (int64_t bh = bh0; bh < bh1; ++bh) backward_head(qkv, p, dy, dqkv, s, bh, ds.data());
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
