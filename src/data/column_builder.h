// Internal: collects the cells of one column as they are read, then infers its type and builds a gf::Column.
#pragma once
#include <string>
#include <vector>

#include "genforge/data/readers.h"

namespace gf::detail {

class ColumnBuilder {
 public:
  ColumnBuilder(std::string name, std::string source, std::string row_word)
      : name_(std::move(name)), source_(std::move(source)), row_word_(std::move(row_word)) {}
  void add_missing(long row);
  void add_number(double value, bool is_integer, long row);  // from typed sources (JSON numbers)
  void add_text(const std::string& text, long row);          // not NA (caller checks NA tokens)
  // Builds the column; `forced` (when given) overrides inference and makes every non-conforming cell an error.
  Column build(const ColumnType* forced) const;

 private:
  struct Cell {
    enum Kind { kMissing, kNumber, kText } kind;
    double number;
    bool is_integer;
    std::string text;
    long row;
  };
  // Digits after the point the file wrote for this column's numbers (-1: exponents or computed values).
  int recorded_decimals() const;
  [[noreturn]] void cell_error(const Cell& cell, const std::string& what, const std::string& hint) const;
  std::string name_, source_, row_word_;
  std::vector<Cell> cells_;
};

// Parses a number the way a data file writes it: decimal or exponent form, optional sign, inf/infinity.
bool parse_number(const std::string& text, double& value, bool& is_integer);
// Parses dates: YYYY-MM-DD or YYYY/MM/DD, or an English month name or abbreviation, the day and the year ("Jan 1
// 2000", "Aug 07 1998", "January 1, 2000"); optionally followed by [T ]HH:MM[:SS[.fff]] and Z. `format` (when
// given) receives the strftime format that writes the text back ("%Y-%m-%d %H:%M", "%b %-d %Y").
bool parse_datetime(const std::string& text, double& seconds_since_epoch, std::string* format = nullptr);
// The format of a column whose cells parsed with formats `seen` so far and `next` now: "%b %d %Y" (zero-padded)
// over "%b %-d %Y" when the cells differ only there (days 10-31 read either way), else the latest.
std::string merge_date_formats(const std::string& seen, const std::string& next);
// Digits after the decimal point of a number as written ("3.50" -> 2, "12" -> 0, "1e-3" -> -1: unknown).
int decimals_of(const std::string& text);
bool is_na(const std::string& text, const ReadOptions& options);
bool ends_with(const std::string& s, const std::string& tail);
// The whole of a table file, gunzipped when it is gzip-compressed (FILE.csv.gz); a missing or unreadable file is a
// DataError naming it.
std::string read_table_text(const std::string& path);
// A cell as text, unquoted: a category's label, an integer, a date in the column's format, the shortest number that
// reads back the same ("" when missing).
std::string cell_text(const Column& column, size_t row);

}  // namespace gf::detail
