// genforge watermark detect --model M.gf --key K FILE...: is this text from `generate --watermark-key K`?
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/watermark.h"
#include "genforge/core/error.h"
#include "genforge/io/bytes.h"
#include "genforge/registry.h"

namespace gf::cli {

int run_watermark(int argc, char** argv) {
  GF_CHECK_AS(InvalidArgument, argc >= 2 && std::string(argv[1]) == "detect",
              "usage: genforge watermark detect --model M.gf --key K text.txt",
              argc >= 2 ? msg("unknown watermark action '", argv[1], "'") : std::string("watermark needs an action"));
  CLI::App app("tests text for the green-list watermark of `genforge generate --watermark-key K`: z-score and "
               "one-sided p-value of its share of green tokens",
               "watermark detect");
  std::string model_path, secret;
  std::vector<std::string> files;
  Watermark watermark;
  double fpr = 0.01;
  bool json = false, count_repeats = false;
  CommonFlags common;
  app.add_option("files", files, "text files (each tested as one text)")->required();
  app.add_option("--model", model_path, "the language model whose tokenizer produced the text (.gf)")->required();
  app.add_option("--key", secret, "the secret given to generate --watermark-key")->required();
  app.add_option("--watermark-fraction", watermark.green_fraction, "γ given to generate")->capture_default_str();
  app.add_option("--watermark-context", watermark.context_width, "the context width given to generate")
      ->capture_default_str();
  app.add_option("--fpr", fpr, "false-positive rate of the verdict (one-sided z threshold)")->capture_default_str();
  app.add_flag("--count-repeats", count_repeats, "score repeated (previous, token) pairs every time");
  app.add_flag("--json", json, "one JSON object per file");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc - 1, argv + 1)) return 0;
  apply_common_flags(common);
  watermark.key = apps::watermark_key(secret);
  const double threshold = apps::watermark_threshold(fpr);
  const auto model = load_model(model_path);
  for (const auto& path : files) {
    const auto d = apps::detect_watermark_text(*model, read_file_bytes(path), watermark, count_repeats);
    const bool detected = d.z > threshold;
    if (json) {
      auto j = d.to_json();
      j["file"] = path;
      j["threshold_z"] = threshold;
      j["watermarked"] = detected;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << path << ": " << (detected ? "watermarked" : "no watermark found") << "  z " << std::fixed
                << std::setprecision(2) << d.z << " (threshold " << threshold << " at " << fpr * 100
                << " % false positives), p " << std::scientific << std::setprecision(2) << d.p_value
                << std::defaultfloat << ", " << d.green << " of " << d.scored << " tokens green\n";
    }
  }
  return 0;
}

}  // namespace gf::cli
