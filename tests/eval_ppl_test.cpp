// Perceptual path length driven by a model: exact for a linear decoder on straight paths, StyleGAN's trimming,
// and the errors.
#include <gtest/gtest.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/eval/ppl.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

// A latent model whose decoder is linear: images [N, 1, 2, 2] = A z, codes from a fitted (non-Gaussian) code
// distribution, so paths are straight lines.
class LinearDecoder : public Model {
 public:
  explicit LinearDecoder(bool gaussian) : gaussian_(gaussian) {}
  std::string kind() const override { return "linear-decoder"; }
  Capabilities capabilities() const override {
    Capabilities c;
    c.data_kind = DataKind::images;
    c.latent_space = true;
    c.standard_normal_prior = gaussian_;
    return c;
  }
  nlohmann::json options_json() const override { return nlohmann::json::object(); }
  FitReport fit(const Dataset&, const FitContext&) override { return {}; }
  bool fitted() const override { return true; }
  torch::Tensor sample(int64_t n, at::Generator& gen) const override { return decode(sample_latent(n, gen), {}); }
  torch::Tensor score_samples(const torch::Tensor&) const override { return {}; }
  int64_t latent_dim() const override { return 2; }
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor&) const override {
    return torch::matmul(z.to(torch::kFloat64), a().t()).view({-1, 1, 2, 2}).to(torch::kFloat32);
  }
  TensorMap state() const override { return {}; }
  void load_state(const TensorMap&) override {}
  static torch::Tensor a() { return torch::tensor({1.0, 0.5, -2.0, 0.0, 0.3, 3.0, 1.0, 1.0}, torch::kFloat64).view({4, 2}); }

 private:
  bool gaussian_;
};

TEST(PerceptualPathLength, StraightPathsThroughALinearDecoderGiveTheExactDistance) {
  LinearDecoder model(/*gaussian=*/false);
  auto pixels = eval::make_feature_extractor("pixels");
  eval::PplOptions o;
  o.n = 400;
  o.epsilon = 1e-2;
  o.batch_size = 400;
  o.seed = 5;
  auto r = eval::perceptual_path_length(model, *pixels, o);
  // The same draws: z0, z1 for the batch; along a line the step is eps (z1 - z0), so d = |A (z1 - z0)|^2.
  auto gen = make_generator(5);
  auto z0 = model.sample_latent(400, gen).to(torch::kFloat64), z1 = model.sample_latent(400, gen).to(torch::kFloat64);
  auto want = torch::matmul(z1 - z0, LinearDecoder::a().t()).pow(2).sum(1);
  EXPECT_TRUE(test::all_close(r.distances, want, 2e-3, 1e-6));
  auto trimmed = eval::trimmed_path_length(want);
  EXPECT_NEAR(r.trimmed.mean, trimmed.mean, 2e-3 * trimmed.mean);
  EXPECT_LT(r.trimmed.kept, 400);  // the extremes are trimmed
}

TEST(PerceptualPathLength, SphericalPathsAndErrors) {
  LinearDecoder model(/*gaussian=*/true);
  auto pixels = eval::make_feature_extractor("pixels");
  eval::PplOptions o;
  o.n = 200;
  auto r = eval::perceptual_path_length(model, *pixels, o);
  EXPECT_EQ(r.distances.numel(), 200);
  EXPECT_TRUE(r.distances.isfinite().all().item<bool>());
  EXPECT_GT(r.trimmed.mean, 0.0);
  o.sampling = "middle";
  EXPECT_THROW(eval::perceptual_path_length(model, *pixels, o), InvalidArgument);
  auto gmm = create_model("gmm");
  EXPECT_THROW(eval::perceptual_path_length(*gmm, *pixels, {}), NotSupported);
}

}  // namespace
}  // namespace gf
