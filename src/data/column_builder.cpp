#include "column_builder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "genforge/core/error.h"

namespace gf::detail {

bool parse_number(const std::string& text, double& value, bool& is_integer) {
  if (text.empty()) return false;
  const char* begin = text.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin || *end != '\0') return false;
  // strtod also accepts hex and "nan"; data files mean neither.
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower.find("0x") != std::string::npos || lower.find("nan") != std::string::npos) return false;
  is_integer = std::isfinite(value) && lower.find_first_of(".e") == std::string::npos &&
               lower.find("inf") == std::string::npos;
  return true;
}

namespace {
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "HH:MM[:SS[.fff]][Z]" after the date's 'T' or ' ' (`rest` starts with that separator, or is empty), appending its
// strftime form to `fmt`.
bool parse_time_of_day(const std::string& rest, int& h, int& mi, double& s, std::string& fmt) {
  if (rest.empty()) return true;
  if (rest[0] != 'T' && rest[0] != ' ') return false;
  int used = 0;
  int n = std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &h, &mi, &used);
  if (n != 2 || h < 0 || h > 23 || mi < 0 || mi > 59) return false;
  fmt += std::string(1, rest[0]) + "%H:%M";
  std::string tail = rest.substr(1 + static_cast<size_t>(used));
  if (!tail.empty() && tail[0] == ':') {
    // Seconds are digits with an optional fraction, below 61 (a leap second): strtod alone would also take
    // "nan", "inf", signs, exponents and hex.
    const char* digits = tail.c_str() + 1;
    if (!std::isdigit(static_cast<unsigned char>(*digits))) return false;
    char* end = nullptr;
    s = std::strtod(digits, &end);
    for (const char* c = digits; c < end; ++c) {
      if (!std::isdigit(static_cast<unsigned char>(*c)) && *c != '.') return false;
    }
    if (!(s >= 0 && s < 61)) return false;
    tail = end;
    fmt += ":%S";
  }
  if (!(tail.empty() || tail == "Z")) return false;
  fmt += tail;
  return true;
}

// "Jan 1 2000", "Aug 07 1998", "January 1, 2000" (vega's sp500, stocks and movies): the month by its English name
// or abbreviation, any case; the day with or without a leading zero, an optional comma, a four-digit year. Returns
// the characters used (0: not this form) and the strftime form ("%b %-d %Y": glibc's unpadded day).
size_t parse_month_name_date(const std::string& text, int& y, int& mo, int& d, std::string& fmt) {
  static const char* const kMonths[] = {"january", "february", "march",     "april",   "may",      "june",
                                        "july",    "august",   "september", "october", "november", "december"};
  size_t i = 0;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
  std::string word = text.substr(0, i);
  std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  mo = 0;
  bool full = false;
  for (int m = 0; m < 12; ++m) {
    const std::string name = kMonths[m];
    if (word == name || (word.size() == 3 && name.compare(0, 3, word) == 0)) {
      mo = m + 1;
      full = word.size() > 3;  // "May" is both: %b writes it the same
    }
  }
  if (mo == 0 || i >= text.size() || text[i] != ' ') return 0;
  const size_t day_start = ++i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const size_t day_digits = i - day_start;
  if (day_digits < 1 || day_digits > 2) return 0;
  d = std::atoi(text.c_str() + day_start);
  const bool comma = i < text.size() && text[i] == ',';
  i += comma;
  if (i >= text.size() || text[i] != ' ') return 0;
  const size_t year_start = ++i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i - year_start != 4 || d < 1 || d > 31) return 0;
  y = std::atoi(text.c_str() + year_start);
  fmt = std::string(full ? "%B" : "%b") + (day_digits == 2 && text[day_start] == '0' ? " %d" : " %-d") +
        (comma ? ", %Y" : " %Y");
  return i;
}
}  // namespace

bool parse_datetime(const std::string& text, double& seconds, std::string* format) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  double s = 0;
  char sep1 = 0, sep2 = 0;
  int consumed = 0;
  std::string fmt;
  if (std::sscanf(text.c_str(), "%4d%c%2d%c%2d%n", &y, &sep1, &mo, &sep2, &d, &consumed) == 5) {
    if (!((sep1 == '-' && sep2 == '-') || (sep1 == '/' && sep2 == '/'))) return false;
    if (consumed != 10 || mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    fmt = sep1 == '-' ? "%Y-%m-%d" : "%Y/%m/%d";
  } else {
    consumed = static_cast<int>(parse_month_name_date(text, y, mo, d, fmt));
    if (consumed == 0) return false;
  }
  if (!parse_time_of_day(text.substr(static_cast<size_t>(consumed)), h, mi, s, fmt)) return false;
  seconds = static_cast<double>(days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) * 86400.0 +
            h * 3600.0 + mi * 60.0 + s;
  if (format) *format = fmt;
  return true;
}

std::string merge_date_formats(const std::string& seen, const std::string& next) {
  if (seen.empty() || seen == next) return next;
  // One column with "Aug 07" and "Jun 12": the zero-padded form writes both back as they were.
  auto padded = [](std::string f) {
    const auto at = f.find("%-d");
    if (at != std::string::npos) f.replace(at, 3, "%d");
    return f;
  };
  if (padded(seen) == padded(next)) return seen.find("%-d") == std::string::npos ? seen : next;
  return next;
}

int decimals_of(const std::string& text) {
  if (text.find_first_of("eE") != std::string::npos) return -1;
  const auto dot = text.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
}

bool is_na(const std::string& text, const ReadOptions& options) {
  return std::find(options.na_tokens.begin(), options.na_tokens.end(), text) != options.na_tokens.end();
}

