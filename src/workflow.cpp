#include "genforge/workflow.h"

#include <cmath>
#include <cstdio>

#include "core/unicode.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/data/matrix.h"
#include "genforge/eval/text.h"

namespace gf {

const data::InputPipeline& pipeline_of(const Model& model) {
  GF_CHECK_AS(InvalidArgument, model.pipeline() != nullptr,
              "fit it from data with gf::fit_source (genforge train does), so it keeps its input pipeline",
              "the ", model.kind(), " model was fitted on tensors directly and has no input pipeline");
  return *model.pipeline();
}

namespace {

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

// Language models: each line of the text is a document; its tokens' log-likelihoods (the line break included)
// give its NLL, and over its characters its bits per character.
ScoreResult score_text(const Model& model, const data::Source& source, const Dataset& ds) {
  const Tokenizer* tokens = pipeline_of(model).tokenizer();
  GF_CHECK_AS(InvalidArgument, tokens != nullptr, "train the model from text so it keeps its tokenizer",
              "the ", model.kind(), " model has no tokenizer");
  const std::string& text = source.text;
  auto ll = model.score_samples(ds.x).contiguous();  // [N]
  const double* l = ll.data_ptr<double>();
  const int64_t* ids = ds.x.contiguous().data_ptr<int64_t>();
  const int64_t n_ids = ds.x.numel();
  Column doc{"document"}, count{"characters"}, nll{"nll_nats"}, bpc{"bits_per_character"};
  std::vector<double> line_chars;  // each line's characters, line break included
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    const size_t stop = end == std::string::npos ? text.size() : end + 1;
    line_chars.push_back(static_cast<double>(stop - start));
    start = stop;
  }
  double sum = 0;
  size_t line = 0;
  for (int64_t k = 0; k < n_ids; ++k) {
    sum += l[k];
    if (ids[k] == tokens->newline_id() || k + 1 == n_ids) {
      const double n = line < line_chars.size() ? line_chars[line] : 1.0;
      for (Column* c : {&doc, &count, &nll, &bpc}) c->missing.push_back(0);
      doc.values.push_back(static_cast<double>(doc.values.size()));
      count.values.push_back(n);
      nll.values.push_back(-sum);
      bpc.values.push_back(-sum / n / std::log(2.0));
      sum = 0;
      ++line;
    }
  }
  const auto p = eval::perplexity(std::vector<double>(l, l + ll.numel()), static_cast<int64_t>(text.size()));
  ScoreResult r;
  r.per_example = Table("scores");
  for (Column* c : {&doc, &count}) c->type = ColumnType::integer;
  const size_t documents = doc.values.size();
  for (Column c : {doc, count, nll, bpc}) r.per_example.add_column(std::move(c));
  r.summary = {{"documents", documents},
               {"characters", text.size()},
               {"tokens", n_ids},
               {"tokenizer", tokens->kind()},
               {"nats_per_character", -ll.sum().item<double>() / static_cast<double>(text.size())},
               {"bits_per_character", p.bits_per_character},
               {"perplexity", p.perplexity}};
  r.description = std::to_string(documents) + " documents (lines), " + std::to_string(text.size()) +
                  format(" characters: %.4f bits per character (perplexity %.3f per token)", p.bits_per_character,
                         p.perplexity);
  return r;
}

}  // namespace

FitReport fit_source(Model& model, const data::Source& train, const FitContext& ctx, const data::Source* validation) {
  auto pipeline = std::make_shared<data::InputPipeline>(model.capabilities().data_kind, model.pipeline_options());
  const Dataset ds = pipeline->fit_transform(train);
  Dataset held_out;
  FitContext c = ctx;
  if (validation) {
    held_out = pipeline->transform(*validation);
    c.validation = &held_out;
  }
  FitReport report = model.fit(ds, c);
  model.set_pipeline(pipeline);
  return report;
}

Dataset prepare(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  const auto& pipeline = pipeline_of(model);
  return overrides.empty() ? pipeline.transform(source) : pipeline.with_overrides(overrides).transform(source);
}

