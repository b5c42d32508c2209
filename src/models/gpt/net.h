// The GPT's network and its CPU kernels' view of it (internal to src/models/gpt/).
#pragma once
#include <torch/nn/module.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention_cpu.h"
#include "decode_cpu.h"
#include "genforge/core/error.h"
#include "genforge/core/runtime.h"
#include "genforge/models/gpt.h"

namespace gf {

// The network as named tensors (nanoGPT's names with '_' for '.', which LibTorch does not allow).
struct Gpt::Net : torch::nn::Module {
  struct Layer {
    torch::Tensor ln_1, c_attn, attn_proj, ln_2, c_fc, mlp_proj;  // [C], [3C, C], [C, C], [C], [4C, C], [C, 4C]
    // LoRA adapters (Hu et al. 2021) of the matrices c_attn, attn_proj, c_fc, mlp_proj (kMatrices order):
    // W x + (alpha / r) B A x with A [r, in], B [out, r]; undefined where the matrix is not adapted.
    torch::Tensor lora_a[4], lora_b[4];
    const torch::Tensor& matrix(int m) const { return m == 0 ? c_attn : m == 1 ? attn_proj : m == 2 ? c_fc : mlp_proj; }
  };
  static constexpr const char* kMatrices[4] = {"attn_c_attn", "attn_c_proj", "mlp_c_fc", "mlp_c_proj"};
  double lora_scale = 0;
  int64_t n_layer, n_head, n_embd, block, vocab;
  torch::Tensor wte, wpe, ln_f;  // [V, C], [block, C], [C]
  std::vector<Layer> h;
  torch::Tensor causal;  // [block, block] 0 on and below the diagonal, -inf above (additive mask)

  Net(const GptOptions& o, int64_t vocab_size)
      : n_layer(o.n_layer), n_head(o.n_head), n_embd(o.n_embd), block(o.block_size), vocab(vocab_size) {
    const int64_t c = n_embd;
    // Checked before allocating (options may come from a damaged file): parameters and Adam's two moments.
    const double parameters = (static_cast<double>(vocab) + block) * c + 12.0 * n_layer * c * c;
    check_memory_estimate(3 * 4 * parameters, msg("a GPT with n_layer=", n_layer, ", n_embd=", n_embd, ", block_size=",
                                                  block, " and ", vocab, " tokens"),
                          "choose smaller n_layer, n_embd, block_size or vocab_size");
    wte = register_parameter("wte", torch::empty({vocab, c}));
    wpe = register_parameter("wpe", torch::empty({block, c}));
    for (int64_t l = 0; l < n_layer; ++l) {
      const std::string p = "h" + std::to_string(l) + "_";
      Layer L;
      L.ln_1 = register_parameter(p + "ln_1", torch::ones({c}));
      L.c_attn = register_parameter(p + "attn_c_attn", torch::empty({3 * c, c}));
      L.attn_proj = register_parameter(p + "attn_c_proj", torch::empty({c, c}));
      L.ln_2 = register_parameter(p + "ln_2", torch::ones({c}));
      L.c_fc = register_parameter(p + "mlp_c_fc", torch::empty({4 * c, c}));
      L.mlp_proj = register_parameter(p + "mlp_c_proj", torch::empty({c, 4 * c}));
      for (int m = 0; m < 4 && o.lora_rank > 0; ++m) {
        if (!lora_targets_matrix(o.lora_targets, kMatrices[m])) continue;
        const auto& w = L.matrix(m);
        L.lora_a[m] = register_parameter(p + kMatrices[m] + "_lora_A", torch::empty({o.lora_rank, w.size(1)}));
        L.lora_b[m] = register_parameter(p + kMatrices[m] + "_lora_B", torch::zeros({w.size(0), o.lora_rank}));
      }
      h.push_back(L);
    }
    ln_f = register_parameter("ln_f", torch::ones({c}));
    if (o.lora_rank > 0) lora_scale = o.lora_alpha / static_cast<double>(o.lora_rank);
    causal = register_buffer("causal_mask",
                             torch::full({block, block}, -std::numeric_limits<float>::infinity()).triu(1));
  }

