#include "models/flow/layers.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/linear.h>

#include <cmath>

#include "genforge/core/error.h"

namespace gf::flow {

namespace {

namespace F = torch::nn::functional;

thread_local bool skip_random_start = false;

// U(-bound, bound) from `gen` into t (PyTorch's default initialisation with bound = 1 / sqrt(fan_in)); zeros
// while a SkipRandomStart is alive.
void fill_uniform(const torch::Tensor& t, double bound, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  if (skip_random_start) {
    t.zero_();
    return;
  }
  t.copy_(at::rand(t.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32)) * (2 * bound) - bound);
}

void init_conv(const torch::nn::Conv2d& conv, at::Generator& gen) {
  const auto& w = conv->weight;
  const double bound = 1.0 / std::sqrt(static_cast<double>(w.size(1) * w.size(2) * w.size(3)));
  fill_uniform(conv->weight, bound, gen);
  fill_uniform(conv->bias, bound, gen);
}

void init_linear(const torch::nn::Linear& linear, at::Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(1)));
  fill_uniform(linear->weight, bound, gen);
  fill_uniform(linear->bias, bound, gen);
}

void set_zero(torch::Tensor& t) {
  torch::NoGradGuard no_grad;
  t.zero_();
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2));
}

// Per-example sum over every dimension but the first. [N]
torch::Tensor sum_rest(const torch::Tensor& t) { return t.flatten(1).sum(1); }

}  // namespace

torch::Tensor soft_clamp(const torch::Tensor& s, double c) { return c * torch::tanh(s / c); }

// ---- ActNorm

ActNorm::ActNorm(int64_t channels) {
  bias = register_parameter("bias", torch::zeros({channels}));
  log_scale = register_parameter("log_scale", torch::zeros({channels}));
  initialized = register_buffer("initialized", torch::zeros({1}));
}

namespace {
std::vector<int64_t> channel_shape(const torch::Tensor& x) {
  return x.dim() == 4 ? std::vector<int64_t>{1, x.size(1), 1, 1} : std::vector<int64_t>{1, x.size(1)};
}
int64_t positions(const torch::Tensor& x) { return x.dim() == 4 ? x.size(2) * x.size(3) : 1; }
}  // namespace

void ActNorm::forward(FlowState& s) {
  if (!ready) ready = initialized.item<double>() > 0;
  if (!ready) {
    // Data-dependent initialisation on this first batch: zero mean, unit variance per channel.
    torch::NoGradGuard no_grad;
    auto flat = s.x.transpose(0, 1).reshape({s.x.size(1), -1});  // [C, M]
    auto mean = flat.mean(1);
    auto sd = (flat - mean.unsqueeze(1)).pow(2).mean(1).sqrt().clamp_min(1e-3);
    bias.copy_(-mean);
    log_scale.copy_(-sd.log());
    initialized.fill_(1);
    ready = true;
  }
  const auto shape = channel_shape(s.x);
  s.x = (s.x + bias.view(shape)) * log_scale.exp().view(shape);
  s.logdet = s.logdet + log_scale.sum() * static_cast<double>(positions(s.x));
}

void ActNorm::inverse(FlowState& s) {
  const auto shape = channel_shape(s.x);
  s.x = s.x * (-log_scale).exp().view(shape) - bias.view(shape);
}

// ---- Invertible 1x1 convolution

