#include "genforge/apps/synth.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "genforge/apps/constraints.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "genforge/model_interfaces.h"
#include "genforge/workflow.h"

namespace gf::apps {
namespace {

// New identifiers that follow the real ones' form and never repeat them: PREFIX + zero-padded numbers after the
// largest real one when the real IDs are written so, else "syn-" + a running number; integers after the maximum.
Column regenerate_ids(const Column& real, int64_t n) {
  Column c;
  c.name = real.name;
  c.type = real.type;
  c.values.resize(static_cast<size_t>(n));
  c.missing.assign(static_cast<size_t>(n), 0);
  if (real.type != ColumnType::categorical) {
    double top = 0;
    for (size_t i = 0; i < real.size(); ++i) top = std::max(top, real.values[i]);
    for (int64_t i = 0; i < n; ++i) c.values[static_cast<size_t>(i)] = top + 1 + static_cast<double>(i);
    return c;
  }
  // Common prefix, then digits of one width?
  std::string prefix = real.categories.front();
  for (const auto& s : real.categories) {
    size_t k = 0;
    while (k < prefix.size() && k < s.size() && prefix[k] == s[k]) ++k;
    prefix.resize(k);
  }
  while (!prefix.empty() && std::isdigit(static_cast<unsigned char>(prefix.back()))) prefix.pop_back();
  bool numbered = true;
  size_t width = 0;
  long long top = 0;
  for (const auto& s : real.categories) {
    const std::string tail = s.substr(prefix.size());
    numbered = numbered && !tail.empty() && tail.size() <= 18 &&
               std::all_of(tail.begin(), tail.end(), [](unsigned char ch) { return std::isdigit(ch); });
    if (!numbered) break;
    width = std::max(width, tail.size());
    top = std::max(top, std::stoll(tail));
  }
  if (!numbered) prefix = "syn-", width = 0, top = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::string number = std::to_string(top + 1 + i);
    if (number.size() < width) number = std::string(width - number.size(), '0') + number;
    c.categories.push_back(prefix + number);
    c.values[static_cast<size_t>(i)] = static_cast<double>(i);
  }
  return c;
}

// Bounds in the model's space [D] for an exact sampler: rounding of integers and recorded decimals widens each
// bound by half a unit (a draw of 149.6 is written 150).
struct ModelBounds {
  torch::Tensor lo, hi;  // [D]
  std::vector<std::string> exact;
};
ModelBounds model_bounds(const data::InputPipeline& p, const std::vector<ColumnBounds>& bounds,
                         const std::vector<std::string>& why) {
  int64_t d = 0;
  for (const auto& e : p.encoders()) d += e.width();
  ModelBounds out{torch::full({d}, -INFINITY, torch::kFloat64), torch::full({d}, INFINITY, torch::kFloat64), {}};
  for (size_t k = 0; k < bounds.size(); ++k) {
    const auto& b = bounds[k];
    int64_t j = 0;
    const data::ColumnEncoder* enc = nullptr;
    for (const auto& e : p.encoders()) {
      if (e.name == b.column) {
        enc = &e;
        break;
      }
      j += e.width();
    }
    if (!enc || enc->encoding == "onehot") continue;
    if (!b.category.empty()) {
      const auto it = std::find(enc->categories.begin(), enc->categories.end(), b.category);
      GF_CHECK_AS(InvalidArgument, it != enc->categories.end() || enc->pooled_labels == 0,
                  msg("condition on a label the model kept, or on ", data::kRareLabel, " (all the rare ones)"), "'",
                  b.category, "' is seen in too few rows of column '", b.column, "' to be reproduced: the model pooled it "
                  "with the column's other rare labels into ", data::kRareLabel);
      if (it == enc->categories.end()) continue;
      out.lo[j] = out.hi[j] = static_cast<double>(it - enc->categories.begin());
    } else {
      const double half = enc->type == ColumnType::integer ? 0.5
                          : enc->decimals >= 0         ? 0.5 * std::pow(10.0, -enc->decimals)
                                                       : 0.0;
      double lo = b.lo, hi = b.hi;
      if (std::isfinite(lo)) lo += b.lo_open && half > 0 ? half : -half;
      if (std::isfinite(hi)) hi += b.hi_open && half > 0 ? -half : half;
      out.lo[j] = (lo - enc->shift) / enc->scale;
      out.hi[j] = (hi - enc->shift) / enc->scale;
    }
    out.exact.push_back(k < why.size() ? why[k] : b.column);
  }
  return out;
}

std::vector<std::string> model_columns(const Model& model) { return pipeline_of(model).input_columns(); }

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Categorical columns (identifiers aside) whose every label is seen in fewer than `min_rows` rows: pooled, each would
// be one constant label (names in a table of people), so synthesizers leave them out and `synthesize` writes them as
// kRareLabel. Each with its distinct labels and the rows holding one.
struct RareColumn {
  std::string name;
  int64_t labels = 0, rows = 0;
};
std::vector<RareColumn> rare_only_columns(const Table& t, int64_t min_rows) {
  std::vector<RareColumn> out;
  if (min_rows <= 0) return out;
  const auto ids = identifier_columns(t);
  for (const auto& c : t.columns()) {
    if (c.type != ColumnType::categorical || contains(ids, c.name)) continue;
    std::vector<int64_t> count(c.categories.size(), 0);
    for (size_t i = 0; i < c.size(); ++i) {
      if (!c.missing[i]) ++count[static_cast<size_t>(c.values[i])];
    }
    const int64_t rows = std::accumulate(count.begin(), count.end(), int64_t{0});
    if (rows == 0 || *std::max_element(count.begin(), count.end()) >= min_rows) continue;
    out.push_back({c.name, std::count_if(count.begin(), count.end(), [](int64_t k) { return k > 0; }), rows});
  }
  return out;
}

// Each numeric column's k-th smallest and largest real value (protect_extremes), for the columns the model draws
// with at least 2k values.
struct Extreme {
  std::string name;
  double lo = 0, hi = 0;
  int64_t clipped = 0;
};
std::vector<Extreme> extreme_bounds(const Table& real, const std::vector<std::string>& columns, int64_t k) {
  std::vector<Extreme> out;
  if (k <= 0) return out;
  for (const auto& name : columns) {
    const Column& c = real.column(name);
    if (c.type == ColumnType::categorical) continue;
    std::vector<double> v;
    for (size_t i = 0; i < c.size(); ++i) {
      if (!c.missing[i]) v.push_back(c.values[i]);
    }
    if (static_cast<int64_t>(v.size()) < 2 * k) continue;
    std::sort(v.begin(), v.end());
    out.push_back({name, v[static_cast<size_t>(k - 1)], v[v.size() - static_cast<size_t>(k)], 0});
  }
  return out;
}

// `rows` with the cells past their column's bounds clipped to them; `clipped` [extremes][rows] marks them.
Table clip_extremes(Table rows, const std::vector<Extreme>& extremes, std::vector<std::vector<uint8_t>>& clipped) {
  clipped.assign(extremes.size(), std::vector<uint8_t>(rows.n_rows(), 0));
  if (extremes.empty()) return rows;  // the default: the batch passes through without a copy
  Table out(rows.source());
  for (Column c : rows.columns()) {
    for (size_t k = 0; k < extremes.size(); ++k) {
      const Extreme& e = extremes[k];
      if (e.name != c.name) continue;
      for (size_t i = 0; i < c.size(); ++i) {
        if (c.missing[i] || (c.values[i] >= e.lo && c.values[i] <= e.hi)) continue;
        c.values[i] = std::clamp(c.values[i], e.lo, e.hi);
        clipped[k][i] = 1;
      }
    }
    out.add_column(std::move(c));
  }
  return out;
}

// 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st.
std::string ordinal(int64_t k) {
  const char* suffix = k % 100 / 10 == 1 ? "th" : k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
  return msg(k, suffix);
}

// A column of `n` kRareLabel cells, missing at `real`'s rate (drawn from gen) unless the rate must stay private.
Column rare_label_column(const Column& real, int64_t n, bool private_fit, at::Generator& gen) {
  const double missing_rate =
      private_fit ? 0.0 : static_cast<double>(real.n_missing()) / static_cast<double>(std::max<size_t>(real.size(), 1));
  const auto u = torch::rand({n}, gen, torch::kFloat64).contiguous();
  Column c{real.name};
  c.type = ColumnType::categorical;
  c.categories = {data::kRareLabel};
  c.values.assign(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) c.missing.push_back(u.data_ptr<double>()[i] < missing_rate ? 1 : 0);
  return c;
}

// What the model pooled, and the real labels seen in fewer than `min_rows` rows (kSynthesizerRareLabels where the
// model pooled none) that the synthetic rows carry nonetheless: the check holds for any model, pooled or not.
nlohmann::json rare_label_report(const data::InputPipeline& p, const std::vector<RareColumn>& rare_only,
                                 const Table& real, const Table& synthetic) {
  nlohmann::json pooled = nlohmann::json::object();
  for (const auto& e : p.encoders()) {
    if (e.pooled_labels > 0) pooled[e.name] = {{"labels", e.pooled_labels}, {"rows", e.pooled_rows}};
  }
  for (const auto& c : rare_only) pooled[c.name] = {{"labels", c.labels}, {"rows", c.rows}, {"whole_column", true}};
  const int64_t min_rows = std::max<int64_t>(p.options().rare_labels, 0);
  const int64_t below = min_rows > 0 ? min_rows : data::kSynthesizerRareLabels;
  int64_t labels = 0, cells = 0;
  for (const auto& s : synthetic.columns()) {
    if (s.type != ColumnType::categorical || !real.has_column(s.name)) continue;
    const Column& r = real.column(s.name);
    if (r.type != ColumnType::categorical) continue;
    std::unordered_map<std::string, int64_t> count;
    for (size_t i = 0; i < r.size(); ++i) {
      if (!r.missing[i]) ++count[r.categories[static_cast<size_t>(r.values[i])]];
    }
    std::unordered_set<std::string> copied;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s.missing[i]) continue;
      const std::string& label = s.categories[static_cast<size_t>(s.values[i])];
      const auto it = count.find(label);
      if (it != count.end() && it->second < below) ++cells, copied.insert(label);
    }
    labels += static_cast<int64_t>(copied.size());
  }
  return {{"min_rows", min_rows},
          {"label", data::kRareLabel},
          {"pooled", pooled},
          {"copied", {{"below", below}, {"labels", labels}, {"cells", cells}}}};
}

}  // namespace

