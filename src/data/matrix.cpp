#include "genforge/data/matrix.h"

#include <cmath>

#include "genforge/core/error.h"

namespace gf {

std::vector<std::string> numeric_column_names(const Table& table) {
  std::vector<std::string> out;
  for (const auto& c : table.columns()) {
    if (c.is_numeric()) out.push_back(c.name);
  }
  return out;
}

torch::Tensor numeric_matrix(const Table& table) {
  std::string bad;
  for (const auto& c : table.columns()) {
    if (!c.is_numeric()) bad += (bad.empty() ? "'" : ", '") + c.name + "' (" + to_string(c.type) + ")";
  }
  if (!bad.empty()) {
    std::string numeric;
    for (const auto& n : numeric_column_names(table)) numeric += (numeric.empty() ? "" : ",") + n;
    if (numeric.find_first_of(" ()") != std::string::npos) numeric = "'" + numeric + "'";
    throw DataError(msg("'", table.source(), "' has non-numeric columns this model cannot use: ", bad),
                    numeric.empty() ? std::string("give a table with numeric columns")
                                    : "choose numeric columns with --columns " + numeric);
  }
  GF_CHECK_AS(DataError, table.n_cols() > 0, "give a table with at least one numeric column", "'", table.source(),
              "' has no columns");
  const int64_t n = static_cast<int64_t>(table.n_rows()), d = static_cast<int64_t>(table.n_cols());
  auto x = torch::empty({n, d}, torch::kFloat64);  // [N, D]
  auto acc = x.accessor<double, 2>();
  for (int64_t j = 0; j < d; ++j) {
    const Column& c = table.columns()[static_cast<size_t>(j)];
    for (int64_t i = 0; i < n; ++i) acc[i][j] = c.missing[static_cast<size_t>(i)] ? NAN : c.values[static_cast<size_t>(i)];
  }
  return x;
}

Table table_from_matrix(const torch::Tensor& x_in, const std::vector<std::string>& names) {
  auto x = x_in.to(torch::kCPU, torch::kFloat64).contiguous();
  GF_CHECK(x.dim() == 2 && x.size(1) == static_cast<int64_t>(names.size()), "matrix of shape ", x.sizes(),
           " does not match ", names.size(), " column names");
  Table table;
  auto acc = x.accessor<double, 2>();
  for (int64_t j = 0; j < x.size(1); ++j) {
    Column c;
    c.name = names[static_cast<size_t>(j)];
    c.type = ColumnType::continuous;
    c.values.resize(static_cast<size_t>(x.size(0)));
    c.missing.resize(static_cast<size_t>(x.size(0)));
    for (int64_t i = 0; i < x.size(0); ++i) {
      double v = acc[i][j];
      c.missing[static_cast<size_t>(i)] = std::isnan(v) ? 1 : 0;
      c.values[static_cast<size_t>(i)] = std::isnan(v) ? 0.0 : v;
    }
    table.add_column(std::move(c));
  }
  return table;
}

}  // namespace gf
