// Inpainting: masked pixels of images filled from an image model, several completions per image.
//   models that sample conditionally (pixelcnn: completion in raster order, exact when the hole lies below and to
//   the right of what is kept; rbm: clamped Gibbs sampling; vae: MIWAE-style importance resampling):
//   `completions` draws
//   latent-variable models with an encoder (autoencoder; vae with method "project"): iterative projection -- the
//   hole, first filled with the observed pixels' mean, is replaced by decode(encode(x)) `iterations` times (Rezende
//   et al. 2014's pseudo-Gibbs sampler with posterior means); one completion, the same however many are asked for
//
//   auto mask = gf::apps::box_mask(28, 28, 0, 14, 28, 14);      // the bottom half
//   auto filled = gf::apps::inpaint(*model, images, mask, {});  // [K, N, C, H, W]
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "genforge/model.h"

namespace gf::apps {

struct InpaintOptions {
  int64_t completions = 1;   // draws per image (conditional samplers)
  int64_t iterations = 50;   // projection steps (latent-variable models)
  std::string method = "auto";  // auto: sample when the model samples conditionally, else project | sample | project
  uint64_t seed = 0;
  // Each image's class [N] (int64, the model's class indices): a class-conditional model that samples (vae, flow,
  // pixelcnn) fills given it. Undefined: without the class (a conditional VAE then weighs every class).
  torch::Tensor labels;
  void validate() const;
};

// A [1, 1, H, W] boolean mask, true inside the box (x, y: its top-left corner; w, h: its size). Boxes outside the
// image are InvalidArgument.
torch::Tensor box_mask(int64_t height, int64_t width, int64_t x, int64_t y, int64_t w, int64_t h);
// A mask from a PNG: pixels brighter than half are filled. Its size must be H x W (else InvalidArgument naming
// both sizes). [1, 1, H, W]
torch::Tensor read_mask_png(const std::string& path, int64_t height, int64_t width);

// Image models whose encode / decode projects onto their images (vae, autoencoder; not flows, whose encoding is a
// bijection, nor class-conditional models): inpainting and enhancement by projection.
bool encodes_images(const Model& model);
// NotSupported (naming the models that can) unless the model can inpaint; `inpaint` checks it too.
void require_inpainting(const Model& model);

// Images [N, C, H, W] in [0, 1] (the model's input space), mask [N or 1, 1 or C, H, W] (true = fill). Pixels outside
// the mask are returned unchanged. Models that neither sample conditionally nor encode and decode images are
// NotSupported (naming those that do). [K, N, C, H, W]
torch::Tensor inpaint(const Model& model, const torch::Tensor& images, const torch::Tensor& mask,
                      const InpaintOptions& options);

}  // namespace gf::apps
