#include "genforge/models/classifier.h"

#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "nn/layer_stack.h"
#include "nn/neural.h"

namespace gf {

namespace {

// The plain MLP used when no trunk is given: flatten, Linear(D, hidden), ReLU.
nlohmann::json mlp_trunk(const std::vector<int64_t>& shape, int64_t hidden) {
  int64_t d = 1;
  for (const int64_t s : shape) d *= s;
  neural::LayerStackWriter w(shape);
  w.add({{"type", "flatten"}});
  w.add({{"type", "linear"}, {"in", d}, {"out", hidden}, {"bias", true}});
  w.add({{"type", "relu"}});
  return w.spec();
}

nlohmann::json trunk_spec(const ClassifierOptions& o, const std::vector<int64_t>& shape) {
  if (o.trunk.empty()) return mlp_trunk(shape, o.hidden);
  const auto spec = nlohmann::json::parse(o.trunk, nullptr, /*allow_exceptions=*/false);
  GF_CHECK(!spec.is_discarded(), "the classifier's trunk is not valid JSON");
  return spec;
}

}  // namespace

struct NeuralClassifier::Net : torch::nn::Module {
  Net(const nlohmann::json& spec, int64_t classes, double dropout_p) : dropout(dropout_p) {
    auto stack = neural::build_layer_stack(spec);
    input_shape = stack.input_shape;
    trunk = register_module("trunk", stack.layers);
    head = register_module("head", torch::nn::Linear(stack.out_features, classes));
  }
  // Logits [N, K]; in training, dropout on the features drawn from `gen`.
  torch::Tensor forward(const torch::Tensor& x, at::Generator* gen = nullptr) {
    auto f = trunk->forward(x);  // [N, F]
    if (is_training() && dropout > 0 && gen) {
      auto keep = neural::rand_from(f.sizes(), *gen, f.options()) >= dropout;
      f = f * keep.to(f.scalar_type()) / (1 - dropout);
    }
    return head(f);
  }
  double dropout;
  std::vector<int64_t> input_shape;
  torch::nn::Sequential trunk{nullptr};
  torch::nn::Linear head{nullptr};
};

namespace {

torch::Tensor checked_classes(const torch::Tensor& labels, int64_t n, int64_t classes, const char* what) {
  GF_CHECK_AS(DataError, labels.defined() && labels.numel() == n,
              "give labelled data: image class sub-folders, IDX labels or fashion-mnist",
              "a classifier ", what, " needs one class label per example; the data has ",
              labels.defined() ? std::to_string(labels.numel()) + " labels for " + std::to_string(n) + " examples"
                               : std::string("no labels"));
  auto out = labels.to(torch::kLong).reshape({-1});
  if (n == 0) return out;
  GF_CHECK_AS(DataError, out.min().item<int64_t>() >= 0, "class labels are 0, 1, 2, ...", "a class label is negative");
  GF_CHECK_AS(DataError, classes == 0 || out.max().item<int64_t>() < classes,
              "set classes to the number of classes (or leave it 0)", "a class label is ", out.max().item<int64_t>(),
              " but the classifier has ", classes, " classes");
  return out;
}

}  // namespace

ClassifierOptions::ClassifierOptions() {
  epochs = 10;
  batch_size = 128;
  lr = 1e-3;
}

void ClassifierOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(hidden >= 1 && hidden <= (1 << 20), "hidden must be in [1, 2^20], got ", hidden);
  GF_CHECK(classes == 0 || (classes >= 2 && classes <= (1 << 20)), "classes must be 0 (from the labels) or >= 2, got ",
           classes);
  GF_CHECK(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got ", dropout);
}

const OptionTable<ClassifierOptions>& NeuralClassifier::option_table() {
  static const OptionTable<ClassifierOptions> table = [] {
    OptionTable<ClassifierOptions> t("classifier");
    t.add("trunk", &ClassifierOptions::trunk,
          "feature network as layer-stack JSON (set by finetune --new-head); empty: an MLP of `hidden` units")
        .add("hidden", &ClassifierOptions::hidden, "units of the MLP used without a trunk")
        .add("classes", &ClassifierOptions::classes, "number of classes (0: largest training label + 1)")
        .add("dropout", &ClassifierOptions::dropout, "dropout on the features in training");
    train::add_train_options(t);
    return t;
  }();
  return table;
}

NeuralClassifier::NeuralClassifier(ClassifierOptions options) : options_(std::move(options)) {}
NeuralClassifier::~NeuralClassifier() = default;

Capabilities NeuralClassifier::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::none;
  c.generates = false;
  return c;
}

