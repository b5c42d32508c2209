// Enhancement of low-resolution images (super-resolution) with an image model as the prior: the founding
// documents' "enhancing low-resolution images". The low-resolution image is taken as the area average of the
// unknown one over factor x factor blocks; the answer is an image the model finds typical whose block averages
// are the input:
//
//   x <- bicubic(low)
//   repeat `iterations` times:
//     x <- decode(encode(x))                            the model's projection onto its images
//     x <- clamp(x + nearest(low - average(x)), 0, 1)   back-projection (Irani & Peleg 1991): average(x) = low again
//
// for latent-variable image models (vae, autoencoder). Bicubic interpolation is the baseline every result is
// compared with.
//
//   auto low = gf::apps::downscale(images, 2);               // [N, C, 14, 14] from [N, C, 28, 28]
//   auto high = gf::apps::enhance(*vae, low, {2, 30});        // [N, C, 28, 28]
//   double db = gf::apps::psnr(high, images).mean().item<double>();
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "genforge/model.h"

namespace gf::apps {

struct EnhanceOptions {
  int64_t factor = 2;       // each side grows by this much
  int64_t iterations = 30;  // projection + back-projection rounds
  void validate() const;
};

// NotSupported (naming the models that can) unless the model encodes and decodes images.
void require_enhancing(const Model& model);

// Images [N, C, H, W] averaged over factor x factor blocks (H and W divisible by the factor). [N, C, H/f, W/f]
torch::Tensor downscale(const torch::Tensor& images, int64_t factor);
// Bicubic interpolation (clamped to [0, 1]), the baseline. [N, C, h*f, w*f]
torch::Tensor bicubic(const torch::Tensor& low, int64_t factor);
// Low-resolution images [N, C, h, w] in the model's input space ([0, 1]) enhanced to [N, C, h*f, w*f], which must
// be the model's image size (else DataError naming both sizes).
torch::Tensor enhance(const Model& model, const torch::Tensor& low, const EnhanceOptions& options);
// x moved so that its block averages are `low` again (then clamped to [0, 1]): each block shifted by its residual.
// With bicubic(low) it is the classical baseline "bicubic + back-projection". [N, C, H, W]
torch::Tensor back_project(const torch::Tensor& x, const torch::Tensor& low);
// Peak signal-to-noise ratio of each image against the reference, pixel range 1, in dB (infinite when equal). [N]
torch::Tensor psnr(const torch::Tensor& images, const torch::Tensor& reference);

}  // namespace gf::apps
