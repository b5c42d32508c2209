// Causal self-attention as one CPU operator with its own backward (internal to src/models/gpt/): each (batch,
// head) pair is independent, works on the lower triangle only, and reads queries, keys and values straight out of
// the fused projection [B, T, 3C] (no permuted copies); the output lands in [B, T, C].
#pragma once
#include <torch/types.h>

namespace gf::gpt_cpu {

// qkv [B, T, 3C] float32 on the CPU (queries, keys, values side by side, heads of D = C / n_head each);
// returns y [B, T, C] = softmax(q k^T / sqrt(D) + causal mask) v per head, differentiable with respect to qkv.
torch::Tensor causal_attention(const torch::Tensor& qkv, int64_t n_head);

}  // namespace gf::gpt_cpu
