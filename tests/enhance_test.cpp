// Enhancement (apps/enhance.h): back-projection restores the block averages; a VAE used as the prior enlarges
// Fashion-MNIST test images closer to the originals than bicubic interpolation and than bicubic + back-projection;
// models that cannot project images, wrong sizes and bad options are errors.
#include <gtest/gtest.h>

#include "genforge/apps/enhance.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/models/vae.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

TEST(Enhance, BackProjectionRestoresTheBlockAverages) {
  auto gen = make_generator(3);
  const auto low = torch::rand({3, 2, 7, 5}, gen) * 0.6 + 0.2;  // [N, C, h, w] away from 0 and 1
  const auto guess = low.repeat_interleave(4, 2).repeat_interleave(4, 3) + (torch::rand({3, 2, 28, 20}, gen) - 0.5) * 0.2;
  const auto x = apps::back_project(guess, low);
  EXPECT_TRUE(test::all_close(apps::downscale(x, 4), low, 0, 1e-6));
  // Only each block's mean moves: the detail inside a block is kept.
  const auto detail = guess - apps::downscale(guess, 4).repeat_interleave(4, 2).repeat_interleave(4, 3);
  const auto kept = x - apps::downscale(x, 4).repeat_interleave(4, 2).repeat_interleave(4, 3);
  EXPECT_TRUE(test::all_close(kept, detail, 0, 1e-6));
  EXPECT_EQ(apps::bicubic(low, 4).sizes(), torch::IntArrayRef({3, 2, 28, 20}));
  EXPECT_TRUE(std::isinf(apps::psnr(low, low)[0].item<double>()));
  EXPECT_NEAR(apps::psnr(torch::zeros({1, 1, 2, 2}), torch::full({1, 1, 2, 2}, 0.1))[0].item<double>(), 20.0, 1e-5);
}

TEST(Enhance, AVaePriorBeatsBicubicOnFashionMnist) {
  data::SourceOptions limit;
  limit.limit = 4000;
  const auto train = data::load_source("fashion-mnist", DataKind::images, limit);
  limit.limit = 300;
  const auto test_images = data::scale_images(data::load_source("fashion-mnist:test", DataKind::images, limit).images.images);
  VaeOptions o;
  o.max_steps = 400;
  o.batch_size = 64;
  o.seed = 1;
  VariationalAutoencoder vae(o);
  vae.fit({data::scale_images(train.images.images)}, test::quiet());
  for (const int64_t factor : {2, 4}) {
    SCOPED_TRACE(factor);
    const auto low = apps::downscale(test_images, factor);
    const auto high = apps::enhance(vae, low, {factor, 20});
    ASSERT_EQ(high.sizes(), test_images.sizes());
    const double model = apps::psnr(high, test_images).mean().item<double>();
    const auto cubic = apps::bicubic(low, factor);
    const double plain = apps::psnr(cubic, test_images).mean().item<double>();
    const double projected = apps::psnr(apps::back_project(cubic, low), test_images).mean().item<double>();
    EXPECT_GT(model, plain + 0.5) << "bicubic " << plain << " dB";
    EXPECT_GT(model, projected + 0.3) << "bicubic + back-projection " << projected << " dB";
    // The answer keeps the input's block averages (up to the clamp to [0, 1]), much more closely than bicubic.
    const double kept = (apps::downscale(high, factor) - low).abs().mean().item<double>();
    EXPECT_LT(kept, 1e-2);
    EXPECT_LT(kept, 0.5 * (apps::downscale(cubic, factor) - low).abs().mean().item<double>());
  }
  EXPECT_THROW(apps::enhance(vae, apps::downscale(test_images, 2).slice(2, 0, 10), {2, 5}), DataError);
  EXPECT_THROW(apps::enhance(vae, apps::downscale(test_images, 2), {1, 5}), InvalidArgument);
  auto gmm = create_model("gmm", {}, {{"n_components", "2"}});
  gmm->fit({torch::randn({50, 3}, torch::kFloat64)}, test::quiet());
  try {
    apps::enhance(*gmm, torch::zeros({1, 1, 14, 14}), {});
    FAIL() << "a gmm enhanced images";
  } catch (const NotSupported& e) {
    EXPECT_STREQ(e.what(), "a gmm model cannot enhance images");
    EXPECT_NE(e.hint().find("vae"), std::string::npos) << e.hint();
  }
}

}  // namespace
}  // namespace gf
