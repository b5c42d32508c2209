#include "genforge/models/vae.h"

#include <torch/linalg.h>

#include <cmath>
#include <optional>

#include "core/constants.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "nn/missing.h"
#include "nn/neural.h"

namespace gf {

struct VariationalAutoencoder::Net : torch::nn::Module {
  Net(const neural::Geometry& g, const VaeOptions& o) : geometry(g), latent(o.latent) {
    codec = register_module("codec", neural::Codec(g, o.architecture, o.hidden, 2 * o.latent, o.latent, o));
    if (o.decoder == "gaussian") log_var_x = register_parameter("log_var_x", torch::zeros({g.numel()}));
    if (g.n_classes > 0) {
      log_class_prior = register_buffer("log_class_prior",
                                        torch::full({g.n_classes}, -std::log(static_cast<double>(g.n_classes))));
      // N(0, I) for every class until fit_class_codes (and in files written before it).
      class_code_mean = register_buffer("class_code_mean", torch::zeros({g.n_classes, o.latent}));
      class_code_chol = register_buffer("class_code_chol", torch::eye(o.latent).repeat({g.n_classes, 1, 1}));
      if (o.semi_supervised) {
        // q(y | x): the encoder's kind of trunk (MLP layer or the two convolutions), one hidden layer, class logits.
        torch::nn::Sequential c;
        if (o.architecture == "conv") {
          neural::ConvEncoder trunk(g);
          const int64_t features = trunk->out_features;
          c->push_back(trunk);
          c->push_back(torch::nn::Linear(features, o.hidden));
        } else {
          c->push_back(torch::nn::Flatten());
          c->push_back(torch::nn::Linear(g.numel(), o.hidden));
          c->push_back(torch::nn::Functional(torch::relu));
          c->push_back(torch::nn::Linear(o.hidden, o.hidden));
        }
        c->push_back(torch::nn::Functional(torch::relu));
        c->push_back(torch::nn::Linear(o.hidden, g.n_classes));
        classifier = register_module("classifier", c);
      }
    }
  }
  // Semi-supervised only: q(y | x) as logits. [N, K]
  torch::Tensor class_logits(const torch::Tensor& x) {
    return classifier->forward(x.reshape(geometry.batch_shape(x.size(0))));
  }
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x, const torch::Tensor& condition) {
    auto code = codec->encode(x, condition);  // [N, 2L]
    return {code.slice(1, 0, latent), code.slice(1, latent)};
  }
  // Decoder logits for codes z [N, L] or [k, N, L] (the condition [N, K] is repeated over k). [N, D] or [k, N, D]
  torch::Tensor decode_logits(const torch::Tensor& z, const torch::Tensor& condition) {
    if (z.dim() == 2) return codec->decode(z, condition);
    auto flat = z.reshape({-1, z.size(2)});
    auto cond = condition.defined() ? condition.repeat({z.size(0), 1}) : condition;
    return codec->decode(flat, cond).reshape({z.size(0), z.size(1), -1});
  }
  // log p(x_d | z) per pixel; x [N, D]. [N, D] (or [k, N, D] for z [k, N, L])
  torch::Tensor log_likelihood_per_pixel(const torch::Tensor& x, const torch::Tensor& z,
                                         const torch::Tensor& condition) {
    return log_likelihood_of_logits(x, decode_logits(z, condition));
  }
  // The same from the decoder's logits. [N, D] or [k, N, D]
  torch::Tensor log_likelihood_of_logits(const torch::Tensor& x, const torch::Tensor& out) {
    if (!log_var_x.defined()) {
      return -torch::binary_cross_entropy_with_logits(out, x.expand_as(out), {}, {}, at::Reduction::None);
    }
    auto mean = torch::sigmoid(out);
    return -0.5 * ((x - mean).pow(2) * torch::exp(-log_var_x) + log_var_x + kLog2Pi);
  }
  // log p(x | z) summed over pixels. [N] (or [k, N])
  torch::Tensor log_likelihood(const torch::Tensor& x, const torch::Tensor& z, const torch::Tensor& condition) {
    return log_likelihood_per_pixel(x, z, condition).sum(-1);
  }
  neural::Geometry geometry;
  int64_t latent;
  neural::Codec codec{nullptr};
  torch::Tensor log_var_x;        // [D] Gaussian decoder only
  torch::Tensor log_class_prior;  // [K] conditional only: training class frequencies
  torch::Tensor class_code_mean;  // [K, L] conditional only: mean of each class's aggregate posterior
  torch::Tensor class_code_chol;  // [K, L, L] and the Cholesky factor of its covariance
  torch::nn::Sequential classifier{nullptr};  // semi-supervised only: q(y | x)
};

