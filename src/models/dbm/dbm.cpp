#include "genforge/models/dbm.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "ebm/boltzmann.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "nn/neural.h"

namespace gf {

namespace {

// Mean binary entropy terms -q log q - (1 - q) log(1 - q), summed over units. [N]
torch::Tensor binary_entropy(const torch::Tensor& q) {
  auto p = q.clamp(1e-7, 1 - 1e-7);
  return -(p * p.log() + (1 - p) * (1 - p).log()).sum(1);
}
}  // namespace

// Units x_0 = v, x_1 .. x_L; weights W[l] [H_{l+1}, H_l] join x_l and x_{l+1}; biases bias[l] [H_l].
// E(x) = -sum_l bias_l . x_l - sum_l x_{l+1}^T W_l x_l (Bernoulli v), or with Gaussian visible units of variances
// s2 = exp(log_var): sum_i (v_i - bias_0i)^2 / (2 s2_i) - sum_{l>=1} bias_l . x_l - x_1^T W_0 (v / s2) - ...
struct DeepBoltzmannMachine::Net : torch::nn::Module {
  Net(const neural::Geometry& g, const std::vector<int64_t>& widths, const DbmOptions& o)
      : geometry(g), gaussian(o.visible == "gaussian") {
    const auto opts = torch::TensorOptions().dtype(o.dtype == "float64" ? torch::kFloat64 : torch::kFloat32);
    const int64_t chains = o.n_chains > 0 ? o.n_chains : o.batch_size;
    for (size_t l = 0; l < widths.size(); ++l) {
      bias.push_back(register_parameter("bias" + std::to_string(l), torch::zeros({widths[l]}, opts)));
      chain.push_back(register_buffer("chain" + std::to_string(l), torch::zeros({chains, widths[l]}, opts)));
      if (l + 1 < widths.size()) {
        W.push_back(register_parameter("W" + std::to_string(l), torch::zeros({widths[l + 1], widths[l]}, opts)));
      }
    }
    base_visible = register_buffer("base_visible", torch::zeros({widths[0]}, opts));
    if (gaussian) log_var = register_parameter("log_var", torch::zeros({widths[0]}, opts), o.learn_variance);
  }
  // The visible layer and h1 as an RBM (visible biases `b0`), for the RBM kernels' visible-unit operations: v as h1
  // sees it (v / s2 for Gaussian units), the visible part of -E, E[v] and draws of v from their input.
  ebm::Rbm visible_layer(const torch::Tensor& b0) const {
    return {gaussian ? ebm::Visible::gaussian : ebm::Visible::bernoulli, W[0], b0, bias[1], log_var};
  }
  // The state of the layer below l as layer l sees it. [N, H_{l-1}]
  torch::Tensor from_below(size_t l, const std::vector<torch::Tensor>& x) const {
    return l == 1 ? visible_layer(bias[0]).scaled_visible(x[0]) : x[l - 1];
  }
  size_t n_layers() const { return bias.size(); }  // visible included
  // Input to layer l from its neighbours' states x (x[l-1] from below, x[l+1] from above). [N, H_l]
  torch::Tensor layer_input(size_t l, const std::vector<torch::Tensor>& x) const {
    torch::Tensor in = bias[l].expand({x[l == 0 ? 1 : l - 1].size(0), -1});
    if (l > 0) in = torch::addmm(in, from_below(l, x), W[l - 1].t());
    if (l + 1 < n_layers()) in = torch::addmm(in, x[l + 1], W[l]);
    return in;
  }
  // -E(x) for states or mean-field probabilities (linear in each layer's values). [N]
  torch::Tensor negative_energy(const std::vector<torch::Tensor>& x) const {
    torch::Tensor out = visible_layer(bias[0]).visible_term(x[0]);
    for (size_t l = 1; l < n_layers(); ++l) {
      out = out + torch::mv(x[l], bias[l]) + (torch::mm(from_below(l, x), W[l - 1].t()) * x[l]).sum(1);
    }
    return out;
  }
  // Each layer's mean over the examples as the pairwise terms read it (v / s2 for Gaussian units). [H_l] each
  std::vector<torch::Tensor> layer_means(const std::vector<torch::Tensor>& x) const {
    std::vector<torch::Tensor> out{from_below(1, x).mean(0)};
    for (size_t l = 1; l < n_layers(); ++l) out.push_back(x[l].mean(0));
    return out;
  }
  // -E in centred coordinates (Montavon & Mueller 2012; Melchior, Fischer & Wiskott 2016): each pairwise term reads
  // the layers' states minus their offsets, (x_{l+1} - mu_{l+1})^T W_l (x_l - mu_l), the biases standing for the
  // centred ones. Its gradient in (W, bias) is the centred gradient; train_step maps the step back. [N]
  torch::Tensor centred_negative_energy(const std::vector<torch::Tensor>& x,
                                        const std::vector<torch::Tensor>& mu) const {
    torch::Tensor out = visible_layer(bias[0]).visible_term(x[0]);
    for (size_t l = 1; l < n_layers(); ++l) {
      const auto pairwise = torch::mm(from_below(l, x) - mu[l - 1], W[l - 1].t()) * (x[l] - mu[l]);
      out = out + torch::mv(x[l], bias[l]) + pairwise.sum(1);
    }
    return out;
  }
  // Mean-field posterior of the hidden layers given v: a doubled bottom-up pass (each layer but the top gets
  // twice its input from below, standing in for the missing top-down input), then `steps` updates.
  std::vector<torch::Tensor> mean_field(const torch::Tensor& v, int64_t steps) const {
    std::vector<torch::Tensor> q{v};
    for (size_t l = 1; l < n_layers(); ++l) {
      const double scale = l + 1 < n_layers() ? 2.0 : 1.0;
      q.push_back(torch::sigmoid(torch::addmm(bias[l], from_below(l, q), W[l - 1].t(), 1.0, scale)));
    }
    for (int64_t s = 0; s < steps; ++s) {
      for (size_t l = 1; l < n_layers(); l += 2) q[l] = torch::sigmoid(layer_input(l, q));  // odd, then even
      for (size_t l = 2; l < n_layers(); l += 2) q[l] = torch::sigmoid(layer_input(l, q));
    }
    return q;
  }
  // One Gibbs sweep: odd layers given even ones, then even layers (v included) given odd ones.
  void gibbs(std::vector<torch::Tensor>& x, at::Generator& gen) const {
    for (size_t l = 1; l < n_layers(); l += 2) x[l] = ebm::bernoulli(torch::sigmoid(layer_input(l, x)), gen);
    for (size_t l = 0; l < n_layers(); l += 2) {
      x[l] = l == 0 ? visible_layer(bias[0]).sample_from_input(layer_input(0, x), gen)
                    : ebm::bernoulli(torch::sigmoid(layer_input(l, x)), gen);
    }
  }
  // Parallel tempering on the path p_beta(x) ~ exp(-E_base(v) + beta g(x)), g = -E(x) + E_base(v), from the base
  // model (v at the data's log-odds or, Gaussian, its means; hidden units free) to the machine: x holds C chains at each of the inverse
  // temperatures `betas` (rows m*C .. m*C + C - 1 at betas[m]); one sweep at every temperature, then exchanges
  // between neighbours. Returns the fraction of exchanges accepted.
  double tempered_gibbs(std::vector<torch::Tensor>& x, const std::vector<double>& betas, at::Generator& gen,
                        int64_t parity) const {
    const int64_t C = x[0].size(0) / static_cast<int64_t>(betas.size());
    auto beta = ebm::ladder_betas(betas, C, x[0].options());  // [M * C, 1]
    auto draw = [&](size_t l) {
      auto in = beta * layer_input(l, x);
      if (l == 0) {
        // Gaussian units: the mean mixes as the logits do.
        x[0] = visible_layer(bias[0]).sample_from_input(in + (1 - beta) * base_visible, gen);
      } else {
        x[l] = ebm::bernoulli(torch::sigmoid(in), gen);
      }
    };
    for (size_t l = 1; l < n_layers(); l += 2) draw(l);
    for (size_t l = 0; l < n_layers(); l += 2) draw(l);
    auto g = (negative_energy(x) - visible_layer(base_visible).visible_term(x[0])).to(torch::kFloat64);  // [M * C]
    std::vector<torch::Tensor*> states;
    for (auto& layer : x) states.push_back(&layer);
    return ebm::tempering_exchange(betas, g, states, gen, parity);
  }
  // The RBM left after summing out every other layer; its log Z is the DBM's. Bernoulli v: v and h2 (x_0, x_2) are
  // summed out, so its "visible" units are h1 and h3 and its "hidden" units v and h2 (Salakhutdinov & Hinton).
  // Gaussian v: h1 and h3 are summed out instead (a Gaussian sum over v would couple h1's units), leaving an RBM
  // whose "visible" units are v (Gaussian) and h2 (Bernoulli) and whose "hidden" units are h1 and h3.
  ebm::Rbm reduced_rbm() const {
    const size_t kept_parity = gaussian ? 0 : 1;
    std::vector<int64_t> kept, summed;
    for (size_t l = 0; l < n_layers(); ++l) (l % 2 == kept_parity ? kept : summed).push_back(static_cast<int64_t>(l));
    std::vector<torch::Tensor> rows;
    for (int64_t o : summed) {
      std::vector<torch::Tensor> blocks;
      for (int64_t e : kept) {
        if (e == o + 1) {
          blocks.push_back(W[o].t());  // W[o] joins x_o (below) and x_e: [H_o, H_e]
        } else if (e == o - 1) {
          blocks.push_back(W[e]);  // W[e] joins x_e (below) and x_o: [H_o, H_e]
        } else {
          blocks.push_back(torch::zeros({bias[o].size(0), bias[e].size(0)}, W[0].options()));
        }
      }
      rows.push_back(torch::cat(blocks, 1));
    }
    std::vector<torch::Tensor> kept_bias, summed_bias;
    for (int64_t e : kept) kept_bias.push_back(bias[e]);
    for (int64_t o : summed) summed_bias.push_back(bias[o]);
    ebm::Rbm out{ebm::Visible::bernoulli, torch::cat(rows, 0), torch::cat(kept_bias), torch::cat(summed_bias), {}};
    if (gaussian) {
      const int64_t D = bias[0].size(0), rest = out.n_visible() - D;
      out.visible = ebm::Visible::gaussian;
      out.log_var = torch::cat({log_var, torch::zeros({rest}, log_var.options())});
      out.bernoulli_units = torch::cat({torch::zeros({D}, log_var.options()), torch::ones({rest}, log_var.options())});
    }
    return out;
  }
  neural::Geometry geometry;
  bool gaussian;  // Gaussian visible units (variances start at the data's; learned with learn_variance)
  std::vector<torch::Tensor> W, bias, chain;
  torch::Tensor base_visible;  // [D] log-odds of the data's means, or its means (AIS base visible part, chain start)
  torch::Tensor log_var;       // [D] Gaussian visible units: log s2
};

namespace {

// One RBM of the greedy pre-training: hidden input c + up * W x, visible input b + down * W^T h (the doubled-input
// trick). Trained by PCD-1 on the expected-energy gap. The bottom layer of a Gaussian-visible machine has `log_var`
// (its fixed variances): x is read as x / s2 and drawn as N(b + W^T h, s2).
struct PretrainLayer {
  torch::Tensor W, b, c, chain;  // [H, D], [D], [H], [C, H]
  torch::Tensor log_var;         // [D] Gaussian visible units only
  double up = 1, down = 1;
  ebm::Rbm rbm() const { return {log_var.defined() ? ebm::Visible::gaussian : ebm::Visible::bernoulli, W, b, c, log_var}; }
};

class PretrainTrainable : public train::Trainable {
 public:
  explicit PretrainTrainable(PretrainLayer& layer) : l_(layer) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", {l_.W, l_.b, l_.c}}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override {
    return {{"W", l_.W}, {"b", l_.b}, {"c", l_.c}, {"chain", l_.chain}};
  }
  void set_training(bool) override {}
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto& gen = ctx.generator();
    const int64_t B = batch.x.size(0);
    torch::Tensor v_neg;
    {
      torch::NoGradGuard no_grad;
      v_neg = l_.rbm().sample_from_input(torch::addmm(l_.b, l_.chain, l_.W, 1.0, l_.down), gen);
    }
    auto v = torch::cat({batch.x, v_neg});
    const auto rbm = l_.rbm();
    auto input = torch::addmm(l_.c, rbm.scaled_visible(v), l_.W.t(), 1.0, l_.up);
    torch::Tensor q;
    {
      torch::NoGradGuard no_grad;
      q = torch::sigmoid(input.detach());
      l_.chain.copy_(ebm::bernoulli(q.slice(0, B), gen));
    }
    auto energy = -(rbm.visible_term(v) + (q * rbm.hidden_input(v)).sum(1));
    ctx.optimize("model", energy.slice(0, 0, B).mean() - energy.slice(0, B).mean());
  }
  double eval_loss(const train::Batch& batch, at::Generator&) override {
    torch::NoGradGuard no_grad;
    auto h = torch::sigmoid(torch::addmm(l_.c, l_.rbm().scaled_visible(batch.x), l_.W.t(), 1.0, l_.up));
    auto r = torch::addmm(l_.b, h, l_.W, 1.0, l_.down);
    if (l_.log_var.defined()) return (r - batch.x).pow(2).sum(1).mean().item<double>();  // squared error
    return torch::binary_cross_entropy(torch::sigmoid(r), batch.x, {}, at::Reduction::None).sum(1).mean().item<double>();
  }

