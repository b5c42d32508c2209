// Internal: text without its leading and trailing spaces and tabs (CSV fields, rules, option lists).
#pragma once
#include <string>

namespace gf {

inline std::string trim_blanks(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace gf
