#include "eval/tridiagonal.h"

#ifdef GF_OPENBLAS_DIR
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "core/cpu_clones.h"
#include "genforge/core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern "C" {
// Column-major BLAS / LAPACK from the OpenBLAS build genforge links.
void dsymm_(const char* side, const char* uplo, const int* m, const int* n, const double* alpha, const double* a,
            const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc);
void dsyr2k_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha, const double* a,
             const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc);
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
void dtrmm_(const char* side, const char* uplo, const char* trans, const char* diag, const int* m, const int* n,
            const double* alpha, const double* a, const int* lda, double* b, const int* ldb);
void dgeqrt3_(const int* m, const int* n, double* a, const int* lda, double* t, const int* ldt, int* info);
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info);
void dlarft_(const char* direct, const char* storev, const int* n, const int* k, double* v, const int* ldv,
             const double* tau, double* t, const int* ldt);
void dsterf_(const int* n, double* d, double* e, int* info);
}

namespace gf::blas {

namespace {

// ---- Stage 1: dense -> band of width b, all in BLAS-3 --------------------------------------------------------------
//
// In column-major terms the row-major lower triangle is the upper one of the same symmetric matrix; the panels
// below are read row-major (rows k+b.., columns k..k+b) and copied column-major for LAPACK. For each panel P
// [m, b]: P = Q R with Q = I - V T V^T (compact WY), R goes into the band, and the trailing matrix A22 becomes
// Q^T A22 Q = A22 - V Z^T - Z V^T with W = A22 V T, Z = W - V (T^T V^T W) / 2.
void reduce_to_band(double* a, int n, int lda, int b) {
  std::vector<double> v(size_t(n) * b), t(size_t(b) * b), w(size_t(n) * b), x(size_t(b) * b), tau(b);
  std::vector<double> work(1);
  const double one = 1, zero = 0, minus_one = -1, minus_half = -0.5;
  for (int k = 0; k + b < n; k += b) {
    int m = n - k - b;            // rows below the panel's band part
    int reflectors = std::min(b, m);
    for (int c = 0; c < b; ++c)  // v [m, b] column-major <- A[k+b.., k+c]
      for (int r = 0; r < m; ++r) v[size_t(c) * m + r] = a[size_t(k + b + r) * lda + k + c];
    int info = 0;
    if (m >= b) {
      dgeqrt3_(&m, &b, v.data(), &m, t.data(), &b, &info);  // recursive: V and T in one BLAS-3 pass
    } else {  // the last, short panel: a plain QR and its T
      int lwork = -1;
      dgeqrf_(&m, &b, v.data(), &m, tau.data(), work.data(), &lwork, &info);
      lwork = std::max(1, int(work[0]));
      work.resize(size_t(lwork));
      dgeqrf_(&m, &b, v.data(), &m, tau.data(), work.data(), &lwork, &info);
      dlarft_("F", "C", &m, &reflectors, v.data(), &m, tau.data(), t.data(), &reflectors);
    }
    GF_CHECK_AS(InternalError, info == 0, "report this", "panel QR rejected argument ", -info);
    for (int c = 0; c < b; ++c) {  // R (upper trapezoid) is the panel's new band part; below it, zeros
      for (int r = 0; r < std::min(m, b); ++r)
        a[size_t(k + b + r) * lda + k + c] = r <= c ? v[size_t(c) * m + r] : 0.0;
    }
    for (int c = 0; c < reflectors; ++c) {  // V is unit lower trapezoidal
      std::fill(v.begin() + size_t(c) * m, v.begin() + size_t(c) * m + c, 0.0);
      v[size_t(c) * m + c] = 1;
    }
    double* a22 = a + size_t(k + b) * lda + (k + b);
    const int ldt = m >= b ? b : reflectors;
    dsymm_("L", "U", &m, &reflectors, &one, a22, &lda, v.data(), &m, &zero, w.data(), &m);       // W = A22 V
    dtrmm_("R", "U", "N", "N", &m, &reflectors, &one, t.data(), &ldt, w.data(), &m);            // W = W T
    dgemm_("T", "N", &reflectors, &reflectors, &m, &one, v.data(), &m, w.data(), &m, &zero, x.data(),
           &reflectors);                                                                        // X = V^T W
    dtrmm_("L", "U", "T", "N", &reflectors, &reflectors, &one, t.data(), &ldt, x.data(), &reflectors);  // T^T X
    dgemm_("N", "N", &m, &reflectors, &reflectors, &minus_half, v.data(), &m, x.data(), &reflectors, &one,
           w.data(), &m);                                                                       // Z = W - V X / 2
    dsyr2k_("U", "N", &m, &reflectors, &minus_one, v.data(), &m, w.data(), &m, &one, a22, &lda);  // A22 -= VZ'+ZV'
  }
}

// ---- Stage 2: band -> tridiagonal by bulge chasing ------------------------------------------------------------------
//
// The band lives in a compact array where element (i, j), 0 <= i - j < 2b, is at i * 2b + j: a row-major matrix
// with row stride 2b whose blocks near the diagonal are ordinary strided blocks. Width 2b leaves room for the
// bulges. Sweep i zeroes column i below its subdiagonal with a reflector on rows i+1..i+b, then chases the fill
// down in steps of b rows; step t of a sweep touches only the columns of its block R_t = [i+1+tb, i+1+(t+1)b).

// Kernels are inlined into chase_step, which is compiled once per CPU level (GF_CPU_CLONES).
#define GF_KERNEL __attribute__((always_inline)) inline

// Householder reflector H = I - tau v v^T (v[0] = 1) with H x = beta e1, LAPACK's dlarfg convention.
GF_KERNEL void householder(int len, const double* x, int stride, double* v, double& tau, double& beta) {
  const double alpha = x[0];
  double sigma = 0;
  for (int i = 1; i < len; ++i) {
    v[i] = x[size_t(i) * stride];
    sigma += v[i] * v[i];
  }
  v[0] = 1;
  if (sigma == 0) {
    tau = 0;
    beta = alpha;
    return;
  }
  const double norm = std::sqrt(alpha * alpha + sigma);
  beta = alpha <= 0 ? norm : -norm;
  tau = (beta - alpha) / beta;
  const double scale = 1.0 / (alpha - beta);
  for (int i = 1; i < len; ++i) v[i] *= scale;
}

// The kernels below take their length as a template argument where it is the band width (32: every step but the
// last few of a sweep), so the loops compile to fixed-length vector code; N = 0 reads it at run time. Reductions
// use `omp simd` because GCC keeps the order of a plain floating-point sum and would not vectorize it.

// D <- H D H for the symmetric block D [len, len] (lower triangle, row stride ld), H = I - tau v v^T.
template <int N>
GF_KERNEL void reflect_both_sides(double* d, int ld, int len_, const double* v, double tau, double* w) {
  const int len = N > 0 ? N : len_;
  std::fill(w, w + len, 0.0);
  for (int i = 0; i < len; ++i) {  // w = D v from the lower triangle
    const double* row = d + size_t(i) * ld;
    const double vi = v[i];
    double dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < i; ++j) {
      dot += row[j] * v[j];
      w[j] += row[j] * vi;
    }
    w[i] += dot + row[i] * vi;
  }
  double wv = 0;
#pragma omp simd reduction(+ : wv)
  for (int i = 0; i < len; ++i) {
    w[i] *= tau;
    wv += w[i] * v[i];
  }
  const double alpha = -0.5 * tau * wv;
  for (int i = 0; i < len; ++i) w[i] += alpha * v[i];
  for (int i = 0; i < len; ++i) {  // D -= v w^T + w v^T
    double* row = d + size_t(i) * ld;
    const double vi = v[i], wi = w[i];
    for (int j = 0; j <= i; ++j) row[j] -= vi * w[j] + wi * v[j];
  }
}

// B <- B H for B [rows, cols] (row stride ld). Four rows at a time: four independent dot products.
template <int N>
GF_KERNEL void reflect_right(double* b, int ld, int rows, int cols_, const double* v, double tau) {
  const int cols = N > 0 ? N : cols_;
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    double *r0 = b + size_t(r) * ld, *r1 = r0 + ld, *r2 = r1 + ld, *r3 = r2 + ld;
    double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
#pragma omp simd reduction(+ : t0, t1, t2, t3)
    for (int j = 0; j < cols; ++j) {
      t0 += r0[j] * v[j];
      t1 += r1[j] * v[j];
      t2 += r2[j] * v[j];
      t3 += r3[j] * v[j];
    }
    t0 *= tau;
    t1 *= tau;
    t2 *= tau;
    t3 *= tau;
    for (int j = 0; j < cols; ++j) {
      r0[j] -= t0 * v[j];
      r1[j] -= t1 * v[j];
      r2[j] -= t2 * v[j];
      r3[j] -= t3 * v[j];
    }
  }
  for (; r < rows; ++r) {
    double* row = b + size_t(r) * ld;
    double t = 0;
#pragma omp simd reduction(+ : t)
    for (int j = 0; j < cols; ++j) t += row[j] * v[j];
    t *= tau;
    for (int j = 0; j < cols; ++j) row[j] -= t * v[j];
  }
}