 private:
  PretrainLayer& l_;
};

// Joint training: data term from mean-field, model term from persistent Gibbs chains.
class JointTrainable : public train::Trainable {
 public:
  JointTrainable(DeepBoltzmannMachine::Net& net, const DbmOptions& o, at::Generator& init_gen, const torch::Tensor& v)
      : net_(net), o_(o), betas_(ebm::tempering_betas(o.pt_temperatures)) {
    if (o.centering > 0) {
      // Offsets start at the mean-field means of the first (up to) 1000 examples; a resumed run restores its own.
      torch::NoGradGuard no_grad;
      offsets_ = net.layer_means(net.mean_field(v.slice(0, 0, std::min<int64_t>(1000, v.size(0))), o.mf_steps));
    }
    if (o.pt_temperatures > 1) {
      // Parallel tempering: the persistent chains are the beta = 1 end of a ladder of pt_temperatures.
      torch::NoGradGuard no_grad;
      ladder_ = start_states(net, net.chain[0].size(0) * o.pt_temperatures, init_gen);
    }
  }
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    std::vector<torch::Tensor> params(net_.W.begin(), net_.W.end());
    params.insert(params.end(), net_.bias.begin(), net_.bias.end());
    if (o_.learn_variance) params.push_back(net_.log_var);
    return {{"model", params}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override {
    auto out = neural::named_tensors(net_);
    for (size_t l = 0; l < ladder_.size(); ++l) out.emplace_back("ladder" + std::to_string(l), ladder_[l]);
    for (size_t l = 0; l < offsets_.size(); ++l) out.emplace_back("offset" + std::to_string(l), offsets_[l]);
    return out;
  }
  void set_training(bool) override {}
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    std::vector<torch::Tensor> q, x;
    {
      torch::NoGradGuard no_grad;
      q = net_.mean_field(batch.x, o_.mf_steps);
      if (!ladder_.empty()) {
        std::vector<torch::Tensor> all(ladder_.begin(), ladder_.end());
        double accepted = 0;
        for (int64_t k = 0; k < o_.cd_k; ++k) accepted += net_.tempered_gibbs(all, betas_, ctx.generator(), ctx.step() + k);
        const int64_t C = net_.chain[0].size(0);
        for (size_t l = 0; l < all.size(); ++l) {
          ladder_[l].copy_(all[l]);  // in place: the trainer checkpoints these tensors
          x.push_back(all[l].slice(0, 0, C));
        }
        if ((ctx.step() + 1) % o_.log_every == 0) ctx.log("pt_swap_rate", accepted / static_cast<double>(o_.cd_k));
      } else {
        x = net_.chain;
        for (int64_t k = 0; k < o_.cd_k; ++k) net_.gibbs(x, ctx.generator());
      }
      for (size_t l = 0; l < x.size(); ++l) net_.chain[l].copy_(x[l]);
    }
    // Expected-energy gap with q and the chain states held fixed: its gradient is the SML update.
    if (o_.centering <= 0) {
      ctx.optimize("model", -net_.negative_energy(q).mean() + net_.negative_energy(x).mean());
      return;
    }
    // Centred: the optimizer steps in (W, b~) with b~_l = b_l + W_{l-1} mu_{l-1} + W_l^T mu_{l+1}; the model keeps
    // the plain biases, so after the step b_l moves by the step of b~_l minus what W's step did to those products.
    // Then the offsets follow the data's mean-field means; moving them changes coordinates, not the model.
    std::vector<torch::Tensor> before;
    for (const auto& w : net_.W) before.push_back(w.detach().clone());
    ctx.optimize("model",
                 -net_.centred_negative_energy(q, offsets_).mean() + net_.centred_negative_energy(x, offsets_).mean());
    torch::NoGradGuard no_grad;
    for (size_t l = 0; l < net_.W.size(); ++l) {
      const auto step = net_.W[l] - before[l];  // [H_{l+1}, H_l]
      net_.bias[l + 1].sub_(torch::mv(step, offsets_[l]));
      net_.bias[l].sub_(torch::mv(step.t(), offsets_[l + 1]));
    }
    const auto means = net_.layer_means(q);
    for (size_t l = 0; l < offsets_.size(); ++l) offsets_[l].mul_(1 - o_.centering).add_(means[l], o_.centering);
  }
  double eval_loss(const train::Batch& batch, at::Generator&) override {
    // Minus the variational bound without log Z (a relative measure).
    torch::NoGradGuard no_grad;
    auto q = net_.mean_field(batch.x, o_.mf_steps);
    auto bound = net_.negative_energy(q);
    for (size_t l = 1; l < q.size(); ++l) bound = bound + binary_entropy(q[l]);
    return -bound.mean().item<double>();
  }
  torch::Tensor preview(int64_t n, at::Generator& gen) override {
    if (!net_.geometry.is_image()) return {};
    torch::NoGradGuard no_grad;
    auto x = start_states(net_, n, gen);
    for (int s = 0; s < 100; ++s) net_.gibbs(x, gen);
    return net_.visible_layer(net_.bias[0])
        .mean_from_input(net_.layer_input(0, x))
        .to(torch::kFloat32)
        .reshape(net_.geometry.batch_shape(n));
  }
  // Chains start at the base-rate visible model and empty hidden layers.
  static std::vector<torch::Tensor> start_states(const DeepBoltzmannMachine::Net& net, int64_t n,
                                                 at::Generator& gen) {
    std::vector<torch::Tensor> x{
        net.visible_layer(net.bias[0]).sample_from_input(net.base_visible.expand({n, -1}).contiguous(), gen)};
    for (size_t l = 1; l < net.n_layers(); ++l) x.push_back(torch::zeros({n, net.bias[l].size(0)}, net.W[0].options()));
    return x;
  }

