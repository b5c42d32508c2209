// Eigenvalues of a large symmetric matrix by a two-stage tridiagonal reduction (dense -> band -> tridiagonal),
// for the FID's square-root trace. LAPACK's one-stage dsytrd spends half its flops in matrix-vector products that
// stream the whole trailing matrix once per column; the first stage here does all its work in BLAS-3 (panel QR,
// dsymm, dsyr2k), the second chases bulges through a band that fits in L2, pipelined over threads.
// Only built with the OpenBLAS genforge links (GF_OPENBLAS_DIR): it calls LAPACK directly.
#pragma once

namespace gf::blas {

struct TwoStageOptions {
  int bandwidth = 32;  // of the intermediate band: wider makes stage 1 faster and stage 2 slower (32 best at 2048)
  int threads = 0;     // for the bulge chasing; 0 = omp_get_max_threads(), at most one per core
};

// Overwrites the symmetric n x n matrix whose lower triangle is stored row-major at `a` (row stride lda >= n;
// the upper triangle is neither read nor kept) and writes its eigenvalues, unordered, to `eigenvalues` [n].
// Returns LAPACK's dsterf info: 0 on success, > 0 when the tridiagonal QL/QR iteration did not converge.
int two_stage_eigenvalues(double* a, int n, int lda, double* eigenvalues, const TwoStageOptions& options = {});

}  // namespace gf::blas
