#include "nn/neural.h"

#include "nn/layer_stack.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <sstream>

#include "genforge/core/error.h"

namespace gf::neural {
namespace {
constexpr int64_t kMaxExampleElements = int64_t{1} << 26;  // a 3 x 4096 x 4096 image fits; 2^26 values per example
constexpr int64_t kMaxClasses = int64_t{1} << 20;
}  // namespace

int64_t Geometry::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string Geometry::describe() const {
  std::ostringstream out;
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "x" : "") << shape[i];
  return out.str();
}

void Geometry::save(TensorMap& out) const {
  out["meta/shape"] = torch::tensor(shape, torch::kLong);
  out["meta/n_classes"] = torch::tensor({n_classes}, torch::kLong);
}

Geometry Geometry::load(const TensorMap& in) {
  auto shape = in.find("meta/shape"), classes = in.find("meta/n_classes");
  GF_CHECK(shape != in.end() && classes != in.end(), "tensors 'meta/shape' and 'meta/n_classes' are missing");
  GF_CHECK(shape->second.dim() == 1 && (shape->second.numel() == 1 || shape->second.numel() == 3) &&
               classes->second.numel() == 1,
           "tensor 'meta/shape' must hold 1 or 3 sizes");
  Geometry g;
  auto s = shape->second.to(torch::kLong).contiguous();
  g.shape.assign(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel());
  g.n_classes = classes->second.to(torch::kLong).item<int64_t>();
  // Bounded before any network is built from them (a damaged file must not make the loader allocate terabytes).
  double elements = 1;
  for (int64_t v : g.shape) {
    GF_CHECK(v >= 1 && v <= kMaxExampleElements, "'meta/shape' holds the size ", v);
    elements *= static_cast<double>(v);
  }
  GF_CHECK(elements <= kMaxExampleElements, "'meta/shape' describes examples of ", elements, " values");
  GF_CHECK(g.n_classes >= 0 && g.n_classes <= kMaxClasses, "'meta/n_classes' is ", g.n_classes);
  return g;
}