 private:
  DeepBoltzmannMachine::Net& net_;
  const DbmOptions& o_;
  std::vector<double> betas_;
  std::vector<torch::Tensor> ladder_;  // per layer [temperatures * chains, H_l]: the tempering ladder
  std::vector<torch::Tensor> offsets_;  // centering: per layer [H_l] (the visible one as the pairwise terms read it)
};


}  // namespace

DbmOptions::DbmOptions() = default;

std::vector<int64_t> DbmOptions::layer_sizes() const { return parse_int_list("layers", layers); }

void DbmOptions::validate() const {
  RbmOptions::validate();
  const auto sizes = layer_sizes();
  GF_CHECK(sizes.size() == 2 || sizes.size() == 3, "a deep Boltzmann machine has 2 or 3 hidden layers: layers = '",
           layers, "'");
  for (int64_t s : sizes) GF_CHECK(s >= 1, "every layer needs at least one hidden unit: layers = '", layers, "'");
  GF_CHECK(hidden_units == "bernoulli", "the deep Boltzmann machine has Bernoulli hidden units; got hidden_units = ",
           hidden_units);
  GF_CHECK(estimator == "auto" || estimator == "ais" || estimator == "exact",
           "a deep Boltzmann machine scores by its variational bound; estimator chooses how log Z is found: auto, "
           "ais or exact; got '", estimator, "'");
  GF_CHECK(pretrain_n_iter >= 0, "pretrain_n_iter must be >= 0, got ", pretrain_n_iter);
  GF_CHECK(pretrain == "doubled" || pretrain == "bottom", "pretrain must be doubled or bottom, got '", pretrain,
           "'");
  GF_CHECK(pretrain_learning_rate > 0, "pretrain_learning_rate must be > 0, got ", pretrain_learning_rate);
  GF_CHECK(mf_steps >= 1, "mf_steps must be at least 1, got ", mf_steps);
  GF_CHECK(centering >= 0 && centering <= 1, "centering must be in [0, 1] (0: off), got ", centering);
}

