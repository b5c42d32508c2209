// How well scores rank known outliers: the figures PyOD's evaluate_print and scikit-learn report for a detector.
//
//   auto r = gf::eval::evaluate_detection(is_outlier, scores);  // higher score = more anomalous
//   std::cout << r.describe();  // "ROC-AUC 0.9312, average precision 0.8011, precision @ n 0.7400 (n = 50)"
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gf::eval {

// sklearn.metrics.average_precision_score: sum over thresholds of (R_k - R_{k-1}) P_k, tied scores forming one
// threshold. labels 1 = outlier (positive).
double average_precision(const std::vector<int>& labels, const std::vector<double>& scores);
// PyOD's precision_n_scores: the share of outliers among the n highest scores, n = the number of outliers (ties at
// the cut broken as numpy's argsort of the scores, stable, does).
double precision_at_n(const std::vector<int>& labels, const std::vector<double>& scores);

struct DetectionReport {
  int64_t n = 0, outliers = 0;
  double roc_auc = 0, average_precision = 0, precision_at_n = 0;
  nlohmann::json to_json() const;
  std::string describe() const;
};
// Both classes must be present (else InvalidArgument). Non-finite scores are InvalidArgument.
DetectionReport evaluate_detection(const std::vector<int>& labels, const std::vector<double>& scores);

}  // namespace gf::eval
