// GF_CPU_CLONES before a hot function compiles it twice on x86-64 — for x86-64-v3 (AVX2 + FMA) and for the
// baseline — and picks the clone at load time; elsewhere it is empty. (GCC's "avx2" clone has no FMA, and an
// "arch=haswell" clone is never chosen on Skylake-X: x86-64-v3 is the level that runs on both.)
#pragma once

// clang (the sanitizer and fuzzing build) compiles the baseline only: clang 14 cannot clone function templates.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GF_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GF_CPU_CLONES
#endif
