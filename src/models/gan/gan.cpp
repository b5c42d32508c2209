#include "genforge/models/gan.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "nn/layer_stack.h"
#include "nn/neural.h"

namespace gf {

namespace nn = torch::nn;

namespace {

// The generator and discriminator of pytorch/examples cpp/dcgan (28x28), and the 32x32 variant whose second
// generator layer and last discriminator layer have 4x4 kernels. Critics of wgan-gp have biases instead of batch
// norm (the penalty is per example, which batch statistics would couple).
nn::Sequential dcgan_generator(const neural::Geometry& g, int64_t in, int64_t w) {
  const int64_t k2 = g.height() == 28 ? 3 : 4;
  nn::Sequential s;
  auto block = [&](int64_t from, int64_t to, int64_t k, int64_t stride, int64_t pad) {
    s->push_back(neural::ConvTranspose2d(from, to, k, stride, pad, /*bias=*/false));
    s->push_back(nn::BatchNorm2d(to));
    s->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
  };
  block(in, 4 * w, 4, 1, 0);     // 1 -> 4
  block(4 * w, 2 * w, k2, 2, 1);  // 4 -> 7 (28) or 8 (32)
  block(2 * w, w, 4, 2, 1);       // -> 14 or 16
  s->push_back(neural::ConvTranspose2d(w, g.channels(), 4, 2, 1, /*bias=*/false));
  s->push_back(nn::Tanh());
  return s;
}

nn::Sequential dcgan_discriminator(const neural::Geometry& g, int64_t in, int64_t w, bool batch_norm) {
  nn::Sequential s;
  auto block = [&](int64_t from, int64_t to, bool norm) {
    s->push_back(nn::Conv2d(nn::Conv2dOptions(from, to, 4).stride(2).padding(1).bias(!norm)));
    if (norm) s->push_back(nn::BatchNorm2d(to));
    s->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
  };
  block(in, w, false);                 // 28 -> 14 (32 -> 16)
  block(w, 2 * w, batch_norm);         // -> 7 (8)
  block(2 * w, 4 * w, batch_norm);     // -> 3 (4)
  const int64_t k_last = g.height() == 28 ? 3 : 4;
  s->push_back(nn::Conv2d(nn::Conv2dOptions(4 * w, 1, k_last).stride(1).padding(0).bias(!batch_norm)));  // -> 1
  return s;
}

// Linear layers named `name`.0, .2, .4 (LoRA adapters as `lora` says).
nn::Sequential mlp(int64_t in, int64_t hidden, int64_t out, bool leaky, const train::LoraOptions& lora,
                   const std::string& name) {
  nn::Sequential s;
  auto act = [&] {
    if (leaky) {
      s->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
    } else {
      s->push_back(nn::ReLU());
    }
  };
  s->push_back(neural::adaptable_linear(in, hidden, lora, name + ".0"));
  act();
  s->push_back(neural::adaptable_linear(hidden, hidden, lora, name + ".2"));
  act();
  s->push_back(neural::adaptable_linear(hidden, out, lora, name + ".4"));
  return s;
}

}  // namespace

struct Gan::Net : nn::Module {
  Net(const neural::Geometry& g, const GanOptions& o)
      : geometry(g), dcgan(o.architecture == "dcgan"), latent(o.latent) {
    const int64_t k = g.n_classes;
    if (dcgan) {
      generator = register_module("generator", dcgan_generator(g, o.latent + k, o.width));
      discriminator =
          register_module("discriminator", dcgan_discriminator(g, g.channels() + k, o.width, o.loss == "bce"));
    } else {
      generator = register_module("generator", mlp(o.latent + k, o.hidden, g.numel(), false, o, "generator"));
      discriminator = register_module("discriminator", mlp(g.numel() + k, o.hidden, 1, true, o, "discriminator"));
    }
    // Images live in [-1, 1] inside (x * 2 - 1); rows are standardised per column.
    const int64_t stats = g.is_image() ? 1 : g.numel();
    data_mean = register_buffer("data_mean", torch::full({stats}, g.is_image() ? 0.5 : 0.0));
    data_scale = register_buffer("data_scale", torch::full({stats}, g.is_image() ? 0.5 : 1.0));
    if (k > 0) log_class_prior = register_buffer("log_class_prior", torch::full({k}, -std::log(double(k))));
  }

