// From typed data to a fitted model and back: what each verb of the command line does, as library calls. A model
// is fitted on a data::Source through its input pipeline; later calls run new data through the same pipeline and
// turn samples back into the user's columns, images or text.
//
//   auto model = gf::create_model("gmm", {}, {{"n_components", "3"}, {"categorical", "onehot"}});
//   auto data = gf::data::load_source("penguins.json", model->capabilities().data_kind);
//   gf::fit_source(*model, data);
//   gf::write_csv("samples.csv", gf::samples_table(*model, model->sample(100, gen)));
#pragma once
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/eval/classification.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"

namespace gf {

// Fits the model's input pipeline (options from create_model) on `train`, then the model on its output; the
// validation data goes through the same pipeline. The model keeps the fitted pipeline; save_model stores it.
FitReport fit_source(Model& model, const data::Source& train, const FitContext& ctx = {},
                     const data::Source* validation = nullptr);
// The model's fitted input pipeline (InvalidArgument for a model fitted on tensors directly).
const data::InputPipeline& pipeline_of(const Model& model);
// The model's tensors for other data, through its fitted pipeline; `overrides` replace the selection options
// (columns, weights, sequence_column, state_column) for data laid out differently.
Dataset prepare(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});

// A saved model for the verbs that use one (score, sample): `settings` (the command line's --key value extras) are
// split by key into input-pipeline overrides (for prepare) and the model's own options changed for this use
// (how it scores or samples, e.g. an RBM's estimator or gibbs_steps).
struct OpenedModel {
  std::unique_ptr<Model> model;
  OptionOverrides input_overrides;
};
OpenedModel open_model(const std::string& path, const OptionOverrides& settings);

// Scores of data under a model: per sequence for sequence scorers given grouped rows, per line (bits per
// character) for language models, else per example. `per_example` is what `score --out` writes, `summary` what
// `--json` prints, `description` the one-line summary.
struct ScoreResult {
  Table per_example;
  nlohmann::json summary;
  std::string description;
  // Models that classify (Classifier), scored on labelled data: accuracy, per-class and macro precision / recall /
  // F1, the confusion matrix; the data's class names.
  std::optional<eval::ClassificationReport> classification;
  std::vector<std::string> class_names;
};
ScoreResult score_source(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});
// NotSupported, naming the models that score, unless the model has a likelihood or a score (classifiers score by
// their predictions in score_source, not here).
void require_likelihood(const Model& model);
// The representation of each item of `source` under a model (`genforge transform`; sklearn's predict_proba and
// transform, hmmlearn's predict, gensim's document topics). A PartAssigner (gmm, bgmm: per row; hmm: per step; lda:
// per document) gives each item's part and every part's probability (`component, p_component_0 …`); a model with
// an encoder (capabilities().encoder: vae, autoencoder, flow, rbm, dbn, dbm) its code (`z0 …`: a VAE's posterior mean,
// an RBM's hidden probabilities). `item` counts the items from 0; item_names (per sequence: repeated over its
// steps) and the `class` of labelled images and documents follow it. Other models are NotSupported, naming those
// that can.
struct TransformResult {
  Table per_item;
  nlohmann::json summary;   // items, what each holds, parts with their item counts
  std::string description;  // the one-line summary
};
TransformResult transform_source(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});

// `per_row` (a result [n, ...] for n rows) over table rows x [N, D]: a model that takes no missing cells
// (capabilities().missing_values false: flow, bgmm, ...) gets only the complete rows, and the rows with a missing
// cell get NaN (a warning names their count and the models that do take them). Other data go through whole.
torch::Tensor over_complete_rows(const Model& model, const torch::Tensor& x, const std::string& what,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& per_row);

// What names each item score_source scores, when the data says: `file` for images and documents read from files
// (Source::item_files), the sequence column's value of each sequence of a table scored by a sequence model (`id` …).
// A column of no rows otherwise. score_source writes it first; anomaly_table after `item`.
Column item_names(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});

// Whether samples of this model are images (written as PNG grids) rather than table rows.
bool samples_are_images(const Model& model);
// Samples drawn in the model's space, for the `sample` verb: n samples, of class `label` (a class name or index;
// empty: unconditional). Models whose samples are token ids (language and topic models) refuse with a hint to
// their own verb.
torch::Tensor draw_samples(const Model& model, int64_t n, const std::string& label, at::Generator& gen);
// The class index of `label` (name or index) for a class-conditional model.
int64_t class_index(const Model& model, const std::string& label);
// n samples with the cells of `given` (column, value as written in a CSV cell) fixed and the other cells drawn from
// p(rest | given), from a model that samples conditionally (ConditionalSampler). [n, D] in the model's space
torch::Tensor draw_conditional(const Model& model, int64_t n,
                               const std::vector<std::pair<std::string, std::string>>& given, at::Generator& gen);
// Samples [n, ...] back to the user's columns (inverse encoders of the pipeline).
Table samples_table(const Model& model, const torch::Tensor& samples);
// A sequence model's samples as a line of text, of a model trained on text (data::text_sequences): the characters
// joined, or the words with spaces. InvalidArgument for other models.
std::string samples_text(const Model& model, const torch::Tensor& samples);

// Model selection: one model per value of option `key` (the other options as given), each fitted on `train`, and
// the one with the lowest information criterion on the training data kept. Models without InformationCriteria
// are NotSupported.
struct Selection {
  std::string key;
  Criterion criterion = Criterion::bic;
  std::vector<std::string> values;  // in the order tried
  std::vector<double> scores;       // the criterion of each
  std::vector<FitReport> reports;
  size_t best = 0;
  std::unique_ptr<Model> model;     // the best, fitted, with its pipeline
  Table table() const;              // key, criterion, converged, n_iter: one row per value
};
Selection select_model(const ModelInfo& info, const nlohmann::json& options, const OptionOverrides& fixed,
                       const std::string& key, const std::vector<std::string>& values, Criterion criterion,
                       const data::Source& train, const FitContext& ctx = {});
// The values of a sweep written as an option value: "LO:HI" (integers, both included) or "a|b|c"; empty when the
// text is a single value.
std::vector<std::string> sweep_values(const std::string& text);

// Text generation through the model's tokenizer. A prompt longer than the model's context keeps its last tokens
// (`notice` says so).
struct GeneratedText {
  std::string text;       // prompt + continuation
  int64_t new_tokens = 0;
  std::string notice;     // empty, or what was changed
};
GeneratedText generate_text(const Model& model, const std::string& prompt, GenerateOptions options,
                            const std::vector<std::string>& stop_texts, at::Generator& gen);

// The n top words of each topic of a topic model fitted on documents.
std::vector<std::vector<std::string>> topic_words(const Model& model, int64_t n);
// The ids of documents under the topic model's vocabulary (for coherence).
std::vector<std::vector<int64_t>> encode_documents(const Model& model, const data::Source& documents);

// The capability interfaces, with a clear error (NotSupported naming the model kind, and `source` -- e.g. the
// file -- when given) when absent.
const TextGenerator& as_text_generator(const Model& model, const std::string& source = "");
const TopicModel& as_topic_model(const Model& model, const std::string& source = "");
const SequenceTagger& as_sequence_tagger(const Model& model, const std::string& source = "");

}  // namespace gf
