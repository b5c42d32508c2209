#include <iostream>

#include "cli_common.h"
#include "genforge/apps/finetune.h"
#include "genforge/core/atomic_file.h"
#include "genforge/model_interfaces.h"
#include "genforge/viz/plot.h"
#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/core/runtime.h"
#include "genforge/data/tokenizers.h"
#include "genforge/data/pipeline.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"

namespace gf::cli {

int run_info(int argc, char** argv) {
  CLI::App app("describe a model file, a data source (--data), or the build (--build)", "info");
  std::string model_path, graph, data, read_as;
  int64_t limit = 0;
  TableFlags table_flags;
  bool build = false;
  CommonFlags common;
  app.add_option("model", model_path, "model file (.gf)");
  app.add_flag("--build", build, "print versions, threads, the BLAS/OpenMP libraries loaded and whether SentencePiece is");
  app.add_option("--graph", graph, "write the model's graph (bayesnet): .dot (Graphviz) or .png");
  bool parameters = false;
  app.add_flag("--parameters", parameters, "list the parameter tensors: name, shape, count (what finetune's --freeze "
                                           "and --train-only globs match)");
  app.add_option("--data", data,
                 "describe how genforge reads this data (docs/data.md): types, missing cells, ranges, categories, "
                 "image sizes and classes");
  app.add_option("--as", read_as,
                 "read --data as table | images | sequences | text | documents | tagged-text (default: images for "
                 "image files and folders, table for table files, else text)");
  app.add_option("--limit", limit, "read only the first N rows / images / lines");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  if (!data.empty()) {
    GF_CHECK_AS(InvalidArgument, model_path.empty(), "genforge info --data T (no model file)",
                "give a model file or --data, not both");
    const DataKind kind = !read_as.empty()            ? data_kind_from_string(read_as)
                          : data::is_table_file(data) ? DataKind::table
                          : data::is_image_spec(data) ? DataKind::images
                                                      : DataKind::text;
    std::cout << data::describe_source(data::load_source(data, kind, source_options(table_flags, limit))).dump(2)
              << "\n";
    return 0;
  }
  if (!graph.empty()) {
    GF_CHECK_AS(InvalidArgument, !model_path.empty(), "genforge info M.gf --graph G.png", "give a model file");
    check_writable(graph);
    const auto model = load_model(model_path);
    const auto* g = dynamic_cast<const GraphicalModel*>(model.get());
    GF_CHECK_AS(InvalidArgument, g != nullptr,
                "models with a graph: " + join_names(registered_models_with([](const Model& m) {
                  return dynamic_cast<const GraphicalModel*>(&m) != nullptr;
                })),
                "the ", model->kind(), " model has no graph over its columns");
    if (ends_with(graph, ".png")) {
      viz::write_graph_png(graph, g->node_names(), g->edges(), model->kind() + " graph");
    } else {
      write_file_atomic(graph, [&](std::ostream& o) { o << g->graphviz(); });
    }
    std::cout << "wrote " << graph << " (" << g->edges().size() << " edges)\n";
    return 0;
  }
  if (parameters) {
    GF_CHECK_AS(InvalidArgument, !model_path.empty(), "genforge info M.gf --parameters", "give a model file");
    const auto model = load_model(model_path);
    int64_t total = 0;
    size_t width = 4;
    const auto list = apps::parameter_list(*model);
    for (const auto& p : list) width = std::max(width, p.name.size());
    for (const auto& p : list) {
      std::string shape;
      for (size_t i = 0; i < p.shape.size(); ++i) shape += (i ? " x " : "") + std::to_string(p.shape[i]);
      std::cout << p.name << std::string(width + 2 - p.name.size(), ' ') << shape
                << std::string(shape.size() < 20 ? 20 - shape.size() : 1, ' ') << p.count << "\n";
      total += p.count;
    }
    std::cout << list.size() << " tensors, " << total << " parameters\n";
    return 0;
  }
  if (build) {
    auto info = build_info();
    std::string why;
    info["sentencepiece"] = sentencepiece_available(&why) ? "available" : why;
    std::cout << info.dump(2) << "\n";
    return 0;
  }
  GF_CHECK_AS(InvalidArgument, !model_path.empty(), "genforge info M.gf, or genforge info --build",
              "give a model file");
  auto contents = read_model_file(model_path);
  nlohmann::json tensors = nlohmann::json::object();
  for (const auto& kv : contents.tensors) tensors[kv.first] = kv.second.sizes().vec();
  bool registered = false;
  for (const auto& m : registered_models()) registered = registered || m.name == contents.kind;
  if (!registered) {
    // The same container written by other parts of genforge (the evaluation classifier): the stored fields as
    // they are, for any kind the registry does not know.
    nlohmann::json info = {{"file", model_path},          {"kind", contents.kind},
                           {"registered", false},         {"format_version", contents.format_version},
                           {"genforge_version", contents.genforge_version},
                           {"options", contents.options}, {"schema", contents.schema},
                           {"tensors", tensors}};
    std::cout << info.dump(2) << "\n";
    return 0;
  }
  auto model = model_from_contents(contents, model_path);
  nlohmann::json info = {{"file", model_path},
                         {"kind", model->kind()},
                         {"format_version", contents.format_version},
                         {"genforge_version", contents.genforge_version},
                         {"options", model->options_json()},
                         {"schema", model->schema()},
                         {"capabilities", model->capabilities().to_json()},
                         {"fit_report", model->fit_report().to_json()},
                         {"tensors", tensors}};
  if (const auto* p = model->pipeline()) {  // what the pipeline does, not its stored vocabulary
    nlohmann::json pipeline = {{"fitted_on", to_string(p->form())},
                               {"options", data::PipelineOptions::option_table().to_json(p->options())}};
    if (!p->encoders().empty()) pipeline["columns"] = p->to_json()["columns"];
    if (!p->class_names().empty()) pipeline["class_names"] = p->class_names();
    if (p->tokenizer()) pipeline["tokenizer"] = p->tokenizer()->kind(), pipeline["tokens"] = p->tokenizer()->size();
    if (p->vocabulary()) pipeline["vocabulary_size"] = p->vocabulary()->size();
    info["pipeline"] = pipeline;
  }
  info["fit_report"].erase("history");
  info["fit_report"]["history_length"] = model->fit_report().history.size();
  std::cout << info.dump(2) << "\n";
  return 0;
}

int run_models(int argc, char** argv) {
  CLI::App app("list the registered models", "models");
  bool json = false;
  app.add_flag("--json", json, "print as JSON");
  if (!parse_or_help(app, argc, argv)) return 0;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& info : registered_models()) {
    const auto model = info.create(nlohmann::json::object(), {});
    const auto caps = model->capabilities().to_json();
    // What `genforge transform` gives per item: a part (component, state, topic), a code, or nothing.
    const auto* parts = dynamic_cast<const PartAssigner*>(model.get());
    const std::string transform = parts ? parts->part_name() : caps["encoder"].get<bool>() ? "code" : "";
    all.push_back({{"name", info.name}, {"summary", info.summary}, {"capabilities", caps}, {"transform", transform},
                   {"finetune", apps::finetune_method(info)}});
  }
  if (json) {
    std::cout << all.dump(2) << "\n";
    return 0;
  }
  for (const auto& m : all) {
    const auto& c = m["capabilities"];
    std::cout << m["name"].get<std::string>() << "  " << m["summary"].get<std::string>() << "\n    data "
              << c["data_kind"].get<std::string>() << ", likelihood " << c["likelihood"].get<std::string>()
              << (c["conditional_sampling"].get<bool>() ? ", conditional sampling" : "")
              << (c["missing_values"].get<bool>() ? ", missing values" : "")
              << (c["sample_weights"].get<bool>() ? ", sample weights" : "")
              << (c["latent_space"].get<bool>() ? ", latent space" : "")
              << (m["transform"].get<std::string>().empty() ? "" : ", transform: " + m["transform"].get<std::string>())
              << (m["finetune"].get<std::string>().empty() ? "" : ", finetune: " + m["finetune"].get<std::string>())
              << "\n";
  }
  return 0;
}

}  // namespace gf::cli
