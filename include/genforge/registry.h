// The registry: model name -> factory and option table. One line per model in src/registry.cpp makes every CLI
// verb and the contract test suite work for it; register_model adds one at run time (plugins, tests).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/io/model_file.h"
#include "genforge/model.h"

namespace gf {

using OptionOverrides = std::vector<std::pair<std::string, std::string>>;

struct ModelInfo {
  std::string name;
  std::string summary;
  DataKind data_kind = DataKind::table;  // what the model takes (read once at registration)
  std::function<std::vector<OptionSpec>()> option_specs;  // the model's own options
  // An unfitted model from the model's own options: a JSON object, then key=value texts; unknown keys are
  // InvalidArgument.
  std::function<std::unique_ptr<Model>(const nlohmann::json& options, const OptionOverrides& sets)> construct;
  // Input-pipeline options whose default differs for this model (a synthesizer takes categories as ordinal codes).
  nlohmann::json pipeline_defaults = nlohmann::json::object();

  // The input-pipeline options that apply to this model's data kind, with their defaults.
  std::vector<OptionSpec> pipeline_option_specs() const;
  // Creates an unfitted model. `options` (JSON object) and then `overrides` (key=value texts, the CLI's --set) are
  // routed by key: input-pipeline keys of the model's data kind set the pipeline options, the others the model's.
  // Unknown keys and bad values are gf::InvalidArgument listing both kinds of keys.
  std::unique_ptr<Model> create(const nlohmann::json& options = nlohmann::json::object(),
                                const OptionOverrides& overrides = {}) const;
  // True when `key` is one of the model's or its pipeline's options.
  bool has_option(const std::string& key) const;
  // True when `key` is an input-pipeline option of this model's data kind.
  bool is_pipeline_option(const std::string& key) const;
  // True for models trained by the shared Trainer (their options include its run_dir): run directories, resume,
  // fine-tuning.
  bool trains_with_trainer() const { return has_option("run_dir"); }
};

const std::vector<ModelInfo>& registered_models();
const ModelInfo& model_info(const std::string& name);  // throws InvalidArgument listing the names
// The registered models whose default-constructed instance passes `has` (errors of a verb name the models that
// have the capability it needs), and names joined by ", ".
std::vector<std::string> registered_models_with(const std::function<bool(const Model&)>& has);
std::string join_names(const std::vector<std::string>& names);
// The models that learn from unlabelled examples beside labelled ones (a `semi_supervised` option).
std::vector<std::string> semi_supervised_models();

// Adds a model (a name already registered is InvalidArgument). Every verb and `genforge models` see it at once.
void register_model(ModelInfo info);

std::unique_ptr<Model> create_model(const std::string& name, const nlohmann::json& options = nlohmann::json::object(),
                                    const OptionOverrides& overrides = {});

// Builds a ModelInfo for a model class M that has `using Options = ...`, `static const OptionTable<Options>&
// option_table()` and a constructor taking Options.
template <class M>
ModelInfo make_model_info(std::string name, std::string summary,
                          nlohmann::json pipeline_defaults = nlohmann::json::object()) {
  ModelInfo info;
  info.name = std::move(name);
  info.summary = std::move(summary);
  info.pipeline_defaults = std::move(pipeline_defaults);
  info.data_kind = M(typename M::Options()).capabilities().data_kind;
  info.option_specs = [] { return M::option_table().specs(); };
  info.construct = [](const nlohmann::json& options, const OptionOverrides& sets) {
    typename M::Options o;
    const auto& table = M::option_table();
    table.apply_json(o, options);
    for (const auto& kv : sets) table.set(o, kv.first, kv.second);
    return std::unique_ptr<Model>(new M(o));
  };
  return info;
}

// Save / load through the .gf file. load_model checks the kind against the registry (and against
// `expected_kind` when given) and restores options, schema, fit report, state and input pipeline.
void save_model(const Model& model, const std::string& path);
// `sets` (key=value texts) change some of the saved model's own options for this use: those that say how it
// samples or scores (an RBM's estimator, gibbs_steps); unknown keys and input options are InvalidArgument.
// The adapters of a model with LoRA adapters alone (tensors named *lora_*), with the model's options, schema and
// pipeline and a reference to `base_path` (its path relative to `path`'s folder and its SHA-256): a file of a few
// kilobytes that load_model completes from the base. InvalidArgument for a model without adapters.
void save_adapters(const Model& model, const std::string& path, const std::string& base_path);
std::unique_ptr<Model> load_model(const std::string& path, const std::string& expected_kind = "",
                                  const OptionOverrides& sets = {});
// The same from contents already read (`path` names them in errors), for callers that look at the kind first.
std::unique_ptr<Model> model_from_contents(const ModelFileContents& contents, const std::string& path,
                                           const std::string& expected_kind = "", const OptionOverrides& sets = {});

}  // namespace gf
