#include "commands.h"
#include "genforge/core/openblas.h"

int main(int argc, char** argv) {
  gf::reexec_with_better_openblas_core(argv);  // before any work: OpenBLAS reads OPENBLAS_CORETYPE when it loads
  return gf::cli::main_entry(argc, argv);
}