OpenedModel open_model(const std::string& path, const OptionOverrides& settings) {
  if (settings.empty()) return {load_model(path), {}};
  const ModelFileContents contents = read_model_file(path);
  const ModelInfo* info = nullptr;
  for (const auto& m : registered_models()) {
    if (m.name == contents.kind) info = &m;
  }
  if (info == nullptr) return {model_from_contents(contents, path), {}};  // says the kind is unknown
  OpenedModel out;
  OptionOverrides model_sets;
  for (const auto& kv : settings) (info->is_pipeline_option(kv.first) ? out.input_overrides : model_sets).push_back(kv);
  out.model = model_from_contents(contents, path, "", model_sets);
  return out;
}

namespace {

// Accuracy, per-class and macro precision / recall / F1 and the confusion matrix of a classifier's predictions.
// Unlabelled examples (label -1, semi-supervised data) are left out; with none labelled, nothing is added.
void add_classification(ScoreResult& r, const torch::Tensor& probabilities, const torch::Tensor& all_labels,
                        const data::Source& source) {
  const auto labelled = (all_labels.reshape({-1}) >= 0).nonzero().reshape({-1});
  if (labelled.numel() == 0) return;
  const auto labels = all_labels.reshape({-1}).index_select(0, labelled);
  r.classification = eval::classification_report(probabilities.index_select(0, labelled).argmax(1), labels,
                                                 probabilities.size(1));
  r.class_names = source.images.class_names;
  r.summary["accuracy"] = r.classification->accuracy;
  r.summary["classification"] = r.classification->to_json(r.class_names);
  r.description += format("; classification accuracy %.4f, macro F1 %.4f", r.classification->accuracy,
                          r.classification->macro_f1);
}

// A model that classifies and has no likelihood (the classifier of `finetune --new-head`): per example the
// predicted class and the class probabilities; on labelled data the classification report.
ScoreResult score_classifier(const Model& model, const Classifier& classifier, const data::Source& source,
                             const OptionOverrides& overrides) {
  const Dataset ds = prepare(model, source, overrides);
  const auto probabilities = classifier.predict_proba(ds.x).to(torch::kFloat64);  // [N, K]
  const int64_t n = probabilities.size(0), k = probabilities.size(1);
  std::vector<std::string> columns = {"predicted"};
  const auto& names = source.images.class_names;
  for (int64_t c = 0; c < k; ++c) {
    columns.push_back("p_" + (static_cast<size_t>(c) < names.size() ? names[c] : std::to_string(c)));
  }
  ScoreResult r;
  r.per_example = table_from_matrix(torch::cat({probabilities.argmax(1, true).to(torch::kFloat64), probabilities}, 1),
                                    columns);
  r.summary = {{"examples", n}, {"classes", k}};
  r.description = std::to_string(n) + " examples classified into " + std::to_string(k) + " classes";
  if (ds.labels.defined() && ds.labels.numel() == n) {
    add_classification(r, probabilities, ds.labels, source);
  } else {
    r.description += " (no labels to compare with)";
  }
  return r;
}

ScoreResult score_examples(const Model& model, const data::Source& source, const OptionOverrides& overrides);

}  // namespace

ScoreResult score_source(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  ScoreResult r = score_examples(model, source, overrides);
  Column names = item_names(model, source, overrides);
  if (names.size() > 0 && names.size() == r.per_example.n_rows() && !r.per_example.has_column(names.name)) {
    r.per_example = insert_column(r.per_example, 0, std::move(names));
  }
  return r;
}

Column item_names(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  if (source.form == DataKind::text && model.pipeline() && model.capabilities().data_kind == DataKind::sequences) {
    // Lines of symbols: each sequence named by its line's number (lines without a symbol are no sequence).
    const Table lines = model.pipeline()->as_table(source);
    return text_column(data::kLineColumn, data::sequence_ids(lines.column(data::kLineColumn)));
  }
  const auto& files = source.item_files();
  if (!files.empty()) return text_column("file", files);
  if (source.form == DataKind::table && model.pipeline() && dynamic_cast<const SequenceScorer*>(&model)) {
    const auto& fitted = *model.pipeline();
    const std::string column =
        (overrides.empty() ? fitted : fitted.with_overrides(overrides)).options().sequence_column;
    if (!column.empty() && source.table.has_column(column)) {
      return text_column(column, data::sequence_ids(source.table.column(column)));
    }
  }
  return Column{};
}

