#include "genforge/data/tokenizers.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "genforge/core/error.h"
#include "genforge/data/text.h"

namespace gf {
namespace {

class CharTokens : public Tokenizer {
 public:
  explicit CharTokens(CharTokenizer t) : t_(std::move(t)) {}
  std::string kind() const override { return "char"; }
  int64_t size() const override { return t_.size(); }
  std::vector<int64_t> encode(const std::string& text, const std::string& what) const override {
    return t_.encode(text, what);
  }
  std::string decode(const std::vector<int64_t>& ids) const override { return t_.decode(ids); }
  int64_t newline_id() const override { return t_.id('\n'); }
  nlohmann::json to_json() const override { return {{"kind", "char"}, {"bytes", t_.bytes}}; }

 private:
  CharTokenizer t_;
};

// Pieces BPE works within: line breaks alone, runs of spaces alone, and words with at most one leading space
// (" the"), so merges never cross a word boundary or a line.
std::vector<std::string> pieces(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    if (text[i] == '\n') {
      j = i + 1;
    } else if (text[i] == ' ') {
      while (j < text.size() && text[j] == ' ') ++j;
      if (j < text.size() && text[j] != '\n' && j - i > 1) {
        --j;  // leave one space to lead the next word
      } else if (j < text.size() && text[j] != '\n') {
        while (j < text.size() && text[j] != ' ' && text[j] != '\n') ++j;
      }
    } else {
      while (j < text.size() && text[j] != ' ' && text[j] != '\n') ++j;
    }
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

// Byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2's byte base): ids 0..255 are bytes, each later id the
// merge of two earlier ones, learned by merging the most frequent adjacent pair (ties: the smaller pair).
class BpeTokens : public Tokenizer {
 public:
  explicit BpeTokens(std::vector<std::pair<int64_t, int64_t>> merges) : merges_(std::move(merges)) {
    for (int b = 0; b < 256; ++b) bytes_.push_back(std::string(1, static_cast<char>(b)));
    for (size_t m = 0; m < merges_.size(); ++m) {
      const auto [a, b] = merges_[m];
      GF_CHECK_AS(ModelFileError, a >= 0 && b >= 0 && a < static_cast<int64_t>(bytes_.size()) &&
                                      b < static_cast<int64_t>(bytes_.size()),
                  "train the model again", "the stored BPE merges are damaged (merge ", m, ")");
      rank_[key(a, b)] = static_cast<int64_t>(m);
      bytes_.push_back(bytes_[static_cast<size_t>(a)] + bytes_[static_cast<size_t>(b)]);
    }
  }
  std::string kind() const override { return "bpe"; }
  int64_t size() const override { return static_cast<int64_t>(bytes_.size()); }
  int64_t newline_id() const override { return '\n'; }
  std::vector<int64_t> encode(const std::string& text, const std::string&) const override {
    std::vector<int64_t> out;
    std::unordered_map<std::string, std::vector<int64_t>> cache;
    for (const auto& p : pieces(text)) {
      auto it = cache.find(p);
      if (it == cache.end()) it = cache.emplace(p, encode_piece(p)).first;
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
    return out;
  }
  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (int64_t id : ids) {
      GF_CHECK(id >= 0 && id < size(), "token id ", id, " is outside the vocabulary of ", size());
      out += bytes_[static_cast<size_t>(id)];
    }
    return out;
  }
  nlohmann::json to_json() const override { return {{"kind", "bpe"}, {"merges", merges_}}; }

 private:
  static uint64_t key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }
  // Merges by rank, lowest first, until no adjacent pair has one (GPT-2's encoding).
  std::vector<int64_t> encode_piece(const std::string& p) const {
    std::vector<int64_t> s;
    for (unsigned char c : p) s.push_back(c);
    while (s.size() > 1) {
      int64_t best = -1;
      size_t at = 0;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        auto r = rank_.find(key(s[i], s[i + 1]));
        if (r != rank_.end() && (best < 0 || r->second < best)) {
          best = r->second;
          at = i;
        }
      }
      if (best < 0) break;
      s[at] = 256 + best;
      s.erase(s.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    return s;
  }

  std::vector<std::pair<int64_t, int64_t>> merges_;
  std::vector<std::string> bytes_;  // id -> bytes
  std::unordered_map<uint64_t, int64_t> rank_;
};

}  // namespace

std::unique_ptr<Tokenizer> train_bpe_tokenizer(const std::string& text, int64_t vocab_size) {
  GF_CHECK(vocab_size >= 257, "a BPE vocabulary holds the 256 bytes and at least one merge: vocab_size >= 257, got ",
           vocab_size);
  GF_CHECK_AS(DataError, !text.empty(), "give some text", "the text to train a tokenizer on is empty");
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& p : pieces(text)) counts[p] += 1;
  // Unique pieces as symbol sequences with their counts, in a fixed order.
  std::vector<std::pair<std::string, int64_t>> ordered(counts.begin(), counts.end());
  std::sort(ordered.begin(), ordered.end());
  std::vector<std::vector<int64_t>> words;
  std::vector<int64_t> freq;
  for (const auto& [p, c] : ordered) {
    std::vector<int64_t> w;
    for (unsigned char ch : p) w.push_back(ch);
    if (w.size() > 1) {
      words.push_back(std::move(w));
      freq.push_back(c);
    }
  }
  std::vector<std::pair<int64_t, int64_t>> merges;
  std::map<std::pair<int64_t, int64_t>, int64_t> pair_counts;
  while (static_cast<int64_t>(merges.size()) + 256 < vocab_size) {
    pair_counts.clear();
    for (size_t w = 0; w < words.size(); ++w) {
      for (size_t i = 0; i + 1 < words[w].size(); ++i) pair_counts[{words[w][i], words[w][i + 1]}] += freq[w];
    }
    if (pair_counts.empty()) break;  // every piece is one token already
    auto best = pair_counts.begin();
    for (auto it = pair_counts.begin(); it != pair_counts.end(); ++it) {
      if (it->second > best->second) best = it;  // map order: ties go to the smaller pair
    }
    const auto [a, b] = best->first;
    const int64_t id = 256 + static_cast<int64_t>(merges.size());
    merges.emplace_back(a, b);
    for (auto& w : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == a && w[i + 1] == b) {
          w[i] = id;
          w.erase(w.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        }
      }
    }
  }
  return std::make_unique<BpeTokens>(std::move(merges));
}

std::unique_ptr<Tokenizer> train_char_tokenizer(const std::string& text) {
  return std::make_unique<CharTokens>(CharTokenizer::build(text));
}

std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j) {
  try {
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "char") return std::make_unique<CharTokens>(CharTokenizer::from_bytes(j.at("bytes").get<std::vector<int>>()));
    if (kind == "bpe") return std::make_unique<BpeTokens>(j.at("merges").get<std::vector<std::pair<int64_t, int64_t>>>());
    throw ModelFileError(msg("unknown tokenizer kind '", kind, "' in the model"), "train the model again");
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("the model's tokenizer record is damaged: ", e.what()), "train the model again");
  }
}

}  // namespace gf
