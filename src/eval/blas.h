// The two BLAS-3 kernels that ATen does not expose and that halve the work of the FID statistics: the symmetric
// rank-k update (X^T X) and the triangular product (L^T S L). With the OpenBLAS genforge links (GF_OPENBLAS_DIR)
// they call it directly; in other builds (e.g. LibTorch 2.x with CUDA) they fall back to at::mm.
#pragma once
#include <torch/types.h>

namespace gf::blas {

// Adds x^T x into `accumulator` ([D, D], float64) for x [K, D] (float32 or float64, contiguous). Only the lower
// triangle (row-major) of the accumulator is defined afterwards; call symmetrize_lower once at the end.
void add_gram_lower(const torch::Tensor& x, torch::Tensor& accumulator, torch::Tensor& scratch);

// Copies the lower triangle of a square float64 matrix onto its upper triangle.
void symmetrize_lower(torch::Tensor& m);

// L^T S L for lower-triangular L and symmetric S ([D, D], float64).
torch::Tensor congruence_lower(const torch::Tensor& l, const torch::Tensor& s);

}  // namespace gf::blas
