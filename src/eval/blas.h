// The BLAS-3 kernels that ATen does not expose and that halve the work of the FID statistics — the symmetric
// rank-k update (X^T X) and the congruence L^T S L — and the Cholesky factor and eigenvalues without
// ATen's layout copies. With the OpenBLAS genforge links (GF_OPENBLAS_DIR)
// they call it directly; in other builds (e.g. LibTorch 2.x with CUDA) they fall back to ATen.
#pragma once
#include <torch/types.h>

namespace gf::blas {

// Adds x^T x into `accumulator` ([D, D], float64) for x [K, D] (float32 or float64, contiguous), or writes it there
// when `overwrite` (the accumulator may then be uninitialised). Only the lower triangle (row-major) of the
// accumulator is defined afterwards; call symmetrize_lower once at the end. For float32 x, `scratch` holds x^T x in
// float32 afterwards (its lower triangle at least).
void add_gram_lower(const torch::Tensor& x, torch::Tensor& accumulator, torch::Tensor& scratch,
                    bool overwrite = false);

// Copies the lower triangle of a square float64 matrix [D, D] onto its upper triangle; with v ([D], host memory),
// first adds alpha v v^T to the lower triangle (in the same pass).
void symmetrize_lower(torch::Tensor& m, const double* v = nullptr, double alpha = 0);

// L^T S L for lower-triangular L and symmetric S ([D, D], float64). Only L's lower triangle is read; only the
// result's lower triangle is defined (the whole matrix in the ATen fallback). The result's rows may be padded
// (row stride > D): it is a view, not necessarily contiguous.
torch::Tensor congruence_lower(const torch::Tensor& l, const torch::Tensor& s);

// Cholesky factor of a symmetric float64 matrix [D, D], in place: afterwards its lower triangle holds L (L L^T = S);
// the upper triangle is left unspecified. False when S is not positive definite.
bool cholesky_lower_inplace(torch::Tensor& s);

// Eigenvalues (ascending) of a symmetric float64 matrix [D, D] (unit column stride; rows may be padded), which it
// overwrites; reads the lower triangle. From D = 768 on by a two-stage reduction (eval/tridiagonal.h).
torch::Tensor symmetric_eigenvalues(torch::Tensor& m);

}  // namespace gf::blas
