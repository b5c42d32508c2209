// Monitoring: is the data a model is asked about still like the data it was trained on? At training time the
// distribution of the model's per-item scores (log-likelihood per row, image, sequence, document or line; higher =
// more typical) on the validation data -- or the training data when there is none -- is kept in the model file as
// 201 quantiles (a ScoreProfile). New data's scores are compared with it: the shift of their mean in reference
// standard deviations, and a Kolmogorov-Smirnov test of the two distributions (asymptotic p-value with Stephens'
// small-sample correction; the reference counted as the items it was profiled on). `genforge drift` does this
// offline, `genforge serve` over a rolling window of what it scores.
//
//   auto model = gf::load_model("penguins-gmm.gf");                       // trained by `genforge train`
//   auto profile = gf::apps::stored_profile(*model);                      // nullopt for older files
//   auto scores = gf::apps::item_scores(*model, gf::data::load_source("new.csv", gf::DataKind::table));
//   auto report = gf::apps::drift_test(*profile, scores, {});            // report.drift, report.p_value
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/model.h"
#include "genforge/registry.h"

namespace gf::apps {

struct ScoreProfile {
  static constexpr int kQuantiles = 200;  // quantiles at 0, 0.5 %, 1 %, ..., 100 %
  std::vector<double> quantiles;          // kQuantiles + 1 values, non-decreasing
  int64_t items = 0;                      // how many items they summarise
  double mean = 0, sd = 0;
  std::string on;                         // what was profiled, e.g. "validation data (penguins.csv, 344 rows)"
  double cdf(double score) const;         // the reference distribution function, linear between quantiles
  double quantile(double p) const;        // its inverse, p in [0, 1]
  nlohmann::json to_json() const;
  static ScoreProfile from_json(const nlohmann::json& j);  // a malformed profile is ModelFileError
};

// The model's per-item scores of `source` (log-likelihood, its bound or estimate, or an autoencoder's negative
// reconstruction error; per line for language models, per sequence for sequence models given grouped rows). Models
// without a likelihood or score are NotSupported. [N] float64
torch::Tensor item_scores(const Model& model, const data::Source& source, const OptionOverrides& overrides = {});
// The profile of scores [N] (at least 2 finite values; NaN entries, rows without observed cells, are left out).
ScoreProfile profile_scores(const torch::Tensor& scores, const std::string& on);
// At most `max_items` items of `source` spread evenly over it (images, lines, documents, sentences); a table keeps
// its first rows (sequences stay whole). `max_items` >= 1.
data::Source spread_subset(const data::Source& source, int64_t max_items);

// The profile stored in the model's fit report (fit_report().extra["score_profile"]); nullopt when there is none.
std::optional<ScoreProfile> stored_profile(const Model& model);
// Profiles the model on at most `max_items` items of `source` and stores it in the model's fit report (so
// save_model writes it). Models without a likelihood or score are left unchanged; returns whether it stored one.
bool attach_score_profile(Model& model, const data::Source& source, const std::string& on, int64_t max_items = 2000);

struct DriftOptions {
  double alpha = 0.001;    // drift when the KS p-value is below alpha
  int64_t min_items = 30;  // fewer scored items: no verdict
  void validate() const;
};

struct DriftReport {
  int64_t items = 0;
  double mean = 0;            // of the new scores
  double reference_mean = 0, reference_sd = 0;
  double shift_sd = 0;        // (mean - reference_mean) / reference_sd
  double ks_statistic = 0;    // sup |F_new - F_reference|
  double p_value = 1;
  bool enough = false;        // items >= min_items
  bool drift = false;         // enough and p_value < alpha
  std::string summary() const;  // one line
  nlohmann::json to_json() const;
};
DriftReport drift_test(const ScoreProfile& reference, const torch::Tensor& scores, const DriftOptions& options = {});

// Two densities on one plot: the reference's (from its quantiles) and the histogram of the new scores, written as
// PNG (atomically).
void write_drift_histogram(const std::string& path, const ScoreProfile& reference, const torch::Tensor& scores,
                           const std::string& title);

// The rolling check of a server: the last `window` scores against the reference. Thread-safe.
class DriftMonitor {
 public:
  DriftMonitor(ScoreProfile reference, int64_t window = 500, DriftOptions options = {});
  void add(const torch::Tensor& scores);  // [N]; NaN entries are skipped
  DriftReport report() const;             // over the current window
  int64_t total_items() const;
  const ScoreProfile& reference() const { return reference_; }

 private:
  ScoreProfile reference_;
  int64_t window_;
  DriftOptions options_;
  mutable std::mutex mutex_;
  std::deque<double> recent_;
  int64_t total_ = 0;
};

}  // namespace gf::apps
