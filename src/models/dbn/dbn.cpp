#include "genforge/models/dbn.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "ebm/boltzmann.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "nn/neural.h"

namespace gf {

namespace {

// The energy view of a fitted RBM layer.
ebm::Rbm view(const RestrictedBoltzmannMachine& m) {
  return {ebm::visible_from_string(m.options().visible), m.components(), m.intercept_visible(),
          m.intercept_hidden(), m.log_variance(), m.softmax_groups()};
}

}  // namespace

DbnOptions::DbnOptions() = default;

std::vector<int64_t> DbnOptions::layer_sizes() const { return parse_int_list("layers", layers); }

void DbnOptions::validate() const {
  RbmOptions::validate();
  const auto sizes = layer_sizes();
  GF_CHECK(!sizes.empty(), "layers must list the hidden units of each RBM, e.g. 500,500; got '", layers, "'");
  for (int64_t s : sizes) {
    GF_CHECK(s >= 1, "every layer needs at least one hidden unit: layers = '", layers, "'");
  }
  GF_CHECK(hidden_units == "bernoulli", "a deep belief net stacks Bernoulli hidden layers (each the next RBM's "
           "visible units); got hidden_units = ", hidden_units);
  GF_CHECK(layer_n_iter.empty() || parse_int_list("layer_n_iter", layer_n_iter).size() == sizes.size(),
           "layer_n_iter must give one value per layer (", sizes.size(), "), got '", layer_n_iter, "'");
  GF_CHECK(layer_learning_rate.empty() ||
               parse_float_list("layer_learning_rate", layer_learning_rate).size() == sizes.size(),
           "layer_learning_rate must give one value per layer (", sizes.size(), "), got '", layer_learning_rate, "'");
  GF_CHECK(estimator == "auto" || estimator == "ais" || estimator == "exact",
           "a deep belief net scores by its lower bound; estimator chooses how the top RBM's log Z is found: auto, "
           "ais or exact; got '", estimator, "'");
  GF_CHECK(bound_samples >= 1, "bound_samples must be at least 1, got ", bound_samples);
  GF_CHECK(transform_layer >= 0 && transform_layer <= static_cast<int64_t>(sizes.size()),
           "transform_layer must be 0 (top) or a layer 1..", sizes.size(), ", got ", transform_layer);
  GF_CHECK(fine_tune_epochs >= 0, "fine_tune_epochs must be >= 0, got ", fine_tune_epochs);
  GF_CHECK(fine_tune_lr > 0 && std::isfinite(fine_tune_lr), "fine_tune_lr must be > 0, got ", fine_tune_lr);
  GF_CHECK(fine_tune_batch_size >= 1, "fine_tune_batch_size must be at least 1, got ", fine_tune_batch_size);
}

RbmOptions DbnOptions::layer_options(size_t layer) const {
  const auto sizes = layer_sizes();
  RbmOptions o = *this;
  o.n_components = sizes.at(layer);
  if (!layer_n_iter.empty()) o.epochs = parse_int_list("layer_n_iter", layer_n_iter).at(layer);
  if (!layer_learning_rate.empty()) o.lr = parse_float_list("layer_learning_rate", layer_learning_rate).at(layer);
  if (layer > 0) {  // upper layers read the hidden probabilities of the layer below
    o.visible = "bernoulli";
    o.learn_variance = false;
    o.binarize = "none";
    o.strict = false;
  }
  o.seed = seed + static_cast<int64_t>(layer);
  o.compute_log_z = compute_log_z && layer + 1 == sizes.size();
  if (!run_dir.empty()) o.run_dir = run_dir + "/layer" + std::to_string(layer + 1);
  return o;
}

const OptionTable<DbnOptions>& DeepBeliefNet::option_table() {
  static const OptionTable<DbnOptions> table = [] {
    OptionTable<DbnOptions> t("dbn");
    t.add("layers", &DbnOptions::layers, "hidden units of each RBM, bottom to top (comma-separated)")
        .add("layer_n_iter", &DbnOptions::layer_n_iter, "epochs of each layer (comma-separated; empty: n_iter)")
        .add("layer_learning_rate", &DbnOptions::layer_learning_rate,
             "learning rate of each layer (comma-separated; empty: learning_rate)")
        .add("bound_samples", &DbnOptions::bound_samples, "samples of q(h | v) in the lower bound")
        .add("transform_layer", &DbnOptions::transform_layer, "layer whose probabilities transform gives (0: top)")
        .add("fine_tune_epochs", &DbnOptions::fine_tune_epochs,
             "epochs of classifier fine-tuning (labelled data; 0: none)")
        .add("fine_tune_lr", &DbnOptions::fine_tune_lr, "Adam learning rate of the fine-tuning")
        .add("fine_tune_batch_size", &DbnOptions::fine_tune_batch_size, "examples per fine-tuning step");
    add_rbm_options(t, false);
    return t;
  }();
  return table;
}

// The feed-forward classifier: the RBMs' recognition weights as sigmoid layers, then a softmax layer.
struct DeepBeliefNet::ClassifierNet : torch::nn::Module {
  ClassifierNet(const std::vector<int64_t>& widths, int64_t n_classes) {
    for (size_t l = 0; l + 1 < widths.size(); ++l) {
      hidden.push_back(register_module("hidden" + std::to_string(l + 1),
                                       torch::nn::Linear(widths[l], widths[l + 1])));
    }
    out = register_module("out", torch::nn::Linear(widths.back(), n_classes));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& layer : hidden) x = torch::sigmoid(layer->forward(x));
    return out->forward(x);  // [N, K] logits
  }
  std::vector<torch::nn::Linear> hidden;
  torch::nn::Linear out{nullptr};
};