std::vector<torch::Tensor> lu_decompose(const torch::Tensor& w) {
  GF_CHECK(w.dim() == 2 && w.size(0) == w.size(1), "LU needs a square matrix, got ", w.sizes());
  const int64_t n = w.size(0);
  auto a = w.to(torch::kCPU, torch::kFloat64).clone();
  auto l = torch::eye(n, torch::kFloat64);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  auto A = a.accessor<double, 2>();
  auto L = l.accessor<double, 2>();
  for (int64_t k = 0; k < n; ++k) {
    int64_t pivot = k;
    for (int64_t i = k + 1; i < n; ++i) {
      if (std::abs(A[i][k]) > std::abs(A[pivot][k])) pivot = i;
    }
    GF_CHECK(A[pivot][k] != 0, "the matrix is singular");
    if (pivot != k) {
      for (int64_t j = 0; j < n; ++j) std::swap(A[k][j], A[pivot][j]);
      for (int64_t j = 0; j < k; ++j) std::swap(L[k][j], L[pivot][j]);
      std::swap(perm[static_cast<size_t>(k)], perm[static_cast<size_t>(pivot)]);
    }
    for (int64_t i = k + 1; i < n; ++i) {
      L[i][k] = A[i][k] / A[k][k];
      for (int64_t j = k; j < n; ++j) A[i][j] -= L[i][k] * A[k][j];
    }
  }
  // Row k of P W is row perm[k] of W: P W = L U, so W = P^T L U.
  auto p = torch::zeros({n, n}, torch::kFloat64);
  for (int64_t k = 0; k < n; ++k) p[perm[static_cast<size_t>(k)]][k] = 1.0;
  return {p, l, torch::triu(a)};
}

SkipRandomStart::SkipRandomStart() : previous_(skip_random_start) { skip_random_start = true; }
SkipRandomStart::~SkipRandomStart() { skip_random_start = previous_; }

Invertible1x1::Invertible1x1(int64_t channels, at::Generator& gen) {
  auto plu = skip_random_start ? std::vector<torch::Tensor>{torch::eye(channels, torch::kFloat64),
                                                            torch::eye(channels, torch::kFloat64),
                                                            torch::eye(channels, torch::kFloat64)}
                               : lu_decompose(std::get<0>(
                                     torch::linalg_qr(at::randn({channels, channels}, gen, torch::kFloat64))));
  auto diag = plu[2].diagonal();
  auto f = torch::kFloat32;
  p = register_buffer("p", plu[0].to(f));
  sign_s = register_buffer("sign_s", diag.sign().to(f));
  lower_mask = register_buffer("lower_mask", torch::tril(torch::ones({channels, channels}), -1));
  eye = register_buffer("eye", torch::eye(channels));
  lower = register_parameter("lower", torch::tril(plu[1], -1).to(f));
  upper = register_parameter("upper", torch::triu(plu[2], 1).to(f));
  log_s = register_parameter("log_s", diag.abs().log().to(f));
}

torch::Tensor Invertible1x1::weight() const {
  auto l = lower * lower_mask + eye;
  auto u = upper * lower_mask.t() + torch::diag(sign_s * log_s.exp());
  return p.matmul(l).matmul(u);
}

void Invertible1x1::forward(FlowState& s) {
  const int64_t c = s.x.size(1);
  s.x = torch::conv2d(s.x, weight().view({c, c, 1, 1}));
  s.logdet = s.logdet + log_s.sum() * static_cast<double>(positions(s.x));
}

void Invertible1x1::inverse(FlowState& s) {
  const int64_t c = s.x.size(1);
  s.x = torch::conv2d(s.x, torch::inverse(weight()).view({c, c, 1, 1}));
}

// ---- Squeeze

void Squeeze::forward(FlowState& s) {
  const auto n = s.x.size(0), c = s.x.size(1), h = s.x.size(2), w = s.x.size(3);
  s.x = s.x.view({n, c, h / 2, 2, w / 2, 2}).permute({0, 1, 3, 5, 2, 4}).reshape({n, 4 * c, h / 2, w / 2});
}

void Squeeze::inverse(FlowState& s) {
  const auto n = s.x.size(0), c = s.x.size(1) / 4, h = s.x.size(2), w = s.x.size(3);
  s.x = s.x.view({n, c, 2, 2, h, w}).permute({0, 1, 4, 2, 5, 3}).reshape({n, c, 2 * h, 2 * w});
}

// ---- Coupling networks and couplings of images