  torch::Tensor from_data(const torch::Tensor& x) {  // [N, shape...] -> same shape, model space
    if (geometry.is_image()) return (x - data_mean) / data_scale;
    return (x.flatten(1) - data_mean) / data_scale;
  }
  torch::Tensor to_data(const torch::Tensor& y) {  // model space -> data space [N, shape...]
    auto out = geometry.is_image() ? y * data_scale + data_mean : y.flatten(1) * data_scale + data_mean;
    if (geometry.is_image()) out = out.clamp(0, 1);
    return out.reshape(geometry.batch_shape(y.size(0)));
  }
  // Generator output in model space. z [N, L], condition [N, K] or undefined.
  torch::Tensor generate(const torch::Tensor& z, const torch::Tensor& condition) {
    auto in = neural::with_condition(z, condition);
    if (dcgan) return generator->forward(in.reshape({in.size(0), in.size(1), 1, 1}));  // [N, C, H, W]
    auto out = generator->forward(in);                                                    // [N, D]
    if (geometry.is_image()) out = torch::tanh(out).reshape(geometry.batch_shape(z.size(0)));
    return out;
  }
  // Discriminator logits (bce) or critic values (wgan-gp) of model-space examples. [N]
  torch::Tensor critic(const torch::Tensor& x, const torch::Tensor& condition) {
    if (dcgan) {
      auto in = x;
      if (condition.defined()) {
        auto planes = condition.reshape({x.size(0), condition.size(1), 1, 1}).expand(
            {x.size(0), condition.size(1), x.size(2), x.size(3)});
        in = torch::cat({x, planes}, 1);
      }
      return discriminator->forward(in).reshape({x.size(0)});
    }
    return discriminator->forward(neural::with_condition(x.flatten(1), condition)).reshape({x.size(0)});
  }
  void set_discriminator_trainable(bool on) {
    for (auto& p : discriminator->parameters()) p.requires_grad_(on);
  }
  // Re-estimates the generator's batch-norm statistics for its final (EMA) weights: a cumulative average over
  // batches of fresh noise, so sampling in evaluation mode matches what the weights produce.
  void recalibrate_batch_norm(uint64_t seed) {
    std::vector<nn::BatchNorm2dImpl*> norms;
    for (auto& m : generator->modules(false)) {
      if (auto* bn = m->as<nn::BatchNorm2d>()) norms.push_back(bn);
    }
    if (norms.empty()) return;
    torch::NoGradGuard no_grad;
    auto gen = make_generator(seed);
    const auto device = neural::device_of(*this);
    for (auto* bn : norms) {
      bn->reset_running_stats();
      bn->options.momentum(std::decay_t<decltype(bn->options.momentum())>());  // none: a cumulative average
    }
    generator->train();
    for (int b = 0; b < 16; ++b) {
      auto z = at::randn({256, latent}, gen, torch::TensorOptions().dtype(torch::kFloat32)).to(device);
      torch::Tensor condition;
      if (geometry.n_classes > 0) {
        condition = neural::one_hot(neural::draw_classes(log_class_prior, 256, gen).to(device), geometry.n_classes);
      }
      generate(z, condition);
    }
    generator->eval();
    for (auto* bn : norms) bn->options.momentum(0.1);
  }