std::vector<int64_t> Geometry::batch_shape(int64_t n) const {
  std::vector<int64_t> out{n};
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

Geometry geometry_of(const Dataset& data, bool conditional, const std::string& model, bool unlabelled_allowed) {
  const auto& x = data.x;
  GF_CHECK_AS(DataError, x.defined() && (x.dim() == 2 || x.dim() == 4),
              "give images [N, C, H, W] or rows [N, D]", model, " data must be [N, C, H, W] or [N, D], got ",
              x.defined() ? x.dim() : 0, " dimensions");
  GF_CHECK_AS(DataError, x.size(0) >= 1, "give at least one example", "the training data is empty");
  Geometry g;
  g.shape.assign(x.sizes().begin() + 1, x.sizes().end());
  if (conditional) {
    GF_CHECK_AS(DataError, data.labels.defined() && data.labels.numel() == x.size(0),
                "class-conditional training needs labelled data (class sub-folders, IDX labels, fashion-mnist)",
                "conditional ", model, " needs one class label per example");
    auto labels = data.labels.to(torch::kLong);
    const int64_t lowest = labels.min().item<int64_t>();
    if (unlabelled_allowed) {
      GF_CHECK_AS(DataError, lowest >= -1, "class labels are 0, 1, 2, ... (-1: unlabelled)", "class label ", lowest,
                  " is neither a class nor -1 (unlabelled)");
      GF_CHECK_AS(DataError, labels.max().item<int64_t>() >= 0, "give some labelled examples beside the unlabelled",
                  "every example is unlabelled (-1): semi-supervised ", model, " needs some labels");
    } else {
      GF_CHECK_AS(DataError, lowest >= 0,
                  lowest == -1 ? "unlabelled examples (-1) need a semi-supervised model (--set semi_supervised=true)"
                               : "class labels are 0, 1, 2, ...",
                  "class label ", lowest, " is negative");
    }
    g.n_classes = labels.max().item<int64_t>() + 1;
  }
  return g;
}

torch::Tensor checked_input(const torch::Tensor& x, const Geometry& g, const torch::Device& device, bool unit_range,
                            const std::string& model, const char* what) {
  GF_CHECK_AS(DataError, x.defined() && x.dim() >= 2, "give examples as [N, ...]", "data to ", what,
              " must be [N, ...], got ", x.defined() ? x.dim() : 0, " dimensions");
  const bool same = x.numel() / std::max<int64_t>(1, x.size(0)) == g.numel() &&
                    (x.dim() == 2 || std::vector<int64_t>(x.sizes().begin() + 1, x.sizes().end()) == g.shape);
  GF_CHECK_AS(DataError, same,
              g.is_image() ? msg("give images of the size the model was trained on (--image-size ", g.shape[1], "x",
                                 g.shape[2], " resizes image files)")
                           : std::string("give examples of the size the model was trained on"),
              "each example is ", Geometry{std::vector<int64_t>(x.sizes().begin() + 1, x.sizes().end())}.describe(),
              ", the ", model, " expects ",
              g.describe());
  auto out = x.to(device, torch::kFloat32).reshape(g.batch_shape(x.size(0)));
  GF_CHECK_AS(DataError, out.isfinite().all().item<bool>(),
              std::string(what) == "fit" ? "train on the complete rows with --set drop_incomplete=true, or impute them"
                                         : "remove NaN or infinite values",
              "the data to ", what, " holds NaN or inf");
  if (unit_range && out.numel() > 0) {
    const double lo = out.min().item<double>(), hi = out.max().item<double>();
    GF_CHECK_AS(DataError, lo >= 0 && hi <= 1,
                g.is_image() ? "scale pixels to [0, 1] (images are divided by 255 when loaded)"
                             : "for rows of real numbers choose the model's Gaussian form (decoder=gaussian, "
                               "visible=gaussian or loss=mse: see `genforge train MODEL --help`), or scale the "
                               "columns to [0, 1]",
                "the ", model, " needs values in [0, 1]; the data range is [", lo, ", ", hi, "]");
  }
  return out;
}

torch::Tensor checked_labels(const torch::Tensor& labels, const Geometry& g, int64_t n, const torch::Device& device) {
  if (g.n_classes == 0) return {};
  GF_CHECK_AS(DataError, labels.defined() && labels.numel() == n, "give one class label per example",
              "this class-conditional model needs ", n, " labels, got ", labels.defined() ? labels.numel() : 0);
  auto l = labels.reshape({n});
  check_class_labels(l, g.n_classes);
  return l.to(device, torch::kLong);
}

torch::Tensor one_hot(const torch::Tensor& labels, int64_t n_classes) {
  if (!labels.defined() || n_classes == 0) return {};
  return torch::one_hot(labels, n_classes).to(torch::kFloat32);
}

torch::Tensor condition_for(const torch::Tensor& labels, const Geometry& g, int64_t n, const torch::Device& device) {
  return neural::one_hot(checked_labels(labels, g, n, device), g.n_classes);
}

torch::Tensor log_class_frequencies(const torch::Tensor& labels, int64_t n_classes) {
  auto counts = torch::bincount(labels.cpu(), {}, n_classes).to(torch::kFloat32);
  return torch::log(counts / counts.sum());
}

torch::Tensor draw_classes(const torch::Tensor& log_prior, int64_t n, at::Generator& gen) {
  return at::multinomial(log_prior.cpu().exp(), n, /*replacement=*/true, gen);
}

namespace {
std::vector<torch::Tensor> per_class_scores(const Geometry& g, const torch::Tensor& log_prior, int64_t n,
                                            const torch::Device& device,
                                            const std::function<torch::Tensor(const torch::Tensor&)>& log_p_given) {
  std::vector<torch::Tensor> per_class;
  for (int64_t c = 0; c < g.n_classes; ++c) {
    auto lc = torch::full({n}, c, torch::TensorOptions().dtype(torch::kLong).device(device));
    per_class.push_back(log_p_given(lc) + log_prior[c].item<double>());
  }
  return per_class;
}
}  // namespace

torch::Tensor marginal_over_classes(const Geometry& g, const torch::Tensor& labels, const torch::Tensor& log_prior,
                                    int64_t n, const torch::Device& device,
                                    const std::function<torch::Tensor(const torch::Tensor&)>& log_p_given) {
  if (g.n_classes == 0 || labels.defined()) return log_p_given(labels);
  return torch::logsumexp(torch::stack(per_class_scores(g, log_prior, n, device, log_p_given)), 0);
}


torch::Tensor most_likely_classes(const Geometry& g, const torch::Tensor& log_prior, int64_t n,
                                  const torch::Device& device,
                                  const std::function<torch::Tensor(const torch::Tensor&)>& log_p_given) {
  if (g.n_classes == 0) return {};
  return torch::stack(per_class_scores(g, log_prior, n, device, log_p_given)).argmax(0).to(device);
}

torch::Tensor cycling_condition(int64_t n, const Geometry& g, const torch::Device& device) {
  if (g.n_classes == 0) return {};
  auto classes = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(device)) % g.n_classes;
  return neural::one_hot(classes, g.n_classes);
}

