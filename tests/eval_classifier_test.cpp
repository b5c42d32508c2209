// genforge's Fashion-MNIST classifier (`--features fmnist`): the one `make classifier` trained must reach 0.90 test
// accuracy, and the features and logits it gives must be the ones the metrics use.
#include <gtest/gtest.h>

#include <filesystem>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/eval/classifier.h"
#include "genforge/eval/features.h"
#include "genforge/eval/image.h"
#include "genforge/io/model_file.h"
#include "support/support.h"

namespace gf {
namespace {

TEST(FmnistClassifier, TheBuiltClassifierReachesNinetyPercent) {
  const std::string path = test::source_path("data/fmnist-classifier.gf");
  ASSERT_TRUE(std::filesystem::exists(path)) << "run `make classifier` (make test does) to build " << path;
  const auto stored = read_model_file(path);
  EXPECT_EQ(stored.kind, "fmnist-classifier");
  auto extractor = eval::make_feature_extractor(path);
  auto test_set = load_images("fashion-mnist:test");
  auto images = test_set.images.to(torch::kFloat) / 255;
  auto logits = extractor->logits(images);  // [10000, 10]
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{10000, 10}));
  const double accuracy = logits.argmax(1).eq(test_set.labels).to(torch::kDouble).mean().item<double>();
  EXPECT_GE(accuracy, 0.90);
  EXPECT_NEAR(accuracy, stored.fit_report["test_accuracy"].get<double>(), 1e-12);
  // Real test images against real training images: a small FID in these features, a large one against noise.
  auto features_test = extractor->features(images.slice(0, 0, 2000));
  EXPECT_EQ(features_test.size(1), 128);
  auto train = load_images("fashion-mnist").images.slice(0, 0, 2000).to(torch::kFloat) / 255;
  const double fid_real = eval::frechet_distance(eval::gaussian_statistics(features_test),
                                                 eval::gaussian_statistics(extractor->features(train)))
                              .distance;
  auto gen = make_generator(0);
  auto noise = torch::rand({2000, 1, 28, 28}, gen);
  const double fid_noise = eval::frechet_distance(eval::gaussian_statistics(features_test),
                                                  eval::gaussian_statistics(extractor->features(noise)))
                               .distance;
  EXPECT_LT(fid_real * 20, fid_noise);
  // Ten balanced, confidently classified classes: the Inception Score of real images is close to 10.
  EXPECT_GT(eval::inception_score(extractor->logits(images), 10).mean, 7.0);
  EXPECT_THROW(extractor->features(torch::zeros({2, 3, 28, 28})), DataError);
}

TEST(FmnistClassifier, TrainsWritesAndLoads) {
  test::TempDir dir;
  eval::FmnistClassifierOptions o;
  o.epochs = 1;
  o.train_limit = 1024;
  const auto report = eval::train_fmnist_classifier(dir.file("c.gf"), o);
  EXPECT_EQ(report.train_images, 1024);
  EXPECT_GT(report.test_accuracy, 0.4);  // 8 steps already beat chance (0.1) by far
  auto extractor = eval::make_feature_extractor(dir.file("c.gf"));
  auto x = load_images("fashion-mnist:test").images.slice(0, 0, 10).to(torch::kFloat) / 255;
  EXPECT_EQ(extractor->features(x).sizes(), (std::vector<int64_t>{10, 128}));
  // Same seed, same classifier.
  eval::train_fmnist_classifier(dir.file("d.gf"), o);
  EXPECT_TRUE(torch::equal(extractor->logits(x), eval::make_feature_extractor(dir.file("d.gf"))->logits(x)));
  EXPECT_THROW(eval::make_feature_extractor(dir.file("missing.gf")), Error);
}

}  // namespace
}  // namespace gf
