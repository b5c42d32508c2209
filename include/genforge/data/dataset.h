// What a model's fit and score take: tensors, after the model's input pipeline (data/pipeline.h) has turned typed
// data (a Table, an ImageSet, text) into them. C++ users may also build a Dataset by hand.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "genforge/data/table.h"

namespace gf {

// What one column of a table model's x holds, as the input pipeline encoded it.
struct TableFeature {
  std::string column;                // the user's column it came from
  ColumnType type = ColumnType::continuous;
  std::string encoding = "number";  // number | standardize | onehot (one indicator per category) | ordinal (codes)
  int64_t n_categories = 0;         // categorical: categories of the source column
};

// For tabular models x is [N, D] float64 with NaN marking missing cells. Sequence models take several sequences
// concatenated along the rows (hmmlearn's convention): `lengths` [S] sums to N, and undefined `lengths` means one
// sequence. Token models take ids [N, 1].
struct Dataset {
  torch::Tensor x;                   // [N, D]
  torch::Tensor sample_weight;       // [N] non-negative, or undefined for equal weights
  std::vector<std::string> columns;  // D names (empty: x0, x1, ...)
  torch::Tensor labels;              // [N] int64 class labels (images), hidden-state labels (sequences; -1 =
                                     // unknown), tag ids (tagged text), or undefined
  torch::Tensor lengths;             // [S] int64 sequence / document / sentence lengths, or undefined
  // Token data: the strings behind the ids in x (id -> token) and behind the labels (id -> label), when the
  // pipeline knows them; the size of the token alphabet (0: largest id + 1) and the token that starts a text
  // (-1: none known).
  std::vector<std::string> symbols;
  std::vector<std::string> label_names;
  int64_t n_symbols = 0;
  int64_t start_symbol = -1;
  std::vector<TableFeature> features;  // table data: D entries from the input pipeline (empty: all numbers)
};

// Sequences of integer ids (documents of word ids, sentences of tag ids) as one Dataset: x [N, 1] float64 ids
// concatenated, lengths [S]. Empty sequences are kept only as zero lengths when `keep_empty`.
Dataset id_sequences(const std::vector<std::vector<int64_t>>& sequences, bool keep_empty = true);

// Offsets [S + 1] of the sequences in the concatenated rows. `lengths` [S] int64 (undefined: one sequence of n);
// a zero or negative length, or lengths that do not sum to n, are a gf::DataError.
std::vector<int64_t> sequence_offsets(const torch::Tensor& lengths, int64_t n);

}  // namespace gf
