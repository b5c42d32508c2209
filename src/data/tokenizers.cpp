#include "genforge/data/tokenizers.h"

#include <algorithm>
#include <functional>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "genforge/core/error.h"
#include "genforge/data/text.h"

namespace gf {
namespace detail {
std::unique_ptr<Tokenizer> sentencepiece_from_json(const nlohmann::json& j);  // sentencepiece.cpp
}  // namespace detail
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

// Whitespace-separated words of each line with a vocabulary cut-off; other words become <unk>, line breaks a
// token of their own (the last id). Decoding joins words with single spaces.
class WordTokens : public Tokenizer {
 public:
  explicit WordTokens(Vocabulary v) : v_(std::move(v)) {}
  std::string kind() const override { return "word"; }
  int64_t size() const override { return v_.size() + 1; }
  int64_t newline_id() const override { return v_.size(); }
  std::vector<int64_t> encode(const std::string& text, const std::string&) const override {
    std::vector<int64_t> out;
    size_t i = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '\n') {
        out.push_back(newline_id());
        ++i;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++i;
      } else {
        size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        out.push_back(v_.id(text.substr(i, j - i)));
        i = j;
      }
    }
    return out;
  }
  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (int64_t id : ids) {
      GF_CHECK(id >= 0 && id < size(), "token id ", id, " is outside the vocabulary of ", size());
      if (id == newline_id()) {
        out += '\n';
        continue;
      }
      if (!out.empty() && out.back() != '\n') out += ' ';
      out += v_.words[static_cast<size_t>(id)];
    }
    return out;
  }
  nlohmann::json to_json() const override { return {{"kind", "word"}, {"words", v_.words}}; }

 private:
  Vocabulary v_;  // ends with <unk>
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

// Subword tokens over byte strings: text is cut into pieces, each piece encoded once per call (pieces repeat), and
// ids decode to their bytes. Subclasses say how a piece is segmented.
class PieceTokens : public Tokenizer {
 public:
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

 protected:
  virtual std::vector<int64_t> encode_piece(const std::string& piece) const = 0;
  std::vector<std::string> bytes_;  // id -> bytes
};

// Byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2's byte base): ids 0..255 are bytes, each later id the
// merge of two earlier ones, learned by merging the most frequent adjacent pair (ties: the smaller pair).
class BpeTokens : public PieceTokens {
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
  nlohmann::json to_json() const override { return {{"kind", "bpe"}, {"merges", merges_}}; }

 private:
  static uint64_t key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }
  // Merges by rank, lowest first, until no adjacent pair has one (GPT-2's encoding).
  std::vector<int64_t> encode_piece(const std::string& p) const override {
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
  std::unordered_map<uint64_t, int64_t> rank_;
};


