#include "genforge/apps/anomaly.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "genforge/apps/drift.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/images.h"
#include "genforge/data/source.h"
#include "genforge/model_interfaces.h"
#include "genforge/workflow.h"

namespace gf::apps {
namespace {

bool has_likelihood(const Model& m) { return m.capabilities().likelihood != Likelihood::none; }
bool has_dimension_scores(const Model& m) { return dynamic_cast<const DimensionScorer*>(&m) != nullptr; }

std::string models_with(bool (*has)(const Model&)) { return join_names(registered_models_with(has)); }

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// numpy.percentile(values, q), linear interpolation.
double percentile(const torch::Tensor& values, double q) {
  auto v = std::get<0>(values.to(torch::kFloat64).reshape({-1}).sort());
  const int64_t n = v.numel();
  const double pos = q / 100.0 * static_cast<double>(n - 1);
  const auto lo = static_cast<int64_t>(std::floor(pos));
  const int64_t hi = std::min(lo + 1, n - 1);
  const double a = v[lo].item<double>(), b = v[hi].item<double>();
  return a + (pos - static_cast<double>(lo)) * (b - a);
}

torch::Tensor corrected(const torch::Tensor& raw, const torch::Tensor& complexity, const AnomalyCalibration& c) {
  switch (c.correction) {
    case AnomalyCorrection::none: return raw;
    case AnomalyCorrection::typicality: return (raw - c.typical_nll).abs();
    case AnomalyCorrection::complexity: return raw - complexity;
  }
  return raw;
}

}  // namespace

std::string anomaly_evidence(const Model& model) {
  const auto caps = model.capabilities();
  if (caps.likelihood == Likelihood::score) {
    const std::string& m = caps.score_meaning;
    if (m.rfind("minus ", 0) == 0) return m.substr(6);  // "the reconstruction error"
    return "minus the score: " + (m.empty() ? std::string("the model's own") : m);
  }
  std::string e = "negative log-likelihood";
  if (caps.likelihood == Likelihood::lower_bound) e += " (upper bound: from a lower bound on the likelihood)";
  if (caps.likelihood == Likelihood::estimated) e += " (estimated)";
  if (caps.data_kind == DataKind::text) return e + ", nats per line";
  return e + ", nats";
}

namespace {

// An inferno-like ramp: black, purple, red, orange, pale yellow.
std::array<double, 3> heat_color(double t) {
  static const double stops[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  std::array<double, 3> out{};
  for (int k = 0; k < 3; ++k) out[k] = (stops[i][k] + f * (stops[i + 1][k] - stops[i][k])) / 255.0;
  return out;
}

uLong deflated_size(const std::string& bytes) {
  uLongf size = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(&out[0]), &size, reinterpret_cast<const Bytef*>(bytes.data()),
                           static_cast<uLong>(bytes.size()), 9);
  GF_CHECK_AS(InternalError, rc == Z_OK, "report this as a bug", "deflate failed with code ", rc);
  return size;
}

}  // namespace

const char* to_string(AnomalyCorrection c) {
  switch (c) {
    case AnomalyCorrection::none: return "none";
    case AnomalyCorrection::typicality: return "typicality";
    case AnomalyCorrection::complexity: return "complexity";
  }
  return "none";
}

AnomalyCorrection anomaly_correction_from_string(const std::string& text) {
  if (text == "none") return AnomalyCorrection::none;
  if (text == "typicality") return AnomalyCorrection::typicality;
  if (text == "complexity") return AnomalyCorrection::complexity;
  throw InvalidArgument(msg("unknown anomaly correction '", text, "'"), "give none, typicality or complexity");
}

void AnomalyOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, contamination > 0 && contamination <= 0.5,
              "give the expected share of anomalies, e.g. --contamination 0.05", "contamination must be in (0, 0.5], got ",
              contamination);
}

