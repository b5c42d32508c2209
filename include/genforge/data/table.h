// A typed table: named columns that are continuous, integer, categorical or datetime, each with a missing mask.
// Readers keep the file name so later errors can say where the data came from.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gf {

enum class ColumnType { continuous, integer, categorical, datetime };
const char* to_string(ColumnType type);
ColumnType column_type_from_string(const std::string& text);  // throws InvalidArgument

struct Column {
  std::string name;
  ColumnType type = ColumnType::continuous;
  // Numeric value of each row: the number (continuous, integer), seconds since 1970-01-01 UTC (datetime), or
  // the category code (categorical). Meaningless where missing[i] is set.
  std::vector<double> values;
  std::vector<std::string> categories;  // categorical only: code -> label
  std::vector<uint8_t> missing;         // 1 = missing
  // How the file wrote the values, so that written samples look like the data: continuous columns keep `decimals`
  // digits after the point (-1: as many as needed); datetimes keep their strftime `format` (empty: ISO 8601).
  int decimals = -1;
  std::string format;

  size_t size() const { return values.size(); }
  size_t n_missing() const;
  bool is_numeric() const { return type == ColumnType::continuous || type == ColumnType::integer; }
};

class Table {
 public:
  Table() = default;
  explicit Table(std::string source) : source_(std::move(source)) {}

  size_t n_rows() const { return columns_.empty() ? 0 : columns_.front().size(); }
  size_t n_cols() const { return columns_.size(); }
  const std::string& source() const { return source_; }

  // Adds a column; its length must match the others and its name must be new.
  void add_column(Column column);
  const std::vector<Column>& columns() const { return columns_; }
  const Column& column(const std::string& name) const;  // throws DataError listing the known names
  bool has_column(const std::string& name) const;
  std::vector<std::string> names() const;

  // The named columns in the given order (errors name unknown columns).
  Table select(const std::vector<std::string>& names) const;

 private:
  std::string source_;
  std::vector<Column> columns_;
};

// Columns that identify rows rather than describe them: categorical with a distinct value in every row, or
// integer with distinct values and "id" in the name (at least 20 rows either way). Synthesizers regenerate them.
std::vector<std::string> identifier_columns(const Table& table);

// A categorical column of `values` as given (one category per distinct value, in order of first appearance): names
// and labels beside numbers in a written table.
Column text_column(std::string name, const std::vector<std::string>& values);
// `column` inserted into a copy of `t` before its column `position` (same rows).
Table insert_column(const Table& t, size_t position, Column column);

// The rows of `t` at `rows` (repeats allowed: a bootstrap resample), in that order.
Table take_rows(const Table& t, const std::vector<int64_t>& rows);
// Appends the rows of `part` to `all` (columns found by name; categories matched by label, new ones added). An empty
// `all` (no columns) becomes `part`.
void append_rows(Table& all, const Table& part);

}  // namespace gf
