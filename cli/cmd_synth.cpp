#include <iostream>
#include <numeric>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/apps/synth.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "genforge/data/readers.h"
#include "genforge/eval/table_report.h"
#include "genforge/workflow.h"

namespace gf::cli {
namespace {

bool has_dp(const Model& m) { return m.options_json().contains("dp_epsilon"); }

// At most `rows` rows of `t`, drawn without replacement (all of them when it has no more).
Table at_most(const Table& t, int64_t rows, at::Generator& gen) {
  if (static_cast<int64_t>(t.n_rows()) <= rows) return t;
  auto perm = torch::randperm(static_cast<int64_t>(t.n_rows()), gen, torch::kLong).slice(0, 0, rows).contiguous();
  return take_rows(t, std::vector<int64_t>(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + rows));
}

std::string stem_of(const std::string& path) {
  const auto dot = path.rfind('.'), slash = path.rfind('/');
  return dot == std::string::npos || (slash != std::string::npos && dot < slash) ? path : path.substr(0, dot);
}

}  // namespace

int run_synth(int argc, char** argv) {
  CLI::App app("synthetic table: fit a synthesizer (or load one), sample with conditions and constraints, report "
               "utility, fidelity and privacy", "synth");
  app.allow_extras();
  std::string data, model_name = "copula", from, out, holdout_path, report_path, save, target;
  int64_t n = 0, eval_rows = 10000;
  std::vector<std::string> constraints, conditions;
  std::optional<double> dp_epsilon, dp_delta;
  std::optional<std::string> dp_bounds;
  std::optional<uint64_t> seed;
  double min_acceptance = 1e-3;
  int64_t protect_extremes = apps::SynthOptions().protect_extremes;
  bool no_report = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("--data", data, "the real table (.csv .tsv .json)")->required();
  app.add_option("--model", model_name, "synthesizer to fit: a registered table model (copula, gmm, ...)");
  app.add_option("--from", from, "use this fitted model (.gf) instead of fitting one");
  app.add_option("-n", n, "rows to synthesize (default: as many as the real table)");
  app.add_option("--out,-o", out, "CSV of the synthetic rows")->required();
  app.add_option("--holdout", holdout_path, "real rows the synthesizer must not see: DCR overfitting protection and "
                                            "the test rows of machine-learning efficacy");
  app.add_option("--condition", conditions, "col=value or \"col in [lo, hi]\" (repeatable): what every row has");
  app.add_option("--constraint", constraints, "rule every row meets (repeatable): \"x > 0\", \"a < b\", \"x in [0, "
                                              "9]\", \"c == 'label' or y >= 2\", \"fixed(a, b)\"");
  app.add_option("--dp-epsilon", dp_epsilon, "fit with differential privacy at this epsilon (copula)");
  app.add_option("--dp-delta", dp_delta, "delta of the differentially private fit (default 1e-5)");
  app.add_option("--dp-bounds", dp_bounds, "public ranges of numeric columns, \"age:0..120,income:0..1e6\" (the "
                                           "others are estimated privately; \"data\": min and max, not private)");
  app.add_option("--target", target, "column that machine-learning efficacy predicts (default: the last)");
  app.add_option("--report", report_path, "report page (.html; the figures also as .json beside it; default "
                                          "OUT_STEM.report.html)");
  app.add_flag("--no-report", no_report, "skip the evaluation (fastest)");
  app.add_option("--eval-rows", eval_rows, "evaluate on at most this many rows of each table (random, seeded)");
  app.add_option("--save", save, "also save the fitted synthesizer (.gf)");
  app.add_option("--protect-extremes", protect_extremes, "keep numbers within each column's K-th smallest and "
                                                        "largest real value (0: off, the default)");
  app.add_option("--min-acceptance", min_acceptance, "error when the rules accept fewer rows than this fraction");
  app.add_option("--seed", seed, "random seed of the sampling and the evaluation (default 0)");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  check_writable(out);
  if (!save.empty()) check_writable(save);
  const std::string report_html = report_path.empty() ? stem_of(out) + ".report.html" : report_path;
  const std::string report_json = stem_of(report_html) + ".json";

  const auto real = data::load_source(data, DataKind::table, source_options(table_flags));
  std::unique_ptr<Model> model;
  double fit_seconds = 0;
  if (!from.empty()) {
    GF_CHECK_AS(InvalidArgument, !dp_epsilon && !dp_delta && !dp_bounds && app.remaining().empty(),
                "fit a new synthesizer (--model NAME) to choose its options or privacy",
                "--from uses a fitted model as it is: its options and privacy were fixed when it was fitted");
    model = load_model(from);
    record_provenance_model(from, model->kind());
  } else {
    OptionOverrides overrides = option_flags(app.remaining(), "synth");
    const ModelInfo& info = model_info(model_name);
    if (dp_epsilon || dp_delta || dp_bounds) {
      GF_CHECK_AS(InvalidArgument, info.has_option("dp_epsilon"),
                  "models with a differentially private fit: " + join_names(registered_models_with(has_dp)),
                  "the ", model_name, " model has no differentially private fit");
      GF_CHECK_AS(InvalidArgument, dp_epsilon.has_value(), msg("give --dp-epsilon E with ",
                                                               dp_delta ? "--dp-delta" : "--dp-bounds"),
                  dp_delta ? "--dp-delta" : "--dp-bounds", " needs --dp-epsilon");
      GF_CHECK_AS(InvalidArgument, *dp_epsilon > 0, "give a positive epsilon, e.g. --dp-epsilon 1",
                  "--dp-epsilon must be > 0, got ", *dp_epsilon);
      apps::check_extremes_protection(true, protect_extremes, model_name);  // before the fit, not after it
      overrides.emplace_back("dp_epsilon", msg(*dp_epsilon));
      if (dp_delta) overrides.emplace_back("dp_delta", msg(*dp_delta));
      if (dp_bounds) overrides.emplace_back("dp_bounds", *dp_bounds);
    }
    // One seed for the whole run: the model's own (noise of a private fit, positions in categories) too.
    if (seed && info.has_option("seed")) overrides.emplace_back("seed", std::to_string(*seed));
    model = info.create(nlohmann::json::object(), overrides);
    FitContext ctx;
    ctx.progress = Progress::enabled();
    const auto report = apps::fit_synthesizer(*model, real, ctx);
    fit_seconds = report.seconds;
    std::cout << "fitted " << model->kind() << " on " << real.describe() << " in " << report.seconds << " s\n";
    if (report.extra.contains("privacy")) {
      for (const auto& line : apps::privacy_summary(report.extra["privacy"])) std::cout << line << "\n";
    }
    if (!save.empty()) save_model(*model, save);
  }

  apps::SynthOptions options;
  options.n = n > 0 ? n : static_cast<int64_t>(real.table.n_rows());
  options.conditions = conditions;
  options.constraints = constraints;
  options.seed = resolve_seed(seed);
  options.min_acceptance = min_acceptance;
  options.protect_extremes = protect_extremes;
  const auto s = apps::synthesize(*model, real.table, options);
  write_csv(out, s.rows);
  std::cout << "wrote " << s.rows.n_rows() << " rows to " << out << " (seed " << options.seed << "; " << s.drawn
            << " drawn, acceptance " << s.acceptance * 100 << "%)\n";
  if (!s.id_columns.empty()) std::cout << "regenerated ID columns: " << join_names(s.id_columns) << "\n";
  std::cout << apps::rare_label_summary(s.rare_labels) << "\n" << apps::extremes_summary(s.extremes) << "\n";
  if (no_report) return 0;

  auto gen = make_generator(options.seed);
  // Rows drawn under rules are compared with the real rows that meet the same rules (when there are enough), their
  // rare labels pooled as the model pooled them: the figures measure the model, not the protection.
  const auto& pipeline = pipeline_of(*model);
  Table reference = pipeline.with_rare_labels_pooled(real.table.select(s.rows.names()));
  std::string compared = "the whole real table";
  if (!conditions.empty() || !constraints.empty()) {
    const Table meeting = apps::rows_meeting_rules(reference, options);
    if (meeting.n_rows() >= 10) {
      reference = meeting;
      compared = msg("the ", meeting.n_rows(), " real rows that meet the conditions and constraints");
    } else {
      compared = msg("the whole real table (only ", meeting.n_rows(), " real rows meet the rules)");
    }
  }
  const auto evaluated = s.evaluated_columns();  // the ID columns left out
  const Table real_eval = at_most(reference.select(evaluated), eval_rows, gen);
  const Table synth_eval = at_most(s.rows.select(evaluated), eval_rows, gen);
  std::optional<Table> holdout;
  if (!holdout_path.empty()) {
    holdout = at_most(pipeline.with_rare_labels_pooled(load_table(holdout_path, table_flags).select(evaluated)),
                      eval_rows, gen);
  }
  eval::TableReportOptions ro;
  ro.target = target;
  ro.seed = options.seed;
  nlohmann::json report = eval::table_report(real_eval, synth_eval, holdout ? &*holdout : nullptr, ro);
  report["model"] = model->kind();
  if (!s.rare_labels["pooled"].empty()) compared += msg(", its rare labels read as ", data::kRareLabel);
  report["compared_with"] = compared;
  report["fit_seconds"] = fit_seconds;
  report["synthesis"] = s.to_json();
  if (model->fit_report().extra.contains("privacy")) report["privacy"] = model->fit_report().extra["privacy"];
  if (real.table.n_rows() > static_cast<size_t>(eval_rows) || s.rows.n_rows() > static_cast<size_t>(eval_rows)) {
    report["evaluated_rows"] = eval_rows;
  }
  add_provenance(report);
  write_file_atomic(report_json, [&](std::ostream& o) { o << report.dump(2) << "\n"; });
  apps::write_synth_html(report_html, real_eval, synth_eval, report);
  auto figure = [&](const char* key) {
    return report.contains(key) && report[key].is_number() ? msg(report[key].get<double>()) : std::string("-");
  };
  std::cout << "quality " << figure("quality_score") << ", detection " << figure("detection_score")
            << ", DCR baseline protection " << figure("dcr_baseline_protection") << ", new rows "
            << figure("new_row_synthesis") << ", ML efficacy " << figure("ml_efficacy_synthetic") << " (real "
            << figure("ml_efficacy_real") << "), pMSE ratio " << figure("pmse_ratio") << "\n";
  std::cout << "compared with " << compared << "; wrote " << report_html << " and " << report_json << "\n";
  return 0;
}

}  // namespace gf::cli
