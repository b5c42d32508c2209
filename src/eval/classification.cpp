#include "genforge/eval/classification.h"

#include <algorithm>

#include "genforge/core/error.h"

namespace gf::eval {

ClassificationReport classification_report(const torch::Tensor& predicted, const torch::Tensor& truth,
                                           int64_t n_classes) {
  GF_CHECK(predicted.defined() && truth.defined() && predicted.numel() == truth.numel() && truth.numel() > 0,
           "classification needs one prediction per label, got ", predicted.defined() ? predicted.numel() : 0,
           " predictions and ", truth.defined() ? truth.numel() : 0, " labels");
  const auto p = predicted.reshape({-1}).to(torch::kCPU, torch::kLong);
  const auto t = truth.reshape({-1}).to(torch::kCPU, torch::kLong);
  GF_CHECK(p.min().item<int64_t>() >= 0 && t.min().item<int64_t>() >= 0, "class indices must be >= 0");
  const int64_t k = std::max({n_classes, p.max().item<int64_t>() + 1, t.max().item<int64_t>() + 1});
  ClassificationReport r;
  r.n = t.numel();
  r.confusion = torch::bincount(t * k + p, {}, k * k).reshape({k, k});  // [K, K]
  const auto diagonal = r.confusion.diagonal().to(torch::kFloat64);
  const auto true_counts = r.confusion.sum(1).to(torch::kFloat64), predicted_counts = r.confusion.sum(0).to(torch::kFloat64);
  r.accuracy = diagonal.sum().item<double>() / static_cast<double>(r.n);
  int64_t present = 0, truly_present = 0;
  for (int64_t c = 0; c < k; ++c) {
    const double tp = diagonal[c].item<double>(), support = true_counts[c].item<double>(),
                 called = predicted_counts[c].item<double>();
    if (support == 0 && called == 0) continue;  // absent on both sides: not averaged (scikit-learn's labels)
    ClassScores s;
    s.label = c;
    s.support = static_cast<int64_t>(support);
    s.precision = called > 0 ? tp / called : 0.0;
    s.recall = support > 0 ? tp / support : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    r.macro_precision += s.precision;
    r.macro_recall += s.recall;
    r.macro_f1 += s.f1;
    ++present;
    if (support > 0) {
      r.balanced_accuracy += s.recall;
      ++truly_present;
    }
    r.per_class.push_back(s);
  }
  r.macro_precision /= static_cast<double>(present);
  r.macro_recall /= static_cast<double>(present);
  r.macro_f1 /= static_cast<double>(present);
  r.balanced_accuracy /= static_cast<double>(std::max<int64_t>(truly_present, 1));
  return r;
}

nlohmann::json ClassificationReport::to_json(const std::vector<std::string>& names) const {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& s : per_class) {
    nlohmann::json c = {{"class", s.label < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(s.label)]
                                                                              : std::to_string(s.label)},
                        {"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
    classes.push_back(c);
  }
  return {{"n", n}, {"accuracy", accuracy}, {"balanced_accuracy", balanced_accuracy},
          {"macro_precision", macro_precision}, {"macro_recall", macro_recall}, {"macro_f1", macro_f1},
          {"per_class", classes}, {"confusion", confusion_rows()}};
}

std::vector<std::vector<int64_t>> ClassificationReport::confusion_rows() const {
  std::vector<std::vector<int64_t>> rows;
  const auto matrix = confusion.contiguous();
  for (int64_t i = 0; i < matrix.size(0); ++i) {
    const int64_t* row = matrix.data_ptr<int64_t>() + i * matrix.size(1);
    rows.emplace_back(row, row + matrix.size(1));
  }
  return rows;
}

}  // namespace gf::eval
