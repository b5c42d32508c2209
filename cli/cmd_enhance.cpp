// genforge enhance M.gf --images LOW --factor F --out G.png: low-resolution images enlarged with an image model as
// the prior (apps/enhance.h); --downscale measures it on full-size images against bicubic interpolation.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/enhance.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/images.h"
#include "genforge/data/npy.h"
#include "genforge/io/provenance.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_enhance(int argc, char** argv) {
  CLI::App app("enlarge low-resolution images with an image model as the prior (projection and back-projection); "
               "bicubic interpolation alongside",
               "enhance");
  app.allow_extras();
  std::string model_path, images_spec, out;
  int64_t limit = 16;
  bool measure = false, json = false;
  apps::EnhanceOptions options;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf): vae, autoencoder")->required();
  app.add_option("--images", images_spec,
                 "low-resolution images (their sides times the factor are the model's): an image file or folder, an IDX "
                 "file; with --downscale, images of the model's size (e.g. fashion-mnist:test)")
      ->required();
  app.add_option("--out,-o", out, ".png: a grid, one row per image, the first 32 (input, bicubic, enhanced[, original]); .npy: the "
                                  "enhanced images [N, C, H, W]")
      ->required();
  app.add_option("--factor", options.factor, "enlargement of each side")->capture_default_str();
  app.add_option("--iterations", options.iterations, "projection and back-projection rounds")->capture_default_str();
  app.add_flag("--downscale", measure,
               "the images are full size: average them down by the factor first, then print PSNR of bicubic and of "
               "the model against the originals");
  app.add_option("--limit", limit, "the first N images (0: all)")->capture_default_str();
  app.add_flag("--json", json, "print the figures as JSON");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  options.validate();
  GF_CHECK_AS(InvalidArgument, ends_with(out, ".png") || ends_with(out, ".npy"), "write a .png grid or a .npy tensor",
              "'", out, "' is neither .png nor .npy");
  check_writable(out);
  auto opened = open_model(model_path, option_flags(app.remaining(), "enhance"));
  record_provenance_model(model_path, opened.model->kind());
  const Model& model = *opened.model;
  apps::require_enhancing(model);
  data::Source source = data::load_source(images_spec, DataKind::images, source_options(table_flags, limit));
  torch::Tensor original, low;  // [N, C, H, W] (with --downscale), [N, C, h, w]: the model's input space
  if (measure) {
    original = prepare(model, source, opened.input_overrides).x.to(torch::kFloat32);
    GF_CHECK_AS(InvalidArgument, original.dim() == 4, "give images", "'", images_spec, "' are not images");
    low = apps::downscale(original, options.factor);
  } else {
    // Each low-resolution pixel repeated over its block goes through the model's own input pipeline; the block
    // averages are then the input in the model's space.
    auto& px = source.images.images;  // [N, C, h, w] uint8
    px = px.repeat_interleave(options.factor, 2).repeat_interleave(options.factor, 3);
    const auto up = prepare(model, source, opened.input_overrides).x.to(torch::kFloat32);
    GF_CHECK_AS(InvalidArgument, up.dim() == 4, "give images", "'", images_spec, "' are not images");
    low = apps::downscale(up, options.factor);
  }
  const auto enhanced = apps::enhance(model, low, options);  // [N, C, H, W]
  const auto cubic = apps::bicubic(low, options.factor);
  if (ends_with(out, ".npy")) {
    write_npy(out, enhanced);
  } else {
    // The grid shows the first 32 images (every image counts in the figures).
    const int64_t shown = std::min<int64_t>(32, enhanced.size(0));
    std::vector<torch::Tensor> columns{
        low.slice(0, 0, shown).repeat_interleave(options.factor, 2).repeat_interleave(options.factor, 3),
        cubic.slice(0, 0, shown), enhanced.slice(0, 0, shown)};
    if (original.defined()) columns.push_back(original.slice(0, 0, shown));
    write_png_grid(out, torch::stack(columns, 1).flatten(0, 1), static_cast<int64_t>(columns.size()));
  }
  nlohmann::json figures = {{"images", enhanced.size(0)},
                            {"factor", options.factor},
                            {"iterations", options.iterations},
                            {"from", {low.size(3), low.size(2)}},
                            {"to", {enhanced.size(3), enhanced.size(2)}}};
  if (original.defined()) {
    figures["psnr_db"] = apps::psnr(enhanced, original).mean().item<double>();
    figures["bicubic_psnr_db"] = apps::psnr(cubic, original).mean().item<double>();
    figures["bicubic_back_projected_psnr_db"] = apps::psnr(apps::back_project(cubic, low), original).mean().item<double>();
  }
  if (json) {
    std::cout << figures.dump() << "\n";
  } else {
    std::cout << "enhanced " << enhanced.size(0) << " images from " << low.size(3) << "x" << low.size(2) << " to "
              << enhanced.size(3) << "x" << enhanced.size(2);
    if (original.defined()) {
      char line[128];
      std::snprintf(line, sizeof line, "; PSNR %.2f dB (bicubic %.2f dB, back-projected %.2f dB) against the originals",
                    figures["psnr_db"].get<double>(), figures["bicubic_psnr_db"].get<double>(),
                    figures["bicubic_back_projected_psnr_db"].get<double>());
      std::cout << line;
    }
    std::cout << "; wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
