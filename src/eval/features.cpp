#include "genforge/eval/features.h"

#include <torch/script.h>

#include <fstream>

#include "eval/classifier_net.h"
#include "genforge/core/error.h"
#include "genforge/eval/classifier.h"
#include "genforge/io/model_file.h"

namespace gf::eval {

namespace {

torch::Tensor in_batches(const torch::Tensor& images, int64_t batch_size,
                         const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  GF_CHECK(images.dim() == 4, "images must be [N, C, H, W], got ", images.sizes());
  std::vector<torch::Tensor> parts;
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < images.size(0); i += batch_size)
    parts.push_back(f(images.slice(0, i, std::min(images.size(0), i + batch_size))).to(torch::kCPU, torch::kDouble));
  GF_CHECK(!parts.empty(), "no images to extract features from");
  return torch::cat(parts);
}

class Pixels : public FeatureExtractor {
 public:
  explicit Pixels(FeatureOptions o) : o_(o) {}
  torch::Tensor features(const torch::Tensor& images) const override {
    return in_batches(images, o_.batch_size, [](const torch::Tensor& b) { return b.flatten(1); });
  }
  std::string name() const override { return "pixels"; }

 private:
  FeatureOptions o_;
};

class TorchScript : public FeatureExtractor {
 public:
  TorchScript(const std::string& path, FeatureOptions o) : path_(path), o_(o) {
    GF_CHECK_AS(ModelFileError, std::ifstream(path).good(), "check the path of --features", "cannot open '", path,
                "'");
    try {
      module_ = torch::jit::load(path, o.device);
    } catch (const c10::Error& e) {
      throw ModelFileError(msg("'", path, "' is not a TorchScript module"),
                           "save the extractor with torch.jit.script(model).save(path) or torch.jit.trace");
    }
    module_.eval();
  }
  torch::Tensor features(const torch::Tensor& images) const override {
    return in_batches(images, o_.batch_size, [&](const torch::Tensor& b) {
      torch::jit::IValue out;
      try {
        out = module_.forward({b.to(o_.device, torch::kFloat)});
      } catch (const std::exception& e) {
        std::string what = e.what();
        throw DataError(msg("the TorchScript module '", path_, "' failed on images of shape ", b.sizes(), ": ",
                            what.substr(0, what.find('\n'))),
                        "give images of the size and channel count the module expects");
      }
      if (out.isTuple()) out = out.toTuple()->elements().at(0);
      GF_CHECK_AS(DataError, out.isTensor(), "make forward return a tensor [N, D]", "the TorchScript module '",
                  path_, "' did not return a tensor");
      auto t = out.toTensor();
      GF_CHECK_AS(DataError, t.dim() >= 2 && t.size(0) == b.size(0), "make forward return a tensor [N, D]",
                  "the TorchScript module '", path_, "' returned shape ", t.sizes(), " for ", b.size(0), " images");
      return t.flatten(1);
    });
  }
  std::string name() const override { return path_; }
  bool has_class_logits() const override { return true; }  // documented: a module's outputs are its logits

 private:
  std::string path_;
  FeatureOptions o_;
  mutable torch::jit::Module module_;  // forward() is not const in TorchScript's API
};

// A genforge model's own latent space: the codes its `transform` gives (a VAE's posterior means, an autoencoder's
// codes), for Fréchet distance and MMD "in the model's latent space".
class ModelLatent : public FeatureExtractor {
 public:
  ModelLatent(std::shared_ptr<const Model> model, const std::string& path, FeatureOptions o)
      : path_(path), o_(std::move(o)), model_(std::move(model)) {
    GF_CHECK_AS(InvalidArgument, model_->capabilities().latent_space && model_->latent_dim() > 0,
                "use a model with an encoder (autoencoder, vae) or --features pixels", "model '", path, "' (",
                model_->kind(), ") has no latent space to compare in");
    GF_CHECK_AS(InvalidArgument, model_->n_classes() == 0,
                "use an unconditional model: generated images carry no labels to encode with", "model '", path,
                "' is class-conditional");
  }
  torch::Tensor features(const torch::Tensor& images) const override {
    return in_batches(images, o_.batch_size, [&](const torch::Tensor& b) { return model_->transform(b).flatten(1); });
  }
  std::string name() const override { return path_ + " (latent)"; }

 private:
  std::string path_;
  FeatureOptions o_;
  std::shared_ptr<const Model> model_;
};

class FmnistClassifier : public FeatureExtractor {
 public:
  FmnistClassifier(const ModelFileContents& contents, const std::string& path, FeatureOptions o)
      : path_(path), o_(o), net_(detail::load_classifier(contents, path)) {
    net_->to(o.device);
  }
  torch::Tensor features(const torch::Tensor& images) const override {
    return run(images, [&](const torch::Tensor& b) { return net_->features(b); });
  }
  torch::Tensor logits(const torch::Tensor& images) const override {
    return run(images, [&](const torch::Tensor& b) { return net_->logits(b); });
  }
  std::string name() const override { return "fmnist (" + path_ + ")"; }
  bool has_class_logits() const override { return true; }

 private:
  torch::Tensor run(const torch::Tensor& images, const std::function<torch::Tensor(const torch::Tensor&)>& f) const {
    GF_CHECK_AS(DataError, images.dim() == 4 && images.size(1) == 1 && images.size(2) == 28 && images.size(3) == 28,
                "the Fashion-MNIST classifier takes 28x28 grayscale images; use --features pixels otherwise",
                "images of shape ", images.sizes(), " for the Fashion-MNIST classifier");
    return in_batches(images, o_.batch_size, [&](const torch::Tensor& b) { return f(b.to(o_.device, torch::kFloat)); });
  }
  std::string path_;
  FeatureOptions o_;
  mutable detail::ClassifierNet net_{nullptr};
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::unique_ptr<FeatureExtractor> latent_feature_extractor(std::shared_ptr<const Model> model, const std::string& name,
                                                           const FeatureOptions& options) {
  return std::make_unique<ModelLatent>(std::move(model), name, options);
}

std::unique_ptr<FeatureExtractor> make_feature_extractor(const std::string& spec, const FeatureOptions& options) {
  GF_CHECK(options.batch_size >= 1, "feature batch size must be >= 1, got ", options.batch_size);
  if (spec == "pixels") return std::make_unique<Pixels>(options);
  if (spec == "fmnist") {
    const std::string path = default_fmnist_classifier_path();
    GF_CHECK_AS(ModelFileError, std::ifstream(path).good(),
                "build it with `make classifier` (genforge eval classifier --out " + path + ")",
                "the Fashion-MNIST classifier '", path, "' does not exist");
    return std::make_unique<FmnistClassifier>(read_model_file(path), path, options);
  }
  if (ends_with(spec, ".gf")) {
    // One read: the kind decides between genforge's classifier and a model's latent space.
    const auto contents = read_model_file(spec);
    if (contents.kind == "fmnist-classifier") return std::make_unique<FmnistClassifier>(contents, spec, options);
    GF_CHECK_AS(InvalidArgument, static_cast<bool>(options.load_model),
                "load the model and use eval::latent_feature_extractor, or set FeatureOptions::load_model",
                "'", spec, "' is a ", contents.kind, " model: its latent space needs the model loaded");
    return latent_feature_extractor(options.load_model(spec), spec, options);
  }
  return std::make_unique<TorchScript>(spec, options);
}

}  // namespace gf::eval
