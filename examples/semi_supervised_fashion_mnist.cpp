// Semi-supervised learning with a generative model (Kingma et al. 2014, "M2"): a class-conditional VAE with a
// classifier q(y|x) beside its encoder, trained on the first LABELLED Fashion-MNIST training images with their
// classes and on all the others without (label -1). Prints the classifier's accuracy on the 10,000 test images and
// writes a grid of samples, one row per class. What `genforge augment --unlabelled` trains, as a program.
//   semi_supervised_fashion_mnist [LABELLED=1000] [STEPS=3000] [grid.png] [IMAGES=60000] [option=value ...]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/data/source.h"
#include "genforge/models/vae.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

int main(int argc, char** argv) {
  const int64_t labelled = argc > 1 ? std::atoll(argv[1]) : 1000;
  const std::string steps = argc > 2 ? argv[2] : "3000";
  const std::string out = argc > 3 ? argv[3] : "semi_supervised_samples.png";
  try {
    gf::OptionOverrides sets{{"conditional", "true"}, {"semi_supervised", "true"}, {"max_steps", steps}};
    const int64_t images = argc > 4 ? std::atoll(argv[4]) : 0;  // 0: all
    for (int i = 5; i < argc; ++i) {
      const std::string kv = argv[i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos) throw std::runtime_error("extra arguments are key=value, got '" + kv + "'");
      sets.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    auto model = gf::create_model("vae", {}, sets);
    gf::data::SourceOptions first;
    first.limit = images;
    auto train = gf::data::load_source("fashion-mnist", model->capabilities().data_kind, first);
    auto& labels = train.images.labels;  // [60000]
    labels = labels.to(torch::kLong).clone();
    labels.slice(0, labelled).fill_(-1);  // the rest unlabelled
    gf::FitContext ctx;
    const auto report = gf::fit_source(*model, train, ctx);
    std::printf("semi-supervised vae: %lld labelled + %lld unlabelled images, %lld steps, %s %.2f\n",
                static_cast<long long>(labelled), static_cast<long long>(labels.size(0) - labelled),
                static_cast<long long>(report.n_iter), report.objective_name.c_str(), report.objective);
    const auto& vae = dynamic_cast<const gf::VariationalAutoencoder&>(*model);
    const auto test = gf::data::load_source("fashion-mnist:test", model->capabilities().data_kind);
    const auto guess = vae.predict_proba(gf::prepare(*model, test).x).argmax(1);  // [10000]
    const double accuracy =
        (guess == test.images.labels.to(torch::kLong)).to(torch::kFloat64).mean().item<double>();
    std::printf("q(y|x) test accuracy: %.4f\n", accuracy);
    auto gen = gf::make_generator(0);
    const auto rows = torch::arange(10, torch::kLong).repeat_interleave(10);  // 10 per class, class by row
    gf::write_png_grid(out, model->sample_labelled(rows, gen), 10);
    std::printf("wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
