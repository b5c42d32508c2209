// Lossless compression driven by a model's next-symbol predictions (arithmetic coding): a GPT on text, a
// PixelCNN on 8-bit images, or the built-in adaptive order-k context model on any bytes (no model file needed).
//
// Both sides must compute the same probabilities to the last bit, so the coding path runs each model in a
// deterministic mode (SymbolPredictor): the GPT's CPU kernels compute every output in a fixed order whatever the
// thread count, the PixelCNN runs with one intra-op thread, and probabilities become integer frequencies (total
// 2^24, each symbol at least 1) in one fixed order of arithmetic. Decoding is bit-exact on the machine (and
// build) that encoded; another CPU may round a model's floating point differently, which the CRC-32 then reports.
//
// The compressed file: magic "\x89GFZ", format version (u32), header length (u32), header CRC-32 (u32), the
// header (JSON: coder, model SHA-256, original length and CRC-32, layout), then the coded streams.
//
//   auto model = gf::load_model("brown-gpt.gf");
//   gf::apps::CompressReport r;
//   auto packed = gf::apps::compress_bytes(model.get(), gf::sha256_file_hex("brown-gpt.gf"), text, {}, &r);
//   auto text2 = gf::apps::decompress_bytes(model.get(), gf::sha256_file_hex("brown-gpt.gf"), packed, {});
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "genforge/model.h"

namespace gf::apps {

struct CompressOptions {
  int64_t batch = 32;           // streams coded together: text segments or images
  int64_t segment_length = 0;   // text: tokens per independently coded segment (0: max(4096, tokens / 64))
  int64_t order = 4;            // built-in model: the longest context, in bytes (0 .. 7)
  bool progress = true;         // a progress bar with KB/s on stderr
  void validate() const;
};

struct CompressReport {
  std::string coder;            // the model kind, or "order-K" for the built-in model
  std::string format;           // text | idx | npy | bytes
  int64_t original_bytes = 0;   // the data coded (an IDX file after gunzip)
  int64_t compressed_bytes = 0; // the compressed file, header included
  int64_t symbols = 0;          // tokens, pixel values or bytes coded
  int64_t streams = 0;          // text segments, images, or 1
  double model_bits = 0;        // sum of -log2 p(symbol) under the model: its cross-entropy on this data
  double payload_bits = 0;      // what the arithmetic coder wrote for those symbols
  double seconds = 0;
  // sizes, bits per byte (and per pixel for images), the coding overhead (payload over model bits, minus one) and
  // KB/s of original data.
  nlohmann::json to_json() const;
};

// `model` nullptr: the built-in order-k model. `model_sha256` names the model file (checked on decompression).
std::string compress_bytes(const Model* model, const std::string& model_sha256, const std::string& data,
                           const CompressOptions& options = {}, CompressReport* report = nullptr);
// A wrong model (other SHA-256 or kind), a truncated or damaged stream, or a result whose CRC-32 differs from the
// original's are DataErrors; nothing is returned then.
std::string decompress_bytes(const Model* model, const std::string& model_sha256, const std::string& compressed,
                             const CompressOptions& options = {}, CompressReport* report = nullptr);

// Files (written atomically). `model_path` empty: the built-in model. Image models read gzip-compressed IDX files
// as well (the original is then the decompressed file).
CompressReport compress_file(const std::string& model_path, const std::string& in, const std::string& out,
                             const CompressOptions& options = {});
CompressReport decompress_file(const std::string& model_path, const std::string& in, const std::string& out,
                               const CompressOptions& options = {});

}  // namespace gf::apps