void ColumnBuilder::add_missing(long row) { cells_.push_back({Cell::kMissing, 0.0, false, {}, row}); }
void ColumnBuilder::add_number(double value, bool is_integer, long row) {
  cells_.push_back({Cell::kNumber, value, is_integer, {}, row});
}
void ColumnBuilder::add_text(const std::string& text, long row) {
  double v = 0;
  bool integer = false;
  if (parse_number(text, v, integer)) {
    cells_.push_back({Cell::kNumber, v, integer, text, row});
  } else {
    cells_.push_back({Cell::kText, 0.0, false, text, row});
  }
}

void ColumnBuilder::cell_error(const Cell& cell, const std::string& what, const std::string& hint) const {
  throw DataError(msg("'", source_, "' ", row_word_, " ", cell.row, ", column '", name_, "': ", what), hint);
}

int ColumnBuilder::recorded_decimals() const {
  int decimals = 0;
  for (const auto& c : cells_) {
    if (c.kind != Cell::kNumber) continue;
    std::string text = c.text;
    if (text.empty()) {  // typed sources: the shortest form that reads back as the same number
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.15g", c.number);
      text = buf;
    }
    const int d = decimals_of(text);
    // More than 10 digits after the point is a computed value (7.716666666666667), not a recorded precision.
    if (d < 0 || d > 10) return -1;
    decimals = std::max(decimals, d);
  }
  return decimals;
}

Column ColumnBuilder::build(const ColumnType* forced) const {
  size_t numbers = 0, integers = 0, texts = 0, dates = 0;
  for (const auto& c : cells_) {
    double t = 0;
    if (c.kind == Cell::kNumber) {
      ++numbers;
      integers += c.is_integer;
    } else if (c.kind == Cell::kText) {
      ++texts;
      dates += parse_datetime(c.text, t);
    }
  }
  ColumnType type;
  std::string date_format, cell_format;
  if (forced) {
    type = *forced;
  } else if (texts == 0 && numbers > 0) {
    type = integers == numbers ? ColumnType::integer : ColumnType::continuous;
  } else if (texts > 0 && dates == texts && numbers == 0) {
    type = ColumnType::datetime;
  } else if (numbers > texts) {
    // Mostly numbers with a few words: almost always a typo or an unlisted missing-value marker.
    type = integers == numbers ? ColumnType::integer : ColumnType::continuous;
  } else {
    type = (numbers + texts) == 0 ? ColumnType::continuous : ColumnType::categorical;
  }
  Column col;
  col.name = name_;
  col.type = type;
  col.values.reserve(cells_.size());
  col.missing.reserve(cells_.size());
  std::map<std::string, int> codes;
  const std::string type_hint = "fix the value, list it as a missing-value marker (--na), or declare the column's type (--type '" +
                                name_ + "=categorical')";
  for (const auto& c : cells_) {
    double value = 0;
    bool missing = c.kind == Cell::kMissing;
    if (!missing) {
      switch (type) {
        case ColumnType::continuous:
        case ColumnType::integer:
          if (c.kind != Cell::kNumber) {
            // "1,234.5" among numbers: digit groups the reader was not told of.
            const bool grouped = c.text.find_first_of(",.' ") != std::string::npos &&
                                 std::count_if(c.text.begin(), c.text.end(),
                                               [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); }) >= 4 &&
                                 c.text.find_first_not_of("0123456789,.' -+") == std::string::npos;
            cell_error(c, "'" + c.text + "' is not a number",
                       grouped ? "if it groups digits, name the separator: --thousands , (or . ' space)" : type_hint);
          }
          if (!std::isfinite(c.number)) {
            cell_error(c, "'" + (c.text.empty() ? std::to_string(c.number) : c.text) + "' is not a finite number",
                       "replace infinities with finite values or leave the cell empty (missing)");
          }
          // Models square and sum values; beyond 1e150 that overflows a double and ends in a misleading error.
          if (std::abs(c.number) > 1e150) {
            cell_error(c, "'" + (c.text.empty() ? std::to_string(c.number) : c.text) +
                              "' is too large: models square values, and beyond 1e150 that overflows",
                       "rescale the column (divide it by a power of ten) or leave the cell empty (missing)");
          }
          if (type == ColumnType::integer && !c.is_integer) {
            cell_error(c, "'" + c.text + "' is not an integer", "declare the column continuous (--type '" + name_ +
                                                                   "=continuous')");
          }
          value = c.number;
          break;
        case ColumnType::datetime:
          if (c.kind != Cell::kText || !parse_datetime(c.text, value, &cell_format)) {
            cell_error(c, "'" + (c.kind == Cell::kText ? c.text : std::to_string(c.number)) +
                              "' is not a date (YYYY-MM-DD or Mon D YYYY, [ HH:MM[:SS]])",
                       type_hint);
          }
          date_format = merge_date_formats(date_format, cell_format);
          break;
        case ColumnType::categorical: {
          std::string label = c.kind == Cell::kText || !c.text.empty() ? c.text : msg(c.number);
          auto it = codes.find(label);
          if (it == codes.end()) {
            it = codes.emplace(label, static_cast<int>(col.categories.size())).first;
            col.categories.push_back(label);
          }
          value = it->second;
          break;
        }
      }
    }
    col.values.push_back(value);
    col.missing.push_back(missing ? 1 : 0);
  }
  if (type == ColumnType::continuous) col.decimals = recorded_decimals();
  // The last date's format writes them all back (a file mixes formats rarely; ISO is the fallback).
  if (type == ColumnType::datetime && date_format != "%Y-%m-%dT%H:%M:%S") col.format = date_format;
  return col;
}

}  // namespace gf::detail
