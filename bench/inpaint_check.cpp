// Inpainting check (issue 19, bench/run inpaint): the first N Fashion-MNIST test images with their bottom half
// hidden; genforge's Fashion-MNIST classifier's accuracy on the originals, on the occluded images (the hole black,
// i.e. background) and on the completions of a model (genforge inpaint's library call, one completion each), and
// the share of the lost accuracy the completion recovers (goal: at least half). Also PSNR of the filled half.
// Usage: gf_bench_inpaint_check THREADS MODEL.gf [N] [SEED] [METHOD] [given]   (METHOD: auto | sample | project;
// `given`: a class-conditional model fills given each image's true class -- the class then helps the classifier
// too, so that figure is not comparable with a fill from the kept pixels alone).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "genforge/apps/inpaint.h"
#include "genforge/core/runtime.h"
#include "genforge/data/source.h"
#include "genforge/eval/features.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 7) {
    std::fprintf(stderr, "usage: %s THREADS MODEL.gf [N] [SEED] [METHOD] [given]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[1]));
  const int64_t n = argc > 3 ? std::atoll(argv[3]) : 1000;
  gf::data::SourceOptions limit;
  limit.limit = n;
  const auto test = gf::data::load_source("fashion-mnist:test", gf::DataKind::images, limit);
  const auto model = gf::load_model(argv[2]);
  const auto x = gf::prepare(*model, test).x.to(torch::kFloat32);  // [N, 1, 28, 28]
  const auto labels = test.images.labels.to(torch::kLong);
  const auto mask = gf::apps::box_mask(28, 28, 0, 14, 28, 14);
  const auto occluded = x.masked_fill(mask.expand_as(x), 0.0);
  gf::apps::InpaintOptions o;
  if (argc > 4) o.seed = std::atoll(argv[4]);
  if (argc > 5) o.method = argv[5];
  const bool given_class = argc > 6 && std::string(argv[6]) == "given";
  if (given_class) o.labels = labels;
  const auto start = std::chrono::steady_clock::now();
  const auto completed = gf::apps::inpaint(*model, x, mask, o)[0];
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto classifier = gf::eval::make_feature_extractor("fmnist");
  auto accuracy = [&](const torch::Tensor& images) {
    return classifier->logits(images).argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
  };
  const double a_orig = accuracy(x), a_occ = accuracy(occluded), a_done = accuracy(completed);
  const auto hole = mask.expand_as(x);
  const double mse = (completed - x).pow(2).masked_select(hole).mean().item<double>();
  const double mse_black = x.pow(2).masked_select(hole).mean().item<double>();
  nlohmann::json out = {{"check", "inpaint bottom half"},
                        {"model", model->kind()},
                        {"method", o.method},
                        {"given_class", given_class},
                        {"images", n},
                        {"accuracy_original", a_orig},
                        {"accuracy_occluded", a_occ},
                        {"accuracy_completed", a_done},
                        {"recovered_share", (a_done - a_occ) / std::max(1e-12, a_orig - a_occ)},
                        {"psnr_completed_db", 10 * std::log10(1.0 / mse)},
                        {"psnr_black_db", 10 * std::log10(1.0 / mse_black)},
                        {"inpaint_seconds", seconds}};
  out["goal_met"] = out["recovered_share"].get<double>() >= 0.5;
  std::cout << out.dump() << "\n";
  return 0;
}
