#include <nlohmann/json.hpp>

#include <cmath>

#include "column_builder.h"
#include "genforge/core/error.h"
#include "genforge/data/readers.h"

namespace gf {

Table read_json_records(const std::string& path, const ReadOptions& options) {
  const std::string text = detail::read_table_text(path);
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(msg("'", path, "' is not valid JSON (byte ", e.byte, ")"),
                    "JSON records are an array of objects: [{\"a\": 1, \"b\": \"x\"}, ...]");
  }
  return table_from_records(doc, path, options);
}

Table read_json_lines(const std::string& path, const ReadOptions& options) {
  const std::string text = detail::read_table_text(path);
  auto records = nlohmann::ordered_json::array();
  size_t line = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    ++line;
    const std::string record = text.substr(at, end - at);
    at = end + 1;
    if (record.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines (a last newline) skipped
    try {
      records.push_back(nlohmann::ordered_json::parse(record));
    } catch (const nlohmann::json::parse_error& e) {
      throw DataError(msg("'", path, "' line ", line, " is not valid JSON (byte ", e.byte, ")"),
                      "JSON Lines hold one object per line: {\"a\": 1, \"b\": \"x\"}");
    }
    GF_CHECK_AS(DataError, records.back().is_object(), "JSON Lines hold one object per line: {\"a\": 1, \"b\": \"x\"}",
                "'", path, "' line ", line, " is ", records.back().type_name(), ", not an object");
  }
  return table_from_records(records, path, options);
}

Table table_from_records(const nlohmann::ordered_json& doc, const std::string& path, const ReadOptions& options) {
  GF_CHECK_AS(DataError, doc.is_array(), "JSON records are an array of objects: [{\"a\": 1, \"b\": \"x\"}, ...]",
              "'", path, "' is not an array of records (its top level is ", doc.type_name(), ")");
  GF_CHECK_AS(DataError, !doc.empty(), "give at least one record", "'", path, "' holds no records");
  // Columns in first-seen order; a key absent from a record is missing there.
  std::vector<std::string> names;
  std::map<std::string, size_t> index;
  for (size_t r = 0; r < doc.size(); ++r) {
    GF_CHECK_AS(DataError, doc[r].is_object(), "every element of the array must be an object", "'", path,
                "' record ", r + 1, " is ", doc[r].type_name(), ", not an object");
    for (auto it = doc[r].begin(); it != doc[r].end(); ++it) {
      if (index.emplace(it.key(), names.size()).second) names.push_back(it.key());
    }
  }
  std::vector<detail::ColumnBuilder> builders;
  for (const auto& name : names) builders.emplace_back(name, path, "record");
  for (size_t r = 0; r < doc.size(); ++r) {
    long row = static_cast<long>(r + 1);
    const auto& rec = doc[r];
    for (size_t j = 0; j < names.size(); ++j) {
      auto it = rec.find(names[j]);
      if (it == rec.end() || it->is_null()) {
        builders[j].add_missing(row);
      } else if (it->is_number()) {
        builders[j].add_number(it->get<double>(), it->is_number_integer() || it->is_number_unsigned(), row);
      } else if (it->is_string()) {
        const auto& s = it->get_ref<const std::string&>();
        if (detail::is_na(s, options)) {
          builders[j].add_missing(row);
        } else {
          builders[j].add_text(s, row);
        }
      } else if (it->is_boolean()) {
        builders[j].add_text(it->get<bool>() ? "true" : "false", row);
      } else {
        throw DataError(msg("'", path, "' record ", row, ", column '", names[j], "': nested ", it->type_name(),
                            " values are not supported"),
                        "flatten the records so every value is a number, string, boolean or null");
      }
    }
  }
  Table table(path);
  for (size_t j = 0; j < names.size(); ++j) {
    auto it = options.column_types.find(names[j]);
    table.add_column(builders[j].build(it == options.column_types.end() ? nullptr : &it->second));
  }
  return table;
}

nlohmann::ordered_json table_to_records(const Table& table) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  const auto& cols = table.columns();
  for (size_t r = 0; r < table.n_rows(); ++r) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (const auto& c : cols) {
      if (c.missing[r]) {
        row[c.name] = nullptr;
      } else if (c.type == ColumnType::continuous) {
        row[c.name] = c.values[r];
      } else if (c.type == ColumnType::integer) {
        row[c.name] = static_cast<int64_t>(std::llround(c.values[r]));
      } else {
        row[c.name] = detail::cell_text(c, r);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace gf
