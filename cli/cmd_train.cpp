#include <ATen/Context.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/drift.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/distributed.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"
#include "genforge/viz/plot.h"
#include "genforge/workflow.h"

namespace gf::cli {
namespace {

void print_specs(std::ostream& out, const std::vector<OptionSpec>& specs) {
  for (const auto& s : specs) {
    out << "  " << s.name << " (" << s.type << ", default " << (s.default_value.empty() ? "''" : s.default_value)
        << ")\n      " << s.help;
    if (!s.choices.empty()) {
      out << " [";
      for (size_t i = 0; i < s.choices.size(); ++i) out << (i ? " | " : "") << s.choices[i];
      out << "]";
    }
    out << "\n";
  }
}

std::string options_help(const ModelInfo& info) {
  std::ostringstream out;
  out << "\nOptions of model '" << info.name << "' (set with --set key=value, --key value, or in --config):\n";
  // A model option named like a pipeline option of its data (gpt's vocab_size for token-id data) is set through the
  // pipeline by that name, so only the pipeline's is shown.
  auto own = info.option_specs();
  own.erase(std::remove_if(own.begin(), own.end(), [&](const OptionSpec& s) { return info.is_pipeline_option(s.name); }),
            own.end());
  print_specs(out, own);
  const auto pipeline = info.pipeline_option_specs();
  if (!pipeline.empty()) {
    out << "\nInput pipeline for " << to_string(info.data_kind) << " data (fitted with the model, saved in the .gf; "
        << "--key value or --set key=value):\n";
    print_specs(out, pipeline);
  }
  auto names = info.create()->init_names();
  if (!names.empty()) {
    out << "\nInitial values / priors from .npy files (--init NAME=FILE.npy):";
    for (const auto& n : names) out << " " << n;
    out << "\n";
  }
  return out.str();
}

torch::Device parse_device(const std::string& text) {
  std::optional<torch::Device> device;
  try {
    device.emplace(text);
  } catch (const std::exception&) {
    throw InvalidArgument(msg("unknown device '", text, "'"), "use cpu, cuda or cuda:N");
  }
  GF_CHECK_AS(InvalidArgument, !device->is_cuda() || at::hasCUDA(),
              "this genforge was built against a CPU-only LibTorch; use --device cpu", "device '", text,
              "' is not available");
  return *device;
}

// Records the model's score distribution in its file (for `drift` and `serve`); a model that cannot score this
// data is saved without one.
void record_score_profile(Model& model, const data::Source& source, bool validation, int64_t items) {
  if (items <= 0) return;
  try {
    apps::attach_score_profile(model, source, validation ? "validation data" : "training data", items);
  } catch (const Error& e) {
    std::cerr << "note: no score profile recorded (" << e.what() << ")\n";
  }
}

// `train MODEL --select bic --set KEY=LO:HI`: fits one model per value, prints and draws the criterion, keeps the best.
int train_selected(const ModelInfo& info, const nlohmann::json& options, const OptionOverrides& overrides,
                   const std::string& select, const data::Source& source, const FitContext& ctx,
                   const std::string& out, bool json, int64_t profile_items) {
  const Criterion criterion = criterion_from_string(select);
  OptionOverrides fixed;
  std::string key;
  std::vector<std::string> values;
  for (const auto& [k, v] : overrides) {
    auto sweep = sweep_values(v);
    if (sweep.empty()) {
      fixed.emplace_back(k, v);
      continue;
    }
    GF_CHECK_AS(InvalidArgument, key.empty(), "sweep one option at a time", "--select sweeps '", key, "' already; '",
                k, "' is a sweep too");
    key = k;
    values = sweep;
  }
  GF_CHECK_AS(InvalidArgument, !key.empty(), "e.g. --select bic --set n_components=1:10",
              "--select needs one option given as a sweep LO:HI or a|b|c");
  const Selection sel = select_model(info, options, fixed, key, values, criterion, source, ctx);
  if (!dist::world().writer()) return 0;  // a distributed job: rank 0 writes and prints
  const std::string stem = out.size() > 3 && out.compare(out.size() - 3, 3, ".gf") == 0 ? out.substr(0, out.size() - 3)
                                                                                        : out;
  write_csv(stem + ".selection.csv", sel.table());
  viz::Series curve;
  curve.line = true;
  curve.label = std::string(to_string(criterion)) + " (lower is better)";
  for (size_t i = 0; i < sel.values.size(); ++i) {
    char* end = nullptr;
    const double x = std::strtod(sel.values[i].c_str(), &end);
    curve.x.push_back(end && *end == 0 ? x : static_cast<double>(i));
    curve.y.push_back(sel.scores[i]);
  }
  viz::Series best{{curve.x[sel.best]}, {curve.y[sel.best]}, viz::series_color(1), "kept: " + key + "=" + sel.values[sel.best]};
  viz::PlotOptions po;
  po.title = info.name + ": " + to_string(criterion) + " by " + key;
  po.x_label = key;
  po.y_label = to_string(criterion);
  viz::write_scatter_png(stem + ".selection.png", {curve, best}, po);
  record_score_profile(*sel.model, source, false, profile_items);
  save_model(*sel.model, out);
  if (json) {
    nlohmann::json j = {{"key", key}, {"criterion", to_string(criterion)}, {"best", sel.values[sel.best]},
                        {"values", sel.values}, {"scores", sel.scores}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << key << "  " << to_string(criterion) << "\n";
  for (size_t i = 0; i < sel.values.size(); ++i) {
    std::printf("%s  %.4f%s%s\n", sel.values[i].c_str(), sel.scores[i], sel.reports[i].converged ? "" : "  (NOT converged)",
                i == sel.best ? "  <- kept" : "");
  }
  std::cout << info.name << ": " << source.describe() << ", kept " << key << "=" << sel.values[sel.best] << "\nwrote "
            << out << ", " << stem << ".selection.csv, " << stem << ".selection.png\n";
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  CLI::App app("fit a model to data and save it", "train");
  app.allow_extras();
  std::string model_name, data, out, config, validation, run_dir, resume_dir, unlabelled;
  std::string device_name = "cpu";
  std::vector<std::string> sets, inits;
  int64_t limit = 0, profile_items = 2000;
  std::string select;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_name, "registered model name (genforge models)");
  app.add_option("--data", data,
                 "training data (docs/data.md): a table (.csv .tsv .json records .npy), fashion-mnist[:test], a folder "
                 "of images (PNG, JPEG, BMP, GIF, TGA, PNM; class sub-folders), an IDX file, brown[:CATEGORIES], a text file");
  app.add_option("--out,-o", out, "model file to write (.gf; default RUN_DIR/model.gf with --run-dir)");
  app.add_option("--config", config, "JSON file of options ({\"options\": {...}} or a flat object)");
  app.add_option("--set", sets, "option override key=value (repeatable; applied after --config)");
  app.add_option("--init", inits, "initial value or prior NAME=FILE.npy (repeatable; names in train MODEL --help)");
  app.add_option("--validation", validation, "held-out data (same kind and columns) for validation");
  app.add_option("--unlabelled", unlabelled, "images without labels to learn from beside --data's labelled ones "
                                             "(semi-supervised models: vae --set conditional=true --set "
                                             "semi_supervised=true)");
  app.add_option("--run-dir", run_dir, "run directory: config, metrics.jsonl, sample grids, loss.png, checkpoints");
  app.add_option("--resume", resume_dir, "continue the interrupted run in RUN_DIR with the options of its config.json");
  app.add_option("--device", device_name, "cpu, cuda or cuda:N (gradient-trained models)");
  app.add_option("--limit", limit, "use only the first N examples (rows, images, lines, documents) of --data");
  app.add_flag("--json", json, "print the fit report as JSON");
  app.add_option("--profile-items", profile_items,
                 "score this many validation (else training) items after fitting and keep their distribution in the "
                 "model file, for drift checks (0: none)");
  app.add_option("--select", select,
                 "model selection by aic or bic: one option is a sweep (--set n_components=1:10, or a|b|c); writes "
                 "OUT.selection.csv and .png and keeps the best model");
  app.footer("Any option of the model or its input pipeline may also be given as --key value (train MODEL --help).");
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
  if (!resume_dir.empty()) {
    // The run's own record of what it was started with; flags given now override it.
    const std::string saved = (std::filesystem::path(resume_dir) / "config.json").string();
    GF_CHECK_AS(InvalidArgument, std::filesystem::exists(saved), "give the run directory of a `train --run-dir` run",
                "'", resume_dir, "' has no config.json to resume from");
    auto cfg = read_json_file(saved);
    GF_CHECK_AS(InvalidArgument, model_name.empty() || model_name == cfg.value("model", ""),
                "leave out the model name when resuming, or give the run's", "the run in '", resume_dir,
                "' trains '", cfg.value("model", ""), "', not '", model_name, "'");
    model_name = cfg.value("model", "");
    options = cfg.value("options", nlohmann::json::object());
    options.update(cfg.value("pipeline", nlohmann::json::object()));
    if (!cfg.value("columns", "").empty()) options["columns"] = cfg["columns"];  // written before the pipeline
    if (data.empty()) data = cfg.value("data", "");
    if (limit == 0) limit = cfg.value("limit", int64_t{0});
    if (validation.empty()) validation = cfg.value("validation", "");
    if (unlabelled.empty()) unlabelled = cfg.value("unlabelled", "");
    // How the data was read (--na, --type, --delimiter, --classes, --image-size): the same data again unless given now.
    const auto read = cfg.value("read", nlohmann::json::object());
    if (table_flags.na.empty()) table_flags.na = read.value("na", std::vector<std::string>{});
    if (table_flags.types.empty()) table_flags.types = read.value("type", std::vector<std::string>{});
    if (table_flags.delimiter.empty()) table_flags.delimiter = read.value("delimiter", "");
    if (table_flags.thousands.empty()) table_flags.thousands = read.value("thousands", "");
    if (table_flags.classes.empty()) table_flags.classes = read.value("classes", std::vector<std::string>{});
    if (table_flags.image_size.empty()) table_flags.image_size = read.value("image_size", "");
    run_dir = resume_dir;
  }
  GF_CHECK_AS(InvalidArgument, !model_name.empty(), "e.g. genforge train gmm --data t.csv --out m.gf",
              "name the model to train (genforge models lists them)");
  GF_CHECK_AS(InvalidArgument, !data.empty(), "e.g. --data table.csv or --data fashion-mnist", "--data is required");
  if (!config.empty()) {
    auto cfg = read_json_file(config);
    GF_CHECK_AS(InvalidArgument, cfg.is_object(), "a config is a JSON object of options", "'", config,
                "' is not a JSON object");
    options.update(cfg.contains("options") ? cfg["options"] : cfg);
  }
  const ModelInfo& info = model_info(model_name);
  OptionOverrides overrides = option_flags(app.remaining(), "train " + model_name);
  for (const auto& kv : parse_set_pairs(sets)) overrides.push_back(kv);
  if (!run_dir.empty()) {
    GF_CHECK_AS(InvalidArgument, info.trains_with_trainer(), "--run-dir and --resume are for gradient-trained models",
                "model '", model_name, "' does not train in steps, so it keeps no run directory");
    overrides.emplace_back("run_dir", run_dir);
    overrides.emplace_back("resume", resume_dir.empty() ? "false" : "true");
  }
  if (out.empty() && !run_dir.empty()) {
    std::filesystem::create_directories(run_dir);
    out = (std::filesystem::path(run_dir) / "model.gf").string();
  }
  GF_CHECK_AS(InvalidArgument, !out.empty(), "give --out model.gf (or --run-dir DIR)", "no output file given");
  check_writable(out);
  FitContext ctx;
  ctx.progress = Progress::enabled();
  ctx.device = parse_device(device_name);
  if (!select.empty()) {
    GF_CHECK_AS(InvalidArgument, inits.empty() && run_dir.empty() && validation.empty() && unlabelled.empty(),
                "select first, then train the kept settings with --init, --run-dir, --validation or --unlabelled",
                "--select does not combine with --init, --run-dir, --validation or --unlabelled");
    const auto source = data::load_source(data, info.data_kind, source_options(table_flags, limit));
    return train_selected(info, options, overrides, select, source, ctx, out, json, profile_items);
  }
  auto model = info.create(options, overrides);
  for (const auto& [name, file] : parse_set_pairs(inits, "--init")) model->set_init(name, read_npy(file));

  GF_CHECK_AS(NotSupported, unlabelled.empty() || info.has_option("semi_supervised"),
              "learn from unlabelled images with a semi-supervised model: " + join_names(semi_supervised_models()),
              "model '", model_name, "' does not learn from unlabelled examples");
  data::Source source = data::load_source(data, info.data_kind, source_options(table_flags, limit));
  if (!unlabelled.empty()) {
    source = data::with_unlabelled(source, load_unlabelled(unlabelled, info.data_kind, table_flags));
  }
  std::optional<data::Source> held_out;
  if (!validation.empty()) held_out = data::load_source(validation, info.data_kind, source_options(table_flags));
  // In a distributed job (genforge launch, torchrun) every rank fits; rank 0 writes the files and prints.
  const bool writer = dist::world().writer();
  if (!run_dir.empty() && writer) {
    std::filesystem::create_directories(run_dir);
    nlohmann::json record = {{"model", model_name},
                             {"options", model->options_json()},
                             {"pipeline", nlohmann::json::object()},
                             {"data", data},
                             {"limit", limit},
                             {"validation", validation},
                             {"unlabelled", unlabelled},
                             {"read",
                              {{"na", table_flags.na},
                               {"type", table_flags.types},
                               {"delimiter", table_flags.delimiter},
                               {"thousands", table_flags.thousands},
                               {"classes", table_flags.classes},
                               {"image_size", table_flags.image_size}}}};
    const auto all = data::PipelineOptions::option_table().to_json(model->pipeline_options());
    for (const auto& s : info.pipeline_option_specs()) record["pipeline"][s.name] = all[s.name];
    write_file_atomic((std::filesystem::path(run_dir) / "config.json").string(),
                      [&](std::ostream& o) { o << record.dump(2) << "\n"; });
  }
  FitReport report = fit_source(*model, source, ctx, held_out ? &*held_out : nullptr);
  if (!writer) return 0;
  record_score_profile(*model, held_out ? *held_out : source, held_out.has_value(), profile_items);
  save_model(*model, out);
  if (json) {
    std::cout << report.to_json().dump(2) << "\n";
  } else {
    const bool steps = info.trains_with_trainer();
    std::string described = source.describe();
    if (const auto* p = model->pipeline(); p && source.form == DataKind::table) {
      const size_t used = p->input_columns().size();  // --columns, or the sequence / weight columns set aside
      if (used != static_cast<size_t>(source.table.n_cols())) described += msg(" (", used, " used)");
    }
    std::cout << model_name << ": " << described << ", " << report.n_iter
              << (steps ? " steps" : " iterations") << ", "
              << (steps ? "run finished" : report.converged ? "converged" : "NOT converged") << ", "
              << report.objective_name << " " << report.objective << ", " << report.seconds << " s\n";
    bool validated = false;
    for (const auto& [key, value] : report.extra.items()) {
      if (key.rfind("validation_", 0) != 0) continue;
      std::cout << key.substr(11) << " on " << validation << ": " << value << "\n";
      validated = true;
    }
    if (!validation.empty() && !validated) {
      std::cout << "note: no validation figure was computed (the run was shorter than one validation interval)\n";
    }
    if (!run_dir.empty()) std::cout << "run directory: " << run_dir << "\n";
    std::cout << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
