#include "genforge/apps/inpaint.h"

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"

namespace gf::apps {
namespace {

bool samples_images_conditionally(const Model& m) {
  return dynamic_cast<const ConditionalSampler*>(&m) != nullptr && m.capabilities().data_kind == DataKind::images;
}
bool can_inpaint(const Model& m) { return samples_images_conditionally(m) || encodes_images(m); }

}  // namespace

bool encodes_images(const Model& m) {
  const auto caps = m.capabilities();
  // Projecting through a bijection (a flow's encode / decode) changes nothing.
  return caps.data_kind == DataKind::images && caps.latent_space && !caps.bijective_latent && m.latent_dim() > 0 &&
         m.n_classes() == 0;
}

void InpaintOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, completions >= 1 && completions <= 1000, "give --completions K with 1 <= K <= 1000",
              "completions must be in 1..1000, got ", completions);
  GF_CHECK_AS(InvalidArgument, iterations >= 1 && iterations <= 10000, "give --iterations N with 1 <= N <= 10000",
              "iterations must be in 1..10000, got ", iterations);
  GF_CHECK_AS(InvalidArgument, method == "auto" || method == "sample" || method == "project",
              "give --method auto, sample or project", "unknown inpainting method '", method, "'");
}

torch::Tensor box_mask(int64_t height, int64_t width, int64_t x, int64_t y, int64_t w, int64_t h) {
  GF_CHECK_AS(InvalidArgument, w >= 1 && h >= 1 && x >= 0 && y >= 0 && x + w <= width && y + h <= height,
              "give --box x,y,w,h inside the " + std::to_string(width) + "x" + std::to_string(height) + " image",
              "the box ", x, ",", y, ",", w, ",", h, " does not fit in a ", width, "x", height, " image");
  auto mask = torch::zeros({1, 1, height, width}, torch::kBool);
  mask.slice(2, y, y + h).slice(3, x, x + w).fill_(true);
  return mask;
}

torch::Tensor read_mask_png(const std::string& path, int64_t height, int64_t width) {
  const ImageSet m = read_image_file(path);
  const auto& px = m.images;  // [1, C, H, W] uint8
  GF_CHECK_AS(InvalidArgument, px.size(2) == height && px.size(3) == width,
              "draw the mask at the images' size (white = fill, black = keep)", "the mask '", path, "' is ",
              px.size(3), "x", px.size(2), " but the images are ", width, "x", height);
  return (px.to(torch::kFloat32).mean(1, /*keepdim=*/true) > 127.5);
}

void require_inpainting(const Model& model) {
  GF_CHECK_AS(NotSupported, can_inpaint(model),
              "use an image model that samples conditionally or encodes: " +
                  join_names(registered_models_with(can_inpaint)),
              "a ", model.kind(), " model cannot fill in parts of images");
}

torch::Tensor inpaint(const Model& model, const torch::Tensor& images, const torch::Tensor& mask_in,
                      const InpaintOptions& options) {
  options.validate();
  require_inpainting(model);
  GF_CHECK_AS(InvalidArgument, images.dim() == 4, "give images [N, C, H, W]", "images must be [N, C, H, W], got ",
              images.sizes());
  GF_CHECK_AS(InvalidArgument,
              mask_in.dim() == 4 && mask_in.size(2) == images.size(2) && mask_in.size(3) == images.size(3) &&
                  (mask_in.size(0) == 1 || mask_in.size(0) == images.size(0)) &&
                  (mask_in.size(1) == 1 || mask_in.size(1) == images.size(1)),
              "give a mask of the images' height and width", "a mask of shape ", mask_in.sizes(),
              " does not fit images of shape ", images.sizes());
  const auto x = images.to(torch::kFloat32);
  const auto mask = mask_in.to(torch::kBool).expand_as(x);
  std::vector<torch::Tensor> out;
  const auto* sampler = samples_images_conditionally(model) ? dynamic_cast<const ConditionalSampler*>(&model) : nullptr;
  if (options.labels.defined()) {
    GF_CHECK_AS(InvalidArgument, sampler != nullptr,
                "fill given a class with a class-conditional model that samples (vae, flow, pixelcnn)", "a ",
                model.kind(), " model fills in by projection, which takes no class");
    GF_CHECK_AS(InvalidArgument, options.method != "project", "drop --method project to fill given the class",
                "projection fills in without the class");
  }
  GF_CHECK_AS(NotSupported, options.method != "sample" || sampler,
              "use --method project, or a model that samples conditionally: " +
                  join_names(registered_models_with(samples_images_conditionally)),
              "a ", model.kind(), " model does not sample images conditionally");
  GF_CHECK_AS(NotSupported, options.method != "project" || encodes_images(model),
              "use --method sample, or a model that encodes images: " + join_names(registered_models_with(encodes_images)),
              "a ", model.kind(), " model cannot project images through a latent space");
  if (sampler && options.method != "project") {
    auto gen = make_generator(options.seed);
    const auto holes = x.masked_fill(mask, NAN);
    const auto drawn = options.labels.defined()
                           ? sampler->conditional_samples_given_class(holes, options.labels, options.completions, gen)
                           : sampler->conditional_samples(holes, options.completions, gen);
    const auto filled = drawn.reshape({options.completions, x.size(0), x.size(1), x.size(2), x.size(3)});  // [K, N, C, H, W]
    return torch::where(mask.unsqueeze(0), filled.to(torch::kFloat32), x.unsqueeze(0));
  }
  // Iterative projection through the latent space.
  const auto keep = mask.logical_not().to(torch::kFloat32);
  const auto observed_mean = (x * keep).flatten(1).sum(1) / keep.flatten(1).sum(1).clamp_min(1.0);  // [N]
  auto current = torch::where(mask, observed_mean.view({-1, 1, 1, 1}).expand_as(x), x);
  for (int64_t i = 0; i < options.iterations; ++i) {
    auto projected = model.decode(model.transform(current)).reshape(x.sizes()).to(torch::kFloat32);
    current = torch::where(mask, projected, x);
  }
  for (int64_t k = 0; k < options.completions; ++k) out.push_back(current);
  return torch::stack(out);
}

}  // namespace gf::apps
