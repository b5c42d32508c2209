// Small capability interfaces for the verbs only some families have. A verb reaches a model through one of these
// (dynamic_cast<const TextGenerator*>(&model)), never through a concrete class, so a new family gets the verb by
// implementing the interface.
#pragma once
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "genforge/data/dataset.h"
#include "genforge/data/text.h"
#include "genforge/model.h"

namespace gf {

// A text watermark (Kirchenbauer et al. 2023, "A Watermark for Large Language Models"): before each draw the
// logits of a "green" part of the vocabulary -- a pseudo-random fraction chosen by a secret key and the previous
// tokens -- gain `strength`. Text so generated holds more green tokens than chance allows; whoever knows the key
// counts them (detect_watermark in genforge/apps/watermark.h), nobody else can tell the lists apart.
struct Watermark {
  uint64_t key = 0;
  double strength = 0;           // δ added to green logits before temperature; 0: off
  double green_fraction = 0.25;  // γ: the expected share of green tokens in text without the watermark
  // How many previous tokens pick the green list (the paper's h). 1 is the paper's default; a small vocabulary
  // (characters) wants more, or the few common pairs of a language make a key's lists favour all text alike.
  int64_t context_width = 1;
  bool on() const { return strength > 0; }
};
// The green list that follows tokens[0, end): a keyed hash of its last context_width tokens (fewer at the start).
uint64_t green_list_seed(const Watermark& watermark, const std::vector<int64_t>& tokens, size_t end);
// Whether `token` is on that list: a keyed hash of (list, token) below green_fraction, so each token is green
// with probability green_fraction whatever the vocabulary.
bool is_green_token(uint64_t list_seed, int64_t token, double green_fraction);

struct GenerateOptions {
  int64_t max_tokens = 200;
  double temperature = 1.0;         // 0: greedy
  int64_t top_k = 0;                // keep the k most likely tokens (0: all)
  double top_p = 1.0;               // keep the smallest set with this much probability (nucleus)
  double min_p = 0.0;               // drop tokens below min_p times the most likely one's probability
  double repetition_penalty = 1.0;  // > 1 discourages tokens already in the context (CTRL's rule)
  std::vector<std::vector<int64_t>> stop;  // stop after any of these token sequences (kept in the output)
  bool use_cache = true;            // false: recompute the whole context every token (for checks)
  Watermark watermark;              // off unless watermark.strength > 0
  void validate() const;
};

// A token from next-token logits [V]: repetition penalty over `context`, the watermark's green-list bias (keyed by
// the last token of `context`), temperature, top-k, min-p, top-p, then a
// draw by inverse CDF with exactly one uniform from `gen` per token (greedy included), so a seed gives one text.
int64_t choose_token(const torch::Tensor& logits, const std::vector<int64_t>& context, const GenerateOptions& g,
                     at::Generator& gen);
// True when `generated` ends with one of the stop sequences.
bool ends_with_stop(const std::vector<int64_t>& generated, const std::vector<std::vector<int64_t>>& stops);

// Independent token sequences decoded together, each at its own position, joining and leaving between steps (the
// continuous batching of `genforge serve`). A sequence's predictions do not depend on which other sequences share
// its steps, so a request gives the same tokens alone or among many.
class BatchDecoder {
 public:
  virtual ~BatchDecoder() = default;
  // A new sequence holding `prompt` (token ids; empty: the model's start token); returns its handle.
  virtual int64_t open(const std::vector<int64_t>& prompt) = 0;
  virtual void close(int64_t sequence) = 0;
  // One pass of the model over the tokens of `sequences` it has not seen yet: each one's next-token logits. [S, V]
  virtual torch::Tensor step(const std::vector<int64_t>& sequences) = 0;
  virtual void append(int64_t sequence, int64_t token) = 0;
  virtual const std::vector<int64_t>& tokens(int64_t sequence) const = 0;  // the prompt and every appended token
};

// Language models: continue a prompt of token ids.
class TextGenerator {
 public:
  virtual ~TextGenerator() = default;
  // New tokens after `prompt` [T] (int64 ids; empty: the model's start token). [M]
  virtual torch::Tensor generate(const torch::Tensor& prompt, const GenerateOptions& g, at::Generator& gen) const = 0;
  virtual int64_t context_length() const = 0;  // tokens the model looks back on
  // A decoder for many sequences at once; nullptr where the model generates one sequence at a time. generate()
  // with the same seed gives the same tokens as a decoder sequence chosen with choose_token.
  virtual std::unique_ptr<BatchDecoder> open_decoder() const { return nullptr; }
};

// Models that predict every next symbol of sequences, the engine of lossless coding (`genforge compress`): B
// sequences advance together, one step at a time. Encoder and decoder must compute bit-identical predictions, so
// a model's streams compute them in one fixed order of arithmetic -- kernels whose per-element order does not
// depend on the thread count, or LibTorch operators run with one intra-op thread (single_threaded()).
class SymbolStreams {
 public:
  virtual ~SymbolStreams() = default;
  // Scores of every stream's next step, [B, G, V] float32 or float64: logits or log-probabilities (softmax over V
  // is the prediction).
  virtual torch::Tensor next_scores() = 0;
  virtual void push(const torch::Tensor& symbols) = 0;  // the step's symbols [B, G] int64
};
class SymbolPredictor {
 public:
  virtual ~SymbolPredictor() = default;
  virtual int64_t alphabet_size() const = 0;              // V
  virtual int64_t symbols_per_step() const { return 1; }  // G (an image's channels)
  virtual bool single_threaded() const { return false; }  // true: the caller runs the streams with one thread
  virtual std::unique_ptr<SymbolStreams> open_streams(int64_t batch) const = 0;
};

// Models with low-rank adapters (LoRA) on some weight matrices: the adapters folded into the matrices they adapt
// (`genforge export --merge`), leaving a plain model that computes the same function.
class AdaptedModel {
 public:
  virtual ~AdaptedModel() = default;
  virtual int64_t adapter_parameters() const = 0;  // 0: no adapters
  virtual void merge_adapters() = 0;
};

// Topic models: topics as word distributions.
class TopicModel {
 public:
  virtual ~TopicModel() = default;
  // The n most probable word ids of each topic, most probable first. [K][n]
  virtual std::vector<std::vector<int64_t>> top_words(int64_t n) const = 0;
};

// Models that spread each item over K parts, for `genforge transform`: mixture components (gmm, bgmm: per row),
// hidden states (hmm: per step of the sequences grouped by lengths [S]), topics (lda: per document of word ids
// grouped by lengths).
class PartAssigner {
 public:
  virtual ~PartAssigner() = default;
  virtual std::string part_name() const = 0;  // "component" | "state" | "topic"
  // Each item's probability of each part (the posterior; a document's topic proportions), rows summing to 1. [N, K]
  virtual torch::Tensor part_probabilities(const torch::Tensor& x, const torch::Tensor& lengths) const = 0;
  // Each item's part: the most probable one, or (hmm) the decoder's path. [N] int64
  virtual torch::Tensor assign_parts(const torch::Tensor& x, const torch::Tensor& lengths) const {
    return part_probabilities(x, lengths).argmax(1);
  }
};

// Models that score whole sequences (rows grouped by lengths [S]). [S] nats
class SequenceScorer {
 public:
  virtual ~SequenceScorer() = default;
  virtual torch::Tensor score_sequences(const torch::Tensor& x, const torch::Tensor& lengths = {}) const = 0;
};

// Models that report an information criterion, for model selection (`train --select bic`).
enum class Criterion { aic, bic };
const char* to_string(Criterion c);
Criterion criterion_from_string(const std::string& text);  // "aic" | "bic"; else InvalidArgument
class InformationCriteria {
 public:
  virtual ~InformationCriteria() = default;
  // The criterion of `data` under the fitted model (lower is better).
  virtual double criterion(Criterion which, const Dataset& data) const = 0;
};

// Models that continue training on more data from where their fit left them, by their own estimator rather than
// gradient steps: scikit-learn's warm_start (gmm, bgmm: EM from the current parameters), hmmlearn's init_params=""
// (hmm: Baum-Welch from them), gensim's LdaModel.update (lda: online variational Bayes, the topics blended with the
// new documents' statistics). `genforge finetune` calls it for these models.
class Updatable {
 public:
  virtual ~Updatable() = default;
  // How the update trains, one phrase for messages and records (e.g. "EM from the current parameters").
  virtual std::string update_method() const = 0;
  // Continues training on `more` (rows, sequences or documents encoded by the model's own input pipeline). The
  // model must be fitted (NotFitted otherwise); its options (max_iter, passes, ...) apply to this run.
  virtual FitReport update(const Dataset& more, const FitContext& ctx = {}) = 0;
};

// Models that fill in missing cells given the others (`sample --given`, imputation).
class ConditionalSampler {
 public:
  virtual ~ConditionalSampler() = default;
  // Rows [N, D] with NaN cells: those cells drawn from p(missing | observed), or set to E[missing | observed];
  // complete rows come back unchanged. [N, D]
  virtual torch::Tensor conditional_sample(const torch::Tensor& x, at::Generator& gen) const = 0;
  virtual torch::Tensor conditional_mean(const torch::Tensor& x) const = 0;
  // m draws at once, [m, N, D] (multiple imputation). The default calls conditional_sample m times; models that
  // can share work between draws (a row's conditional computed once) override it.
  virtual torch::Tensor conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const;
  // m draws given each row's class as well (class-conditional models; labels [N] int64 in 0..n_classes-1):
  // [m, N, D]. The default refuses (NotSupported): models without classes, or that cannot condition on one.
  virtual torch::Tensor conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels, int64_t m,
                                                        at::Generator& gen) const;
};

