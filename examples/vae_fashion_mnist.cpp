// Train a VAE on Fashion-MNIST and write a grid of samples with the public headers only: what
// `genforge train vae --data fashion-mnist` and `genforge sample ... --out grid.png` do, as a program.
//   vae_fashion_mnist [STEPS] [grid.png]
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/data/source.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

int main(int argc, char** argv) {
  const std::string steps = argc > 1 ? argv[1] : "500";
  const std::string out = argc > 2 ? argv[2] : "vae_samples.png";
  try {
    auto model = gf::create_model("vae", {}, {{"architecture", "conv"}, {"max_steps", steps}});
    gf::data::SourceOptions limit;
    limit.limit = 20000;
    const auto images = gf::data::load_source("fashion-mnist", model->capabilities().data_kind, limit);
    gf::FitContext ctx;
    const auto report = gf::fit_source(*model, images, ctx);
    std::printf("vae: %s, %lld steps, %s %.4f\n", images.describe().c_str(), static_cast<long long>(report.n_iter),
                report.objective_name.c_str(), report.objective);
    auto gen = gf::make_generator(0);
    gf::write_png_grid(out, gf::draw_samples(*model, 64, "", gen), 8);
    std::printf("wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