void require_likelihood(const Model& model) {
  auto scores = [](const Model& m) { return m.capabilities().likelihood != Likelihood::none; };
  GF_CHECK_AS(NotSupported, scores(model),
              "use a model with a likelihood or a score: " + join_names(registered_models_with(scores)),
              "a ", model.kind(), " model has no likelihood or score to score data with");
}

torch::Tensor over_complete_rows(const Model& model, const torch::Tensor& x, const std::string& what,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& per_row) {
  const bool rows = x.defined() && x.dim() == 2 && x.is_floating_point() && x.size(1) > 0;
  if (!rows || model.capabilities().missing_values || !x.isnan().any().item<bool>()) return per_row(x);
  const auto incomplete = x.isnan().any(1);                            // [N]
  const auto complete = incomplete.logical_not().nonzero().squeeze(1);  // [N']
  const int64_t skipped = x.size(0) - complete.numel();
  auto takes_missing = [](const Model& m) {
    const auto c = m.capabilities();
    return c.missing_values && c.data_kind == DataKind::table && c.likelihood != Likelihood::none;
  };
  const std::string remedy = "impute them first (genforge impute) or use a model that takes missing cells: " +
                             join_names(registered_models_with(takes_missing));
  GF_CHECK_AS(DataError, complete.numel() > 0, remedy, "every one of the ", x.size(0),
              " rows has a missing cell, which a ", model.kind(), " model cannot take");
  log::warn(msg(skipped, " of ", x.size(0), " rows have a missing cell, which a ", model.kind(),
                " model cannot take: they are left empty in what it ", what, "; ", remedy));
  auto part = per_row(x.index_select(0, complete)).to(torch::kFloat64);  // [N', ...]
  auto shape = part.sizes().vec();
  shape[0] = x.size(0);
  auto out = torch::full(shape, NAN, part.options());
  out.index_copy_(0, complete.to(part.device()), part);
  return out;
}