// B <- H B for B [rows, cols], H = I - tau u u^T. Column 0 too, although the caller overwrites it with beta e1:
// full-length rows vectorize better than rows from column 1.
template <int N>
GF_KERNEL void reflect_left(double* b, int ld, int rows, int cols_, const double* u, double tau, double* w) {
  const int cols = N > 0 ? N : cols_;
  double fixed[N > 0 ? N : 1];  // a compile-time-sized accumulator stays in registers
  double* acc = N > 0 ? fixed : w;
  std::fill(acc, acc + cols, 0.0);
  for (int r = 0; r < rows; ++r) {
    const double* row = b + size_t(r) * ld;
    const double ur = u[r];
    for (int j = 0; j < cols; ++j) acc[j] += ur * row[j];
  }
  for (int j = 0; j < cols; ++j) acc[j] *= tau;
  for (int r = 0; r < rows; ++r) {
    double* row = b + size_t(r) * ld;
    const double ur = u[r];
    for (int j = 0; j < cols; ++j) row[j] -= ur * acc[j];
  }
}

struct Band {
  double* data;
  int n, b, stride;  // stride = 2b
  double* at(int i, int j) const { return data + size_t(i) * stride + j; }
  int steps(int sweep) const { return (n - 1 - sweep + b - 1) / b; }
};

