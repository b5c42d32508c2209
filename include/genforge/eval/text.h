// Text-generation metrics, each exactly as the reference implementation named on it computes it:
//  - BLEU as sacreBLEU 2.x (tokenizers 13a / intl / char / none, smoothing exp / floor / add-k / none, effective
//    order, several references with missing ones allowed, corpus and sentence level, 0-100 scale);
//  - BLEU as nltk 3.8 nltk.translate.bleu_score (pre-tokenized input, weights, smoothing methods 0-7, 0-1 scale);
//  - chrF and chrF++ as sacreBLEU 2.x;
//  - ROUGE-N / ROUGE-L / ROUGE-Lsum as Google's rouge-score 0.1.2 (its tokenizer, optional Porter stemmer);
//  - METEOR as nltk 3.8 nltk.translate.meteor_score (exact, Porter stem and WordNet synonym stages);
//  - the Porter stemmer as nltk 3.8 (three modes);
//  - perplexity and bits per token / character from per-token log-likelihoods.
// docs/evaluation.md lists the conventions side by side.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gf::eval {

// ---- sacreBLEU ------------------------------------------------------------------------------------------------

enum class BleuTokenizer { none, v13a, intl, chars };
enum class BleuSmoothing { none, floor, add_k, exp };

// "13a" | "intl" | "char" | "none" and "exp" | "floor" | "add-k" | "none" (sacreBLEU's spellings).
BleuTokenizer parse_bleu_tokenizer(const std::string& name);
// Whose counting a corpus BLEU follows (see BleuOptions::convention).
enum class BleuConvention { sacrebleu, nltk };
BleuConvention parse_bleu_convention(const std::string& name);  // "sacrebleu" | "nltk"
BleuSmoothing parse_bleu_smoothing(const std::string& name);
std::string to_string(BleuTokenizer t);
std::string to_string(BleuSmoothing s);

struct BleuOptions {
  BleuTokenizer tokenize = BleuTokenizer::v13a;
  BleuSmoothing smooth = BleuSmoothing::exp;
  std::optional<double> smooth_value;  // floor: 0.1, add-k: 1 when unset
  int max_order = 4;
  bool lowercase = false;
  bool effective_order = false;  // sacreBLEU's default for corpus scores; sentence_bleu turns it on
  // How a segment shorter than n counts in the order-n denominator: sacreBLEU adds its 0 n-grams, nltk's
  // corpus_bleu adds 1 (max(1, count)), so on short segments nltk's precisions and score are lower (docs/evaluation.md).
  BleuConvention convention = BleuConvention::sacrebleu;
};

struct BleuScore {
  double score = 0;                 // 0-100
  std::vector<double> counts;       // matched n-grams per order (add-k adds its k from order 2 on, as sacreBLEU)
  std::vector<double> totals;       // hypothesis n-grams per order
  std::vector<double> precisions;   // 0-100 per order
  double bp = 1;
  int64_t sys_len = 0, ref_len = 0;
  std::string signature;            // sacreBLEU's signature, e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp
};

// The tokenized segment, tokens separated by single spaces.
std::string bleu_tokenize(const std::string& segment, BleuTokenizer tokenizer);

// references[k][i] is the k-th reference for hypothesis i (sacreBLEU's reference streams); std::nullopt marks a
// missing reference for that segment.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::optional<std::string>>>& references,
                      const BleuOptions& options = {});
// Effective order is on, as sacreBLEU's sentence_bleu.
BleuScore sentence_bleu(const std::string& hypothesis, const std::vector<std::string>& references,
                        BleuOptions options = {});
// sacreBLEU BLEU.compute_bleu from the statistics.
BleuScore bleu_from_statistics(std::vector<double> correct, std::vector<double> total, int64_t sys_len,
                               int64_t ref_len, const BleuOptions& options);

// ---- chrF / chrF++ ---------------------------------------------------------------------------------------------

struct ChrfOptions {
  int char_order = 6;
  int word_order = 0;    // 2 = chrF++
  double beta = 2;
  bool lowercase = false;
  bool whitespace = false;  // keep whitespace inside character n-grams
  bool eps_smoothing = false;
};

struct ChrfScore {
  double score = 0;  // 0-100
  std::string signature;
};

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::optional<std::string>>>& references,
                      const ChrfOptions& options = {});
ChrfScore sentence_chrf(const std::string& hypothesis, const std::vector<std::string>& references,
                        const ChrfOptions& options = {});

// ---- nltk BLEU ------------------------------------------------------------------------------------------------

using Tokens = std::vector<std::string>;

struct NltkBleuOptions {
  std::vector<double> weights = {0.25, 0.25, 0.25, 0.25};
  int smoothing = 0;  // SmoothingFunction().methodN, N in 0..7
  double epsilon = 0.1, alpha = 5, k = 5;  // SmoothingFunction's constructor arguments
  bool auto_reweigh = false;
};