ConvNet::ConvNet(int64_t in, int64_t hidden, int64_t out, int64_t res_blocks, at::Generator& gen) {
  first = register_module("first", conv(in, hidden, 3));
  init_conv(first, gen);
  if (res_blocks == 0) {
    middle = register_module("middle", conv(hidden, hidden, 1));
    init_conv(middle, gen);
  }
  for (int64_t b = 0; b < res_blocks; ++b) {
    auto c1 = register_module("res" + std::to_string(b) + "a", conv(hidden, hidden, 3));
    auto c2 = register_module("res" + std::to_string(b) + "b", conv(hidden, hidden, 3));
    init_conv(c1, gen);
    init_conv(c2, gen);
    blocks.emplace_back(c1, c2);
  }
  last = register_module("last", conv(hidden, out, 3));
  set_zero(last->weight);  // every coupling starts as the identity (Glow)
  set_zero(last->bias);
}

torch::Tensor ConvNet::forward(torch::Tensor x) {
  x = torch::relu(first(x));
  if (middle) x = torch::relu(middle(x));
  for (auto& [a, b] : blocks) x = x + b(torch::relu(a(torch::relu(x))));
  return last(torch::relu(x));
}

ConvCoupling::ConvCoupling(int64_t channels_, int64_t condition_channels, int64_t hidden, int64_t res_blocks,
                           bool checkerboard_, int64_t parity_, bool affine_, double clamp_, at::Generator& gen)
    : channels(channels_), split(channels_ / 2), checkerboard(checkerboard_), affine(affine_), parity(parity_),
      clamp(clamp_) {
  GF_CHECK(checkerboard || channels >= 2, "a channel coupling needs at least 2 channels, got ", channels);
  const int64_t given = checkerboard ? channels : (parity == 0 ? split : channels - split);
  const int64_t changed = checkerboard ? channels : channels - given;
  net = register_module("net", std::make_shared<ConvNet>(given + condition_channels, hidden,
                                                         changed * (affine ? 2 : 1), res_blocks, gen));
}

torch::Tensor ConvCoupling::mask(const torch::Tensor& like) const {
  const auto h = like.size(2), w = like.size(3);
  auto opts = like.options();
  auto i = torch::arange(h, opts).view({h, 1}), j = torch::arange(w, opts).view({1, w});
  auto odd = torch::remainder(i + j, 2.0);  // [H, W]
  return (parity == 0 ? 1 - odd : odd).view({1, 1, h, w});
}

std::pair<torch::Tensor, torch::Tensor> ConvCoupling::params(const torch::Tensor& given,
                                                             const torch::Tensor& condition) {
  torch::Tensor input = given;
  if (condition.defined()) {
    auto c = condition.dim() == 2 ? condition.view({condition.size(0), condition.size(1), 1, 1})
                                        .expand({condition.size(0), condition.size(1), given.size(2), given.size(3)})
                                  : condition;
    input = torch::cat({given, c}, 1);
  }
  auto out = net->forward(input);
  if (!affine) return {out, torch::zeros_like(out)};
  const int64_t c = out.size(1) / 2;
  return {out.slice(1, 0, c), soft_clamp(out.slice(1, c), clamp)};
}

namespace {
// The (given, changed) halves along dimension 1 (channels of images, features of rows) of a coupling, and how to put
// them back together.
std::pair<torch::Tensor, torch::Tensor> halves(const torch::Tensor& x, int64_t split, int64_t parity) {
  auto a = x.slice(1, 0, split), b = x.slice(1, split);
  return parity == 0 ? std::make_pair(a, b) : std::make_pair(b, a);
}
torch::Tensor join(const torch::Tensor& given, const torch::Tensor& changed, int64_t parity) {
  return parity == 0 ? torch::cat({given, changed}, 1) : torch::cat({changed, given}, 1);
}
}  // namespace

void ConvCoupling::forward(FlowState& s) {
  if (checkerboard) {
    auto m = mask(s.x);
    auto [shift, logs] = params(s.x * m, s.condition);
    logs = logs * (1 - m);
    s.x = s.x * m + (1 - m) * (s.x * logs.exp() + shift);
    s.logdet = s.logdet + sum_rest(logs);
    return;
  }
  auto [given, changed] = halves(s.x, split, parity);
  auto [shift, logs] = params(given, s.condition);
  s.x = join(given, changed * logs.exp() + shift, parity);
  s.logdet = s.logdet + sum_rest(logs);
}

