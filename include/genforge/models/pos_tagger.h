// Part-of-speech tagger on a first-order HMM, trained supervised from word/tag sentences (the Brown corpus by
// default): states = tags, transitions and start smoothed by add-k, emissions p(word | tag) by relative frequency
// for words seen in training (a tag dictionary: a word is never given a tag it was not seen with), and for unseen
// words Brants' (2000, TnT) suffix model: p(tag | last i letters) of rare training words, smoothed from the
// shortest suffix up with weight theta = std. dev. of the tag probabilities, separately for each word shape
// (capitalised, holds a digit, holds a hyphen). Decoding is exact Viterbi, sparse over the candidate tags.
//
//   auto train = gf::brown_sentences(gf::read_brown(gf::default_brown_dir(), "a-m"));
//   gf::PosTagger tagger = gf::PosTagger::train(train);
//   auto tags = tagger.tag({{"The", "jury", "said", "it", "did", "."}});
//   gf::save_model(tagger, "tagger.gf");   // registered as "pos-tagger": genforge train pos-tagger --data brown:a-m
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/data/text.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct PosTaggerOptions {
  double transition_smoothing = 0.1;  // add-k on start and transition counts
  int64_t rare_word_count = 10;       // words seen at most this often train the unknown-word suffix model
  int64_t max_suffix = 5;             // longest suffix (letters) the unknown-word model looks at
  bool lowercase = true;              // the lexicon ignores case (the shape classes keep it)
  void validate() const;
};


class PosTagger : public Model, public SequenceTagger {
 public:
  using Options = PosTaggerOptions;
  static const OptionTable<PosTaggerOptions>& option_table();
  explicit PosTagger(PosTaggerOptions options = {}) : options_(std::move(options)) {}
  static PosTagger train(const std::vector<TaggedSentence>& sentences, const PosTaggerOptions& options = {});

  std::string kind() const override { return "pos-tagger"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override { return option_table().to_json(options_); }
  // Tagged text: x [N, 1] word ids into train.symbols, labels [N] tag ids into train.label_names, lengths [S].
  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  bool fitted() const override { return !tags_.empty(); }
  // A text of n words drawn from the HMM (tags from the start and transition probabilities, known words from
  // p(word | tag)): word ids into lexicon(). [n, 1]
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  torch::Tensor score_samples(const torch::Tensor& x) const override;  // NotSupported: a tagger, no likelihood
  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

  // Tags every sentence (in parallel). An empty sentence gives an empty tag list.
  std::vector<std::vector<std::string>> tag(const std::vector<std::vector<std::string>>& sentences) const override;
  std::vector<std::string> tag_sentence(const std::vector<std::string>& words) const;
  TaggingAccuracy evaluate(const std::vector<TaggedSentence>& gold) const override;

  const std::vector<std::string>& tags() const { return tags_; }
  const std::vector<std::string>& lexicon() const { return words_; }
  int64_t lexicon_size() const { return static_cast<int64_t>(words_.size()); }
  bool known(const std::string& word) const;
  const PosTaggerOptions& options() const { return options_; }

  // The .gf file through the registry (gf::save_model / gf::load_model with kind "pos-tagger").
  void save(const std::string& path) const;
  static PosTagger load(const std::string& path);

 private:
  void learn(const std::vector<TaggedSentence>& sentences);
  // log p(word | tag) for every tag (-inf: tag impossible for the word). [K]
  void emission(const std::string& word, double* out) const;
  std::string key(const std::string& word) const;
  void index();

  PosTaggerOptions options_;
  std::vector<std::string> tags_;
  std::vector<double> log_start_, log_trans_;  // [K], [K * K]
  // Lexicon in compressed rows: word w has tags lex_tag_[lex_ptr_[w] .. lex_ptr_[w+1]) with log p(w | tag).
  std::vector<std::string> words_;
  std::vector<int64_t> lex_ptr_, lex_tag_;
  std::vector<double> lex_logp_;
  // Suffix model: key "shape|suffix" -> tag counts of rare words, compressed rows as above.
  std::vector<std::string> suffixes_;
  std::vector<int64_t> suf_ptr_, suf_tag_;
  std::vector<double> suf_count_;
  std::vector<double> tag_prob_;  // [K] unconditional tag probabilities
  double theta_ = 0;
  std::unordered_map<std::string, int64_t> word_index_, suffix_index_;
};

}  // namespace gf