  neural::Geometry geometry;
  bool dcgan;
  int64_t latent;
  nn::Sequential generator{nullptr}, discriminator{nullptr};
  torch::Tensor data_mean, data_scale, log_class_prior;
};

namespace gan {

torch::Tensor gradient_penalty(const std::function<torch::Tensor(const torch::Tensor&)>& critic,
                               const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& alpha) {
  std::vector<int64_t> shape(real.dim(), 1);
  shape[0] = real.size(0);
  auto a = alpha.reshape(shape);
  auto mixed = (a * real + (1 - a) * fake.detach()).detach().requires_grad_(true);  // [N, ...]
  auto values = critic(mixed);                                                     // [N]
  auto grad = torch::autograd::grad({values.sum()}, {mixed}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  return (grad.flatten(1).norm(2, 1) - 1).pow(2).mean();
}

}  // namespace gan

namespace {

class GanTrainable : public train::Trainable {
 public:
  GanTrainable(Gan::Net& net, const GanOptions& o) : net_(net), o_(o) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"discriminator", net_.discriminator->parameters()}, {"generator", net_.generator->parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }

  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto& gen = ctx.generator();
    auto real = net_.from_data(batch.x);
    auto condition = neural::one_hot(batch.labels, net_.geometry.n_classes);
    const int64_t b = real.size(0);
    auto opts = real.options();
    auto fake = net_.generate(at::randn({b, net_.latent}, gen, opts.device(torch::kCPU)).to(real.device()),
                              condition);
    const bool wgan = o_.loss == "wgan-gp";
    auto d_real = net_.critic(real, condition), d_fake = net_.critic(fake.detach(), condition);  // [B]
    torch::Tensor d_loss;
    if (wgan) {
      auto alpha = at::rand({b}, gen, opts.device(torch::kCPU)).to(real.device());
      auto penalty = gan::gradient_penalty([&](const torch::Tensor& x) { return net_.critic(x, condition); }, real,
                                           fake, alpha);
      auto distance = d_real.mean() - d_fake.mean();
      d_loss = -distance + o_.gp_weight * penalty;
      ctx.log("wasserstein_estimate", distance.item<double>());
      ctx.log("gradient_penalty", penalty.item<double>());
    } else {
      auto real_target = torch::ones({b}, opts);
      if (o_.label_smoothing > 0) {
        real_target = 1 - o_.label_smoothing * at::rand({b}, gen, opts.device(torch::kCPU)).to(real.device());
      }
      d_loss = torch::binary_cross_entropy_with_logits(d_real, real_target) +
               torch::binary_cross_entropy_with_logits(d_fake, torch::zeros({b}, opts));
    }
    ctx.optimize("discriminator", d_loss);
    {
      torch::NoGradGuard no_grad;
      ctx.log("d_accuracy_real", (d_real > 0).to(torch::kFloat64).mean().item<double>());
      ctx.log("d_accuracy_fake", (d_fake < 0).to(torch::kFloat64).mean().item<double>());
      ctx.log("d_real", (wgan ? d_real : torch::sigmoid(d_real)).mean().item<double>());
      ctx.log("d_fake", (wgan ? d_fake : torch::sigmoid(d_fake)).mean().item<double>());
    }
    if (ctx.step() % o_.critic_steps() != o_.critic_steps() - 1) return;
    // The generator's step needs gradients through the discriminator's input, not for its weights.
    net_.set_discriminator_trainable(false);
    auto g_out = net_.critic(fake, condition);
    auto g_loss = wgan ? -g_out.mean() : torch::binary_cross_entropy_with_logits(g_out, torch::ones({b}, opts));
    ctx.optimize("generator", g_loss);
    net_.set_discriminator_trainable(true);
    const double g_value = g_loss.item<double>();
    if (!wgan && g_value > 0) ctx.log("loss_balance", d_loss.item<double>() / g_value);
  }

  // A GAN has no held-out likelihood; validation reports the discriminator's loss on held-out real data.
  double eval_loss(const train::Batch& batch, at::Generator&) override {
    auto d = net_.critic(net_.from_data(batch.x), neural::one_hot(batch.labels, net_.geometry.n_classes));
    if (o_.loss == "wgan-gp") return -d.mean().item<double>();
    return torch::binary_cross_entropy_with_logits(d, torch::ones_like(d)).item<double>();
  }

  torch::Tensor preview(int64_t n, at::Generator& gen) override {
    if (!net_.geometry.is_image()) return {};
    const auto device = neural::device_of(net_);
    auto z = at::randn({n, net_.latent}, gen, torch::TensorOptions().dtype(torch::kFloat32)).to(device);
    return net_.to_data(net_.generate(z, neural::cycling_condition(n, net_.geometry, device)));
  }

 private:
  Gan::Net& net_;
  const GanOptions& o_;
};

}  // namespace

GanOptions::GanOptions() {
  batch_size = 64;
  lr = 2e-4;
  beta1 = 0.5;
  ema_decay = 0.999;
}