namespace {

// Ex-post density estimation (Ghosh et al. 2020) per class: each class's aggregate posterior (1/n) sum_i q(z | x_i, c)
// over its training images, moment-matched by a Gaussian: mean of the posterior means, covariance of the posterior
// means plus the mean posterior variance. Codes drawn from it agree with the class the decoder is given, where
// N(0, I) codes can carry another class's look (the encoder also sees the image).
void fit_class_codes(VariationalAutoencoder::Net& net, const torch::Tensor& x, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();
  const int64_t K = net.geometry.n_classes, L = net.latent;
  std::vector<torch::Tensor> mus, vars;
  for (int64_t s = 0; s < x.size(0); s += 2048) {
    const int64_t e = std::min(x.size(0), s + 2048);
    auto [mu, logvar] = net.encode(x.slice(0, s, e), neural::one_hot(labels.slice(0, s, e), K));
    mus.push_back(mu);
    vars.push_back(logvar.exp());
  }
  auto mu = torch::cat(mus).to(torch::kFloat64), var = torch::cat(vars).to(torch::kFloat64);  // [N, L]
  for (int64_t k = 0; k < K; ++k) {
    auto rows = (labels == k).nonzero().reshape({-1});
    if (rows.numel() < 2) continue;  // too few to estimate: N(0, I)
    auto m = mu.index_select(0, rows), v = var.index_select(0, rows);  // [n_k, L]
    auto mean = m.mean(0);
    auto centred = m - mean;
    auto cov = centred.t().mm(centred) / static_cast<double>(rows.numel() - 1) + torch::diag(v.mean(0)) +
               1e-6 * torch::eye(L, mu.options());
    net.class_code_mean[k].copy_(mean);
    net.class_code_chol[k].copy_(torch::linalg::cholesky(cov));
  }
  net.train(was_training);
}

// The Trainer's view of the model. A semi-supervised model whose data has unlabelled examples too is also given
// the data and its labels (x [N, ...], labels [N]) and the rows that are labelled ([M]), of which it draws a batch
// every step.
class VaeTrainable : public train::Trainable {
 public:
  VaeTrainable(VariationalAutoencoder::Net& net, const VaeOptions& o, torch::Tensor x = {}, torch::Tensor labels = {},
               torch::Tensor labelled_rows = {})
      : net_(net), beta_(o.beta), alpha_(o.classifier_weight), x_(std::move(x)), labels_(std::move(labels)),
        labelled_rows_(std::move(labelled_rows)) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }
  // Negative ELBO per example given its class (if any), with beta on the KL term. [N]
  torch::Tensor loss_given(const torch::Tensor& x, const torch::Tensor& labels, at::Generator& gen) {
    auto condition = neural::one_hot(labels, net_.geometry.n_classes);
    auto [mu, logvar] = net_.encode(x, condition);
    auto eps = neural::randn_from(mu.sizes(), gen, mu.options());
    auto z = mu + eps * torch::exp(0.5 * logvar);
    auto kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1);
    return -net_.log_likelihood(x.flatten(1), z, condition) + beta_ * kl;
  }
  // M2's unlabelled cost: sum_y q(y | x) (L(x, y) - log p(y) + log q(y | x)), every class decoded. [U]
  torch::Tensor unlabelled_loss(const torch::Tensor& x, at::Generator& gen) {
    const int64_t u = x.size(0), k = net_.geometry.n_classes;
    auto log_q = torch::log_softmax(net_.class_logits(x), 1);  // [U, K]
    std::vector<int64_t> repeated{k};
    for (auto d : x.sizes()) repeated.push_back(d);  // [K, U, ...]
    auto every = x.unsqueeze(0).expand(repeated).reshape(net_.geometry.batch_shape(k * u));  // [K U, ...] class-major
    auto classes = torch::arange(k, torch::TensorOptions().dtype(torch::kLong).device(x.device())).repeat_interleave(u);
    auto cost = loss_given(every, classes, gen).view({k, u}).t() - net_.log_class_prior.unsqueeze(0);  // [U, K]
    return (log_q.exp() * (cost + log_q)).sum(1);
  }
  // Per example: the negative ELBO, or with a classifier M2's cost -- labelled rows L(x, y) - log p(y), unlabelled
  // (-1) rows the expectation over q(y | x). [N]
  torch::Tensor loss(const train::Batch& b, at::Generator& gen) {
    if (!net_.classifier) return loss_given(b.x, b.labels, gen);
    auto out = torch::zeros({b.x.size(0)}, b.x.options());
    auto known = b.labels >= 0;
    auto labelled = known.nonzero().reshape({-1}), unlabelled = known.logical_not().nonzero().reshape({-1});
    if (labelled.numel() > 0) {
      auto y = b.labels.index_select(0, labelled);
      out = out.index_put({labelled}, loss_given(b.x.index_select(0, labelled), y, gen) -
                                          net_.log_class_prior.index_select(0, y));
    }
    if (unlabelled.numel() > 0) out = out.index_put({unlabelled}, unlabelled_loss(b.x.index_select(0, unlabelled), gen));
    return out;
  }
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto& gen = ctx.generator();
    auto total = loss(batch, gen).mean();
    if (net_.classifier) {
      ctx.log("m2_cost", total.item<double>());
      // A labelled batch of the batch's size (all the labelled rows when they are the data: the batch itself).
      torch::Tensor x = batch.x, y = batch.labels;
      if (labelled_rows_.defined()) {
        const int64_t m = labelled_rows_.size(0);
        const auto options = torch::TensorOptions().dtype(torch::kFloat64).device(labelled_rows_.device());
        auto pick = (neural::rand_from({batch.x.size(0)}, gen, options) * static_cast<double>(m))
                        .to(torch::kLong)
                        .clamp_max(m - 1);  // [B]
        auto rows = labelled_rows_.index_select(0, pick);
        x = x_.index_select(0, rows);
        y = labels_.index_select(0, rows);
        auto labelled_cost = (loss_given(x, y, gen) - net_.log_class_prior.index_select(0, y)).mean();
        ctx.log("labelled_cost", labelled_cost.item<double>());
        total = total + labelled_cost;
      }
      auto known = (y >= 0).nonzero().reshape({-1});
      if (known.numel() > 0) {
        auto logits = net_.class_logits(x.index_select(0, known));
        auto truth = y.index_select(0, known);
        auto cross_entropy = torch::nll_loss(torch::log_softmax(logits, 1), truth);
        ctx.log("classifier_ce", cross_entropy.item<double>());
        ctx.log("classifier_accuracy", (logits.argmax(1) == truth).to(torch::kFloat64).mean().item<double>());
        total = total + alpha_ * cross_entropy;
      }
    }
    ctx.optimize("model", total);
  }
  double eval_loss(const train::Batch& batch, at::Generator& gen) override {
    return loss(batch, gen).mean().item<double>();
  }
  torch::Tensor preview(int64_t n, at::Generator& gen) override {
    if (!net_.geometry.is_image()) return {};
    const auto device = neural::device_of(net_);
    auto z = at::randn({n, net_.latent}, gen, torch::TensorOptions().dtype(torch::kFloat32)).to(device);
    auto condition = neural::cycling_condition(n, net_.geometry, device);
    return torch::sigmoid(net_.decode_logits(z, condition)).reshape(net_.geometry.batch_shape(n));
  }

 private:
  VariationalAutoencoder::Net& net_;
  double beta_, alpha_;
  torch::Tensor x_, labels_, labelled_rows_;  // semi-supervised with unlabelled data: [N, ...], [N], [M]
};
}  // namespace