nlohmann::json NeuralClassifier::options_json() const { return option_table().to_json(options_); }

int64_t NeuralClassifier::classes() const { return net_ ? net_->head->options.out_features() : 0; }

FitReport NeuralClassifier::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  GF_CHECK_AS(DataError, train_set.x.defined() && train_set.x.dim() >= 2 && train_set.x.size(0) > 0,
              "give at least one labelled example", "a classifier needs examples to train on");
  const std::vector<int64_t> data_shape(train_set.x.sizes().begin() + 1, train_set.x.sizes().end());
  const auto spec = trunk_spec(options_, data_shape);
  auto labels = checked_classes(train_set.labels, train_set.x.size(0), options_.classes, "fit");
  const int64_t classes = options_.classes > 0 ? options_.classes : std::max<int64_t>(2, labels.max().item<int64_t>() + 1);
  net_.reset();
  auto net = std::make_shared<Net>(spec, classes, options_.dropout);
  neural::Geometry geometry{net->input_shape, 0};
  auto x = neural::checked_input(train_set.x, geometry, ctx.device, false, "classifier", "fit");
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  neural::init_like_pytorch(*net, init_gen);
  net->to(ctx.device);
  labels = labels.to(ctx.device);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto vx = neural::checked_input(ctx.validation->x, geometry, ctx.device, false, "classifier", "validate");
    val = train::TrainData{vx, checked_classes(ctx.validation->labels, vx.size(0), classes, "validation").to(ctx.device)};
  }
  neural::CrossEntropyTrainable trainable(
      *net, [&net](const torch::Tensor& x, at::Generator* gen) { return net->forward(x, gen); });
  FitReport report = train::run(trainable, {x, labels}, val ? &*val : nullptr, options_, ctx);
  net->eval();
  report.objective_name = "cross-entropy per example (nats, last logged)";
  const auto logits = [&net](const torch::Tensor& in) { return net->forward(in); };
  report.extra["train_accuracy"] = neural::classification_accuracy(logits, x, labels);
  if (val) report.extra["validation_accuracy"] = neural::classification_accuracy(logits, val->x, val->labels);
  report.extra["classes"] = classes;
  net_ = net;
  report_ = report;
  schema_ = {{"data_kind", "images"}, {"example_shape", net->input_shape}, {"n_classes", classes}};
  return report_;
}

torch::Tensor NeuralClassifier::sample(int64_t, at::Generator&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this classifier is not fitted yet");
  GF_CHECK_AS(NotSupported, false, "score it on labelled data: genforge score M.gf --data D --confusion c.png",
              "a classifier predicts classes; it does not generate examples");
  return {};
}

torch::Tensor NeuralClassifier::score_samples(const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this classifier is not fitted yet");
  GF_CHECK_AS(NotSupported, false, "score it on labelled data for its accuracy: genforge score M.gf --data D",
              "a classifier has no likelihood of its input");
  return {};
}

torch::Tensor NeuralClassifier::features(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this classifier is not fitted yet");
  auto x = neural::checked_input(x_in, {net_->input_shape, 0}, neural::device_of(*net_), false, "classifier",
                                 "features");
  torch::NoGradGuard no_grad;
  return net_->trunk->forward(x).cpu();
}

torch::Tensor NeuralClassifier::predict_proba(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this classifier is not fitted yet");
  auto x = neural::checked_input(x_in, {net_->input_shape, 0}, neural::device_of(*net_), false, "classifier",
                                 "predict");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += 4096) {
    parts.push_back(torch::softmax(net_->forward(x.slice(0, s, std::min(x.size(0), s + 4096))).to(torch::kFloat64), 1)
                        .cpu());
  }
  if (parts.empty()) return torch::zeros({0, classes()}, torch::kFloat64);
  return torch::cat(parts);
}

TensorMap NeuralClassifier::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this classifier is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  neural::Geometry{net_->input_shape, 0}.save(out);
  return out;
}

void NeuralClassifier::load_state(const TensorMap& t) {
  const auto geometry = neural::Geometry::load(t);
  const auto head = t.find("head.weight");
  GF_CHECK(head != t.end() && head->second.dim() == 2 && head->second.size(0) >= 2 && head->second.size(0) <= (1 << 20),
           "the classifier's head.weight is missing or not a [classes, features] matrix");
  auto net = std::make_shared<Net>(trunk_spec(options_, geometry.shape), head->second.size(0), options_.dropout);
  GF_CHECK(net->input_shape == geometry.shape, "the classifier's trunk takes examples of another shape than its "
                                               "stored meta/shape");
  neural::load_module(*net, "", t);
  net->eval();
  net_ = net;
}

}  // namespace gf