namespace {

ScoreResult score_examples(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  const auto* classifier = dynamic_cast<const Classifier*>(&model);
  if (model.capabilities().likelihood == Likelihood::none && classifier && classifier->is_classifier()) {
    return score_classifier(model, *classifier, source, overrides);
  }
  require_likelihood(model);
  const Dataset ds = prepare(model, source, overrides);
  if (model.capabilities().data_kind == DataKind::text) return score_text(model, source, ds);
  ScoreResult r;
  const auto* by_sequence = dynamic_cast<const SequenceScorer*>(&model);
  if (by_sequence && ds.lengths.defined()) {
    auto ll = by_sequence->score_sequences(ds.x, ds.lengths);  // [S]
    r.per_example = table_from_matrix(torch::stack({ds.lengths.to(torch::kFloat64), ll}, 1), {"length",
                                                                                             "log_likelihood"});
    const double total = ll.sum().item<double>(), count = static_cast<double>(ll.numel());
    const char* unit = model.capabilities().data_kind == DataKind::documents ? "documents" : "sequences";
    r.summary = {{unit, ll.numel()},
                 {"total_log_likelihood", total},
                 {std::string("mean_log_likelihood_per_") + (unit[0] == 'd' ? "document" : "sequence"), total / count},
                 {"unit", "nats"}};
    if (model.capabilities().likelihood == Likelihood::lower_bound) r.summary["bound"] = "lower";
    r.description = std::to_string(ll.numel()) + " " + unit +
                    format(", total log-likelihood %.6f nats (%.6f per ", total, total / count) +
                    (unit[0] == 'd' ? "document)" : "sequence)");
    return r;
  }
  auto ll = over_complete_rows(model, ds.x, "scores", [&](const torch::Tensor& rows) {
              return model.score_samples(rows);
            }).to(torch::kFloat64);  // [N]
  int64_t missing = 0;
  auto empty_rows = torch::zeros_like(ll, torch::kBool);
  const bool takes_missing = model.capabilities().missing_values;
  if (ds.x.dim() == 2 && ds.x.is_floating_point() && ds.x.size(1) > 0) {
    // A row with no observed cell has no likelihood to report: it is missing, not 0 nats. So is a row with a
    // missing cell under a model that takes none.
    empty_rows = takes_missing ? ds.x.isnan().all(1) : ds.x.isnan().any(1);
    missing = empty_rows.sum().item<int64_t>();
  }
  // Any other NaN is a broken model or a value it cannot score: an error, never a silent "nan".
  const auto broken = ll.isnan().logical_and(empty_rows.logical_not()).nonzero();
  GF_CHECK_AS(NumericalError, broken.numel() == 0,
              "the model file may be damaged (re-create it with `genforge train`), or the data holds values the "
              "model cannot score",
              "the ", model.kind(), " model's log-likelihood is NaN for ", broken.size(0), " of ", ll.numel(),
              " examples (the first: example ", broken.numel() ? broken[0][0].item<int64_t>() + 1 : 0, ")");
  if (missing > 0) ll = torch::where(empty_rows, torch::full_like(ll, NAN), ll);
  const auto observed = ll.isnan().logical_not();
  const double mean = observed.any().item<bool>() ? ll.masked_select(observed).mean().item<double>() : NAN;
  r.per_example = table_from_matrix(ll.unsqueeze(1), {"log_likelihood"});
  r.summary = {{"rows", ll.numel()}, {"mean_log_likelihood", mean}, {"unit", "nats"}};
  if (missing > 0) r.summary["missing_rows"] = missing;
  const long long rows = static_cast<long long>(ll.numel());
  if (const auto* estimated = dynamic_cast<const EstimatedLikelihood*>(&model)) {
    const ScoreEstimator e = estimated->score_estimator();
    r.summary["estimator"] = e.name;
    r.summary["estimator_description"] = e.description;
    r.summary["standard_error"] = e.standard_error;
    for (auto it = e.details.begin(); it != e.details.end(); ++it) r.summary[it.key()] = it.value();
    if (!e.is_likelihood) {
      r.summary["unit"] = "nats (pseudo-log-likelihood)";
      r.per_example = table_from_matrix(ll.unsqueeze(1), {"pseudo_log_likelihood"});
      r.description = std::to_string(rows) + format(" rows, mean %.6f per row: ", mean) + e.description;
    } else {
      r.description = std::to_string(rows) + format(" rows, mean log-likelihood %.6f nats per row", mean) +
                      (e.standard_error > 0 ? format(" +- %.4f", e.standard_error) : std::string()) + " (" +
                      e.name + ": " + e.description + ")";
    }
  } else if (model.capabilities().likelihood == Likelihood::score) {
    const std::string meaning = model.capabilities().score_meaning;
    r.description = std::to_string(rows) + format(" rows, mean score %.6f", mean) + " (not a likelihood" +
                    (meaning.empty() ? std::string(")") : ": " + meaning + ")");
  } else {
    r.description = std::to_string(rows) + format(" rows, mean log-likelihood %.6f nats per row", mean) + " (" +
                    to_string(model.capabilities().likelihood) + " likelihood)";
  }
  if (missing > 0) {
    r.description += "; " + std::to_string(missing) +
                     (takes_missing ? " rows with every cell missing" : " rows with a missing cell (not scored)") +
                     " are reported as missing";
  }
  const std::string bpd_convention = model.capabilities().bits_per_dim;
  if (!bpd_convention.empty() && ds.x.dim() >= 2) {
    const double dims = static_cast<double>(ds.x.numel() / std::max<int64_t>(1, ds.x.size(0)));
    const double bpd = -mean / (dims * std::log(2.0));
    r.summary["bits_per_dim"] = bpd;
    r.summary["bits_per_dim_convention"] = bpd_convention;
    r.description += format("; %.4f bits/dim (", bpd) + bpd_convention + ")";
  }
  if (classifier && classifier->is_classifier() && ds.labels.defined() && ds.labels.numel() == ll.numel()) {
    add_classification(r, classifier->predict_proba(ds.x), ds.labels, source);
  }
  return r;
}

}  // namespace

