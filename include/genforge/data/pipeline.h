// A model's input pipeline, as a scikit-learn Pipeline or the tokenizer saved with a language model: it turns
// typed data (data/source.h) into the tensors a model fits on, is fitted on the training data, saved in the .gf
// file with the model, and applied identically by every later verb (score, sample, and the applications).
//
//   table      column selection; encoders per column: numbers as they are or standardized, datetimes as seconds,
//              categories one-hot or ordinal (or refused); per-row weights; undone on samples (decode_rows)
//   sequences  the table's, plus sequence grouping and hidden-state labels
//   images     pixel scaling to [0, 1]; the class names
//   text       a tokenizer trained on the text (char, word, bpe, unigram, SentencePiece)
//   documents  a vocabulary with document-frequency cut-offs
//   tagged     word and tag strings to ids
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/data/dataset.h"
#include "genforge/data/kinds.h"
#include "genforge/data/source.h"
#include "genforge/data/tokenizers.h"

namespace gf::data {

struct PipelineOptions {
  std::string columns;                 // table: comma-separated input columns (empty: all but the ones below)
  std::string weights;                 // table: column of per-row sample weights
  std::string sequence_column;         // sequences: consecutive rows with equal values form one sequence
  std::string state_column;            // sequences: hidden-state labels 0..K-1 (empty cell: unknown)
  std::string categorical = "error";   // table: error | onehot | ordinal
  std::string datetime = "number";     // table: number (seconds since 1970) | error
  bool standardize = false;            // table: numeric columns to zero mean, unit variance (undone on samples)
  bool drop_incomplete = false;        // table: training rows with a missing input cell are left out (only in
                                       // fit_transform: imputing and scoring still see every row)
  int64_t rare_labels = -1;            // table: a categorical column's labels seen in fewer training rows than
                                       // this are pooled into one label, kRareLabel (0: every label kept; -1: auto,
                                       // which is 0 unless a model's registry line or `synth` sets it)
  double pixel_scale = 255;            // images: pixel values are divided by this
  std::string symbols = "chars";       // sequences read from text: each line's chars (bytes) | words
  std::string tokenizer = "char";      // text: char | word | bpe | unigram | spm-bpe | spm-unigram | FILE.model
  int64_t vocab_size = 1000;           // text: tokens in all, for subword and word tokenizers
  int64_t min_df = 1;                  // documents: drop words in fewer documents than this
  double max_df = 1.0;                 // documents: drop words in more than this fraction of documents
  int64_t max_words = 0;               // documents: keep only the most frequent words (0: all)
  std::string punctuation = "keep";    // documents: keep | strip (each word's leading and trailing punctuation)

  static const OptionTable<PipelineOptions>& option_table();
  // The option names that apply to a model taking `kind`, in table order.
  static std::vector<std::string> names_for(DataKind kind);
  void validate() const;
};

// The label that stands for a column's rare labels (PipelineOptions::rare_labels) in the model and in its samples.
inline constexpr const char* kRareLabel = "_RARE_";
// rare_labels of the synthesizers and of `synth` (auto): a label must be seen in this many rows to be reproduced.
inline constexpr int64_t kSynthesizerRareLabels = 5;

// How one input column becomes model features.
struct ColumnEncoder {
  std::string name;
  ColumnType type = ColumnType::continuous;
  std::string encoding = "number";  // number | standardize | onehot | ordinal
  double shift = 0, scale = 1;      // standardize: (v - shift) / scale
  std::vector<std::string> categories;  // onehot, ordinal: the training categories in order
  int decimals = -1;                    // continuous: samples are rounded to the data's digits (-1: not rounded)
  std::string format;                   // datetime: how the data wrote them (empty: ISO 8601)
  int64_t pooled_labels = 0, pooled_rows = 0;  // rare labels pooled into kRareLabel, and the training rows they had
  int64_t width() const { return encoding == "onehot" ? static_cast<int64_t>(categories.size()) : 1; }
};

class InputPipeline {
 public:
  InputPipeline() = default;
  InputPipeline(DataKind model_kind, PipelineOptions options);

