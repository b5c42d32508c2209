// Fine-tuning: a trained gradient-trained model (vae, gan, gpt, pixelcnn, flow, autoencoder, ...) trained further
// on new data through the shared Trainer, starting from its weights, with parameters frozen by name -- the founding
// recipe's "freeze all but the last layer, train, unfreeze and train again at a lower learning rate". The new model
// keeps the base's architecture and input pipeline (its tokenizer, columns or image scaling) and records its parent.
//
//   gf::apps::FinetuneOptions o;
//   o.train_only = {"h3_*", "ln_f"};         // phase 1: the last block and the final norm only
//   o.unfreeze_after = 200;                  // phase 2: everything, at lr x 0.1
//   o.settings = {{"max_steps", "600"}, {"lr", "3e-4"}};
//   auto r = gf::apps::finetune("brown-gpt.gf", gf::data::load_source("humor.txt", gf::DataKind::text), o);
//   gf::save_model(*r.model, "humor-gpt.gf");
//
//   o = {};
//   o.new_head = "classes=10";               // a classifier on the VAE's encoder
//   o.train_only = {"head.*"};               // phase 1: the head only
//   o.unfreeze_after = 300;
//   o.settings = {{"max_steps", "1000"}};
//   auto c = gf::apps::finetune("vae.gf", gf::data::load_source("fashion-mnist", gf::DataKind::images), o);
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/model.h"
#include "genforge/registry.h"

namespace gf::apps {

struct FinetuneOptions {
  std::vector<std::string> freeze;      // parameter-name globs held fixed throughout
  std::vector<std::string> train_only;  // phase 1 trains only these (everything else fixed)
  int64_t unfreeze_after = 0;           // > 0: phase 1 is this many steps, then phase 2 trains all but `freeze`
  double unfreeze_lr_scale = 0.1;       // phase 2's learning rate = lr x this
  OptionOverrides settings;             // the model's training options for this run (max_steps, lr, batch_size, ...)
  // "rank=8,alpha=16,targets=GLOB[,GLOB]": LoRA adapters (models with lora_* options: gpt, vae, autoencoder,
  // gan with architecture=mlp) trained alone, every base weight frozen. Empty: none.
  std::string lora;
  // "classes=K": the founding recipe's "replace the last layer for the new number of classes" -- the base's
  // encoder or discriminator below its last layer (FeatureTrunk) with a new softmax head of K classes, trained on
  // labelled data with cross-entropy: the result is a `classifier` model. "vocab": a language model (TokenModel)
  // on a tokenizer learned from the new data with the base's tokenizer settings; rows of the token tensors whose
  // token text the base also has start from the base's rows, the others from N(0, 0.02^2); the rest of the network
  // is the base's. Empty: the base's own objective.
  std::string new_head;
  // The base's architecture and input pipeline with freshly initialised weights: the from-scratch baseline of the
  // same network (with new_head: the same classifier from random init).
  bool reinitialise = false;
  // Items of the validation (else training) data scored after training, their distribution kept in the model file
  // for drift checks (apps/drift.h; 0: none).
  int64_t profile_items = 2000;
  void validate() const;
};

struct FinetuneResult {
  std::unique_ptr<Model> model;
  FitReport report;  // of the last phase; report.extra["finetune"] is the record below
  // parent (path, SHA-256, kind), frozen / trained parameter names with their counts, phases (steps, lr).
  nlohmann::json record;
};

// Parameter names, shapes and element counts of a model's state (what --freeze / --train-only globs match).
struct ParameterInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count = 0;
};
std::vector<ParameterInfo> parameter_list(const Model& model);

// A model that is not trained by gradient steps (gmm, hmm, lda, ...) is NotSupported, and so is a new head on a
// model without an encoder or discriminator to cut (FeatureTrunk); data of another kind than the base's, or that its
// pipeline cannot encode, is a DataError, and so is a new head's data without labels.
// How finetune trains a registered model further: "gradient steps" (Trainer models), its update_method()
// (Updatable: gmm, bgmm, hmm, lda), or "" (it cannot: copula, bayesnet, the tagger).
std::string finetune_method(const ModelInfo& info);

FinetuneResult finetune(const std::string& base_path, const data::Source& train, const FinetuneOptions& options,
                        const FitContext& ctx = {}, const data::Source* validation = nullptr);

}  // namespace gf::apps
