// genforge report: gathers the model card, curves, samples, metrics and the two checks (apps/report.h), then
// writes the page (page.cpp).
#include <torch/types.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/eval/features.h"
#include "genforge/eval/image.h"
#include "genforge/eval/table_report.h"
#include "genforge/io/bytes.h"
#include "genforge/io/model_file.h"
#include "genforge/io/provenance.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "internal.h"

namespace gf::apps {
namespace fs = std::filesystem;
using report::Page;
using report::Samples;

namespace {

std::vector<std::string> text_lines(const std::string& text, size_t min_chars, size_t limit) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && lines.size() < limit) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line.size() - first < min_chars) continue;
    lines.push_back(line.substr(first));
  }
  return lines;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::string w;
  for (char ch : text + " ") {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalpha(c)) {
      w += static_cast<char>(std::tolower(c));
    } else if (!w.empty()) {
      words.push_back(w);
      w.clear();
    }
  }
  return words;
}

// Rows of a table in a space with distances: numeric columns standardised by the reference's mean and standard
// deviation (missing: 0, the mean), categorical ones one-hot over the reference's labels scaled by 1/sqrt(2), so
// one differing category weighs as one standard deviation. Columns missing from `t` count as 0. [N, D]
torch::Tensor table_features(const Table& t, const Table& reference) {
  std::vector<torch::Tensor> parts;
  for (const auto& ref : reference.columns()) {
    const bool present = t.has_column(ref.name);
    auto out = torch::zeros({static_cast<int64_t>(t.n_rows()), 1}, torch::kFloat64);
    if (ref.type == ColumnType::categorical) {
      std::map<std::string, int64_t> index;
      for (const auto& label : ref.categories) index.emplace(label, static_cast<int64_t>(index.size()));
      out = torch::zeros({static_cast<int64_t>(t.n_rows()), static_cast<int64_t>(index.size()) + 1}, torch::kFloat64);
      if (present) {
        const Column& c = t.column(ref.name);
        auto cells = out.accessor<double, 2>();
        for (size_t i = 0; i < c.size(); ++i) {
          if (c.missing[i] || c.type != ColumnType::categorical) continue;
          const auto it = index.find(c.categories[static_cast<size_t>(c.values[i])]);
          cells[static_cast<int64_t>(i)][it == index.end() ? static_cast<int64_t>(index.size()) : it->second] =
              std::sqrt(0.5);
        }
      }
    } else if (present) {
      double sum = 0, sum2 = 0, n = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        if (!ref.missing[i]) sum += ref.values[i], sum2 += ref.values[i] * ref.values[i], n += 1;
      }
      const double mean = n > 0 ? sum / n : 0, sd = n > 1 ? std::sqrt(std::max(0.0, sum2 / n - mean * mean)) : 1;
      const Column& c = t.column(ref.name);
      auto cells = out.accessor<double, 2>();
      for (size_t i = 0; i < c.size(); ++i) {
        if (c.missing[i] || c.type == ColumnType::categorical) continue;
        cells[static_cast<int64_t>(i)][0] = (c.values[i] - mean) / (sd > 0 ? sd : 1);
      }
    }
    parts.push_back(out);
  }
  return torch::cat(parts, 1);
}

// The first `n` rows of a table.
Table head(const Table& t, size_t n) {
  Table out(t.source());
  for (Column c : t.columns()) {
    const size_t keep = std::min(n, c.size());
    c.values.resize(keep);
    c.missing.resize(keep);
    out.add_column(std::move(c));
  }
  return out;
}