torch::Tensor with_condition(const torch::Tensor& x, const torch::Tensor& condition) {
  return condition.defined() ? torch::cat({x, condition}, 1) : x;
}

void init_like_pytorch(torch::nn::Module& module, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/true)) {
    auto params = child->named_parameters(/*recurse=*/false);
    auto* weight = params.find("weight");
    auto* bias = params.find("bias");
    if (weight == nullptr) continue;
    if (weight->dim() >= 2) {
      const double fan_in = static_cast<double>(weight->numel() / weight->size(0));
      const double bound = 1.0 / std::sqrt(fan_in);
      weight->uniform_(-bound, bound, gen);
      if (bias != nullptr) bias->uniform_(-bound, bound, gen);
    } else {
      weight->fill_(1.0);
      if (bias != nullptr) bias->zero_();
    }
    // LoRA adapters: A like a layer of the same input, B zero (the adapted layer starts as the base layer).
    if (auto* a = params.find("lora_A")) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(a->size(1)));
      a->uniform_(-bound, bound, gen);
      if (auto* b = params.find("lora_B")) b->zero_();
    }
  }
}

std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& module,
                                                                 const std::string& prefix) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module.named_parameters()) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers()) out.emplace_back(prefix + b.key(), b.value());
  return out;
}

void save_module(const torch::nn::Module& module, const std::string& prefix, TensorMap& out) {
  for (auto& [name, t] : named_tensors(module, prefix)) out[name] = t.detach().cpu();
}

void load_module(torch::nn::Module& module, const std::string& prefix, const TensorMap& in) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : named_tensors(module, prefix)) {
    t.copy_(stored_tensor(in, name, t.sizes().vec()));
  }
}

torch::Tensor randn_from(at::IntArrayRef shape, at::Generator& gen, const torch::TensorOptions& options) {
  if (gen.device() == options.device()) return at::randn(shape, gen, options);
  return at::randn(shape, gen, options.device(gen.device())).to(options.device());
}

torch::Tensor rand_from(at::IntArrayRef shape, at::Generator& gen, const torch::TensorOptions& options) {
  if (gen.device() == options.device()) return at::rand(shape, gen, options);
  return at::rand(shape, gen, options.device(gen.device())).to(options.device());
}

DefensiveCodes defensive_codes(const torch::Tensor& mu, const torch::Tensor& logvar, int64_t k, at::Generator& gen) {
  GF_CHECK(k >= 1, "the number of codes must be at least 1, got ", k);
  auto sd = (0.5 * logvar).exp();
  const int64_t from_encoder = (k + 1) / 2;
  auto eps = randn_from({k, mu.size(0), mu.size(1)}, gen, mu.options());  // [k, B, L]
  auto z = torch::cat({mu + eps.slice(0, 0, from_encoder) * sd, eps.slice(0, from_encoder, k)});
  const double log_norm = 0.5 * std::log(2 * M_PI);
  auto log_prior = (-0.5 * z.pow(2) - log_norm).sum(2);                        // [k, B]
  auto log_q = (-0.5 * ((z - mu) / sd).pow(2) - sd.log() - log_norm).sum(2);  // [k, B]
  return {z, log_prior - (torch::logaddexp(log_q, log_prior) - std::log(2.0))};
}

