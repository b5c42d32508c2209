#include "genforge/models/autoencoder.h"

#include <cmath>
#include <optional>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "nn/neural.h"

namespace gf {

struct Autoencoder::Net : torch::nn::Module {
  Net(const neural::Geometry& g, const AutoencoderOptions& o) : geometry(g), bce(o.loss == "bce") {
    codec = register_module("codec", neural::Codec(g, o.architecture, o.hidden, o.latent, o.latent, o));
    code_mean = register_buffer("code_mean", torch::zeros({o.latent}));
    code_chol = register_buffer("code_chol", torch::eye(o.latent));
  }
  torch::Tensor encode(const torch::Tensor& x) { return codec->encode(x, {}); }  // [N, L]
  torch::Tensor output(const torch::Tensor& z) {                                   // [N, D] in the data's range
    auto out = codec->decode(z, {});
    return bce ? torch::sigmoid(out) : out;
  }
  // Reconstruction error per example, summed over values. [N]
  // Reconstruction error per pixel. [N, D]
  torch::Tensor error_per_pixel(const torch::Tensor& x) {
    auto out = codec->decode(encode(x), {});
    auto flat = x.flatten(1);
    if (bce) return torch::binary_cross_entropy_with_logits(out, flat, {}, {}, at::Reduction::None);
    return (out - flat).pow(2);
  }
  torch::Tensor error(const torch::Tensor& x) { return error_per_pixel(x).sum(1); }
  neural::Geometry geometry;
  bool bce;
  neural::Codec codec{nullptr};
  torch::Tensor code_mean, code_chol;  // [L], [L, L]: Gaussian fitted to the training codes
};

namespace {

class AutoencoderTrainable : public train::Trainable {
 public:
  explicit AutoencoderTrainable(Autoencoder::Net& net) : net_(net) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    ctx.optimize("model", net_.error(batch.x).mean());
  }
  double eval_loss(const train::Batch& batch, at::Generator&) override {
    return net_.error(batch.x).mean().item<double>();
  }

 private:
  Autoencoder::Net& net_;
};

}  // namespace

void AutoencoderOptions::validate() const {
  train::TrainOptions::validate();
  validate_lora();
  GF_CHECK(architecture == "mlp" || architecture == "conv", "architecture must be mlp or conv, got '", architecture,
           "'");
  GF_CHECK(hidden >= 1 && latent >= 1, "hidden and latent must be at least 1, got ", hidden, " and ", latent);
  GF_CHECK(loss == "bce" || loss == "mse", "loss must be bce or mse, got '", loss, "'");
}

const OptionTable<AutoencoderOptions>& Autoencoder::option_table() {
  static const OptionTable<AutoencoderOptions> table = [] {
    OptionTable<AutoencoderOptions> t("autoencoder");
    t.add("architecture", &AutoencoderOptions::architecture, "encoder/decoder network", {"mlp", "conv"})
        .add("hidden", &AutoencoderOptions::hidden, "hidden units")
        .add("latent", &AutoencoderOptions::latent, "code size")
        .add("loss", &AutoencoderOptions::loss, "reconstruction error", {"bce", "mse"});
    train::add_train_options(t);
    train::add_lora_options(t);
    return t;
  }();
  return table;
}

Autoencoder::Autoencoder(AutoencoderOptions options) : options_(std::move(options)) {}
Autoencoder::~Autoencoder() = default;

Capabilities Autoencoder::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::score;
  c.score_meaning = "minus the reconstruction error";
  c.latent_space = true;
  c.encoder = true;
  c.standard_normal_prior = false;
  return c;
}

nlohmann::json Autoencoder::options_json() const { return option_table().to_json(options_); }