void ConvCoupling::inverse(FlowState& s) {
  if (checkerboard) {
    auto m = mask(s.x);
    auto [shift, logs] = params(s.x * m, s.condition);
    s.x = s.x * m + (1 - m) * ((s.x - shift) * (-logs).exp());
    return;
  }
  auto [given, changed] = halves(s.x, split, parity);
  auto [shift, logs] = params(given, s.condition);
  s.x = join(given, (changed - shift) * (-logs).exp(), parity);
}

// ---- Split

Split::Split(int64_t channels, bool learned) : keep(channels - channels / 2) {
  if (learned) {
    prior = register_module("prior", conv(keep, 2 * (channels - keep), 3));
    set_zero(prior->weight);
    set_zero(prior->bias);
  }
}

void Split::forward(FlowState& s) {
  auto z1 = s.x.slice(1, 0, keep), z2 = s.x.slice(1, keep);
  if (prior) {
    auto h = prior(z1);
    const int64_t c = h.size(1) / 2;
    auto mean = h.slice(1, 0, c), logs = soft_clamp(h.slice(1, c), 5.0);
    z2 = (z2 - mean) * (-logs).exp();
    s.logdet = s.logdet - sum_rest(logs);
  }
  s.factored.push_back(z2);
  s.x = z1;
}

void Split::inverse(FlowState& s) {
  GF_CHECK(!s.factored.empty(), "the code has fewer parts than the flow's splits");
  auto z2 = s.factored.back();
  s.factored.pop_back();
  if (prior) {
    auto h = prior(s.x);
    const int64_t c = h.size(1) / 2;
    z2 = h.slice(1, 0, c) + soft_clamp(h.slice(1, c), 5.0).exp() * z2;
  }
  s.x = torch::cat({s.x, z2}, 1);
}

// ---- MLP coupling of rows

MlpCoupling::MlpCoupling(int64_t features_, int64_t split_, int64_t parity_, int64_t hidden, bool affine_,
                         double clamp_, int64_t init_fan_in, int64_t condition_features, at::Generator& gen)
    : features(features_), split(split_), parity(parity_), affine(affine_), clamp(clamp_) {
  GF_CHECK(split >= 1 && split < features, "an MLP coupling needs at least 2 features, got ", features);
  const int64_t in = parity == 0 ? split : features - split, out = features - in;
  w1 = register_parameter("w1", torch::empty({2, in, hidden}));
  b1 = register_parameter("b1", torch::empty({2, 1, hidden}));
  w2 = register_parameter("w2", torch::empty({2, hidden, hidden}));
  b2 = register_parameter("b2", torch::empty({2, 1, hidden}));
  w3 = register_parameter("w3", torch::empty({2, hidden, out}));
  b3 = register_parameter("b3", torch::empty({2, 1, out}));
  // PyTorch's Linear initialisation; the first layer's fan-in is that of the full masked input (the W7 peer feeds
  // x * mask to Linear(D, hidden)), so both start from the same distribution of functions.
  const double b_in = 1.0 / std::sqrt(static_cast<double>(init_fan_in));
  const double b_h = 1.0 / std::sqrt(static_cast<double>(hidden));
  fill_uniform(w1, b_in, gen);
  fill_uniform(b1, b_in, gen);
  fill_uniform(w2, b_h, gen);
  fill_uniform(b2, b_h, gen);
  fill_uniform(w3, b_h, gen);
  fill_uniform(b3, b_h, gen);
  if (condition_features > 0) {
    w_condition = register_parameter("w_condition", torch::empty({2, condition_features, hidden}));
    fill_uniform(w_condition, b_in, gen);
  }
}

std::pair<torch::Tensor, torch::Tensor> MlpCoupling::params(const torch::Tensor& given,
                                                            const torch::Tensor& condition) {
  auto x = given.unsqueeze(0).expand({2, given.size(0), given.size(1)});  // [2, N, in]
  auto h = torch::baddbmm(b1, x, w1);                                    // [2, N, hidden]
  if (w_condition.defined()) {
    GF_CHECK(condition.defined(), "this coupling is conditional: pass the condition");
    h = h + torch::bmm(condition.unsqueeze(0).expand({2, condition.size(0), condition.size(1)}), w_condition);
  }
  h = torch::relu(h);
  h = torch::relu(torch::baddbmm(b2, h, w2));
  auto out = torch::baddbmm(b3, h, w3);  // [2, N, out]: scale net, shift net
  auto shift = out[1];
  return {shift, affine ? soft_clamp(out[0], clamp) : torch::zeros_like(shift)};
}


