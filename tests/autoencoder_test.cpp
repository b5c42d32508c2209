// Autoencoder: reconstruction, the reconstruction-error score separating unusual inputs, and the code Gaussian
// used for sampling.
#include <gtest/gtest.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/autoencoder.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// Images 1x8x8 of two kinds: a bright left half or a bright top half, with a little noise. [n, 1, 8, 8]
torch::Tensor two_kinds(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto kind = at::rand({n, 1, 1, 1}, gen, opts) < 0.5;
  auto left = torch::full({1, 1, 8, 8}, 0.05, opts), top = torch::full({1, 1, 8, 8}, 0.05, opts);
  left.slice(3, 0, 4).fill_(0.9);
  top.slice(2, 0, 4).fill_(0.9);
  return torch::where(kind, left, top) + at::rand({n, 1, 8, 8}, gen, opts) * 0.05;
}

TEST(Autoencoder, ReconstructsAndScoresUnusualImagesLower) {
  AutoencoderOptions o;
  o.hidden = 32;
  o.latent = 4;
  o.max_steps = 300;
  o.batch_size = 32;
  o.lr = 3e-3;
  Autoencoder ae(o);
  auto train = two_kinds(256, 1), test = two_kinds(64, 2);
  ae.fit({train}, quiet());
  auto recon = ae.reconstruct(test);
  EXPECT_EQ(recon.sizes(), test.sizes());
  EXPECT_LT((recon - test).abs().mean().item<double>(), 0.06);
  // Noise images are reconstructed badly: every one scores below every ordinary image.
  auto gen = make_generator(3);
  auto noise = at::rand({32, 1, 8, 8}, gen);
  EXPECT_LT(ae.score_samples(noise).max().item<double>(), ae.score_samples(test).min().item<double>());
  // Sampling draws codes from the Gaussian fitted to the training codes.
  auto codes = ae.transform(train).to(torch::kFloat64);  // [256, 4]
  auto drawn = ae.sample_latent(20000, gen).to(torch::kFloat64);
  EXPECT_TRUE(test::all_close(drawn.mean(0), codes.mean(0), 0, 0.05 * codes.std(0).max().item<double>()));
  EXPECT_EQ(ae.sample(3, gen).sizes(), (std::vector<int64_t>{3, 1, 8, 8}));
  EXPECT_THROW(ae.score_samples(torch::rand({2, 1, 6, 6})), DataError);  // wrong image size
}

TEST(Autoencoder, MseLossTakesAnyRangeAndBceRefusesIt) {
  AutoencoderOptions o;
  o.hidden = 8;
  o.latent = 2;
  o.max_steps = 3;
  Autoencoder bce(o);
  EXPECT_THROW(bce.fit({torch::randn({16, 5})}, quiet()), DataError);
  o.loss = "mse";
  Autoencoder mse(o);
  mse.fit({torch::randn({16, 5})}, quiet());
  EXPECT_EQ(mse.score_samples(torch::randn({4, 5})).size(0), 4);
  o.architecture = "conv";
  Autoencoder conv(o);
  EXPECT_THROW(conv.fit({torch::rand({16, 1, 6, 6})}, quiet()), DataError);  // sides not divisible by 4
}

}  // namespace
}  // namespace gf
