// LoRA options of the neural families whose linear layers take adapters (vae, autoencoder, gan): Hu et al. 2021,
// "LoRA: Low-Rank Adaptation of Large Language Models". An adapted layer computes W x + b + (alpha / r) B A x with
// A [r, in] initialised like a layer and B [out, r] = 0, so training starts exactly at the base model;
// `finetune --lora` trains the adapters alone and `export --merge` folds them into W. (The GPT has its own options
// of the same names, over its block matrices.)
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "genforge/core/options.h"

namespace gf::train {

struct LoraOptions {
  int64_t lora_rank = 0;           // rank r of the adapters (0: none)
  double lora_alpha = 16;          // the adapter adds alpha / r B A
  std::string lora_targets = "*";  // comma-separated globs over linear-layer names (codec.fc1, generator.0, ...)
  void validate_lora() const;
};

// Whether `layer` (e.g. "codec.fc1") matches one of the comma-separated globs of `targets`.
bool lora_targets_layer(const std::string& targets, const std::string& layer);

template <class Options>
void add_lora_options(OptionTable<Options>& t) {
  static_assert(std::is_base_of_v<LoraOptions, Options>, "model options must derive from gf::train::LoraOptions");
  using O = Options;
  t.add("lora_rank", static_cast<int64_t O::*>(&LoraOptions::lora_rank),
        "LoRA adapters of rank r on the linear layers named by lora_targets (0: none)")
      .add("lora_alpha", static_cast<double O::*>(&LoraOptions::lora_alpha),
           "LoRA scale alpha (the adapter adds alpha / r B A)")
      .add("lora_targets", static_cast<std::string O::*>(&LoraOptions::lora_targets),
           "comma-separated globs over linear-layer names (`genforge info M.gf --parameters`)");
}

}  // namespace gf::train
