// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order) as tensors.
#pragma once
#include <torch/types.h>

#include <string>

namespace gf {

// Reads float32, float64, int32 or int64 arrays; anything else (Fortran order, big-endian, other dtypes,
// object arrays) is a gf::DataError naming the file and what was found.
torch::Tensor read_npy(const std::string& path);
// The same from the file's bytes in memory (`path` names them in errors).
torch::Tensor parse_npy(const std::string& bytes, const std::string& path);
// Writes a CPU or device tensor (copied to CPU, made contiguous) atomically.
void write_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace gf
