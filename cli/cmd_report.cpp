// genforge report RUN_DIR|M.gf [--data REAL] [--holdout HELD] [--features fmnist] [--out report.html]
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/report.h"
#include "genforge/core/atomic_file.h"
#include "genforge/io/provenance.h"

namespace gf::cli {

int run_report(int argc, char** argv) {
  CLI::App app("one self-contained HTML page about a model: model card, training curves, samples, metrics, a "
               "memorisation check and a bias / coverage check (figures also as JSON beside it)",
               "report");
  std::string target, out = "report.html";
  apps::ReportOptions o;
  std::optional<uint64_t> seed;
  CommonFlags common;
  app.add_option("model", target, "a model file (.gf) or a run directory (train --run-dir)")->required();
  app.add_option("--data", o.data, "the training data (as train reads it): metrics and both checks");
  app.add_option("--holdout", o.holdout, "held-out real data: the memorisation reference and the likelihood");
  app.add_option("--features", o.features, "images: fmnist (classifier features, FID, class coverage) or pixels");
  app.add_option("--samples", o.samples, "judge these samples (a file as train reads it) instead of drawing");
  app.add_option("-n", o.n, "samples to draw (default: 64 images, 500 rows, 16 texts)");
  app.add_option("--max-real", o.max_real, "real items compared (the first ones)")->capture_default_str();
  app.add_option("--title", o.title, "the page's title");
  app.add_option("--seed", seed, "random seed of the samples (default 0)");
  app.add_option("--out,-o", out, "the page (.html); the figures go beside it as .json")->capture_default_str();
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, ends_with(out, ".html"), "e.g. --out report.html", "--out must end in .html, got '",
              out, "'");
  o.seed = resolve_seed(seed);
  const std::string json_path = out.substr(0, out.size() - 5) + ".json";
  check_writable(json_path);
  const auto figures = apps::write_report(target, out, o);
  write_file_atomic(json_path, [&](std::ostream& s) { s << figures.dump(1) << "\n"; });
  std::cout << "wrote " << out << " and " << json_path;
  if (figures.contains("memorisation")) {
    std::cout << "; memorisation: " << figures["memorisation"]["flagged"].get<int64_t>() << " samples flagged";
  }
  for (const auto& c : figures["coverage"]) {
    if (!c["under"].empty() || !c["over"].empty()) {
      std::cout << "; " << c["what"].get<std::string>() << ": under " << c["under"].dump() << ", over "
                << c["over"].dump();
    }
  }
  std::cout << "\n";
  return 0;
}

}  // namespace gf::cli