nlohmann::json AnomalyCalibration::to_json() const {
  return {{"format", "genforge-anomaly-threshold"},
          {"version", 1},
          {"model_kind", model_kind},
          {"evidence", evidence},
          {"correction", to_string(correction)},
          {"contamination", contamination},
          {"typical_nll", typical_nll},
          {"threshold", threshold},
          {"calibration_items", calibration_items},
          {"calibrated_on", calibrated_on}};
}

AnomalyCalibration AnomalyCalibration::from_json(const nlohmann::json& j, const std::string& source) {
  const std::string where = source.empty() ? "the threshold JSON" : "'" + source + "'";
  GF_CHECK_AS(DataError, j.is_object() && j.value("format", "") == "genforge-anomaly-threshold",
              "give a file written by `genforge anomaly` (--save-threshold)", where,
              " is not a genforge anomaly threshold file");
  AnomalyCalibration c;
  try {
    c.model_kind = j.at("model_kind").get<std::string>();
    c.evidence = j.value("evidence", "");
    c.correction = anomaly_correction_from_string(j.at("correction").get<std::string>());
    c.contamination = j.at("contamination").get<double>();
    c.typical_nll = j.at("typical_nll").get<double>();
    c.threshold = j.at("threshold").get<double>();
    c.calibration_items = j.value("calibration_items", int64_t{0});
    c.calibrated_on = j.value("calibrated_on", "");
  } catch (const nlohmann::json::exception& e) {
    throw DataError(msg(where,
             " is incomplete or has a wrong type: ", e.what()), "write it again with `genforge anomaly ... --save-threshold F`");
  }
  return c;
}

void AnomalyCalibration::save(const std::string& path) const {
  const std::string text = to_json().dump(2) + "\n";
  write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

AnomalyCalibration AnomalyCalibration::load(const std::string& path) {
  std::ifstream in(path);
  GF_CHECK_AS(DataError, in.good(), "check the path", "cannot read '", path, "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(msg("'", path,
             "' is not valid JSON: ", e.what()), "give a file written by `genforge anomaly` (--save-threshold)");
  }
  return from_json(j, path);
}

torch::Tensor raw_anomaly_scores(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  GF_CHECK_AS(NotSupported, has_likelihood(model), "use a model that scores data: " + models_with(has_likelihood),
              "a ", model.kind(), " model has no likelihood or score to detect anomalies with");
  return -item_scores(model, source, overrides);
}

torch::Tensor input_complexity(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  std::vector<double> bits;
  if (source.form == DataKind::text) {
    // Lines as score_source counts them: each with its line break.
    for (size_t start = 0; start < source.text.size();) {
      const size_t end = source.text.find('\n', start);
      const size_t stop = end == std::string::npos ? source.text.size() : end + 1;
      bits.push_back(8.0 * static_cast<double>(deflated_size(source.text.substr(start, stop - start))));
      start = stop;
    }
  } else {
    GF_CHECK_AS(NotSupported, model.capabilities().data_kind == DataKind::images,
                "use --correction typicality for tables and sequences",
                "the input-complexity correction is defined for images and text lines, not for a ", model.kind(),
                " model's ", to_string(model.capabilities().data_kind));
    const Dataset ds = prepare(model, source, overrides);
    GF_CHECK(ds.x.dim() == 4, "images must be [N, C, H, W], got ", ds.x.sizes());
    for (int64_t i = 0; i < ds.x.size(0); ++i) bits.push_back(8.0 * static_cast<double>(encode_png(ds.x[i]).size()));
  }
  return torch::tensor(bits, torch::kFloat64) * std::log(2.0);
}

namespace {

// The calibration from raw scores [N] and, for the complexity correction, complexities [N] of reference data.
AnomalyCalibration calibrate_from(const Model& model, const std::string& spec, const torch::Tensor& raw,
                                  const torch::Tensor& complexity, const AnomalyOptions& options) {
  AnomalyCalibration c;
  c.model_kind = model.kind();
  c.evidence = anomaly_evidence(model);
  c.correction = options.correction;
  c.contamination = options.contamination;
  c.calibrated_on = spec;
  const auto finite = raw.isfinite();
  GF_CHECK_AS(DataError, finite.any().item<bool>(), "calibrate on data the model can score",
              "no item of '", spec, "' has a finite score");
  const auto raw_ok = raw.masked_select(finite);
  c.calibration_items = raw_ok.numel();
  c.typical_nll = raw_ok.mean().item<double>();
  const auto complexity_ok = complexity.defined() ? complexity.masked_select(finite) : complexity;
  c.threshold = percentile(corrected(raw_ok, complexity_ok, c), 100.0 * (1.0 - c.contamination));
  return c;
}

}  // namespace

