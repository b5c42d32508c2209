#include "genforge/apps/constraints.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "data/column_builder.h"
#include "genforge/core/error.h"
#include "genforge/core/options.h"
#include "core/trim.h"

namespace gf::apps {

struct Constraint::Node {
  enum Kind { number, text, column, arith, compare, both, either, negate, in_range } kind;
  double value = 0;
  std::string label, op;
  size_t col = 0;  // column index in the schema
  std::shared_ptr<const Node> a, b, c;
};

namespace {

using Node = Constraint::Node;
using NodePtr = std::shared_ptr<const Node>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

const Column& column_named(const Table& schema, const std::string& name, const std::string& rule) {
  GF_CHECK_AS(InvalidArgument, schema.has_column(name), "the columns: " + [&] {
    std::string all;
    for (const auto& n : schema.names()) all += (all.empty() ? "" : ", ") + n;
    return all;
  }(), "'", rule, "' names column '", name, "', which the data does not have");
  return schema.column(name);
}

size_t index_of(const Table& schema, const std::string& name) {
  const auto names = schema.names();
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

// A value written in a rule, for a column of the given kind: a number, a date, or a category label.
double number_for(const Column& c, const std::string& text, const std::string& rule) {
  double v = 0;
  bool integer = false;
  if (c.type == ColumnType::datetime) {
    GF_CHECK_AS(InvalidArgument, detail::parse_datetime(text, v), "write dates as YYYY-MM-DD[ HH:MM[:SS]]", "'", rule,
                "': '", text, "' is not a date (column '", c.name, "' holds dates)");
    return v;
  }
  GF_CHECK_AS(InvalidArgument, detail::parse_number(text, v, integer), "compare numeric columns with numbers", "'",
              rule, "': '", text, "' is not a number (column '", c.name, "' holds numbers)");
  return v;
}

void check_category(const Column& c, const std::string& label, const std::string& rule) {
  if (std::find(c.categories.begin(), c.categories.end(), label) != c.categories.end()) return;
  std::string known;
  for (size_t k = 0; k < c.categories.size() && k < 20; ++k) known += (k ? ", " : "") + c.categories[k];
  if (c.categories.size() > 20) known += ", ...";
  throw InvalidArgument(msg("'", rule, "': '", label, "' is not a category of column '", c.name, "'"),
                        "its categories: " + known);
}

class Parser {
 public:
  Parser(const std::string& text, const Table& schema) : s_(text), schema_(schema) {}

  NodePtr parse() {
    auto n = parse_or();
    skip();
    if (pos_ < s_.size()) fail("unexpected '" + s_.substr(pos_) + "'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidArgument(msg("constraint '", s_, "': ", what),
                          "write e.g. \"Body Mass (g) > 3000 and Island == 'Dream'\", \"a < b\", \"x in [0, 10]\" or "
                          "\"fixed(a, b)\"");
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool word(const char* w) {
    skip();
    const size_t n = std::strlen(w);
    if (lower(s_.substr(pos_, n)) != w) return false;
    if (pos_ + n < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_ + n])) || s_[pos_ + n] == '_')) {
      return false;
    }
    pos_ += n;
    return true;
  }
  bool symbol(const std::string& sym) {
    skip();
    if (s_.compare(pos_, sym.size(), sym) != 0) return false;
    pos_ += sym.size();
    return true;
  }
  static NodePtr make(Node::Kind kind, std::string op, NodePtr a, NodePtr b = {}, NodePtr c = {}) {
    auto n = std::make_shared<Node>();
    n->kind = kind, n->op = std::move(op), n->a = std::move(a), n->b = std::move(b), n->c = std::move(c);
    return n;
  }
  NodePtr parse_or() {
    auto n = parse_and();
    while (word("or")) n = make(Node::either, "or", n, parse_and());
    return n;
  }
  NodePtr parse_and() {
    auto n = parse_not();
    while (word("and")) n = make(Node::both, "and", n, parse_not());
    return n;
  }
  NodePtr parse_not() {
    if (word("not")) return make(Node::negate, "not", parse_not());
    return parse_compare();
  }
  NodePtr parse_compare() {
    auto left = parse_sum();
    if (word("in")) {
      if (!symbol("[")) fail("expected '[' after 'in'");
      auto lo = parse_sum();
      if (!symbol(",")) fail("expected ',' in the range");
      auto hi = parse_sum();
      if (!symbol("]")) fail("expected ']' closing the range");
      return typed_compare(make(Node::in_range, "in", left, lo, hi));
    }
    for (const char* op : {"<=", ">=", "==", "!=", "<", ">", "="}) {
      if (symbol(op)) {
        return typed_compare(make(Node::compare, std::string(op) == "=" ? "==" : op, left, parse_sum()));
      }
    }
    return left;
  }
  NodePtr parse_sum() {
    auto n = parse_product();
    for (;;) {
      if (symbol("+")) {
        n = make(Node::arith, "+", n, parse_product());
      } else if (symbol("-")) {
        n = make(Node::arith, "-", n, parse_product());
      } else {
        return n;
      }
    }
  }
  NodePtr parse_product() {
    auto n = parse_unary();
    for (;;) {
      if (symbol("*")) {
        n = make(Node::arith, "*", n, parse_unary());
      } else if (symbol("/")) {
        n = make(Node::arith, "/", n, parse_unary());
      } else {
        return n;
      }
    }
  }
  NodePtr parse_unary() {
    if (symbol("-")) {
      auto zero = std::make_shared<Node>();
      zero->kind = Node::number;
      return make(Node::arith, "-", zero, parse_unary());
    }
    return parse_atom();
  }
  NodePtr parse_atom() {
    skip();
    if (pos_ >= s_.size()) fail("the expression ends too early");
    auto n = std::make_shared<Node>();
    if (symbol("(")) {
      auto inner = parse_or();
      if (!symbol(")")) fail("expected ')'");
      return inner;
    }
    const char ch = s_[pos_];
    if (ch == '\'' || ch == '"') {
      const auto end = s_.find(ch, pos_ + 1);
      if (end == std::string::npos) fail("a quoted text is not closed");
      n->kind = Node::text, n->label = s_.substr(pos_ + 1, end - pos_ - 1);
      pos_ = end + 1;
      return n;
    }
    if (ch == '`') {
      const auto end = s_.find('`', pos_ + 1);
      if (end == std::string::npos) fail("a `quoted` column name is not closed");
      const std::string name = s_.substr(pos_ + 1, end - pos_ - 1);
      pos_ = end + 1;
      return column_node(name);
    }
    // The longest column name written here (names may hold spaces and parentheses).
    size_t best = 0;
    for (const auto& name : schema_.names()) {
      if (name.size() > best && s_.compare(pos_, name.size(), name) == 0) {
        const size_t after = pos_ + name.size();
        if (after == s_.size() || !(std::isalnum(static_cast<unsigned char>(s_[after])) || s_[after] == '_')) {
          best = name.size();
        }
      }
    }
    if (best > 0) {
      const std::string name = s_.substr(pos_, best);
      pos_ += best;
      return column_node(name);
    }
    char* end = nullptr;
    const double v = std::strtod(s_.c_str() + pos_, &end);
    if (end != s_.c_str() + pos_ && (std::isdigit(static_cast<unsigned char>(ch)) || ch == '.')) {
      n->kind = Node::number, n->value = v;
      pos_ = static_cast<size_t>(end - s_.c_str());
      return n;
    }
    size_t stop = pos_;
    while (stop < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[stop])) || s_[stop] == '_')) ++stop;
    if (stop > pos_) column_named(schema_, s_.substr(pos_, stop - pos_), s_);  // names the unknown column
    fail("unexpected '" + s_.substr(pos_) + "'");
  }
  NodePtr column_node(const std::string& name) {
    column_named(schema_, name, s_);
    auto n = std::make_shared<Node>();
    n->kind = Node::column, n->col = index_of(schema_, name), n->label = name;
    return n;
  }
  bool is_text(const NodePtr& n) const {
    return n->kind == Node::text ||
           (n->kind == Node::column && schema_.columns()[n->col].type == ColumnType::categorical);
  }
  // Operands of one comparison agree in kind: a category column meets labels, other columns numbers (a text
  // beside a datetime column is read as a date).
  NodePtr typed_compare(NodePtr n) {
    auto node = std::const_pointer_cast<Node>(n);
    std::vector<NodePtr*> operands = {&node->a, &node->b};
    if (node->c) operands.push_back(&node->c);
    const Column* anchor = nullptr;
    for (auto* o : operands) {
      if ((*o)->kind == Node::column) anchor = &schema_.columns()[(*o)->col];
    }
    const bool text_side = anchor ? anchor->type == ColumnType::categorical : is_text(node->a);
    for (auto* o : operands) {
      if ((*o)->kind == Node::text && anchor && anchor->type == ColumnType::datetime) {
        auto date = std::make_shared<Node>();
        date->kind = Node::number, date->value = number_for(*anchor, (*o)->label, s_);
        *o = date;
      }
      if (is_text(*o) != text_side) {
        fail("compares " + std::string(text_side ? "categories" : "numbers") + " with " +
             (text_side ? "a number" : "a category or text"));
      }
      if ((*o)->kind == Node::text && anchor) check_category(*anchor, (*o)->label, s_);
    }
    if (text_side && (node->kind == Node::in_range || (node->op != "==" && node->op != "!="))) {
      fail("categories compare only with == and !=");
    }
    return node;
  }

  std::string s_;
  const Table& schema_;
  size_t pos_ = 0;
};

