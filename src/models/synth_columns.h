// Internal: what the table synthesizers (copula, bayesnet) take from a Dataset: one column's name, its feature
// description, and its present values, with the errors they share.
#pragma once
#include <torch/types.h>

#include <cmath>
#include <string>
#include <vector>

#include "genforge/core/error.h"
#include "genforge/data/dataset.h"
#include "genforge/privacy/bounds.h"

namespace gf::synth {

struct ColumnView {
  std::string name;
  const TableFeature* feature = nullptr;  // null: a plain number
  std::vector<double> values;             // the present cells
  bool categorical() const { return feature && feature->type == ColumnType::categorical; }
};

// Column j of x [N, D] (contiguous float64). A one-hot column, a column without values and a category column with
// a single level and no missing cell are DataErrors naming the column.
inline ColumnView column_view(const Dataset& train, const torch::Tensor& x, int64_t j, const std::string& model) {
  const int64_t n = x.size(0), d = x.size(1);
  ColumnView c;
  c.name = j < static_cast<int64_t>(train.columns.size()) ? train.columns[static_cast<size_t>(j)] : "x" + std::to_string(j);
  c.feature = train.features.empty() ? nullptr : &train.features[static_cast<size_t>(j)];
  GF_CHECK_AS(DataError, !c.feature || c.feature->encoding != "onehot",
              "leave categorical at its default for the " + model + " (ordinal codes), not onehot", "column '", c.name,
              "' is one-hot encoded; the ", model, " models a category column as a whole");
  const double* px = x.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isnan(px[i * d + j])) c.values.push_back(px[i * d + j]);
  }
  GF_CHECK_AS(DataError, !c.values.empty(), "leave the column out (--columns) or give it values", "column '", c.name,
              "' has no values: every cell is missing");
  // One value and missing cells is a flag (set or not: monarchs' "commonwealth"), learnt through its missing rate.
  GF_CHECK_AS(DataError, !c.categorical() || c.feature->n_categories >= 2 || static_cast<int64_t>(c.values.size()) < n,
              "a column with one value carries nothing to learn: leave it out (--columns)", "categorical column '",
              c.name, "' has a single level");
  return c;
}

// A private fit's ranges of the numeric columns among `views` (privacy::plan_ranges: declared, private at `epsilon`
// in all, or from the data).
inline privacy::RangePlan numeric_ranges(const std::vector<ColumnView>& views, const std::string& declared,
                                         double epsilon, at::Generator& gen) {
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
  for (const auto& view : views) {
    if (!view.categorical()) names.push_back(view.name), values.push_back(view.values);
  }
  return privacy::plan_ranges(declared, names, values, epsilon, gen);
}

}  // namespace gf::synth
