#include "genforge/models/vae.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/random.h"

namespace gf {

struct VariationalAutoencoder::Net : torch::nn::Module {
  Net(int64_t d, int64_t hidden, int64_t latent, bool gaussian)
      : fc1(register_module("fc1", torch::nn::Linear(d, hidden))),
        fc_mu(register_module("fc_mu", torch::nn::Linear(hidden, latent))),
        fc_logvar(register_module("fc_logvar", torch::nn::Linear(hidden, latent))),
        fc3(register_module("fc3", torch::nn::Linear(latent, hidden))),
        fc4(register_module("fc4", torch::nn::Linear(hidden, d))) {
    if (gaussian) log_var_x = register_parameter("log_var_x", torch::zeros({d}));
  }
  // PyTorch's default Linear initialisation (U(+-1/sqrt(fan_in)) for weights and biases), from our generator.
  void initialise(at::Generator& gen) {
    torch::NoGradGuard no_grad;
    for (auto* l : {&fc1, &fc_mu, &fc_logvar, &fc3, &fc4}) {
      const double bound = 1.0 / std::sqrt(static_cast<double>((*l)->weight.size(1)));
      (*l)->weight.uniform_(-bound, bound, gen);
      (*l)->bias.uniform_(-bound, bound, gen);
    }
  }
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x) {  // [N, L] each
    auto h = torch::relu(fc1(x));
    return {fc_mu(h), fc_logvar(h)};
  }
  torch::Tensor decode_logits(const torch::Tensor& z) { return fc4(torch::relu(fc3(z))); }  // [N, D]
  // log p(x | z) summed over pixels. [N] (or [k, N] for z [k, N, L])
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z) {
    auto out = decode_logits(z);
    if (!log_var_x.defined()) {
      return -torch::binary_cross_entropy_with_logits(out, x.expand_as(out), {}, {}, at::Reduction::None).sum(-1);
    }
    auto mean = torch::sigmoid(out);
    constexpr double kLog2Pi = 1.8378770664093453;
    return -0.5 * ((x - mean).pow(2) * torch::exp(-log_var_x) + log_var_x + kLog2Pi).sum(-1);
  }
  torch::nn::Linear fc1, fc_mu, fc_logvar, fc3, fc4;
  torch::Tensor log_var_x;  // [D] Gaussian decoder only
};

namespace {
constexpr double kLog2Pi = 1.8378770664093453;

// The Trainer's view of the model.
class VaeTrainable : public train::Trainable {
 public:
  VaeTrainable(VariationalAutoencoder::Net& net, double beta) : net_(net), beta_(beta) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& p : net_.named_parameters()) out.emplace_back(p.key(), p.value());
    for (auto& b : net_.named_buffers()) out.emplace_back(b.key(), b.value());
    return out;
  }
  void set_training(bool on) override { net_.train(on); }
  // Negative ELBO per example, with beta on the KL term. [N]
  torch::Tensor loss(const torch::Tensor& x, at::Generator& gen) {
    auto [mu, logvar] = net_.encode(x);
    auto eps = at::randn(mu.sizes(), gen, mu.options());
    auto z = mu + eps * torch::exp(0.5 * logvar);
    auto kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1);
    return -net_.log_likelihood(x, z) + beta_ * kl;
  }
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    ctx.optimize("model", loss(batch.x, ctx.generator()).mean());
  }
  double eval_loss(const train::Batch& batch, at::Generator& gen) override {
    return loss(batch.x, gen).mean().item<double>();
  }

 private:
  VariationalAutoencoder::Net& net_;
  double beta_;
};
}  // namespace

void VaeOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(architecture == "mlp", "architecture must be mlp, got '", architecture, "'");
  GF_CHECK(hidden >= 1 && latent >= 1, "hidden and latent must be at least 1, got ", hidden, " and ", latent);
  GF_CHECK(decoder == "bernoulli" || decoder == "gaussian", "decoder must be bernoulli or gaussian, got '", decoder,
           "'");
  GF_CHECK(beta >= 0 && std::isfinite(beta), "beta must be >= 0, got ", beta);
  GF_CHECK(iw_samples >= 1, "iw_samples must be at least 1, got ", iw_samples);
}