// Sequence models that fill in missing observations given the rest of their sequence (`genforge impute` on a table
// with a sequence column): x [N, D] with NaN cells (symbols: NaN or negative), lengths [S] as in Dataset (undefined:
// one sequence). Observed cells come back unchanged.
class SequenceImputer {
 public:
  virtual ~SequenceImputer() = default;
  // The posterior mean of each missing cell given its whole sequence (a symbol: the most probable one). [N, D]
  virtual torch::Tensor sequence_mean(const torch::Tensor& x, const torch::Tensor& lengths) const = 0;
  // m draws from p(missing | observed), jointly over each sequence. [m, N, D]
  virtual torch::Tensor sequence_samples(const torch::Tensor& x, const torch::Tensor& lengths, int64_t m,
                                         at::Generator& gen) const = 0;
};

// Models that sample rows under conditions on their columns (`synth --condition`): column j of every row within
// [lo[j], hi[j]] (lo = hi: that value; -inf / +inf: free; a categorical column's ordinal code only fixed). The
// conditioned columns are never missing in the rows drawn. A condition the model gives (almost) no probability is
// InvalidArgument.
class BoxConditionalSampler {
 public:
  virtual ~BoxConditionalSampler() = default;
  virtual torch::Tensor sample_within(int64_t n, const torch::Tensor& lo, const torch::Tensor& hi,
                                      at::Generator& gen) const = 0;  // lo, hi [D] -> [n, D]
};

