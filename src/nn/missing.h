// Internal: filling the missing cells (NaN) of rows or images, shared by the models that impute (tvae, vae, flow).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace gf::neural {

// `draws` copies of x [N, ...] with their NaN cells filled: fill(rows [B, ...]) -> [draws, B, ...] is called on
// chunks of at most `chunk` of the rows that have a NaN; every other cell comes back unchanged. [draws, N, ...] in
// x's dtype and device.
torch::Tensor fill_missing_rows(const torch::Tensor& x, int64_t draws, int64_t chunk,
                                const std::function<torch::Tensor(const torch::Tensor&)>& fill);
// The same with the chunk's row indices into x [B] (int64) passed along: per-row side information (classes).
torch::Tensor fill_missing_rows(const torch::Tensor& x, int64_t draws, int64_t chunk,
                                const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& fill);

}  // namespace gf::neural
