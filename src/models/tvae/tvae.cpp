#include "genforge/models/tvae.h"

#include <torch/torch.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "models/tvae/mode_transformer.h"
#include "nn/missing.h"
#include "nn/neural.h"

namespace gf {

struct Tvae::Net : torch::nn::Module {
  Net(int64_t width, const TvaeOptions& o) {
    int64_t in = width;
    for (auto h : parse_int_list("compress_dims", o.compress_dims)) {
      encoder->push_back(torch::nn::Linear(in, h));
      encoder->push_back(torch::nn::ReLU());
      in = h;
    }
    fc_mu = register_module("fc_mu", torch::nn::Linear(in, o.embedding_dim));
    fc_logvar = register_module("fc_logvar", torch::nn::Linear(in, o.embedding_dim));
    in = o.embedding_dim;
    for (auto h : parse_int_list("decompress_dims", o.decompress_dims)) {
      decoder->push_back(torch::nn::Linear(in, h));
      decoder->push_back(torch::nn::ReLU());
      in = h;
    }
    decoder->push_back(torch::nn::Linear(in, width));
    register_module("encoder", encoder);
    register_module("decoder", decoder);
    sigma = register_parameter("sigma", torch::full({width}, 0.1));
  }
  // SDV clamps the learned noise to [0.01, 1] after every step; clamping where it is used has the same effect.
  torch::Tensor noise() const { return sigma.clamp(0.01, 1.0); }

  torch::nn::Sequential encoder, decoder;
  torch::nn::Linear fc_mu{nullptr}, fc_logvar{nullptr};
  torch::Tensor sigma;
  tvae::ModeTransformer transformer;
};

namespace {

// Rows handled at once when each takes `per_row` numbers of decoder output (codes x width): about 4 M numbers
// (16 MB of float32) per chunk, so a table of thousands of one-hot slots (movies' titles) does not allocate
// gigabytes for one chunk.
int64_t rows_per_chunk(int64_t per_row) { return std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(1, per_row)); }

// SDV's loss: per row, the scalars' Gaussian error with the learned noise (and its log normaliser) plus every
// one-hot's cross-entropy, times loss_factor; plus the KL divergence of the codes.
torch::Tensor tvae_loss(Tvae::Net& net, const torch::Tensor& x, double factor, at::Generator& gen) {
  auto h = net.encoder->forward(x);
  auto mu = net.fc_mu->forward(h), logvar = net.fc_logvar->forward(h);
  auto z = mu + neural::randn_from(mu.sizes(), gen, mu.options()) * (0.5 * logvar).exp();
  auto recon = net.decoder->forward(z);
  auto sigma = net.noise();
  std::vector<torch::Tensor> terms;
  const auto rows = static_cast<double>(x.size(0));
  for (const auto& c : net.transformer.columns()) {
    for (const auto& s : c.spans) {
      if (s.scalar) {
        auto sd = sigma[s.start];
        auto err = x.select(1, s.start) - torch::tanh(recon.select(1, s.start));
        terms.push_back((err.pow(2) / (2 * sd.pow(2))).sum() + sd.log() * rows);
      } else {
        auto target = x.slice(1, s.start, s.start + s.width).argmax(1);
        terms.push_back(torch::nn::functional::cross_entropy(
            recon.slice(1, s.start, s.start + s.width), target,
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)));
      }
    }
  }
  auto kld = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum();
  return (torch::stack(terms).sum() * factor + kld) / rows;
}

class TvaeTrainable : public train::Trainable {
 public:
  TvaeTrainable(Tvae::Net& net, double factor) : net_(net), factor_(factor) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }
  void train_step(const train::Batch& b, train::StepContext& ctx) override {
    ctx.optimize("model", tvae_loss(net_, b.x, factor_, ctx.generator()));
  }
  double eval_loss(const train::Batch& b, at::Generator& gen) override {
    torch::NoGradGuard no_grad;
    return tvae_loss(net_, b.x, factor_, gen).item<double>();
  }

 private:
  Tvae::Net& net_;
  double factor_;
};

