#include "genforge/core/options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gf::detail {

int64_t parse_int_option(const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  GF_CHECK_AS(InvalidArgument, !text.empty() && end && *end == '\0' && errno == 0,
              "write a whole number, e.g. --set " + name + "=3", "option '", name, "' must be an integer, got '",
              text, "'");
  return v;
}

double parse_float_option(const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  GF_CHECK_AS(InvalidArgument, !text.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v),
              "write a finite number, e.g. --set " + name + "=0.001", "option '", name,
              "' must be a number, got '", text, "'");
  return v;
}

bool parse_bool_option(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  throw InvalidArgument(msg("option '", name, "' must be true or false, got '", text, "'"),
                        "write --set " + name + "=true or --set " + name + "=false");
}

void check_choice(const std::string& name, const std::string& value, const std::vector<std::string>& choices) {
  if (choices.empty()) return;
  for (const auto& c : choices) {
    if (c == value) return;
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
  throw InvalidArgument(msg("option '", name, "' must be one of ", list, ", got '", value, "'"),
                        "choose one of: " + list);
}

void unknown_option(const std::string& model, const std::string& key, const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  throw InvalidArgument(msg("unknown option '", key, "' for ", model),
                        "known options: " + list + " (see `genforge train " + model + " --help`)");
}

std::string json_type_name(const nlohmann::json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace gf::detail

namespace gf {

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(separator, start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& name, const std::string& text) {
  std::vector<int64_t> out;
  for (const auto& part : split_list(text)) out.push_back(detail::parse_int_option(name, part));
  return out;
}

std::vector<double> parse_float_list(const std::string& name, const std::string& text) {
  std::vector<double> out;
  for (const auto& part : split_list(text)) out.push_back(detail::parse_float_option(name, part));
  return out;
}

}  // namespace gf
