// The registry: model name -> factory and option table. One line per model in src/registry.cpp makes every CLI
// verb and the contract test suite work for it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/io/model_file.h"
#include "genforge/model.h"

namespace gf {

struct ModelInfo {
  std::string name;
  std::string summary;
  std::function<std::vector<OptionSpec>()> option_specs;
  // Creates an unfitted model; `options` (JSON object) overrides the defaults; `overrides` are key=value texts
  // applied afterwards (the CLI's --set). Unknown keys and bad values are gf::InvalidArgument.
  std::function<std::unique_ptr<Model>(const nlohmann::json& options,
                                       const std::vector<std::pair<std::string, std::string>>& overrides)>
      create;
};

const std::vector<ModelInfo>& registered_models();
const ModelInfo& model_info(const std::string& name);  // throws InvalidArgument listing the names

std::unique_ptr<Model> create_model(const std::string& name, const nlohmann::json& options = nlohmann::json::object(),
                                    const std::vector<std::pair<std::string, std::string>>& overrides = {});

// Builds a ModelInfo for a model class M that has `using Options = ...`, `static const OptionTable<Options>&
// option_table()` and a constructor taking Options.
template <class M>
ModelInfo make_model_info(std::string name, std::string summary) {
  ModelInfo info;
  info.name = std::move(name);
  info.summary = std::move(summary);
  info.option_specs = [] { return M::option_table().specs(); };
  info.create = [](const nlohmann::json& options, const std::vector<std::pair<std::string, std::string>>& overrides) {
    typename M::Options o;
    const auto& table = M::option_table();
    table.apply_json(o, options);
    for (const auto& kv : overrides) table.set(o, kv.first, kv.second);
    return std::unique_ptr<Model>(new M(o));
  };
  return info;
}

// Save / load through the .gf file. load_model checks the kind against the registry (and against
// `expected_kind` when given) and restores options, schema, fit report and state.
void save_model(const Model& model, const std::string& path);
std::unique_ptr<Model> load_model(const std::string& path, const std::string& expected_kind = "");
// The same from contents already read (`path` names them in errors), for callers that look at the kind first.
std::unique_ptr<Model> model_from_contents(const ModelFileContents& contents, const std::string& path,
                                           const std::string& expected_kind = "");

}  // namespace gf