const OptionTable<VaeOptions>& VariationalAutoencoder::option_table() {
  static const OptionTable<VaeOptions> table = [] {
    OptionTable<VaeOptions> t("vae");
    t.add("architecture", &VaeOptions::architecture, "encoder/decoder network", {"mlp"})
        .add("hidden", &VaeOptions::hidden, "hidden units")
        .add("latent", &VaeOptions::latent, "latent dimensions")
        .add("decoder", &VaeOptions::decoder, "likelihood of pixels", {"bernoulli", "gaussian"})
        .add("beta", &VaeOptions::beta, "weight of the KL term (beta-VAE)")
        .add("iw_samples", &VaeOptions::iw_samples, "importance samples of score_samples (1: ELBO)")
        .add("resume", &VaeOptions::resume, "continue the run in run_dir from its checkpoint");
    train::add_train_options(t);
    return t;
  }();
  return table;
}

VariationalAutoencoder::VariationalAutoencoder(VaeOptions options) : options_(std::move(options)) {}
VariationalAutoencoder::~VariationalAutoencoder() = default;

Capabilities VariationalAutoencoder::capabilities() const {
  Capabilities c;
  c.data_kind = "images";
  c.likelihood = Likelihood::lower_bound;
  c.latent_space = true;
  return c;
}

nlohmann::json VariationalAutoencoder::options_json() const { return option_table().to_json(options_); }

std::vector<int64_t> VariationalAutoencoder::example_shape() const {
  if (schema_.contains("example_shape")) return schema_["example_shape"].get<std::vector<int64_t>>();
  return {net_->fc1->weight.size(1)};
}

