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
__attribute__((target_clones("avx2", "default"))) void forward_head(const float* qkv, float* p, float* y,
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

// One (batch, head) pair of the backward pass: dS = P (dP - rowsum(P dP)), dQ = dS K scale, dK = dS^T Q scale,
// dV = P^T dY, into its columns of dqkv [B, T, 3C]. `ds` is scratch of T floats.
__attribute__((target_clones("avx2", "default"))) void backward_head(const float* qkv, const float* p,
                                                                      const float* dy, float* dqkv, const Shape& s,
                                                                      int64_t bh, float* ds) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  const int64_t b = bh / s.h, h = bh % s.h;
  const float* base = qkv + b * s.t * 3 * s.c;
  float* dbase = dqkv + b * s.t * 3 * s.c;
  const float* pb = p + bh * s.t * s.t;
  for (int64_t i = 0; i < s.t; ++i) {
    const float* row = pb + i * s.t;
    const float* g = dy + (b * s.t + i) * s.c + h * s.d;
    float dot_pdp = 0;
    for (int64_t j = 0; j <= i; ++j) {
      ds[j] = dot8(g, base + j * 3 * s.c + 2 * s.c + h * s.d, s.d);  // dP_ij
      dot_pdp += row[j] * ds[j];
    }
    const float* q = base + i * 3 * s.c + h * s.d;
    float* dq = dbase + i * 3 * s.c + h * s.d;
    for (int64_t j = 0; j <= i; ++j) {
      const float dsij = row[j] * (ds[j] - dot_pdp) * scale;
      axpy(dsij, base + j * 3 * s.c + s.c + h * s.d, dq, s.d);        // dQ_i += dS_ij K_j
      axpy(dsij, q, dbase + j * 3 * s.c + s.c + h * s.d, s.d);        // dK_j += dS_ij Q_i
      axpy(row[j], g, dbase + j * 3 * s.c + 2 * s.c + h * s.d, s.d);  // dV_j += P_ij dY_i
    }
  }
}

void backward_kernel(const float* qkv, const float* p, const float* dy, float* dqkv, const Shape& s) {
  at::parallel_for(0, s.b * s.h, 1, [&](int64_t bh0, int64_t bh1) {
    std::vector<float> ds(static_cast<size_t>(s.t));
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
    auto dqkv = torch::zeros_like(qkv);
    backward_kernel(qkv.data_ptr<float>(), p.data_ptr<float>(), dy.data_ptr<float>(), dqkv.data_ptr<float>(), s);
    return {dqkv, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor causal_attention(const torch::Tensor& qkv, int64_t n_head) {
  return CausalAttention::apply(qkv, n_head);
}

}  // namespace gf::gpt_cpu
