// Between tables and model matrices: numeric columns to a float64 tensor with NaN for missing cells, and back.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "genforge/data/table.h"

namespace gf {

// [N, D] float64, NaN where a cell is missing. Every column must be numeric (continuous or integer); otherwise
// a gf::DataError names the non-numeric columns and suggests --columns.
torch::Tensor numeric_matrix(const Table& table);
// The table's numeric columns (continuous and integer), in order.
std::vector<std::string> numeric_column_names(const Table& table);
// A table of continuous columns from an [N, D] tensor; NaN becomes missing.
Table table_from_matrix(const torch::Tensor& x, const std::vector<std::string>& names);

}  // namespace gf