torch::Tensor VariationalAutoencoder::flatten_input(const torch::Tensor& x, const char* what) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train vae ...`) or load a fitted one",
              "this VAE is not fitted yet, so it cannot ", what);
  GF_CHECK(x.defined() && x.dim() >= 2, "data for ", what, " must be [N, ...], got ", x.defined() ? x.dim() : 0,
           " dimensions");
  auto flat = x.reshape({x.size(0), -1}).to(net_->fc1->weight.device(), torch::kFloat32);
  GF_CHECK_AS(DataError, flat.size(1) == net_->fc1->weight.size(1), "give images of the size the model was trained on",
              "each example has ", flat.size(1), " values, the model expects ", net_->fc1->weight.size(1));
  return flat;
}

FitReport VariationalAutoencoder::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  const auto& x_in = train_set.x;
  GF_CHECK(x_in.defined() && x_in.dim() >= 2, "VAE data must be [N, ...] (images [N, C, H, W] or rows [N, D])");
  GF_CHECK_AS(DataError, x_in.size(0) >= 1, "give at least one example", "the training data is empty");
  auto x = x_in.reshape({x_in.size(0), -1}).to(ctx.device, torch::kFloat32);  // [N, D]
  GF_CHECK_AS(DataError, x.isfinite().all().item<bool>(), "remove NaN or infinite values", "the data holds NaN or inf");
  if (options_.decoder == "bernoulli") {
    GF_CHECK_AS(DataError, (x >= 0).all().item<bool>() && (x <= 1).all().item<bool>(),
                "scale pixels to [0, 1] (images are divided by 255 when loaded), or use decoder=gaussian",
                "a Bernoulli decoder needs values in [0, 1]; the data range is [", x.min().item<double>(), ", ",
                x.max().item<double>(), "]");
  }
  const int64_t d = x.size(1);
  net_ = std::make_shared<Net>(d, options_.hidden, options_.latent, options_.decoder == "gaussian");
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  net_->initialise(init_gen);
  net_->to(ctx.device);
  VaeTrainable trainable(*net_, options_.beta);
  train::TrainData data{x, train_set.labels};
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    val = train::TrainData{ctx.validation->x.reshape({ctx.validation->x.size(0), -1}).to(ctx.device, torch::kFloat32),
                           {}};
  }
  report_ = train::run(trainable, data, val ? &*val : nullptr, options_, ctx, options_.resume);
  report_.objective_name = "negative ELBO per example (nats, last logged)";
  std::vector<int64_t> shape(x_in.sizes().begin() + 1, x_in.sizes().end());
  schema_ = {{"data_kind", "images"}, {"example_shape", shape}, {"n_features", d}};
  return report_;
}

torch::Tensor VariationalAutoencoder::importance_weighted_bound(const torch::Tensor& x_in, int64_t k) const {
  auto x = flatten_input(x_in, "score samples");
  GF_CHECK(k >= 1, "the number of importance samples must be at least 1, got ", k);
  torch::NoGradGuard no_grad;
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 12345);
  std::vector<torch::Tensor> out;
  const int64_t chunk = std::max<int64_t>(1, 65536 / k);
  for (int64_t s = 0; s < x.size(0); s += chunk) {
    auto xb = x.slice(0, s, std::min(x.size(0), s + chunk));  // [B, D]
    auto [mu, logvar] = net_->encode(xb);                      // [B, L]
    auto std = torch::exp(0.5 * logvar);
    auto eps = at::randn({k, mu.size(0), mu.size(1)}, gen, mu.options());  // [k, B, L]
    auto z = mu + eps * std;
    auto log_q = (-0.5 * (eps.pow(2) + kLog2Pi) - 0.5 * logvar).sum(-1);  // [k, B]
    auto log_prior = (-0.5 * (z.pow(2) + kLog2Pi)).sum(-1);              // [k, B]
    auto log_w = net_->log_likelihood(xb, z) + log_prior - log_q;        // [k, B]
    out.push_back(torch::logsumexp(log_w, 0) - std::log(static_cast<double>(k)));
  }
  return torch::cat(out).to(torch::kFloat64);
}

torch::Tensor VariationalAutoencoder::score_samples(const torch::Tensor& x) const {
  return importance_weighted_bound(x, options_.iw_samples);
}

torch::Tensor VariationalAutoencoder::transform(const torch::Tensor& x) const {
  torch::NoGradGuard no_grad;
  return net_->encode(flatten_input(x, "encode")).first;
}

torch::Tensor VariationalAutoencoder::decode(const torch::Tensor& z) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot decode");
  GF_CHECK(z.dim() == 2 && z.size(1) == options_.latent, "latent codes must be [N, ", options_.latent, "], got ",
           z.sizes());
  torch::NoGradGuard no_grad;
  auto mean = torch::sigmoid(net_->decode_logits(z.to(net_->fc1->weight.device(), torch::kFloat32)));
  std::vector<int64_t> shape{z.size(0)};
  for (int64_t s : example_shape()) shape.push_back(s);
  return mean.reshape(shape);
}

torch::Tensor VariationalAutoencoder::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  auto z = at::randn({n, options_.latent}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  return decode(z);
}

TensorMap VariationalAutoencoder::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet");
  TensorMap out;
  for (auto& p : net_->named_parameters()) out[p.key()] = p.value().detach();
  return out;
}

void VariationalAutoencoder::load_state(const TensorMap& t) {
  auto it = t.find("fc1.weight");
  GF_CHECK(it != t.end() && it->second.dim() == 2, "tensor 'fc1.weight' is missing or not a matrix");
  const int64_t d = it->second.size(1);
  auto net = std::make_shared<Net>(d, options_.hidden, options_.latent, options_.decoder == "gaussian");
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    auto found = t.find(p.key());
    GF_CHECK(found != t.end(), "tensor '", p.key(), "' is missing");
    GF_CHECK(found->second.sizes() == p.value().sizes(), "tensor '", p.key(), "' has shape ", found->second.sizes(),
             ", expected ", p.value().sizes());
    p.value().copy_(found->second);
  }
  net_ = net;
}

}  // namespace gf
