#include "genforge/data/table.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "genforge/core/error.h"

namespace gf {
namespace {

constexpr size_t kMinIdentifierRows = 20;

bool has_id_name(const std::string& name) {
  std::string l = name;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return l == "id" || (l.size() > 2 && (l.substr(l.size() - 2) == "id" || l.substr(0, 3) == "id_" || l.find("_id") != std::string::npos));
}

bool all_distinct(const Column& c) {
  std::set<double> seen;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c.missing[i] || !seen.insert(c.values[i]).second) return false;
  }
  return true;
}

}  // namespace


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

Column text_column(std::string name, const std::vector<std::string>& values) {
  Column c{std::move(name)};
  c.type = ColumnType::categorical;
  std::map<std::string, size_t> code;
  for (const auto& v : values) {
    const auto [it, added] = code.emplace(v, c.categories.size());
    if (added) c.categories.push_back(v);
    c.values.push_back(static_cast<double>(it->second));
  }
  c.missing.assign(values.size(), 0);
  return c;
}

Table insert_column(const Table& t, size_t position, Column column) {
  GF_CHECK(position <= t.n_cols(), "column position ", position, " is past the table's ", t.n_cols(), " columns");
  Table out(t.source());
  for (size_t k = 0; k <= t.n_cols(); ++k) {
    if (k == position) out.add_column(std::move(column));
    if (k < t.n_cols()) out.add_column(t.columns()[k]);
  }
  return out;
}

Table take_rows(const Table& t, const std::vector<int64_t>& rows) {
  Table out(t.source());
  for (const Column& original : t.columns()) {
    Column c = original;
    c.values.clear();
    c.missing.clear();
    for (int64_t r : rows) {
      GF_CHECK(r >= 0 && static_cast<size_t>(r) < original.size(), "row ", r, " is outside the table's ",
               original.size(), " rows");
      c.values.push_back(original.values[static_cast<size_t>(r)]);
      c.missing.push_back(original.missing[static_cast<size_t>(r)]);
    }
    out.add_column(std::move(c));
  }
  return out;
}

void append_rows(Table& all, const Table& part) {
  if (all.n_cols() == 0) {
    all = part;
    return;
  }
  Table merged(all.source());
  for (const Column& head : all.columns()) {
    Column c = head;
    const Column& p = part.column(c.name);
    for (size_t i = 0; i < p.size(); ++i) {
      double v = p.values[i];
      if (c.type == ColumnType::categorical && !p.missing[i]) {
        const std::string& label = p.categories[static_cast<size_t>(v)];
        auto it = std::find(c.categories.begin(), c.categories.end(), label);
        if (it == c.categories.end()) it = c.categories.insert(c.categories.end(), label);
        v = static_cast<double>(it - c.categories.begin());
      }
      c.values.push_back(v);
      c.missing.push_back(p.missing[i]);
    }
    merged.add_column(std::move(c));
  }
  all = std::move(merged);
}

std::vector<std::string> identifier_columns(const Table& table) {
  std::vector<std::string> out;
  if (table.n_rows() < kMinIdentifierRows) return out;
  for (const auto& c : table.columns()) {
    const bool text_id = c.type == ColumnType::categorical && c.categories.size() == c.size() && all_distinct(c);
    const bool number_id = c.type == ColumnType::integer && has_id_name(c.name) && all_distinct(c);
    if (text_id || number_id) out.push_back(c.name);
  }
  return out;
}

}  // namespace gf
