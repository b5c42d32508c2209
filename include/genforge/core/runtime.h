// Process-wide runtime settings: the thread count shared by LibTorch and OpenBLAS, and facts about the build.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace gf {

// Default thread count: GENFORGE_THREADS if set, else the measured best setting for this machine (all cores;
// W1 measured 2 threads faster than 1 on 2 cores, see docs/models/gmm.md).
int default_threads();
// Sets LibTorch's intra-op pool and OpenBLAS (one OpenMP pool when the OpenMP build is loaded).
void set_threads(int n);
int threads();

// Flush-to-zero and denormals-are-zero (x86's MXCSR; nothing elsewhere) on the calling thread and the OpenMP pool's
// threads while it lives; their previous modes restored after. Gradient training runs under it (train::run):
// values below FLT_MIN (1.2e-38) that build up in long runs -- tiny gradients and activations -- made every sgemm
// touching them take the CPU's slow microcode path (CTGAN on birdstrikes: 12.5 steps/s at the start, 3.3 after
// 26,000 steps, 12.5 again once flushed). Scoring, sampling and coding keep the default IEEE mode.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;  // the calling thread's mode
};

// The machine's physical memory in bytes (0 when unknown), and a check that an allocation of `bytes` for `what`
// fits in `share` of it: InvalidArgument with both figures and `hint` otherwise -- before the allocation, so a
// size the user chose by mistake fails in a second with a clear message instead of an out-of-memory crash.
// GENFORGE_MEMORY_LIMIT_MB lowers the memory the check assumes (the fuzzers run with 1500).
int64_t physical_memory_bytes();
void check_memory_estimate(double bytes, const std::string& what, const std::string& hint, double share = 0.8);

// Build and runtime facts for `genforge info --build`: versions, LibTorch's parallel backend and the BLAS,
// LAPACK and OpenMP shared objects actually loaded into this process.
nlohmann::json build_info();

}  // namespace gf
