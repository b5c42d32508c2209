// GPT-style language model: a decoder-only Transformer (Radford et al. 2019 layout as nanoGPT: pre-LayerNorm
// blocks without biases, causal self-attention written here, GELU MLP, learned positions, output layer tied to
// the token embedding), trained through the shared Trainer (AdamW with weight decay on matrices only, cosine
// schedule with warm-up, clipping, checkpoints, resume), sampled with a KV cache.
//
//   gf::GptOptions o;                           // 4 layers, 4 heads, 128 wide, context 128 by default
//   gf::Gpt gpt(o);
//   gpt.fit({token_ids});                       // [N, 1] int64 token ids of the training text
//   auto gen = gf::make_generator(0);
//   gf::GenerateOptions g;
//   g.max_tokens = 200;
//   g.temperature = 0.8;
//   g.top_k = 40;
//   auto ids = gpt.generate(prompt_ids, g, gen); // new tokens only
//   auto ll = gpt.score_samples(token_ids);      // [N] log p(token | preceding tokens), nats
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"

namespace gf {

struct GptOptions : train::TrainOptions {
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;       // width; divisible by n_head
  int64_t block_size = 128;   // context length
  int64_t vocab_size = 0;     // tokens (0: largest id in the data + 1)
  int64_t start_token = -1;   // what sample() starts from, and the context of the first scored token (-1: the
                              // data's start symbol, e.g. a tokenizer's line break; else 0)
  // LoRA (Hu et al. 2021): adapters W + (alpha / r) B A on the matrices named by lora_targets (globs over
  // attn_c_attn, attn_c_proj, mlp_c_fc, mlp_c_proj); `finetune --lora` trains them alone. 0: none.
  int64_t lora_rank = 0;
  double lora_alpha = 16;
  std::string lora_targets = "attn_c_attn,attn_c_proj,mlp_c_fc,mlp_c_proj";
  GptOptions();
  void validate() const;
};
// Whether the comma-separated globs `targets` name `matrix`.
bool lora_targets_matrix(const std::string& targets, const std::string& matrix);


class Gpt : public Model, public TextGenerator, public SymbolPredictor, public AdaptedModel, public TokenModel {
 public:
  using Options = GptOptions;
  static const OptionTable<GptOptions>& option_table();

  explicit Gpt(GptOptions options = {});
  ~Gpt() override;

  std::string kind() const override { return "gpt"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const GptOptions& options() const { return options_; }

  // x [N, 1] token ids, one stream (documents concatenated); the examples are its windows of block_size + 1
  // tokens (inputs and next-token targets) at every start offset, shuffled; max_steps (default 2000) sets the
  // length. ctx.validation: a held-out stream, in non-overlapping windows.
  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return net_ != nullptr; }
  // n tokens generated from start_token with temperature 1. int64 [n, 1]
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  // log p(x_t | x_<t) of each token of the stream x, in windows of block_size tokens, the first conditioned on
  // start_token and each later window on the window before it (at least block_size / 2 tokens of context). [N]
  torch::Tensor score_samples(const torch::Tensor& x) const override;
  // New tokens after `prompt` [T] (int64 ids; empty: start_token). When the context fills the block, the cache
  // restarts from its last block_size / 2 tokens (the uncached path uses the same window, so both agree).
  torch::Tensor generate(const torch::Tensor& prompt, const GenerateOptions& g, at::Generator& gen) const override;
  int64_t context_length() const override { return options_.block_size; }
  // On the CPU (float32): sequences through the CPU kernels, each with its own window (as generate()); else nullptr.
  std::unique_ptr<BatchDecoder> open_decoder() const override;
  // Next-token logits for every position of idx [B, T] (T <= block_size). [B, T, V]
  torch::Tensor logits(const torch::Tensor& idx) const;
  int64_t vocab_size() const;
  // Lossless coding: each stream starts from start_token and slides its window as generate() does (restarting
  // from the last block_size / 2 tokens), through CPU kernels whose results do not depend on the thread count.
  int64_t alphabet_size() const override { return vocab_size(); }
  std::unique_ptr<SymbolStreams> open_streams(int64_t batch) const override;
  int64_t n_parameters() const;
  // LoRA: the adapters' parameter count; merging folds W + (alpha / r) B A into W and drops the adapters.
  int64_t adapter_parameters() const override;
  // The token embedding `wte` (tied to the output layer); meta/vocab_size and meta/start_token.
  std::vector<std::string> token_tensors() const override { return {"wte"}; }
  std::vector<std::string> vocabulary_records() const override { return {"meta/vocab_size", "meta/start_token"}; }
  void merge_adapters() override;

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

  struct Net;  // the torch module (src/models/gpt/)

 private:
  GptOptions options_;
  int64_t start_ = 0;  // the start token in use (options or data)
  std::shared_ptr<Net> net_;
};

}  // namespace gf