bool samples_are_images(const Model& model) {
  if (model.pipeline()) return model.pipeline()->form() == DataKind::images;
  return model.schema().value("data_kind", "") == "images";
}

int64_t class_index(const Model& model, const std::string& label) {
  GF_CHECK_AS(NotSupported, model.n_classes() > 0, "train it with class labels (e.g. --set conditional=true)",
              "the ", model.kind(), " model is not class-conditional, so it cannot sample a class");
  static const data::InputPipeline no_pipeline;
  return (model.pipeline() ? *model.pipeline() : no_pipeline).class_index(label, model.n_classes());
}

torch::Tensor draw_samples(const Model& model, int64_t n, const std::string& label, at::Generator& gen) {
  GF_CHECK_AS(NotSupported, dynamic_cast<const TextGenerator*>(&model) == nullptr,
              "generate text with `genforge generate MODEL --prompt ...`", "a ", model.kind(),
              " model samples token ids, not table rows or images");
  GF_CHECK_AS(NotSupported, dynamic_cast<const TopicModel*>(&model) == nullptr,
              "show its topics with `genforge topics MODEL`", "a ", model.kind(),
              " model samples word ids, not table rows or images");
  GF_CHECK_AS(NotSupported, dynamic_cast<const SequenceTagger*>(&model) == nullptr,
              "tag text with `genforge tag MODEL --input FILE`", "a ", model.kind(),
              " model tags words; it does not sample rows or images");
  GF_CHECK_AS(InvalidArgument, n >= 1, "ask for at least one sample, e.g. -n 100", "-n must be at least 1, got ", n);
  if (label.empty()) return model.sample(n, gen);
  return model.sample_labelled(torch::full({n}, class_index(model, label), torch::kLong), gen);
}

torch::Tensor draw_conditional(const Model& model, int64_t n,
                               const std::vector<std::pair<std::string, std::string>>& given, at::Generator& gen) {
  const auto* sampler = dynamic_cast<const ConditionalSampler*>(&model);
  GF_CHECK_AS(NotSupported, sampler != nullptr, "use a model that samples conditionally (gmm)", "a ", model.kind(),
              " model cannot sample given some columns");
  GF_CHECK_AS(InvalidArgument, n >= 1, "ask for at least one sample, e.g. -n 100", "-n must be at least 1, got ", n);
  const auto row = pipeline_of(model).encode_given(given);  // [1, D], NaN where not given
  return sampler->conditional_sample(row.expand({n, row.size(1)}).contiguous(), gen);
}

Table samples_table(const Model& model, const torch::Tensor& samples) {
  if (model.pipeline()) return model.pipeline()->decode_rows(samples);
  static const data::InputPipeline no_pipeline;
  return no_pipeline.decode_rows(samples);
}

std::string samples_text(const Model& model, const torch::Tensor& samples) {
  const auto* p = model.pipeline();
  GF_CHECK_AS(InvalidArgument, p && p->form() == DataKind::text && model.capabilities().data_kind == DataKind::sequences,
              "write .txt samples of a sequence model trained on text (genforge train hmm --data FILE.txt); else .csv",
              "a ", model.kind(), " model not trained on lines of text has no symbols to write as text");
  const Table t = p->decode_rows(samples);
  const Column& c = t.column(data::kSymbolColumn);
  const bool words = p->options().symbols == "words";
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c.missing[i]) continue;
    if (words && !out.empty()) out += ' ';
    out += c.categories[static_cast<size_t>(c.values[i])];
  }
  return out + "\n";
}

