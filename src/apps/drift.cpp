#include "genforge/apps/drift.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "genforge/core/error.h"
#include "genforge/viz/plot.h"
#include "genforge/workflow.h"

namespace gf::apps {
namespace {

std::vector<double> finite_values(const torch::Tensor& scores) {
  auto s = scores.to(torch::kCPU, torch::kFloat64).contiguous().reshape({-1});
  std::vector<double> out;
  out.reserve(static_cast<size_t>(s.numel()));
  const double* p = s.data_ptr<double>();
  for (int64_t i = 0; i < s.numel(); ++i) {
    if (std::isfinite(p[i])) out.push_back(p[i]);
  }
  return out;
}

// numpy's linear percentile of sorted values, p in [0, 1].
double sorted_quantile(const std::vector<double>& sorted, double p) {
  const double pos = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// The Kolmogorov distribution's upper tail Q(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2).
double kolmogorov_tail(double lambda) {
  if (lambda < 0.2) return 1.0;
  double sum = 0, sign = 1;
  for (int k = 1; k <= 100; ++k) {
    const double term = sign * std::exp(-2.0 * k * k * lambda * lambda);
    sum += term;
    if (std::fabs(term) < 1e-12 * std::fabs(sum)) break;
    sign = -sign;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

std::string items_word(DataKind form) {
  switch (form) {
    case DataKind::images: return "images";
    case DataKind::text: return "lines";
    case DataKind::documents: return "documents";
    case DataKind::tagged_text: return "sentences";
    default: return "rows";
  }
}

}  // namespace

double ScoreProfile::cdf(double score) const {
  GF_CHECK(quantiles.size() >= 2, "the score profile has no quantiles");
  if (score < quantiles.front()) return 0.0;
  if (score >= quantiles.back()) return 1.0;
  const auto n = static_cast<double>(quantiles.size() - 1);
  // The last quantile not above the score, and the next: linear in between (ties: the upper end of a flat run).
  const auto it = std::upper_bound(quantiles.begin(), quantiles.end(), score);
  const auto hi = static_cast<size_t>(it - quantiles.begin()), lo = hi - 1;
  const double width = quantiles[hi] - quantiles[lo];
  const double frac = width > 0 ? (score - quantiles[lo]) / width : 1.0;
  return (static_cast<double>(lo) + frac) / n;
}

double ScoreProfile::quantile(double p) const {
  GF_CHECK(quantiles.size() >= 2, "the score profile has no quantiles");
  return sorted_quantile(quantiles, std::clamp(p, 0.0, 1.0));
}

nlohmann::json ScoreProfile::to_json() const {
  return {{"quantiles", quantiles}, {"items", items}, {"mean", mean}, {"sd", sd}, {"on", on}};
}

ScoreProfile ScoreProfile::from_json(const nlohmann::json& j) {
  ScoreProfile p;
  try {
    p.quantiles = j.at("quantiles").get<std::vector<double>>();
    p.items = j.at("items").get<int64_t>();
    p.mean = j.at("mean").get<double>();
    p.sd = j.at("sd").get<double>();
    p.on = j.value("on", "");
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("the model's score profile is malformed (", e.what(), ")"),
                         "train the model again to record a new one");
  }
  GF_CHECK_AS(ModelFileError,
              p.quantiles.size() == ScoreProfile::kQuantiles + 1 && p.items >= 2 &&
                  std::is_sorted(p.quantiles.begin(), p.quantiles.end()) &&
                  std::all_of(p.quantiles.begin(), p.quantiles.end(), [](double v) { return std::isfinite(v); }),
              "train the model again to record a new one", "the model's score profile is malformed (",
              p.quantiles.size(), " quantiles over ", p.items, " items)");
  return p;
}

torch::Tensor item_scores(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  const ScoreResult r = score_source(model, source, overrides);
  const Table& t = r.per_example;
  // An item the model could not score (nothing observed, or a missing cell it cannot take) is NaN, not 0.
  auto values = [&](const char* name) {
    const Column& c = t.column(name);
    std::vector<double> v = c.values;
    for (size_t i = 0; i < v.size(); ++i) {
      if (c.missing[i]) v[i] = NAN;
    }
    return torch::tensor(v, torch::kFloat64);
  };
  if (t.has_column("nll_nats")) return -values("nll_nats");
  for (const char* name : {"log_likelihood", "pseudo_log_likelihood"}) {
    if (t.has_column(name)) return values(name);
  }
  throw InternalError(msg("score_source gave no per-item score for a ", model.kind(), " model"), "report this as a bug");
}

ScoreProfile profile_scores(const torch::Tensor& scores, const std::string& on) {
  auto values = finite_values(scores);
  GF_CHECK_AS(InvalidArgument, values.size() >= 2, "profile at least two items", "cannot profile ", values.size(),
              " finite scores");
  std::sort(values.begin(), values.end());
  ScoreProfile p;
  p.items = static_cast<int64_t>(values.size());
  p.on = on;
  for (int k = 0; k <= ScoreProfile::kQuantiles; ++k) {
    p.quantiles.push_back(sorted_quantile(values, static_cast<double>(k) / ScoreProfile::kQuantiles));
  }
  p.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double ss = 0;
  for (double v : values) ss += (v - p.mean) * (v - p.mean);
  p.sd = std::sqrt(ss / static_cast<double>(values.size() - 1));
  return p;
}

data::Source spread_subset(const data::Source& source, int64_t max_items) {
  GF_CHECK(max_items >= 1, "max_items must be >= 1, got ", max_items);
  const int64_t n = source.size();
  if (n <= max_items) return source;
  std::vector<int64_t> picked;
  for (int64_t k = 0; k < max_items; ++k) picked.push_back(k * n / max_items);
  data::Source out;
  out.spec = source.spec;
  out.form = source.form;
  switch (source.form) {
    case DataKind::images: {
      auto index = torch::tensor(picked, torch::kLong);
      out.images = source.images;
      out.images.images = source.images.images.index_select(0, index);
      if (source.images.labels.defined()) out.images.labels = source.images.labels.index_select(0, index);
      break;
    }
    case DataKind::text: {
      std::vector<size_t> starts;
      for (size_t s = 0; s < source.text.size();) {
        starts.push_back(s);
        const size_t end = source.text.find('\n', s);
        s = end == std::string::npos ? source.text.size() : end + 1;
      }
      for (int64_t k : picked) {
        const size_t s = starts[static_cast<size_t>(k)];
        const size_t e = static_cast<size_t>(k) + 1 < starts.size() ? starts[static_cast<size_t>(k) + 1] : source.text.size();
        out.text += source.text.substr(s, e - s);
        if (out.text.back() != '\n') out.text += '\n';
      }
      break;
    }
    case DataKind::documents:
      for (int64_t k : picked) out.documents.words.push_back(source.documents.words[static_cast<size_t>(k)]);
      break;
    case DataKind::tagged_text:
      for (int64_t k : picked) out.sentences.push_back(source.sentences[static_cast<size_t>(k)]);
      break;
    default: {  // a prefix: rows grouped into sequences stay together
      std::vector<int64_t> rows(static_cast<size_t>(max_items));
      std::iota(rows.begin(), rows.end(), int64_t{0});
      out.table = take_rows(source.table, rows);
    }
  }
  return out;
}

std::optional<ScoreProfile> stored_profile(const Model& model) {
  const auto& extra = model.fit_report().extra;
  if (!extra.is_object() || !extra.contains("score_profile")) return std::nullopt;
  return ScoreProfile::from_json(extra.at("score_profile"));
}

namespace {
// The rows of a table without a missing cell in the model's input columns, for a model trained on those alone
// (drop_incomplete): its profile is of the rows it learnt from. Other data and models as they are.
data::Source rows_like_training(const Model& model, const data::Source& source) {
  const auto* pipeline = model.pipeline();
  if (pipeline == nullptr || !pipeline->options().drop_incomplete || source.form != DataKind::table) return source;
  std::vector<const Column*> inputs;
  for (const auto& name : pipeline->input_columns()) inputs.push_back(&source.table.column(name));
  std::vector<int64_t> complete;
  for (int64_t r = 0; r < source.size(); ++r) {
    const bool any_missing = std::any_of(inputs.begin(), inputs.end(),
                                         [&](const Column* c) { return c->missing[static_cast<size_t>(r)] != 0; });
    if (!any_missing) complete.push_back(r);
  }
  data::Source out = source;
  out.table = take_rows(source.table, complete);
  return out;
}
}  // namespace

bool attach_score_profile(Model& model, const data::Source& source, const std::string& on, int64_t max_items) {
  if (model.capabilities().likelihood == Likelihood::none) return false;
  const data::Source subset = spread_subset(rows_like_training(model, source), max_items);
  const auto scores = item_scores(model, subset);
  if (scores.isfinite().sum().item<int64_t>() < 2) return false;
  FitReport report = model.fit_report();
  report.extra["score_profile"] =
      profile_scores(scores, msg(on, " (", source.spec, ", ", scores.numel(), " ", items_word(source.form), ")"))
          .to_json();
  model.set_fit_report(std::move(report));
  return true;
}

void DriftOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, alpha > 0 && alpha < 1, "give --alpha 0.001, say", "alpha must be in (0, 1), got ",
              alpha);
  GF_CHECK_AS(InvalidArgument, min_items >= 2, "give at least 2", "min_items must be >= 2, got ", min_items);
}

std::string DriftReport::summary() const {
  if (!enough) return msg(items, " items scored: too few for a verdict");
  char line[200];
  std::snprintf(line, sizeof line, " items, mean score %.4f vs %.4f in training (%+.2f sd); KS D = %.4f, p = %.3g",
                mean, reference_mean, shift_sd, ks_statistic, p_value);
  return msg(drift ? "DRIFT: " : "no drift: ", items, line);
}

nlohmann::json DriftReport::to_json() const {
  return {{"items", items},         {"mean", mean},
          {"reference_mean", reference_mean}, {"reference_sd", reference_sd},
          {"shift_sd", shift_sd},   {"ks_statistic", ks_statistic},
          {"p_value", p_value},     {"enough", enough},
          {"drift", drift}};
}

DriftReport drift_test(const ScoreProfile& reference, const torch::Tensor& scores, const DriftOptions& options) {
  options.validate();
  auto values = finite_values(scores);
  std::sort(values.begin(), values.end());
  DriftReport r;
  r.items = static_cast<int64_t>(values.size());
  r.reference_mean = reference.mean;
  r.reference_sd = reference.sd;
  if (values.empty()) return r;
  r.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  r.shift_sd = reference.sd > 0 ? (r.mean - reference.mean) / reference.sd : 0.0;
  const auto n = static_cast<double>(values.size());
  // Over each run of equal values v: the new ECDF steps from a = #(x < v) / n to b = #(x <= v) / n there.
  double d = 0;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[i]) ++j;
    const double a = static_cast<double>(i) / n, b = static_cast<double>(j + 1) / n;
    const double at = reference.cdf(values[i]), before = reference.cdf(std::nextafter(values[i], -INFINITY));
    d = std::max({d, std::fabs(b - at), std::fabs(a - before)});
    i = j + 1;
  }
  r.ks_statistic = d;
  const double m = static_cast<double>(reference.items);
  const double ne = n * m / (n + m);
  r.p_value = kolmogorov_tail((std::sqrt(ne) + 0.12 + 0.11 / std::sqrt(ne)) * d);
  r.enough = r.items >= options.min_items;
  r.drift = r.enough && r.p_value < options.alpha;
  return r;
}

