// Pieces shared by the neural models (autoencoder, vae, gan): the example geometry saved with a model, input
// checks, PyTorch's default initialisation drawn from our generator, module <-> TensorMap, class one-hots, and
// the convolutional encoder/decoder bodies for images whose sides are multiples of 4.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "genforge/io/model_file.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"
#include "nn/lora.h"

namespace gf::neural {

// What one example looks like and whether the model is class-conditional; stored in the model's state as
// "meta/shape" and "meta/n_classes" so load_state can rebuild the networks before copying weights.
struct Geometry {
  std::vector<int64_t> shape;  // {C, H, W} images or {D} vectors
  int64_t n_classes = 0;       // > 0: class-conditional

  int64_t numel() const;
  bool is_image() const { return shape.size() == 3; }
  int64_t channels() const { return shape.at(0); }
  int64_t height() const { return shape.at(1); }
  int64_t width() const { return shape.at(2); }
  std::string describe() const;  // "1x28x28" or "784"
  void save(TensorMap& out) const;
  static Geometry load(const TensorMap& in);
  // [N, shape...] for n examples.
  std::vector<int64_t> batch_shape(int64_t n) const;
};

// The geometry of training data x [N, C, H, W] or [N, D]; labels [N] (or undefined) make it class-conditional
// when `conditional`. With `unlabelled_allowed`, label -1 marks an unlabelled example (semi-supervised training);
// at least one must be labelled.
Geometry geometry_of(const Dataset& data, bool conditional, const std::string& model, bool unlabelled_allowed = false);

// x as float32 [N, shape...] on `device`, after checking that each example has the model's shape and that the
// values are finite (and in [0, 1] when `unit_range`).
torch::Tensor checked_input(const torch::Tensor& x, const Geometry& g, const torch::Device& device, bool unit_range,
                            const std::string& model, const char* what);
// Labels for a class-conditional model: [N] int64 in range; a model that is not conditional gets undefined.
torch::Tensor checked_labels(const torch::Tensor& labels, const Geometry& g, int64_t n, const torch::Device& device);
// One-hot rows [N, K] float32, or undefined when labels are undefined.
torch::Tensor one_hot(const torch::Tensor& labels, int64_t n_classes);
// The one-hot condition [N, K] for checked labels of a class-conditional model (undefined when not conditional).
torch::Tensor condition_for(const torch::Tensor& labels, const Geometry& g, int64_t n, const torch::Device& device);
// Log class frequencies [K] of training labels (the class prior of a conditional model).
torch::Tensor log_class_frequencies(const torch::Tensor& labels, int64_t n_classes);
// n classes drawn from a log prior [K] with `gen`. [n] int64 on the CPU
torch::Tensor draw_classes(const torch::Tensor& log_prior, int64_t n, at::Generator& gen);
// One-hot conditions 0, 1, ..., K-1, 0, 1, ... for n preview images (undefined when not conditional).
torch::Tensor cycling_condition(int64_t n, const Geometry& g, const torch::Device& device);
// log p(x) [N] of a class-conditional model from `log_p_given(labels)` = log p(x | labels) [N] (any dtype and
// device; the sum stays differentiable): with labels (or for an unconditional model, called with undefined labels)
// that alone; without labels the marginal log sum_c p(c) p(x | c) over the classes of `log_prior` [K].
torch::Tensor marginal_over_classes(const Geometry& g, const torch::Tensor& labels, const torch::Tensor& log_prior,
                                    int64_t n, const torch::Device& device,
                                    const std::function<torch::Tensor(const torch::Tensor&)>& log_p_given);
// The most likely class of each example under a class-conditional model, argmax_c log p(c) + log p(x | c), from the
// same `log_p_given`; undefined for an unconditional model. [N] int64 on `device`
torch::Tensor most_likely_classes(const Geometry& g, const torch::Tensor& log_prior, int64_t n,
                                  const torch::Device& device,
                                  const std::function<torch::Tensor(const torch::Tensor&)>& log_p_given);
// Concatenates extra features (e.g. one-hots) along dimension 1 when defined.
torch::Tensor with_condition(const torch::Tensor& x, const torch::Tensor& condition);

// PyTorch's default initialisation, drawn from `gen`: weights of Linear / Conv / ConvTranspose and their biases
// U(+-1/sqrt(fan_in)) with fan_in = weight.size(1) * kernel area (kaiming_uniform with a = sqrt 5); 1-D weights
// (normalisation scales) 1 and their biases 0.
void init_like_pytorch(torch::nn::Module& module, at::Generator& gen);
// Parameters and buffers by name, prefixed.
std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& module,
                                                                 const std::string& prefix = "");
void save_module(const torch::nn::Module& module, const std::string& prefix, TensorMap& out);
// Copies tensors into the module, checking that each exists with the module's shape.
void load_module(torch::nn::Module& module, const std::string& prefix, const TensorMap& in);
torch::Device device_of(const torch::nn::Module& module);
// Standard normal / uniform [0, 1) draws of `shape` from `gen`, as `options` (dtype, device): drawn on the
// generator's device and copied when the tensor lives elsewhere (the trainer's CPU generator driving CUDA tensors).
torch::Tensor randn_from(at::IntArrayRef shape, at::Generator& gen, const torch::TensorOptions& options);
torch::Tensor rand_from(at::IntArrayRef shape, at::Generator& gen, const torch::TensorOptions& options);

