#include "genforge/models/pixelcnn.h"

#include "models/pixelcnn/pixelcnn_net.h"

namespace gf {

namespace {

class PixelCnnTrainable : public train::Trainable {
 public:
  PixelCnnTrainable(PixelCnn::Net& net, bool fast) : net_(net), fast_(fast) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }
  torch::Tensor loss(const train::Batch& b) {
    auto condition = neural::one_hot(b.labels, net_.geometry.n_classes);
    return -net_.log_prob(net_.logits(net_.input_of(b.x), condition), b.x);
  }
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto l = loss(batch).mean();
    ctx.optimize("model", l);
    ctx.log("bits_per_dim", l.item<double>() / (static_cast<double>(net_.geometry.numel()) * std::log(2.0)));
  }
  double eval_loss(const train::Batch& batch, at::Generator&) override {
    torch::NoGradGuard no_grad;
    return loss(batch).mean().item<double>();
  }
  torch::Tensor preview(int64_t n, at::Generator& gen) override {
    const auto& g = net_.geometry;
    auto k = torch::zeros(g.batch_shape(n), torch::TensorOptions().device(net_.device()));
    auto missing = torch::ones(g.batch_shape(n), torch::TensorOptions().dtype(torch::kBool).device(net_.device()));
    auto condition = neural::cycling_condition(n, g, net_.device());
    auto out = net_.complete(k, missing, condition, gen, fast_);
    return out / static_cast<double>(net_.n_bins - 1);
  }

 private:
  PixelCnn::Net& net_;
  bool fast_;
};

}  // namespace

PixelCnn::PixelCnn(PixelCnnOptions options) : options_(std::move(options)) { options_.validate(); }
PixelCnn::~PixelCnn() = default;

Capabilities PixelCnn::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::exact;
  c.conditional_sampling = true;
  if (net_) {
    c.bits_per_dim = output_ == "bernoulli" ? "-log2 P(image) / D of binary pixels"
                                            : "-log2 P(image) / D of pixels with " + std::to_string(options_.n_bins) +
                                                  " levels (exact, no dequantisation)";
  }
  return c;
}

nlohmann::json PixelCnn::options_json() const { return option_table().to_json(options_); }
std::string PixelCnn::resolved_output() const { return output_.empty() ? options_.output : output_; }
int64_t PixelCnn::n_classes() const { return net_ ? net_->geometry.n_classes : 0; }

namespace {

void check_fitted(bool fitted, const char* what) {
  GF_CHECK_AS(NotFitted, fitted, "fit the model first (`genforge train pixelcnn ...`) or load a fitted one",
              "this PixelCNN is not fitted yet, so it cannot ", what);
}

// Images as the model's values: binarised (threshold) or bin indices k = round(x (n_bins - 1)); NaN kept when
// `allow_missing`. [N, C, H, W]
torch::Tensor model_values(const torch::Tensor& x_in, const neural::Geometry& g, const torch::Device& device,
                           const PixelCnnOptions& o, const std::string& output, const char* what,
                           bool allow_missing = false) {
  torch::Tensor x;
  if (allow_missing) {
    auto filled = torch::nan_to_num(x_in.to(torch::kFloat32), 0.0);
    neural::checked_input(filled, g, device, true, "PixelCNN", what);
    x = x_in.to(device, torch::kFloat32).reshape(g.batch_shape(x_in.size(0)));
  } else {
    x = neural::checked_input(x_in, g, device, true, "PixelCNN", what);
  }
  if (o.binarize == "threshold") return torch::where(x.isnan(), x, (x >= 0.5).to(torch::kFloat32));
  if (output == "bernoulli") {
    auto observed = x.isnan().logical_not();
    GF_CHECK_AS(DataError, ((x == 0) | (x == 1)).logical_or(observed.logical_not()).all().item<bool>(),
                "binarise them with --binarize threshold, or choose --output softmax",
                "the bernoulli output models binary images, but the pixels to ", what, " are not all 0 or 1");
    return x;
  }
  return torch::round(x * static_cast<double>(o.n_bins - 1));
}

}  // namespace

