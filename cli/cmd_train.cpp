#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/data/matrix.h"
#include "genforge/data/npy.h"
#include "genforge/registry.h"

namespace gf::cli {
namespace {

std::string options_help(const ModelInfo& info) {
  std::ostringstream out;
  out << "\nOptions of model '" << info.name << "' (set with --set key=value or in --config):\n";
  for (const auto& s : info.option_specs()) {
    std::string head = "  " + s.name + " (" + s.type + ", default " + (s.default_value.empty() ? "''" : s.default_value) + ")";
    out << head << "\n      " << s.help;
    if (!s.choices.empty()) {
      out << " [";
      for (size_t i = 0; i < s.choices.size(); ++i) out << (i ? " | " : "") << s.choices[i];
      out << "]";
    }
    out << "\n";
  }
  auto names = info.create(nlohmann::json::object(), {})->init_names();
  if (!names.empty()) {
    out << "\nInitial values / priors from .npy files (--init NAME=FILE.npy):";
    for (const auto& n : names) out << " " << n;
    out << "\n";
  }
  return out.str();
}

}  // namespace

int run_train(int argc, char** argv) {
  CLI::App app("fit a model to data and save it", "train");
  std::string model_name, data, out, columns, config, weights_column, validation;
  std::vector<std::string> sets, inits;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_name, "registered model name (genforge models)")->required();
  app.add_option("--data", data, "training table: .csv .tsv .json (records) .npy")->required();
  app.add_option("--out,-o", out, "model file to write (.gf)")->required();
  app.add_option("--columns", columns, "comma-separated columns to use (default: all)");
  app.add_option("--weights", weights_column, "column holding per-row sample weights");
  app.add_option("--config", config, "JSON file of options ({\"options\": {...}} or a flat object)");
  app.add_option("--set", sets, "option override key=value (repeatable; applied after --config)");
  app.add_option("--init", inits, "initial value or prior NAME=FILE.npy (repeatable; names in train MODEL --help)");
  app.add_option("--validation", validation, "held-out table (same columns) scored after fitting");
  app.add_flag("--json", json, "print the fit report as JSON");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  // `genforge train gmm --help` lists that model's options with their defaults.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << app.help();
      if (i > 1 && argv[1][0] != '-') std::cout << options_help(model_info(argv[1]));
      return 0;
    }
  }
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);

  nlohmann::json options = nlohmann::json::object();
  if (!config.empty()) {
    auto cfg = read_json_file(config);
    GF_CHECK_AS(InvalidArgument, cfg.is_object(), "a config is a JSON object of options", "'", config,
                "' is not a JSON object");
    options = cfg.contains("options") ? cfg["options"] : cfg;
  }
  auto model = create_model(model_name, options, parse_set_pairs(sets));
  for (const auto& [name, file] : parse_set_pairs(inits, "--init")) model->set_init(name, read_npy(file));
  check_writable(out);

  Table table = load_table(data, table_flags);
  std::vector<std::string> use = columns.empty() ? table.names() : split_list(columns);
  Dataset ds;
  if (!weights_column.empty()) {
    const Column& wc = table.column(weights_column);
    GF_CHECK_AS(DataError, wc.is_numeric() && wc.n_missing() == 0, "give a numeric column without missing cells",
                "weights column '", weights_column, "' must be numeric and complete");
    ds.sample_weight = torch::tensor(wc.values, torch::kFloat64);
    use.erase(std::remove(use.begin(), use.end(), weights_column), use.end());
  }
  Table features = table.select(use);
  ds.x = numeric_matrix(features);
  ds.columns = features.names();
  FitContext ctx;
  ctx.progress = Progress::enabled();
  Dataset held_out;
  if (!validation.empty()) {
    held_out.x = numeric_matrix(load_table(validation, table_flags).select(ds.columns));
    held_out.columns = ds.columns;
    ctx.validation = &held_out;
  }
  FitReport report = model->fit(ds, ctx);
  save_model(*model, out);
  if (json) {
    std::cout << report.to_json().dump(2) << "\n";
  } else {
    std::cout << model_name << ": " << ds.x.size(0) << " rows x " << ds.x.size(1) << " columns, " << report.n_iter
              << " iterations, " << (report.converged ? "converged" : "NOT converged") << ", "
              << report.objective_name << " " << report.objective << ", " << report.seconds << " s\n";
    for (const auto& [key, value] : report.extra.items()) {
      if (key.rfind("validation_", 0) == 0) std::cout << key.substr(11) << " on " << validation << ": " << value << "\n";
    }
    std::cout << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