// Models whose structure is a graph over their columns (`genforge info --graph`).
class GraphicalModel {
 public:
  virtual ~GraphicalModel() = default;
  virtual std::vector<std::string> node_names() const = 0;
  virtual std::vector<std::pair<int64_t, int64_t>> edges() const = 0;  // parent -> child
  std::string graphviz() const;  // Graphviz DOT: `dot -Tpng` draws it
};

// Models whose evidence against an example can be located in it: one term per dimension (a PixelCNN's per-pixel
// negative log-likelihood, a VAE's per-pixel reconstruction negative log-likelihood at the posterior mean, an
// autoencoder's per-pixel reconstruction error), higher = less typical. Anomaly maps are drawn from these.
class DimensionScorer {
 public:
  virtual ~DimensionScorer() = default;
  // x [N, ...] -> [N, ...] of the same shape. A class-conditional model uses each example's most likely class.
  virtual torch::Tensor dimension_scores(const torch::Tensor& x) const = 0;
};

// How a model's scores were estimated, for models whose score_samples depends on a chosen estimator (an RBM's
// AIS, exact enumeration or pseudo-likelihood). `score` prints it beside the mean.
struct ScoreEstimator {
  std::string name;               // "ais", "exact", "pseudo_likelihood", ...
  std::string description;        // one line, e.g. "annealed importance sampling of log Z, 100 runs x 10000 temperatures"
  bool is_likelihood = true;      // false for pseudo-likelihoods (not comparable with log-likelihoods)
  double standard_error = 0;      // nats, shared by every score (the error of the log Z estimate); 0 when exact
  nlohmann::json details = nlohmann::json::object();  // e.g. log_z, effective number of runs
};
class EstimatedLikelihood {
 public:
  virtual ~EstimatedLikelihood() = default;
  // The estimator score_samples uses with the current settings (computing what it needs, e.g. log Z, when not yet
  // known).
  virtual ScoreEstimator score_estimator() const = 0;
};

