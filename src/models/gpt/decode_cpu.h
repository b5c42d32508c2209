// One incremental decoding step of the GPT on the CPU, on raw float32 arrays: the per-token work is a handful of
// matrix-vector products, where LibTorch's per-operator overhead would dominate (internal to src/models/gpt/).
#pragma once
#include <cstdint>
#include <vector>

namespace gf::gpt_cpu {

struct LayerWeights {
  const float *ln_1, *c_attn, *attn_proj, *ln_2, *c_fc, *mlp_proj;  // [C], [3C, C], [C, C], [C], [4C, C], [C, 4C]
};

struct Weights {
  const float *wte, *wpe, *ln_f;  // [V, C], [block, C], [C]
  std::vector<LayerWeights> layers;
  int64_t n_embd = 0, n_head = 0, block = 0, vocab = 0;
};

// Runs `token` at window position `pos` through every block, writing its keys and values into the caches
// (per layer [H, block, D], positions < pos already filled), and the next-token logits [V] into `logits`.
void decode_step(const Weights& w, int64_t token, int64_t pos, const std::vector<float*>& k_cache,
                 const std::vector<float*>& v_cache, float* logits);

}  // namespace gf::gpt_cpu
