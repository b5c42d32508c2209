// Fit a table model and sample from it with the public headers only: what `genforge train gmm` and
// `genforge sample` do, as a program.
//   table_model penguins.json samples.csv
#include <cstdio>
#include <exception>

#include "genforge/core/random.h"
#include "genforge/data/readers.h"
#include "genforge/data/source.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: table_model TABLE OUT.csv\n");
    return 2;
  }
  try {
    // Three Gaussian components; species (categorical) one-hot encoded, numbers standardized: the input pipeline.
    auto model = gf::create_model("gmm", {}, {{"n_components", "3"}, {"categorical", "onehot"},
                                              {"standardize", "true"}});
    const auto data = gf::data::load_source(argv[1], model->capabilities().data_kind);
    const auto report = gf::fit_source(*model, data);
    std::printf("%s: %s, %lld iterations, mean log-likelihood %.4f\n", model->kind().c_str(), data.describe().c_str(),
                static_cast<long long>(report.n_iter), report.objective);
    auto gen = gf::make_generator(1);
    gf::write_csv(argv[2], gf::samples_table(*model, model->sample(200, gen)));
    gf::save_model(*model, std::string(argv[2]) + ".gf");
    std::printf("wrote %s and %s.gf\n", argv[2], argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
