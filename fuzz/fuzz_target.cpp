// The libFuzzer driver of one target (GF_FUZZ_TARGET, set per executable by fuzz/CMakeLists.txt). An exception
// that escapes run_one aborts: libFuzzer reports it as a crash and writes the input.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gf::fuzz::run_one(gf::fuzz::targets().at(GF_FUZZ_TARGET),
                    std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
