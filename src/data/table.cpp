#include "genforge/data/table.h"

#include <algorithm>

#include "genforge/core/error.h"

namespace gf {

const char* to_string(ColumnType type) {
  switch (type) {
    case ColumnType::continuous: return "continuous";
    case ColumnType::integer: return "integer";
    case ColumnType::categorical: return "categorical";
    case ColumnType::datetime: return "datetime";
  }
  return "?";
}

ColumnType column_type_from_string(const std::string& text) {
  if (text == "continuous" || text == "float" || text == "number") return ColumnType::continuous;
  if (text == "integer" || text == "int") return ColumnType::integer;
  if (text == "categorical" || text == "category" || text == "string") return ColumnType::categorical;
  if (text == "datetime" || text == "date") return ColumnType::datetime;
  throw InvalidArgument(msg("unknown column type '", text, "'"),
                        "use continuous, integer, categorical or datetime");
}

size_t Column::n_missing() const { return static_cast<size_t>(std::count(missing.begin(), missing.end(), 1)); }

void Table::add_column(Column column) {
  GF_CHECK(column.missing.size() == column.values.size(), "column '", column.name, "' has ", column.values.size(),
           " values but ", column.missing.size(), " missing flags");
  GF_CHECK_AS(DataError, !has_column(column.name), "rename one of the columns so every name is unique",
              source_.empty() ? std::string("table") : "'" + source_ + "'", ": duplicate column name '",
              column.name, "'");
  if (!columns_.empty()) {
    GF_CHECK(column.size() == n_rows(), "column '", column.name, "' has ", column.size(), " rows, the table has ",
             n_rows());
  }
  columns_.push_back(std::move(column));
}

bool Table::has_column(const std::string& name) const {
  return std::any_of(columns_.begin(), columns_.end(), [&](const Column& c) { return c.name == name; });
}

const Column& Table::column(const std::string& name) const {
  for (const auto& c : columns_) {
    if (c.name == name) return c;
  }
  std::string known;
  for (const auto& c : columns_) known += (known.empty() ? "'" : ", '") + c.name + "'";
  throw DataError(msg(source_.empty() ? std::string("table") : "'" + source_ + "'", " has no column '", name, "'"),
                  "its columns are: " + known);
}

std::vector<std::string> Table::names() const {
  std::vector<std::string> out;
  for (const auto& c : columns_) out.push_back(c.name);
  return out;
}

Table Table::select(const std::vector<std::string>& names) const {
  Table out(source_);
  for (const auto& n : names) out.add_column(column(n));
  return out;
}

}  // namespace gf