// MIWAE-style codes for rows x [B, D] (NaN = missing): k draws from the defensive mixture (neural::defensive_codes),
// each with its log weight log p(observed | z) + log p(z) - log mixture(z). Returns the decoder's outputs
// [k, B, width] and the log weights [k, B] float64: their softmax over k weights the codes (imputation), their
// log-mean is the importance-weighted bound (score).
std::pair<torch::Tensor, torch::Tensor> coded_log_weights(Tvae::Net& net, const torch::Tensor& x, int64_t k,
                                                          at::Generator& gen) {
  const auto device = neural::device_of(net);
  const int64_t b = x.size(0);
  auto h = net.encoder->forward(net.transformer.transform(x, gen).to(device));
  auto codes = neural::defensive_codes(net.fc_mu->forward(h).to(torch::kFloat64),
                                       net.fc_logvar->forward(h).to(torch::kFloat64), k, gen);
  auto raw = net.decoder->forward(codes.z.to(torch::kFloat32));  // [k, B, width]
  auto x_rows = x.to(device).unsqueeze(0).expand({k, b, x.size(1)}).reshape({k * b, x.size(1)});
  auto log_obs = net.transformer.observed_log_likelihood(raw.reshape({k * b, -1}), x_rows, net.noise()).view({k, b});
  return {raw, log_obs.to(torch::kFloat64) + codes.log_ratio.to(log_obs.device())};
}

// The same codes with their normalised weights [k, B].
std::pair<torch::Tensor, torch::Tensor> weighted_codes(Tvae::Net& net, const torch::Tensor& x, int64_t k,
                                                       at::Generator& gen) {
  auto [raw, log_w] = coded_log_weights(net, x, k, gen);
  return {raw, torch::softmax(log_w, 0)};
}

}  // namespace

void TvaeOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(embedding_dim >= 1, "embedding_dim must be at least 1, got ", embedding_dim);
  for (auto h : parse_int_list("compress_dims", compress_dims)) GF_CHECK(h >= 1, "compress_dims must be positive");
  for (auto h : parse_int_list("decompress_dims", decompress_dims)) GF_CHECK(h >= 1, "decompress_dims must be positive");
  GF_CHECK(loss_factor > 0, "loss_factor must be > 0, got ", loss_factor);
  GF_CHECK(max_modes >= 1, "max_modes must be at least 1, got ", max_modes);
  GF_CHECK(impute_samples >= 1 && impute_samples <= 100000, "impute_samples must be in 1..100000, got ", impute_samples);
  GF_CHECK(iw_samples >= 1 && iw_samples <= 100000, "iw_samples must be in 1..100000, got ", iw_samples);
}

const OptionTable<TvaeOptions>& Tvae::option_table() {
  static const OptionTable<TvaeOptions> table = [] {
    OptionTable<TvaeOptions> t("tvae");
    t.add("embedding_dim", &TvaeOptions::embedding_dim, "code size")
        .add("compress_dims", &TvaeOptions::compress_dims, "encoder hidden layers, e.g. 128,128")
        .add("decompress_dims", &TvaeOptions::decompress_dims, "decoder hidden layers, e.g. 128,128")
        .add("loss_factor", &TvaeOptions::loss_factor, "weight of the reconstruction term")
        .add("max_modes", &TvaeOptions::max_modes, "mixture components per numeric column before pruning")
        .add("sample_categories", &TvaeOptions::sample_categories,
             "draw modes and categories from the decoder's softmax (false: argmax, as SDV)")
        .add("impute_samples", &TvaeOptions::impute_samples, "imputation: importance-weighted codes per row")
        .add("iw_samples", &TvaeOptions::iw_samples, "scoring: codes per row of the importance-weighted bound");
    train::add_train_options(t);
    return t;
  }();
  return table;
}

Tvae::Tvae(TvaeOptions options) : options_(std::move(options)) {}
Tvae::~Tvae() = default;

Capabilities Tvae::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::table;
  c.likelihood = Likelihood::lower_bound;
  c.latent_space = true;
  c.encoder = true;
  c.missing_values = true;
  return c;
}

nlohmann::json Tvae::options_json() const { return option_table().to_json(options_); }

