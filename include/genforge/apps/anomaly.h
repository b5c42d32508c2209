// Anomaly detection with any model that scores data: per item (row, image, sequence, document or line) an anomaly
// score, higher = more anomalous (PyOD's convention): minus the log-likelihood (or its bound / estimate), or the
// reconstruction error of an autoencoder. A threshold calibrated on reference scores (a contamination quantile, as
// PyOD's detectors set theirs) flags items; it is saved as JSON for reuse on new data.
//
// Two corrections from the literature for likelihood models that rate simpler out-of-distribution data as more
// likely (Nalisnick et al. 2019, "Do deep generative models know what they don't know?"):
//   typicality  |-log p(x) - H|, H = the mean of -log p on the calibration data (an estimate of the entropy; the
//               per-example form of Nalisnick et al. 2019b's typicality test)
//   complexity  -log p(x) - L(x), L(x) = the length of x under a generic compressor in nats (PNG for images, deflate
//               for text lines; Serra et al. 2020, "Input complexity and out-of-distribution detection")
//
//   auto model = gf::load_model("fmnist-vae.gf");
//   auto calibration = gf::apps::calibrate_anomaly(*model, train_source, {});  // 5 % contamination
//   auto result = gf::apps::detect_anomalies(*model, test_source, calibration);
//   // result.score [N], result.flag [N]; gf::apps::anomaly_table(result) is what `genforge anomaly` writes.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/eval/detection.h"
#include "genforge/model.h"
#include "genforge/registry.h"

namespace gf::apps {

enum class AnomalyCorrection { none, typicality, complexity };
const char* to_string(AnomalyCorrection c);
AnomalyCorrection anomaly_correction_from_string(const std::string& text);  // none | typicality | complexity

struct AnomalyOptions {
  AnomalyCorrection correction = AnomalyCorrection::none;
  double contamination = 0.05;  // share of the calibration items above the threshold, in (0, 0.5]
  void validate() const;
};

// What turns raw evidence into flags, fitted on calibration data; saved and loaded as JSON.
struct AnomalyCalibration {
  std::string model_kind;
  std::string evidence;          // "negative log-likelihood (nats)", "reconstruction error", ...
  AnomalyCorrection correction = AnomalyCorrection::none;
  double contamination = 0.05;
  double typical_nll = 0;        // typicality: the mean raw score on the calibration data
  double threshold = 0;          // items scoring above it are flagged
  int64_t calibration_items = 0;
  std::string calibrated_on;     // the data's spec, for the record

  nlohmann::json to_json() const;
  static AnomalyCalibration from_json(const nlohmann::json& j, const std::string& source = "");
  void save(const std::string& path) const;  // atomically
  static AnomalyCalibration load(const std::string& path);
};

struct AnomalyResult {
  torch::Tensor raw;         // [N] minus the model's per-item score
  torch::Tensor complexity;  // [N] nats (complexity correction), else undefined
  torch::Tensor score;       // [N] after the correction: higher = more anomalous
  torch::Tensor flag;        // [N] int64, 1 where score > threshold
  AnomalyCalibration calibration;
};

// The raw evidence: minus the per-item score of `score_source` (per example, per sequence for sequence models given
// grouped rows, per line for language models). Models without a likelihood or score are NotSupported, naming the
// models that have one. [N]
torch::Tensor raw_anomaly_scores(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});
// L(x) in nats per item: PNG length of each image (8-bit pixels), deflate length of each text line. Tables and
// other data are NotSupported. [N]
torch::Tensor input_complexity(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});

// Calibrates on `reference` (training or validation data): the typical score and the threshold at the
// (1 - contamination) quantile of its corrected scores (numpy's linear percentile, as PyOD).
// What the anomaly score is for this model, in words: "negative log-likelihood, nats" (with "upper bound" or
// "estimated" as the likelihood is), or, for a model whose score is no likelihood, what it is ("the reconstruction
// error"; "minus the score: ..." from Capabilities::score_meaning).
std::string anomaly_evidence(const Model& model);

AnomalyCalibration calibrate_anomaly(const Model& model, const data::Source& reference, const AnomalyOptions& options,
                                     const OptionOverrides& overrides = {});
// Scores and flags `data` with a calibration (its correction and threshold).
AnomalyResult detect_anomalies(const Model& model, const data::Source& data, const AnomalyCalibration& calibration,
                               const OptionOverrides& overrides = {});
// Both on the same data, scoring it once (PyOD's fit + labels_ on the training data): the threshold is the
// contamination quantile of the data's own scores.
AnomalyResult detect_anomalies_self_calibrated(const Model& model, const data::Source& data,
                                               const AnomalyOptions& options, const OptionOverrides& overrides = {});
// The per-item table `genforge anomaly --out` writes: item, the items' names (gf::item_names: `file`, a sequence
// column) when given, anomaly_score, flag (+ raw_score and complexity with a correction; + is_outlier with known
// labels).
// ROC-AUC, average precision and precision @ n of the scores against known outliers (is_outlier [N], non-zero =
// outlier), the items without a score (NaN: nothing the model could take) left out; `unscored` gets their count.
eval::DetectionReport evaluate_anomalies(const AnomalyResult& result, const std::vector<int>& is_outlier,
                                         int64_t* unscored = nullptr);
Table anomaly_table(const AnomalyResult& result, const std::vector<int>& is_outlier = {}, const Column& names = {});

// The `k` items with the highest anomaly scores, highest first (ties: the earlier item first), with their names when
// `names` (gf::item_names) names every item. What `genforge anomaly` prints and draws maps of.
struct AnomalousItem {
  int64_t item = 0;
  std::string name;
  double score = 0;
};
std::vector<AnomalousItem> most_anomalous(const AnomalyResult& result, int64_t k, const Column& names = {});

// Known outliers of `data` for evaluation: with `label_column`, a table column (numbers: non-zero = outlier;
// categories: any value not in `normal_classes`); without it, image class labels (any class not in
// `normal_classes`, given by name or index). Missing labels or classes are InvalidArgument. [N] of 0/1
std::vector<int> outlier_labels(const data::Source& data, const std::string& label_column,
                                const std::vector<std::string>& normal_classes);

// Per-pixel anomaly maps of images (models with DimensionScorer; others NotSupported naming those that have it),
// summed over channels. [N, H, W]
torch::Tensor anomaly_maps(const Model& model, const data::Source& data, const OptionOverrides& overrides = {});
// Writes a PNG grid of `items` (indices into data): each image next to its heat map (black = typical, yellow = the
// 99th percentile of the shown maps' values or more), `columns` pairs per row; images under 84 pixels are enlarged.
void write_anomaly_maps(const std::string& path, const Model& model, const data::Source& data,
                        const std::vector<int64_t>& items, int64_t columns = 4, const OptionOverrides& overrides = {});

}  // namespace gf::apps
