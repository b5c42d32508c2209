#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/apps/inpaint.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/images.h"
#include "genforge/data/npy.h"
#include "genforge/workflow.h"

namespace gf::cli {
namespace {

std::vector<int64_t> parse_box(const std::string& text) {
  std::vector<int64_t> v;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    const long long n = std::strtoll(part.c_str(), &end, 10);
    GF_CHECK_AS(InvalidArgument, !part.empty() && end && *end == 0, "write the box as x,y,w,h, e.g. --box 0,14,28,14",
                "'", text, "' is not a box x,y,w,h");
    v.push_back(n);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  GF_CHECK_AS(InvalidArgument, v.size() == 4, "write the box as x,y,w,h, e.g. --box 0,14,28,14", "'", text,
              "' is not a box x,y,w,h");
  return v;
}

}  // namespace

int run_inpaint(int argc, char** argv) {
  CLI::App app("fill the masked pixels of images from an image model; several completions per image", "inpaint");
  app.allow_extras();
  std::string model_path, images_spec, mask_path, box, out, label;
  bool given_class = false;
  int64_t limit = 16;
  std::optional<uint64_t> seed;
  apps::InpaintOptions options;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf): pixelcnn, rbm, vae, flow (conditional draws), autoencoder")
      ->required();
  app.add_option("--images", images_spec, "images: fashion-mnist[:test], an image file or folder, an IDX file")
      ->required();
  app.add_option("--mask", mask_path, "PNG of the images' size: white pixels are filled");
  app.add_option("--box", box, "the rectangle to fill, x,y,w,h (e.g. 0,14,28,14: the bottom half of 28x28 images)");
  app.add_option("--out,-o", out, ".png: a grid, one row per image (masked input, completions, original); .npy: "
                                  "the completions [K, N, C, H, W]")
      ->required();
  app.add_option("--completions,-k", options.completions, "completions per image")->capture_default_str();
  app.add_option("--iterations", options.iterations, "projection steps of latent-variable models")
      ->capture_default_str();
  app.add_option("--method", options.method,
                 "auto: draw from the model's conditional when it has one (pixelcnn, rbm, vae), else project; "
                 "sample; project (vae, autoencoder)")
      ->capture_default_str();
  app.add_option("--class", label, "fill every image given this class, by name or index (class-conditional models)");
  app.add_flag("--given-class", given_class, "fill each image given its own label (labelled images, class-conditional "
                                             "vae, flow or pixelcnn)");
  app.add_option("--limit", limit, "the first N images")->capture_default_str();
  app.add_option("--seed", seed, "random seed (default 0)");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, mask_path.empty() != box.empty(), "give --mask FILE.png or --box x,y,w,h",
              mask_path.empty() ? "no mask given" : "--mask and --box together");
  GF_CHECK_AS(InvalidArgument, ends_with(out, ".png") || ends_with(out, ".npy"), "write a .png grid or a .npy tensor",
              "'", out, "' is neither .png nor .npy");
  check_writable(out);
  options.seed = resolve_seed(seed);
  auto opened = open_model(model_path, option_flags(app.remaining(), "inpaint"));
  record_provenance_model(model_path, opened.model->kind());
  const Model& model = *opened.model;
  apps::require_inpainting(model);
  const auto source = data::load_source(images_spec, DataKind::images, source_options(table_flags, limit));
  const Dataset ds = prepare(model, source, opened.input_overrides);
  GF_CHECK_AS(InvalidArgument, ds.x.dim() == 4, "give images", "'", images_spec, "' are not images");
  const int64_t h = ds.x.size(2), w = ds.x.size(3);
  torch::Tensor mask;
  if (!box.empty()) {
    const auto b = parse_box(box);
    mask = apps::box_mask(h, w, b[0], b[1], b[2], b[3]);
  } else {
    mask = apps::read_mask_png(mask_path, h, w);
  }
  GF_CHECK_AS(InvalidArgument, label.empty() || !given_class, "give --class C or --given-class",
              "--class and --given-class together");
  if (!label.empty()) options.labels = torch::full({ds.x.size(0)}, class_index(model, label), torch::kLong);
  if (given_class) {
    GF_CHECK_AS(InvalidArgument, ds.labels.defined(), "give labelled images (fashion-mnist, or a folder of class folders)",
                "'", images_spec, "' has no labels for --given-class");
    options.labels = ds.labels;
  }
  const auto filled = apps::inpaint(model, ds.x, mask, options);  // [K, N, C, H, W]
  if (ends_with(out, ".npy")) {
    write_npy(out, filled);
  } else {
    const auto x = ds.x.to(torch::kFloat32);
    const auto shown = torch::where(mask.expand_as(x), torch::full_like(x, 0.5), x);  // the hole in grey
    std::vector<torch::Tensor> columns{shown};
    for (int64_t k = 0; k < filled.size(0); ++k) columns.push_back(filled[k]);
    columns.push_back(x);
    const int64_t per_row = static_cast<int64_t>(columns.size());
    write_png_grid(out, torch::stack(columns, 1).flatten(0, 1), per_row);
  }
  const int64_t holes = mask.any(1).expand({ds.x.size(0), h, w}).sum().item<int64_t>();
  std::cout << "filled " << holes << " pixels in " << ds.x.size(0) << " images, " << filled.size(0)
            << " completion(s) each (seed " << options.seed << "); wrote " << out << "\n";
  return 0;
}

}  // namespace gf::cli