FitReport fit_synthesizer(Model& model, const data::Source& real, const FitContext& ctx) {
  GF_CHECK_AS(InvalidArgument, model.capabilities().data_kind == DataKind::table && real.form == DataKind::table,
              "synthesize tables with a table model (copula, gmm, ...)", "the ", model.kind(),
              " model does not take tables");
  auto options = model.pipeline_options();
  if (options.rare_labels < 0) options.rare_labels = data::kSynthesizerRareLabels;
  auto left_out = identifier_columns(real.table);
  for (const auto& c : rare_only_columns(real.table, options.rare_labels)) left_out.push_back(c.name);
  if (options.columns.empty() && !left_out.empty()) {
    std::string keep;
    for (const auto& name : real.table.names()) {
      if (!contains(left_out, name)) keep += (keep.empty() ? "" : ",") + name;
    }
    GF_CHECK_AS(DataError, !keep.empty(), "give a table with columns that describe the rows", "every column of '",
                real.spec, "' is an identifier (a distinct value per row) or holds only labels seen in fewer than ",
                options.rare_labels, " rows (rare_labels)");
    options.columns = keep;
  }
  model.set_pipeline_options(options);
  return fit_source(model, real, ctx);
}

void SynthOptions::validate() const {
  GF_CHECK(n >= 1, "synthesize at least one row, got n = ", n);
  GF_CHECK(min_acceptance > 0 && min_acceptance <= 1, "min_acceptance must be in (0, 1], got ", min_acceptance);
  GF_CHECK(protect_extremes >= 0, "protect_extremes must be >= 0, got ", protect_extremes);
}