// list_of_references[i] = every reference of hypothesis i. Reproduces nltk's quirks: smoothing methods 5 and 6
// look at the corpus's last segment, method 4 at the total hypothesis length.
double nltk_corpus_bleu(const std::vector<std::vector<Tokens>>& list_of_references,
                        const std::vector<Tokens>& hypotheses, const NltkBleuOptions& options = {});
double nltk_sentence_bleu(const std::vector<Tokens>& references, const Tokens& hypothesis,
                          const NltkBleuOptions& options = {});

struct Fraction {
  int64_t numerator = 0, denominator = 1;
  double value() const { return double(numerator) / double(denominator); }
};
Fraction nltk_modified_precision(const std::vector<Tokens>& references, const Tokens& hypothesis, int n);
int64_t nltk_closest_ref_length(const std::vector<Tokens>& references, int64_t hyp_len);
double nltk_brevity_penalty(int64_t closest_ref_len, int64_t hyp_len);

// ---- Porter stemmer ------------------------------------------------------------------------------------------

// nltk's PorterStemmer modes: NLTK_EXTENSIONS (nltk's default, used by rouge-score and METEOR), MARTIN_EXTENSIONS,
// ORIGINAL_ALGORITHM.
enum class PorterMode { nltk, martin, original };
PorterMode parse_porter_mode(const std::string& name);  // "nltk" | "martin" | "original"
// PorterStemmer(mode).stem(word): lowercases first (Python's str.lower).
std::string porter_stem(std::string_view word, PorterMode mode = PorterMode::nltk);

// ---- ROUGE (rouge-score) ---------------------------------------------------------------------------------------

struct RougeOptions {
  std::vector<std::string> types = {"rouge1", "rouge2", "rougeL", "rougeLsum"};  // rouge1..rouge9, rougeL, rougeLsum
  bool use_stemmer = false;  // nltk Porter stemmer on tokens longer than 3 characters
};
struct RougeScore {
  double precision = 0, recall = 0, fmeasure = 0;
};
using RougeScores = std::map<std::string, RougeScore>;  // by ROUGE type

// rouge-score's tokenizer: Python-lowercased text, tokens are the runs of [a-z0-9].
std::vector<std::string> rouge_tokenize(std::string_view text, bool use_stemmer);
// RougeScorer(types, use_stemmer).score(target, prediction) -- note the order: target (reference) first.
// rougeLsum treats "\n" as the sentence separator, as rouge-score does.
RougeScores rouge_score(std::string_view target, std::string_view prediction, const RougeOptions& options = {});
// RougeScorer.score_multi: per type, the target with the highest F (the first on ties).
RougeScores rouge_score_multi(const std::vector<std::string>& targets, std::string_view prediction,
                              const RougeOptions& options = {});
// Corpus score: the mean over segments of score_multi's precision, recall and F (rouge-score's
// BootstrapAggregator reports a resampled estimate of this same mean; we report the mean itself).
RougeScores corpus_rouge(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& targets, const RougeOptions& options = {});

// ---- METEOR (nltk 3.8) -----------------------------------------------------------------------------------------

class WordNet;
struct MeteorOptions {
  double alpha = 0.9, beta = 3.0, gamma = 0.5;
  bool lowercase = true;              // nltk's preprocess=str.lower
  const WordNet* wordnet = nullptr;   // nullptr: WordNet::system() (wordnet-base, read on first use)
};
// Python's str.split(): the usual way to pre-tokenize text for nltk's METEOR and BLEU.
Tokens split_words(std::string_view text);
// single_meteor_score(reference, hypothesis) on pre-tokenized words.
double single_meteor_score(const Tokens& reference, const Tokens& hypothesis, const MeteorOptions& options = {});
// meteor_score(references, hypothesis): the best over references.
double meteor_score(const std::vector<Tokens>& references, const Tokens& hypothesis, const MeteorOptions& options = {});
// nltk has no corpus METEOR; this is the mean of the sentence scores, the usual report.
double corpus_meteor(const std::vector<std::vector<Tokens>>& list_of_references, const std::vector<Tokens>& hypotheses,
                     const MeteorOptions& options = {});

// ---- likelihood-based text metrics -------------------------------------------------------------------------------

struct Perplexity {
  double nats_per_token = 0;
  double perplexity = 0;      // exp(nats per token)
  double bits_per_token = 0;  // nats / ln 2
  double bits_per_character = 0;  // total bits / characters (0 when characters is 0)
  int64_t tokens = 0;
};
// From per-token natural-log likelihoods (as a model's score gives them) and the text's character (or byte)
// count for bits per character.
Perplexity perplexity(const std::vector<double>& token_log_likelihoods, int64_t characters = 0);

}  // namespace gf::eval