FitReport PixelCnn::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto geometry = neural::geometry_of(train_set, options_.conditional, "PixelCNN");
  GF_CHECK_AS(DataError, geometry.is_image(), "give images [N, C, H, W] (an image folder, an IDX file, fashion-mnist)",
              "PixelCNN models images, but the data are rows of ", geometry.numel(), " features");
  auto x = neural::checked_input(train_set.x, geometry, torch::kCPU, true, "PixelCNN", "fit");
  if (options_.binarize == "threshold") x = (x >= 0.5).to(torch::kFloat32);
  output_ = options_.output;
  if (output_ == "auto") output_ = ((x == 0) | (x == 1)).all().item<bool>() ? "bernoulli" : "softmax";
  net_.reset();
  auto values = model_values(x, geometry, torch::kCPU, options_, output_, "fit").to(ctx.device);
  auto net = std::make_shared<Net>(geometry, options_, output_, compute_type(options_.precision, ctx.device));
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  neural::init_like_pytorch(*net, gen);
  auto labels = neural::checked_labels(train_set.labels, geometry, values.size(0), ctx.device);
  if (labels.defined()) net->log_class_prior.copy_(neural::log_class_frequencies(labels, geometry.n_classes));
  net->to(ctx.device);
  PixelCnnTrainable trainable(*net, options_.fast_sampling);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto vx = model_values(ctx.validation->x, geometry, ctx.device, options_, output_, "validate");
    val = train::TrainData{vx, neural::checked_labels(ctx.validation->labels, geometry, vx.size(0), ctx.device)};
  }
  report_ = train::run(trainable, {values, labels}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "negative log-likelihood per image (nats, last logged)";
  report_.extra["output"] = output_;
  net->eval();
  net_ = net;
  schema_ = {{"data_kind", "images"}, {"example_shape", geometry.shape}, {"n_features", geometry.numel()},
             {"n_classes", geometry.n_classes}};
  return report_;
}

torch::Tensor PixelCnn::score_samples(const torch::Tensor& x) const { return score_samples(x, {}); }

torch::Tensor PixelCnn::score_samples(const torch::Tensor& x_in, const torch::Tensor& labels_in) const {
  check_fitted(fitted(), "score samples");
  const auto& g = net_->geometry;
  const auto device = net_->device();
  auto k = model_values(x_in, g, device, options_, output_, "score");
  torch::NoGradGuard no_grad;
  auto labels = labels_in.defined() ? neural::checked_labels(labels_in, g, k.size(0), device) : torch::Tensor();
  return neural::marginal_over_classes(g, labels, net_->log_class_prior, k.size(0), device, [&](const torch::Tensor& lb) {
    std::vector<torch::Tensor> out;
    for (int64_t s = 0; s < k.size(0); s += 100) {
      const int64_t e = std::min(k.size(0), s + 100);
      auto condition = lb.defined() ? neural::one_hot(lb.slice(0, s, e), g.n_classes) : torch::Tensor();
      auto kb = k.slice(0, s, e);
      out.push_back(net_->log_prob(net_->logits(net_->input_of(kb), condition), kb));
    }
    return torch::cat(out).to(torch::kCPU, torch::kFloat64);
  });
}

torch::Tensor PixelCnn::dimension_scores(const torch::Tensor& x_in) const {
  check_fitted(fitted(), "score pixels");
  const auto& g = net_->geometry;
  const auto device = net_->device();
  auto k = model_values(x_in, g, device, options_, output_, "score");
  torch::NoGradGuard no_grad;
  auto classes = neural::most_likely_classes(g, net_->log_class_prior, k.size(0), device, [&](const torch::Tensor& lb) {
    return score_samples(x_in, lb);
  });
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < k.size(0); s += 100) {
    const int64_t e = std::min(k.size(0), s + 100);
    auto condition = classes.defined() ? neural::one_hot(classes.slice(0, s, e), g.n_classes) : torch::Tensor();
    auto kb = k.slice(0, s, e);
    auto logits = net_->logits(net_->input_of(kb), condition);
    auto params = logits.view({kb.size(0), kb.size(1), net_->per_value, kb.size(2), kb.size(3)});
    out.push_back(-net_->log_prob_values(params, kb));
  }
  return torch::cat(out).to(torch::kCPU, torch::kFloat64);
}

torch::Tensor PixelCnn::output_logits(const torch::Tensor& x) const {
  check_fitted(fitted(), "run");
  return net_->logits(net_->input_of(x * static_cast<double>(net_->n_bins - 1)), {});
}