nlohmann::json Synthesis::to_json() const {
  return {{"rows", rows.n_rows()}, {"drawn", drawn}, {"acceptance", acceptance}, {"exact_rules", exact},
          {"rejection_rules", rejection}, {"id_columns", id_columns}, {"rare_columns", rare_columns},
          {"extremes", extremes},         {"rare_labels", rare_labels}};
}

std::vector<std::string> Synthesis::evaluated_columns() const {
  std::vector<std::string> out;
  for (const auto& name : rows.names()) {
    if (!contains(id_columns, name) && !contains(rare_columns, name)) out.push_back(name);
  }
  return out;
}

Synthesis synthesize(const Model& model, const Table& real, const SynthOptions& options) {
  options.validate();
  const bool private_fit = model.fit_report().extra.contains("privacy");
  check_extremes_protection(private_fit, options.protect_extremes, model.kind());
  const auto& pipeline = pipeline_of(model);
  const Table schema = real.select(model_columns(model));
  std::vector<ColumnBounds> bounds;
  std::vector<std::string> why;
  std::vector<Constraint> predicates;
  for (const auto& text : options.conditions) {
    bounds.push_back(parse_condition(text, schema));
    why.push_back(text);
  }
  for (const auto& text : options.constraints) {
    Constraint c = Constraint::parse(text, schema);
    if (c.bounds().empty()) {
      predicates.push_back(std::move(c));
      continue;
    }
    for (const auto& b : c.bounds()) bounds.push_back(b), why.push_back(c.text());
  }
  const auto merged = merge_bounds(bounds, why);
  std::vector<std::string> merged_why;
  for (const auto& b : merged) {
    std::string reasons;
    for (size_t k = 0; k < bounds.size(); ++k) {
      if (bounds[k].column == b.column && reasons.find(why[k]) == std::string::npos) {
        reasons += (reasons.empty() ? "" : "; ") + why[k];
      }
    }
    merged_why.push_back(reasons);
  }

  Synthesis out;
  auto gen = make_generator(options.seed);
  const auto* box = dynamic_cast<const BoxConditionalSampler*>(&model);
  const auto* conditional = dynamic_cast<const ConditionalSampler*>(&model);
  std::function<torch::Tensor(int64_t)> draw = [&](int64_t k) { return model.sample(k, gen); };
  ModelBounds mb;
  torch::Tensor given_row;
  if (box && !merged.empty()) {
    mb = model_bounds(pipeline, merged, merged_why);
    out.exact = mb.exact;
    draw = [&](int64_t k) { return box->sample_within(k, mb.lo, mb.hi, gen); };
  } else if (conditional && !merged.empty()) {
    std::vector<std::pair<std::string, std::string>> given;
    for (size_t k = 0; k < merged.size(); ++k) {
      const auto& b = merged[k];
      if (!b.category.empty()) {
        given.emplace_back(b.column, b.category);
      } else if (b.lo == b.hi) {
        given.emplace_back(b.column, msg(b.lo));
      } else {
        continue;
      }
      out.exact.push_back(merged_why[k]);
    }
    if (!given.empty()) {
      given_row = pipeline.encode_given(given);
      draw = [&](int64_t k) { return conditional->conditional_sample(given_row.expand({k, -1}).contiguous(), gen); };
    }
  }
  for (const auto& w : merged_why) {
    if (std::find(out.exact.begin(), out.exact.end(), w) == out.exact.end()) out.rejection.push_back(w);
  }
  for (const auto& p : predicates) out.rejection.push_back(p.text());

  auto extremes = extreme_bounds(real, model_columns(model), options.protect_extremes);
  Table kept;
  std::optional<Progress> bar;  // large tables take a while to draw, decode and check
  if (Progress::enabled() && options.n >= 100000) bar.emplace("synth", options.n, "row");
  int64_t accepted = 0, passed_total = 0;
  double rate = 1.0;
  const auto limit = static_cast<int64_t>(static_cast<double>(options.n) / options.min_acceptance) + 100000;
  while (accepted < options.n) {
    const int64_t need = options.n - accepted;
    const auto batch = std::clamp<int64_t>(static_cast<int64_t>(static_cast<double>(need) / rate * 1.2) + 16, 16, 200000);
    std::vector<std::vector<uint8_t>> clipped;  // before the rules check them
    const Table rows = clip_extremes(samples_table(model, draw(batch)), extremes, clipped);
    auto ok = check_bounds(merged, rows);
    for (const auto& p : predicates) {
      const auto pass = p.check(rows);
      for (size_t i = 0; i < ok.size(); ++i) ok[i] &= pass[i];
    }
    std::vector<int64_t> keep;
    for (size_t i = 0; i < ok.size() && accepted + static_cast<int64_t>(keep.size()) < options.n; ++i) {
      if (ok[i]) keep.push_back(static_cast<int64_t>(i));
    }
    for (size_t k = 0; k < extremes.size(); ++k) {
      for (int64_t i : keep) extremes[k].clipped += clipped[k][static_cast<size_t>(i)];
    }
    out.drawn += batch;
    const int64_t passed = std::count(ok.begin(), ok.end(), uint8_t{1});
    append_rows(kept, take_rows(rows, keep));
    accepted += static_cast<int64_t>(keep.size());
    passed_total += passed;
    if (bar) {
      bar->update(accepted, msg("acceptance ", static_cast<int>(100.0 * static_cast<double>(passed_total) /
                                                                static_cast<double>(out.drawn)), "%"));
    }
    rate = std::max(static_cast<double>(passed_total) / static_cast<double>(out.drawn), options.min_acceptance / 10);
    if (accepted < options.n && (out.drawn >= 2000 || out.drawn >= limit)) {
      const double seen = static_cast<double>(passed_total) / static_cast<double>(out.drawn);
      std::string rules;
      for (const auto& r : out.rejection) rules += (rules.empty() ? "'" : ", '") + r + "'";
      GF_CHECK_AS(InvalidArgument, seen >= options.min_acceptance && out.drawn < limit,
                  "relax the rules, or pick a model that conditions exactly (copula)", "the rules ", rules,
                  " accept ", passed_total, " of the ", out.drawn, " rows the ", model.kind(), " model drew (",
                  seen * 100, "%), below the ", options.min_acceptance * 100, "% needed");
    }
  }
  out.acceptance = static_cast<double>(passed_total) / static_cast<double>(out.drawn);
  if (bar) bar->finish();

  // The real table's column order, with the ID columns regenerated.
  const auto modelled = model_columns(model);
  const auto ids = identifier_columns(real);
  std::vector<RareColumn> rare_only;
  for (const auto& c : rare_only_columns(real, pipeline.options().rare_labels)) {
    if (!contains(modelled, c.name)) rare_only.push_back(c);
  }
  Table result("synthetic");
  for (const auto& c : real.columns()) {
    if (contains(modelled, c.name)) {
      result.add_column(kept.column(c.name));
    } else if (contains(ids, c.name)) {
      result.add_column(regenerate_ids(c, options.n));
      out.id_columns.push_back(c.name);
    } else if (std::any_of(rare_only.begin(), rare_only.end(), [&](const RareColumn& r) { return r.name == c.name; })) {
      result.add_column(rare_label_column(c, options.n, private_fit, gen));
      out.rare_columns.push_back(c.name);
    }
  }
  out.rows = std::move(result);
  out.rare_labels = rare_label_report(pipeline, rare_only, real, out.rows);
  nlohmann::json clipped = nlohmann::json::object();
  for (const auto& e : extremes) clipped[e.name] = {{"lo", e.lo}, {"hi", e.hi}, {"clipped", e.clipped}};
  out.extremes = {{"k", options.protect_extremes}, {"columns", clipped}};
  return out;
}

