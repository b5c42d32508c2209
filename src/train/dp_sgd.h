// Internal: the parts of DP-SGD (Abadi et al. 2016, as Opacus runs it) that the Trainer's loop uses: Poisson
// sampling of a step's examples, per-example gradients clipped to a norm and summed, Gaussian noise, and the
// noisy mean over the expected batch size.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace gf::train {

// The examples of one step: each of n independently with probability q, from a generator seeded by (seed, step)
// so that a resumed run draws the same batches. May be empty.
torch::Tensor poisson_batch(int64_t n, double q, int64_t seed, int64_t step);

class PerExampleClipper {
 public:
  PerExampleClipper(std::vector<torch::Tensor> params, double max_norm);
  // Adds the parameters' current gradients (one example's), scaled to norm at most max_norm. Returns false (and
  // adds nothing) when they are not finite.
  bool add();
  int64_t examples() const { return examples_; }
  // Sets each parameter's gradient to (sum + N(0, (sigma max_norm)^2)) / expected_batch and clears the sums.
  void finish(double sigma, double expected_batch, at::Generator& gen);

 private:
  std::vector<torch::Tensor> params_, sums_;
  double max_norm_;
  int64_t examples_ = 0;
};

}  // namespace gf::train