struct Value {
  bool missing = false;
  double num = 0;
  const std::string* text = nullptr;
};

Value eval_value(const Node& n, const Table& rows, size_t i) {
  switch (n.kind) {
    case Node::number: return {false, n.value, nullptr};
    case Node::text: return {false, 0, &n.label};
    case Node::column: {
      const Column& c = rows.columns()[n.col];
      if (c.missing[i]) return {true, 0, nullptr};
      if (c.type == ColumnType::categorical) return {false, 0, &c.categories[static_cast<size_t>(c.values[i])]};
      return {false, c.values[i], nullptr};
    }
    case Node::arith: {
      const Value a = eval_value(*n.a, rows, i), b = eval_value(*n.b, rows, i);
      if (a.missing || b.missing) return {true, 0, nullptr};
      const double v = n.op == "+" ? a.num + b.num : n.op == "-" ? a.num - b.num : n.op == "*" ? a.num * b.num
                                                                                                : a.num / b.num;
      return {false, v, nullptr};
    }
    default: throw InvalidArgument("a condition is used as a value (write comparisons inside and/or/not)");
  }
}

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (a.text || b.text) {
    const bool equal = a.text && b.text && *a.text == *b.text;
    return op == "==" ? equal : !equal;
  }
  if (op == "<") return a.num < b.num;
  if (op == "<=") return a.num <= b.num;
  if (op == ">") return a.num > b.num;
  if (op == ">=") return a.num >= b.num;
  if (op == "==") return a.num == b.num;
  return a.num != b.num;
}

