#include "train/optimizers.h"

#include <torch/serialize.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <sstream>

#include "core/cpu_clones.h"
#include "train/fused_adam.h"

namespace gf::train {
namespace {

// Whether x[0, n) holds no NaN or infinity: an all-ones exponent, tested on the bits (an OR reduction, which
// vectorises without a dependency chain).
GF_CPU_CLONES bool finite_floats(const float* x, int64_t n) {
  typedef uint32_t __attribute__((may_alias)) bits32;
  const auto* u = reinterpret_cast<const bits32*>(x);
  uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
  for (int64_t i = 0; i < n; ++i) bad |= uint32_t((u[i] & 0x7f800000u) == 0x7f800000u);
  return bad == 0;
}

}  // namespace

// Whether every gradient is finite: one parallel pass over CPU float32 gradients, a sum per tensor otherwise.
bool gradients_finite(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> sums;
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    if (g.device().is_cpu() && g.scalar_type() == torch::kFloat32 && g.is_contiguous()) {
      const float* x = g.data_ptr<float>();
      std::atomic<bool> finite{true};
      at::parallel_for(0, g.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        if (!finite_floats(x + begin, end - begin)) finite = false;
      });
      if (!finite) return false;
    } else {
      sums.push_back((g * 0).sum().to(torch::kFloat64));
    }
  }
  return sums.empty() || torch::stack(sums).sum().item<double>() == 0;
}

double scheduled_lr(const TrainOptions& o, double base, int64_t step, int64_t total) {
  double lr = base;
  if (o.schedule == "step") {
    lr = base * std::pow(o.gamma, static_cast<double>(step / o.step_size));
  } else if (o.schedule == "cosine") {
    const double span = std::max<int64_t>(1, total - o.warmup_steps);
    const double t = std::min(1.0, std::max(0.0, static_cast<double>(step - o.warmup_steps) / span));
    lr = base * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * t)));
  }
  if (o.warmup_steps > 0 && step < o.warmup_steps) lr *= static_cast<double>(step + 1) / o.warmup_steps;
  return lr;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o, const nlohmann::json& over,
                                                        const std::vector<torch::Tensor>& params, double& lr) {
  lr = over.value("lr", o.lr);
  const double b1 = over.value("beta1", o.beta1), b2 = over.value("beta2", o.beta2);
  const double wd = over.value("weight_decay", o.weight_decay);
  if (o.optimizer == "adam") {
    return std::make_unique<FusedAdam>(
        params, torch::optim::AdamOptions(lr).betas(std::make_tuple(b1, b2)).weight_decay(wd));
  }
  if (o.optimizer == "adamw") {
    auto options = torch::optim::AdamWOptions(lr).betas(std::make_tuple(b1, b2)).weight_decay(wd);
    if (!over.value("decay_matrices_only", false)) return std::make_unique<torch::optim::AdamW>(params, options);
    // Transformers (nanoGPT, GPT-2): weight decay on matrices and embeddings, none on gains and biases.
    std::vector<torch::Tensor> matrices, vectors;
    for (const auto& p : params) (p.dim() >= 2 ? matrices : vectors).push_back(p);
    auto no_decay = options;
    no_decay.weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(matrices, std::make_unique<torch::optim::AdamWOptions>(options));
    if (!vectors.empty()) groups.emplace_back(vectors, std::make_unique<torch::optim::AdamWOptions>(no_decay));
    return std::make_unique<torch::optim::AdamW>(std::move(groups), options);
  }
  return std::make_unique<torch::optim::SGD>(
      params, torch::optim::SGDOptions(lr).momentum(over.value("momentum", o.momentum)).weight_decay(wd));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

torch::Tensor optimizer_blob(torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive archive;
  opt.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  const std::string bytes = out.str();
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

void load_optimizer_blob(torch::optim::Optimizer& opt, const torch::Tensor& blob) {
  std::string bytes(static_cast<const char*>(blob.data_ptr()), static_cast<size_t>(blob.numel()));
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive;
  archive.load_from(in);
  opt.load(archive);
}

}  // namespace gf::train
