// Typed option tables. A model declares each option once (name, member, help, allowed values); the table then
// gives JSON round-trips for the model file, `--set key=value` parsing with clear errors, and the option list
// with defaults that `genforge train <model> --help` prints.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "genforge/core/error.h"

namespace gf {

// A list option: "a,b,c" -> {"a", "b", "c"} (or split at another separator); empty parts dropped.
std::vector<std::string> split_list(const std::string& text, char separator = ',');
// A list option of numbers, "500,500" -> {500, 500}; a part that is not a number is InvalidArgument naming `name`.
std::vector<int64_t> parse_int_list(const std::string& name, const std::string& text);
std::vector<double> parse_float_list(const std::string& name, const std::string& text);

// One option as shown to users.
struct OptionSpec {
  std::string name;
  std::string type;           // "int" | "float" | "bool" | "string"
  std::string default_value;  // as text
  std::string help;
  std::vector<std::string> choices;  // allowed values of a string option (empty = any)
};

namespace detail {
// Parses `text` as the option's type; throws gf::InvalidArgument naming the option on failure.
int64_t parse_int_option(const std::string& name, const std::string& text);
double parse_float_option(const std::string& name, const std::string& text);
bool parse_bool_option(const std::string& name, const std::string& text);
void check_choice(const std::string& name, const std::string& value, const std::vector<std::string>& choices);
[[noreturn]] void unknown_option(const std::string& model, const std::string& key,
                                 const std::vector<std::string>& known);
std::string json_type_name(const nlohmann::json& v);
std::string format_double(double v);
}  // namespace detail

template <class Options>
class OptionTable {
 public:
  explicit OptionTable(std::string owner) : owner_(std::move(owner)) {}

  OptionTable& add(const char* name, int64_t Options::*member, const char* help) {
    fields_.push_back({name, member, help, {}});
    return *this;
  }
  OptionTable& add(const char* name, double Options::*member, const char* help) {
    fields_.push_back({name, member, help, {}});
    return *this;
  }
  OptionTable& add(const char* name, bool Options::*member, const char* help) {
    fields_.push_back({name, member, help, {}});
    return *this;
  }
  OptionTable& add(const char* name, std::string Options::*member, const char* help,
                   std::vector<std::string> choices = {}) {
    fields_.push_back({name, member, help, std::move(choices)});
    return *this;
  }

  nlohmann::json to_json(const Options& options) const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& f : fields_) {
      std::visit([&](auto member) { out[f.name] = options.*member; }, f.member);
    }
    return out;
  }

  // Applies every key of `json` onto `options`; unknown keys and wrong types are errors.
  void apply_json(Options& options, const nlohmann::json& json) const {
    GF_CHECK(json.is_object(), owner_, " options must be a JSON object, got ", detail::json_type_name(json));
    for (auto it = json.begin(); it != json.end(); ++it) {
      const Field& f = find(it.key());
      const nlohmann::json& v = it.value();
      std::visit(
          [&](auto member) {
            using T = std::decay_t<decltype(options.*member)>;
            if constexpr (std::is_same_v<T, int64_t>) {
              GF_CHECK(v.is_number_integer(), "option '", f.name, "' must be an integer, got ",
                       detail::json_type_name(v), " ", v.dump());
              options.*member = v.template get<int64_t>();
            } else if constexpr (std::is_same_v<T, double>) {
              GF_CHECK(v.is_number(), "option '", f.name, "' must be a number, got ", detail::json_type_name(v),
                       " ", v.dump());
              options.*member = v.template get<double>();
            } else if constexpr (std::is_same_v<T, bool>) {
              GF_CHECK(v.is_boolean(), "option '", f.name, "' must be true or false, got ", v.dump());
              options.*member = v.template get<bool>();
            } else {
              GF_CHECK(v.is_string(), "option '", f.name, "' must be a string, got ", detail::json_type_name(v),
                       " ", v.dump());
              options.*member = v.template get<std::string>();
              detail::check_choice(f.name, options.*member, f.choices);
            }
          },
          f.member);
    }
  }

  // Applies one `key=value` given on the command line.
  void set(Options& options, const std::string& key, const std::string& text) const {
    const Field& f = find(key);
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(options.*member)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            options.*member = detail::parse_int_option(f.name, text);
          } else if constexpr (std::is_same_v<T, double>) {
            options.*member = detail::parse_float_option(f.name, text);
          } else if constexpr (std::is_same_v<T, bool>) {
            options.*member = detail::parse_bool_option(f.name, text);
          } else {
            detail::check_choice(f.name, text, f.choices);
            options.*member = text;
          }
        },
        f.member);
  }

  std::vector<OptionSpec> specs(const Options& defaults = Options()) const {
    std::vector<OptionSpec> out;
    for (const auto& f : fields_) {
      OptionSpec s;
      s.name = f.name;
      s.help = f.help;
      s.choices = f.choices;
      std::visit(
          [&](auto member) {
            using T = std::decay_t<decltype(defaults.*member)>;
            if constexpr (std::is_same_v<T, int64_t>) {
              s.type = "int";
              s.default_value = std::to_string(defaults.*member);
            } else if constexpr (std::is_same_v<T, double>) {
              s.type = "float";
              s.default_value = detail::format_double(defaults.*member);
            } else if constexpr (std::is_same_v<T, bool>) {
              s.type = "bool";
              s.default_value = defaults.*member ? "true" : "false";
            } else {
              s.type = "string";
              s.default_value = defaults.*member;
            }
          },
          f.member);
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  using Member = std::variant<int64_t Options::*, double Options::*, bool Options::*, std::string Options::*>;
  struct Field {
    std::string name;
    Member member;
    std::string help;
    std::vector<std::string> choices;
  };
  const Field& find(const std::string& key) const {
    for (const auto& f : fields_) {
      if (f.name == key) return f;
    }
    std::vector<std::string> known;
    for (const auto& f : fields_) known.push_back(f.name);
    detail::unknown_option(owner_, key, known);
  }
  std::string owner_;
  std::vector<Field> fields_;
};

}  // namespace gf
