// Synthetic tables: rows drawn from any fitted table model, meeting conditions (`species=Adelie`,
// `body_mass_g in [3000,4000]`) and constraints (apps/constraints.h), with ID-like columns regenerated rather than
// learned, and a report page (utility, fidelity and privacy figures).
//   - Conditions and single-column bounds go to the model's exact conditional sampler where it has one
//     (BoxConditionalSampler: copula); fixed values to ConditionalSampler models (gmm, ...); the rest of the rules
//     are met by rejection, and the acceptance rate is reported. A rule set that accepts fewer than
//     `min_acceptance` of the rows drawn is an error that says so.
//
//   auto model = gf::create_model("copula");
//   auto real = gf::data::load_source("penguins.json", gf::DataKind::table);
//   gf::apps::fit_synthesizer(*model, real);
//   gf::apps::SynthOptions o;
//   o.n = 500;
//   o.conditions = {"Species=Adelie"};
//   o.constraints = {"Flipper Length (mm) > 150"};
//   auto s = gf::apps::synthesize(*model, real.table, o);   // s.rows
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/data/table.h"
#include "genforge/model.h"

namespace gf::apps {

// Fits `model` on the table's columns except the identifiers (`identifier_columns`), unless the model's `columns`
// option names its columns already; with `rare_labels` at auto, labels seen in fewer than kSynthesizerRareLabels rows
// are pooled (data/pipeline.h), so that no sample carries a label that points at a few real rows.
FitReport fit_synthesizer(Model& model, const data::Source& real, const FitContext& ctx = {});

struct SynthOptions {
  int64_t n = 1000;
  std::vector<std::string> conditions;
  std::vector<std::string> constraints;
  uint64_t seed = 0;
  double min_acceptance = 1e-3;  // fewer accepted rows than this fraction of those drawn: an error
  // Numbers, integers and dates clipped to each column's k-th smallest and largest real value, so that no synthetic
  // cell reaches past a real extreme (the richest person's income: MOSTLY AI's value protection); 0: off (the
  // default: it costs quality, 0.912 -> 0.883 on penguins at k = 5). Columns with fewer than 2k values are left as
  // they are. A differentially private fit refuses it (real quantiles are not private; its ranges bound columns).
  int64_t protect_extremes = 0;
  void validate() const;
};

struct Synthesis {
  Table rows;                           // n rows: the model's columns and the regenerated ID columns, in the
                                        // real table's order
  int64_t drawn = 0;                    // rows the model generated
  double acceptance = 1;                // rows kept / rows drawn
  std::vector<std::string> exact;       // rules the model's sampler met exactly
  std::vector<std::string> rejection;   // rules met by rejecting rows
  std::vector<std::string> id_columns;  // regenerated
  std::vector<std::string> rare_columns;  // every label rare (seen in fewer than rare_labels rows): left out of the
                                          // model and written as _RARE_ (missing at the real rate; in no
                                          // cell after a differentially private fit, as that rate is not private)
  nlohmann::json extremes;              // {k, columns: {column: {lo, hi, clipped}}}: protect_extremes's bounds and
                                        // the synthetic cells clipped to them
  nlohmann::json rare_labels;           // {min_rows, label, pooled: {column: {labels, rows}}}: the model's pooled
                                        // rare labels (data::PipelineOptions::rare_labels); copied: {below, labels,
                                        // cells}: real labels seen in fewer than `below` rows found in `rows`
  nlohmann::json to_json() const;       // the figures above, without the rows
  // The columns to evaluate: all but the regenerated ID columns and the rare columns, whose new values say nothing of
  // the model (SDMetrics leaves columns of sdtype id out of its reports likewise).
  std::vector<std::string> evaluated_columns() const;
};

// One line on Synthesis::rare_labels: what was pooled, and how many synthetic cells carry rare real labels.
std::string rare_label_summary(const nlohmann::json& rare_labels);
// One line on Synthesis::extremes.
std::string extremes_summary(const nlohmann::json& extremes);
// One line on the numeric ranges of a private fit (its fit report's "privacy" object), empty when it has none.
std::string private_ranges_summary(const nlohmann::json& privacy);
// The privacy of a fit in lines a person reads: "differential privacy: ε 1, δ 1e-05", the ranges, what is treated as
// public; {"fitted without differential privacy"} when `privacy` is null.
std::vector<std::string> privacy_summary(const nlohmann::json& privacy);

// protect_extremes > 0 with a differentially private fit is InvalidArgument (real quantiles are not private):
// synthesize checks it, and a program can before a long private fit.
void check_extremes_protection(bool private_fit, int64_t protect_extremes, const std::string& kind);

// `real` is the table the model was fitted on: its columns, fixed combinations and ID formats.
Synthesis synthesize(const Model& model, const Table& real, const SynthOptions& options);

// The rows of `table` that meet the options' conditions and constraints (what synthetic rows under those rules
// should be compared with). Rules are parsed against `table`.
Table rows_meeting_rules(const Table& table, const SynthOptions& options);

// The report page: figures of `report` (eval::table_report's JSON, with "synthesis" and "privacy" objects when
// present), each column's distribution real vs synthetic, and the pair-trend heat map. Written atomically.
void write_synth_html(const std::string& path, const Table& real, const Table& synthetic, const nlohmann::json& report);

}  // namespace gf::apps