torch::Tensor PixelCnn::complete(const torch::Tensor& x_in, at::Generator& gen, const torch::Tensor& labels) const {
  check_fitted(fitted(), "complete images");
  const auto& g = net_->geometry;
  const auto device = net_->device();
  auto x = model_values(x_in, g, device, options_, output_, "complete", true);
  auto missing = x.isnan();
  auto k = torch::nan_to_num(x, 0.0);
  torch::Tensor condition;
  if (g.n_classes > 0) {
    GF_CHECK(labels.defined(), "a class-conditional PixelCNN completes given the class: pass labels");
    condition = neural::one_hot(neural::checked_labels(labels, g, k.size(0), device), g.n_classes);
  }
  // 256 images at a time: the sampling caches hold every layer's activations of the whole batch (about 1.5 MB per
  // 28x28 image with the W8 network), so 10000 at once would need gigabytes.
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < k.size(0); s += 256) {
    const int64_t e = std::min(k.size(0), s + 256);
    parts.push_back(net_->complete(k.slice(0, s, e).clone(), missing.slice(0, s, e),
                                   condition.defined() ? condition.slice(0, s, e) : condition, gen,
                                   options_.fast_sampling));
  }
  return (torch::cat(parts) / static_cast<double>(net_->n_bins - 1)).cpu();
}

namespace {

// B images coded pixel by pixel in raster order through the cached network; the pixels not yet known are 0.
class PixelStreams : public SymbolStreams {
 public:
  PixelStreams(std::shared_ptr<PixelCnn::Net> net, int64_t batch)
      : net_(std::move(net)), batch_(batch), cache_(make_cache(*net_, batch)) {}
  torch::Tensor next_scores() override {
    torch::NoGradGuard no_grad;
    const int64_t c = net_->geometry.channels();
    auto params = cache_.step(true).view({batch_, c, net_->per_value});
    return net_->bin_scores(params).to(torch::kFloat32).cpu().contiguous();  // [B, C, n_bins]
  }
  void push(const torch::Tensor& symbols) override {
    torch::NoGradGuard no_grad;
    auto values = symbols.to(cache_.k.options()).view({batch_, net_->geometry.channels()});
    cache_.advance(&values);
  }

 private:
  static PixelCnn::Net::RasterCache make_cache(PixelCnn::Net& net, int64_t batch) {
    torch::NoGradGuard no_grad;
    auto k = torch::zeros(net.geometry.batch_shape(batch), torch::TensorOptions().device(net.device()));
    return PixelCnn::Net::RasterCache(net, k, {}, 0);
  }
  std::shared_ptr<PixelCnn::Net> net_;
  int64_t batch_;
  PixelCnn::Net::RasterCache cache_;
};

}  // namespace

int64_t PixelCnn::alphabet_size() const {
  check_fitted(fitted(), "code images");
  return net_->n_bins;
}

int64_t PixelCnn::symbols_per_step() const {
  check_fitted(fitted(), "code images");
  return net_->geometry.channels();
}

std::unique_ptr<SymbolStreams> PixelCnn::open_streams(int64_t batch) const {
  check_fitted(fitted(), "code images");
  GF_CHECK(batch >= 1, "batch must be at least 1, got ", batch);
  GF_CHECK_AS(NotSupported, net_->geometry.n_classes == 0, "train an unconditional PixelCNN to compress images",
              "lossless coding with a class-conditional PixelCNN is not supported (the classes are not coded)");
  return std::make_unique<PixelStreams>(net_, batch);
}

