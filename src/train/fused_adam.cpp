#include "train/fused_adam.h"
#include "core/cpu_clones.h"

#include <ATen/Parallel.h>

#include <cfloat>
#include <cmath>
#include <sstream>
#include <type_traits>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace gf::train {

namespace {
bool fusable(const torch::Tensor& p) {
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous() && p.grad().defined() &&
         p.grad().is_contiguous() && p.grad().scalar_type() == torch::kFloat32;
}
struct AdamConstants {
  float b1, b2, one_minus_b1, one_minus_b2, wd, eps, inv_bc2_sqrt, step_size;
};

// One slice of the update. Moments below FLT_MIN are flushed to zero: inputs whose gradient is always zero
// (Fashion-MNIST's blank border pixels) would otherwise decay into denormals, each operation on which costs ~100
// cycles (LibTorch's Adam slows down epoch after epoch on this workload for that reason). Intermediate products
// of tiny gradients (grad * grad) are denormal too, so the slice runs with flush-to-zero / denormals-are-zero set
// and the caller's floating-point mode restored afterwards; stored moments are flushed either way.
GF_CPU_CLONES void adam_slice(float* w, const float* g, float* m, float* v, int64_t begin, int64_t end,
                              const AdamConstants& c) {
#if defined(__SSE__)
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040);  // FTZ | DAZ
#endif
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float grad = g[i] + c.wd * w[i];
    float mi = m[i] * c.b1 + c.one_minus_b1 * grad;
    float vi = v[i] * c.b2 + c.one_minus_b2 * grad * grad;
    mi = std::fabs(mi) < FLT_MIN ? 0.0f : mi;
    vi = vi < FLT_MIN ? 0.0f : vi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= c.step_size * (mi / (std::sqrt(vi) / c.inv_bc2_sqrt + c.eps));
  }
#if defined(__SSE__)
  _mm_setcsr(saved);
#endif
}
}  // namespace

namespace {
// The key torch::optim keeps a parameter's state under: the TensorImpl's address printed (LibTorch 1.x), or the
// address itself (2.x), so checkpoints stay those of torch::optim::Adam on both.
template <class Key>
Key state_key(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << impl;
    return text.str();
  } else {
    return impl;
  }
}
}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      if (p.grad().defined() && (o.amsgrad() || !fusable(p))) return torch::optim::Adam::step(closure);
    }
  }
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto key = state_key<std::decay_t<decltype(state_)>::key_type>(p.unsafeGetTensorImpl());
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
      s.step(s.step() + 1);
      const double bc1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
      const double bc2_sqrt = std::sqrt(1 - std::pow(beta2, static_cast<double>(s.step())));
      // The same float operations, in the same order, as torch::optim::Adam's tensor ops.
      AdamConstants c;
      c.b1 = static_cast<float>(beta1);
      c.b2 = static_cast<float>(beta2);
      c.one_minus_b1 = static_cast<float>(1 - beta1);
      c.one_minus_b2 = static_cast<float>(1 - beta2);
      c.wd = static_cast<float>(o.weight_decay());
      c.eps = static_cast<float>(o.eps());
      c.inv_bc2_sqrt = static_cast<float>(bc2_sqrt);
      c.step_size = static_cast<float>(o.lr() / bc1);
      float* w = p.data_ptr<float>();
      const float* g = p.grad().data_ptr<float>();
      float* m = s.exp_avg().data_ptr<float>();
      float* v = s.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 16384, [&](int64_t begin, int64_t end) { adam_slice(w, g, m, v, begin, end, c); });
    }
  }
  return loss;
}

}  // namespace gf::train