// Unigram language-model tokens (Kudo 2018): each piece of text is split into the vocabulary's tokens along the
// most probable segmentation (Viterbi over byte positions). Ids 0..255 are the single bytes (never pruned), so any
// text can be encoded; later ids are learned multi-byte tokens.
class UnigramTokens : public PieceTokens {
 public:
  UnigramTokens(std::vector<std::string> tokens, std::vector<double> log_probs) : logp_(std::move(log_probs)) {
    bytes_ = std::move(tokens);
    GF_CHECK_AS(ModelFileError, bytes_.size() == logp_.size() && bytes_.size() >= 256, "train the model again",
                "the stored unigram vocabulary is damaged");
    for (size_t i = 0; i < bytes_.size(); ++i) {
      GF_CHECK_AS(ModelFileError, i >= 256 || (bytes_[i].size() == 1 && static_cast<unsigned char>(bytes_[i][0]) == i),
                  "train the model again", "the stored unigram vocabulary is damaged (byte token ", i, ")");
      index_[bytes_[i]] = static_cast<int64_t>(i);
      max_len_ = std::max(max_len_, bytes_[i].size());
    }
  }
  std::string kind() const override { return "unigram"; }
  nlohmann::json to_json() const override {
    std::vector<std::string> learned(bytes_.begin() + 256, bytes_.end());
    return {{"kind", "unigram"}, {"tokens", learned}, {"log_probs", logp_}};
  }
  // The most probable segmentation of one piece into tokens (without token `excluded`, when given).
  std::vector<int64_t> viterbi(const std::string& p, int64_t excluded = -1) const {
    const size_t n = p.size();
    std::vector<double> best(n + 1, -std::numeric_limits<double>::infinity());
    std::vector<int64_t> from(n + 1, -1), token(n + 1, -1);
    best[0] = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(best[i])) continue;
      for (size_t len = 1; len <= std::min(max_len_, n - i); ++len) {
        auto it = index_.find(p.substr(i, len));
        if (it == index_.end() || it->second == excluded) continue;
        const double sc = best[i] + logp_[static_cast<size_t>(it->second)];
        if (sc > best[i + len]) {
          best[i + len] = sc;
          from[i + len] = static_cast<int64_t>(i);
          token[i + len] = it->second;
        }
      }
    }
    std::vector<int64_t> out;
    for (int64_t at = static_cast<int64_t>(n); at > 0; at = from[static_cast<size_t>(at)]) {
      out.push_back(token[static_cast<size_t>(at)]);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }
 protected:
  std::vector<int64_t> encode_piece(const std::string& p) const override { return viterbi(p); }

 private:
  std::vector<double> logp_;
  std::unordered_map<std::string, int64_t> index_;
  size_t max_len_ = 1;
};