AnomalyCalibration calibrate_anomaly(const Model& model, const data::Source& reference, const AnomalyOptions& options,
                                     const OptionOverrides& overrides) {
  options.validate();
  const auto raw = raw_anomaly_scores(model, reference, overrides);
  const auto complexity = options.correction == AnomalyCorrection::complexity
                              ? input_complexity(model, reference, overrides)
                              : torch::Tensor();
  return calibrate_from(model, reference.spec, raw, complexity, options);
}

AnomalyResult detect_anomalies_self_calibrated(const Model& model, const data::Source& data,
                                               const AnomalyOptions& options, const OptionOverrides& overrides) {
  options.validate();
  AnomalyResult r;
  r.raw = raw_anomaly_scores(model, data, overrides);
  if (options.correction == AnomalyCorrection::complexity) r.complexity = input_complexity(model, data, overrides);
  r.calibration = calibrate_from(model, data.spec, r.raw, r.complexity, options);
  r.score = corrected(r.raw, r.complexity, r.calibration);
  r.flag = (r.score > r.calibration.threshold).to(torch::kLong);
  return r;
}

AnomalyResult detect_anomalies(const Model& model, const data::Source& data, const AnomalyCalibration& calibration,
                               const OptionOverrides& overrides) {
  GF_CHECK_AS(InvalidArgument, calibration.model_kind.empty() || calibration.model_kind == model.kind(),
              "calibrate again with this model", "the threshold was calibrated for a ", calibration.model_kind,
              " model, not for this ", model.kind(), " model");
  AnomalyResult r;
  r.calibration = calibration;
  r.raw = raw_anomaly_scores(model, data, overrides);
  if (calibration.correction == AnomalyCorrection::complexity) {
    r.complexity = input_complexity(model, data, overrides);
    GF_CHECK_AS(InternalError, r.complexity.numel() == r.raw.numel(), "report this as a bug", r.raw.numel(),
                " scores but ", r.complexity.numel(), " complexities");
  }
  r.score = corrected(r.raw, r.complexity, calibration);
  r.flag = (r.score > calibration.threshold).to(torch::kLong);
  return r;
}

eval::DetectionReport evaluate_anomalies(const AnomalyResult& result, const std::vector<int>& is_outlier,
                                         int64_t* unscored) {
  GF_CHECK_AS(InvalidArgument, static_cast<int64_t>(is_outlier.size()) == result.score.numel(),
              "give one label per item", is_outlier.size(), " outlier labels for ", result.score.numel(), " items");
  const auto score = result.score.to(torch::kFloat64).contiguous();
  const double* s = score.data_ptr<double>();
  std::vector<double> scores;
  std::vector<int> labels;
  int64_t left_out = 0;
  for (int64_t i = 0; i < score.numel(); ++i) {
    if (std::isnan(s[i])) {
      ++left_out;
      continue;
    }
    scores.push_back(s[i]);
    labels.push_back(is_outlier[static_cast<size_t>(i)]);
  }
  if (unscored) *unscored = left_out;
  return eval::evaluate_detection(labels, scores);
}