const OptionTable<DbmOptions>& DeepBoltzmannMachine::option_table() {
  static const OptionTable<DbmOptions> table = [] {
    OptionTable<DbmOptions> t("dbm");
    t.add("layers", &DbmOptions::layers, "hidden units of the 2 or 3 hidden layers, bottom to top")
        .add("pretrain_n_iter", &DbmOptions::pretrain_n_iter, "epochs of greedy pre-training per layer (0: none)")
        .add("pretrain_learning_rate", &DbmOptions::pretrain_learning_rate, "learning rate of the pre-training")
        .add("pretrain", &DbmOptions::pretrain,
             "doubled: every layer with the doubled-input trick | bottom: the bottom layer alone, as a plain RBM",
             {"doubled", "bottom"})
        .add("mf_steps", &DbmOptions::mf_steps, "mean-field updates per batch and per score")
        .add("centering", &DbmOptions::centering,
             "joint training in centred coordinates: the offsets' sliding-average rate (0: off)");
    add_rbm_options(t, false);
    return t;
  }();
  return table;
}

DeepBoltzmannMachine::DeepBoltzmannMachine(DbmOptions options) : options_(std::move(options)) {
  options_.validate();
}
DeepBoltzmannMachine::~DeepBoltzmannMachine() = default;

Capabilities DeepBoltzmannMachine::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::lower_bound;
  c.latent_space = true;
  c.encoder = true;
  c.standard_normal_prior = false;
  return c;
}

