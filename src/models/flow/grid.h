// Internal: the grid of a table's discrete columns, which a flow dequantises (src/models/flow/flow.cpp).
#pragma once
#include <torch/types.h>

#include <utility>

#include "genforge/data/dataset.h"

namespace gf::flow {

// The grid of each discrete column of table rows (an integer column, or a categorical one's one-hot or ordinal
// features): its smallest value and the smallest gap between its distinct values (gaps under 1e-9 of the column's
// range are rounding; a column of one value gets step 1). A continuous density on such values grows without bound
// (training diverges), so the flow learns them dequantised. Both [D] float64; undefined when no column is discrete
// or the data carry no column kinds (a plain tensor).
std::pair<torch::Tensor, torch::Tensor> discrete_grid(const Dataset& data);

}  // namespace gf::flow