bool holds(const Node& n, const Table& rows, size_t i) {
  switch (n.kind) {
    case Node::both: return holds(*n.a, rows, i) && holds(*n.b, rows, i);
    case Node::either: return holds(*n.a, rows, i) || holds(*n.b, rows, i);
    case Node::negate: return !holds(*n.a, rows, i);
    case Node::compare: {
      const Value a = eval_value(*n.a, rows, i), b = eval_value(*n.b, rows, i);
      return a.missing || b.missing || compare(n.op, a, b);
    }
    case Node::in_range: {
      const Value v = eval_value(*n.a, rows, i), lo = eval_value(*n.b, rows, i), hi = eval_value(*n.c, rows, i);
      return v.missing || lo.missing || hi.missing || (v.num >= lo.num && v.num <= hi.num);
    }
    default: throw InvalidArgument("a constraint must be a comparison (e.g. x > 0), not a value");
  }
}

// Single-column bounds of a conjunction, or false when the constraint is anything else.
bool collect_bounds(const Node& n, const Table& schema, std::vector<ColumnBounds>& out) {
  if (n.kind == Node::both) return collect_bounds(*n.a, schema, out) && collect_bounds(*n.b, schema, out);
  if (n.kind == Node::in_range && n.a->kind == Node::column && n.b->kind == Node::number && n.c->kind == Node::number) {
    out.push_back({schema.columns()[n.a->col].name, n.b->value, n.c->value});
    return true;
  }
  if (n.kind != Node::compare) return false;
  const bool col_left = n.a->kind == Node::column && (n.b->kind == Node::number || n.b->kind == Node::text);
  const bool col_right = n.b->kind == Node::column && (n.a->kind == Node::number || n.a->kind == Node::text);
  if (!col_left && !col_right) return false;
  const Node& col = col_left ? *n.a : *n.b;
  const Node& lit = col_left ? *n.b : *n.a;
  std::string op = n.op;
  if (col_right) op = op == "<" ? ">" : op == ">" ? "<" : op == "<=" ? ">=" : op == ">=" ? "<=" : op;
  ColumnBounds b;
  b.column = schema.columns()[col.col].name;
  if (lit.kind == Node::text) {
    if (op != "==") return false;
    b.category = lit.label;
  } else if (op == "==") {
    b.lo = b.hi = lit.value;
  } else if (op == ">" || op == ">=") {
    b.lo = lit.value, b.lo_open = op == ">";
  } else if (op == "<" || op == "<=") {
    b.hi = lit.value, b.hi_open = op == "<";
  } else {
    return false;
  }
  out.push_back(b);
  return true;
}