void VaeOptions::validate() const {
  train::TrainOptions::validate();
  validate_lora();
  GF_CHECK(architecture == "mlp" || architecture == "conv", "architecture must be mlp or conv, got '", architecture,
           "'");
  GF_CHECK(hidden >= 1 && latent >= 1, "hidden and latent must be at least 1, got ", hidden, " and ", latent);
  GF_CHECK(decoder == "bernoulli" || decoder == "gaussian", "decoder must be bernoulli or gaussian, got '", decoder,
           "'");
  GF_CHECK(beta >= 0 && std::isfinite(beta), "beta must be >= 0, got ", beta);
  GF_CHECK(iw_samples >= 1, "iw_samples must be at least 1, got ", iw_samples);
  GF_CHECK(temperature > 0 && temperature <= 10, "temperature must be in (0, 10], got ", temperature);
  GF_CHECK(code_prior == "class" || code_prior == "standard", "code_prior must be class or standard, got '",
           code_prior, "'");
  GF_CHECK(impute_samples >= 1 && impute_samples <= 100000, "impute_samples must be in 1..100000, got ", impute_samples);
  GF_CHECK(!semi_supervised || conditional,
           "semi_supervised needs conditional=true (the decoder is given the class), got conditional=false");
  GF_CHECK(classifier_weight >= 0 && std::isfinite(classifier_weight), "classifier_weight must be >= 0, got ",
           classifier_weight);
  GF_CHECK(!semi_supervised || !differentially_private(),
           "semi_supervised does not train with DP-SGD (each step also draws a batch of the labelled examples), got "
           "dp_epsilon=", dp_epsilon, ", dp_noise_multiplier=", dp_noise_multiplier);
}