Table anomaly_table(const AnomalyResult& result, const std::vector<int>& is_outlier, const Column& names) {
  std::vector<torch::Tensor> columns{torch::arange(result.score.numel(), torch::kFloat64), result.score,
                                     result.flag.to(torch::kFloat64)};
  std::vector<std::string> titles{"item", "anomaly_score", "flag"};
  if (result.calibration.correction != AnomalyCorrection::none) {
    columns.push_back(result.raw);
    titles.emplace_back("raw_score");
  }
  if (result.complexity.defined()) {
    columns.push_back(result.complexity);
    titles.emplace_back("complexity_nats");
  }
  if (!is_outlier.empty()) {
    columns.push_back(torch::tensor(std::vector<double>(is_outlier.begin(), is_outlier.end()), torch::kFloat64));
    titles.emplace_back("is_outlier");
  }
  Table t("anomaly");
  const std::vector<double> scores = to_vector(result.score);
  for (size_t k = 0; k < columns.size(); ++k) {
    Column c{titles[k]};
    c.type = (k == 0 || titles[k] == "flag" || titles[k] == "is_outlier") ? ColumnType::integer : ColumnType::continuous;
    c.values = to_vector(columns[k]);
    // An item with no score (nothing the model could take) is neither flagged nor passed: its cells stay empty.
    const bool scored_only = titles[k] == "anomaly_score" || titles[k] == "flag" || titles[k] == "raw_score";
    for (size_t i = 0; i < c.values.size(); ++i) {
      c.missing.push_back(std::isnan(c.values[i]) || (scored_only && std::isnan(scores[i])) ? 1 : 0);
    }
    t.add_column(std::move(c));
  }
  if (names.size() > 0 && static_cast<int64_t>(names.size()) == result.score.numel() && !t.has_column(names.name)) {
    return insert_column(t, 1, names);
  }
  return t;
}

std::vector<AnomalousItem> most_anomalous(const AnomalyResult& result, int64_t k, const Column& names) {
  const auto score = result.score.to(torch::kFloat64).contiguous();
  const double* v = score.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(score.numel()));
  std::iota(order.begin(), order.end(), int64_t{0});
  k = std::clamp<int64_t>(k, 0, score.numel());
  // NaN (an item with nothing to score) last.
  auto higher = [&](int64_t a, int64_t b) {
    if (std::isnan(v[a]) != std::isnan(v[b])) return std::isnan(v[b]);
    return v[a] > v[b] || (!(v[b] > v[a]) && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), higher);
  const bool named = static_cast<int64_t>(names.size()) == score.numel() && names.type == ColumnType::categorical;
  std::vector<AnomalousItem> out;
  for (int64_t i = 0; i < k; ++i) {
    const auto item = static_cast<size_t>(order[static_cast<size_t>(i)]);
    const bool known = named && !names.missing[item];
    out.push_back({static_cast<int64_t>(item),
                   known ? names.categories[static_cast<size_t>(names.values[item])] : std::string(), v[item]});
  }
  return out;
}

std::vector<int> outlier_labels(const data::Source& data, const std::string& label_column,
                                const std::vector<std::string>& normal_classes) {
  std::vector<int> out;
  if (!label_column.empty()) {
    GF_CHECK_AS(InvalidArgument, data.form == DataKind::table, "--labels names a column of a table",
                "'", data.spec, "' is not a table, so it has no column '", label_column, "'");
    const Column& c = data.table.column(label_column);
    const bool categorical = c.type == ColumnType::categorical;
    GF_CHECK_AS(InvalidArgument, !categorical || !normal_classes.empty(),
                "say which values are normal, e.g. --normal-classes no", "column '", label_column,
                "' holds categories; which of them are normal?");
    for (size_t i = 0; i < c.size(); ++i) {
      GF_CHECK_AS(DataError, !c.missing[i], "give every item a label", "row ", i + 1, " has no value in '",
                  label_column, "'");
      if (categorical) {
        const auto& value = c.categories[static_cast<size_t>(c.values[i])];
        out.push_back(std::find(normal_classes.begin(), normal_classes.end(), value) == normal_classes.end());
      } else {
        out.push_back(c.values[i] != 0);
      }
    }
    return out;
  }
  const auto labels = data.labels();
  GF_CHECK_AS(InvalidArgument, labels.defined(),
              "give --labels COLUMN (a table column, 1 = outlier), or labelled images or documents (class "
              "sub-folders, IDX labels, brown) with --normal-classes",
              "'", data.spec, "' has no labels to evaluate against");
  GF_CHECK_AS(InvalidArgument, !normal_classes.empty(), "say which classes are normal, e.g. --normal-classes 0",
              "labelled ", to_string(data.form), " need --normal-classes to know which classes are normal");
  const auto l = labels.to(torch::kLong).contiguous();
  const int64_t n_classes = l.numel() ? l.max().item<int64_t>() + 1 : 0;
  const auto normal = data::class_flags(data.class_names(), n_classes, normal_classes);
  for (int64_t i = 0; i < l.numel(); ++i) out.push_back(normal[static_cast<size_t>(l.data_ptr<int64_t>()[i])] ? 0 : 1);
  return out;
}

