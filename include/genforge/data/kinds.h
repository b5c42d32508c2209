// The kinds of data genforge models take, as a type (not strings compared in many places).
#pragma once
#include <string>
#include <vector>

namespace gf {

enum class DataKind {
  table,        // rows of named columns (numeric after the input pipeline's encoders)
  images,       // [N, C, H, W] images, optionally with class labels
  sequences,    // table rows grouped into sequences (hidden Markov models)
  text,         // one token stream (language models)
  documents,    // bags of words, one per document (topic models)
  tagged_text,  // sentences of word/tag pairs (sequence taggers)
};

const char* to_string(DataKind kind);  // "table" | "images" | "sequences" | "text" | "documents" | "tagged-text"
DataKind data_kind_from_string(const std::string& text);  // throws InvalidArgument listing the kinds
const std::vector<DataKind>& all_data_kinds();

}  // namespace gf