  // GPT-2's initialisation: N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 n_layer)), LayerNorm weights 1.
  void initialise(at::Generator& gen) {
    torch::NoGradGuard no_grad;
    auto normal = [&](torch::Tensor& t, double std) { t.normal_(0.0, std, gen); };
    normal(wte, 0.02);
    normal(wpe, 0.02);
    const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(n_layer));
    for (auto& L : h) {
      normal(L.c_attn, 0.02);
      normal(L.attn_proj, proj_std);
      normal(L.c_fc, 0.02);
      normal(L.mlp_proj, proj_std);
      // A as a layer's usual initialisation, B zero: the adapted model starts as the base (LoRA's choice).
      for (auto& a : L.lora_a) {
        if (a.defined()) normal(a, 1.0 / std::sqrt(static_cast<double>(a.size(1))));
      }
    }
  }

  // x W_m^T, plus the adapter's (alpha / r) x A^T B^T.
  torch::Tensor project(const torch::Tensor& x, const Layer& L, int m) const {
    auto y = torch::linear(x, L.matrix(m));
    if (L.lora_a[m].defined()) y = y + torch::linear(torch::linear(x, L.lora_a[m]), L.lora_b[m]) * lora_scale;
    return y;
  }
  // W_m + (alpha / r) B A: what the adapted matrix amounts to (the CPU decoding kernels and merging use it).
  torch::Tensor merged(const Layer& L, int m) const {
    if (!L.lora_a[m].defined()) return L.matrix(m);
    return L.matrix(m) + torch::mm(L.lora_b[m], L.lora_a[m]) * lora_scale;
  }

  static torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& w) {
    return torch::layer_norm(x, {x.size(-1)}, w, {}, 1e-5);
  }

  // Causal self-attention over x [B, T, C]: queries see their own and earlier positions only. On the CPU one
  // fused operator (attention_cpu.h); elsewhere the same arithmetic in LibTorch operators.
  torch::Tensor attention(const torch::Tensor& x, const Layer& L) const {
    if (x.is_cpu() && x.scalar_type() == torch::kFloat32) {
      return project(gpt_cpu::causal_attention(project(x, L, 0), n_head), L, 1);
    }
    const int64_t b = x.size(0), t = x.size(1), c = n_embd, d = c / n_head;
    auto qkv = project(x, L, 0).view({b, t, 3, n_head, d}).permute({2, 0, 3, 1, 4});  // [3, B, H, T, D]
    auto q = qkv[0] * (1.0 / std::sqrt(static_cast<double>(d)));
    auto att = torch::matmul(q, qkv[1].transpose(-2, -1)) + causal.slice(0, 0, t).slice(1, 0, t);  // [B, H, T, T]
    att = torch::softmax(att, -1);
    auto y = torch::matmul(att, qkv[2]).transpose(1, 2).reshape({b, t, c});  // [B, T, C]
    return project(y, L, 1);
  }

  // Final hidden states [B, T, C] of idx [B, T] starting at absolute position `pos0`.
  torch::Tensor hidden(const torch::Tensor& idx, int64_t pos0 = 0) const {
    const int64_t t = idx.size(1);
    auto x = torch::embedding(wte, idx) + wpe.slice(0, pos0, pos0 + t);
    for (const auto& L : h) {
      x = x + attention(norm(x, L.ln_1), L);
      x = x + project(torch::gelu(project(norm(x, L.ln_2), L, 2)), L, 3);
    }
    return norm(x, ln_f);
  }

  torch::Tensor logits(const torch::Tensor& idx) const { return torch::matmul(hidden(idx), wte.t()); }
};

// The CPU kernels' view of the network's tensors (float32, contiguous, on the CPU): adapted matrices merged, the
// merged copies kept alive beside the pointers.
struct GptRawWeights {
  gpt_cpu::Weights w;
  std::vector<torch::Tensor> matrices;
};
GptRawWeights raw_weights(const Gpt::Net& net);

}  // namespace gf
