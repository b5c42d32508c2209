// One report of a synthetic table against the real one, as JSON: what `eval table` prints and `synth` saves.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>

#include "genforge/data/table.h"

namespace gf::eval {

struct TableReportOptions {
  // Any of quality, detection, dcr, newrows, efficacy, pmse.
  std::set<std::string> metrics = {"quality", "detection", "dcr", "newrows", "efficacy", "pmse"};
  double tolerance = 0.01;  // new-row synthesis: relative numeric match tolerance
  std::string target;       // machine-learning efficacy: the column to predict (empty: the last column that is a
                            // number or a class of at most 50 labels)
  uint64_t seed = 0;        // detection folds, the random DCR baseline
};

// Top-level figures (quality_score, detection_score, dcr_*, new_row_synthesis, ml_efficacy_*, pmse*) and a
// "details" object (per-column shapes, pair trends, detection AUCs, the efficacy scores). `holdout` (may be null):
// real rows the generator never saw: DCR overfitting protection, and the test rows of machine-learning efficacy
// (without it the real table is split 70/30 and the note says the test rows were seen by the generator).
nlohmann::json table_report(const Table& real, const Table& synthetic, const Table* holdout,
                            const TableReportOptions& options = {});

}  // namespace gf::eval