namespace {

// The pixel scorer of an image model and the images of `data` through its pipeline.
std::pair<const DimensionScorer*, torch::Tensor> pixel_scorer(const Model& model, const data::Source& data,
                                                              const OptionOverrides& overrides) {
  const auto* scorer = dynamic_cast<const DimensionScorer*>(&model);
  GF_CHECK_AS(NotSupported, scorer != nullptr,
              "use a model that scores pixels: " + models_with(has_dimension_scores), "a ", model.kind(),
              " model does not score single pixels, so it draws no anomaly maps");
  Dataset ds = prepare(model, data, overrides);
  GF_CHECK_AS(NotSupported, ds.x.dim() == 4, "anomaly maps are drawn for images", "the ", model.kind(),
              " model's data are not images");
  return {scorer, ds.x};
}

}  // namespace

torch::Tensor anomaly_maps(const Model& model, const data::Source& data, const OptionOverrides& overrides) {
  const auto [scorer, x] = pixel_scorer(model, data, overrides);
  return scorer->dimension_scores(x).sum(1);
}

void write_anomaly_maps(const std::string& path, const Model& model, const data::Source& data,
                        const std::vector<int64_t>& items, int64_t columns, const OptionOverrides& overrides) {
  GF_CHECK_AS(InvalidArgument, !items.empty() && columns >= 1, "choose at least one item",
              "no items to draw anomaly maps for");
  const auto [scorer, x] = pixel_scorer(model, data, overrides);
  for (int64_t i : items) {
    GF_CHECK_AS(InvalidArgument, i >= 0 && i < x.size(0), "give items of the data", "item ", i,
                " is outside the data's ", x.size(0), " items");
  }
  auto index = torch::tensor(items, torch::kLong);
  auto images = x.index_select(0, index).to(torch::kFloat32);  // [k, C, H, W]
  auto maps = scorer->dimension_scores(images).sum(1).clamp_min(0);  // [k, H, W]
  // One colour scale for all shown maps, topped at their 99th percentile so a few extreme pixels do not darken
  // the rest.
  const double top = std::max(percentile(maps, 99.0), 1e-12);
  auto m = (maps / top).clamp_max(1.0).contiguous();
  const int64_t k = m.size(0), h = m.size(1), w = m.size(2);
  auto heat = torch::empty({k, 3, h, w}, torch::kFloat32);
  auto* mp = m.data_ptr<double>();
  auto* hp = heat.data_ptr<float>();
  for (int64_t n = 0; n < k; ++n) {
    for (int64_t p = 0; p < h * w; ++p) {
      const auto c = heat_color(mp[n * h * w + p]);
      for (int64_t ch = 0; ch < 3; ++ch) hp[(n * 3 + ch) * h * w + p] = static_cast<float>(c[ch]);
    }
  }
  auto rgb = images.size(1) == 3 ? images : images.expand({k, 3, h, w});
  auto pairs = torch::stack({rgb, heat}, 1).reshape({2 * k, 3, h, w});
  // Small images (Fashion-MNIST's 28x28) are enlarged 3x, pixel for pixel, so the maps can be read.
  const int64_t zoom = std::max<int64_t>(1, 84 / std::max(h, w));
  if (zoom > 1) pairs = pairs.repeat_interleave(zoom, 2).repeat_interleave(zoom, 3);
  write_png_grid(path, pairs, 2 * columns);
}

}  // namespace gf::apps
