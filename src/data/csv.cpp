#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "column_builder.h"
#include "genforge/core/atomic_file.h"
#include "genforge/io/provenance.h"
#include "genforge/core/error.h"
#include "genforge/data/readers.h"
#include "genforge/io/bytes.h"
#include "core/trim.h"

namespace gf {
namespace {

// Splits RFC 4180 text into records of fields. `quoted` marks fields that were quoted (kept verbatim).
struct Record {
  long line;
  std::vector<std::string> fields;
  std::vector<bool> quoted;
};

std::vector<Record> parse_records(const std::string& text, char delim, const std::string& path) {
  std::vector<Record> records;
  size_t i = 0, n = text.size();
  if (n >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
      static_cast<unsigned char>(text[2]) == 0xBF) {
    i = 3;  // UTF-8 byte-order mark
  }
  long line = 1;
  while (i < n) {
    Record rec;
    rec.line = line;
    std::string field;
    bool quoted = false, end_of_record = false;
    while (!end_of_record) {
      field.clear();
      quoted = false;
      if (i < n && text[i] == '"') {
        quoted = true;
        long open_line = line;
        ++i;
        while (true) {
          GF_CHECK_AS(DataError, i < n, "close the quote or escape inner quotes by doubling them (\"\")", "'", path,
                      "' line ", open_line, ": quoted field is never closed");
          char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
            } else {
              ++i;
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
            ++i;
          }
        }
        // Only spaces may follow the closing quote.
        while (i < n && (text[i] == ' ' || text[i] == '\t') && text[i] != delim) ++i;
        GF_CHECK_AS(DataError, i >= n || text[i] == delim || text[i] == '\n' || text[i] == '\r',
                    "quote the whole field, and double any quote inside it", "'", path, "' line ", line,
                    ": unexpected text after a closing quote");
      } else {
        while (i < n && text[i] != delim && text[i] != '\n' && text[i] != '\r') field += text[i++];
      }
      rec.fields.push_back(quoted ? field : trim_blanks(field));
      rec.quoted.push_back(quoted);
      if (i >= n) {
        end_of_record = true;
      } else if (text[i] == delim) {
        ++i;
      } else {
        if (text[i] == '\r') ++i;
        if (i < n && text[i] == '\n') ++i;
        ++line;
        end_of_record = true;
      }
    }
    bool blank = rec.fields.size() == 1 && rec.fields[0].empty() && !rec.quoted[0];
    if (!blank) records.push_back(std::move(rec));
  }
  return records;
}

// The delimiter of a file given none: of , ; tab |, the first that splits the first 30 lines (quoted fields
// respected) into one number of fields, more than one; ',' when none does (a file of one column). Excel writes `;`
// where the decimal mark is a comma.
char sniff_delimiter(const std::string& text) {
  for (char candidate : {',', ';', '\t', '|'}) {
    std::vector<size_t> counts;
    size_t fields = 1;
    bool in_quotes = false, blank = true;
    for (size_t i = 0; i < text.size() && counts.size() < 30; ++i) {
      const char c = text[i];
      if (c == '"') {
        in_quotes = !in_quotes;  // a doubled quote inside a field toggles twice
        blank = false;
      } else if (in_quotes) {
        continue;
      } else if (c == candidate) {
        ++fields;
        blank = false;
      } else if (c == '\n') {
        if (!blank) counts.push_back(fields);
        fields = 1;
        blank = true;
      } else if (c != '\r' && c != ' ') {
        blank = false;
      }
    }
    if (!blank) counts.push_back(fields);
    const bool consistent = !counts.empty() && counts[0] > 1 &&
                            std::all_of(counts.begin(), counts.end(), [&](size_t k) { return k == counts[0]; });
    if (consistent) return candidate;
  }
  return ',';
}

// "3,25", "-0,5", "1,5e3": a number with a decimal comma (no other separator).
bool has_decimal_comma(const std::string& f) {
  size_t i = (f.size() > 0 && (f[0] == '-' || f[0] == '+')) ? 1 : 0;
  size_t digits = 0, commas = 0;
  for (; i < f.size() && f[i] != 'e' && f[i] != 'E'; ++i) {
    if (std::isdigit(static_cast<unsigned char>(f[i]))) {
      ++digits;
    } else if (f[i] == ',') {
      ++commas;
    } else {
      return false;
    }
  }
  if (digits == 0 || commas != 1) return false;
  if (i == f.size()) return true;
  size_t e = i + 1 + ((i + 1 < f.size() && (f[i + 1] == '-' || f[i + 1] == '+')) ? 1 : 0);
  return e < f.size() && std::all_of(f.begin() + static_cast<std::ptrdiff_t>(e), f.end(),
                                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

bool is_plain_integer(const std::string& f) {
  const size_t start = (!f.empty() && (f[0] == '-' || f[0] == '+')) ? 1 : 0;
  return f.size() > start && std::all_of(f.begin() + static_cast<std::ptrdiff_t>(start), f.end(),
                                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// With `thousands`, a number whose integer part is grouped by three ("1,234,567.5"; with '.', "1.234.567,5", the
// comma its decimal mark) without its separators and with a decimal point ("1234567.5"); "" when `f` is not one.
std::string ungrouped(const std::string& f, char thousands) {
  const char decimal = thousands == '.' ? ',' : '.';
  size_t i = (!f.empty() && (f[0] == '-' || f[0] == '+')) ? 1 : 0;
  std::string out = f.substr(0, i);
  size_t run = 0;
  bool grouped = false;
  for (; i < f.size() && f[i] != decimal; ++i) {
    if (std::isdigit(static_cast<unsigned char>(f[i]))) {
      out += f[i];
      ++run;
    } else if (f[i] == thousands && run > 0 && (grouped ? run == 3 : run <= 3)) {
      grouped = true;
      run = 0;
    } else {
      return "";
    }
  }
  if (!grouped || run != 3) return "";
  if (i < f.size()) {
    out += '.';
    if (++i == f.size()) return "";
    for (; i < f.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(f[i]))) return "";
      out += f[i];
    }
  }
  return out;
}

// A number too small to need a group separator ("12", "-3.5"; "3,5" where '.' separates groups): with a point.
std::string ungroupable(const std::string& f, char thousands) {
  std::string plain = f;
  if (thousands == '.') std::replace(plain.begin(), plain.end(), ',', '.');
  const size_t start = (!plain.empty() && (plain[0] == '-' || plain[0] == '+')) ? 1 : 0;
  size_t points = 0, digits = 0;
  for (size_t i = start; i < plain.size(); ++i) {
    if (plain[i] == '.') {
      ++points;
    } else if (std::isdigit(static_cast<unsigned char>(plain[i]))) {
      ++digits;
    } else {
      return "";
    }
  }
  return digits > 0 && points <= 1 ? plain : "";
}

// Column by column: where every cell (missing markers aside) is a number as `marked` or `plain` read it (the text
// without marks, with a decimal point; "" when it is not one) and at least one is `marked`, every cell is replaced by
// that reading.
template <class Marked, class Plain>
void read_marked_numbers(std::vector<Record>& records, size_t first_data, size_t columns, const ReadOptions& options,
                         const Marked& marked, const Plain& plain) {
  auto skipped = [&](size_t r, size_t j) {  // a short row (the field-count check names it) or a missing cell
    return j >= records[r].fields.size() || (!records[r].quoted[j] && detail::is_na(records[r].fields[j], options));
  };
  for (size_t j = 0; j < columns; ++j) {
    bool any_marked = false, all_numbers = true;
    for (size_t r = first_data; r < records.size() && all_numbers; ++r) {
      if (skipped(r, j)) continue;
      const bool is_marked = !marked(records[r].fields[j]).empty();
      any_marked = any_marked || is_marked;
      all_numbers = is_marked || !plain(records[r].fields[j]).empty();
    }
    if (!any_marked || !all_numbers) continue;
    for (size_t r = first_data; r < records.size(); ++r) {
      if (skipped(r, j)) continue;
      auto& field = records[r].fields[j];
      const std::string read = marked(field);
      field = read.empty() ? plain(field) : read;
    }
  }
}

// With a thousands separator, a column whose cells are all numbers, some grouped by it, is read as numbers.
void read_grouped_numbers(std::vector<Record>& records, size_t first_data, size_t columns, const ReadOptions& options) {
  if (options.thousands == 0) return;
  read_marked_numbers(
      records, first_data, columns, options, [&](const std::string& f) { return ungrouped(f, options.thousands); },
      [&](const std::string& f) { return ungroupable(f, options.thousands); });
}

// In a file not delimited by commas, a column whose cells are all numbers, some with a decimal comma ("3,25"), is
// read as numbers: the comma becomes a point.
void read_decimal_commas(std::vector<Record>& records, size_t first_data, size_t columns, const ReadOptions& options) {
  auto with_point = [](std::string f) {
    std::replace(f.begin(), f.end(), ',', '.');
    return f;
  };
  read_marked_numbers(
      records, first_data, columns, options,
      [&](const std::string& f) { return has_decimal_comma(f) ? with_point(f) : std::string(); },
      [](const std::string& f) { return is_plain_integer(f) ? f : std::string(); });
}

std::string format_cell(const Column& c, size_t row) {
  std::string text = detail::cell_text(c, row);
  // Labels and dates ("January 1, 2000") may hold the delimiter; numbers never do.
  const bool text_type = c.type == ColumnType::categorical || c.type == ColumnType::datetime;
  if (!text_type || text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string q = "\"";
  for (char ch : text) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

}  // namespace

namespace detail {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string read_table_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GF_CHECK_AS(DataError, in.good(), "check the path (a relative path starts from the current folder)",
              "cannot open '", path, "': no such file or not readable");
  char magic[2] = {};
  const bool gzip = in.read(magic, 2) && static_cast<unsigned char>(magic[0]) == 0x1f &&
                    static_cast<unsigned char>(magic[1]) == 0x8b;
  return read_file_bytes(path, gzip);
}

std::string cell_text(const Column& c, size_t row) {
  if (c.missing[row]) return "";
  double v = c.values[row];
  switch (c.type) {
    case ColumnType::categorical: {
      return c.categories.at(static_cast<size_t>(v));
    }
    case ColumnType::integer: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", v);
      return buf;
    }
    case ColumnType::datetime: {
      if (!std::isfinite(v) || std::fabs(v) > 1e15) return "";  // no calendar date (a reader never makes one)
      auto secs = static_cast<time_t>(std::floor(v));
      struct tm t {};
      gmtime_r(&secs, &t);
      char buf[32];
      std::strftime(buf, sizeof buf, c.format.empty() ? "%Y-%m-%dT%H:%M:%S" : c.format.c_str(), &t);
      return buf;
    }
    case ColumnType::continuous:
    default: {
      char buf[400];
      if (c.decimals >= 0 && c.decimals <= 20 && std::fabs(v) < 1e300) {
        std::snprintf(buf, sizeof buf, "%.*f", c.decimals, v);
      } else {  // the shortest form that reads back as the same number
        for (int digits = 15; digits <= 17; ++digits) {
          std::snprintf(buf, sizeof buf, "%.*g", digits, v);
          if (std::strtod(buf, nullptr) == v) break;
        }
      }
      return buf;
    }
  }
}

}  // namespace detail

Table read_csv(const std::string& path, const ReadOptions& options) {
  return parse_csv(detail::read_table_text(path), path, options);
}

Table parse_csv(std::string text, const std::string& path, const ReadOptions& options) {
  // The provenance line genforge writes first (io/provenance.h) is blanked, not removed: line numbers stay true.
  if (text.compare(0, 23, "# generated by genforge") == 0) text.erase(0, std::min(text.find('\n'), text.size()));
  char delim = options.delimiter;
  const bool tsv = detail::ends_with(path, ".tsv") || detail::ends_with(path, ".tsv.gz");
  if (delim == 0) delim = tsv ? '\t' : sniff_delimiter(text);
  auto records = parse_records(text, delim, path);
  GF_CHECK_AS(DataError, !records.empty(), "give a CSV file with a header line and at least one data row", "'",
              path, "' is empty");
  std::vector<std::string> names;
  size_t first_data = 0;
  if (options.header) {
    names = records[0].fields;
    for (size_t j = 0; j < names.size(); ++j) {
      if (names[j].empty()) names[j] = "column_" + std::to_string(j + 1);
    }
    first_data = 1;
    GF_CHECK_AS(DataError, records.size() > 1, "add data rows below the header", "'", path,
                "' has a header but no data rows");
  } else {
    for (size_t j = 0; j < records[0].fields.size(); ++j) names.push_back("x" + std::to_string(j));
  }
  read_grouped_numbers(records, first_data, names.size(), options);
  if (delim != ',') read_decimal_commas(records, first_data, names.size(), options);
  std::vector<detail::ColumnBuilder> builders;
  for (const auto& name : names) builders.emplace_back(name, path, "line");
  for (size_t r = first_data; r < records.size(); ++r) {
    const Record& rec = records[r];
    GF_CHECK_AS(DataError, rec.fields.size() == names.size(),
                "every row needs one field per column; quote fields that contain the delimiter", "'", path,
                "' line ", rec.line, ": ", rec.fields.size(), " fields, expected ", names.size(),
                options.header ? " (as in the header)" : " (as in the first row)");
    for (size_t j = 0; j < names.size(); ++j) {
      const std::string& f = rec.fields[j];
      if (!rec.quoted[j] && detail::is_na(f, options)) {
        builders[j].add_missing(rec.line);
      } else {
        builders[j].add_text(f, rec.line);
      }
    }
  }
  Table table(path);
  for (size_t j = 0; j < names.size(); ++j) {
    auto it = options.column_types.find(names[j]);
    table.add_column(builders[j].build(it == options.column_types.end() ? nullptr : &it->second));
  }
  for (const auto& kv : options.column_types) {
    GF_CHECK_AS(DataError, table.has_column(kv.first), "check the spelling of the column in --type", "'", path,
                "' has no column '", kv.first, "' (named in a type override)");
  }
  return table;
}

void write_csv(std::ostream& out, const Table& table) {
  const auto& cols = table.columns();
  for (size_t j = 0; j < cols.size(); ++j) {
    Column header;
    header.type = ColumnType::categorical;
    header.categories = {cols[j].name};
    header.values = {0};
    header.missing = {0};
    out << (j ? "," : "") << format_cell(header, 0);
  }
  out << "\n";
  for (size_t r = 0; r < table.n_rows(); ++r) {
    for (size_t j = 0; j < cols.size(); ++j) out << (j ? "," : "") << format_cell(cols[j], r);
    out << "\n";
  }
}

void write_csv(const std::string& path, const Table& table) {
  write_file_atomic(path, [&](std::ostream& out) {
    out << csv_provenance_line();
    write_csv(out, table);
  });
}

Table read_table(const std::string& path, const ReadOptions& options) {
  if (detail::ends_with(path, ".json") || detail::ends_with(path, ".json.gz")) {
    return read_json_records(path, options);
  }
  for (const char* ext : {".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"}) {
    if (detail::ends_with(path, ext)) return read_json_lines(path, options);
  }
  if (detail::ends_with(path, ".npy")) return read_npy_table(path);
  return read_csv(path, options);
}

}  // namespace gf