void GanOptions::validate() const {
  train::TrainOptions::validate();
  validate_lora();
  GF_CHECK(lora_rank == 0 || architecture == "mlp",
           "LoRA adapts linear layers, and a dcgan has none (its layers are convolutions): use architecture=mlp");
  GF_CHECK(architecture == "dcgan" || architecture == "mlp", "architecture must be dcgan or mlp, got '", architecture,
           "'");
  GF_CHECK(loss == "bce" || loss == "wgan-gp", "loss must be bce or wgan-gp, got '", loss, "'");
  GF_CHECK(latent >= 1 && width >= 1 && hidden >= 1, "latent, width and hidden must be at least 1");
  GF_CHECK(n_critic >= 0, "n_critic must be >= 0 (0: automatic), got ", n_critic);
  GF_CHECK(gp_weight >= 0 && std::isfinite(gp_weight), "gp_weight must be >= 0, got ", gp_weight);
  GF_CHECK(label_smoothing >= 0 && label_smoothing < 1, "label_smoothing must be in [0, 1), got ", label_smoothing);
  GF_CHECK(truncation == 0 || (truncation >= 0.05 && std::isfinite(truncation)),
           "truncation must be 0 (off) or at least 0.05, got ", truncation);
}

const OptionTable<GanOptions>& Gan::option_table() {
  static const OptionTable<GanOptions> table = [] {
    OptionTable<GanOptions> t("gan");
    t.add("architecture", &GanOptions::architecture, "networks", {"dcgan", "mlp"})
        .add("loss", &GanOptions::loss, "adversarial loss", {"bce", "wgan-gp"})
        .add("latent", &GanOptions::latent, "noise dimensions")
        .add("width", &GanOptions::width, "dcgan base channels")
        .add("hidden", &GanOptions::hidden, "mlp hidden units")
        .add("n_critic", &GanOptions::n_critic, "discriminator steps per generator step (0: 1 bce, 5 wgan-gp)")
        .add("gp_weight", &GanOptions::gp_weight, "wgan-gp gradient penalty weight")
        .add("label_smoothing", &GanOptions::label_smoothing, "bce: real labels ~ U(1 - s, 1)")
        .add("conditional", &GanOptions::conditional, "class-conditional (labelled data)")
        .add("truncation", &GanOptions::truncation,
             "sampling: noise components beyond +-T redrawn (truncation trick; 0: off)");
    train::add_train_options(t);
    train::add_lora_options(t);
    return t;
  }();
  return table;
}

Gan::Gan(GanOptions options) : options_(std::move(options)) {}
Gan::~Gan() = default;

Capabilities Gan::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::none;
  c.latent_space = true;
  return c;
}

nlohmann::json Gan::options_json() const { return option_table().to_json(options_); }

int64_t Gan::n_classes() const { return net_ ? net_->geometry.n_classes : 0; }

namespace {
void check_geometry(const GanOptions& o, const neural::Geometry& g) {
  if (o.architecture != "dcgan") return;
  GF_CHECK_AS(DataError, g.is_image() && g.height() == g.width() && (g.height() == 28 || g.height() == 32),
              "use architecture=mlp for other sizes", "the DCGAN generates 28x28 or 32x32 images, got examples of ",
              g.describe());
}
}  // namespace

FitReport Gan::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto geometry = neural::geometry_of(train_set, options_.conditional, "GAN");
  check_geometry(options_, geometry);
  auto x = neural::checked_input(train_set.x, geometry, ctx.device, geometry.is_image(), "GAN (images)", "fit");
  auto labels = neural::checked_labels(train_set.labels, geometry, x.size(0), ctx.device);
  net_.reset();
  auto net = std::make_shared<Net>(geometry, options_);
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  neural::init_like_pytorch(*net, init_gen);
  if (!geometry.is_image()) {
    auto flat = x.flatten(1).to(torch::kFloat64);
    net->data_mean.copy_(flat.mean(0));
    net->data_scale.copy_(flat.size(0) > 1 ? flat.std(0).clamp_min(1e-12) : torch::ones({flat.size(1)}));
  }
  if (labels.defined()) net->log_class_prior.copy_(neural::log_class_frequencies(labels, geometry.n_classes));
  net->to(ctx.device);
  GanTrainable trainable(*net, options_);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto vx = neural::checked_input(ctx.validation->x, geometry, ctx.device, geometry.is_image(), "GAN", "validate");
    val = train::TrainData{vx, neural::checked_labels(ctx.validation->labels, geometry, vx.size(0), ctx.device)};
  }
  report_ = train::run(trainable, {x, labels}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "discriminator loss (last logged)";
  net->recalibrate_batch_norm(static_cast<uint64_t>(options_.seed) + 777);
  net->eval();
  net_ = net;
  schema_ = {{"data_kind", geometry.is_image() ? "images" : "table"}, {"example_shape", geometry.shape},
             {"n_features", geometry.numel()}, {"n_classes", geometry.n_classes}};
  if (!geometry.is_image() && train_set.columns.size() == static_cast<size_t>(geometry.numel())) {
    schema_["columns"] = train_set.columns;
  }
  return report_;
}

