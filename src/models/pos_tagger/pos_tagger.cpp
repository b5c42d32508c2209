#include "genforge/models/pos_tagger.h"

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "../hmm/hmm_internal.h"
#include "genforge/core/error.h"
#include "genforge/io/model_file.h"

namespace gf {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// The word-shape class the suffix statistics are kept under.
std::string shape(const std::string& word) {
  std::string s;
  if (!word.empty() && std::isupper(static_cast<unsigned char>(word[0]))) s += 'C';
  if (std::any_of(word.begin(), word.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    s += 'D';
  }
  if (word.find('-') != std::string::npos) s += 'H';
  return s;
}

std::string lower(const std::string& w) {
  std::string out = w;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string suffix_key(const std::string& shape_class, const std::string& lowered, size_t len) {
  return shape_class + "|" + lowered.substr(lowered.size() - len);
}

// Sparse rows from ordered maps: ptr [R + 1], column ids and values.
template <class Value>
void compress(const std::vector<std::map<int64_t, Value>>& rows, std::vector<int64_t>& ptr, std::vector<int64_t>& col,
              std::vector<double>& val) {
  ptr.assign(1, 0);
  col.clear();
  val.clear();
  for (const auto& r : rows) {
    for (const auto& [c, v] : r) {
      col.push_back(c);
      val.push_back(static_cast<double>(v));
    }
    ptr.push_back(static_cast<int64_t>(col.size()));
  }
}

}  // namespace

void PosTaggerOptions::validate() const {
  GF_CHECK(transition_smoothing > 0, "transition_smoothing must be positive, got ", transition_smoothing);
  GF_CHECK(rare_word_count >= 1, "rare_word_count must be at least 1, got ", rare_word_count);
  GF_CHECK(max_suffix >= 0, "max_suffix must be non-negative, got ", max_suffix);
}

const OptionTable<PosTaggerOptions>& PosTagger::option_table() {
  static const OptionTable<PosTaggerOptions> table = [] {
    OptionTable<PosTaggerOptions> t("pos-tagger");
    t.add("transition_smoothing", &PosTaggerOptions::transition_smoothing, "add-k on start and transition counts")
        .add("rare_word_count", &PosTaggerOptions::rare_word_count,
             "words seen at most this often train the unknown-word suffix model")
        .add("max_suffix", &PosTaggerOptions::max_suffix, "longest suffix the unknown-word model looks at")
        .add("lowercase", &PosTaggerOptions::lowercase, "the lexicon ignores case");
    return t;
  }();
  return table;
}

double TaggingAccuracy::known_accuracy() const {
  const int64_t n = tokens - unknown_tokens;
  return n ? static_cast<double>(correct - unknown_correct) / static_cast<double>(n) : 0.0;
}

double TaggingAccuracy::unknown_accuracy() const {
  return unknown_tokens ? static_cast<double>(unknown_correct) / static_cast<double>(unknown_tokens) : 0.0;
}

std::string PosTagger::key(const std::string& word) const { return options_.lowercase ? lower(word) : word; }

bool PosTagger::known(const std::string& word) const { return word_index_.count(key(word)) > 0; }

void PosTagger::index() {
  word_index_.clear();
  suffix_index_.clear();
  for (size_t i = 0; i < words_.size(); ++i) word_index_[words_[i]] = static_cast<int64_t>(i);
  for (size_t i = 0; i < suffixes_.size(); ++i) suffix_index_[suffixes_[i]] = static_cast<int64_t>(i);
}

PosTagger PosTagger::train(const std::vector<TaggedSentence>& sentences, const PosTaggerOptions& options) {
  options.validate();
  PosTagger t;
  t.options_ = options;
  std::map<std::string, int64_t> tag_ids;
  int64_t tokens = 0;
  for (size_t s = 0; s < sentences.size(); ++s) {
    GF_CHECK_AS(DataError, sentences[s].words.size() == sentences[s].tags.size(),
                "give one tag per word", "training sentence ", s, " has ", sentences[s].words.size(), " words and ",
                sentences[s].tags.size(), " tags");
    for (const auto& tag : sentences[s].tags) tag_ids.emplace(tag, 0);
    tokens += static_cast<int64_t>(sentences[s].words.size());
  }
  GF_CHECK_AS(DataError, tokens > 0, "give tagged sentences (word/tag tokens)", "the training corpus is empty");
  for (auto& [tag, id] : tag_ids) {
    id = static_cast<int64_t>(t.tags_.size());
    t.tags_.push_back(tag);
  }
  const int64_t k = static_cast<int64_t>(t.tags_.size());
  std::vector<double> start(static_cast<size_t>(k), 0.0), trans(static_cast<size_t>(k * k), 0.0),
      tag_count(static_cast<size_t>(k), 0.0);
  std::map<std::string, std::map<int64_t, int64_t>> lexicon;  // word key -> tag -> count
  std::map<std::string, int64_t> word_count;
  int64_t n_sentences = 0;
  for (const auto& s : sentences) {
    if (s.words.empty()) continue;
    ++n_sentences;
    int64_t prev = -1;
    for (size_t i = 0; i < s.words.size(); ++i) {
      const int64_t tag = tag_ids.at(s.tags[i]);
      if (prev < 0) {
        start[static_cast<size_t>(tag)] += 1;
      } else {
        trans[static_cast<size_t>(prev * k + tag)] += 1;
      }
      prev = tag;
      tag_count[static_cast<size_t>(tag)] += 1;
      const std::string w = t.key(s.words[i]);
      lexicon[w][tag] += 1;
      word_count[w] += 1;
    }
  }
  const double a = options.transition_smoothing;
  t.log_start_.resize(static_cast<size_t>(k));
  t.log_trans_.resize(static_cast<size_t>(k * k));
  for (int64_t j = 0; j < k; ++j) {
    t.log_start_[static_cast<size_t>(j)] =
        std::log((start[static_cast<size_t>(j)] + a) / (static_cast<double>(n_sentences) + a * static_cast<double>(k)));
    double row = 0;
    for (int64_t m = 0; m < k; ++m) row += trans[static_cast<size_t>(j * k + m)];
    for (int64_t m = 0; m < k; ++m) {
      t.log_trans_[static_cast<size_t>(j * k + m)] =
          std::log((trans[static_cast<size_t>(j * k + m)] + a) / (row + a * static_cast<double>(k)));
    }
  }
  // Lexicon: log p(word | tag) by relative frequency.
  std::vector<std::map<int64_t, double>> lex_rows;
  for (const auto& [w, tags] : lexicon) {
    t.words_.push_back(w);
    std::map<int64_t, double> row;
    for (const auto& [tag, c] : tags) row[tag] = std::log(static_cast<double>(c) / tag_count[static_cast<size_t>(tag)]);
    lex_rows.push_back(std::move(row));
  }
  compress(lex_rows, t.lex_ptr_, t.lex_tag_, t.lex_logp_);
  // Suffix statistics of rare words, per shape class, for suffix lengths 0 .. max_suffix.
  std::map<std::string, std::map<int64_t, int64_t>> suffix_counts;
  for (const auto& s : sentences) {
    for (size_t i = 0; i < s.words.size(); ++i) {
      if (word_count.at(t.key(s.words[i])) > options.rare_word_count) continue;
      const std::string sh = shape(s.words[i]), lw = lower(s.words[i]);
      const size_t longest = std::min(static_cast<size_t>(options.max_suffix), lw.size());
      for (size_t len = 0; len <= longest; ++len) suffix_counts[suffix_key(sh, lw, len)][tag_ids.at(s.tags[i])] += 1;
    }
  }
  std::vector<std::map<int64_t, int64_t>> suf_rows;
  for (const auto& [key, counts] : suffix_counts) {
    t.suffixes_.push_back(key);
    suf_rows.push_back(counts);
  }
  compress(suf_rows, t.suf_ptr_, t.suf_tag_, t.suf_count_);
  // theta: standard deviation of the unconditional tag probabilities (Brants 2000).
  t.tag_prob_.resize(static_cast<size_t>(k));
  double mean = 0;
  for (int64_t j = 0; j < k; ++j) {
    t.tag_prob_[static_cast<size_t>(j)] = tag_count[static_cast<size_t>(j)] / static_cast<double>(tokens);
    mean += t.tag_prob_[static_cast<size_t>(j)] / static_cast<double>(k);
  }
  double var = 0;
  for (double p : t.tag_prob_) var += (p - mean) * (p - mean) / static_cast<double>(k);
  t.theta_ = std::sqrt(var);
  t.index();
  return t;
}

void PosTagger::emission(const std::string& word, double* out) const {
  const int64_t k = static_cast<int64_t>(tags_.size());
  std::fill(out, out + k, kNegInf);
  auto it = word_index_.find(key(word));
  if (it != word_index_.end()) {
    for (int64_t e = lex_ptr_[static_cast<size_t>(it->second)]; e < lex_ptr_[static_cast<size_t>(it->second) + 1];
         ++e) {
      out[lex_tag_[static_cast<size_t>(e)]] = lex_logp_[static_cast<size_t>(e)];
    }
    return;
  }
  // Unknown word: p(tag | suffix) smoothed from the empty suffix up, turned into p(word | tag) up to a factor
  // that is the same for every tag (Bayes: p(w | t) = p(t | w) p(w) / p(t)).
  std::vector<double> p(tag_prob_), row(static_cast<size_t>(k));
  const std::string sh = shape(word), lw = lower(word);
  const size_t longest = std::min(static_cast<size_t>(options_.max_suffix), lw.size());
  for (size_t len = 0; len <= longest; ++len) {
    auto s = suffix_index_.find(suffix_key(sh, lw, len));
    if (s == suffix_index_.end()) break;
    std::fill(row.begin(), row.end(), 0.0);
    double total = 0;
    for (int64_t e = suf_ptr_[static_cast<size_t>(s->second)]; e < suf_ptr_[static_cast<size_t>(s->second) + 1]; ++e) {
      row[static_cast<size_t>(suf_tag_[static_cast<size_t>(e)])] = suf_count_[static_cast<size_t>(e)];
      total += suf_count_[static_cast<size_t>(e)];
    }
    // The shape's own distribution replaces the corpus-wide one; longer suffixes are blended in with theta.
    const double blend = len == 0 ? 0.0 : theta_;
    for (int64_t j = 0; j < k; ++j) {
      p[static_cast<size_t>(j)] = (row[static_cast<size_t>(j)] / total + blend * p[static_cast<size_t>(j)]) / (1 + blend);
    }
  }
  for (int64_t j = 0; j < k; ++j) {
    const double pj = p[static_cast<size_t>(j)];
    if (pj > 0) out[j] = std::log(pj / tag_prob_[static_cast<size_t>(j)]);
  }
}

std::vector<std::string> PosTagger::tag_sentence(const std::vector<std::string>& words) const {
  const int64_t k = static_cast<int64_t>(tags_.size()), len = static_cast<int64_t>(words.size());
  if (len == 0) return {};
  std::vector<double> log_emit(static_cast<size_t>(len * k));
  for (int64_t i = 0; i < len; ++i) emission(words[static_cast<size_t>(i)], log_emit.data() + i * k);
  std::vector<int64_t> path(static_cast<size_t>(len));
  hmm::viterbi_sequence(log_emit.data(), len, k, log_start_.data(), log_trans_.data(), path.data());
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(len));
  for (int64_t s : path) out.push_back(tags_[static_cast<size_t>(s)]);
  return out;
}

std::vector<std::vector<std::string>> PosTagger::tag(const std::vector<std::vector<std::string>>& sentences) const {
  std::vector<std::vector<std::string>> out(sentences.size());
  at::parallel_for(0, static_cast<int64_t>(sentences.size()), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[static_cast<size_t>(i)] = tag_sentence(sentences[static_cast<size_t>(i)]);
  });
  return out;
}

