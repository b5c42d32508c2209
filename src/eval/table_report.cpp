#include "genforge/eval/table_report.h"

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/eval/table.h"

namespace gf::eval {
namespace {

// The target of machine-learning efficacy when none is given: the last column that is a number or a class of at
// most 50 labels (a county of 1,929 would ask a classifier for 1,929 classes), else the last column.
std::string default_efficacy_target(const Table& real) {
  const auto& columns = real.columns();
  for (auto c = columns.rbegin(); c != columns.rend(); ++c) {
    if (c->type != ColumnType::categorical || c->categories.size() <= 50) return c->name;
  }
  return columns.back().name;
}

}  // namespace

nlohmann::json table_report(const Table& real, const Table& synthetic, const Table* holdout,
                            const TableReportOptions& options) {
  const auto& wanted = options.metrics;
  nlohmann::json out = {{"real_rows", real.n_rows()}, {"synthetic_rows", synthetic.n_rows()}, {"columns", real.n_cols()}};
  nlohmann::json details = nlohmann::json::object();
  auto gen = make_generator(options.seed);
  if (wanted.count("quality")) {
    const auto q = quality_report(real, synthetic);
    out["quality_score"] = q.score;
    out["column_shapes"] = q.column_shapes;
    out["column_pair_trends"] = q.column_pair_trends;
    for (const auto& s : q.shapes) {
      details["column_shapes"].push_back({{"column", s.column}, {"metric", s.metric}, {"score", s.score}, {"error", s.error}});
    }
    for (const auto& p : q.pairs) {
      details["column_pair_trends"].push_back({{"column_1", p.column_1}, {"column_2", p.column_2}, {"metric", p.metric},
                                               {"score", p.score}, {"real_correlation", p.real_correlation},
                                               {"synthetic_correlation", p.synthetic_correlation},
                                               {"real_association", p.real_association},
                                               {"meets_threshold", p.meets_threshold}});
    }
  }
  if (wanted.count("detection")) {
    const auto d = logistic_detection(real, synthetic, gen);
    out["detection_score"] = d.score;
    details["detection_auc"] = d.auc;
    double mean_auc = 0;
    for (double a : d.auc) mean_auc += a / static_cast<double>(d.auc.size());
    if (mean_auc < 0.4) {
      // Below chance: columns of nearly unique labels (names, titles) whose real rows' labels the classifier saw
      // only on synthetic rows in training. The score's 1 then says little.
      details["detection_note"] = msg("the classifier's mean AUC is ", mean_auc, ", well below 0.5: typical of "
                                      "columns of nearly unique labels; the detection score says little here");
      log::warn("detection: " + details["detection_note"].get<std::string>());
    }
    if (!d.pooled_columns.empty()) details["detection_pooled_columns"] = d.pooled_columns;
  }
  if (wanted.count("dcr")) {
    const auto b = dcr_baseline_protection(real, synthetic, gen);
    out["dcr_baseline_protection"] = b.score;
    out["dcr_median_synthetic"] = b.median_synthetic;
    out["dcr_median_random"] = b.median_random;
    if (holdout) {
      const auto o = dcr_overfitting_protection(real, synthetic, *holdout);
      out["dcr_overfitting_protection"] = o.score;
      out["dcr_closer_to_training"] = o.closer_to_training;
    }
  }
  if (wanted.count("newrows")) {
    const auto r = new_row_synthesis(real, synthetic, options.tolerance);
    out["new_row_synthesis"] = r.score;
    out["new_rows"] = r.new_rows;
  }
  if (wanted.count("efficacy")) {
    const std::string target = options.target.empty() ? default_efficacy_target(real) : options.target;
    Table train = real, test;
    std::string note = "test rows: the holdout, never seen by the generator";
    if (holdout) {
      test = *holdout;
    } else {  // a seeded 70/30 split of the real rows; the generator saw the test rows (the figure flatters it)
      const auto n = static_cast<int64_t>(real.n_rows());
      auto perm = torch::randperm(n, gen, torch::kLong).contiguous();
      const int64_t* p = perm.data_ptr<int64_t>();
      const auto cut = static_cast<int64_t>(0.7 * static_cast<double>(n));
      std::vector<int64_t> a(p, p + cut), b(p + cut, p + n);
      train = take_rows(real, a), test = take_rows(real, b);
      note = "test rows: 30% of the real table, which the generator saw (give a holdout for an unbiased figure)";
    }
    MlEfficacy e;
    bool measured = true;
    try {
      e = ml_efficacy(train, synthetic, test, target);
    } catch (const DataError& unsuitable) {
      if (!options.target.empty()) throw;  // a target the caller chose: the caller's error
      // The default target (the last column) does not suit the task, e.g. a name per row: the other figures stand.
      measured = false;
      details["ml_efficacy"] = {{"target", target}, {"skipped", true},
                                {"note", std::string("not measured: ") + unsuitable.what()}};
    }
    if (measured) {
      out["ml_efficacy_target"] = e.target;
      out["ml_efficacy_real"] = e.real_score;
      out["ml_efficacy_synthetic"] = e.synthetic_score;
      details["ml_efficacy"] = {{"target", e.target}, {"task", e.task},
                                {"metric", e.task == "classification" ? "accuracy" : "R2"},
                                {"real", e.real_score}, {"synthetic", e.synthetic_score}, {"ratio", e.ratio()},
                                {"test_rows", test.n_rows()}, {"note", note}};
      if (e.task == "classification") {
        details["ml_efficacy"]["real_macro_f1"] = e.real_macro_f1;
        details["ml_efficacy"]["synthetic_macro_f1"] = e.synthetic_macro_f1;
      }
    }
  }
  if (wanted.count("pmse")) {
    const auto p = propensity_mse(real, synthetic);
    out["pmse"] = p.pmse;
    out["pmse_ratio"] = p.ratio;
    details["pmse"] = {{"pmse", p.pmse}, {"expected", p.expected}, {"ratio", p.ratio}, {"parameters", p.parameters}};
  }
  out["details"] = details;
  return out;
}

}  // namespace gf::eval
