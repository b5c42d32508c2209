// Internal: a flow's dequantisation (src/models/flow/flow.cpp) -- the learned noise of images' variational
// dequantisation, and the grid of a table's discrete columns, over which rows are dequantised uniformly.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <memory>
#include <utility>
#include <vector>

#include "genforge/data/dataset.h"
#include "models/flow/layers.h"

namespace gf::flow {

// log N(z; 0, I) summed per example. [N]
torch::Tensor standard_normal_log_density(const torch::Tensor& z);

// The learned q(u | x) of variational dequantisation: u = sigmoid(v), where v comes from eps ~ N(0, I) through a
// per-pixel affine map and two checkerboard couplings, all conditioned on the image (centred).
struct Dequantizer : torch::nn::Module {
  Dequantizer(int64_t channels, int64_t hidden, double clamp, at::Generator& gen) {
    base = register_module("base", std::make_shared<ConvNet>(channels, hidden, 2 * channels, 0, gen));
    for (int64_t parity = 0; parity < 2; ++parity) {
      couplings.push_back(register_module(
          "coupling" + std::to_string(parity),
          std::make_shared<ConvCoupling>(channels, channels, hidden, 0, true, parity, true, clamp, gen)));
    }
  }
  // (u in (0, 1), log q(u | x)) for images y0 in [0, 1] (the bins' lower edges). [N, C, H, W], [N]
  std::pair<torch::Tensor, torch::Tensor> sample(const torch::Tensor& y0, at::Generator& gen);
  std::shared_ptr<ConvNet> base;
  std::vector<std::shared_ptr<ConvCoupling>> couplings;
};

// The grid of each discrete column of table rows (an integer column, or a categorical one's one-hot or ordinal
// features): its smallest value and the smallest gap between its distinct values (gaps under 1e-9 of the column's
// range are rounding; a column of one value gets step 1). A continuous density on such values grows without bound
// (training diverges), so the flow learns them dequantised. Both [D] float64; undefined when no column is discrete
// or the data carry no column kinds (a plain tensor).
std::pair<torch::Tensor, torch::Tensor> discrete_grid(const Dataset& data);

}  // namespace gf::flow