TaggingAccuracy PosTagger::evaluate(const std::vector<TaggedSentence>& gold) const {
  std::vector<std::vector<std::string>> words;
  for (const auto& s : gold) words.push_back(s.words);
  const auto predicted = tag(words);
  TaggingAccuracy acc;
  for (size_t s = 0; s < gold.size(); ++s) {
    GF_CHECK_AS(DataError, gold[s].words.size() == gold[s].tags.size(), "give one tag per word", "test sentence ", s,
                " has ", gold[s].words.size(), " words and ", gold[s].tags.size(), " tags");
    for (size_t i = 0; i < gold[s].words.size(); ++i) {
      const bool ok = predicted[s][i] == gold[s].tags[i];
      const bool unknown = !known(gold[s].words[i]);
      acc.tokens += 1;
      acc.correct += ok;
      acc.unknown_tokens += unknown;
      acc.unknown_correct += unknown && ok;
    }
  }
  return acc;
}

namespace {

torch::Tensor longs(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }
torch::Tensor doubles(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }

template <class T>
std::vector<T> to_vector(const TensorMap& tensors, const std::string& name, const std::string& path) {
  auto it = tensors.find(name);
  GF_CHECK_AS(ModelFileError, it != tensors.end(), "train the tagger again", "'", path,
              "' is not a complete pos-tagger file: tensor '", name, "' is missing");
  auto t = it->second.contiguous();
  return std::vector<T>(t.data_ptr<T>(), t.data_ptr<T>() + t.numel());
}

}  // namespace