// Expected token counts of a piece under the unigram model (forward-backward over its byte lattice), added with
// weight `count`; returns the piece's log-likelihood.
double expected_counts(const std::string& p, double count, const std::unordered_map<std::string, int64_t>& index,
                       const std::vector<double>& logp, size_t max_len, std::vector<double>& counts) {
  const size_t n = p.size();
  const double neg = -std::numeric_limits<double>::infinity();
  std::vector<double> alpha(n + 1, neg), beta(n + 1, neg);
  auto lse = [](double a, double b) {
    if (a == -std::numeric_limits<double>::infinity()) return b;
    if (b == -std::numeric_limits<double>::infinity()) return a;
    const double m = std::max(a, b);
    return m + std::log(std::exp(a - m) + std::exp(b - m));
  };
  std::vector<std::vector<std::pair<size_t, int64_t>>> edges(n);  // start -> (length, token)
  for (size_t i = 0; i < n; ++i) {
    for (size_t len = 1; len <= std::min(max_len, n - i); ++len) {
      auto it = index.find(p.substr(i, len));
      if (it != index.end()) edges[i].emplace_back(len, it->second);
    }
  }
  alpha[0] = 0;
  for (size_t i = 0; i < n; ++i) {
    if (alpha[i] == neg) continue;
    for (const auto& [len, t] : edges[i]) alpha[i + len] = lse(alpha[i + len], alpha[i] + logp[static_cast<size_t>(t)]);
  }
  beta[n] = 0;
  for (size_t i = n; i-- > 0;) {
    for (const auto& [len, t] : edges[i]) beta[i] = lse(beta[i], logp[static_cast<size_t>(t)] + beta[i + len]);
  }
  const double z = alpha[n];
  for (size_t i = 0; i < n; ++i) {
    if (alpha[i] == neg) continue;
    for (const auto& [len, t] : edges[i]) {
      counts[static_cast<size_t>(t)] += count * std::exp(alpha[i] + logp[static_cast<size_t>(t)] + beta[i + len] - z);
    }
  }
  return z * count;
}

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
  // Pair counts are kept up to date as merges rewrite the pieces that hold them (only those pieces are visited);
  // the most frequent pair comes from a lazy max-heap (entries whose count went stale are skipped), ties to the
  // smaller pair, as a full recount in pair order would choose.
  auto key = [](int64_t x, int64_t y) { return (static_cast<uint64_t>(x) << 32) | static_cast<uint64_t>(y); };
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<int32_t>> holders;  // pair -> pieces that held it (may repeat or be stale)
  auto count_pairs = [&](size_t w, int64_t sign) {
    const auto& word = words[w];
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const uint64_t k = key(word[i], word[i + 1]);
      pair_counts[k] += sign * freq[w];
      if (sign > 0) holders[k].push_back(static_cast<int32_t>(w));
    }
  };
  for (size_t w = 0; w < words.size(); ++w) count_pairs(w, +1);
  using Entry = std::pair<int64_t, uint64_t>;  // (count, pair)
  auto lower = [](const Entry& x, const Entry& y) { return x.first != y.first ? x.first < y.first : x.second > y.second; };
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower)> heap(lower);
  for (const auto& [k, c] : pair_counts) heap.emplace(c, k);
  std::vector<std::pair<int64_t, int64_t>> merges;
  std::vector<int64_t> visited(words.size(), -1);  // the merge that last rewrote each piece
  while (static_cast<int64_t>(merges.size()) + 256 < vocab_size && !heap.empty()) {
    const auto [count, best] = heap.top();
    heap.pop();
    auto it = pair_counts.find(best);
    if (it == pair_counts.end() || it->second != count || count <= 0) continue;  // stale entry
    const int64_t a = static_cast<int64_t>(best >> 32), b = static_cast<int64_t>(best & 0xffffffffu);
    const int64_t id = 256 + static_cast<int64_t>(merges.size());
    merges.emplace_back(a, b);
    std::vector<int32_t> pieces_with_pair;
    pieces_with_pair.swap(holders[best]);
    std::unordered_set<uint64_t> touched;  // pairs whose counts this merge changes: re-queued at their new counts
    for (int32_t w : pieces_with_pair) {
      if (visited[static_cast<size_t>(w)] == id) continue;
      visited[static_cast<size_t>(w)] = id;
      auto& word = words[static_cast<size_t>(w)];
      bool found = false;
      for (size_t i = 0; i + 1 < word.size() && !found; ++i) found = word[i] == a && word[i + 1] == b;
      if (!found) continue;
      for (size_t i = 0; i + 1 < word.size(); ++i) touched.insert(key(word[i], word[i + 1]));
      count_pairs(static_cast<size_t>(w), -1);
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        if (word[i] == a && word[i + 1] == b) {
          word[i] = id;
          word.erase(word.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        }
      }
      count_pairs(static_cast<size_t>(w), +1);
      for (size_t i = 0; i + 1 < word.size(); ++i) touched.insert(key(word[i], word[i + 1]));
    }
    for (uint64_t k : touched) {
      const auto c = pair_counts.find(k);
      if (c != pair_counts.end() && c->second > 0) heap.emplace(c->second, k);
    }
  }
  return std::make_unique<BpeTokens>(std::move(merges));
}

