// Tokenizers for language models behind one interface. A model keeps its tokenizer in its schema (`to_json` /
// `tokenizer_from_json`), so generation and scoring tokenise exactly as training did. Characters (bytes), byte-level
// BPE and unigram LM tokens written here, and SentencePiece's BPE and unigram models (Debian's libsentencepiece,
// reached through a separate module: its bundled protobuf clashes with LibTorch's; docs/models/gpt.md).
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
  virtual std::string kind() const = 0;  // "char" | "word" | "bpe" | "unigram" | "sentencepiece"
  virtual int64_t size() const = 0;      // vocabulary size
  // Token ids of a text; text a tokenizer cannot represent is a DataError naming `what` and the offset.
  virtual std::vector<int64_t> encode(const std::string& text, const std::string& what = "the text") const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t newline_id() const = 0;  // the token of "\n" (-1: none)
  virtual nlohmann::json to_json() const = 0;
};

// The text that `added` tokens append to `prompt` tokens: decoding both minus decoding the prompt, so tokenizers that
// join words with spaces (word, SentencePiece) put the separator between them ("a kind of" + " from", not "offrom").
// Falls back to decoding `added` alone where the prompt's text is not a prefix of the whole.
std::string decode_continuation(const Tokenizer& tokenizer, const std::vector<int64_t>& prompt,
                                const std::vector<int64_t>& added);

// Characters: the sorted bytes of `text`.
std::unique_ptr<Tokenizer> train_char_tokenizer(const std::string& text);
// Words (whitespace-separated) with the vocab_size - 2 most frequent seen at least min_count times, "<unk>" for the
// others and a line-break token (the last id); decoding joins words with single spaces.
std::unique_ptr<Tokenizer> train_word_tokenizer(const std::string& text, int64_t vocab_size, int64_t min_count = 1);
// Byte-level BPE with vocab_size tokens (256 bytes + merges), learned within pieces (words with their leading
// space, runs of spaces, line breaks); any text round-trips exactly.
std::unique_ptr<Tokenizer> train_bpe_tokenizer(const std::string& text, int64_t vocab_size);
// Unigram language-model tokens (Kudo 2018) with vocab_size tokens (256 bytes + learned pieces): a seed vocabulary
// of frequent substrings (up to 16 bytes) of the pieces, EM on the segmentation lattice, and pruning of the tokens
// whose removal costs the corpus least likelihood (a fifth at a time); encoding is the Viterbi segmentation.
std::unique_ptr<Tokenizer> train_unigram_tokenizer(const std::string& text, int64_t vocab_size);
struct SentencePieceOptions {
  std::string model_type = "unigram";  // "bpe" | "unigram"
  int64_t vocab_size = 8000;           // all tokens: SentencePiece's pieces (incl. 256 bytes, <unk>) + the line break
  double character_coverage = 1.0;     // share of characters that get their own piece; the rest fall back to bytes
  bool split_digits = false;           // digits as single pieces
  int64_t max_sentence_length = 1 << 16;  // bytes; longer lines are left out of training (still encoded)
  unsigned seed = 0;
  // SentencePiece's parallel EM sums per thread, so its unigram model depends on the thread count: 1 (default) gives
  // the same tokenizer on every machine; 0 uses genforge's thread setting.
  int threads = 1;
};
// SentencePiece trained on the lines of `text`: identity normalisation, spaces kept, byte fallback, so any text
// round-trips (except U+2581, SentencePiece's own space mark, which decodes as a space). Lines are encoded one at
// a time and joined by a line-break token, the last id. NotSupported when genforge was built without it.
std::unique_ptr<Tokenizer> train_sentencepiece_tokenizer(const std::string& text, const SentencePieceOptions& options);
// A model written by spm_train (or any SentencePiece .model file), with the line-break token added.
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_file);
// Whether the SentencePiece module can be loaded (else `why` says why).
bool sentencepiece_available(std::string* why = nullptr);
// The piece of a SentencePiece tokenizer's id, in SentencePiece's spelling (U+2581 for a space, <0xNN> for bytes).
std::string sentencepiece_piece(const Tokenizer& tokenizer, int64_t id);

// The tokenizer named by `kind`, trained on `text`: "char", "word", "bpe", "unigram" (written here), "spm-bpe",
// "spm-unigram" (SentencePiece), or the path of a SentencePiece .model file (used as it is). vocab_size applies to
// the word and subword kinds.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& text, int64_t vocab_size);

// The tokenizer a model recorded (schema["tokenizer"]); a missing or damaged record is a ModelFileError.
std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j);

}  // namespace gf
