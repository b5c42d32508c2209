#include "genforge/models/pos_tagger.h"

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "stats/markov.h"
#include "genforge/core/error.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"

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
  PosTagger t(options);
  t.learn(sentences);
  return t;
}

void PosTagger::learn(const std::vector<TaggedSentence>& sentences) {
  options_.validate();
  PosTagger& t = *this;
  tags_.clear();
  words_.clear();
  suffixes_.clear();
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
  const double a = options_.transition_smoothing;
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
      if (word_count.at(t.key(s.words[i])) > options_.rare_word_count) continue;
      const std::string sh = shape(s.words[i]), lw = lower(s.words[i]);
      const size_t longest = std::min(static_cast<size_t>(options_.max_suffix), lw.size());
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
  stats::viterbi_sequence(log_emit.data(), len, k, log_start_.data(), log_trans_.data(), path.data());
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

Capabilities PosTagger::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::tagged_text;
  c.likelihood = Likelihood::none;
  c.standard_normal_prior = false;
  return c;
}

FitReport PosTagger::fit(const Dataset& train, const FitContext& ctx) {
  GF_CHECK_AS(DataError, train.x.defined() && train.labels.defined() && !train.symbols.empty() &&
                             !train.label_names.empty(),
              "train from word/tag sentences, e.g. --data brown:a-m", "a pos-tagger needs tagged text (word ids with "
              "their symbols and tag labels with their names)");
  const auto started = std::chrono::steady_clock::now();
  auto x = train.x.reshape({-1}).to(torch::kLong).contiguous();
  auto y = train.labels.to(torch::kLong).contiguous();
  GF_CHECK(x.numel() == y.numel(), "tagged text needs one tag per word: ", x.numel(), " words, ", y.numel(), " tags");
  auto lengths = train.lengths.defined() ? train.lengths.to(torch::kLong).contiguous()
                                         : torch::full({1}, x.numel(), torch::kLong);
  GF_CHECK(lengths.sum().item<int64_t>() == x.numel(), "sentence lengths sum to ", lengths.sum().item<int64_t>(),
           ", but there are ", x.numel(), " words");
  const int64_t* xi = x.data_ptr<int64_t>();
  const int64_t* yi = y.data_ptr<int64_t>();
  std::vector<TaggedSentence> sentences;
  int64_t pos = 0;
  for (int64_t len : std::vector<int64_t>(lengths.data_ptr<int64_t>(), lengths.data_ptr<int64_t>() + lengths.numel())) {
    TaggedSentence s;
    for (int64_t i = pos; i < pos + len; ++i) {
      GF_CHECK(xi[i] >= 0 && xi[i] < static_cast<int64_t>(train.symbols.size()) && yi[i] >= 0 &&
                   yi[i] < static_cast<int64_t>(train.label_names.size()),
               "word or tag id outside the symbol tables at token ", i);
      s.words.push_back(train.symbols[static_cast<size_t>(xi[i])]);
      s.tags.push_back(train.label_names[static_cast<size_t>(yi[i])]);
    }
    pos += len;
    sentences.push_back(std::move(s));
  }
  learn(sentences);
  FitReport r;
  r.converged = true;  // closed-form counts
  r.n_iter = 1;
  r.objective_name = "training tokens";
  r.objective = static_cast<double>(x.numel());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  r.extra = {{"sentences", sentences.size()}, {"tags", tags_.size()}, {"lexicon", words_.size()}};
  schema_ = {{"data_kind", "tagged-text"}, {"tags", tags_}, {"lexicon_size", words_.size()}};
  report_ = r;
  return r;
}

torch::Tensor PosTagger::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the tagger first", "the pos-tagger is not fitted");
  GF_CHECK(n >= 0, "n must be non-negative, got ", n);
  const int64_t k = static_cast<int64_t>(tags_.size());
  // p(word | tag) as one row per tag: the lexicon's rows are per word, so transpose them once.
  std::vector<std::vector<int64_t>> tag_words(static_cast<size_t>(k));
  std::vector<std::vector<double>> tag_probs(static_cast<size_t>(k));
  for (size_t w = 0; w + 1 < lex_ptr_.size(); ++w) {
    for (int64_t e = lex_ptr_[w]; e < lex_ptr_[w + 1]; ++e) {
      tag_words[static_cast<size_t>(lex_tag_[static_cast<size_t>(e)])].push_back(static_cast<int64_t>(w));
      tag_probs[static_cast<size_t>(lex_tag_[static_cast<size_t>(e)])].push_back(std::exp(lex_logp_[static_cast<size_t>(e)]));
    }
  }
  auto draw = [&](const double* logp_or_p, int64_t m, bool logs) {
    auto u = torch::rand({1}, gen, torch::kFloat64).item<double>();
    double total = 0;
    for (int64_t j = 0; j < m; ++j) total += logs ? std::exp(logp_or_p[j]) : logp_or_p[j];
    double acc = 0;
    for (int64_t j = 0; j < m; ++j) {
      acc += (logs ? std::exp(logp_or_p[j]) : logp_or_p[j]) / total;
      if (u < acc) return j;
    }
    return m - 1;
  };
  auto out = torch::empty({n, 1}, torch::kLong);
  int64_t tag = -1;
  for (int64_t i = 0; i < n; ++i) {
    tag = tag < 0 ? draw(log_start_.data(), k, true) : draw(log_trans_.data() + tag * k, k, true);
    const auto& words = tag_words[static_cast<size_t>(tag)];
    const auto& probs = tag_probs[static_cast<size_t>(tag)];
    out[i][0] = words.empty() ? 0 : words[static_cast<size_t>(draw(probs.data(), static_cast<int64_t>(probs.size()), false))];
  }
  return out;
}