const OptionTable<VaeOptions>& VariationalAutoencoder::option_table() {
  static const OptionTable<VaeOptions> table = [] {
    OptionTable<VaeOptions> t("vae");
    t.add("architecture", &VaeOptions::architecture, "encoder/decoder network", {"mlp", "conv"})
        .add("hidden", &VaeOptions::hidden, "hidden units")
        .add("latent", &VaeOptions::latent, "latent dimensions")
        .add("decoder", &VaeOptions::decoder, "likelihood of pixels", {"bernoulli", "gaussian"})
        .add("beta", &VaeOptions::beta, "weight of the KL term (beta-VAE)")
        .add("iw_samples", &VaeOptions::iw_samples, "importance samples of score_samples (1: ELBO)")
        .add("temperature", &VaeOptions::temperature, "sampling: codes drawn from N(0, T^2 I)")
        .add("conditional", &VaeOptions::conditional, "class-conditional (labelled data)")
        .add("code_prior", &VaeOptions::code_prior,
             "conditional sampling: codes from a Gaussian fitted to the class's training codes, or N(0, I)",
             {"class", "standard"})
        .add("impute_samples", &VaeOptions::impute_samples, "filling missing pixels: importance-weighted codes per image")
        .add("semi_supervised", &VaeOptions::semi_supervised,
             "M2: a classifier q(y|x) beside the encoder; examples labelled -1 train unlabelled")
        .add("classifier_weight", &VaeOptions::classifier_weight,
             "semi-supervised: weight of the classifier's mean cross-entropy on a labelled batch");
    train::add_train_options(t);
    train::add_lora_options(t);
    return t;
  }();
  return table;
}

VariationalAutoencoder::VariationalAutoencoder(VaeOptions options) : options_(std::move(options)) {}
VariationalAutoencoder::~VariationalAutoencoder() = default;

Capabilities VariationalAutoencoder::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::lower_bound;
  c.latent_space = true;
  c.encoder = true;
  return c;
}

nlohmann::json VariationalAutoencoder::options_json() const { return option_table().to_json(options_); }

int64_t VariationalAutoencoder::n_classes() const { return net_ ? net_->geometry.n_classes : 0; }

