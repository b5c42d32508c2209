// The Fashion-MNIST classifier genforge trains for its own image metrics: features for FID / KID / precision-recall
// (the 128-unit penultimate layer) and class probabilities for the Inception Score, on 28x28 grayscale images --
// the in-domain analogue of Inception features, which a 28x28 data set cannot use meaningfully.
// Reproducible command (make setup runs it): genforge eval classifier --out data/fmnist-classifier.gf
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace gf::eval {

struct FmnistClassifierOptions {
  int64_t epochs = 5;
  int64_t batch_size = 128;
  double learning_rate = 1e-3;  // Adam
  uint64_t seed = 0;            // initialisation and shuffling
  int64_t train_limit = 0;      // > 0: train on the first N training images only (tests)
  int64_t max_steps = 0;        // > 0: this many optimizer steps instead of `epochs` (equal budgets for data sets
                                // of different sizes)
};

struct ClassifierReport {
  double test_accuracy = 0;  // on the 10,000 Fashion-MNIST test images
  double seconds = 0;
  int64_t train_images = 0;
};

// Trains the CNN (conv 32 - pool - conv 64 - pool - dense 128 - dense 10) on Fashion-MNIST and writes it to `path`
// (a .gf file of kind "fmnist-classifier", atomically).
ClassifierReport train_fmnist_classifier(const std::string& path, const FmnistClassifierOptions& options = {});

// The same network trained (the Trainer, `options` but not train_limit) on labelled 28x28 grayscale images
// [N, 1, 28, 28] in [0, 1] with labels 0..9, and its accuracy on the test images: the downstream check of data
// augmentation (real-only vs real + synthetic training sets).
double classifier_test_accuracy(const torch::Tensor& train_images, const torch::Tensor& train_labels,
                                const torch::Tensor& test_images, const torch::Tensor& test_labels,
                                const FmnistClassifierOptions& options = {});

// $GENFORGE_FMNIST_CLASSIFIER, else data/fmnist-classifier.gf under the current directory.
std::string default_fmnist_classifier_path();

}  // namespace gf::eval
