#include "genforge/eval/classifier.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdlib>

#include "eval/classifier_net.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/train/trainer.h"
#include "genforge/io/model_file.h"

namespace gf::eval {

std::string default_fmnist_classifier_path() {
  const char* env = std::getenv("GENFORGE_FMNIST_CLASSIFIER");
  return env && *env ? env : "data/fmnist-classifier.gf";
}

namespace detail {

ClassifierNetImpl::ClassifierNetImpl()
    : conv1(torch::nn::Conv2dOptions(1, 32, 3).padding(1)),
      conv2(torch::nn::Conv2dOptions(32, 64, 3).padding(1)),
      fc1(64 * 7 * 7, 128),
      fc2(128, 10) {
  register_module("conv1", conv1);
  register_module("conv2", conv2);
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

torch::Tensor ClassifierNetImpl::features(const torch::Tensor& images) {
  auto x = (images - 0.5) / 0.5;                                           // [N, 1, 28, 28]
  x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);                // [N, 32, 14, 14]
  x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);                // [N, 64, 7, 7]
  return torch::relu(fc1->forward(x.flatten(1)));                          // [N, 128]
}

torch::Tensor ClassifierNetImpl::logits(const torch::Tensor& images) { return fc2->forward(features(images)); }

TensorMap classifier_state(ClassifierNet& net) {
  TensorMap out;
  for (const auto& p : net->named_parameters()) out[p.key()] = p.value().detach().cpu();
  return out;
}

ClassifierNet load_classifier(const ModelFileContents& contents, const std::string& path) {
  GF_CHECK_AS(ModelFileError, contents.kind == "fmnist-classifier", "give a file written by `genforge eval classifier`",
              "'", path, "' holds a ", contents.kind, " model, not the Fashion-MNIST classifier");
  ClassifierNet net;
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    auto it = contents.tensors.find(p.key());
    GF_CHECK_AS(ModelFileError, it != contents.tensors.end() && it->second.sizes() == p.value().sizes(),
                "rebuild it with `genforge eval classifier`", "'", path, "' lacks classifier tensor '", p.key(), "'");
    p.value().copy_(it->second);
  }
  net->eval();
  return net;
}

}  // namespace detail

namespace {

// The classifier as the Trainer sees it: one optimizer group, cross-entropy on labelled images.
class ClassifierTrainable : public train::Trainable {
 public:
  explicit ClassifierTrainable(detail::ClassifierNet& net) : net_(net) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_->parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : net_->named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
  }
  void set_training(bool on) override { net_->train(on); }
  void train_step(const train::Batch& b, train::StepContext& ctx) override {
    ctx.optimize("model", torch::cross_entropy_loss(net_->logits(b.x), b.labels));
  }
  double eval_loss(const train::Batch& b, at::Generator&) override {
    torch::NoGradGuard no_grad;
    return torch::cross_entropy_loss(net_->logits(b.x), b.labels).item<double>();
  }

 private:
  detail::ClassifierNet& net_;
};

}  // namespace

namespace {

void check_options(const FmnistClassifierOptions& o) {
  GF_CHECK(o.epochs >= 1 && o.batch_size >= 1 && o.learning_rate > 0 && o.max_steps >= 0, "classifier options: epochs ",
           o.epochs, ", batch size ", o.batch_size, ", learning rate ", o.learning_rate, " must be positive");
}

detail::ClassifierNet fit_classifier(const torch::Tensor& x, const torch::Tensor& y, const FmnistClassifierOptions& o) {
  torch::manual_seed(o.seed);  // module initialisation draws from LibTorch's default generator
  detail::ClassifierNet net;
  ClassifierTrainable trainable(net);
  train::TrainOptions t;
  t.epochs = o.epochs;
  t.max_steps = o.max_steps;
  t.batch_size = o.batch_size;
  t.lr = o.learning_rate;
  t.seed = static_cast<int64_t>(o.seed);
  t.checkpoint_every = 0;
  FitContext ctx;
  ctx.progress = Progress::enabled();
  train::run(trainable, {x, y.to(torch::kLong)}, nullptr, t, ctx);
  net->eval();
  return net;
}

double test_accuracy(detail::ClassifierNet& net, const torch::Tensor& tx, const torch::Tensor& ty) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t i = 0; i < tx.size(0); i += 1000) {
    const int64_t e = std::min(tx.size(0), i + 1000);
    correct += net->logits(tx.slice(0, i, e).to(torch::kFloat32)).argmax(1).eq(ty.slice(0, i, e).to(torch::kLong))
                   .sum().item<int64_t>();
  }
  return double(correct) / double(std::max<int64_t>(1, tx.size(0)));
}

}  // namespace

double classifier_test_accuracy(const torch::Tensor& train_images, const torch::Tensor& train_labels,
                                const torch::Tensor& test_images, const torch::Tensor& test_labels,
                                const FmnistClassifierOptions& options) {
  check_options(options);
  for (const auto* t : {&train_images, &test_images}) {
    GF_CHECK_AS(InvalidArgument, t->dim() == 4 && t->size(1) == 1 && t->size(2) == 28 && t->size(3) == 28,
                "the classifier takes 28x28 grayscale images", "images must be [N, 1, 28, 28], got ", t->sizes());
  }
  GF_CHECK_AS(InvalidArgument, train_labels.numel() == train_images.size(0) && test_labels.numel() == test_images.size(0),
              "give one label per image", "labels and images differ in number");
  GF_CHECK_AS(InvalidArgument, train_labels.min().item<int64_t>() >= 0 && train_labels.max().item<int64_t>() < 10,
              "the classifier has 10 classes", "labels must be in 0..9");
  auto net = fit_classifier(train_images.to(torch::kFloat32), train_labels, options);
  return test_accuracy(net, test_images, test_labels);
}

ClassifierReport train_fmnist_classifier(const std::string& path, const FmnistClassifierOptions& o) {
  check_options(o);
  const auto start = std::chrono::steady_clock::now();
  data::SourceOptions limit;
  limit.limit = o.train_limit;
  const auto train = data::load_source("fashion-mnist:train", DataKind::images, limit);
  const auto test = data::load_source("fashion-mnist:test", DataKind::images);
  auto x = data::scale_images(train.images.images), y = train.images.labels;  // [N, 1, 28, 28], [N]
  auto net = fit_classifier(x, y, o);
  const int64_t n = x.size(0);
  const double accuracy = test_accuracy(net, data::scale_images(test.images.images), test.images.labels);
  ClassifierReport report;
  report.test_accuracy = accuracy;
  report.train_images = n;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ModelFileContents contents;
  contents.kind = "fmnist-classifier";
  contents.options = {{"epochs", o.epochs}, {"batch_size", o.batch_size}, {"learning_rate", o.learning_rate},
                      {"seed", o.seed}, {"train_limit", o.train_limit}};
  contents.fit_report = {{"test_accuracy", report.test_accuracy}, {"seconds", report.seconds},
                         {"train_images", report.train_images}};
  contents.tensors = detail::classifier_state(net);
  write_model_file(path, contents);
  return report;
}

}  // namespace gf::eval