FitReport VariationalAutoencoder::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  const bool semi = options_.semi_supervised;
  auto geometry = neural::geometry_of(train_set, options_.conditional, "VAE", semi);
  neural::check_architecture(options_.architecture, geometry, "VAE");
  const bool unit = options_.decoder == "bernoulli";
  // Labels as the model trains on them: classes, and with `semi` also -1 (unlabelled). [N] on the device
  const auto fit_labels = [&](const torch::Tensor& given, int64_t n) {
    if (!semi) return neural::checked_labels(given, geometry, n, ctx.device);
    GF_CHECK_AS(DataError, given.defined() && given.numel() == n, "give one class label per example (-1: unlabelled)",
                "semi-supervised VAE needs ", n, " labels, got ", given.defined() ? given.numel() : 0);
    GF_CHECK_AS(DataError, !at::isFloatingType(given.scalar_type()), "give class labels as integers",
                "class labels must be integers, got ", given.scalar_type());
    auto l = given.reshape({n}).to(torch::kLong);
    const int64_t lowest = l.min().item<int64_t>();
    GF_CHECK_AS(DataError, lowest >= -1, "class labels are 0, 1, 2, ... (-1: unlabelled)", "class label ", lowest,
                " is neither a class nor -1 (unlabelled)");
    check_class_labels(l.masked_select(l >= 0), geometry.n_classes);
    return l.to(ctx.device);
  };
  auto x = neural::checked_input(train_set.x, geometry, ctx.device, unit, "VAE (decoder=bernoulli)", "fit");
  auto labels = fit_labels(train_set.labels, x.size(0));
  torch::Tensor labelled_rows;  // semi-supervised with unlabelled examples: the labelled ones [M]
  if (semi) {
    auto known = labels >= 0;
    auto counts = torch::bincount(labels.masked_select(known).cpu(), {}, geometry.n_classes);  // [K]
    const auto empty_classes = (counts == 0).nonzero();
    const int64_t empty = empty_classes.numel() > 0 ? empty_classes[0][0].item<int64_t>() : -1;
    GF_CHECK_AS(DataError, empty < 0, "label at least one example of every class",
                "class ", empty, " has no labelled example (classes are 0 to ", geometry.n_classes - 1, ")");
    if (!known.all().item<bool>()) labelled_rows = known.nonzero().reshape({-1});
  }
  net_.reset();
  auto net = std::make_shared<Net>(geometry, options_);
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  neural::init_like_pytorch(*net, init_gen);
  if (unit) {
    // The Bernoulli decoder starts at the data's mean image (output bias = log-odds of each pixel's mean, per
    // channel for the convolutional decoder), so the first steps need not learn the background.
    torch::NoGradGuard no_grad;
    auto mean = x.flatten(1).mean(0).clamp(1e-3, 1 - 1e-3);  // [D]
    auto& codec = net->codec;
    if (codec->conv) {
      auto channel_mean = mean.view({geometry.shape[0], -1}).mean(1);  // [C]
      codec->conv_decoder->deconv2->bias.copy_((channel_mean / (1 - channel_mean)).log());
    } else {
      codec->fc4->bias.copy_((mean / (1 - mean)).log());
    }
  }
  if (labels.defined()) {
    net->log_class_prior.copy_(neural::log_class_frequencies(labels.masked_select(labels >= 0), geometry.n_classes));
  }
  net->to(ctx.device);
  VaeTrainable trainable(*net, options_, x, labels, labelled_rows);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto vx = neural::checked_input(ctx.validation->x, geometry, ctx.device, unit, "VAE", "validate");
    val = train::TrainData{vx, fit_labels(ctx.validation->labels, vx.size(0))};
  }
  report_ = train::run(trainable, {x, labels}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = semi ? "M2 cost per example + a labelled batch's cost + classifier_weight x its "
                                   "cross-entropy (nats, last logged)"
                                 : "negative ELBO per example (nats, last logged)";
  if (semi) {
    // Each unlabelled example's codes count towards the class the classifier gives it.
    torch::NoGradGuard no_grad;
    net->eval();
    std::vector<torch::Tensor> guesses;
    for (int64_t s = 0; s < x.size(0); s += 4096) {
      guesses.push_back(net->class_logits(x.slice(0, s, std::min(x.size(0), s + 4096))).argmax(1));
    }
    labels = torch::where(labels >= 0, labels, torch::cat(guesses));
  }
  if (labels.defined()) fit_class_codes(*net, x, labels);
  net_ = net;
  schema_ = {{"data_kind", "images"}, {"example_shape", geometry.shape}, {"n_features", geometry.numel()},
             {"n_classes", geometry.n_classes}};
  return report_;
}