namespace {

std::string lacks(const Model& model, const std::string& source, const char* what) {
  return source.empty() ? msg("a ", model.kind(), " model ", what)
                        : msg("'", source, "' holds a ", model.kind(), " model, which ", what);
}

}  // namespace

std::vector<std::string> sweep_values(const std::string& text) {
  std::vector<std::string> out;
  const auto colon = text.find(':');
  if (text.find('|') != std::string::npos) {
    out = split_list(text, '|');
  } else if (colon != std::string::npos) {
    char* end = nullptr;
    const long long lo = std::strtoll(text.c_str(), &end, 10);
    const bool lo_ok = end == text.c_str() + colon;
    const long long hi = std::strtoll(text.c_str() + colon + 1, &end, 10);
    GF_CHECK_AS(InvalidArgument, lo_ok && end && *end == 0 && colon > 0 && colon + 1 < text.size() && lo <= hi &&
                                     hi - lo < 1000,
                "write a range of integers LO:HI, e.g. 1:10", "'", text, "' is not a range of integers");
    for (long long v = lo; v <= hi; ++v) out.push_back(std::to_string(v));
  }
  return out;
}

Table Selection::table() const {
  Column value{key}, score{to_string(criterion)}, converged{"converged"}, iterations{"n_iter"};
  value.type = ColumnType::categorical;
  converged.type = iterations.type = ColumnType::integer;
  for (size_t i = 0; i < values.size(); ++i) {
    value.categories.push_back(values[i]);
    value.values.push_back(static_cast<double>(i));
    score.values.push_back(scores[i]);
    converged.values.push_back(reports[i].converged ? 1 : 0);
    iterations.values.push_back(static_cast<double>(reports[i].n_iter));
    for (Column* c : {&value, &score, &converged, &iterations}) c->missing.push_back(0);
  }
  Table t("selection");
  for (Column c : {value, score, converged, iterations}) t.add_column(std::move(c));
  return t;
}

Selection select_model(const ModelInfo& info, const nlohmann::json& options, const OptionOverrides& fixed,
                       const std::string& key, const std::vector<std::string>& values, Criterion criterion,
                       const data::Source& train, const FitContext& ctx) {
  GF_CHECK_AS(InvalidArgument, !values.empty(), "give values to try, e.g. --set n_components=1:10",
              "no values of '", key, "' to select from");
  GF_CHECK_AS(InvalidArgument, info.has_option(key), "see `genforge train " + info.name + " --help`",
              "unknown option '", key, "' for ", info.name);
  Selection sel;
  sel.key = key;
  sel.criterion = criterion;
  for (const auto& value : values) {
    OptionOverrides overrides = fixed;
    overrides.emplace_back(key, value);
    auto model = info.create(options, overrides);
    const auto* ic = dynamic_cast<const InformationCriteria*>(model.get());
    GF_CHECK_AS(NotSupported, ic != nullptr, "select among models that report aic/bic (gmm, hmm)", "a ", info.name,
                " model reports no information criterion");
    FitReport report = fit_source(*model, train, ctx);
    const double score = ic->criterion(criterion, prepare(*model, train));
    sel.values.push_back(value);
    sel.scores.push_back(score);
    sel.reports.push_back(report);
    if (!sel.model || score < sel.scores[sel.best]) {
      sel.best = sel.values.size() - 1;
      sel.model = std::move(model);
    }
  }
  return sel;
}

const TextGenerator& as_text_generator(const Model& model, const std::string& source) {
  const auto* g = dynamic_cast<const TextGenerator*>(&model);
  GF_CHECK_AS(NotSupported, g != nullptr, "give a language model (genforge train gpt)",
              lacks(model, source, "does not generate text"));
  return *g;
}

const TopicModel& as_topic_model(const Model& model, const std::string& source) {
  const auto* t = dynamic_cast<const TopicModel*>(&model);
  GF_CHECK_AS(NotSupported, t != nullptr, "give a topic model (genforge train lda)",
              lacks(model, source, "has no topics"));
  return *t;
}

