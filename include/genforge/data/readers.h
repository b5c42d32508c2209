// Table readers and writers: CSV (RFC 4180), JSON records (the vega-datasets format), NumPy .npy. Every data
// error names the file, the line (or record) and the column.
#pragma once
#include <nlohmann/json.hpp>

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "genforge/data/table.h"

namespace gf {

struct ReadOptions {
  // 0: '\t' for .tsv files, else sniffed from the first 30 lines (, ; tab |: the first that splits every line into
  // one number of fields, more than one; else ','). Not ',': numbers with a decimal comma ("3,25") are numbers.
  char delimiter = 0;
  // A digit-group separator (, . ' or space; 0: none): a column whose numbers group their integer part by three
  // ("1,234,567.5", quoted in a comma-separated file; with '.', "1.234.567,5", the comma its decimal mark) is numbers.
  char thousands = 0;
  bool header = true;  // first CSV line names the columns; without it columns are named x0, x1, ...
  // Cells equal to one of these (after trimming unquoted spaces) are missing.
  std::vector<std::string> na_tokens = {"", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "?"};
  // Per-column type override; other columns are inferred (integer, continuous, datetime, else categorical).
  std::map<std::string, ColumnType> column_types;
};

Table read_csv(const std::string& path, const ReadOptions& options = {});
// CSV text already in memory; `source` names it in errors (and a ".tsv" ending chooses the tab delimiter).
Table parse_csv(std::string text, const std::string& source, const ReadOptions& options = {});
Table read_json_records(const std::string& path, const ReadOptions& options = {});
// JSON Lines (.jsonl, .ndjson): one object per line, typed as read_json_records does; blank lines skipped.
Table read_json_lines(const std::string& path, const ReadOptions& options = {});
// JSON records already parsed (an array of objects; `source` names them in errors), typed as read_json_records does.
Table table_from_records(const nlohmann::ordered_json& records, const std::string& source,
                         const ReadOptions& options = {});
// A table as JSON records: numbers as numbers, categories and dates as their text, missing cells as null.
nlohmann::ordered_json table_to_records(const Table& table);
// A 1-D or 2-D .npy array (float32/float64/int32/int64, C order) as a table with columns x0, x1, ...; NaN is
// missing.
Table read_npy_table(const std::string& path);
// Chooses the reader from the extension: .csv .tsv .txt -> CSV, .json -> JSON records, .npy -> NumPy.
Table read_table(const std::string& path, const ReadOptions& options = {});

// Writes atomically. Missing cells are written empty; numbers with 17 significant digits.
void write_csv(const std::string& path, const Table& table);
void write_csv(std::ostream& out, const Table& table);

}  // namespace gf