void MlpCoupling::forward(FlowState& s) {
  auto [given, changed] = halves(s.x, split, parity);
  auto [shift, logs] = params(given, s.condition);
  s.x = join(given, changed * logs.exp() + shift, parity);
  s.logdet = s.logdet + logs.sum(1);
}

void MlpCoupling::inverse(FlowState& s) {
  auto [given, changed] = halves(s.x, split, parity);
  auto [shift, logs] = params(given, s.condition);
  s.x = join(given, (changed - shift) * (-logs).exp(), parity);
}

// ---- Spline coupling of rows

SplineCoupling::SplineCoupling(int64_t features, int64_t split_, int64_t parity_, int64_t hidden, int64_t bins_,
                               double tail_bound_, int64_t condition_features, at::Generator& gen)
    : split(split_), parity(parity_), bins(bins_), tail_bound(tail_bound_) {
  GF_CHECK(split >= 1 && split < features, "a spline coupling needs at least 2 features, got ", features);
  const int64_t in = parity == 0 ? split : features - split, out = features - in;
  l1 = register_module("l1", torch::nn::Linear(in, hidden));
  l2 = register_module("l2", torch::nn::Linear(hidden, hidden));
  l3 = register_module("l3", torch::nn::Linear(hidden, out * (3 * bins - 1)));
  init_linear(l1, gen);
  init_linear(l2, gen);
  set_zero(l3->weight);  // uniform bins, unit derivatives: the identity
  set_zero(l3->bias);
  if (condition_features > 0) {
    l_condition = register_module("l_condition",
                                  torch::nn::Linear(torch::nn::LinearOptions(condition_features, hidden).bias(false)));
    fill_uniform(l_condition->weight, 1.0 / std::sqrt(static_cast<double>(condition_features)), gen);
  }
}

std::pair<torch::Tensor, torch::Tensor> SplineCoupling::apply(const FlowState& s, bool inverse) {
  auto [given, changed] = halves(s.x, split, parity);
  auto h = l1(given);
  if (l_condition) {
    GF_CHECK(s.condition.defined(), "this coupling is conditional: pass the condition");
    h = h + l_condition(s.condition);
  }
  h = torch::relu(l2(torch::relu(h)));
  auto p = l3(h).view({given.size(0), changed.size(1), 3 * bins - 1});  // [N, out, 3K - 1]
  auto [y, logdet] = rational_quadratic_spline(changed, p.slice(2, 0, bins), p.slice(2, bins, 2 * bins),
                                               p.slice(2, 2 * bins), tail_bound, inverse);
  return {join(given, y, parity), logdet.sum(1)};
}

void SplineCoupling::forward(FlowState& s) {
  auto [x, logdet] = apply(s, false);
  s.x = x;
  s.logdet = s.logdet + logdet;
}

void SplineCoupling::inverse(FlowState& s) { s.x = apply(s, true).first; }

// ---- MADE and autoregressive transforms

