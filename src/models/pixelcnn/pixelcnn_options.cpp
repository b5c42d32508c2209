// The PixelCNN's options: checks and the option table (names, help, choices) of `train pixelcnn --help`.
#include "genforge/core/error.h"
#include "genforge/models/pixelcnn.h"

namespace gf {

void PixelCnnOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(layers >= 0, "layers must be >= 0, got ", layers);
  GF_CHECK(hidden >= 1, "hidden must be at least 1, got ", hidden);
  GF_CHECK(first_kernel >= 3 && first_kernel % 2 == 1, "first_kernel must be odd and at least 3, got ", first_kernel);
  GF_CHECK(kernel >= 1 && kernel % 2 == 1, "kernel must be odd and at least 1, got ", kernel);
  GF_CHECK(output == "auto" || output == "bernoulli" || output == "softmax" || output == "logistic_mixture",
           "output must be auto, bernoulli, softmax or logistic_mixture, got '", output, "'");
  GF_CHECK(binarize == "none" || binarize == "threshold", "binarize must be none or threshold, got '", binarize, "'");
  GF_CHECK(n_bins >= 2 && n_bins <= 65536, "n_bins must be in [2, 65536], got ", n_bins);
  GF_CHECK(mixtures >= 1, "mixtures must be at least 1, got ", mixtures);
  GF_CHECK(fill_particles >= 1, "fill_particles must be at least 1, got ", fill_particles);
  GF_CHECK(precision == "auto" || precision == "float32" || precision == "bfloat16",
           "precision must be auto, float32 or bfloat16, got '", precision, "'");
}

const OptionTable<PixelCnnOptions>& PixelCnn::option_table() {
  static const OptionTable<PixelCnnOptions> table = [] {
    OptionTable<PixelCnnOptions> t("pixelcnn");
    t.add("layers", &PixelCnnOptions::layers, "gated layers after the first (mask A) one")
        .add("hidden", &PixelCnnOptions::hidden, "channels of the vertical and horizontal stacks")
        .add("first_kernel", &PixelCnnOptions::first_kernel, "kernel width of the first layer (odd)")
        .add("kernel", &PixelCnnOptions::kernel, "kernel width of the other layers (odd)")
        .add("output", &PixelCnnOptions::output, "pixel distribution (auto: bernoulli for binary data, else softmax)",
             {"auto", "bernoulli", "softmax", "logistic_mixture"})
        .add("binarize", &PixelCnnOptions::binarize, "threshold: pixels >= 0.5 become 1, the rest 0",
             {"none", "threshold"})
        .add("n_bins", &PixelCnnOptions::n_bins, "levels of the pixel values (256: 8-bit)")
        .add("mixtures", &PixelCnnOptions::mixtures, "logistic_mixture: components")
        .add("conditional", &PixelCnnOptions::conditional, "class-conditional (labelled data)")
        .add("fast_sampling", &PixelCnnOptions::fast_sampling, "cached sampling (false: whole network per pixel)")
        .add("fill_particles", &PixelCnnOptions::fill_particles,
             "completion: raster-order completions per class, one kept by the observed pixels' probability")
        .add("precision", &PixelCnnOptions::precision,
             "convolution arithmetic (auto: bfloat16 on CPUs with native bfloat16, else float32)",
             {"auto", "float32", "bfloat16"});
    train::add_train_options(t);
    return t;
  }();
  return table;
}

}  // namespace gf