// Models that classify (a deep belief net fine-tuned as a classifier, the classifier of `finetune --new-head`):
// `score` reports the accuracy on labelled data (beside the likelihood, where there is one).
class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual bool is_classifier() const = 0;  // false until trained with labels
  virtual torch::Tensor predict_proba(const torch::Tensor& x) const = 0;  // [N, K]
};

// A recognition network cut below its last layer -- a VAE's or autoencoder's encoder up to its last hidden layer, a
// GAN's discriminator without its real/fake output -- as a layer stack (src/nn/layer_stack.h) with copies of its
// weights: the founding recipe's "replace the last layer", `finetune --new-head classes=K`, builds a classifier on it.
struct TrunkExport {
  nlohmann::json spec;                           // {"input": [shape], "layers": [...]}
  std::map<std::string, torch::Tensor> weights;  // by "<layer index>.<name>", CPU copies
  std::string part;                              // what was cut out, e.g. "vae encoder"
};

// Models whose inputs and outputs are the tokens of their pipeline's tokenizer (`finetune --new-head vocab`: the
// base's network on a new tokenizer's vocabulary).
class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // State entries indexed by token id along their first dimension (a GPT's tied embedding `wte` [V, C]).
  virtual std::vector<std::string> token_tensors() const = 0;
  // State entries that record the vocabulary (its size, the start token): left out of a start state so that a fit
  // takes them from the new data.
  virtual std::vector<std::string> vocabulary_records() const = 0;
};

class FeatureTrunk {
 public:
  virtual ~FeatureTrunk() = default;
  // NotSupported for a model whose network takes more than the example (a class-conditional one).
  virtual TrunkExport feature_trunk() const = 0;
};

struct TaggingAccuracy {
  int64_t tokens = 0, correct = 0;
  int64_t unknown_tokens = 0, unknown_correct = 0;  // words not in the tagger's lexicon
  double accuracy() const { return tokens ? static_cast<double>(correct) / static_cast<double>(tokens) : 0.0; }
  double known_accuracy() const;
  double unknown_accuracy() const;
};

// Sequence labellers (part-of-speech taggers): a label per word.
class SequenceTagger {
 public:
  virtual ~SequenceTagger() = default;
  // Labels every sentence. An empty sentence gives an empty list.
  virtual std::vector<std::vector<std::string>> tag(const std::vector<std::vector<std::string>>& sentences) const = 0;
  // Tags the words of `gold` and compares with its tags.
  virtual TaggingAccuracy evaluate(const std::vector<TaggedSentence>& gold) const = 0;
};

}  // namespace gf