void PosTagger::save(const std::string& path) const {
  ModelFileContents c;
  c.kind = "pos-tagger";
  c.options = option_table().to_json(options_);
  c.schema = {{"data_kind", "tagged-text"}, {"tags", tags_}, {"lexicon_size", words_.size()}};
  c.extra = {{"words", words_}, {"suffixes", suffixes_}, {"theta", theta_}};
  c.tensors = {{"log_start", doubles(log_start_)}, {"log_trans", doubles(log_trans_)},
               {"lex_ptr", longs(lex_ptr_)},       {"lex_tag", longs(lex_tag_)},
               {"lex_logp", doubles(lex_logp_)},   {"suf_ptr", longs(suf_ptr_)},
               {"suf_tag", longs(suf_tag_)},       {"suf_count", doubles(suf_count_)},
               {"tag_prob", doubles(tag_prob_)}};
  write_model_file(path, c);
}

PosTagger PosTagger::load(const std::string& path) {
  ModelFileContents c = read_model_file(path);
  GF_CHECK_AS(ModelFileError, c.kind == "pos-tagger", "give a tagger trained by genforge train hmm --supervised",
              "'", path, "' holds a ", c.kind, " model, not a pos-tagger");
  PosTagger t;
  try {
    option_table().apply_json(t.options_, c.options);
    t.tags_ = c.schema.at("tags").get<std::vector<std::string>>();
    t.words_ = c.extra.at("words").get<std::vector<std::string>>();
    t.suffixes_ = c.extra.at("suffixes").get<std::vector<std::string>>();
    t.theta_ = c.extra.at("theta").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("'", path, "' is not a complete pos-tagger file: ", e.what()), "train the tagger again");
  }
  t.log_start_ = to_vector<double>(c.tensors, "log_start", path);
  t.log_trans_ = to_vector<double>(c.tensors, "log_trans", path);
  t.lex_ptr_ = to_vector<int64_t>(c.tensors, "lex_ptr", path);
  t.lex_tag_ = to_vector<int64_t>(c.tensors, "lex_tag", path);
  t.lex_logp_ = to_vector<double>(c.tensors, "lex_logp", path);
  t.suf_ptr_ = to_vector<int64_t>(c.tensors, "suf_ptr", path);
  t.suf_tag_ = to_vector<int64_t>(c.tensors, "suf_tag", path);
  t.suf_count_ = to_vector<double>(c.tensors, "suf_count", path);
  t.tag_prob_ = to_vector<double>(c.tensors, "tag_prob", path);
  const size_t k = t.tags_.size();
  GF_CHECK_AS(ModelFileError,
              k > 0 && t.log_start_.size() == k && t.log_trans_.size() == k * k && t.tag_prob_.size() == k &&
                  t.lex_ptr_.size() == t.words_.size() + 1 && t.suf_ptr_.size() == t.suffixes_.size() + 1 &&
                  t.lex_tag_.size() == t.lex_logp_.size() && t.suf_tag_.size() == t.suf_count_.size() &&
                  t.lex_ptr_.back() == static_cast<int64_t>(t.lex_tag_.size()) &&
                  t.suf_ptr_.back() == static_cast<int64_t>(t.suf_tag_.size()),
              "train the tagger again", "'", path, "' is an inconsistent pos-tagger file (table sizes disagree)");
  for (int64_t tag : t.lex_tag_) {
    GF_CHECK_AS(ModelFileError, tag >= 0 && tag < static_cast<int64_t>(k), "train the tagger again", "'", path,
                "' is a corrupt pos-tagger file (tag id ", tag, ")");
  }
  for (int64_t tag : t.suf_tag_) {
    GF_CHECK_AS(ModelFileError, tag >= 0 && tag < static_cast<int64_t>(k), "train the tagger again", "'", path,
                "' is a corrupt pos-tagger file (tag id ", tag, ")");
  }
  t.index();
  return t;
}

}  // namespace gf