torch::Tensor PosTagger::score_samples(const torch::Tensor& x) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the tagger first", "the pos-tagger is not fitted");
  throw NotSupported("a pos-tagger labels words and has no likelihood to score with",
                     "use genforge tag MODEL --gold DATA for its accuracy");
}

namespace {

torch::Tensor longs(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }
torch::Tensor doubles(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }

template <class T>
std::vector<T> to_vector(const TensorMap& tensors, const std::string& name) {
  auto it = tensors.find(name);
  GF_CHECK_AS(ModelFileError, it != tensors.end(), "train the tagger again",
              "not a complete pos-tagger file: tensor '", name, "' is missing");
  auto t = it->second.contiguous();
  return std::vector<T>(t.data_ptr<T>(), t.data_ptr<T>() + t.numel());
}

}  // namespace

TensorMap PosTagger::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the tagger first", "the pos-tagger is not fitted");
  return {{"log_start", doubles(log_start_)}, {"log_trans", doubles(log_trans_)}, {"lex_ptr", longs(lex_ptr_)},
          {"lex_tag", longs(lex_tag_)},       {"lex_logp", doubles(lex_logp_)},   {"suf_ptr", longs(suf_ptr_)},
          {"suf_tag", longs(suf_tag_)},       {"suf_count", doubles(suf_count_)}, {"tag_prob", doubles(tag_prob_)}};
}

nlohmann::json PosTagger::state_json() const {
  return {{"tags", tags_}, {"words", words_}, {"suffixes", suffixes_}, {"theta", theta_}};
}

void PosTagger::load_state_json(const nlohmann::json& state) {
  try {
    // Files written before the tagger joined the registry keep the tags in the schema.
    tags_ = (state.contains("tags") ? state.at("tags") : schema_.at("tags")).get<std::vector<std::string>>();
    words_ = state.at("words").get<std::vector<std::string>>();
    suffixes_ = state.at("suffixes").get<std::vector<std::string>>();
    theta_ = state.at("theta").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("not a complete pos-tagger file: ", e.what()), "train the tagger again");
  }
}

void PosTagger::load_state(const TensorMap& tensors) {
  log_start_ = to_vector<double>(tensors, "log_start");
  log_trans_ = to_vector<double>(tensors, "log_trans");
  lex_ptr_ = to_vector<int64_t>(tensors, "lex_ptr");
  lex_tag_ = to_vector<int64_t>(tensors, "lex_tag");
  lex_logp_ = to_vector<double>(tensors, "lex_logp");
  suf_ptr_ = to_vector<int64_t>(tensors, "suf_ptr");
  suf_tag_ = to_vector<int64_t>(tensors, "suf_tag");
  suf_count_ = to_vector<double>(tensors, "suf_count");
  tag_prob_ = to_vector<double>(tensors, "tag_prob");
  const size_t k = tags_.size();
  GF_CHECK_AS(ModelFileError,
              k > 0 && log_start_.size() == k && log_trans_.size() == k * k && tag_prob_.size() == k &&
                  lex_ptr_.size() == words_.size() + 1 && suf_ptr_.size() == suffixes_.size() + 1 &&
                  lex_tag_.size() == lex_logp_.size() && suf_tag_.size() == suf_count_.size() &&
                  lex_ptr_.back() == static_cast<int64_t>(lex_tag_.size()) &&
                  suf_ptr_.back() == static_cast<int64_t>(suf_tag_.size()),
              "train the tagger again", "an inconsistent pos-tagger file (table sizes disagree)");
  for (const auto* ids : {&lex_tag_, &suf_tag_}) {
    for (int64_t tag : *ids) {
      GF_CHECK_AS(ModelFileError, tag >= 0 && tag < static_cast<int64_t>(k), "train the tagger again",
                  "a corrupt pos-tagger file (tag id ", tag, ")");
    }
  }
  index();
}

void PosTagger::save(const std::string& path) const { save_model(*this, path); }

PosTagger PosTagger::load(const std::string& path) {
  const ModelFileContents c = read_model_file(path);
  GF_CHECK_AS(ModelFileError, c.kind == "pos-tagger", "give a tagger trained by genforge train pos-tagger", "'", path,
              "' holds a ", c.kind, " model, not a pos-tagger");
  auto model = model_from_contents(c, path);
  return *static_cast<PosTagger*>(model.get());
}

}  // namespace gf
