#include "genforge/core/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <link.h>
#include <omp.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include <torch/version.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "genforge/core/error.h"
#include "genforge/core/openblas.h"

namespace gf {
namespace {

std::vector<std::string> loaded_objects() {
  std::vector<std::string> out;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        auto* list = static_cast<std::vector<std::string>*>(data);
        if (info->dlpi_name && info->dlpi_name[0]) list->push_back(info->dlpi_name);
        return 0;
      },
      &out);
  return out;
}

// Calls an OpenBLAS entry point when the loaded BLAS is OpenBLAS.
template <class Fn>
Fn openblas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

std::string openblas_core() {
  auto corename = openblas_symbol<char* (*)()>("openblas_get_corename");
  return corename ? std::string(corename()) : std::string();
}

std::string better_openblas_core() {
  const std::string core = openblas_core();
  const bool generic = core == "Prescott" || core == "Core2" || core == "Nehalem";  // SSE kernels
  if (!generic || std::getenv("OPENBLAS_CORETYPE")) return "";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

void reexec_with_better_openblas_core(char** argv) {
  if (std::getenv("GENFORGE_KEEP_OPENBLAS_CORE")) return;
  const std::string better = better_openblas_core();
  if (better.empty()) return;
  setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // the exec failed: carry on with the kernels loaded
}

int default_threads() {
  if (const char* env = std::getenv("GENFORGE_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    GF_CHECK_AS(InvalidArgument, end != env && *end == '\0' && n >= 1 && n <= 4096,
                "set GENFORGE_THREADS to a positive integer, e.g. GENFORGE_THREADS=2",
                "GENFORGE_THREADS='", env, "' is not a positive integer");
    return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void set_threads(int n) {
  GF_CHECK(n >= 1, "thread count must be at least 1, got ", n);
  at::set_num_threads(n);
  omp_set_num_threads(n);
  if (auto set = openblas_symbol<void (*)(int)>("openblas_set_num_threads")) set(n);
}

int threads() { return at::get_num_threads(); }

namespace {
constexpr unsigned kFlushDenormals = 0x8040;  // MXCSR's FTZ (bit 15) and DAZ (bit 6)
// A pool thread's mode before the last FlushDenormals set it.
struct PoolThreadMode {
  bool changed = false;
  unsigned saved = 0;
};
thread_local PoolThreadMode pool_thread_mode;
thread_local int flush_depth = 0;  // FlushDenormals alive on this thread: only the outermost touches the pool
}  // namespace

FlushDenormals::FlushDenormals() {
#if defined(__SSE__)
  saved_ = _mm_getcsr();
  _mm_setcsr(saved_ | kFlushDenormals);
  if (flush_depth++ > 0) return;
#pragma omp parallel num_threads(at::get_num_threads())
  {
    if (omp_get_thread_num() != 0 && !pool_thread_mode.changed) {
      pool_thread_mode = {true, _mm_getcsr()};
      _mm_setcsr(pool_thread_mode.saved | kFlushDenormals);
    }
  }
#endif
}

FlushDenormals::~FlushDenormals() {
#if defined(__SSE__)
  _mm_setcsr(saved_);
  if (--flush_depth > 0) return;
#pragma omp parallel num_threads(at::get_num_threads())
  {
    if (omp_get_thread_num() != 0 && pool_thread_mode.changed) {
      _mm_setcsr(pool_thread_mode.saved);
      pool_thread_mode.changed = false;
    }
  }
#endif
}

int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
}

double memory_budget_bytes() {
  double available = static_cast<double>(physical_memory_bytes());
  if (const char* limit = std::getenv("GENFORGE_MEMORY_LIMIT_MB")) {
    const double mb = std::atof(limit);
    if (mb > 0 && (available <= 0 || mb * 1e6 < available)) available = mb * 1e6;
  }
  return available;
}

void check_memory_estimate(double bytes, const std::string& what, const std::string& hint, double share) {
  const double available = memory_budget_bytes();
  if (available <= 0 || bytes <= share * available) return;
  auto gigabytes = [](double b) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GB", b / 1e9);
    return std::string(text);
  };
  throw InvalidArgument(msg(what, " needs about ", gigabytes(bytes), ", more than this machine's ",
                            gigabytes(available), " of memory",
                            std::getenv("GENFORGE_MEMORY_LIMIT_MB") ? " (GENFORGE_MEMORY_LIMIT_MB)" : ""),
                        hint);
}

nlohmann::json build_info() {
  nlohmann::json info;
  info["genforge_version"] = GF_VERSION;
  info["torch_version"] = TORCH_VERSION;
  info["compiler"] = __VERSION__;
  info["threads"] = threads();
  info["parallel"] = at::get_parallel_info();
  std::vector<std::string> blas;
  for (const auto& path : loaded_objects()) {
    for (const char* key : {"libblas", "liblapack", "libopenblas", "libgomp", "libmkl", "libtorch_cpu"}) {
      if (path.find(key) != std::string::npos) blas.push_back(path);
    }
  }
  info["loaded_libraries"] = blas;
  if (auto config = openblas_symbol<char* (*)()>("openblas_get_config")) info["openblas_config"] = config();
  const std::string core = openblas_core();
  if (!core.empty()) info["openblas_core"] = core;
  const std::string better = better_openblas_core();
  if (!better.empty()) {
    info["openblas_note"] = msg("OpenBLAS does not know this CPU and runs its generic ", core, " kernels; ",
                                "OPENBLAS_CORETYPE=", better, " selects faster ones (the genforge command does so)");
  }
  if (auto parallel = openblas_symbol<int (*)()>("openblas_get_parallel")) {
    int p = parallel();
    info["openblas_threading"] = p == 0 ? "sequential" : p == 1 ? "pthreads" : p == 2 ? "openmp" : "unknown";
  }
#ifdef GF_OPENBLAS_DIR
  info["openblas_rpath"] = GF_OPENBLAS_DIR;
#endif
  return info;
}

}  // namespace gf
