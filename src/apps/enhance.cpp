#include "genforge/apps/enhance.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>

#include "genforge/apps/inpaint.h"
#include "genforge/core/error.h"
#include "genforge/registry.h"

namespace gf::apps {
namespace {

namespace F = torch::nn::functional;

// Each low-resolution pixel repeated over its factor x factor block. [N, C, h*f, w*f]
torch::Tensor nearest(const torch::Tensor& low, int64_t factor) {
  return low.repeat_interleave(factor, 2).repeat_interleave(factor, 3);
}

}  // namespace

void EnhanceOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, factor >= 2 && factor <= 16, "give --factor F with 2 <= F <= 16",
              "factor must be in 2..16, got ", factor);
  GF_CHECK_AS(InvalidArgument, iterations >= 0 && iterations <= 10000, "give --iterations N with 0 <= N <= 10000",
              "iterations must be in 0..10000, got ", iterations);
}

void require_enhancing(const Model& model) {
  GF_CHECK_AS(NotSupported, encodes_images(model),
              "use an image model that encodes and decodes: " + join_names(registered_models_with(encodes_images)),
              "a ", model.kind(), " model cannot enhance images");
}

torch::Tensor downscale(const torch::Tensor& images, int64_t factor) {
  GF_CHECK_AS(InvalidArgument, images.dim() == 4, "give images [N, C, H, W]", "images must be [N, C, H, W], got ",
              images.sizes());
  GF_CHECK_AS(InvalidArgument, factor >= 1 && images.size(2) % factor == 0 && images.size(3) % factor == 0,
              "give images whose sides the factor divides", "images of ", images.size(3), "x", images.size(2),
              " cannot be averaged over ", factor, "x", factor, " blocks");
  return F::avg_pool2d(images.to(torch::kFloat32), F::AvgPool2dFuncOptions(factor));
}

torch::Tensor bicubic(const torch::Tensor& low, int64_t factor) {
  GF_CHECK_AS(InvalidArgument, low.dim() == 4, "give images [N, C, H, W]", "images must be [N, C, H, W], got ",
              low.sizes());
  auto options = F::InterpolateFuncOptions()
                     .size(std::vector<int64_t>{low.size(2) * factor, low.size(3) * factor})
                     .mode(torch::kBicubic)
                     .align_corners(false);
  return F::interpolate(low.to(torch::kFloat32), options).clamp(0, 1);
}

torch::Tensor enhance(const Model& model, const torch::Tensor& low_in, const EnhanceOptions& options) {
  options.validate();
  require_enhancing(model);
  const auto low = low_in.to(torch::kFloat32);
  auto x = bicubic(low, options.factor);  // [N, C, H, W]
  // The model's image size, from one decoded code: the enhanced images must have it.
  const auto probe = model.decode(torch::zeros({1, model.latent_dim()}));
  GF_CHECK_AS(DataError, probe.numel() == x[0].numel(),
              "give images whose sides times the factor are the model's (e.g. 14x14 with --factor 2 for 28x28)",
              "images of ", low.size(3), "x", low.size(2), " enlarged ", options.factor, " times have ",
              x[0].numel(), " values, the model's images ", probe.numel());
  for (int64_t i = 0; i < options.iterations; ++i) {
    x = back_project(model.decode(model.transform(x)).reshape(x.sizes()).to(torch::kFloat32), low);
  }
  return x;
}

torch::Tensor back_project(const torch::Tensor& x, const torch::Tensor& low) {
  GF_CHECK_AS(InvalidArgument, x.dim() == 4 && low.dim() == 4 && x.size(2) % low.size(2) == 0 &&
                                   x.size(2) / low.size(2) == x.size(3) / low.size(3),
              "give images and their low-resolution versions", "images of shape ", x.sizes(),
              " are not an enlargement of ", low.sizes());
  const int64_t factor = x.size(2) / low.size(2);
  return (x + nearest(low.to(torch::kFloat32) - downscale(x, factor), factor)).clamp(0, 1);
}

torch::Tensor psnr(const torch::Tensor& images, const torch::Tensor& reference) {
  GF_CHECK_AS(InvalidArgument, images.sizes() == reference.sizes(), "compare images of one shape",
              "images of shape ", images.sizes(), " against references of shape ", reference.sizes());
  const auto mse = (images.to(torch::kFloat64) - reference.to(torch::kFloat64)).square().flatten(1).mean(1);  // [N]
  return -10.0 * torch::log10(mse);
}

}  // namespace gf::apps
