#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/finetune.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_finetune(int argc, char** argv) {
  CLI::App app("train a saved gradient-trained model further on new data, from its weights, with parameters frozen "
               "by name (two phases: the unfrozen part, then all at a lower learning rate)",
               "finetune");
  app.allow_extras();
  std::string base, data, out, run_dir, validation, test, confusion;
  std::vector<std::string> sets;
  apps::FinetuneOptions options;
  int64_t limit = 0;
  bool json = false, adapters_only = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("base", base, "the trained model to start from (.gf)")->required();
  app.add_option("--data", data, "the new training data, of the kind the base model takes")->required();
  app.add_option("--out,-o", out, "model file to write (.gf; default RUN_DIR/model.gf with --run-dir)");
  app.add_option("--run-dir", run_dir, "run directory: metrics.jsonl, loss.png, checkpoints (phase 1 in RUN_DIR/phase1)");
  app.add_option("--validation", validation, "held-out data for validation");
  app.add_option("--freeze", options.freeze, "parameter-name glob held fixed throughout (repeatable; "
                                             "`genforge info BASE.gf --parameters` lists the names)");
  app.add_option("--train-only", options.train_only, "parameter-name glob: the first phase trains only these (repeatable)");
  app.add_option("--unfreeze-after", options.unfreeze_after,
                 "steps of the first phase; then everything but --freeze trains (0: one phase)")->capture_default_str();
  app.add_option("--unfreeze-lr-scale", options.unfreeze_lr_scale, "second phase's learning rate = lr x this")
      ->capture_default_str();
  app.add_option("--lora", options.lora, "LoRA adapters trained alone: rank=R[,alpha=A][,targets=GLOB,...] (gpt: "
                                         "attn_c_attn, attn_c_proj, mlp_c_fc, mlp_c_proj; vae, autoencoder, mlp gan: "
                                         "linear layers such as codec.fc1, generator.0); `export --merge` folds them in");
  app.add_flag("--adapters-only", adapters_only,
               "with --lora: write the adapters alone (a small file that loads with the base model beside it)");
  app.add_option("--new-head", options.new_head,
                 "classes=K: the base's encoder or discriminator below its last layer with a new K-class softmax head, "
                 "trained on labelled data (the result is a classifier; head parameters: head.weight, head.bias); "
                 "vocab: a language model's network on a tokenizer learned from --data (same kind and settings), "
                 "token rows shared with the base's vocabulary kept");
  app.add_flag("--reinit", options.reinitialise,
               "the same network with freshly initialised weights (the from-scratch baseline)");
  app.add_option("--test", test, "labelled data scored after training: accuracy, macro precision / recall / F1");
  app.add_option("--confusion", confusion, "with --test: the confusion matrix as a PNG");
  app.add_option("--set", sets, "training option key=value, e.g. --set max_steps=500 --set lr=3e-4 (repeatable)");
  app.add_option("--limit", limit, "use only the first N examples of --data");
  app.add_flag("--json", json, "print the fit report (with the fine-tuning record) as JSON");
  app.footer("Training options may also be given as --key value (genforge train MODEL --help lists them).");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  options.settings = option_flags(app.remaining(), "finetune");
  for (const auto& kv : parse_set_pairs(sets)) options.settings.push_back(kv);
  if (!run_dir.empty()) options.settings.emplace_back("run_dir", run_dir);
  if (out.empty() && !run_dir.empty()) out = (std::filesystem::path(run_dir) / "model.gf").string();
  GF_CHECK_AS(InvalidArgument, !out.empty(), "give --out model.gf (or --run-dir DIR)", "no output file given");
  if (!run_dir.empty()) std::filesystem::create_directories(run_dir);
  check_writable(out);
  GF_CHECK_AS(InvalidArgument, !adapters_only || !options.lora.empty(), "add --lora rank=R to train adapters",
              "--adapters-only saves LoRA adapters, and no --lora was given");
  GF_CHECK_AS(InvalidArgument, confusion.empty() || !test.empty(), "add --test DATA (labelled)",
              "--confusion draws the classification of --test data, and no --test was given");
  if (!confusion.empty()) check_writable(confusion);
  const auto kind = load_model(base)->capabilities().data_kind;
  const data::Source source = data::load_source(data, kind, source_options(table_flags, limit));
  std::optional<data::Source> held_out;
  if (!validation.empty()) held_out = data::load_source(validation, kind, source_options(table_flags));
  FitContext ctx;
  ctx.progress = !common.quiet;
  auto result = apps::finetune(base, source, options, ctx, held_out ? &*held_out : nullptr);
  if (adapters_only) {
    save_adapters(*result.model, out, base);
  } else {
    save_model(*result.model, out);
  }
  std::optional<ScoreResult> tested;
  if (!test.empty()) {
    tested = score_source(*result.model, data::load_source(test, kind, source_options(table_flags)));
    if (!confusion.empty()) write_confusion(confusion, *tested, result.model->kind(), test);
  }
  if (json) {
    nlohmann::json j = result.report.to_json();
    if (tested) j["test"] = tested->summary;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const auto& phase : result.record["phases"]) {
    std::cout << "phase: " << phase["steps"] << " steps at lr " << phase["lr"] << ", trained "
              << phase["trained"]["parameters"] << " parameters (" << phase["trained"]["names"].size()
              << " tensors), frozen " << phase["frozen"]["parameters"] << "\n";
  }
  if (result.record.contains("method")) {
    std::cout << result.model->kind() << ": " << result.record["method"].get<std::string>() << "\n";
  }
  std::cout << result.model->kind() << " fine-tuned from " << base << " on " << source.describe() << ", "
            << result.report.objective_name << " " << result.report.objective << "\n";
  for (const auto& [key, value] : result.report.extra.items()) {
    if (key.rfind("validation_", 0) == 0) std::cout << key.substr(11) << " on " << validation << ": " << value << "\n";
  }
  if (tested) std::cout << "test (" << test << "): " << tested->description << "\n";
  std::cout << "wrote " << out << "\n";
  if (!confusion.empty()) std::cout << "wrote " << confusion << "\n";
  return 0;
}

}  // namespace gf::cli
