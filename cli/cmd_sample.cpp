#include <cmath>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {
int run_sample(int argc, char** argv) {
  CLI::App app("draw samples from a saved model", "sample");
  app.allow_extras();
  app.footer("Settings of the saved model for this sampling, e.g. an RBM's --gibbs_steps N --thin N "
             "--sample_chains N (see its doc page).");
  std::string model_path, out, label;
  int64_t n = 0, steps = 10, rows = 1, columns = 0;
  std::optional<uint64_t> seed;
  std::vector<std::string> given;
  bool interpolate = false;
  CommonFlags common;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("-n,--n", n, "number of samples");
  app.add_option("--out,-o", out, "output file: .csv or .npy; .png for image models (a grid); .txt for a sequence model trained on text")->required();
  app.add_option("--seed", seed, "random seed (same seed, same samples; default 0)");
  app.add_option("--class", label, "class to sample, by name or index (class-conditional models)");
  app.add_option("--given", given, "fix a column, COLUMN=VALUE (repeatable): the rest is drawn from p(rest | given)");
  app.add_flag("--interpolate", interpolate, "latent interpolation strips (slerp under a Gaussian prior)");
  app.add_option("--steps", steps, "--interpolate: examples per strip");
  app.add_option("--rows", rows, "--interpolate: number of strips");
  app.add_option("--columns", columns, "images per grid row (default: a square grid; --steps when interpolating)");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, interpolate || n >= 1, "ask for at least one sample, e.g. -n 100",
              "-n must be at least 1, got ", n);
  GF_CHECK_AS(InvalidArgument, columns >= 0, "give --columns N with N >= 1", "--columns must be >= 1, got ", columns);
  check_writable(out);
  auto opened = open_model(model_path, option_flags(app.remaining(), "sample"));
  record_provenance_model(model_path, opened.model->kind());
  GF_CHECK_AS(InvalidArgument, opened.input_overrides.empty(), "sample reads no data; give only model settings",
              "'", opened.input_overrides.front().first, "' is an input option and does not apply to sample");
  auto& model = opened.model;
  auto gen = make_generator(resolve_seed(seed));
  const bool images = samples_are_images(*model);
  const bool png = ends_with(out, ".png");
  GF_CHECK_AS(InvalidArgument, !png || images, "write samples of tabular models to .csv or .npy", "model kind '",
              model->kind(), "' does not produce images, so it cannot write '", out, "'");
  torch::Tensor samples;
  if (interpolate) {
    samples = interpolate_latent(*model, steps, rows, gen, label.empty() ? -1 : class_index(*model, label));
    if (columns == 0) columns = steps;
  } else if (!given.empty()) {
    GF_CHECK_AS(InvalidArgument, label.empty(), "give either --class or --given", "--class and --given together");
    samples = draw_conditional(*model, n, parse_set_pairs(given, "--given"), gen);
  } else {
    samples = draw_samples(*model, n, label, gen);
  }
  const int64_t count = samples.size(0);
  if (png) {
    if (columns == 0) columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
    write_png_grid(out, samples, columns);
  } else if (ends_with(out, ".npy")) {
    write_npy(out, samples);
  } else if (ends_with(out, ".txt")) {
    const std::string text = samples_text(*model, samples);
    write_file_atomic(out, [&](std::ostream& o) { o << text; });
  } else {
    write_csv(out, samples_table(*model, samples));
  }
  std::cout << "wrote " << count << (interpolate ? " interpolated" : "") << " samples to " << out << " (seed "
            << resolve_seed(seed) << (seed ? "" : ", the default: --seed N for others") << ")\n";
  return 0;
}

}  // namespace gf::cli