std::string row_key(const Table& t, const std::vector<size_t>& cols, size_t i) {
  std::string key;
  for (size_t c : cols) {
    const Column& col = t.columns()[c];
    if (col.missing[i]) {
      key += "\x1e";
    } else if (col.type == ColumnType::categorical) {
      key += col.categories[static_cast<size_t>(col.values[i])];
    } else {
      key += msg(col.values[i]);
    }
    key += "\x1f";
  }
  return key;
}

}  // namespace

Constraint Constraint::parse(const std::string& text_in, const Table& schema) {
  Constraint c;
  c.text_ = trim_blanks(text_in);
  GF_CHECK_AS(InvalidArgument, !c.text_.empty(), "write a rule such as \"x > 0\"", "a constraint is empty");
  if (lower(c.text_.substr(0, 6)) == "fixed(" && c.text_.back() == ')') {
    for (const auto& part : split_list(c.text_.substr(6, c.text_.size() - 7))) {
      const std::string name = trim_blanks(part);
      column_named(schema, name, c.text_);
      c.fixed_columns_.push_back(name);
    }
    GF_CHECK_AS(InvalidArgument, c.fixed_columns_.size() >= 2, "name at least two columns: fixed(a, b)",
                "constraint '", c.text_, "' fixes the combinations of fewer than two columns");
    std::vector<size_t> cols;
    for (const auto& name : c.fixed_columns_) cols.push_back(index_of(schema, name));
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < schema.n_rows(); ++i) {
      if (seen.insert(row_key(schema, cols, i)).second) c.fixed_combinations_.push_back(row_key(schema, cols, i));
    }
    return c;
  }
  c.root_ = Parser(c.text_, schema).parse();
  GF_CHECK_AS(InvalidArgument,
              c.root_->kind == Node::compare || c.root_->kind == Node::in_range || c.root_->kind == Node::both ||
                  c.root_->kind == Node::either || c.root_->kind == Node::negate,
              "compare it with something, e.g. x > 0", "constraint '", c.text_, "' is a value, not a rule");
  std::vector<ColumnBounds> bounds;
  if (collect_bounds(*c.root_, schema, bounds)) c.bounds_ = bounds;
  return c;
}

std::vector<uint8_t> Constraint::check(const Table& rows) const {
  std::vector<uint8_t> ok(rows.n_rows(), 1);
  if (!fixed_columns_.empty()) {
    std::vector<size_t> cols;
    for (const auto& name : fixed_columns_) cols.push_back(index_of(rows, name));
    const std::unordered_set<std::string> allowed(fixed_combinations_.begin(), fixed_combinations_.end());
    for (size_t i = 0; i < rows.n_rows(); ++i) ok[i] = allowed.count(row_key(rows, cols, i)) > 0;
    return ok;
  }
  for (size_t i = 0; i < rows.n_rows(); ++i) ok[i] = holds(*root_, rows, i);
  return ok;
}