std::string private_ranges_summary(const nlohmann::json& privacy) {
  if (!privacy.is_object() || !privacy.contains("ranges")) return "";
  const auto& ranges = privacy["ranges"];
  std::map<std::string, std::string> by_how;
  for (const auto& [name, r] : ranges["columns"].items()) {
    auto& line = by_how[r["how"].get<std::string>()];
    line += msg(line.empty() ? "" : ", ", name, " ", r["lo"].get<double>(), "..", r["hi"].get<double>());
  }
  std::string out;
  for (const auto& [how, columns] : by_how) {
    out += (out.empty() ? "ranges " : "; ") + how;
    if (how == "private") out += msg(" (ε ", ranges["epsilon_per_column"].get<double>(), " each)");
    out += ": " + columns;
  }
  return out;
}

void check_extremes_protection(bool private_fit, int64_t protect_extremes, const std::string& kind) {
  GF_CHECK_AS(InvalidArgument, !private_fit || protect_extremes == 0,
              "leave --protect-extremes off: the private fit already bounds each column",
              "protect_extremes clips to each column's ", ordinal(protect_extremes),
              " smallest and largest real values, which are not private, and the ", kind,
              " model is fitted with differential privacy");
}

std::vector<std::string> privacy_summary(const nlohmann::json& privacy) {
  if (!privacy.is_object() || !privacy.contains("epsilon")) return {"fitted without differential privacy"};
  std::vector<std::string> lines;
  const double delta = privacy.value("delta", 0.0);
  lines.push_back(msg("differential privacy: ε ", privacy["epsilon"].get<double>(),
                      delta > 0 ? msg(", δ ", delta) : std::string(" (pure ε)")));
  const auto ranges = private_ranges_summary(privacy);
  if (!ranges.empty()) lines.push_back(ranges);
  if (privacy.contains("public")) lines.push_back("treated as public: " + privacy["public"].get<std::string>());
  return lines;
}