std::vector<viz::SvgSeries> run_metric_curves(const std::string& run_dir) {
  std::map<std::string, viz::SvgSeries> by_name;
  std::ifstream in((fs::path(run_dir) / "metrics.jsonl").string());
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
    for (const auto& [key, value] : j.items()) {
      if (key == "step" || key == "epoch" || key == "time" || key == "seconds" || key == "lr" || !value.is_number()) continue;
      auto& s = by_name[key];
      s.label = key;
      s.x.push_back(j["step"].get<double>());
      s.y.push_back(value.get<double>());
    }
  }
  std::vector<viz::SvgSeries> out;
  for (auto& [name, s] : by_name) {
    s.colour = std::vector<std::string>{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}[out.size() % 6];
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::json model_card(const Model& model, const std::string& path, const std::string& run_dir) {
  const auto contents = read_model_file(path);
  int64_t parameters = 0;
  for (const auto& kv : contents.tensors) parameters += kv.second.numel();
  nlohmann::json fit = model.fit_report().to_json();
  fit.erase("history");
  nlohmann::json card = {{"kind", model.kind()},
                         {"file", fs::path(path).filename().string()},
                         {"sha256", sha256_file_hex(path)},
                         {"genforge_version", contents.genforge_version},
                         {"parameters", parameters},
                         {"options", model.options_json()},
                         {"schema", model.schema()},
                         {"capabilities", model.capabilities().to_json()},
                         {"training_seconds", model.fit_report().seconds},
                         {"fit", fit}};
  if (fit.contains("extra") && fit["extra"].contains("parent")) card["parent"] = fit["extra"]["parent"];
  if (!run_dir.empty()) {
    std::ifstream config((fs::path(run_dir) / "config.json").string());
    const auto j = nlohmann::json::parse(config, nullptr, false);
    if (!j.is_discarded()) card["run_config"] = j;
  }
  return card;
}

Samples draw(const Model& model, const ReportOptions& o) {
  Samples s;
  auto gen = make_generator(o.seed);
  s.origin = "drawn from the model (seed " + std::to_string(o.seed) + ")";
  if (dynamic_cast<const TextGenerator*>(&model)) {
    s.form = Samples::Form::texts;
    GenerateOptions g;
    g.max_tokens = 160;
    for (int64_t i = 0; i < (o.n > 0 ? o.n : 16); ++i) s.texts.push_back(generate_text(model, "", g, {}, gen).text);
  } else if (dynamic_cast<const TopicModel*>(&model)) {
    s.form = Samples::Form::topics;
    s.topics = topic_words(model, 10);
  } else if (samples_are_images(model)) {
    s.form = Samples::Form::images;
    s.images = draw_samples(model, o.n > 0 ? o.n : 64, "", gen).to(torch::kFloat32).clamp(0, 1);
  } else {
    s.form = Samples::Form::table;
    s.table = samples_table(model, draw_samples(model, o.n > 0 ? o.n : 500, "", gen));
  }
  return s;
}

Samples given_samples(const Model& model, const ReportOptions& o) {
  Samples s;
  s.origin = o.samples;
  const DataKind kind = model.capabilities().data_kind;
  const auto source = data::load_source(o.samples, kind);
  if (source.form == DataKind::images) {
    s.form = Samples::Form::images;
    s.images = data::scale_images(source.images.images);
  } else if (source.form == DataKind::text) {
    s.form = Samples::Form::texts;
    s.texts = text_lines(source.text, 1, SIZE_MAX);
  } else if (source.form == DataKind::table || source.form == DataKind::sequences) {
    s.form = Samples::Form::table;
    s.table = source.table;
  } else {
    throw InvalidArgument(msg("--samples: a ", to_string(kind), " model's samples cannot be read from '", o.samples,
                              "'"), "give samples as images, text or a table");
  }
  return s;
}

void image_checks(Page& page, const data::Source& train, const data::Source* holdout, const ReportOptions& o) {
  const std::string spec = o.features.empty() ? "pixels" : o.features;
  auto extractor = eval::make_feature_extractor(spec);
  page.feature_space = extractor->name();
  const auto real = data::scale_images(train.images.images);
  page.train.images = real;
  const auto real_f = extractor->features(real);
  const auto fake_f = extractor->features(page.samples.images);
  const torch::Tensor held = holdout ? extractor->features(data::scale_images(holdout->images.images)) : torch::Tensor();
  page.memorisation = memorisation_check(fake_f, real_f, held);
  if (page.samples.images.size(0) >= 2 && real.size(0) >= 2) {
    page.metrics["fid"] = eval::fid(real_f, fake_f).distance;
    const auto prdc = eval::precision_recall_density_coverage(real_f, fake_f);
    page.metrics["precision"] = prdc.precision;
    page.metrics["recall"] = prdc.recall;
    page.metrics["features"] = extractor->name();
  }
  if (!extractor->has_class_logits()) {
    page.notes.push_back("class coverage needs a classifier: --features fmnist labels the images with genforge's "
                         "Fashion-MNIST classifier");
    return;
  }
  const int64_t classes = extractor->logits(page.samples.images.slice(0, 0, 1)).size(1);
  std::vector<std::string> names = train.images.class_names;
  if (static_cast<int64_t>(names.size()) != classes) {
    names.clear();
    for (int64_t k = 0; k < classes; ++k) names.push_back("class " + std::to_string(k));
  }
  // The training images are labelled by the same classifier, not by their own labels: its confusions (shirts taken
  // for T-shirts) then shift both sides alike instead of showing up as the model's bias.
  const auto real_labels = extractor->logits(real).argmax(1);
  const auto fake_labels = extractor->logits(page.samples.images).argmax(1);
  const auto real_bins = torch::bincount(real_labels.to(torch::kLong), {}, classes).to(torch::kDouble).contiguous();
  const auto fake_bins = torch::bincount(fake_labels.to(torch::kLong), {}, classes).to(torch::kLong).contiguous();
  const std::vector<double> real_counts(real_bins.data_ptr<double>(), real_bins.data_ptr<double>() + classes);
  const std::vector<int64_t> fake_counts(fake_bins.data_ptr<int64_t>(), fake_bins.data_ptr<int64_t>() + classes);
  page.coverage.push_back(coverage_check("class (" + extractor->name() + ")", names, real_counts, fake_counts));
}

// The real rows are read as the model reads them (a text as lines of symbols; labels it pooled as rare as _RARE_, as
// in its samples).
void table_checks(Page& page, const data::InputPipeline& pipeline, const data::Source& train,
                  const data::Source* holdout) {
  const Table& fake = page.samples.table;
  // The samples' columns only: a sequence model's samples have no sequence column.
  auto as_sampled = [&](const data::Source& s) {
    return pipeline.with_rare_labels_pooled(pipeline.as_table(s)).select(fake.names());
  };
  const Table real = as_sampled(train);
  const std::optional<Table> held = holdout ? std::optional<Table>(as_sampled(*holdout)) : std::nullopt;
  page.train.table = real;
  page.feature_space = "standardised numeric columns and one-hot categories of the training table";
  page.memorisation = memorisation_check(table_features(fake, real), table_features(real, real),
                                         held ? table_features(*held, real) : torch::Tensor());
  eval::TableReportOptions tro;
  tro.metrics = {"quality"};
  const auto quality = eval::table_report(real, fake, held ? &*held : nullptr, tro);
  page.metrics["quality_score"] = quality.value("quality_score", 0.0);
  int shown = 0;
  for (const auto& column : real.columns()) {
    if (column.type != ColumnType::categorical || !fake.has_column(column.name) || shown == 6) continue;
    const Column& f = fake.column(column.name);
    std::map<std::string, size_t> index;
    std::vector<std::string> names = column.categories;
    for (size_t k = 0; k < names.size(); ++k) index[names[k]] = k;
    std::vector<double> real_counts(names.size(), 0.0);
    for (size_t i = 0; i < column.size(); ++i) {
      if (!column.missing[i]) real_counts[static_cast<size_t>(column.values[i])] += 1;
    }
    std::vector<int64_t> fake_counts(names.size(), 0);
    for (size_t i = 0; i < f.size(); ++i) {
      if (f.missing[i] || f.type != ColumnType::categorical) continue;
      const std::string& label = f.categories[static_cast<size_t>(f.values[i])];
      auto it = index.find(label);
      if (it == index.end()) {
        it = index.emplace(label, names.size()).first;
        names.push_back(label);
        real_counts.push_back(0);
        fake_counts.push_back(0);
      }
      fake_counts[it->second] += 1;
    }
    if (std::accumulate(fake_counts.begin(), fake_counts.end(), int64_t{0}) == 0) continue;
    page.coverage.push_back(coverage_check("column " + column.name, names, real_counts, fake_counts));
    ++shown;
  }
}

void text_checks(Page& page, const data::Source& train, const data::Source* holdout, const ReportOptions& o) {
  const auto real = text_lines(train.text, 12, static_cast<size_t>(o.max_real));
  std::vector<std::string> fake;
  for (const auto& t : page.samples.texts) {
    for (auto& line : text_lines(t, 12, SIZE_MAX)) fake.push_back(std::move(line));
  }
  GF_CHECK_AS(DataError, real.size() >= 2 && !fake.empty(), "give more text",
              "the report compares lines of at least 12 characters: the training text has ", real.size(),
              " and the samples ", fake.size());
  page.train.texts = real;
  page.samples.lines = fake;
  page.feature_space = "hashed character 3- to 5-grams of each line (cosine geometry)";
  const torch::Tensor held =
      holdout ? text_features(text_lines(holdout->text, 12, static_cast<size_t>(o.max_real))) : torch::Tensor();
  page.memorisation = memorisation_check(text_features(fake), text_features(real), held);
  std::map<std::string, double> real_counts;
  for (const auto& line : real)
    for (const auto& w : words_of(line)) real_counts[w] += 1;
  std::vector<std::pair<double, std::string>> order;
  for (const auto& [w, c] : real_counts) order.emplace_back(-c, w);
  std::sort(order.begin(), order.end());
  std::vector<std::string> words;
  std::vector<double> counts;
  std::map<std::string, size_t> index;
  for (size_t k = 0; k < order.size() && k < 20; ++k) {
    index[order[k].second] = words.size();
    words.push_back(order[k].second);
    counts.push_back(-order[k].first);
  }
  std::vector<int64_t> fake_counts(words.size(), 0);
  for (const auto& line : fake) {
    for (const auto& w : words_of(line)) {
      const auto it = index.find(w);
      if (it != index.end()) fake_counts[it->second] += 1;
    }
  }
  if (std::accumulate(fake_counts.begin(), fake_counts.end(), int64_t{0}) > 0) {
    page.coverage.push_back(coverage_check("the 20 most frequent training words", words, counts, fake_counts));
  } else {
    page.notes.push_back("the samples hold none of the 20 most frequent training words: no word coverage");
  }
}

}  // namespace

