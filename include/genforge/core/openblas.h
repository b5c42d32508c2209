// OpenBLAS's kernel choice. A DYNAMIC_ARCH OpenBLAS picks its kernels for the CPU when it loads; on a CPU newer than
// its release (Debian 12's 0.3.21 on recent Xeons) it falls back to its generic Prescott (SSE3) kernels: about 4x
// slower sgemm on one core than its SkylakeX ones (27 against 114 GFLOP/s, 512 x 784 x 512), and, like its Haswell
// ones, not bit-identical across thread counts. OPENBLAS_CORETYPE, read at load, picks others.
#pragma once
#include <string>

namespace gf {

// The kernels this process's OpenBLAS runs ("SkylakeX", "Haswell", "Prescott", ...; empty when the BLAS is not
// OpenBLAS).
std::string openblas_core();
// The OPENBLAS_CORETYPE that would serve this CPU better than the generic kernels OpenBLAS fell back to: "SkylakeX"
// (AVX-512 F/BW/DQ/VL) or "Haswell" (AVX2 + FMA); empty when OpenBLAS knows the CPU, OPENBLAS_CORETYPE is set
// already, or nothing better fits.
std::string better_openblas_core();

// For a program's main, before anything else: when better_openblas_core() names kernels, runs the program again
// (/proc/self/exe, the same arguments) with OPENBLAS_CORETYPE set to them; returns only when it does not (nothing
// better, GENFORGE_KEEP_OPENBLAS_CORE set, or the exec failed). The genforge CLI calls it.
void reexec_with_better_openblas_core(char** argv);

}  // namespace gf