void write_drift_histogram(const std::string& path, const ScoreProfile& reference, const torch::Tensor& scores,
                           const std::string& title) {
  auto values = finite_values(scores);
  GF_CHECK_AS(InvalidArgument, !values.empty(), "give data the model can score", "no finite scores to draw");
  std::sort(values.begin(), values.end());
  // The range: the reference's middle 99 % and the new scores' middle 99 %.
  double lo = std::min(reference.quantile(0.005), sorted_quantile(values, 0.005));
  double hi = std::max(reference.quantile(0.995), sorted_quantile(values, 0.995));
  if (!(hi > lo)) hi = lo + 1;
  const int bins = 40;
  const double width = (hi - lo) / bins;
  viz::Series ref, now;
  ref.label = msg("reference (", reference.items, " items)");
  now.label = msg("new data (", values.size(), " items)");
  ref.line = now.line = true;
  ref.color = viz::series_color(0);
  now.color = viz::series_color(1);
  for (int b = 0; b < bins; ++b) {
    const double a = lo + b * width, z = a + width;
    const double ref_density = (reference.cdf(z) - reference.cdf(a)) / width;
    const auto count = std::lower_bound(values.begin(), values.end(), z) - std::lower_bound(values.begin(), values.end(), a);
    const double new_density = static_cast<double>(count) / (static_cast<double>(values.size()) * width);
    for (double x : {a, z}) {  // steps
      ref.x.push_back(x), ref.y.push_back(ref_density);
      now.x.push_back(x), now.y.push_back(new_density);
    }
  }
  viz::PlotOptions o;
  o.title = title;
  o.x_label = "score (log-likelihood per item)";
  o.y_label = "density";
  viz::write_scatter_png(path, {ref, now}, o);
}

DriftMonitor::DriftMonitor(ScoreProfile reference, int64_t window, DriftOptions options)
    : reference_(std::move(reference)), window_(window), options_(options) {
  GF_CHECK_AS(InvalidArgument, window >= options.min_items, "give a window of at least min_items scores",
              "the drift window (", window, ") is smaller than min_items (", options.min_items, ")");
  options_.validate();
}

void DriftMonitor::add(const torch::Tensor& scores) {
  const auto values = finite_values(scores);
  std::lock_guard<std::mutex> lock(mutex_);
  for (double v : values) {
    recent_.push_back(v);
    if (static_cast<int64_t>(recent_.size()) > window_) recent_.pop_front();
  }
  total_ += static_cast<int64_t>(values.size());
}

DriftReport DriftMonitor::report() const {
  std::vector<double> copy;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    copy.assign(recent_.begin(), recent_.end());
  }
  return drift_test(reference_, torch::tensor(copy, torch::kFloat64), options_);
}

int64_t DriftMonitor::total_items() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

}  // namespace gf::apps
