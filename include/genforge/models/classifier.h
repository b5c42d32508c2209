// An image classifier: a feature network (a layer stack, src/nn/layer_stack.h) and a linear softmax head, trained
// with cross-entropy through the shared Trainer. It is what `finetune --new-head classes=K` makes of a generative
// model -- the founding recipe's "replace the last layer for the new number of classes": the stack is the base's
// encoder or discriminator below its last layer (gf::FeatureTrunk), its weights the starting point; with no stack
// given it is a plain MLP (`hidden` units), the from-scratch baseline.
//
// It classifies; it does not generate (Capabilities::generates is false: sample and score_samples are
// NotSupported). `predict_proba` (Classifier) gives class probabilities; `genforge score` on labelled data prints
// the accuracy, macro precision / recall / F1 and draws the confusion matrix.
//
//   auto vae = gf::load_model("vae.gf");
//   auto trunk = dynamic_cast<const gf::FeatureTrunk&>(*vae).feature_trunk();
//   gf::ClassifierOptions o;
//   o.trunk = trunk.spec.dump();
//   o.max_steps = 500;
//   gf::NeuralClassifier clf(o);
//   gf::FitContext ctx;
//   ctx.initial_state = &trunk_weights;   // "trunk.<name>" -> tensor: start from the encoder's weights
//   clf.fit(labelled_images, ctx);
//   auto p = clf.predict_proba(test_images);  // [N, K]
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"

namespace gf {

struct ClassifierOptions : train::TrainOptions {
  std::string trunk;    // the feature network as layer-stack JSON (set by finetune --new-head); empty: an MLP
  int64_t hidden = 256;  // units of the MLP used when no trunk is given
  int64_t classes = 0;   // number of classes; 0: one more than the largest training label
  double dropout = 0.0;  // dropout on the features before the head, in training

  ClassifierOptions();
  void validate() const;
};

class NeuralClassifier : public Model, public Classifier {
 public:
  using Options = ClassifierOptions;
  static const OptionTable<ClassifierOptions>& option_table();

  explicit NeuralClassifier(ClassifierOptions options = {});
  ~NeuralClassifier() override;

  std::string kind() const override { return "classifier"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;

  // Needs one class label per example (DataError otherwise). Parameters are named "trunk.<layer>.<name>" and
  // "head.weight" / "head.bias" (what --freeze / --train-only globs match).
  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;  // NotSupported: a classifier does not generate
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // NotSupported: no likelihood

  bool is_classifier() const override { return fitted(); }
  torch::Tensor predict_proba(const torch::Tensor& x) const override;  // [N, K] float64 on the CPU
  int64_t classes() const;
  // The features the head sees (the trunk's output). [N, F]
  torch::Tensor features(const torch::Tensor& x) const;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

  struct Net;

 private:
  ClassifierOptions options_;
  std::shared_ptr<Net> net_;
};

}  // namespace gf
