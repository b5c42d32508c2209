// What a coder codes (internal to src/apps/compress/): the symbols of a file laid out as streams -- text as
// segments of token ids, images one stream each (pixel after pixel, a step holding every channel), lines of
// single-character symbols one stream each (sequence models), bytes for the built-in model -- and the way back to
// the file's exact bytes.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "genforge/apps/compress.h"
#include "genforge/data/tokenizers.h"
#include "genforge/model.h"

namespace gf::coding {

struct SymbolLayout {
  std::string format;               // text | idx | npy | lines | bytes
  int64_t alphabet = 256;           // V
  int64_t per_step = 1;             // G
  std::vector<int64_t> data;        // every symbol, stream after stream
  std::vector<int64_t> offsets{0};  // [S + 1]: stream s is data[offsets[s] .. offsets[s + 1])
  // Text.
  const Tokenizer* tokenizer = nullptr;
  int64_t segment_length = 0;
  // Images: the file's header kept verbatim, the image shape, channels last (npy [N, H, W, C]), level -> byte.
  std::string prefix;
  int64_t channels = 1, height = 0, width = 0;
  bool channels_last = false;
  int64_t level_step = 1;           // byte value = symbol * level_step
  int64_t order = 0;                // built-in model
  // Lines (sequence models): the byte of each symbol, whether the file ends with a line break, and the line
  // lengths, coded by the built-in model (`side`: stored before the coded groups).
  std::string symbol_bytes;
  bool trailing_newline = false;
  std::string side;

  int64_t n_streams() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t steps(int64_t s) const { return (offsets[static_cast<size_t>(s + 1)] - offsets[static_cast<size_t>(s)]) / per_step; }
  int64_t* stream(int64_t s) { return data.data() + offsets[static_cast<size_t>(s)]; }
  int64_t total_symbols() const { return static_cast<int64_t>(data.size()); }
  nlohmann::json header() const;  // the fields layout_from_header needs
  std::string rebuild() const;    // the original bytes from the symbols
};

// The symbols of `bytes` for `model` (nullptr: the built-in model). Text a tokenizer does not round-trip, images
// of another shape or with levels the model does not have are DataErrors saying what to do.
SymbolLayout layout_for(const Model* model, const std::string& bytes, const apps::CompressOptions& options);
// The layout of a stream being decoded (symbols zero, to be filled); checks the header against the model.
SymbolLayout layout_from_header(const Model* model, const nlohmann::json& header, int64_t original_bytes,
                                const std::string& side);

}  // namespace gf::coding