torch::Tensor VariationalAutoencoder::importance_weighted_bound(const torch::Tensor& x_in, int64_t k,
                                                                const torch::Tensor& labels_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train vae ...`) or load a fitted one",
              "this VAE is not fitted yet, so it cannot score samples");
  GF_CHECK(k >= 1, "the number of importance samples must be at least 1, got ", k);
  const auto& g = net_->geometry;
  const auto device = neural::device_of(*net_);
  auto x = neural::checked_input(x_in, g, device, false, "VAE", "score").flatten(1);  // [N, D]
  torch::NoGradGuard no_grad;
  // Without labels a conditional model scores the marginal log sum_c p(c) p(x | c), each term bounded by IWAE.
  auto labels = labels_in.defined() ? neural::checked_labels(labels_in, g, x.size(0), device) : torch::Tensor();
  return neural::marginal_over_classes(g, labels, net_->log_class_prior, x.size(0), device, [&](const torch::Tensor& lb) {
    auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 12345);
    std::vector<torch::Tensor> out;
    const int64_t chunk = std::max<int64_t>(1, 65536 / k);
    for (int64_t s = 0; s < x.size(0); s += chunk) {
      const int64_t e = std::min(x.size(0), s + chunk);
      auto xb = x.slice(0, s, e);  // [B, D]
      auto condition = lb.defined() ? neural::one_hot(lb.slice(0, s, e), g.n_classes) : torch::Tensor();
      auto [mu, logvar] = net_->encode(xb.reshape(g.batch_shape(e - s)), condition);  // [B, L]
      auto eps = neural::randn_from({k, mu.size(0), mu.size(1)}, gen, mu.options());          // [k, B, L]
      auto z = mu + eps * torch::exp(0.5 * logvar);
      auto log_q = (-0.5 * (eps.pow(2) + kLog2Pi) - 0.5 * logvar).sum(-1);  // [k, B]
      auto log_prior = (-0.5 * (z.pow(2) + kLog2Pi)).sum(-1);              // [k, B]
      auto log_w = net_->log_likelihood(xb, z, condition) + log_prior - log_q;  // [k, B]
      out.push_back(torch::logsumexp(log_w, 0) - std::log(static_cast<double>(k)));
    }
    return torch::cat(out).to(torch::kCPU, torch::kFloat64);  // [N]
  });
}

bool VariationalAutoencoder::is_classifier() const { return net_ && net_->classifier; }

torch::Tensor VariationalAutoencoder::predict_proba(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot classify");
  GF_CHECK_AS(NotSupported, static_cast<bool>(net_->classifier), "train with --set semi_supervised=true",
              "this VAE has no classifier q(y|x)");
  const auto device = neural::device_of(*net_);
  auto x = neural::checked_input(x_in, net_->geometry, device, false, "VAE", "classify");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < x.size(0); s += 4096) {
    out.push_back(torch::softmax(net_->class_logits(x.slice(0, s, std::min(x.size(0), s + 4096))), 1));
  }
  return torch::cat(out).to(torch::kCPU, torch::kFloat64);
}

torch::Tensor VariationalAutoencoder::score_samples(const torch::Tensor& x) const {
  return importance_weighted_bound(x, options_.iw_samples);
}

torch::Tensor VariationalAutoencoder::dimension_scores(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot score pixels");
  const auto& g = net_->geometry;
  const auto device = neural::device_of(*net_);
  auto x = neural::checked_input(x_in, g, device, false, "VAE", "score");
  torch::NoGradGuard no_grad;
  auto classes = neural::most_likely_classes(g, net_->log_class_prior, x.size(0), device, [&](const torch::Tensor& lb) {
    return importance_weighted_bound(x_in, options_.iw_samples, lb);
  });
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < x.size(0); s += 4096) {
    const int64_t e = std::min(x.size(0), s + 4096);
    auto xb = x.slice(0, s, e);
    auto condition = classes.defined() ? neural::one_hot(classes.slice(0, s, e), g.n_classes) : torch::Tensor();
    auto mu = net_->encode(xb, condition).first;
    out.push_back(-net_->log_likelihood_per_pixel(xb.flatten(1), mu, condition));
  }
  return torch::cat(out).reshape(x.sizes()).to(torch::kCPU, torch::kFloat64);
}

torch::Tensor VariationalAutoencoder::transform(const torch::Tensor& x_in, const torch::Tensor& labels) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot encode");
  const auto device = neural::device_of(*net_);
  auto x = neural::checked_input(x_in, net_->geometry, device, false, "VAE", "encode");
  GF_CHECK(net_->geometry.n_classes == 0 || labels.defined(),
           "a class-conditional VAE encodes given the class: pass labels");
  torch::NoGradGuard no_grad;
  return net_->encode(x, neural::condition_for(labels, net_->geometry, x.size(0), device)).first.cpu();
}

torch::Tensor VariationalAutoencoder::decode(const torch::Tensor& z, const torch::Tensor& labels) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot decode");
  GF_CHECK(z.dim() == 2 && z.size(1) == options_.latent, "latent codes must be [N, ", options_.latent, "], got ",
           z.sizes());
  const auto& g = net_->geometry;
  GF_CHECK(g.n_classes == 0 || labels.defined(), "a class-conditional VAE decodes given the class: pass labels");
  torch::NoGradGuard no_grad;
  const auto device = neural::device_of(*net_);
  auto condition = neural::condition_for(labels, g, z.size(0), device);
  auto mean = torch::sigmoid(net_->decode_logits(z.to(device, torch::kFloat32), condition));
  return mean.reshape(g.batch_shape(z.size(0))).cpu();
}

torch::Tensor VariationalAutoencoder::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  if (net_->geometry.n_classes == 0) {
    return decode(options_.temperature * at::randn({n, options_.latent}, gen, torch::TensorOptions().dtype(torch::kFloat32)));
  }
  return sample_labelled(neural::draw_classes(net_->log_class_prior, n, gen), gen);
}

torch::Tensor VariationalAutoencoder::sample_labelled(const torch::Tensor& labels, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot sample");
  if (net_->geometry.n_classes == 0) return Model::sample_labelled(labels, gen);
  check_class_labels(labels, net_->geometry.n_classes);
  auto eps = options_.temperature *
             at::randn({labels.size(0), options_.latent}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  if (options_.code_prior == "standard") return decode(eps, labels);
  // z = mean_c + T chol_c eps: the class's fitted code distribution, at temperature T.
  auto idx = labels.to(torch::kLong).cpu();
  auto mean = net_->class_code_mean.cpu().index_select(0, idx);                        // [n, L]
  auto chol = net_->class_code_chol.cpu().index_select(0, idx);                        // [n, L, L]
  return decode(mean + torch::bmm(chol, eps.unsqueeze(2)).squeeze(2), labels);
}

namespace {
// One-hot class c for n images of a conditional model; undefined for an unconditional one. [n, K]
torch::Tensor class_condition(const VariationalAutoencoder::Net& net, int64_t c, int64_t n) {
  if (net.geometry.n_classes == 0) return {};
  auto labels = torch::full({n}, c, torch::TensorOptions().dtype(torch::kLong).device(neural::device_of(net)));
  return neural::one_hot(labels, net.geometry.n_classes);
}
}  // namespace

torch::Tensor VariationalAutoencoder::fill_missing(
    const torch::Tensor& x_in, int64_t draws, const torch::Tensor& labels,
    const std::function<torch::Tensor(const torch::Tensor&, const std::vector<FillBranch>&)>& fill) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet, so it cannot fill in pixels");
  const auto& g = net_->geometry;
  GF_CHECK(x_in.numel() > 0 && x_in.numel() % g.numel() == 0 && x_in.size(0) * g.numel() == x_in.numel(),
           "images must be [N, ", g.numel(), "] or [N, ...] of the training shape, got ", x_in.sizes());
  const auto device = neural::device_of(*net_);
  torch::NoGradGuard no_grad;
  auto x = x_in.reshape({x_in.size(0), g.numel()}).to(device, torch::kFloat32);  // [N, D]
  const auto classes = labels.defined() ? row_classes(labels, x.size(0), g.n_classes) : labels;
  const int64_t n_branches = classes.defined() ? 1 : std::max<int64_t>(1, g.n_classes);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 23) / (options_.impute_samples * n_branches * g.numel()));
  auto out = neural::fill_missing_rows(x, draws, chunk, [&](const torch::Tensor& part, const torch::Tensor& index) {
    // The holes start at the mean of the kept pixels, then 20 rounds of decode(encode(.)) with the kept ones fixed
    // (given each class in turn for a conditional model, or the row's own class when given).
    auto holes = torch::isnan(part);
    auto keep = holes.logical_not().to(torch::kFloat32);
    auto kept_mean = (part.nan_to_num(0) * keep).sum(1, true) / keep.sum(1, true).clamp_min(1);
    std::vector<FillBranch> branches;
    for (int64_t c = 0; c < n_branches; ++c) {
      FillBranch branch;
      if (classes.defined()) {
        branch.condition = neural::one_hot(classes.index_select(0, index.cpu()).to(device), g.n_classes);
      } else if (g.n_classes > 0) {
        branch.condition = class_condition(*net_, c, part.size(0));
        branch.log_prior = net_->log_class_prior[c].item<double>();
      }
      auto start = torch::where(holes, kept_mean.expand_as(part), part);
      for (int i = 0; i < 20; ++i) {
        auto mu = net_->encode(start.reshape(g.batch_shape(start.size(0))), branch.condition).first;
        start = torch::where(holes, torch::sigmoid(net_->decode_logits(mu, branch.condition)), part);
      }
      branch.start = start;
      branches.push_back(branch);
    }
    return fill(part, branches);  // [draws, B, D]
  });
  std::vector<int64_t> shape{draws};
  for (auto v : g.batch_shape(x.size(0))) shape.push_back(v);
  return out.reshape(shape).cpu();
}

namespace {
// MIWAE-style codes for images with holes: z [k, B, L] from neural::defensive_codes around the encoding of each
// branch's start, the decoder's logits [k, B, D] and normalised weights p(kept pixels | z) p(z) / mixture(z)
// [k, B], each times the branch's prior (a class's p(c)); pooled over the branches: [n k, B, D] and [n k, B].
struct WeightedImageCodes {
  torch::Tensor logits, w;
};
WeightedImageCodes weighted_image_codes(VariationalAutoencoder::Net& net, const torch::Tensor& part,
                                        const std::vector<VariationalAutoencoder::FillBranch>& branches, int64_t k,
                                        at::Generator& gen) {
  auto keep = torch::isnan(part).logical_not();
  std::vector<torch::Tensor> all_logits, all_log_w;
  for (const auto& branch : branches) {
    auto [mu, logvar] = net.encode(branch.start.reshape(net.geometry.batch_shape(part.size(0))), branch.condition);
    auto codes = neural::defensive_codes(mu.to(torch::kFloat64), logvar.to(torch::kFloat64), k, gen);
    auto logits = net.decode_logits(codes.z.to(torch::kFloat32), branch.condition);  // [k, B, D]
    auto log_obs = torch::where(keep, net.log_likelihood_of_logits(part.nan_to_num(0), logits), torch::zeros_like(logits))
                       .sum(2)
                       .to(torch::kFloat64);  // [k, B]
    all_logits.push_back(logits);
    all_log_w.push_back(log_obs + codes.log_ratio + branch.log_prior);
  }
  return {torch::cat(all_logits), torch::softmax(torch::cat(all_log_w), 0)};
}

// m draws per row from the pooled weighted codes: the decoder's means of codes picked by weight. [m, B, D]
torch::Tensor draw_from_codes(const WeightedImageCodes& c, int64_t m, at::Generator& gen) {
  const int64_t b = c.logits.size(1), d = c.logits.size(2);
  auto pick = torch::multinomial(c.w.t().to(torch::kCPU).contiguous(), m, true, gen).to(c.logits.device());  // [B, m]
  auto chosen = c.logits.permute({1, 0, 2}).gather(1, pick.unsqueeze(2).expand({b, m, d}));                   // [B, m, D]
  return torch::sigmoid(chosen).permute({1, 0, 2});
}
}  // namespace

torch::Tensor VariationalAutoencoder::conditional_mean(const torch::Tensor& x) const {
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 3);
  return fill_missing(x, 1, {}, [&](const torch::Tensor& part, const std::vector<FillBranch>& branches) {
    auto c = weighted_image_codes(*net_, part, branches, options_.impute_samples, gen);
    return (torch::sigmoid(c.logits) * c.w.to(torch::kFloat32).unsqueeze(2)).sum(0).unsqueeze(0);  // [1, B, D]
  })[0];
}

torch::Tensor VariationalAutoencoder::conditional_sample(const torch::Tensor& x, at::Generator& gen) const {
  return conditional_samples(x, 1, gen)[0];
}

torch::Tensor VariationalAutoencoder::conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const {
  return fill_missing(x, m, {}, [&](const torch::Tensor& part, const std::vector<FillBranch>& branches) {
    return draw_from_codes(weighted_image_codes(*net_, part, branches, options_.impute_samples, gen), m, gen);
  });
}

torch::Tensor VariationalAutoencoder::conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels,
                                                                      int64_t m, at::Generator& gen) const {
  return fill_missing(x, m, labels, [&](const torch::Tensor& part, const std::vector<FillBranch>& branches) {
    return draw_from_codes(weighted_image_codes(*net_, part, branches, options_.impute_samples, gen), m, gen);
  });
}

TrunkExport VariationalAutoencoder::feature_trunk() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet");
  return neural::codec_trunk(*net_->codec, net_->geometry, "vae encoder");
}

int64_t VariationalAutoencoder::adapter_parameters() const { return net_ ? neural::adapter_parameters(*net_) : 0; }

void VariationalAutoencoder::merge_adapters() {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet");
  if (adapter_parameters() > 0) neural::fold_adapters(*this, options_);
}

TensorMap VariationalAutoencoder::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this VAE is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  return out;
}

void VariationalAutoencoder::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  neural::check_architecture(options_.architecture, geometry, "VAE");
  auto net = std::make_shared<Net>(geometry, options_);
  TensorMap with_codes = t;
  if (net->class_code_mean.defined() && !t.count("class_code_mean")) {
    // A file from before the class code prior: every class samples N(0, I) codes, as it did.
    with_codes["class_code_mean"] = net->class_code_mean;
    with_codes["class_code_chol"] = net->class_code_chol;
  }
  neural::load_module(*net, "", with_codes);
  net->eval();
  net_ = net;
}

}  // namespace gf