std::unique_ptr<Tokenizer> train_unigram_tokenizer(const std::string& text, int64_t vocab_size) {
  GF_CHECK(vocab_size >= 257, "a unigram vocabulary holds the 256 bytes and at least one more token: vocab_size >= ",
           "257, got ", vocab_size);
  GF_CHECK_AS(DataError, !text.empty(), "give some text", "the text to train a tokenizer on is empty");
  constexpr size_t kMaxLen = 16;
  std::unordered_map<std::string, int64_t> piece_counts;
  for (const auto& p : pieces(text)) piece_counts[p] += 1;
  std::vector<std::pair<std::string, int64_t>> corpus(piece_counts.begin(), piece_counts.end());
  std::sort(corpus.begin(), corpus.end());
  // Seed vocabulary: the bytes, and the most frequent multi-byte substrings of the pieces (by count x length).
  std::unordered_map<std::string, double> sub;
  for (const auto& [p, c] : corpus) {
    for (size_t i = 0; i < p.size(); ++i) {
      for (size_t len = 2; len <= std::min(kMaxLen, p.size() - i); ++len) sub[p.substr(i, len)] += static_cast<double>(c);
    }
  }
  std::vector<std::pair<std::string, double>> seeds;
  for (const auto& [s, c] : sub) {
    if (c >= 2) seeds.emplace_back(s, c * static_cast<double>(s.size()));
  }
  std::sort(seeds.begin(), seeds.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  const size_t seed_size = static_cast<size_t>(std::max<int64_t>(4 * vocab_size, 2000));
  if (seeds.size() > seed_size) seeds.resize(seed_size);
  std::vector<std::string> tokens;
  std::vector<double> logp;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const auto& s : seeds) tokens.push_back(s.first);
  double total = 0;
  for (const auto& s : seeds) total += s.second;
  for (size_t i = 0; i < tokens.size(); ++i) {
    logp.push_back(i < 256 ? std::log(1e-6) : std::log(seeds[i - 256].second / total));
  }
  auto index_of = [](const std::vector<std::string>& t) {
    std::unordered_map<std::string, int64_t> idx;
    for (size_t i = 0; i < t.size(); ++i) idx[t[i]] = static_cast<int64_t>(i);
    return idx;
  };
  // EM, then prune the tokens whose removal costs the corpus the least likelihood, until vocab_size remain.
  while (true) {
    for (int em = 0; em < 2; ++em) {
      const auto idx = index_of(tokens);
      std::vector<double> counts(tokens.size(), 0.0);
      for (const auto& [p, c] : corpus) expected_counts(p, static_cast<double>(c), idx, logp, kMaxLen, counts);
      double sum = 0;
      for (size_t i = 0; i < counts.size(); ++i) sum += counts[i] + (i < 256 ? 1e-3 : 0.0);
      for (size_t i = 0; i < counts.size(); ++i) {
        const double ci = counts[i] + (i < 256 ? 1e-3 : 0.0);  // bytes stay possible
        logp[i] = ci > 0 ? std::log(ci / sum) : -1e9;
      }
    }
    if (static_cast<int64_t>(tokens.size()) <= vocab_size) break;
    // Loss of each learned token: its expected count times the drop from its own probability to that of its best
    // segmentation without it (SentencePiece's approximation).
    const auto idx = index_of(tokens);
    std::vector<double> counts(tokens.size(), 0.0);
    for (const auto& [p, c] : corpus) expected_counts(p, static_cast<double>(c), idx, logp, kMaxLen, counts);
    UnigramTokens model(tokens, logp);
    std::vector<std::pair<double, size_t>> loss;
    for (size_t i = 256; i < tokens.size(); ++i) {
      double alt_lp = 0;
      for (int64_t t : model.viterbi(tokens[i], static_cast<int64_t>(i))) alt_lp += logp[static_cast<size_t>(t)];
      loss.emplace_back(counts[i] * (logp[i] - alt_lp), i);
    }
    std::sort(loss.begin(), loss.end());
    const size_t excess = tokens.size() - static_cast<size_t>(vocab_size);
    const size_t drop = std::min(excess, std::max<size_t>(1, (tokens.size() - 256) / 5));
    std::vector<bool> gone(tokens.size(), false);
    for (size_t r = 0; r < drop; ++r) gone[loss[r].second] = true;
    std::vector<std::string> kept_tokens;
    std::vector<double> kept_logp;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (gone[i]) continue;
      kept_tokens.push_back(tokens[i]);
      kept_logp.push_back(logp[i]);
    }
    tokens.swap(kept_tokens);
    logp.swap(kept_logp);
  }
  return std::make_unique<UnigramTokens>(std::move(tokens), std::move(logp));
}

std::unique_ptr<Tokenizer> train_char_tokenizer(const std::string& text) {
  return std::make_unique<CharTokens>(CharTokenizer::build(text));
}