FitReport Autoencoder::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto geometry = neural::geometry_of(train_set, false, "autoencoder");
  neural::check_architecture(options_.architecture, geometry, "autoencoder");
  const bool unit = options_.loss == "bce";
  auto x = neural::checked_input(train_set.x, geometry, ctx.device, unit, "autoencoder (loss=bce)", "fit");
  net_.reset();
  auto net = std::make_shared<Net>(geometry, options_);
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  neural::init_like_pytorch(*net, init_gen);
  net->to(ctx.device);
  AutoencoderTrainable trainable(*net);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    val = train::TrainData{neural::checked_input(ctx.validation->x, geometry, ctx.device, unit, "autoencoder",
                                                 "validate"),
                           {}};
  }
  report_ = train::run(trainable, {x, {}}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "reconstruction error per example (last logged)";
  {
    // The code distribution: mean and Cholesky factor of the training codes' covariance (+ a small ridge).
    torch::NoGradGuard no_grad;
    net->eval();
    std::vector<torch::Tensor> codes;
    for (int64_t s = 0; s < x.size(0); s += 4096) codes.push_back(net->encode(x.slice(0, s, s + 4096)));
    auto z = torch::cat(codes).to(torch::kFloat64);  // [N, L]
    auto mean = z.mean(0);
    auto centred = z - mean;
    auto cov = centred.t().mm(centred) / std::max<int64_t>(1, z.size(0) - 1);
    cov += torch::eye(z.size(1), cov.options()) * (1e-6 * std::max(1e-12, cov.diagonal().mean().item<double>()));
    net->code_mean.copy_(mean);
    net->code_chol.copy_(torch::linalg_cholesky(cov));
  }
  net_ = net;
  schema_ = {{"data_kind", "images"}, {"example_shape", geometry.shape}, {"n_features", geometry.numel()}};
  return report_;
}

torch::Tensor Autoencoder::score_samples(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet, so it cannot score");
  auto x = neural::checked_input(x_in, net_->geometry, neural::device_of(*net_), false, "autoencoder", "score");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < x.size(0); s += 4096) out.push_back(-net_->error(x.slice(0, s, s + 4096)));
  return torch::cat(out).to(torch::kFloat64).cpu();
}

torch::Tensor Autoencoder::dimension_scores(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet, so it cannot score");
  auto x = neural::checked_input(x_in, net_->geometry, neural::device_of(*net_), false, "autoencoder", "score");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < x.size(0); s += 4096) out.push_back(net_->error_per_pixel(x.slice(0, s, s + 4096)));
  return torch::cat(out).reshape(x.sizes()).to(torch::kCPU, torch::kFloat64);
}

torch::Tensor Autoencoder::reconstruct(const torch::Tensor& x) const { return decode(transform(x)); }

torch::Tensor Autoencoder::transform(const torch::Tensor& x_in, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet, so it cannot encode");
  auto x = neural::checked_input(x_in, net_->geometry, neural::device_of(*net_), false, "autoencoder", "encode");
  torch::NoGradGuard no_grad;
  return net_->encode(x).cpu();
}

torch::Tensor Autoencoder::decode(const torch::Tensor& z, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet, so it cannot decode");
  GF_CHECK(z.dim() == 2 && z.size(1) == options_.latent, "codes must be [N, ", options_.latent, "], got ", z.sizes());
  torch::NoGradGuard no_grad;
  auto out = net_->output(z.to(neural::device_of(*net_), torch::kFloat32));
  return out.reshape(net_->geometry.batch_shape(z.size(0))).cpu();
}

torch::Tensor Autoencoder::sample_latent(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  auto eps = at::randn({n, options_.latent}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  return (net_->code_mean.cpu().to(torch::kFloat64) + eps.mm(net_->code_chol.cpu().to(torch::kFloat64).t()))
      .to(torch::kFloat32);
}

torch::Tensor Autoencoder::sample(int64_t n, at::Generator& gen) const { return decode(sample_latent(n, gen)); }

TrunkExport Autoencoder::feature_trunk() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet");
  return neural::codec_trunk(*net_->codec, net_->geometry, "autoencoder encoder");
}

int64_t Autoencoder::adapter_parameters() const { return net_ ? neural::adapter_parameters(*net_) : 0; }

void Autoencoder::merge_adapters() {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet");
  if (adapter_parameters() > 0) neural::fold_adapters(*this, options_);
}

TensorMap Autoencoder::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this autoencoder is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  return out;
}

void Autoencoder::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  neural::check_architecture(options_.architecture, geometry, "autoencoder");
  auto net = std::make_shared<Net>(geometry, options_);
  neural::load_module(*net, "", t);
  net->eval();
  net_ = net;
}

}  // namespace gf
