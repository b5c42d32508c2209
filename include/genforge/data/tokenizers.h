// Tokenizers for language models behind one interface. A model keeps its tokenizer in its schema (`to_json` /
// `tokenizer_from_json`), so generation and scoring tokenise exactly as training did. Characters (bytes), and
// byte-level BPE and unigram LM tokens written here: Debian's libsentencepiece cannot be loaded next to Debian's
// LibTorch (their protobuf builds clash at load time; docs/models/gpt.md).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gf {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string kind() const = 0;  // "char" | "bpe" | "unigram"
  virtual int64_t size() const = 0;      // vocabulary size
  // Token ids of a text; text a tokenizer cannot represent is a DataError naming `what` and the offset.
  virtual std::vector<int64_t> encode(const std::string& text, const std::string& what = "the text") const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t newline_id() const = 0;  // the token of "\n" (-1: none)
  virtual nlohmann::json to_json() const = 0;
};

// Characters: the sorted bytes of `text`.
std::unique_ptr<Tokenizer> train_char_tokenizer(const std::string& text);
// Byte-level BPE with vocab_size tokens (256 bytes + merges), learned within pieces (words with their leading
// space, runs of spaces, line breaks); any text round-trips exactly.
std::unique_ptr<Tokenizer> train_bpe_tokenizer(const std::string& text, int64_t vocab_size);
// Unigram language-model tokens (Kudo 2018) with vocab_size tokens (256 bytes + learned pieces): a seed vocabulary
// of frequent substrings (up to 16 bytes) of the pieces, EM on the segmentation lattice, and pruning of the tokens
// whose removal costs the corpus least likelihood (a fifth at a time); encoding is the Viterbi segmentation.
std::unique_ptr<Tokenizer> train_unigram_tokenizer(const std::string& text, int64_t vocab_size);
// The tokenizer a model recorded (schema["tokenizer"]); a missing or damaged record is a ModelFileError.
std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j);

}  // namespace gf
