#include "genforge/eval/detection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "genforge/core/error.h"
#include "genforge/eval/table.h"

namespace gf::eval {
namespace {

void check_inputs(const std::vector<int>& labels, const std::vector<double>& scores) {
  GF_CHECK_AS(InvalidArgument, labels.size() == scores.size(), "give one label per score", labels.size(),
              " labels but ", scores.size(), " scores");
  int64_t positives = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    GF_CHECK_AS(InvalidArgument, labels[i] == 0 || labels[i] == 1, "labels are 1 (outlier) or 0 (normal)",
                "label ", labels[i], " at position ", i);
    GF_CHECK_AS(InvalidArgument, std::isfinite(scores[i]), "score only items the model can score",
                "score ", scores[i], " at position ", i, " is not finite");
    positives += labels[i];
  }
  GF_CHECK_AS(InvalidArgument, positives > 0 && positives < static_cast<int64_t>(labels.size()),
              "give data with both normal items and outliers", "the labels hold ", positives, " outliers among ",
              labels.size(), " items: both classes are needed");
}

// numpy.percentile(values, q) with linear interpolation.
double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

}  // namespace

double average_precision(const std::vector<int>& labels, const std::vector<double>& scores) {
  check_inputs(labels, scores);
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  double total_pos = 0;
  for (int l : labels) total_pos += l;
  double tp = 0, fp = 0, previous_recall = 0, ap = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += labels[order[i]];
    fp += 1 - labels[order[i]];
    // A threshold is a distinct score: ties enter together.
    if (i + 1 < order.size() && scores[order[i + 1]] == scores[order[i]]) continue;
    const double recall = tp / total_pos, precision = tp / (tp + fp);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return ap;
}

double precision_at_n(const std::vector<int>& labels, const std::vector<double>& scores) {
  check_inputs(labels, scores);
  double outliers = 0;
  for (int l : labels) outliers += l;
  const double fraction = outliers / static_cast<double>(labels.size());
  const double threshold = percentile(scores, 100.0 * (1.0 - fraction));
  double predicted = 0, hits = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] > threshold) {
      predicted += 1;
      hits += labels[i];
    }
  }
  return predicted > 0 ? hits / predicted : 0.0;
}

nlohmann::json DetectionReport::to_json() const {
  return {{"n", n}, {"outliers", outliers}, {"roc_auc", roc_auc}, {"average_precision", average_precision},
          {"precision_at_n", precision_at_n}};
}

std::string DetectionReport::describe() const {
  char text[160];
  std::snprintf(text, sizeof text, "ROC-AUC %.4f, average precision %.4f, precision @ n %.4f (n = %lld outliers of %lld)",
                roc_auc, average_precision, precision_at_n, static_cast<long long>(outliers),
                static_cast<long long>(n));
  return text;
}

DetectionReport evaluate_detection(const std::vector<int>& labels, const std::vector<double>& scores) {
  check_inputs(labels, scores);
  DetectionReport r;
  r.n = static_cast<int64_t>(labels.size());
  for (int l : labels) r.outliers += l;
  r.roc_auc = roc_auc(labels, scores);
  r.average_precision = average_precision(labels, scores);
  r.precision_at_n = precision_at_n(labels, scores);
  return r;
}

}  // namespace gf::eval
