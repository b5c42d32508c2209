#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"

namespace gf::cli {

int run_export(int argc, char** argv) {
  CLI::App app("write a model file in another form: --merge folds LoRA adapters into the weights they adapt", "export");
  std::string model_path, out;
  bool merge = false;
  CommonFlags common;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("--out,-o", out, "model file to write (.gf)")->required();
  app.add_flag("--merge", merge, "fold low-rank adapters (finetune --lora) into the weights: a plain model, same outputs");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, merge, "genforge export M.gf --merge --out M2.gf", "say what to export: --merge");
  check_writable(out);
  auto model = load_model(model_path);
  auto* adapted = dynamic_cast<AdaptedModel*>(model.get());
  GF_CHECK_AS(InvalidArgument, adapted != nullptr && adapted->adapter_parameters() > 0,
              "train adapters with `genforge finetune BASE.gf --lora rank=8 ...`", "the ", model->kind(),
              " model in '", model_path, "' has no adapters to merge");
  const int64_t n = adapted->adapter_parameters();
  adapted->merge_adapters();
  save_model(*model, out);
  std::cout << "merged " << n << " adapter parameters into the weights; wrote " << out << "\n";
  return 0;
}

}  // namespace gf::cli
