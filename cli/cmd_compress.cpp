#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/compress.h"
#include "genforge/core/error.h"

namespace gf::cli {
namespace {

// `[MODEL] IN OUT`: two paths use the built-in model.
void split_paths(const std::vector<std::string>& paths, const char* verb, std::string* model, std::string* in,
                 std::string* out) {
  GF_CHECK_AS(InvalidArgument, paths.size() == 2 || paths.size() == 3,
              std::string("genforge ") + verb + " [MODEL.gf] INPUT OUTPUT (without a model: the built-in order-k model)",
              verb, " takes [MODEL] INPUT OUTPUT, got ", paths.size(), " paths");
  if (paths.size() == 3) *model = paths[0];
  *in = paths[paths.size() - 2];
  *out = paths.back();
}

std::string describe(const apps::CompressReport& r, bool compressing) {
  const auto j = r.to_json();
  std::ostringstream s;
  s << std::fixed << std::setprecision(3);
  if (compressing) {
    s << "compressed " << r.original_bytes << " bytes to " << r.compressed_bytes << " ("
      << j["bits_per_byte"].get<double>() << " bits per byte";
    if (j.contains("bits_per_pixel")) s << ", " << j["bits_per_pixel"].get<double>() << " per pixel";
    s << "; the model's cross-entropy " << j["model_bits_per_byte"].get<double>() << " bits per byte, coding overhead "
      << std::setprecision(2) << 100.0 * j["coding_overhead"].get<double>() << " %)";
  } else {
    s << "decompressed " << r.compressed_bytes << " bytes to " << r.original_bytes << " (CRC-32 checked)";
  }
  s << std::setprecision(1) << " in " << r.seconds << " s (" << j["kb_per_s"].get<double>() << " KB/s) with "
    << r.coder;
  return s.str();
}

int run_coder_verb(int argc, char** argv, bool compressing) {
  const char* verb = compressing ? "compress" : "decompress";
  CLI::App app(compressing ? "lossless compression driven by a model's next-symbol probabilities (arithmetic coding)"
                           : "restore a file compressed by `genforge compress` (with the same model file)",
               verb);
  std::vector<std::string> paths;
  apps::CompressOptions options;
  bool json = false;
  CommonFlags common;
  app.add_option("paths", paths, "[MODEL.gf] INPUT OUTPUT: a gpt for text, a pixelcnn for IDX / .npy images, a "
                                 "categorical hmm for lines of symbols, no model for any file (the built-in order-k model)")->required();
  if (compressing) {
    app.add_option("--order", options.order, "built-in model: the longest context in bytes (0-7)")->capture_default_str();
    app.add_option("--batch", options.batch, "text segments or images coded together")->capture_default_str();
    app.add_option("--segment-length", options.segment_length,
                   "text: tokens per independently coded segment (0: max(4096, tokens / 64))")->capture_default_str();
  }
  app.add_flag("--json", json, "print sizes, bits per byte, the model's cross-entropy and the coding overhead as JSON");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  options.progress = !common.quiet;
  std::string model, in, out;
  split_paths(paths, verb, &model, &in, &out);
  const auto report = compressing ? apps::compress_file(model, in, out, options)
                                  : apps::decompress_file(model, in, out, options);
  if (json) {
    std::cout << report.to_json().dump() << "\n";
  } else {
    std::cout << describe(report, compressing) << "\n";
  }
  return 0;
}

}  // namespace

int run_compress(int argc, char** argv) { return run_coder_verb(argc, argv, true); }
int run_decompress(int argc, char** argv) { return run_coder_verb(argc, argv, false); }

}  // namespace gf::cli
