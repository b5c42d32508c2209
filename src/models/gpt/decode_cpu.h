// Incremental decoding of the GPT on the CPU, on raw float32 arrays: the per-token work is a handful of
// matrix-vector products, where LibTorch's per-operator overhead would dominate (internal to src/models/gpt/).
// Every output element is computed in one fixed order of arithmetic (a row's dot product never depends on how rows
// are split across threads, or on which other rows are computed with it), so the results do not depend on the
// thread count or the batch -- what lossless coding needs (both sides must see the same probabilities).
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

// The key and value caches of one sequence: per layer [H, block, D].
struct Caches {
  std::vector<float*> k, v;
};

// One token of one sequence: `token` at window position `pos` of the sequence with caches `caches` (positions
// < pos filled, or given by earlier rows of the same call).
struct Row {
  int64_t token = 0, pos = 0;
  const Caches* caches = nullptr;
  float* logits = nullptr;  // next-token logits [V] written here (nullptr: not needed)
};

// Runs the rows through every block, writing their keys and values into the caches. Rows of one sequence must
// come in increasing positions.
void decode_rows(const Weights& w, const std::vector<Row>& rows);

}  // namespace gf::gpt_cpu