// Codes for MIWAE-style imputation (Mattei & Frellsen 2019): k draws per row from the defensive mixture
// (q(z | x) + p(z)) / 2 of a Gaussian encoder's q = N(mu, exp(logvar)) and the standard normal prior — the first
// ceil(k/2) from q, the rest from p — with log p(z) - log mixture(z), the factor the importance weight
// p(observed | z) p(z) / mixture(z) needs besides the likelihood. mu, logvar [B, L] -> z [k, B, L], [k, B].
struct DefensiveCodes {
  torch::Tensor z, log_ratio;
};
DefensiveCodes defensive_codes(const torch::Tensor& mu, const torch::Tensor& logvar, int64_t k, at::Generator& gen);

// Transposed 2-D convolution whose CPU path runs as the input-gradient of a convolution (oneDNN's backward-data
// primitive) instead of LibTorch 1.13's slow_conv_transpose2d (im2col + GEMM + col2im): on the DCGAN generator's
// layers (batch 64, 2 threads) forward + backward took 2.6 / 4.2 / 6.4 ms instead of 10.3 / 21.4 / 28.5 ms.
// Layers with few output channels (< 16) stay on the native path, which is faster there (0.5 vs 1.6 ms for
// 64 -> 1). Parameters are named and shaped as torch::nn::ConvTranspose2d's ([in, out, k, k] weight, optional bias).
struct ConvTranspose2dImpl : torch::nn::Module {
  ConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias = true);
  torch::Tensor forward(const torch::Tensor& x);  // [N, in, h, w] -> [N, out, (h-1)s - 2p + k, ...]
  int64_t stride, padding;
  torch::Tensor weight, bias;
};
TORCH_MODULE(ConvTranspose2d);
// The function itself (no bias), differentiable in x and weight: exposed for the gradient check.
torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride, int64_t padding,
                               bool fast_path);

// Two stride-2 4x4 convolutions (C -> 32 -> 64 channels, ReLU): [N, C, H, W] -> [N, 64 * H/4 * W/4].
struct ConvEncoderImpl : torch::nn::Module {
  explicit ConvEncoderImpl(const Geometry& g);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t out_features = 0;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(ConvEncoder);

// The mirror image: [N, 64 * H/4 * W/4] features -> [N, C, H, W] logits (no output activation).
struct ConvDecoderImpl : torch::nn::Module {
  explicit ConvDecoderImpl(const Geometry& g);
  torch::Tensor forward(const torch::Tensor& features);
  int64_t in_features = 0;
  std::vector<int64_t> start;  // {64, H/4, W/4}
  ConvTranspose2d deconv1{nullptr}, deconv2{nullptr};
};
TORCH_MODULE(ConvDecoder);

// The encoder and decoder of the autoencoder and the VAE. "mlp": x -> hidden -> code; "conv": conv features ->
// hidden -> code. Labels (one-hot) join the encoder's features and the decoder's code when conditional.
struct CodecImpl : torch::nn::Module {
  // Linear layers named codec.fc1, codec.fc_code, codec.fc3, codec.fc4 take LoRA adapters as `lora` says.
  CodecImpl(const Geometry& g, const std::string& architecture, int64_t hidden, int64_t code_size, int64_t latent,
            const train::LoraOptions& lora = {});
  torch::Tensor encode(const torch::Tensor& x, const torch::Tensor& condition);  // [N, code_size]
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& condition);  // [N, D] logits, flattened
  bool conv = false;
  ConvEncoder conv_encoder{nullptr};
  ConvDecoder conv_decoder{nullptr};
  AdaptableLinear fc1{nullptr}, fc_code{nullptr}, fc3{nullptr}, fc4{nullptr};
};
TORCH_MODULE(Codec);

// The Trainer's view of a classifier network (the classifier model, a DBN's fine-tuned net): cross-entropy of
// `logits(x, gen)` against the labels (gen: the step's generator, for dropout masks; null when evaluating), every
// parameter in the group "model", the batch accuracy logged.
class CrossEntropyTrainable : public train::Trainable {
 public:
  using Logits = std::function<torch::Tensor(const torch::Tensor&, at::Generator*)>;
  CrossEntropyTrainable(torch::nn::Module& net, Logits logits) : net_(net), logits_(std::move(logits)) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override;
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override;
  void set_training(bool on) override { net_.train(on); }
  void train_step(const train::Batch& b, train::StepContext& ctx) override;
  double eval_loss(const train::Batch& b, at::Generator&) override;

 private:
  torch::nn::Module& net_;
  Logits logits_;
};
// Share of examples whose largest logit is their label, in chunks of 4096 without gradients.
double classification_accuracy(const std::function<torch::Tensor(const torch::Tensor&)>& logits, const torch::Tensor& x,
                               const torch::Tensor& labels);

// The encoder up to its last hidden layer (conv features, fc1, ReLU) as a layer stack: FeatureTrunk of the VAE and
// the autoencoder. NotSupported for a class-conditional codec (its encoder also takes the class).
TrunkExport codec_trunk(const CodecImpl& codec, const Geometry& g, const std::string& part);

// Checks an architecture name against the geometry (conv needs images with sides divisible by 4).
void check_architecture(const std::string& architecture, const Geometry& g, const std::string& model);

}  // namespace gf::neural