template <int N>
GF_KERNEL void chase_kernels(const Band& band, int r0, int len, int len1, double* v, double tau, double* u,
                             double& tau1, double& beta1, double* w) {
  const int ld = band.stride;
  if (tau != 0) reflect_both_sides<N>(band.at(r0, r0), ld, len, v, tau, w);
  if (len1 <= 0) return;
  double* below = band.at(r0 + len, r0);  // [len1, len]
  if (tau != 0) reflect_right<N>(below, ld, len1, len, v, tau);
  householder(len1, below, ld, u, tau1, beta1);
  if (tau1 != 0) reflect_left<N>(below, ld, len1, len, u, tau1, w);
  below[0] = beta1;
  for (int r = 1; r < len1; ++r) below[size_t(r) * ld] = 0;
}

// One step of a sweep: reflector v (tau) acts on rows/columns R = [r0, r0 + len). Applies it to the diagonal
// block, then to the block below (creating the bulge), and replaces v by the reflector that zeroes that block's
// first column. Returns false when R reaches the end of the matrix.
GF_CPU_CLONES bool chase_step(const Band& band, int r0, int len, double* v, double& tau, double* u, double* w) {
  const int len1 = std::min(band.b, band.n - r0 - len);
  double tau1 = 0, beta1 = 0;
  if (len == 32) {
    chase_kernels<32>(band, r0, len, len1, v, tau, u, tau1, beta1, w);
  } else {
    chase_kernels<0>(band, r0, len, len1, v, tau, u, tau1, beta1, w);
  }
  if (len1 <= 0) return false;
  std::copy(u, u + len1, v);
  tau = tau1;
  return true;
}

void spin_until_at_least(const std::atomic<int>& value, int target) {
  for (int spins = 0; value.load(std::memory_order_acquire) < target; ++spins) {
#if defined(__x86_64__)
    _mm_pause();
#endif
    if (spins > 4096) std::this_thread::yield();  // oversubscribed: let the thread we wait for run
  }
}