torch::Tensor PixelCnn::resampled_completion(const torch::Tensor& x_in, at::Generator& gen,
                                             const torch::Tensor& labels) const {
  check_fitted(fitted(), "complete images");
  const auto& g = net_->geometry;
  const auto device = net_->device();
  const int64_t n = x_in.size(0);
  // The candidates' classes: the given labels (or none, unconditional), else every class in turn.
  std::vector<torch::Tensor> class_of_candidates;
  if (g.n_classes > 0 && !labels.defined()) {
    for (int64_t c = 0; c < g.n_classes; ++c) class_of_candidates.push_back(torch::full({n}, c, torch::kLong));
  } else {
    class_of_candidates.push_back(labels);
  }
  const int64_t particles = options_.fill_particles;
  if (class_of_candidates.size() == 1 && particles == 1) return complete(x_in, gen, labels);
  auto missing = model_values(x_in, g, device, options_, output_, "complete", true).isnan();  // [N, C, H, W]
  // log p(c) + log P(observed pixels | completion, c) per image. [N]
  auto log_weight = [&](const torch::Tensor& filled, const torch::Tensor& lb) {
    torch::NoGradGuard no_grad;
    auto k = model_values(filled, g, device, options_, output_, "complete");
    std::vector<torch::Tensor> out;
    for (int64_t s = 0; s < n; s += 100) {
      const int64_t e = std::min(n, s + 100);
      auto kb = k.slice(0, s, e);
      torch::Tensor condition;
      if (lb.defined()) condition = neural::one_hot(lb.slice(0, s, e).to(device), g.n_classes);
      auto params = net_->logits(net_->input_of(kb), condition)
                        .view({kb.size(0), kb.size(1), net_->per_value, kb.size(2), kb.size(3)});
      auto per_pixel = net_->log_prob_values(params, kb).masked_fill(missing.slice(0, s, e), 0.0);
      out.push_back(per_pixel.sum({1, 2, 3}));
    }
    auto w = torch::cat(out).to(torch::kCPU, torch::kFloat64);
    if (lb.defined()) w = w + net_->log_class_prior.to(torch::kCPU, torch::kFloat64).index_select(0, lb.cpu());
    return w;
  };
  // One completion kept per image, streaming: the candidate with the largest log weight + Gumbel noise is a draw
  // from the normalised weights (the Gumbel-max trick), with one candidate in memory at a time.
  torch::Tensor kept, kept_key;
  for (const auto& lb : class_of_candidates) {
    for (int64_t p = 0; p < particles; ++p) {
      auto filled = complete(x_in, gen, lb);
      auto u = torch::rand({n}, gen, torch::kFloat64).clamp_min(1e-300);
      auto key = log_weight(filled, lb) - torch::log(-torch::log(u));
      if (!kept.defined()) {
        kept = filled;
        kept_key = key;
        continue;
      }
      auto better = key > kept_key;
      kept = torch::where(better.view({n, 1, 1, 1}), filled, kept);
      kept_key = torch::maximum(key, kept_key);
    }
  }
  return kept;
}

torch::Tensor PixelCnn::conditional_sample(const torch::Tensor& x, at::Generator& gen) const {
  return resampled_completion(x, gen);
}

torch::Tensor PixelCnn::conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels, int64_t m,
                                                        at::Generator& gen) const {
  check_fitted(fitted(), "complete images");
  GF_CHECK(m >= 1, "the number of draws must be at least 1, got ", m);
  const auto classes = row_classes(labels, x.size(0), net_->geometry.n_classes);
  std::vector<torch::Tensor> draws;
  for (int64_t i = 0; i < m; ++i) draws.push_back(resampled_completion(x, gen, classes));
  return torch::stack(draws);
}

torch::Tensor PixelCnn::conditional_mean(const torch::Tensor& x) const {
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 4242);
  auto sum = conditional_sample(x, gen);
  for (int r = 1; r < 16; ++r) sum = sum + conditional_sample(x, gen);
  return sum / 16.0;
}

torch::Tensor PixelCnn::sample(int64_t n, at::Generator& gen) const {
  check_fitted(fitted(), "sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  if (net_->geometry.n_classes > 0) return sample_labelled(neural::draw_classes(net_->log_class_prior, n, gen), gen);
  return complete(torch::full(net_->geometry.batch_shape(n), NAN), gen);
}

torch::Tensor PixelCnn::sample_labelled(const torch::Tensor& labels, at::Generator& gen) const {
  check_fitted(fitted(), "sample");
  if (net_->geometry.n_classes == 0) return Model::sample_labelled(labels, gen);
  check_class_labels(labels, net_->geometry.n_classes);
  return complete(torch::full(net_->geometry.batch_shape(labels.size(0)), NAN), gen, labels);
}

TensorMap PixelCnn::state() const {
  check_fitted(fitted(), "be saved");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  return out;
}

nlohmann::json PixelCnn::state_json() const { return {{"output", output_}}; }

void PixelCnn::load_state_json(const nlohmann::json& state) { output_ = state.value("output", std::string()); }

void PixelCnn::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  GF_CHECK(output_ == "bernoulli" || output_ == "softmax" || output_ == "logistic_mixture",
           "the PixelCNN file does not say which output it was trained with");
  auto net = std::make_shared<Net>(geometry, options_, output_, compute_type(options_.precision, torch::kCPU));
  neural::load_module(*net, "", t);
  net->eval();
  net_ = net;
}

}  // namespace gf