std::string rare_label_summary(const nlohmann::json& rare) {
  if (!rare.is_object() || !rare.contains("copied")) return "rare labels: not checked";
  const auto& pooled = rare["pooled"];
  std::string out = "rare labels: ";
  if (pooled.empty()) {
    out += rare["min_rows"].get<int64_t>() > 0 ? msg("none pooled (every label seen in at least ", rare["min_rows"],
                                                     " rows)")
                                               : std::string("every label kept (rare_labels 0)");
  } else {
    int64_t labels = 0;
    std::string columns;
    for (auto it = pooled.begin(); it != pooled.end(); ++it) {
      labels += it.value()["labels"].get<int64_t>();
      columns += msg(columns.empty() ? "" : ", ", it.key(), " ", it.value()["labels"].get<int64_t>(),
                     it.value().value("whole_column", false) ? ": the whole column" : "");
    }
    out += msg(labels, " seen in fewer than ", rare["min_rows"], " rows pooled into ", data::kRareLabel, " (",
               columns, ")");
  }
  const auto& copied = rare["copied"];
  const auto cells = copied["cells"].get<int64_t>();
  out += cells == 0 ? msg("; no synthetic cell carries a label seen in fewer than ", copied["below"], " real rows")
                    : msg("; ", cells, " synthetic cells carry ", copied["labels"], " labels seen in fewer than ",
                          copied["below"], " real rows");
  return out;
}

