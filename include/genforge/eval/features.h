// Feature extractors for the image metrics: a genforge model's latent space (`--features vae.gf`), any TorchScript
// module (`--features model.pt`, e.g. an Inception
// network exported by the user, for standard FID), or raw pixels. A module's forward takes images [N, C, H, W]
// scaled to [0, 1] and returns features [N, D] (or a tuple whose first element is that); for the Inception Score
// its outputs are taken as logits.
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>

#include "genforge/model.h"

namespace gf::eval {

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  // images [N, C, H, W] in [0, 1] -> [N, D] float64, computed in batches.
  virtual torch::Tensor features(const torch::Tensor& images) const = 0;
  // Class logits for the Inception Score; extractors without a classifier head return their features.
  virtual torch::Tensor logits(const torch::Tensor& images) const { return features(images); }
  // Whether logits() are class logits (a classifier head, or a user's module taken at its word); the Inception
  // Score of anything else means nothing.
  virtual bool has_class_logits() const { return false; }
  virtual std::string name() const = 0;
};

struct FeatureOptions {
  int64_t batch_size = 256;
  torch::Device device = torch::kCPU;
  // Loads a genforge model file for `--features model.gf` (the command line passes gf::load_model): eval works on
  // the model contract and does not reach the registry itself.
  std::function<std::shared_ptr<const Model>(const std::string& path)> load_model;
};

// A model's own latent space as features: the codes its `transform` gives (a VAE's posterior means, an
// autoencoder's codes), for Frechet distance and MMD "in the model's latent space". `name` labels it.
std::unique_ptr<FeatureExtractor> latent_feature_extractor(std::shared_ptr<const Model> model, const std::string& name,
                                                           const FeatureOptions& options = {});

// "pixels" (flattened images), "fmnist" (genforge's Fashion-MNIST classifier, eval/classifier.h: 128-d features,
// 10 logits; also any .gf file of that kind), a genforge model file (.gf) with an encoder -- its `transform` codes,
// the model's own latent space, loaded with options.load_model --, or a TorchScript file (.pt / .pth / .torchscript). An unreadable or non-TorchScript file is a
// gf::ModelFileError naming it.
std::unique_ptr<FeatureExtractor> make_feature_extractor(const std::string& spec, const FeatureOptions& options = {});

}  // namespace gf::eval