Made::Made(int64_t features_, int64_t hidden, int64_t params_per_feature, const std::vector<int64_t>& order_,
           int64_t condition_features, at::Generator& gen)
    : features(features_), n_params(params_per_feature), order(order_) {
  GF_CHECK(static_cast<int64_t>(order.size()) == features, "MADE order must list every feature");
  // The masks first: sizes from a damaged file meet the loader's allocation limit before the loops below.
  auto mask1 = torch::zeros({hidden, features}), mask2 = torch::zeros({hidden, hidden});
  auto mask3 = torch::zeros({n_params * features, hidden});
  std::vector<int64_t> degree(static_cast<size_t>(features));
  for (int64_t k = 0; k < features; ++k) degree[static_cast<size_t>(order[static_cast<size_t>(k)])] = k + 1;
  std::vector<int64_t> hidden_degree(static_cast<size_t>(hidden));
  const int64_t span = std::max<int64_t>(1, features - 1);
  for (int64_t j = 0; j < hidden; ++j) hidden_degree[static_cast<size_t>(j)] = j % span + 1;
  auto m1a = mask1.accessor<float, 2>(), m2a = mask2.accessor<float, 2>(), m3a = mask3.accessor<float, 2>();
  for (int64_t j = 0; j < hidden; ++j) {
    const int64_t hj = hidden_degree[static_cast<size_t>(j)];
    for (int64_t i = 0; i < features; ++i) m1a[j][i] = hj >= degree[static_cast<size_t>(i)] ? 1.f : 0.f;
    for (int64_t k = 0; k < hidden; ++k) m2a[k][j] = hidden_degree[static_cast<size_t>(k)] >= hj ? 1.f : 0.f;
    for (int64_t p = 0; p < n_params; ++p) {
      for (int64_t d = 0; d < features; ++d) {
        m3a[p * features + d][j] = degree[static_cast<size_t>(d)] > hj ? 1.f : 0.f;
      }
    }
  }
  l1 = register_module("l1", torch::nn::Linear(features, hidden));
  l2 = register_module("l2", torch::nn::Linear(hidden, hidden));
  l3 = register_module("l3", torch::nn::Linear(hidden, n_params * features));
  init_linear(l1, gen);
  init_linear(l2, gen);
  set_zero(l3->weight);  // parameters start at the identity transform
  set_zero(l3->bias);
  m1 = register_buffer("m1", mask1);
  m2 = register_buffer("m2", mask2);
  m3 = register_buffer("m3", mask3);
  if (condition_features > 0) {
    l_condition = register_module("l_condition",
                                  torch::nn::Linear(torch::nn::LinearOptions(condition_features, hidden).bias(false)));
    fill_uniform(l_condition->weight, 1.0 / std::sqrt(static_cast<double>(condition_features)), gen);
  }
}

torch::Tensor Made::forward(const torch::Tensor& x, const torch::Tensor& condition) {
  auto h = F::linear(x, l1->weight * m1, l1->bias);
  if (l_condition) {
    GF_CHECK(condition.defined(), "this MADE is conditional: pass the condition");
    h = h + l_condition(condition);
  }
  h = torch::relu(h);
  h = torch::relu(F::linear(h, l2->weight * m2, l2->bias));
  return F::linear(h, l3->weight * m3, l3->bias).view({x.size(0), n_params, features});
}

Autoregressive::Autoregressive(int64_t features, int64_t hidden, const std::vector<int64_t>& order, bool spline_,
                               int64_t bins_, double tail_bound_, double clamp_, int64_t condition_features,
                               at::Generator& gen)
    : spline(spline_), bins(bins_), tail_bound(tail_bound_), clamp(clamp_) {
  made = register_module("made", std::make_shared<Made>(features, hidden, spline ? 3 * bins - 1 : 2, order,
                                                        condition_features, gen));
}

std::pair<torch::Tensor, torch::Tensor> Autoregressive::apply(const torch::Tensor& x, const torch::Tensor& p,
                                                              bool inverse) const {
  if (!spline) {
    auto mean = p.select(1, 0), log_scale = soft_clamp(p.select(1, 1), clamp);  // [N, D]
    if (inverse) return {x * log_scale.exp() + mean, log_scale};
    return {(x - mean) * (-log_scale).exp(), -log_scale};
  }
  auto q = p.transpose(1, 2);  // [N, D, 3K - 1]
  return rational_quadratic_spline(x, q.slice(2, 0, bins), q.slice(2, bins, 2 * bins), q.slice(2, 2 * bins),
                                   tail_bound, inverse);
}

void Autoregressive::forward(FlowState& s) {
  auto [u, logdet] = apply(s.x, made->forward(s.x, s.condition), false);
  s.x = u;
  s.logdet = s.logdet + logdet.sum(1);
}