  DataKind model_kind() const { return model_kind_; }
  DataKind form() const { return form_; }  // what it was fitted on (images models also take tables)
  bool fitted() const { return fitted_; }
  const PipelineOptions& options() const { return options_; }

  // Learns the columns and encoders, the tokenizer, the vocabulary or the class names from the training data.
  void fit(const Source& source);
  // Model tensors from data of the form the pipeline was fitted on. Columns are found by name; a missing input
  // column, an unseen category (except in a column with pooled rare labels, where it reads as kRareLabel) or a
  // sequence column absent from scoring data are DataErrors. The state labels are
  // read only where the data has that column.
  Dataset transform(const Source& source) const;
  // fit, then transform the training data (without its incomplete rows when drop_incomplete says so).
  Dataset fit_transform(const Source& source);

  // Table part (also of sequences read from text: text_sequences).
  const std::vector<ColumnEncoder>& encoders() const { return encoders_; }
  std::vector<std::string> input_columns() const;
  std::vector<std::string> feature_names() const;  // model columns after encoding ("colour=red" for one-hot)
  // Model rows [N, D] (samples) back to the user's columns: standardization undone, integers rounded, one-hot
  // and ordinal codes to their categories, datetimes as datetimes.
  Table decode_rows(const torch::Tensor& rows) const;
  // The table the pipeline reads from `source`: a table as it is, a text as lines of symbols for a sequence model
  // (text_sequences); other forms are InvalidArgument.
  Table as_table(const Source& source) const;
  // `table` with the cells of each column that pooled rare labels relabelled as the model reads them: a label it
  // pooled or never saw becomes kRareLabel (what synthetic rows are compared with). Other columns are as they were.
  Table with_rare_labels_pooled(const Table& table) const;
  // One model row [1, D] from given cells of the user's columns (text as in a CSV cell: numbers, category
  // labels, datetimes as seconds), NaN in every cell not given: the condition of `sample --given`. An unknown
  // column or category is InvalidArgument.
  torch::Tensor encode_given(const std::vector<std::pair<std::string, std::string>>& given) const;
  // Images: class names (may be empty) and a class given by name or index -> index (InvalidArgument if unknown).
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<int64_t>& image_shape() const { return image_shape_; }  // [C, H, W] of the training images
  int64_t class_index(const std::string& name_or_index, int64_t n_classes) const;
  // Token parts (nullptr when the pipeline has none).
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  const Vocabulary* vocabulary() const { return vocabulary_ ? &*vocabulary_ : nullptr; }

  // Selection options (columns, weights, sequence_column, state_column) replaced for scoring other data; `columns`
  // renames the inputs in order. Other keys are InvalidArgument.
  InputPipeline with_overrides(const std::vector<std::pair<std::string, std::string>>& overrides) const;

  nlohmann::json to_json() const;
  static InputPipeline from_json(const nlohmann::json& j);
  // Files written before the pipeline existed (format version 1) kept columns, vocabulary or tokenizer in the
  // model's schema; this rebuilds the equivalent pipeline.
  static InputPipeline from_legacy_schema(DataKind model_kind, const nlohmann::json& schema);

 private:
  Dataset transform_table(const Table& table) const;
  torch::Tensor encode_matrix(const Table& table) const;  // the encoded columns only [N, D]
  void fit_table(const Table& table);

  DataKind model_kind_ = DataKind::table;
  DataKind form_ = DataKind::table;
  PipelineOptions options_;
  bool fitted_ = false;
  std::vector<ColumnEncoder> encoders_;
  std::vector<std::string> class_names_;
  std::vector<int64_t> image_shape_;  // [C, H, W]
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::optional<Vocabulary> vocabulary_;
};

}  // namespace gf::data