std::unique_ptr<Tokenizer> train_word_tokenizer(const std::string& text, int64_t vocab_size, int64_t min_count) {
  GF_CHECK(vocab_size >= 3, "a word vocabulary holds <unk>, the line break and at least one word: vocab_size >= 3, ",
           "got ", vocab_size);
  std::vector<std::vector<std::string>> lines(1);
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') lines.emplace_back();
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    lines.back().push_back(text.substr(i, j - i));
    i = j;
  }
  VocabularyOptions o;
  o.min_count = min_count;
  o.max_size = vocab_size - 2;
  o.unk = true;
  auto v = Vocabulary::build(lines, o);
  GF_CHECK_AS(DataError, v.size() > 1, "give some text", "the text to train a tokenizer on has no words");
  return std::make_unique<WordTokens>(std::move(v));
}

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& text, int64_t vocab_size) {
  if (kind == "char") return train_char_tokenizer(text);
  if (kind == "word") return train_word_tokenizer(text, vocab_size);
  if (kind == "bpe") return train_bpe_tokenizer(text, vocab_size);
  if (kind == "unigram") return train_unigram_tokenizer(text, vocab_size);
  if (kind == "spm-bpe" || kind == "spm-unigram") {
    SentencePieceOptions o;
    o.model_type = kind.substr(4);
    o.vocab_size = vocab_size;
    return train_sentencepiece_tokenizer(text, o);
  }
  const std::string ext = ".model";
  if (kind.size() > ext.size() && kind.compare(kind.size() - ext.size(), ext.size(), ext) == 0) {
    return load_sentencepiece_tokenizer(kind);
  }
  throw InvalidArgument(msg("unknown tokenizer '", kind, "'"),
                        "use char, word, bpe, unigram, spm-bpe, spm-unigram or a SentencePiece .model file");
}

namespace {
// Every number in `j` (arrays of arrays) is an integer: nlohmann converts 2.5e90 to an int without a check.
const nlohmann::json& integers(const nlohmann::json& j, const char* key) {
  std::function<bool(const nlohmann::json&)> ok = [&](const nlohmann::json& v) {
    if (v.is_array()) return std::all_of(v.begin(), v.end(), ok);
    return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (int64_t{1} << 31);
  };
  const auto& v = j.at(key);
  if (!v.is_array() || !ok(v)) {
    throw ModelFileError(msg("the model's tokenizer record is damaged: '", key, "' holds a value that is not a token id"),
                         "train the model again");
  }
  return v;
}
}  // namespace

std::string decode_continuation(const Tokenizer& tokenizer, const std::vector<int64_t>& prompt,
                                const std::vector<int64_t>& added) {
  if (prompt.empty()) return tokenizer.decode(added);
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), added.begin(), added.end());
  const std::string before = tokenizer.decode(prompt), whole = tokenizer.decode(all);
  return whole.compare(0, before.size(), before) == 0 ? whole.substr(before.size()) : tokenizer.decode(added);
}

std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j) {
  try {
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "char") {
      return std::make_unique<CharTokens>(CharTokenizer::from_bytes(integers(j, "bytes").get<std::vector<int>>()));
    }
    if (kind == "bpe") {
      return std::make_unique<BpeTokens>(integers(j, "merges").get<std::vector<std::pair<int64_t, int64_t>>>());
    }
    if (kind == "unigram") {
      std::vector<std::string> tokens;
      for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
      for (const auto& t : j.at("tokens").get<std::vector<std::string>>()) tokens.push_back(t);
      return std::make_unique<UnigramTokens>(std::move(tokens), j.at("log_probs").get<std::vector<double>>());
    }
    if (kind == "sentencepiece") return detail::sentencepiece_from_json(j);
    if (kind == "word") return std::make_unique<WordTokens>(Vocabulary::from_words(j.at("words").get<std::vector<std::string>>(), true));
    throw ModelFileError(msg("unknown tokenizer kind '", kind, "' in the model"), "train the model again");
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("the model's tokenizer record is damaged: ", e.what()), "train the model again");
  }
}

}  // namespace gf