ColumnBounds parse_condition(const std::string& text_in, const Table& schema) {
  const std::string text = trim_blanks(text_in);
  const std::string hint = "write col=value or \"col in [lo, hi]\"";
  ColumnBounds b;
  b.require_present = true;
  const auto in = lower(text).find(" in [");
  if (in != std::string::npos) {
    b.column = trim_blanks(text.substr(0, in));
    const Column& c = column_named(schema, b.column, text);
    GF_CHECK_AS(InvalidArgument, c.type != ColumnType::categorical, "condition a category column on one value: col=value",
                "condition '", text, "': column '", c.name, "' is categorical, so it has no range");
    const std::string inside = text.substr(in + 5);
    const auto comma = inside.find(','), close = inside.rfind(']');
    GF_CHECK_AS(InvalidArgument, comma != std::string::npos && close != std::string::npos && close > comma, hint,
                "condition '", text, "' is not a range [lo, hi]");
    b.lo = number_for(c, trim_blanks(inside.substr(0, comma)), text);
    b.hi = number_for(c, trim_blanks(inside.substr(comma + 1, close - comma - 1)), text);
    GF_CHECK_AS(InvalidArgument, b.lo <= b.hi, "give the smaller bound first", "condition '", text,
                "' has its lower bound above its upper bound");
    return b;
  }
  const auto eq = text.find('=');
  GF_CHECK_AS(InvalidArgument, eq != std::string::npos && eq > 0, hint, "condition '", text,
              "' is neither col=value nor a range");
  b.column = trim_blanks(text.substr(0, eq));
  const Column& c = column_named(schema, b.column, text);
  std::string value = trim_blanks(text.substr(eq + 1));
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  if (c.type == ColumnType::categorical) {
    check_category(c, value, text);
    b.category = value;
  } else {
    b.lo = b.hi = number_for(c, value, text);
  }
  return b;
}

std::vector<ColumnBounds> merge_bounds(const std::vector<ColumnBounds>& bounds, const std::vector<std::string>& why) {
  std::vector<ColumnBounds> out;
  std::vector<std::string> reasons;
  for (size_t k = 0; k < bounds.size(); ++k) {
    const auto& b = bounds[k];
    auto it = std::find_if(out.begin(), out.end(), [&](const ColumnBounds& o) { return o.column == b.column; });
    const std::string reason = k < why.size() ? why[k] : b.column;
    if (it == out.end()) {
      out.push_back(b);
      reasons.push_back(reason);
      continue;
    }
    auto& m = *it;
    std::string& said = reasons[static_cast<size_t>(it - out.begin())];
    const std::string both = "'" + said + "' and '" + reason + "'";
    if (!b.category.empty() || !m.category.empty()) {
      GF_CHECK_AS(InvalidArgument, m.category == b.category || b.category.empty() || m.category.empty(),
                  "drop one of them", both, " ask column '", b.column, "' for two different categories");
      if (m.category.empty()) m.category = b.category;
    }
    if (b.lo > m.lo || (b.lo == m.lo && b.lo_open)) m.lo = b.lo, m.lo_open = b.lo_open;
    if (b.hi < m.hi || (b.hi == m.hi && b.hi_open)) m.hi = b.hi, m.hi_open = b.hi_open;
    m.require_present = m.require_present || b.require_present;
    said += "' and '" + reason;
    GF_CHECK_AS(InvalidArgument, m.lo < m.hi || (m.lo == m.hi && !m.lo_open && !m.hi_open),
                "relax one of them", "contradictory rules: ", both, " leave column '", b.column, "' no values");
  }
  return out;
}

std::vector<uint8_t> check_bounds(const std::vector<ColumnBounds>& bounds, const Table& rows) {
  std::vector<uint8_t> ok(rows.n_rows(), 1);
  for (const auto& b : bounds) {
    const Column& c = rows.column(b.column);
    for (size_t i = 0; i < rows.n_rows(); ++i) {
      if (c.missing[i]) {
        ok[i] &= !b.require_present;
        continue;
      }
      if (!b.category.empty()) {
        ok[i] &= c.categories[static_cast<size_t>(c.values[i])] == b.category;
        continue;
      }
      const double v = c.values[i];
      ok[i] &= (b.lo_open ? v > b.lo : v >= b.lo) && (b.hi_open ? v < b.hi : v <= b.hi);
    }
  }
  return ok;
}

}  // namespace gf::apps
