#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/matrix.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"

namespace gf::cli {
namespace {

// Column names for samples: those the model was fitted on, else x0, x1, ...
std::vector<std::string> schema_columns(const Model& model, int64_t d) {
  std::vector<std::string> names;
  if (model.schema().contains("columns")) names = model.schema()["columns"].get<std::vector<std::string>>();
  if (static_cast<int64_t>(names.size()) != d) {
    names.clear();
    for (int64_t j = 0; j < d; ++j) names.push_back("x" + std::to_string(j));
  }
  return names;
}

}  // namespace

int run_sample(int argc, char** argv) {
  CLI::App app("draw samples from a saved model", "sample");
  std::string model_path, out;
  int64_t n = 0;
  uint64_t seed = 0;
  CommonFlags common;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("-n,--n", n, "number of samples")->required();
  app.add_option("--out,-o", out, "output file: .csv or .npy")->required();
  app.add_option("--seed", seed, "random seed (same seed, same samples)");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, n >= 1, "ask for at least one sample, e.g. -n 100", "-n must be at least 1, got ", n);
  check_writable(out);
  auto model = load_model(model_path);
  auto gen = make_generator(seed);
  auto samples = model->sample(n, gen);  // [n, D]
  if (out.size() > 4 && out.substr(out.size() - 4) == ".npy") {
    write_npy(out, samples);
  } else {
    write_csv(out, table_from_matrix(samples, schema_columns(*model, samples.size(1))));
  }
  std::cout << "wrote " << n << " samples to " << out << "\n";
  return 0;
}

}  // namespace gf::cli