DeepBeliefNet::DeepBeliefNet(DbnOptions options) : options_(std::move(options)) { options_.validate(); }
DeepBeliefNet::~DeepBeliefNet() = default;

Capabilities DeepBeliefNet::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::lower_bound;
  c.latent_space = true;
  c.encoder = true;
  c.standard_normal_prior = false;
  return c;
}

nlohmann::json DeepBeliefNet::options_json() const { return option_table().to_json(options_); }

FitReport DeepBeliefNet::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  layers_.clear();
  classifier_.reset();
  const auto sizes = options_.layer_sizes();
  std::vector<std::unique_ptr<RestrictedBoltzmannMachine>> layers;
  FitReport report;
  report.objective_name = "per layer: the RBM's CD loss (see extra.layers)";
  nlohmann::json layer_reports = nlohmann::json::array();
  torch::Tensor x = train_set.x;
  std::optional<Dataset> val;
  if (ctx.validation && ctx.validation->x.defined()) val = Dataset{ctx.validation->x};
  for (size_t l = 0; l < sizes.size(); ++l) {
    auto rbm = std::make_unique<RestrictedBoltzmannMachine>(options_.layer_options(l));
    FitContext layer_ctx = ctx;
    layer_ctx.validation = val ? &*val : nullptr;
    Dataset layer_data{x};
    if (l == 0) layer_data.columns = train_set.columns;  // one-hot columns become softmax groups of the bottom layer
    const FitReport r = rbm->fit(layer_data, layer_ctx);
    report.seconds += r.seconds;
    report.n_iter += r.n_iter;
    report.history.insert(report.history.end(), r.history.begin(), r.history.end());
    report.objective = r.objective;
    layer_reports.push_back(r.to_json());
    if (l + 1 < sizes.size()) {
      x = rbm->transform(x);  // [N, H_l] p(h = 1 | v): the next layer's data
      if (val) val->x = rbm->transform(val->x);
    }
    layers.push_back(std::move(rbm));
  }
  layers_ = std::move(layers);
  report.converged = true;
  report.extra["layers"] = layer_reports;
  schema_ = layers_.front()->schema();
  if (options_.fine_tune_epochs > 0) {
    GF_CHECK_AS(DataError, train_set.labels.defined() && train_set.labels.numel() == train_set.x.size(0),
                "fine-tuning needs one class label per example (class sub-folders, IDX labels, fashion-mnist)",
                "fine_tune_epochs = ", options_.fine_tune_epochs, " but the data has no labels");
    auto labels = train_set.labels.to(torch::kLong).reshape({-1});
    GF_CHECK_AS(DataError, labels.min().item<int64_t>() >= 0, "class labels are 0, 1, 2, ...",
                "a class label is negative");
    const int64_t n_classes = labels.max().item<int64_t>() + 1;
    auto input = [&](const torch::Tensor& data) {
      return layers_.front()->visible_data(data).to(torch::kFloat32);
    };
    std::vector<int64_t> widths{layers_.front()->components().size(1)};
    widths.insert(widths.end(), sizes.begin(), sizes.end());
    auto net = std::make_shared<ClassifierNet>(widths, n_classes);
    auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 31);
    neural::init_like_pytorch(*net, gen);
    {
      torch::NoGradGuard no_grad;
      for (size_t l = 0; l < layers_.size(); ++l) {
        const auto r = view(*layers_[l]);
        // The recognition weights W (v / s2): Gaussian visible variances fold into the first layer.
        auto w = r.gaussian() ? r.W * torch::exp(-r.log_var) : r.W;
        net->hidden[l]->weight.copy_(w.to(torch::kFloat32));
        net->hidden[l]->bias.copy_(r.c.to(torch::kFloat32));
      }
    }
    net->to(ctx.device);
    train::TrainOptions t;
    t.epochs = options_.fine_tune_epochs;
    t.lr = options_.fine_tune_lr;
    t.batch_size = options_.fine_tune_batch_size;
    t.seed = options_.seed;
    t.checkpoint_every = 0;
    if (!options_.run_dir.empty()) t.run_dir = options_.run_dir + "/fine_tune";
    neural::CrossEntropyTrainable trainable(
        *net, [&net](const torch::Tensor& in, at::Generator*) { return net->forward(in); });
    train::TrainData data{input(train_set.x).to(ctx.device), labels.to(ctx.device)};
    std::optional<train::TrainData> val_data;
    if (ctx.validation && ctx.validation->labels.defined()) {
      val_data = train::TrainData{input(ctx.validation->x).to(ctx.device),
                                  ctx.validation->labels.to(torch::kLong).reshape({-1}).to(ctx.device)};
    }
    const FitReport tuned = train::run(trainable, data, val_data ? &*val_data : nullptr, t, ctx);
    net->eval();
    report.seconds += tuned.seconds;
    nlohmann::json fine = tuned.to_json();
    const auto logits = [&net](const torch::Tensor& in) { return net->forward(in); };
    fine["train_accuracy"] = neural::classification_accuracy(logits, data.x, data.labels);
    if (val_data) fine["validation_accuracy"] = neural::classification_accuracy(logits, val_data->x, val_data->labels);
    report.extra["fine_tune"] = fine;
    classifier_ = net;
  }
  const auto& top = layers_.back()->fit_report().extra;
  for (const char* key : {"log_z", "log_z_standard_error", "log_z_estimator"}) {
    if (top.contains(key)) report.extra[key] = top[key];
  }
  report_ = report;
  return report_;
}

