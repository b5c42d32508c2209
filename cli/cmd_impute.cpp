#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/apps/impute.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/readers.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_impute(int argc, char** argv) {
  CLI::App app("fill in the missing cells of a table with a saved model (conditional mean or draws)", "impute");
  app.allow_extras();
  std::string model_path, data, out;
  int64_t multiple = 0, bootstrap = 0;
  std::optional<uint64_t> seed;
  bool separate = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf) of a model that samples conditionally (gmm, rbm, ...)")
      ->required();
  app.add_option("--data", data, "table with missing cells (empty fields, NA, ...; --na for more markers)")->required();
  app.add_option("--out,-o", out, "CSV: the filled table (with --multiple: the M tables, see --separate)")->required();
  app.add_option("--multiple", multiple, "M draws from p(missing | observed) instead of the conditional mean: one long "
                                         "table with an `imputation` column 0..M-1");
  app.add_option("--bootstrap", bootstrap, "with --multiple: refit the model on B bootstrap resamples of the data "
                                           "(parameter uncertainty: calibrated intervals from small tables)");
  app.add_flag("--separate", separate, "with --multiple: M files OUT_STEM.1.csv .. OUT_STEM.M.csv");
  app.add_option("--seed", seed, "random seed of the draws (default 0)");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, !separate || multiple >= 1, "give --multiple M with --separate",
              "--separate writes one file per imputation, so it needs --multiple");
  check_writable(out);
  auto opened = open_model(model_path, option_flags(app.remaining(), "impute"));
  record_provenance_model(model_path, opened.model->kind());
  const Model& model = *opened.model;
  const auto source = data::load_source(data, model.capabilities().data_kind, source_options(table_flags));
  apps::ImputeOptions options;
  options.multiple = multiple;
  options.seed = resolve_seed(seed);
  options.bootstrap = bootstrap;
  const auto r = apps::impute(model, source, options, opened.input_overrides);
  if (r.missing_cells == 0) {
    std::cout << "notice: '" << data << "' has no missing cells in the model's columns ("
              << join_names(r.filled_columns) << "); the output is the table unchanged\n";
  }
  if (r.unused_missing > 0) {
    std::cout << "notice: " << r.unused_missing << " missing cells are in columns the model does not use; they stay "
              << "missing\n";
  }
  if (multiple == 0) {
    write_csv(out, r.filled);
    std::cout << "filled " << r.missing_cells << " cells with the conditional mean; wrote " << out << "\n";
    return 0;
  }
  if (separate) {
    const auto dot = out.rfind('.');
    const std::string stem = dot == std::string::npos ? out : out.substr(0, dot);
    for (size_t m = 0; m < r.draws.size(); ++m) write_csv(stem + "." + std::to_string(m + 1) + ".csv", r.draws[m]);
    std::cout << "filled " << r.missing_cells << " cells " << multiple << " times (seed " << options.seed
              << "); wrote " << stem << ".1.csv .. " << stem << "." << multiple << ".csv\n";
  } else {
    write_csv(out, apps::stack_imputations(r.draws));
    std::cout << "filled " << r.missing_cells << " cells " << multiple << " times (seed " << options.seed
              << (bootstrap ? ", " + std::to_string(bootstrap) + " bootstrap refits" : std::string()) << "); wrote "
              << out << " (column `imputation` = 0.." << multiple - 1 << ")\n";
  }
  return 0;
}

}  // namespace gf::cli