void Autoregressive::inverse(FlowState& s) {
  // x_d depends on x_<d (in the MADE's order): one pass per feature, each fixing the next one.
  auto x = torch::zeros_like(s.x);
  for (int64_t d : made->order) {
    auto full = apply(s.x, made->forward(x, s.condition), true).first;
    x = torch::cat({x.slice(1, 0, d), full.slice(1, d, d + 1), x.slice(1, d + 1)}, 1);
  }
  s.x = x;
}

// ---- Rational-quadratic spline

std::pair<torch::Tensor, torch::Tensor> rational_quadratic_spline(const torch::Tensor& x_in, const torch::Tensor& uw,
                                                                  const torch::Tensor& uh, const torch::Tensor& ud,
                                                                  double bound, bool inverse) {
  constexpr double kMinWidth = 1e-3, kMinHeight = 1e-3, kMinDerivative = 1e-3;
  const int64_t k = uw.size(-1);
  auto inside = (x_in >= -bound) & (x_in <= bound);
  auto x = x_in.clamp(-bound, bound);
  // Knots: K bins no narrower than kMinWidth of [-B, B]; boundary derivatives 1 so the linear tails join smoothly.
  auto knots = [&](const torch::Tensor& unnormalised, double min_size) {
    auto size = min_size + (1 - min_size * static_cast<double>(k)) * torch::softmax(unnormalised, -1);
    auto cum = torch::cumsum(size, -1) * (2 * bound) - bound;  // [.., K]
    auto edges = torch::cat({torch::full_like(cum.narrow(-1, 0, 1), -bound), cum.narrow(-1, 0, k - 1),
                             torch::full_like(cum.narrow(-1, 0, 1), bound)},
                            -1);  // [.., K + 1]
    return std::make_pair(edges, edges.narrow(-1, 1, k) - edges.narrow(-1, 0, k));
  };
  auto [xs, widths] = knots(uw, kMinWidth);
  auto [ys, heights] = knots(uh, kMinHeight);
  const double one = std::log(std::expm1(1 - kMinDerivative));  // softplus(0 + one) + min = 1
  auto ones = torch::ones_like(uw.narrow(-1, 0, 1));
  auto deriv = torch::cat({ones, kMinDerivative + torch::softplus(ud + one), ones}, -1);  // [.., K + 1]
  const auto& edges = inverse ? ys : xs;
  auto bin = (x.unsqueeze(-1) >= edges.narrow(-1, 1, k - 1)).sum(-1, true);  // [.., 1] in 0 .. K - 1
  auto pick = [&](const torch::Tensor& t, int64_t offset) { return t.gather(-1, bin + offset).squeeze(-1); };
  auto xk = pick(xs, 0), wk = pick(widths, 0), yk = pick(ys, 0), hk = pick(heights, 0);
  auto dk = pick(deriv, 0), dk1 = pick(deriv, 1);
  auto delta = hk / wk;
  torch::Tensor out, theta;
  if (!inverse) {
    theta = (x - xk) / wk;
    auto t1 = theta * (1 - theta);
    auto num = hk * (delta * theta.pow(2) + dk * t1);
    auto den = delta + (dk + dk1 - 2 * delta) * t1;
    out = yk + num / den;
  } else {
    auto dy = x - yk;
    auto a = hk * (delta - dk) + dy * (dk1 + dk - 2 * delta);
    auto b = hk * dk - dy * (dk1 + dk - 2 * delta);
    auto c = -delta * dy;
    auto disc = (b.pow(2) - 4 * a * c).clamp_min(0);
    theta = (2 * c) / (-b - disc.sqrt());
    out = theta * wk + xk;
  }
  auto t1 = theta * (1 - theta);
  auto den = delta + (dk + dk1 - 2 * delta) * t1;
  auto dnum = delta.pow(2) * (dk1 * theta.pow(2) + 2 * delta * t1 + dk * (1 - theta).pow(2));
  auto logdet = dnum.log() - 2 * den.log();
  if (inverse) logdet = -logdet;
  return {torch::where(inside, out, x_in), torch::where(inside, logdet, torch::zeros_like(logdet))};
}

}  // namespace gf::flow