const SequenceTagger& as_sequence_tagger(const Model& model, const std::string& source) {
  const auto* t = dynamic_cast<const SequenceTagger*>(&model);
  GF_CHECK_AS(NotSupported, t != nullptr, "give a tagger (genforge train pos-tagger --data brown:a-m)",
              lacks(model, source, "does not tag words"));
  return *t;
}

GeneratedText generate_text(const Model& model, const std::string& prompt, GenerateOptions options,
                            const std::vector<std::string>& stop_texts, at::Generator& gen) {
  const TextGenerator& generator = as_text_generator(model);
  const Tokenizer* tokens = pipeline_of(model).tokenizer();
  GF_CHECK_AS(InvalidArgument, tokens != nullptr, "train the model from text (genforge train gpt --data FILE)",
              "the ", model.kind(), " model was trained on token ids and has no tokenizer");
  GF_CHECK_AS(InvalidArgument, options.max_tokens >= 1, "ask for at least one token, e.g. -n 200",
              "-n must be at least 1, got ", options.max_tokens);
  for (const auto& s : stop_texts) {
    GF_CHECK_AS(InvalidArgument, !s.empty(), "give --stop some text", "--stop needs some text");
    options.stop.push_back(tokens->encode(s, "--stop"));
  }
  GeneratedText out;
  std::vector<int64_t> kept_prompt;  // the prompt's tokens the model sees
  if (!prompt.empty()) {
    kept_prompt = tokens->encode(prompt, "the prompt");
    const auto keep = static_cast<size_t>(generator.context_length());
    if (kept_prompt.size() > keep) {
      out.notice = msg("the prompt has ", kept_prompt.size(), " tokens; the model sees its last ", keep,
                       " (its context length)");
      kept_prompt.erase(kept_prompt.begin(), kept_prompt.end() - static_cast<std::ptrdiff_t>(keep));
    }
  }
  const auto prompt_ids = kept_prompt.empty() ? torch::Tensor() : torch::tensor(kept_prompt, torch::kLong);
  auto ids = generator.generate(prompt_ids, options, gen).contiguous();
  out.new_tokens = ids.numel();
  // Bytes a sampled sequence leaves as invalid UTF-8 show as U+FFFD, as Hugging Face's byte-level decoders do
  // (errors="replace").
  const std::string continuation = decode_continuation(
      *tokens, kept_prompt, std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel()));
  out.text = prompt + unicode::encode(unicode::decode(continuation));
  return out;
}

std::vector<std::vector<std::string>> topic_words(const Model& model, int64_t n) {
  const TopicModel& topics = as_topic_model(model);
  GF_CHECK_AS(InvalidArgument, n >= 1, "give -n 10, say", "-n must be at least 1, got ", n);
  const Vocabulary* vocabulary = pipeline_of(model).vocabulary();
  GF_CHECK_AS(InvalidArgument, vocabulary != nullptr,
              "train it from text (genforge train lda --data docs.txt) so it keeps its words", "the ", model.kind(),
              " model was trained on word ids and has no vocabulary to show");
  std::vector<std::vector<std::string>> out;
  for (const auto& ids : topics.top_words(n)) {
    std::vector<std::string> words;
    for (int64_t w : ids) words.push_back(vocabulary->words[static_cast<size_t>(w)]);
    out.push_back(std::move(words));
  }
  return out;
}

std::vector<std::vector<int64_t>> encode_documents(const Model& model, const data::Source& documents) {
  const Vocabulary* vocabulary = pipeline_of(model).vocabulary();
  GF_CHECK_AS(InvalidArgument, vocabulary != nullptr, "train it from text so it keeps its words", "the ",
              model.kind(), " model has no vocabulary");
  const bool strip = pipeline_of(model).options().punctuation == "strip";  // as the pipeline read its documents
  std::vector<std::vector<int64_t>> out;
  for (const auto& d : documents.documents.words) out.push_back(vocabulary->encode(strip ? strip_punctuation(d) : d));
  return out;
}

}  // namespace gf
