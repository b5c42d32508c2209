#include "eval/blas.h"

#include <algorithm>
#include <vector>

#include "eval/tridiagonal.h"
#include "genforge/core/error.h"

#ifdef GF_OPENBLAS_DIR
extern "C" {
// Reference BLAS (column-major) entry points exported by OpenBLAS.
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha, const float* a,
            const int* lda, const float* beta, float* c, const int* ldc);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha, const double* a,
            const int* lda, const double* beta, double* c, const int* ldc);
// LAPACK, from the same OpenBLAS build.
void dsygst_(const int* itype, const char* uplo, const int* n, double* a, const int* lda, const double* b,
             const int* ldb, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info);
}
#endif

namespace gf::blas {

namespace {
bool on_cpu_contiguous(const torch::Tensor& t) { return t.device().is_cpu() && t.is_contiguous(); }
// A square matrix whose rows may be padded (row stride >= columns, unit column stride), as congruence_lower makes.
bool on_cpu_row_strided(const torch::Tensor& t) {
  return t.device().is_cpu() && t.dim() == 2 && t.size(0) == t.size(1) && t.stride(1) == 1 &&
         t.stride(0) >= t.size(1);
}
// From this size on, the two-stage reduction beats dsyevd (0.022 vs 0.023 s at 768, 0.041 vs 0.048 s at 1024,
// 0.20 vs 0.34 s at 2048; level at 512).
constexpr int64_t two_stage_from = 768;
}  // namespace

void add_gram_lower(const torch::Tensor& x, torch::Tensor& accumulator, torch::Tensor& scratch, bool overwrite) {
  GF_CHECK(x.dim() == 2 && accumulator.dim() == 2 && accumulator.size(0) == x.size(1),
           "add_gram_lower: shapes ", x.sizes(), " and ", accumulator.sizes(), " do not fit");
#ifdef GF_OPENBLAS_DIR
  if (on_cpu_contiguous(x) && on_cpu_contiguous(accumulator) && accumulator.scalar_type() == torch::kDouble &&
      x.size(1) < (1 << 30) && x.size(0) < (1 << 30)) {
    // Row-major x [K, D] is the column-major D x K matrix A; A A^T in column-major "upper" is the row-major lower
    // triangle of x^T x.
    const int n = static_cast<int>(x.size(1)), k = static_cast<int>(x.size(0));
    const char uplo = 'U', trans = 'N';
    if (x.scalar_type() == torch::kDouble) {
      const double one = 1.0, beta = overwrite ? 0.0 : 1.0;
      dsyrk_(&uplo, &trans, &n, &k, &one, x.data_ptr<double>(), &n, &beta, accumulator.data_ptr<double>(), &n);
      return;
    }
    if (x.scalar_type() == torch::kFloat) {
      if (!scratch.defined() || scratch.sizes() != accumulator.sizes() || scratch.scalar_type() != torch::kFloat)
        scratch = torch::zeros(accumulator.sizes(), accumulator.options().dtype(torch::kFloat));
      const float one = 1.0f, zero = 0.0f;
      ssyrk_(&uplo, &trans, &n, &k, &one, x.data_ptr<float>(), &n, &zero, scratch.data_ptr<float>(), &n);
      // Only the lower triangle is defined: add that half (ATen's mixed-dtype add_ would be 4x slower).
      const float* src = scratch.data_ptr<float>();
      double* dst = accumulator.data_ptr<double>();
#pragma omp parallel for schedule(dynamic, 16)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j) dst[int64_t(i) * n + j] = (overwrite ? 0.0 : dst[int64_t(i) * n + j]) + src[int64_t(i) * n + j];
      return;
    }
  }
#endif
  torch::Tensor gram = torch::mm(x.t(), x);
  if (x.scalar_type() == torch::kFloat) {
    scratch = gram;
    gram = gram.to(accumulator.scalar_type());
  }
  if (overwrite) {
    accumulator.copy_(gram);
  } else {
    accumulator.add_(gram);
  }
}

void symmetrize_lower(torch::Tensor& m, const double* v, double alpha) {
  if (on_cpu_contiguous(m) && m.scalar_type() == torch::kDouble) {
    const int64_t n = m.size(0);
    double* p = m.data_ptr<double>();
    if (v) {
#pragma omp parallel for schedule(dynamic, 16)
      for (int64_t i = 0; i < n; ++i) {
        const double a = alpha * v[i];
        for (int64_t j = 0; j <= i; ++j) p[i * n + j] += a * v[j];
      }
    }
    constexpr int64_t tile = 64;  // tiles keep both the row and the column reads in cache
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bi = 0; bi < n; bi += tile)
      for (int64_t bj = bi; bj < n; bj += tile)
        for (int64_t i = bi; i < std::min(n, bi + tile); ++i)
          for (int64_t j = std::max(bj, i + 1); j < std::min(n, bj + tile); ++j) p[i * n + j] = p[j * n + i];
    return;
  }
  if (v) {
    auto vec = torch::from_blob(const_cast<double*>(v), {m.size(0)}, torch::kDouble).to(m.device());
    m.add_(torch::tril(torch::outer(vec, vec)), alpha);
  }
  m.copy_(torch::tril(m) + torch::tril(m, -1).t());
}

