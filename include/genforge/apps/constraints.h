// Rules on the rows of a table, for synthetic data (`synth --constraint`, `--condition`).
//   constraint  an expression every synthetic row must satisfy: comparisons (< <= > >= == !=) of columns, numbers,
//               'text' (a category label, or a date for datetime columns) and arithmetic (+ - * /), joined by and,
//               or, not and parentheses; `col in [a, b]` for ranges; or fixed(col1, col2, ...): only the
//               combinations of those columns that the real data has. Column names are written as they are
//               (spaces and parentheses too: Body Mass (g) > 3000) or in backquotes. A comparison with a missing
//               cell holds (constraints restrict the values present).
//   condition   what the rows asked for must have: `col=value` (a category, number or date) or `col in [a, b]`.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "genforge/data/table.h"

namespace gf::apps {

// Bounds on one column implied by a constraint or a condition: the part a conditional sampler can impose exactly.
struct ColumnBounds {
  std::string column;
  double lo = -INFINITY, hi = INFINITY;  // numeric columns (datetimes in seconds); lo = hi: a fixed value
  std::string category;                  // categorical columns: the fixed label (empty: none)
  bool lo_open = false, hi_open = false;  // strict comparisons (x > 150): samples equal to a bound are rejected
  bool require_present = false;           // conditions: the cell must not be missing (constraints: it may be)
};

class Constraint {
 public:
  // Parses against the table's columns (unknown names, type mismatches and syntax errors are InvalidArgument).
  static Constraint parse(const std::string& text, const Table& schema);
  const std::string& text() const { return text_; }
  // 1 per row that satisfies it. `real` is the table the fixed combinations come from.
  std::vector<uint8_t> check(const Table& rows) const;
  // When the constraint is a conjunction of single-column bounds (x > 150 and x <= 230, x in [a, b]), those
  // bounds; otherwise empty.
  const std::vector<ColumnBounds>& bounds() const { return bounds_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
  std::vector<std::string> fixed_columns_;
  std::vector<std::string> fixed_combinations_;  // keys of the real rows
  std::vector<ColumnBounds> bounds_;
};

// `col=value` or `col in [a, b]`, checked against the table's columns and categories.
ColumnBounds parse_condition(const std::string& text, const Table& schema);

// The intersection of bounds on the same column; empty intersections are InvalidArgument naming the rules.
std::vector<ColumnBounds> merge_bounds(const std::vector<ColumnBounds>& bounds, const std::vector<std::string>& why);

// 1 per row that satisfies every bound (strictness included).
std::vector<uint8_t> check_bounds(const std::vector<ColumnBounds>& bounds, const Table& rows);

}  // namespace gf::apps