std::string extremes_summary(const nlohmann::json& extremes) {
  if (!extremes.is_object() || extremes.value("k", int64_t{0}) <= 0) return "extremes: not protected (protect_extremes 0)";
  int64_t cells = 0;
  for (const auto& c : extremes["columns"]) cells += c["clipped"].get<int64_t>();
  const auto k = ordinal(extremes["k"].get<int64_t>());
  return msg("extremes: numbers kept between each column's ", k, " smallest and ", k, " largest real value (",
             extremes["columns"].size(), " columns; ", cells, " synthetic cells clipped)");
}

Table rows_meeting_rules(const Table& table, const SynthOptions& options) {
  std::vector<ColumnBounds> bounds;
  for (const auto& text : options.conditions) bounds.push_back(parse_condition(text, table));
  auto ok = check_bounds(bounds, table);
  for (const auto& text : options.constraints) {
    const auto pass = Constraint::parse(text, table).check(table);
    for (size_t i = 0; i < ok.size(); ++i) ok[i] &= pass[i];
  }
  std::vector<int64_t> rows;
  for (size_t i = 0; i < ok.size(); ++i) {
    if (ok[i]) rows.push_back(static_cast<int64_t>(i));
  }
  return take_rows(table, rows);
}

}  // namespace gf::apps