FitReport Tvae::fit(const Dataset& train, const FitContext& ctx) {
  options_.validate();
  GF_CHECK_AS(DataError, train.x.defined() && train.x.dim() == 2 && train.x.size(0) > 0,
              "give a table with at least one row", "TVAE fits tables [N, D]");
  net_.reset();
  tvae::ModeTransformer transformer;
  transformer.fit(train.x, train.features, train.columns, options_.max_modes, options_.seed);
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  auto x = transformer.transform(train.x, gen).to(ctx.device);  // [N, width]
  auto net = std::make_shared<Net>(transformer.width(), options_);
  net->transformer = transformer;
  neural::init_like_pytorch(*net, gen);
  net->to(ctx.device);
  TvaeTrainable trainable(*net, options_.loss_factor);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    val = train::TrainData{transformer.transform(ctx.validation->x, gen).to(ctx.device), {}};
  }
  report_ = train::run(trainable, {x, {}}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "loss per row: factor x reconstruction + KL (last logged)";
  report_.extra["width"] = transformer.width();
  if (report_.extra.contains("privacy")) report_.extra["privacy"]["public"] = tvae::kModeTransformerPublicFacts;
  net->eval();
  net_ = net;
  schema_ = {{"columns", train.columns}, {"dim", train.x.size(1)}};
  return report_;
}

torch::Tensor Tvae::decode(const torch::Tensor& z, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train tvae ...`)", "the TVAE is not fitted");
  torch::NoGradGuard no_grad;
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 1);
  auto raw = net_->decoder->forward(z.to(neural::device_of(*net_), torch::kFloat32));
  return net_->transformer.inverse(raw, {}, gen);
}

torch::Tensor Tvae::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train tvae ...`)", "the TVAE is not fitted");
  GF_CHECK(n >= 0, "number of samples must be >= 0, got ", n);
  torch::NoGradGuard no_grad;
  auto z = torch::randn({n, options_.embedding_dim}, gen, torch::kFloat32).to(neural::device_of(*net_));
  auto raw = net_->decoder->forward(z);
  // One-hots drawn from the decoder's softmax (sample_categories) rather than taken at their argmax as SDV does:
  // argmax erased rare categories and missing cells (a 10 % missing rate came back as 4-5 %).
  return net_->transformer.inverse(raw, net_->noise().to(torch::kCPU, torch::kFloat64), gen,
                                   options_.sample_categories);
}

