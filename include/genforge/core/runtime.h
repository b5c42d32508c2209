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

// Build and runtime facts for `genforge info --build`: versions, LibTorch's parallel backend and the BLAS,
// LAPACK and OpenMP shared objects actually loaded into this process.
nlohmann::json build_info();

}  // namespace gf
