// How well predicted classes match true ones, as scikit-learn's classification_report and confusion_matrix report
// it: accuracy, per-class precision / recall / F1 / support, their macro averages, balanced accuracy and the
// confusion matrix. Used by `genforge score` on models that classify (a fine-tuned DBN) and by the table utility
// check; `--confusion FILE.png` draws the matrix (viz/plot.h).
//
//   auto r = gf::eval::classification_report(predicted, labels);   // [N] int64 each
//   r.macro_f1; r.confusion;                                        // [K, K]: rows true, columns predicted
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gf::eval {

struct ClassScores {
  int64_t label = 0;  // the class index
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;  // true examples of the class
};

struct ClassificationReport {
  int64_t n = 0;
  double accuracy = 0;
  // Macro averages over the classes that occur in the true or the predicted labels (scikit-learn's default); a
  // class never predicted has precision 0, one never true recall 0 (scikit-learn's zero_division=0).
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double balanced_accuracy = 0;  // mean recall over the classes that occur in the true labels
  std::vector<ClassScores> per_class;
  torch::Tensor confusion;  // [K, K] int64, K = the largest index + 1 (or n_classes): rows true, columns predicted
  std::vector<std::vector<int64_t>> confusion_rows() const;  // the matrix as plain rows
  // `names[k]` names class k where given.
  nlohmann::json to_json(const std::vector<std::string>& names = {}) const;
};

// predicted, truth: [N] class indices >= 0 (any integer type). n_classes 0: the largest index + 1.
ClassificationReport classification_report(const torch::Tensor& predicted, const torch::Tensor& truth,
                                           int64_t n_classes = 0);

}  // namespace gf::eval