// The rows of x [N, D] with a missing cell, in chunks of rows sized for `pool` codes each, filled by `fill`. [draws, N, D]
torch::Tensor Tvae::fill_missing(const torch::Tensor& x_in, int64_t draws, int64_t pool,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& fill) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train tvae ...`)", "the TVAE is not fitted");
  const auto d = static_cast<int64_t>(net_->transformer.columns().size());
  GF_CHECK(x_in.dim() == 2 && x_in.size(1) == d, "rows must be [N, ", d, "], got ", x_in.sizes());
  torch::NoGradGuard no_grad;
  return neural::fill_missing_rows(x_in.to(torch::kCPU, torch::kFloat64), draws,
                                   rows_per_chunk(pool * net_->transformer.width()), fill);
}

torch::Tensor Tvae::conditional_mean(const torch::Tensor& x) const {
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 2);
  return fill_missing(x, 1, options_.impute_samples, [&](const torch::Tensor& rows) {
    auto [raw, w] = weighted_codes(*net_, rows, options_.impute_samples, gen);
    return net_->transformer.weighted_mean(raw, w).unsqueeze(0);
  })[0];
}

torch::Tensor Tvae::conditional_sample(const torch::Tensor& x, at::Generator& gen) const {
  return conditional_samples(x, 1, gen)[0];
}

// Sampling importance resampling: m codes per row picked by their weights from one weighted pool of
// max(impute_samples, 5 m) codes, each decoded with fresh noise.
torch::Tensor Tvae::conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const {
  const int64_t pool = std::min<int64_t>(std::max(options_.impute_samples, 5 * m), 100000);
  return fill_missing(x, m, pool, [&](const torch::Tensor& rows) {
    auto [raw, w] = weighted_codes(*net_, rows, pool, gen);  // [pool, B, width], [pool, B]
    const int64_t b = rows.size(0), width = raw.size(2);
    auto pick = torch::multinomial(w.t().to(torch::kCPU).contiguous(), m, true, gen);  // [B, m]
    auto chosen = raw.to(torch::kCPU, torch::kFloat64)
                      .permute({1, 0, 2})
                      .gather(1, pick.unsqueeze(2).expand({b, m, width}))  // [B, m, width]
                      .permute({1, 0, 2})
                      .reshape({m * b, width});
    net_->transformer.forbid_missing(chosen);
    auto sigma = net_->noise().to(torch::kCPU, torch::kFloat64);
    return net_->transformer.inverse(chosen, sigma, gen, true).view({m, b, -1});
  });
}

namespace {
// Rows x [N, D] in chunks of rows_per_chunk(per_row) rows, through `part` (rows [B, D] -> [B, ...]). [N, ...]
torch::Tensor in_chunks(const torch::Tensor& x, int64_t per_row,
                        const std::function<torch::Tensor(const torch::Tensor&)>& part) {
  const int64_t chunk = rows_per_chunk(per_row);
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += chunk) parts.push_back(part(x.slice(0, s, std::min(x.size(0), s + chunk))));
  return parts.empty() ? torch::empty({0}, torch::kFloat64) : torch::cat(parts);
}
}  // namespace

torch::Tensor Tvae::score_samples(const torch::Tensor& x_in) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train tvae ...`)", "the TVAE is not fitted");
  const auto d = static_cast<int64_t>(net_->transformer.columns().size());
  GF_CHECK(x_in.dim() == 2 && x_in.size(1) == d, "rows must be [N, ", d, "], got ", x_in.sizes());
  GF_CHECK_AS(DataError, !x_in.isinf().any().item<bool>(), "replace infinities with finite values or NaN",
              "the data to score holds infinite values");
  torch::NoGradGuard no_grad;
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 3);  // the same codes every call
  const int64_t k = options_.iw_samples;
  const auto x = x_in.to(torch::kCPU, torch::kFloat64);
  return in_chunks(x, k * net_->transformer.width(), [&](const torch::Tensor& rows) {
    const auto log_w = coded_log_weights(*net_, rows, k, gen).second;  // [k, B]
    return (torch::logsumexp(log_w, 0) - std::log(static_cast<double>(k))).cpu();
  });
}

torch::Tensor Tvae::transform(const torch::Tensor& x_in, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train tvae ...`)", "the TVAE is not fitted");
  const auto d = static_cast<int64_t>(net_->transformer.columns().size());
  GF_CHECK(x_in.dim() == 2 && x_in.size(1) == d, "rows must be [N, ", d, "], got ", x_in.sizes());
  torch::NoGradGuard no_grad;
  // A number's code holds the mode it is drawn into: a fixed generator, so a row encodes the same every call.
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 5);
  const auto device = neural::device_of(*net_);
  const auto x = x_in.to(torch::kCPU, torch::kFloat64);
  return in_chunks(x, net_->transformer.width(), [&](const torch::Tensor& rows) {
    return net_->fc_mu->forward(net_->encoder->forward(net_->transformer.transform(rows, gen).to(device)))
        .to(torch::kCPU, torch::kFloat64);
  });
}

TensorMap Tvae::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "the TVAE is not fitted");
  TensorMap out;
  neural::save_module(*net_, "", out);
  return out;
}

nlohmann::json Tvae::state_json() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "the TVAE is not fitted");
  return {{"transformer", net_->transformer.to_json()}};
}

void Tvae::load_state_json(const nlohmann::json& state) { transformer_json_ = state.value("transformer", nlohmann::json()); }

void Tvae::load_state(const TensorMap& tensors) {
  GF_CHECK_AS(ModelFileError, transformer_json_.is_object(), "re-create the file with `genforge train tvae`",
              "the TVAE's data transformer is missing from the model file");
  auto transformer = tvae::ModeTransformer::from_json(transformer_json_);
  auto net = std::make_shared<Net>(transformer.width(), options_);
  net->transformer = transformer;
  neural::load_module(*net, "", tensors);
  net->eval();
  net_ = net;
}

}  // namespace gf