torch::Device device_of(const torch::nn::Module& module) {
  auto params = module.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

void check_architecture(const std::string& architecture, const Geometry& g, const std::string& model) {
  if (architecture != "conv") return;
  GF_CHECK_AS(DataError, g.is_image() && g.height() % 4 == 0 && g.width() % 4 == 0,
              "use architecture=mlp, or images such as 28x28 or 32x32", "the convolutional ", model,
              " needs images [N, C, H, W] with H and W divisible by 4, got examples of ", g.describe());
}

namespace {
constexpr int64_t kWidth1 = 32, kWidth2 = 64;
constexpr int64_t kFastMinOutChannels = 16;

// y = C_W^T x, the adjoint of the convolution C_W; so dL/dx = C_W(dL/dy) and dL/dW is the convolution's weight
// gradient with the roles of input and output gradient swapped.
struct ConvTransposeFunction : torch::autograd::Function<ConvTransposeFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, int64_t stride, int64_t padding) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    const int64_t k = weight.size(2);
    const int64_t h = (x.size(2) - 1) * stride - 2 * padding + k, w = (x.size(3) - 1) * stride - 2 * padding + k;
    auto shape_only = at::empty({x.size(0), weight.size(1), h, w}, x.options());  // its values are never read
    return std::get<0>(at::convolution_backward(x, shape_only, weight, at::OptionalIntArrayRef(), {stride, stride},
                                                {padding, padding}, {1, 1}, false, {0, 0}, 1, {true, false, false}));
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt(), padding = ctx->saved_data["padding"].toInt();
    auto g = grads[0].contiguous();
    torch::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0)) grad_x = at::conv2d(g, weight, {}, {stride, stride}, {padding, padding});
    if (ctx->needs_input_grad(1)) {
      grad_w = std::get<1>(at::convolution_backward(x, g, weight, at::OptionalIntArrayRef(), {stride, stride}, {padding, padding},
                                                    {1, 1}, false, {0, 0}, 1, {false, true, false}));
    }
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor()};
  }
};
}  // namespace

torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride, int64_t padding,
                               bool fast_path) {
  if (!fast_path) return at::conv_transpose2d(x, weight, {}, {stride, stride}, {padding, padding});
  return ConvTransposeFunction::apply(x, weight, stride, padding);
}

ConvTranspose2dImpl::ConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride_, int64_t padding_,
                                         bool with_bias)
    : stride(stride_), padding(padding_) {
  weight = register_parameter("weight", torch::empty({in, out, kernel, kernel}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}));
}

torch::Tensor ConvTranspose2dImpl::forward(const torch::Tensor& x) {
  const bool fast = x.device().is_cpu() && weight.size(1) >= kFastMinOutChannels;
  auto y = conv_transpose2d(x, weight, stride, padding, fast);
  return bias.defined() ? y + bias.reshape({1, -1, 1, 1}) : y;
}

ConvEncoderImpl::ConvEncoderImpl(const Geometry& g) {
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(g.channels(), kWidth1, 4).stride(2).padding(1)));
  conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(kWidth1, kWidth2, 4).stride(2).padding(1)));
  out_features = kWidth2 * (g.height() / 4) * (g.width() / 4);
}

torch::Tensor ConvEncoderImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(conv2(torch::relu(conv1(x))));  // [N, 64, H/4, W/4]
  return h.flatten(1);
}

ConvDecoderImpl::ConvDecoderImpl(const Geometry& g) {
  deconv1 = register_module("deconv1", ConvTranspose2d(kWidth2, kWidth1, 4, 2, 1));
  deconv2 = register_module("deconv2", ConvTranspose2d(kWidth1, g.channels(), 4, 2, 1));
  start = {kWidth2, g.height() / 4, g.width() / 4};
  in_features = start[0] * start[1] * start[2];
}