int64_t DeepBeliefNet::latent_dim() const { return options_.layer_sizes().back(); }

torch::Tensor DeepBeliefNet::score_samples(const torch::Tensor& x) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train dbn ...`) or load a fitted one",
              "this deep belief net is not fitted yet, so it cannot score samples");
  const auto& top = *layers_.back();
  if (layers_.size() == 1) return top.score_samples(x);
  auto v = layers_.front()->visible_data(x);  // [N, D]
  const double log_z = top.log_partition();
  const auto top_view = view(top);
  std::vector<ebm::Rbm> below_views;
  for (size_t l = 0; l + 1 < layers_.size(); ++l) below_views.push_back(view(*layers_[l]));
  torch::NoGradGuard no_grad;
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 12345);
  const int64_t S = options_.bound_samples;
  std::vector<torch::Tensor> out;
  for (int64_t s0 = 0; s0 < v.size(0); s0 += 1000) {
    auto chunk = v.slice(0, s0, std::min(v.size(0), s0 + 1000));  // [B, D]
    std::vector<torch::Tensor> log_w;
    for (int64_t s = 0; s < S; ++s) {
      // log p(x_0..x_{L-1}) - log q(x_1..x_{L-1} | x_0) for one up-pass sample.
      auto below = chunk;
      auto w = torch::zeros({chunk.size(0)}, torch::TensorOptions().dtype(torch::kFloat64));
      for (const auto& r : below_views) {
        auto a = r.hidden_input(below);                // [B, H]
        auto h = ebm::bernoulli(torch::sigmoid(a), gen);
        auto log_q = -torch::binary_cross_entropy_with_logits(a, h, {}, {}, at::Reduction::None).sum(1);
        w += r.log_visible_given_hidden(below, h).to(torch::kFloat64) - log_q.to(torch::kFloat64);
        below = h;
      }
      w += -top_view.free_energy(below).to(torch::kFloat64) - log_z;
      log_w.push_back(w);
    }
    out.push_back(torch::logsumexp(torch::stack(log_w), 0) - std::log(static_cast<double>(S)));
  }
  return torch::cat(out).cpu();
}

ScoreEstimator DeepBeliefNet::score_estimator() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep belief net is not fitted yet");
  ScoreEstimator top = layers_.back()->score_estimator();
  if (layers_.size() == 1) return top;
  ScoreEstimator e;
  e.name = "lower_bound";
  e.standard_error = top.standard_error;
  e.details = top.details;
  e.details["bound_samples"] = options_.bound_samples;
  e.description = msg("importance-weighted lower bound with ", options_.bound_samples,
                      " up-pass samples of q(h | v); top RBM: ", top.description);
  return e;
}

torch::Tensor DeepBeliefNet::transform(const torch::Tensor& x, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep belief net is not fitted yet");
  const size_t upto = options_.transform_layer == 0 ? layers_.size() : static_cast<size_t>(options_.transform_layer);
  torch::Tensor h = x;
  for (size_t l = 0; l < upto; ++l) h = layers_[l]->transform(h);  // [N, H_l]
  return h;
}

torch::Tensor DeepBeliefNet::decode(const torch::Tensor& h, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep belief net is not fitted yet");
  // Mean-field down pass: E[x_l | x_{l+1}] layer by layer.
  torch::Tensor x = h;
  for (size_t l = layers_.size(); l-- > 1;) {
    const auto r = view(*layers_[l]);
    torch::NoGradGuard no_grad;
    GF_CHECK(x.dim() == 2 && x.size(1) == r.n_hidden(), "codes must be [N, ", r.n_hidden(), "], got ", x.sizes());
    x = r.visible_mean(x.to(r.W.device(), r.W.scalar_type()));
  }
  return layers_.front()->decode(x);
}

torch::Tensor DeepBeliefNet::sample_latent(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep belief net is not fitted yet");
  return layers_.back()->sample_latent(n, gen);
}

torch::Tensor DeepBeliefNet::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep belief net is not fitted yet, so it cannot sample");
  if (layers_.size() == 1) return layers_.front()->sample(n, gen);
  // Gibbs chains in the top RBM give its hidden states; then a sampled down pass, with means at the bottom.
  auto x = layers_.back()->sample_latent(n, gen);  // [n, H_L]
  torch::NoGradGuard no_grad;
  for (size_t l = layers_.size(); l-- > 1;) {
    const auto r = view(*layers_[l]);
    x = r.sample_visible(x.to(r.W.device(), r.W.scalar_type()), gen);
  }
  return layers_.front()->decode(x);
}

torch::Tensor DeepBeliefNet::predict_proba(const torch::Tensor& x) const {
  GF_CHECK_AS(NotSupported, classifier_ != nullptr,
              "train it with labelled data and fine_tune_epochs > 0 (e.g. --fine_tune_epochs 5)",
              "this deep belief net was not fine-tuned as a classifier");
  torch::NoGradGuard no_grad;
  const auto device = neural::device_of(*classifier_);
  auto v = layers_.front()->visible_data(x).to(device, torch::kFloat32);
  return torch::softmax(classifier_->forward(v), 1).cpu();
}

TensorMap DeepBeliefNet::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep belief net is not fitted yet");
  TensorMap out;
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (auto& [name, t] : layers_[l]->state()) out["layer" + std::to_string(l + 1) + "/" + name] = t;
  }
  if (classifier_) neural::save_module(*classifier_, "classifier/", out);
  return out;
}

void DeepBeliefNet::load_state(const TensorMap& t) {
  const auto sizes = options_.layer_sizes();
  std::vector<std::unique_ptr<RestrictedBoltzmannMachine>> layers;
  for (size_t l = 0; l < sizes.size(); ++l) {
    const std::string prefix = "layer" + std::to_string(l + 1) + "/";
    TensorMap part;
    for (const auto& [name, tensor] : t) {
      if (name.rfind(prefix, 0) == 0) part[name.substr(prefix.size())] = tensor;
    }
    GF_CHECK(!part.empty(), "the deep belief net state has no tensors for layer ", l + 1);
    auto rbm = std::make_unique<RestrictedBoltzmannMachine>(options_.layer_options(l));
    const auto& layer_states = pending_layer_state_.value("layers", nlohmann::json::array());
    if (l < layer_states.size()) rbm->load_state_json(layer_states[l]);
    rbm->load_state(part);
    layers.push_back(std::move(rbm));
  }
  std::shared_ptr<ClassifierNet> classifier;
  if (auto out = t.find("classifier/out.weight"); out != t.end()) {
    std::vector<int64_t> widths{layers.front()->components().size(1)};
    widths.insert(widths.end(), sizes.begin(), sizes.end());
    classifier = std::make_shared<ClassifierNet>(widths, out->second.size(0));
    neural::load_module(*classifier, "classifier/", t);
    classifier->eval();
  }
  layers_ = std::move(layers);
  classifier_ = classifier;
}

nlohmann::json DeepBeliefNet::state_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : layers_) layers.push_back(l->state_json());
  return {{"layers", layers}};
}

void DeepBeliefNet::load_state_json(const nlohmann::json& state) {
  pending_layer_state_ = state;
  for (size_t l = 0; l < layers_.size() && state.contains("layers") && l < state["layers"].size(); ++l) {
    layers_[l]->load_state_json(state["layers"][l]);
  }
}

}  // namespace gf