torch::Tensor Gan::decode(const torch::Tensor& z, const torch::Tensor& labels) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train gan ...`)",
              "this GAN is not fitted yet, so it cannot generate");
  GF_CHECK(z.dim() == 2 && z.size(1) == options_.latent, "noise must be [N, ", options_.latent, "], got ", z.sizes());
  const auto& g = net_->geometry;
  GF_CHECK(g.n_classes == 0 || labels.defined(), "a class-conditional GAN generates given the class: pass labels");
  torch::NoGradGuard no_grad;
  const auto device = neural::device_of(*net_);
  auto condition = neural::condition_for(labels, g, z.size(0), device);
  return net_->to_data(net_->generate(z.to(device, torch::kFloat32), condition)).cpu();
}

torch::Tensor Gan::sample_latent(int64_t n, at::Generator& gen) const {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto z = at::randn({n, options_.latent}, gen, opts);
  const double t = options_.truncation;
  if (t <= 0) return z;
  // Redraw the components outside [-t, t] until none is left (at t = 0.05 each try keeps 4 %: the cap is far).
  for (int round = 0; round < 2000; ++round) {
    auto outside = z.abs() > t;
    if (!outside.any().item<bool>()) return z;
    z = torch::where(outside, at::randn({n, options_.latent}, gen, opts), z);
  }
  return z.clamp(-t, t);
}

torch::Tensor Gan::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  if (net_->geometry.n_classes == 0) return decode(sample_latent(n, gen));
  return sample_labelled(neural::draw_classes(net_->log_class_prior, n, gen), gen);
}

torch::Tensor Gan::sample_labelled(const torch::Tensor& labels, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet, so it cannot sample");
  if (net_->geometry.n_classes == 0) return Model::sample_labelled(labels, gen);
  check_class_labels(labels, net_->geometry.n_classes);
  return decode(sample_latent(labels.size(0), gen), labels);
}

torch::Tensor Gan::score_samples(const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet");
  throw NotSupported("a GAN has no likelihood, so it cannot score samples",
                     "use vae (importance-weighted bound) or gmm for scores; judge GAN samples with FID/KID");
}

torch::Tensor Gan::discriminate(const torch::Tensor& x_in, const torch::Tensor& labels) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet");
  const auto& g = net_->geometry;
  const auto device = neural::device_of(*net_);
  auto x = neural::checked_input(x_in, g, device, g.is_image(), "GAN", "discriminate");
  GF_CHECK(g.n_classes == 0 || labels.defined(), "a class-conditional GAN judges examples given the class");
  torch::NoGradGuard no_grad;
  auto d = net_->critic(net_->from_data(x), neural::condition_for(labels, g, x.size(0), device));
  return (options_.loss == "bce" ? torch::sigmoid(d) : d).to(torch::kFloat64).cpu();
}

TrunkExport Gan::feature_trunk() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet");
  const auto& g = net_->geometry;
  GF_CHECK_AS(NotSupported, g.n_classes == 0, "fine-tune a GAN trained without conditional=true",
              "the discriminator of a class-conditional GAN also takes the class, so it cannot classify");
  neural::LayerStackWriter w(g.is_image() ? g.shape : std::vector<int64_t>{g.numel()});
  w.add_standardize(net_->data_mean, net_->data_scale);  // the data as the discriminator sees it
  if (!net_->dcgan) w.add({{"type", "flatten"}});
  const auto layers = net_->discriminator->children();
  for (size_t i = 0; i + 1 < layers.size(); ++i) w.add_module(*layers[i]);  // all but the real/fake output
  if (net_->dcgan) w.add({{"type", "flatten"}});
  return {w.spec(), w.weights(), "gan discriminator"};
}

int64_t Gan::adapter_parameters() const { return net_ ? neural::adapter_parameters(*net_) : 0; }

void Gan::merge_adapters() {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet");
  if (adapter_parameters() > 0) neural::fold_adapters(*this, options_);
}

TensorMap Gan::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GAN is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  return out;
}

void Gan::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  check_geometry(options_, geometry);
  auto net = std::make_shared<Net>(geometry, options_);
  neural::load_module(*net, "", t);
  net->eval();
  net_ = net;
}

}  // namespace gf