nlohmann::json write_report(const std::string& target, const std::string& out_html, const ReportOptions& o) {
  check_writable(out_html);
  std::error_code ec;
  std::string model_path = target, run_dir;
  if (fs::is_directory(target, ec)) {
    run_dir = target;
    model_path = (fs::path(target) / "model.gf").string();
    GF_CHECK_AS(InvalidArgument, fs::exists(model_path, ec), "train with --run-dir DIR (it saves DIR/model.gf), or "
                "give the model file", "the run directory '", target, "' holds no model.gf");
  }
  const auto model = load_model(model_path);
  Page page;
  page.title = o.title.empty() ? model->kind() + " — " + fs::path(model_path).filename().string() : o.title;
  page.card = model_card(*model, model_path, run_dir);
  const auto& history = model->fit_report().history;
  if (!history.empty()) {
    viz::SvgSeries s{model->fit_report().objective_name.empty() ? "objective" : model->fit_report().objective_name,
                     {}, history, viz::kRealColour};
    for (size_t i = 0; i < history.size(); ++i) s.x.push_back(static_cast<double>(i + 1));
    page.objective.push_back(s);
  }
  if (!run_dir.empty()) page.run_metrics = run_metric_curves(run_dir);
  try {
    page.samples = o.samples.empty() ? draw(*model, o) : given_samples(*model, o);
  } catch (const NotSupported& e) {
    throw NotSupported(msg("cannot report on '", model_path, "': ", e.what()),
                       "a report shows samples; give the model's output with --samples FILE");
  }
  if (!o.data.empty()) {
    data::SourceOptions so;
    so.limit = o.max_real;
    const DataKind kind = model->capabilities().data_kind;
    const auto train = data::load_source(o.data, kind, so);
    std::optional<data::Source> holdout;
    if (!o.holdout.empty()) holdout = data::load_source(o.holdout, kind, so);
    const data::Source* held = holdout ? &*holdout : nullptr;
    if (model->capabilities().likelihood != Likelihood::none) {
      const auto scored = score_source(*model, held ? *held : train);
      page.metrics["likelihood"] = scored.summary;
      page.metrics["likelihood_on"] = held ? "held-out data" : "training data";
    }
    switch (page.samples.form) {
      case Samples::Form::images: image_checks(page, train, held, o); break;
      case Samples::Form::table: table_checks(page, pipeline_of(*model), train, held); break;
      case Samples::Form::texts: text_checks(page, train, held, o); break;
      case Samples::Form::topics:
        page.notes.push_back("a topic model's samples are its topics: no memorisation or coverage check");
        break;
    }
  } else {
    page.notes.push_back("no --data: the metrics, the memorisation check and the coverage check need the "
                         "training data");
  }
  if (page.samples.form == Samples::Form::table) page.samples.table = head(page.samples.table, 500);
  nlohmann::json figures = {{"model", page.card}, {"metrics", page.metrics}, {"notes", page.notes},
                            {"samples", page.samples.origin}};
  if (page.memorisation) {
    figures["memorisation"] = page.memorisation->to_json();
    figures["memorisation"]["feature_space"] = page.feature_space;
  }
  figures["coverage"] = nlohmann::json::array();
  for (const auto& c : page.coverage) figures["coverage"].push_back(c.to_json());
  add_provenance(figures);
  const std::string html = report::page_html(page);
  write_file_atomic(out_html, [&](std::ostream& out) { out << html; });
  return figures;
}

}  // namespace gf::apps
