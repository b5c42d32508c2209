#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/apps/anomaly.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/readers.h"
#include "genforge/workflow.h"

namespace gf::cli {
namespace {

std::string threshold_path_for(const std::string& out) {
  const auto dot = out.rfind('.');
  const auto slash = out.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? out.substr(0, dot) : out) + ".threshold.json";
}

}  // namespace

int run_anomaly(int argc, char** argv) {
  CLI::App app("anomaly scores (higher = more anomalous) and flags for data under a saved model", "anomaly");
  app.allow_extras();
  std::string model_path, data, out, calibrate, threshold_from, save_threshold, labels, maps, correction = "none";
  std::vector<std::string> normal_classes, calibrate_classes;
  double contamination = 0.05;
  int64_t limit = 0, maps_count = 16;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf) of a model with a likelihood or a score")->required();
  app.add_option("--data", data, "items to score (rows, images, sequences, lines)")->required();
  app.add_option("--out,-o", out, "CSV: item, anomaly_score, flag (+ raw_score, complexity_nats, is_outlier)");
  app.add_option("--contamination", contamination, "share of calibration items above the threshold")
      ->capture_default_str();
  app.add_option("--calibrate", calibrate, "reference data for the threshold (training or validation data; "
                                           "default: --data itself)");
  app.add_option("--calibrate-classes", calibrate_classes, "keep only these classes of the --calibrate images (the "
                                                           "normal ones)")
      ->delimiter(',');
  app.add_option("--correction", correction, "none | typicality | complexity (see docs/applications/anomaly.md)")
      ->capture_default_str();
  app.add_option("--threshold-from", threshold_from, "reuse a saved threshold (JSON) instead of calibrating");
  app.add_option("--save-threshold", save_threshold, "where to save the threshold (default: next to --out)");
  app.add_option("--labels", labels, "table column of known outliers (non-zero = outlier) to evaluate against");
  app.add_option("--normal-classes", normal_classes, "the normal classes of labelled images (or values of --labels)")
      ->delimiter(',');
  app.add_option("--maps", maps, "PNG: the most anomalous images next to their per-pixel anomaly maps");
  app.add_option("--maps-count", maps_count, "images in --maps")->capture_default_str();
  app.add_option("--limit", limit, "score only the first N items");
  app.add_flag("--json", json, "print the summary as JSON");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto overrides = option_flags(app.remaining(), "anomaly");
  if (!out.empty()) check_writable(out);
  if (!maps.empty()) check_writable(maps);
  GF_CHECK_AS(InvalidArgument, threshold_from.empty() || (calibrate.empty() && correction == "none"),
              "the saved threshold carries its own calibration and correction",
              "--threshold-from cannot be combined with --calibrate or --correction");
  GF_CHECK_AS(InvalidArgument, calibrate_classes.empty() || !calibrate.empty(), "give --calibrate DATA with it",
              "--calibrate-classes selects classes of the --calibrate data, and none is given");
  GF_CHECK_AS(InvalidArgument, maps_count >= 1, "give --maps-count N with N >= 1", "--maps-count must be >= 1, got ",
              maps_count);
  apps::AnomalyOptions options;
  options.correction = apps::anomaly_correction_from_string(correction);
  options.contamination = contamination;
  options.validate();

  auto opened = open_model(model_path, overrides);
  record_provenance_model(model_path, opened.model->kind());
  const Model& model = *opened.model;
  const DataKind kind = model.capabilities().data_kind;
  const auto source = data::load_source(data, kind, source_options(table_flags, limit));
  apps::AnomalyCalibration calibration;
  apps::AnomalyResult result;
  if (!threshold_from.empty()) {
    calibration = apps::AnomalyCalibration::load(threshold_from);
  } else if (calibrate.empty()) {  // the data calibrates itself: scored once
    result = apps::detect_anomalies_self_calibrated(model, source, options, opened.input_overrides);
    calibration = result.calibration;
  } else {
    auto reference_options = source_options(table_flags);
    reference_options.classes = calibrate_classes;
    const auto reference = data::load_source(calibrate, kind, reference_options);
    calibration = apps::calibrate_anomaly(model, reference, options, opened.input_overrides);
  }
  if (!result.score.defined()) result = apps::detect_anomalies(model, source, calibration, opened.input_overrides);
  std::vector<int> is_outlier;
  if (!labels.empty() || !normal_classes.empty()) is_outlier = apps::outlier_labels(source, labels, normal_classes);

  const Column names = item_names(model, source, opened.input_overrides);
  if (!out.empty()) write_csv(out, apps::anomaly_table(result, is_outlier, names));
  std::string threshold_file = save_threshold;
  if (threshold_file.empty() && threshold_from.empty() && !out.empty()) threshold_file = threshold_path_for(out);
  if (!threshold_file.empty()) calibration.save(threshold_file);
  if (!maps.empty()) {
    std::vector<int64_t> items;
    for (const auto& top : apps::most_anomalous(result, maps_count)) items.push_back(top.item);
    apps::write_anomaly_maps(maps, model, source, items, 4, opened.input_overrides);
  }

  const int64_t flagged = result.flag.sum().item<int64_t>();
  nlohmann::json summary = {{"items", result.score.numel()},
                            {"flagged", flagged},
                            {"evidence", calibration.evidence},
                            {"calibration", calibration.to_json()}};
  const auto top = apps::most_anomalous(result, 5, names);
  summary["most_anomalous"] = nlohmann::json::array();
  for (const auto& t : top) {
    nlohmann::json item = {{"item", t.item}, {"anomaly_score", t.score}};
    if (!t.name.empty()) item[names.name] = t.name;
    summary["most_anomalous"].push_back(item);
  }
  eval::DetectionReport report;
  int64_t unscored = 0;
  if (!is_outlier.empty()) {
    report = apps::evaluate_anomalies(result, is_outlier, &unscored);
    summary["evaluation"] = report.to_json();
    summary["evaluation"]["unscored_items"] = unscored;
  }
  if (json) {
    std::cout << summary.dump() << "\n";
    return 0;
  }
  std::cout << result.score.numel() << " items, " << flagged << " flagged: anomaly score = "
            << (calibration.correction == apps::AnomalyCorrection::none ? calibration.evidence
                                                                        : std::string(apps::to_string(calibration.correction)) +
                                                                              "-corrected " + calibration.evidence)
            << ", threshold " << calibration.threshold << " (" << calibration.contamination * 100
            << " % contamination of " << calibration.calibration_items << " items of '" << calibration.calibrated_on
            << "')\n";
  std::cout << "most anomalous:";
  for (size_t i = 0; i < top.size(); ++i) {
    std::cout << (i ? ";" : "") << " item " << top[i].item << (top[i].name.empty() ? "" : " (" + top[i].name + ")")
              << " " << top[i].score;
  }
  std::cout << "\n";
  if (!is_outlier.empty()) {
    std::cout << report.describe() << (unscored ? msg(" (", unscored, " items without a score left out)") : "") << "\n";
  }
  if (!out.empty()) std::cout << "wrote " << out << "\n";
  if (!threshold_file.empty()) std::cout << "wrote " << threshold_file << " (reuse with --threshold-from)\n";
  if (!maps.empty()) std::cout << "wrote " << maps << "\n";
  return 0;
}

}  // namespace gf::cli
