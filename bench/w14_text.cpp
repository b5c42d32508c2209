// W14 helper: writes the text a language model trains on from a data spec (e.g. brown:n-r: the Brown sentences of
// categories n to r, one per line) to a file, so the peers (gzip, bzip2, xz, zstd) compress the same bytes.
// Usage: gf_bench_w14_text SPEC OUT
#include <cstdio>
#include <fstream>

#include "genforge/data/text.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SPEC OUT\n", argv[0]);
    return 2;
  }
  try {
    const std::string text = gf::load_text(argv[1]);
    std::ofstream(argv[2], std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