// Sweeps in order on every thread; each thread does its share of every sweep's steps (the first share the top
// steps), so a thread keeps working in one region of the band and only the reflector crosses between threads at
// the share boundary. Step t of sweep i may run once sweep i has done step t-1 and sweep i-1 steps t and t+1,
// whose columns overlap R_t.
void band_to_tridiagonal(Band band, double* diagonal, double* offdiagonal, int threads) {
  const int n = band.n, sweeps = std::max(0, n - 2), width = band.stride;
  std::vector<std::atomic<int>> done(size_t(std::max(1, sweeps)));
  for (auto& d : done) d.store(0, std::memory_order_relaxed);
  std::vector<double> handover(size_t(std::max(1, sweeps)) * (width + 1));  // reflector + tau at share ends
#pragma omp parallel num_threads(threads)
  {
    const int thread = omp_get_thread_num(), team = omp_get_num_threads();
    std::vector<double> v(width), u(width), w(width);
    for (int i = 0; i < sweeps; ++i) {
      const int steps = band.steps(i);
      const int first = int(int64_t(steps) * thread / team), end = int(int64_t(steps) * (thread + 1) / team);
      double tau = 0;
      for (int t = first; t < end; ++t) {
        spin_until_at_least(done[i], t);
        if (i > 0) spin_until_at_least(done[i - 1], std::min(t + 2, band.steps(i - 1)));
        const int r0 = i + 1 + t * band.b, len = std::min(band.b, n - r0);
        double* box = &handover[size_t(i) * (width + 1)];
        if (t == 0) {  // zero column i below the subdiagonal
          double beta = 0;
          householder(len, band.at(i + 1, i), width, v.data(), tau, beta);
          *band.at(i + 1, i) = beta;
          for (int r = 1; r < len; ++r) *band.at(i + 1 + r, i) = 0;
        } else if (t == first) {
          std::copy(box, box + len, v.begin());
          tau = box[width];
        }
        const bool more = chase_step(band, r0, len, v.data(), tau, u.data(), w.data());
        if (more && t + 1 == end) {
          std::copy(v.begin(), v.begin() + std::min(band.b, n - r0 - len), box);
          box[width] = tau;
        }
        done[i].store(t + 1, std::memory_order_release);
      }
    }
  }
  for (int i = 0; i < n; ++i) diagonal[i] = *band.at(i, i);
  for (int i = 0; i + 1 < n; ++i) offdiagonal[i] = *band.at(i + 1, i);
}

}  // namespace

int two_stage_eigenvalues(double* a, int n, int lda, double* eigenvalues, const TwoStageOptions& options) {
  GF_CHECK(n >= 1 && lda >= n && options.bandwidth >= 1, "two_stage_eigenvalues: n ", n, ", lda ", lda,
           ", bandwidth ", options.bandwidth);
  const int b = std::min(options.bandwidth, std::max(1, n - 1));
  reduce_to_band(a, n, lda, b);
  const int width = 2 * b;
  std::vector<double> compact(size_t(n) * width + n, 0.0);
  Band band{compact.data(), n, b, width};
  for (int i = 0; i < n; ++i)
    for (int j = std::max(0, i - b); j <= i; ++j) *band.at(i, j) = a[size_t(i) * lda + j];
  // Each thread needs a few steps of the longest sweep, or it only waits; and a core of its own, or it spins while
  // the thread it waits for is descheduled (OMP_NUM_THREADS above the core count).
  int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  if (options.threads <= 0 && std::thread::hardware_concurrency() > 0)
    threads = std::min(threads, int(std::thread::hardware_concurrency()));
  threads = std::max(1, std::min(threads, band.steps(0) / 4));
  std::vector<double> offdiagonal(size_t(n), 0.0);
  band_to_tridiagonal(band, eigenvalues, offdiagonal.data(), threads);
  int info = 0;
  dsterf_(&n, eigenvalues, offdiagonal.data(), &info);
  return info;
}

}  // namespace gf::blas
#endif  // GF_OPENBLAS_DIR
