// Perceptual path length (Karras et al. 2019, StyleGAN §3) of a latent-variable model: how much its images change
// along small steps of latent interpolation, in a feature space.
//   d = || f(G(lerp_or_slerp(z0, z1, t))) - f(G(lerp_or_slerp(z0, z1, t + eps))) ||^2 / eps^2
// with z0, z1 from the model's latent distribution, t ~ U(0, 1) ("full" paths) or t in {0, 1} ("end"), slerp for
// N(0, I) priors and a straight line for fitted code distributions, f a FeatureExtractor (StyleGAN uses LPIPS, a
// learned VGG distance that is not available here: the squared Euclidean distance of the extractor's features is
// used, so values compare between models measured with the same extractor only). The aggregate is StyleGAN's
// trimmed mean (values between the 1st and 99th percentiles).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "genforge/eval/features.h"
#include "genforge/eval/image.h"
#include "genforge/model.h"

namespace gf::eval {

struct PplOptions {
  int64_t n = 1000;                // interpolation pairs
  double epsilon = 1e-4;           // step along the path
  std::string sampling = "full";   // full (t ~ U(0, 1)) | end (t in {0, 1})
  int64_t batch_size = 128;
  uint64_t seed = 0;
};

struct PplResult {
  TrimmedMean trimmed;     // the PPL: trimmed mean and std of the distances
  torch::Tensor distances; // [n] float64, untrimmed
};

PplResult perceptual_path_length(const Model& model, const FeatureExtractor& features, const PplOptions& options = {});

}  // namespace gf::eval