torch::Tensor congruence_lower(const torch::Tensor& l, const torch::Tensor& s) {
#ifdef GF_OPENBLAS_DIR
  if (on_cpu_contiguous(l) && on_cpu_contiguous(s) && l.scalar_type() == torch::kDouble &&
      s.scalar_type() == torch::kDouble && l.size(0) < (1 << 28)) {
    // Column-major views: row-major L is the upper-triangular U = L^T (so L L^T = U^T U), row-major S is S.
    // dsygst's second kind forms U S U^T = L^T S L using S's symmetry: about half the work of two triangular
    // products (0.095 s instead of 0.125 s at D = 2048), same values to rounding. It fills the column-major upper
    // triangle, i.e. the row-major lower one.
    // Rows are padded by one cache line: with a power-of-two row length every column of a panel maps to the same
    // cache sets, which slowed the eigenvalue reduction that reads this matrix next by ~10% at D = 2048.
    const int64_t dim = l.size(0), padded = dim >= two_stage_from ? dim + 8 : dim;
    auto m = torch::empty({dim, padded}, s.options()).narrow(1, 0, dim);
    m.copy_(s);
    const int n = static_cast<int>(dim), lda = static_cast<int>(padded), second_kind = 2;
    const char upper = 'U';
    int info = 0;
    dsygst_(&second_kind, &upper, &n, m.data_ptr<double>(), &lda, l.data_ptr<double>(), &n, &info);
    GF_CHECK_AS(InternalError, info == 0, "report this", "dsygst rejected argument ", -info);
    return m;
  }
#endif
  return torch::mm(torch::mm(l.t(), s), l);
}

bool cholesky_lower_inplace(torch::Tensor& s) {
#ifdef GF_OPENBLAS_DIR
  if (on_cpu_contiguous(s) && s.scalar_type() == torch::kDouble && s.size(0) < (1 << 30)) {
    // Column-major, the row-major buffer is S itself; the upper factor U (S = U^T U) it leaves in its upper
    // triangle is, read row-major, the lower factor L = U^T. LibTorch's linalg_cholesky would add two
    // transposing copies and a triangle mask (0.10 s instead of 0.036 s at D = 2048).
    const int n = static_cast<int>(s.size(0));
    const char upper = 'U';
    int info = 0;
    dpotrf_(&upper, &n, s.data_ptr<double>(), &n, &info);
    GF_CHECK_AS(InternalError, info >= 0, "report this", "dpotrf rejected argument ", -info);
    return info == 0;
  }
#endif
  auto [l, info] = torch::linalg_cholesky_ex(s);
  if (info.item<int64_t>() != 0) return false;
  s.copy_(l);
  return true;
}

torch::Tensor symmetric_eigenvalues(torch::Tensor& m) {
#ifdef GF_OPENBLAS_DIR
  if (on_cpu_row_strided(m) && m.scalar_type() == torch::kDouble && m.size(0) < (1 << 28) &&
      m.stride(0) < (1 << 28)) {
    const int n = static_cast<int>(m.size(0)), lda = static_cast<int>(m.stride(0));
    auto w = torch::empty({n}, m.options());
    if (n >= two_stage_from) {
      const int info = two_stage_eigenvalues(m.data_ptr<double>(), n, lda, w.data_ptr<double>());
      GF_CHECK_AS(NumericalError, info == 0, "check the features for extreme values",
                  "the symmetric eigenvalue solver did not converge (dsterf info ", info, ")");
      return std::get<0>(w.sort());
    }
    const char values_only = 'N', upper = 'U';  // column-major upper = row-major lower triangle
    // The optimal workspace lets the tridiagonal reduction run blocked (the minimum, 2n + 1, makes it unblocked).
    int lwork = -1, liwork = -1, iwork_size = 0, info = 0;
    double work_size = 0;
    dsyevd_(&values_only, &upper, &n, m.data_ptr<double>(), &lda, w.data_ptr<double>(), &work_size, &lwork,
            &iwork_size, &liwork, &info);
    lwork = std::max(2 * n + 1, static_cast<int>(work_size));
    liwork = std::max(1, iwork_size);
    std::vector<double> work(static_cast<size_t>(lwork));
    std::vector<int> iwork(static_cast<size_t>(liwork));
    dsyevd_(&values_only, &upper, &n, m.data_ptr<double>(), &lda, w.data_ptr<double>(), work.data(), &lwork,
            iwork.data(), &liwork, &info);
    GF_CHECK_AS(NumericalError, info == 0, "check the features for extreme values",
                "the symmetric eigenvalue solver did not converge (dsyevd info ", info, ")");
    return w;
  }
#endif
  return torch::linalg_eigvalsh(m);
}

}  // namespace gf::blas