torch::Tensor ConvDecoderImpl::forward(const torch::Tensor& features) {
  auto h = features.reshape({features.size(0), start[0], start[1], start[2]});
  return deconv2(torch::relu(deconv1(h)));  // [N, C, H, W]
}

CodecImpl::CodecImpl(const Geometry& g, const std::string& architecture, int64_t hidden, int64_t code_size,
                     int64_t latent, const train::LoraOptions& lora) {
  conv = architecture == "conv";
  const int64_t k = g.n_classes;
  int64_t features = g.numel();
  if (conv) {
    conv_encoder = register_module("conv_encoder", ConvEncoder(g));
    features = conv_encoder->out_features;
  }
  fc1 = register_module("fc1", adaptable_linear(features + k, hidden, lora, "codec.fc1"));
  fc_code = register_module("fc_code", adaptable_linear(hidden, code_size, lora, "codec.fc_code"));
  fc3 = register_module("fc3", adaptable_linear(latent + k, hidden, lora, "codec.fc3"));
  if (conv) {
    conv_decoder = register_module("conv_decoder", ConvDecoder(g));
    fc4 = register_module("fc4", adaptable_linear(hidden, conv_decoder->in_features, lora, "codec.fc4"));
  } else {
    fc4 = register_module("fc4", adaptable_linear(hidden, g.numel(), lora, "codec.fc4"));
  }
}

torch::Tensor CodecImpl::encode(const torch::Tensor& x, const torch::Tensor& condition) {
  auto features = conv ? conv_encoder->forward(x) : x.flatten(1);  // [N, F]
  return fc_code(torch::relu(fc1(with_condition(features, condition))));
}

torch::Tensor CodecImpl::decode(const torch::Tensor& z, const torch::Tensor& condition) {
  auto h = fc4(torch::relu(fc3(with_condition(z, condition))));
  if (!conv) return h;                                  // [N, D]
  return conv_decoder->forward(torch::relu(h)).flatten(1);  // [N, D]
}

TrunkExport codec_trunk(const CodecImpl& codec, const Geometry& g, const std::string& part) {
  GF_CHECK_AS(NotSupported, g.n_classes == 0, "fine-tune a model trained without conditional=true",
              "the ", part, " of a class-conditional model also takes the class, so it cannot classify");
  LayerStackWriter w(g.shape);
  if (codec.conv) {
    w.add_module(*codec.conv_encoder->conv1);
    w.add({{"type", "relu"}});
    w.add_module(*codec.conv_encoder->conv2);
    w.add({{"type", "relu"}});
  }
  w.add({{"type", "flatten"}});
  w.add_module(*codec.fc1);
  w.add({{"type", "relu"}});
  return {w.spec(), w.weights(), part};
}

std::vector<std::pair<std::string, std::vector<torch::Tensor>>> CrossEntropyTrainable::parameter_groups() {
  return {{"model", net_.parameters()}};
}

std::vector<std::pair<std::string, torch::Tensor>> CrossEntropyTrainable::named_state() { return named_tensors(net_); }

void CrossEntropyTrainable::train_step(const train::Batch& b, train::StepContext& ctx) {
  auto logits = logits_(b.x, &ctx.generator());
  ctx.log("accuracy", (logits.argmax(1) == b.labels).to(torch::kFloat64).mean().item<double>());
  ctx.optimize("model", torch::cross_entropy_loss(logits, b.labels));
}

double CrossEntropyTrainable::eval_loss(const train::Batch& b, at::Generator&) {
  torch::NoGradGuard no_grad;
  return torch::cross_entropy_loss(logits_(b.x, nullptr), b.labels).item<double>();
}

double classification_accuracy(const std::function<torch::Tensor(const torch::Tensor&)>& logits, const torch::Tensor& x,
                               const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t s = 0; s < x.size(0); s += 4096) {
    const int64_t e = std::min(x.size(0), s + 4096);
    correct += (logits(x.slice(0, s, e)).argmax(1) == labels.slice(0, s, e)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, x.size(0)));
}

}  // namespace gf::neural