nlohmann::json DeepBoltzmannMachine::options_json() const { return option_table().to_json(options_); }

int64_t DeepBoltzmannMachine::latent_dim() const { return options_.layer_sizes().back(); }

namespace {
// Data as the visible layer reads it: checked, flattened, binarized as the options say. [N, D]
torch::Tensor visible_units(const torch::Tensor& x, const DeepBoltzmannMachine::Net& net, const DbmOptions& o,
                            const char* what) {
  auto v = neural::checked_input(x, net.geometry, net.W[0].device(), !net.gaussian, "DBM (visible=bernoulli)", what)
               .reshape({x.size(0), -1})
               .to(net.W[0].scalar_type());
  return net.gaussian ? v : ebm::binarized(v, o.binarize, o.strict, o.seed);
}
}  // namespace

torch::Tensor DeepBoltzmannMachine::visible(const torch::Tensor& x, const char* what) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train dbm ...`) or load a fitted one",
              "this deep Boltzmann machine is not fitted yet, so it cannot ", what);
  return visible_units(x, *net_, options_, what);
}

FitReport DeepBoltzmannMachine::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto geometry = neural::geometry_of(train_set, false, "DBM");
  const auto sizes = options_.layer_sizes();
  std::vector<int64_t> widths{geometry.numel()};
  widths.insert(widths.end(), sizes.begin(), sizes.end());
  auto net = std::make_shared<Net>(geometry, widths, options_);
  net->to(ctx.device);
  net_.reset();
  log_z_ = {};
  auto v = visible_units(train_set.x, *net, options_, "fit");  // [N, D]
  const size_t L = sizes.size();
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  FitReport report;
  nlohmann::json pretrain = nlohmann::json::array();
  {
    torch::NoGradGuard no_grad;
    const double n = static_cast<double>(v.size(0));
    if (net->gaussian) {
      // Means and variances (at least 0.01) of the data; the base model is that independent Gaussian.
      net->base_visible.copy_(v.mean(0));
      net->log_var.copy_(v.var(0, false).clamp_min(1e-2).log());
    } else {
      auto p = (v.sum(0) + 1) / (n + 2);
      net->base_visible.copy_((p / (1 - p)).log());
    }
    net->bias[0].copy_(net->base_visible);
    for (auto& w : net->W) w.copy_(neural::randn_from(w.sizes(), gen, w.options()) * options_.init_std);
  }
  if (options_.pretrain_n_iter > 0) {
    // Greedy pre-training with the doubled-input trick; each layer trains on the (doubled) hidden probabilities
    // of the one below.
    torch::Tensor data = v;
    std::vector<PretrainLayer> trained;
    const bool bottom_only = options_.pretrain == "bottom";
    for (size_t l = 0; l < (bottom_only ? 1 : L); ++l) {
      PretrainLayer layer;
      const auto opts = v.options();
      const int64_t chains = options_.n_chains > 0 ? options_.n_chains : options_.batch_size;
      layer.W = (at::randn({widths[l + 1], widths[l]}, gen, opts) * options_.init_std).requires_grad_();
      layer.b = (l == 0 ? net->base_visible.clone() : torch::zeros({widths[l]}, opts)).requires_grad_();
      layer.c = torch::zeros({widths[l + 1]}, opts).requires_grad_();
      layer.chain = torch::zeros({chains, widths[l + 1]}, opts);
      if (l == 0 && net->gaussian) layer.log_var = net->log_var.detach();
      layer.up = l + 1 < L && !bottom_only ? 2.0 : 1.0;
      layer.down = l > 0 ? 2.0 : 1.0;
      train::TrainOptions t = options_;
      t.epochs = options_.pretrain_n_iter;
      t.max_steps = 0;
      t.lr = options_.pretrain_learning_rate;
      t.seed = options_.seed + static_cast<int64_t>(l) + 1;
      t.run_dir = options_.run_dir.empty() ? "" : options_.run_dir + "/pretrain" + std::to_string(l + 1);
      t.resume = false;
      PretrainTrainable trainable(layer);
      const FitReport r = train::run(trainable, {data}, nullptr, t, ctx);
      report.seconds += r.seconds;
      pretrain.push_back(r.to_json());
      torch::NoGradGuard no_grad;
      if (l + 1 < L) {
        data = torch::sigmoid(torch::addmm(layer.c, layer.rbm().scaled_visible(data), layer.W.t(), 1.0, layer.up));
      }
      trained.push_back(layer);
    }
    torch::NoGradGuard no_grad;
    for (size_t l = 0; l < trained.size(); ++l) {
      // A middle layer's RBM saw both inputs doubled: its weights are halved in the stack.
      const bool middle = l > 0 && l + 1 < L;
      net->W[l].copy_(middle ? trained[l].W.detach() * 0.5 : trained[l].W.detach());
    }
    net->bias[0].copy_(trained[0].b.detach());
    for (size_t l = 1; l <= trained.size(); ++l) {
      // A hidden layer is the top of one RBM and (below the top) the bottom of the next: average their biases.
      auto from_below = trained[l - 1].c.detach();
      net->bias[l].copy_(l < trained.size() ? 0.5 * (from_below + trained[l].b.detach()) : from_below);
    }
  }
  JointTrainable trainable(*net, options_, gen, v);
  const FitReport joint = train::run(trainable, {v}, nullptr, options_, ctx);
  report.seconds += joint.seconds;
  report.n_iter = joint.n_iter;
  report.history = joint.history;
  report.objective = joint.objective;
  report.objective_name = "expected-energy gap, mean-field data minus chains (the SML loss; last logged)";
  report.converged = true;
  report.extra["pretrain"] = pretrain;
  report.extra["joint"] = joint.to_json();
  net_ = net;
  schema_ = {{"data_kind", "images"}, {"example_shape", geometry.shape}, {"n_features", geometry.numel()}};
  if (options_.compute_log_z) {
    log_partition(ctx.progress && Progress::enabled());
    report.extra["log_z"] = log_z_.to_json();
  }
  report_ = report;
  return report_;
}

double DeepBoltzmannMachine::log_partition() const { return log_partition(Progress::enabled()); }

double DeepBoltzmannMachine::log_partition(bool show_progress) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep Boltzmann machine is not fitted yet");
  torch::NoGradGuard no_grad;
  const auto reduced = net_->reduced_rbm();
  const std::string method = ebm::log_partition_method(options_.estimator, reduced);
  if (!log_z_.matches(method, options_.ais_runs, options_.ais_betas)) {
    // AIS base: no weights, every unit free but v: at the data's log-odds (Bernoulli; a "hidden" unit of the reduced
    // RBM) or at its means with the model's variances (Gaussian; a "visible" unit of it).
    // (On a DBM grown from an RBM, h1 at the persistent chains' marginals instead, or AIS over v and h2 with h1
    // summed out, gave estimates 1.6 to 2.6 nats lower at 50000 temperatures: dbm.md.)
    const int64_t D = net_->base_visible.size(0);
    auto with_v = [&](int64_t units) {
      return torch::cat({net_->base_visible, torch::zeros({units - D}, reduced.W.options())});
    };
    const auto base_visible = net_->gaussian ? with_v(reduced.n_visible()) : torch::zeros_like(reduced.b);
    const auto base_hidden = net_->gaussian ? torch::Tensor() : with_v(reduced.n_hidden());
    log_z_ = ebm::estimate_log_partition(reduced, base_visible, method, {options_.ais_runs, options_.ais_betas},
                                         static_cast<uint64_t>(options_.seed) + 777, show_progress, base_hidden);
  }
  return log_z_.value;
}

std::vector<torch::Tensor> DeepBoltzmannMachine::posterior(const torch::Tensor& x) const {
  auto v = visible(x, "infer");
  torch::NoGradGuard no_grad;
  auto q = net_->mean_field(v, options_.mf_steps);
  q.erase(q.begin());
  for (auto& t : q) t = t.to(torch::kFloat32).cpu();
  return q;
}

torch::Tensor DeepBoltzmannMachine::transform(const torch::Tensor& x, const torch::Tensor&) const {
  return posterior(x).back();
}

torch::Tensor DeepBoltzmannMachine::decode(const torch::Tensor& h, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep Boltzmann machine is not fitted yet");
  const size_t top = net_->n_layers() - 1;
  GF_CHECK(h.dim() == 2 && h.size(1) == net_->bias[top].size(0), "codes must be [N, ", net_->bias[top].size(0),
           "], got ", h.sizes());
  torch::NoGradGuard no_grad;
  auto x = h.to(net_->W[0].device(), net_->W[0].scalar_type());
  for (size_t l = top; l-- > 0;) {
    auto input = torch::addmm(net_->bias[l], x, net_->W[l]);
    x = l == 0 ? net_->visible_layer(net_->bias[0]).mean_from_input(input) : torch::sigmoid(input);
  }
  return x.to(torch::kFloat32).cpu().reshape(net_->geometry.batch_shape(h.size(0)));
}

torch::Tensor DeepBoltzmannMachine::score_samples(const torch::Tensor& x) const {
  auto v = visible(x, "score samples");
  const double log_z = log_partition();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < v.size(0); s += 2000) {
    auto q = net_->mean_field(v.slice(0, s, std::min(v.size(0), s + 2000)), options_.mf_steps);
    auto bound = net_->negative_energy(q).to(torch::kFloat64);
    for (size_t l = 1; l < q.size(); ++l) bound = bound + binary_entropy(q[l]).to(torch::kFloat64);
    out.push_back(bound - log_z);
  }
  return torch::cat(out).cpu();
}

ScoreEstimator DeepBoltzmannMachine::score_estimator() const {
  log_partition();
  ScoreEstimator e;
  e.name = "lower_bound";
  e.standard_error = log_z_.standard_error;
  e.details = {{"log_z", log_z_.value}, {"mf_steps", options_.mf_steps}};
  if (log_z_.method == "ais") e.details["effective_runs"] = log_z_.effective_runs;
  e.description = msg("variational lower bound E_q[-E(v, h)] + H(q) - log Z with ", options_.mf_steps,
                      " mean-field steps; ", log_z_.description());
  return e;
}

torch::Tensor DeepBoltzmannMachine::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep Boltzmann machine is not fitted yet");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  torch::NoGradGuard no_grad;
  const int64_t M = options_.pt_temperatures;
  auto x = JointTrainable::start_states(*net_, n * M, gen);
  const auto betas = ebm::tempering_betas(M);
  for (int64_t s = 0; s < std::max<int64_t>(1, options_.gibbs_steps); ++s) {
    if (M > 1) {
      net_->tempered_gibbs(x, betas, gen, s);
    } else {
      net_->gibbs(x, gen);
    }
  }
  for (auto& layer : x) layer = layer.slice(0, 0, n);  // the beta = 1 chains
  // Bernoulli units: p(v = 1 | h1), the picture of a sample; Gaussian units: the draws.
  auto out = net_->gaussian ? x[0] : torch::sigmoid(net_->layer_input(0, x));
  return out.to(torch::kFloat32).cpu().reshape(net_->geometry.batch_shape(n));
}

TensorMap DeepBoltzmannMachine::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this deep Boltzmann machine is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  return out;
}

void DeepBoltzmannMachine::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  const auto sizes = options_.layer_sizes();
  std::vector<int64_t> widths{geometry.numel()};
  widths.insert(widths.end(), sizes.begin(), sizes.end());
  DbmOptions o = options_;
  if (auto chain = t.find("chain0"); chain != t.end()) o.n_chains = chain->second.size(0);
  auto net = std::make_shared<Net>(geometry, widths, o);
  neural::load_module(*net, "", t);
  net_ = net;
}

nlohmann::json DeepBoltzmannMachine::state_json() const {
  if (!log_z_.known()) return nlohmann::json::object();
  return {{"log_z", log_z_.to_json()}};
}

void DeepBoltzmannMachine::load_state_json(const nlohmann::json& state) {
  log_z_ = state.contains("log_z") ? LogPartition::from_json(state.at("log_z")) : LogPartition();
}

}  // namespace gf
