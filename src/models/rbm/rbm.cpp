#include "genforge/models/rbm.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "ebm/boltzmann.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "nn/neural.h"

namespace gf {

struct RestrictedBoltzmannMachine::Net : torch::nn::Module {
  Net(const neural::Geometry& g, const RbmOptions& o, int64_t n_visible)
      : geometry(g), visible(ebm::visible_from_string(o.visible)), hidden(ebm::hidden_from_string(o.hidden_units)) {
    const auto opts = torch::TensorOptions().dtype(o.dtype == "float64" ? torch::kFloat64 : torch::kFloat32);
    const int64_t H = o.n_components, chains = o.n_chains > 0 ? o.n_chains : o.batch_size;
    W = register_parameter("W", torch::zeros({H, n_visible}, opts));
    b = register_parameter("b", torch::zeros({n_visible}, opts));
    c = register_parameter("c", torch::zeros({H}, opts));
    if (visible == ebm::Visible::gaussian) {
      log_var = register_parameter("log_var", torch::zeros({n_visible}, opts), o.learn_variance);
    }
    base_visible = register_buffer("base_visible", torch::zeros({n_visible}, opts));
    chain = register_buffer("chain", torch::zeros({chains, H}, opts));
    group_of = register_buffer("group_of", torch::full({n_visible}, -1, torch::kLong));
  }
  // Called when group_of changes (fit, load): the index lists of the softmax groups.
  void index_groups() {
    groups.clear();
    const auto g = group_of.cpu();
    const int64_t n_groups = g.numel() ? g.max().item<int64_t>() + 1 : 0;
    for (int64_t k = 0; k < n_groups; ++k) groups.push_back(torch::nonzero(g == k).reshape({-1}));
    independent = groups.empty() ? torch::Tensor() : ebm::independent_units(W.size(1), groups, W.options());
  }
  ebm::Rbm rbm() const { return {visible, W, b, c, log_var, groups, independent, hidden}; }
  neural::Geometry geometry;
  ebm::Visible visible;
  ebm::Hidden hidden;
  torch::Tensor W, b, c, log_var;  // [H, D], [D], [H], [D] (gaussian)
  torch::Tensor base_visible;       // [D] the AIS base model's visible biases (and the start of sampling chains)
  torch::Tensor chain;              // [chains, H] persistent hidden states (PCD)
  torch::Tensor group_of;           // [D] int64 softmax group of each visible unit (-1: none)
  std::vector<torch::Tensor> groups;  // the groups' unit indices
  torch::Tensor independent;          // [D] 1 outside every group (defined with groups)
};

namespace {

// Draws visible states of the base model (no weights): where sampling and AIS chains start. [n, D]
torch::Tensor base_draws(const RestrictedBoltzmannMachine::Net& net, int64_t n, at::Generator& gen) {
  return net.rbm().sample_from_input(net.base_visible.expand({n, -1}).contiguous(), gen);
}

// Gibbs chains started at v [C, D]; `collect` is called with (sweep, h, v) of the chains after each sweep. With
// `temperatures` > 1 each chain is the beta = 1 end of a parallel-tempering ladder (the hotter chains start at the
// base model). Shows a bar when long.
template <class Collect>
void run_chains(const RestrictedBoltzmannMachine::Net& net, torch::Tensor v, int64_t sweeps, at::Generator& gen,
                int64_t temperatures, Collect&& collect) {
  const auto rbm = net.rbm();
  const int64_t C = v.size(0);
  const double work = static_cast<double>(sweeps) * C * temperatures * rbm.n_visible() * rbm.n_hidden();
  std::unique_ptr<Progress> bar;
  if (work > 5e10) bar = std::make_unique<Progress>("Gibbs sampling", sweeps, "sweep");
  const auto betas = ebm::tempering_betas(temperatures);
  if (temperatures > 1) v = torch::cat({v, base_draws(net, C * (temperatures - 1), gen)});
  torch::Tensor h;
  for (int64_t s = 0; s < sweeps; ++s) {
    if (temperatures > 1) {
      ebm::tempered_sweep(rbm, net.base_visible, betas, v, h, gen, s);
      auto cold_v = v.slice(0, 0, C), cold_h = h.slice(0, 0, C);
      collect(s, cold_h, cold_v);
    } else {
      h = rbm.sample_hidden(v, gen);
      v = rbm.sample_visible(h, gen);
      collect(s, h, v);
    }
    if (bar && s % 10 == 0) bar->update(s);
  }
  if (bar) bar->finish();
}
// The Trainer's view: CD-k / PCD-k as the gradient of mean F(data) - mean F(negative samples).
class RbmTrainable : public train::Trainable {
 public:
  RbmTrainable(RestrictedBoltzmannMachine::Net& net, const RbmOptions& o, at::Generator& init_gen)
      : net_(net), o_(o), betas_(ebm::tempering_betas(o.pt_temperatures)) {
    if (o.pt_temperatures > 1) {
      // Parallel tempering: n_chains chains at each temperature, all started at the base model.
      torch::NoGradGuard no_grad;
      pt_chain_ = base_draws(net, net.chain.size(0) * o.pt_temperatures, init_gen);
    }
  }
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    std::vector<torch::Tensor> params{net_.W, net_.b, net_.c};
    if (net_.log_var.defined() && o_.learn_variance) params.push_back(net_.log_var);
    return {{"model", params}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override {
    auto out = neural::named_tensors(net_);
    if (pt_chain_.defined()) out.emplace_back("pt_chain", pt_chain_);
    return out;
  }
  void set_training(bool) override {}
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto& gen = ctx.generator();
    const auto rbm = net_.rbm();
    const auto& v_pos = batch.x;  // [B, D]
    const int64_t B = v_pos.size(0);
    torch::Tensor v_neg;
    if (pt_chain_.defined()) {
      // The negative samples are the beta = 1 end of the tempering ladder.
      torch::Tensor v = pt_chain_, h;
      double accepted = 0;
      for (int64_t k = 0; k < o_.cd_k; ++k) {
        accepted += ebm::tempered_sweep(rbm, net_.base_visible, betas_, v, h, gen, ctx.step() + k);
      }
      pt_chain_.copy_(v);  // in place: the trainer checkpoints this tensor
      v_neg = v.slice(0, 0, net_.chain.size(0));
      if ((ctx.step() + 1) % o_.log_every == 0) ctx.log("pt_swap_rate", accepted / static_cast<double>(o_.cd_k));
    } else {
      torch::NoGradGuard no_grad;
      // Hidden states where the negative chains start: the persistent chains, or samples given the data (CD).
      auto h = o_.persistent ? net_.chain : rbm.sample_hidden(v_pos, gen);
      for (int64_t k = 0; k < o_.cd_k; ++k) {
        v_neg = rbm.sample_visible(h, gen);
        if (k + 1 < o_.cd_k) h = rbm.sample_hidden(v_neg, gen);
      }
    }
    torch::Tensor q, input;
    auto loss = ebm::cd_loss(rbm, v_pos, v_neg, &q, &input);
    if (o_.sparsity_cost > 0) {
      // Cross-entropy between the target and each unit's mean activation on the batch (Lee et al. 2008).
      auto mean_q = torch::sigmoid(input.slice(0, 0, B)).mean(0).clamp(1e-6, 1 - 1e-6);  // [H]
      const double p = o_.sparsity_target;
      loss = loss - o_.sparsity_cost * (p * mean_q.log() + (1 - p) * (1 - mean_q).log()).sum();
    }
    if (o_.persistent && !pt_chain_.defined()) {
      torch::NoGradGuard no_grad;
      net_.chain.copy_(ebm::sample_hidden(rbm.hidden, input.detach().slice(0, B), gen));
    }
    if ((ctx.step() + 1) % o_.log_every == 0) {
      // The free-energy gap, data minus chains, on the steps that write a metrics line.
      torch::NoGradGuard no_grad;
      auto f = rbm.free_energy_from_input(torch::cat({v_pos, v_neg}), input.detach());
      ctx.log("free_energy_gap", (f.slice(0, 0, B).mean() - f.slice(0, B).mean()).item<double>());
    }
    ctx.optimize("model", loss);
  }
  // Validation: minus scikit-learn's stochastic pseudo-likelihood (Bernoulli units) or the mean-field
  // reconstruction error (Gaussian units), per example.
  double eval_loss(const train::Batch& batch, at::Generator& gen) override {
    torch::NoGradGuard no_grad;
    const auto rbm = net_.rbm();
    if (!rbm.gaussian()) return -ebm::stochastic_pseudo_likelihood(rbm, batch.x, gen).mean().item<double>();
    return (rbm.visible_mean(rbm.hidden_probs(batch.x)) - batch.x).pow(2).sum(1).mean().item<double>();
  }
  torch::Tensor preview(int64_t n, at::Generator& gen) override {
    if (!net_.geometry.is_image()) return {};
    torch::NoGradGuard no_grad;
    torch::Tensor h;
    run_chains(net_, base_draws(net_, n, gen), 100, gen, 1,
               [&](int64_t, const torch::Tensor& hs, const torch::Tensor&) { h = hs; });
    return net_.rbm().visible_mean(h).clamp(0, 1).to(torch::kFloat32).reshape(net_.geometry.batch_shape(n));
  }

 private:
  RestrictedBoltzmannMachine::Net& net_;
  const RbmOptions& o_;
  std::vector<double> betas_;
  torch::Tensor pt_chain_;  // [temperatures * chains, D] visible states of the tempering ladder
};

// x checked against the model's geometry and units, flattened to [N, D] in the model's dtype and binarized as
// the options say.
torch::Tensor checked_visible(const torch::Tensor& x, const RestrictedBoltzmannMachine::Net& net, const RbmOptions& o,
                           const char* what) {
  const bool bernoulli = net.visible == ebm::Visible::bernoulli;
  auto v = neural::checked_input(x, net.geometry, net.W.device(), bernoulli, "RBM (visible=bernoulli)", what)
               .reshape({x.size(0), -1})
               .to(net.W.scalar_type());
  if (!bernoulli) return v;
  return ebm::binarized(v, o.binarize, o.strict, o.seed);
}

std::string resolved_estimator(const RbmOptions& o, const ebm::Rbm& rbm) {
  return o.estimator == "auto" ? ebm::log_partition_method(o.estimator, rbm) : o.estimator;
}

}  // namespace

RbmOptions::RbmOptions() {
  // scikit-learn's BernoulliRBM defaults.
  epochs = 10;
  lr = 0.1;
  batch_size = 10;
  optimizer = "sgd";
}

void RbmOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(n_components >= 1, "an RBM needs at least one hidden unit: n_components must be >= 1, got ",
           n_components);
  GF_CHECK(visible == "bernoulli" || visible == "gaussian", "visible must be bernoulli or gaussian, got '", visible,
           "'");
  GF_CHECK(!learn_variance || visible == "gaussian", "learn_variance applies to gaussian visible units only");
  GF_CHECK(hidden_units == "bernoulli" || hidden_units == "relu", "hidden_units must be bernoulli or relu, got '",
           hidden_units, "'");
  GF_CHECK(hidden_units == "bernoulli" || visible == "bernoulli",
           "relu (rectified Gaussian) hidden units need bernoulli visible units: with gaussian ones the machine need "
           "not be normalisable");
  GF_CHECK(hidden_units == "bernoulli" || sparsity_cost == 0,
           "the sparsity penalty targets a probability of activation: it applies to bernoulli hidden units only");
  GF_CHECK(cd_k >= 1, "cd_k (Gibbs steps per update) must be at least 1, got ", cd_k);
  GF_CHECK(n_chains >= 0, "n_chains must be >= 0 (0: batch_size), got ", n_chains);
  GF_CHECK(sparsity_target > 0 && sparsity_target < 1, "sparsity_target must be in (0, 1), got ", sparsity_target);
  GF_CHECK(sparsity_cost >= 0 && std::isfinite(sparsity_cost), "sparsity_cost must be >= 0, got ", sparsity_cost);
  GF_CHECK(init_std > 0 && std::isfinite(init_std), "init_std must be > 0, got ", init_std);
  GF_CHECK(binarize == "none" || visible == "bernoulli", "binarize applies to bernoulli visible units only");
  GF_CHECK(!strict || visible == "bernoulli", "strict applies to bernoulli visible units only");
  GF_CHECK((estimator != "pseudo_likelihood" && estimator != "stochastic_pl") || visible == "bernoulli",
           "the pseudo-likelihood estimators need bernoulli visible units; use estimator=ais or exact");
  GF_CHECK(ais_runs >= 2, "ais_runs must be at least 2, got ", ais_runs);
  GF_CHECK(ais_betas >= 1, "ais_betas must be at least 1, got ", ais_betas);
  GF_CHECK(gibbs_steps >= 0, "gibbs_steps must be >= 0, got ", gibbs_steps);
  GF_CHECK(thin >= 1, "thin must be at least 1, got ", thin);
  GF_CHECK(sample_chains >= 0, "sample_chains must be >= 0 (0: one chain per sample), got ", sample_chains);
  GF_CHECK(pt_temperatures >= 1, "pt_temperatures must be at least 1 (1: no tempering), got ", pt_temperatures);
  GF_CHECK(pt_temperatures == 1 || persistent, "parallel tempering keeps persistent chains: set persistent=true");
}

const OptionTable<RbmOptions>& RestrictedBoltzmannMachine::option_table() {
  static const OptionTable<RbmOptions> table = [] {
    OptionTable<RbmOptions> t("rbm");
    add_rbm_options(t, true);
    return t;
  }();
  return table;
}

RestrictedBoltzmannMachine::RestrictedBoltzmannMachine(RbmOptions options) : options_(std::move(options)) {
  options_.validate();
}
RestrictedBoltzmannMachine::~RestrictedBoltzmannMachine() = default;

Capabilities RestrictedBoltzmannMachine::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::images;
  c.likelihood = Likelihood::estimated;
  c.conditional_sampling = true;
  c.latent_space = true;
  c.encoder = true;
  c.standard_normal_prior = false;
  return c;
}

nlohmann::json RestrictedBoltzmannMachine::options_json() const { return option_table().to_json(options_); }

torch::Tensor RestrictedBoltzmannMachine::prepare(const torch::Tensor& x, const char* what) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train rbm ...`) or load a fitted one",
              "this RBM is not fitted yet, so it cannot ", what);
  return checked_visible(x, *net_, options_, what);
}

FitReport RestrictedBoltzmannMachine::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto geometry = neural::geometry_of(train_set, false, "RBM");
  net_.reset();
  auto net = std::make_shared<Net>(geometry, options_, geometry.numel());
  net->to(ctx.device);
  auto x = checked_visible(train_set.x, *net, options_, "fit");  // [N, D]
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  {
    torch::NoGradGuard no_grad;
    auto mean = x.mean(0);  // [D]
    net->W.copy_(at::randn(net->W.sizes(), init_gen, torch::TensorOptions().dtype(net->W.scalar_type())) *
                 options_.init_std);
    const double n = static_cast<double>(x.size(0));
    if (net->visible == ebm::Visible::bernoulli) {
      // Visible biases at the log-odds of each unit's (smoothed) mean (Hinton's guide, section 8); the AIS base
      // model is that independent model.
      auto p = (mean * n + 1) / (n + 2);
      net->b.copy_((p / (1 - p)).log());
    } else {
      net->b.copy_(mean);
      net->log_var.copy_(x.var(0, false).clamp_min(1e-2).log());
    }
    if (options_.softmax_groups == "auto") {
      const auto groups = ebm::one_hot_groups(train_set.columns);
      for (size_t k = 0; k < groups.size(); ++k) net->group_of.index_fill_(0, groups[k], static_cast<int64_t>(k));
      net->index_groups();
      for (const auto& g : net->groups) {
        // A group's biases at the log of its categories' (smoothed) frequencies.
        auto p = (mean.index_select(0, g.to(mean.device())) * n + 1) / (n + static_cast<double>(g.numel()));
        net->b.index_copy_(0, g.to(mean.device()), p.log());
      }
    }
    net->base_visible.copy_(net->b);
  }
  const bool pseudo = options_.estimator == "pseudo_likelihood" || options_.estimator == "stochastic_pl";
  GF_CHECK_AS(NotSupported, net->groups.empty() || !pseudo,
              "score with estimator=ais or exact, or set softmax_groups=none",
              "the pseudo-likelihood estimators need Bernoulli units without softmax groups; the data has one-hot "
              "columns");
  RbmTrainable trainable(*net, options_, init_gen);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    val = train::TrainData{checked_visible(ctx.validation->x, *net, options_, "validate")};
  }
  report_ = train::run(trainable, {x}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "expected-energy gap, data minus chains (the CD loss; last logged)";
  net_ = net;
  log_z_ = {};
  schema_ = {{"data_kind", "images"}, {"example_shape", geometry.shape}, {"n_features", geometry.numel()}};
  const std::string estimator = resolved_estimator(options_, net->rbm());
  if (options_.compute_log_z && (estimator == "ais" || estimator == "exact")) {
    log_partition(ctx.progress && Progress::enabled());
    report_.extra["log_z"] = log_z_.value;
    report_.extra["log_z_standard_error"] = log_z_.standard_error;
    report_.extra["log_z_estimator"] = log_z_.method;
    if (val) report_.extra["validation_log_likelihood"] = score_samples(val->x).mean().item<double>();
  }
  return report_;
}

double RestrictedBoltzmannMachine::log_partition() const { return log_partition(Progress::enabled()); }

double RestrictedBoltzmannMachine::log_partition(bool show_progress) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet, so it has no log Z");
  const auto rbm = net_->rbm();
  const std::string method = ebm::log_partition_method(options_.estimator, rbm);
  if (!log_z_.matches(method, options_.ais_runs, options_.ais_betas)) {
    log_z_ = ebm::estimate_log_partition(rbm, net_->base_visible, method, {options_.ais_runs, options_.ais_betas},
                                         static_cast<uint64_t>(options_.seed) + 777, show_progress);
  }
  return log_z_.value;
}

const LogPartition& RestrictedBoltzmannMachine::log_partition_estimate() const {
  log_partition();
  return log_z_;
}

torch::Tensor RestrictedBoltzmannMachine::free_energy(const torch::Tensor& x) const {
  auto v = prepare(x, "score");
  torch::NoGradGuard no_grad;
  return net_->rbm().free_energy(v).to(torch::kFloat64).cpu();
}

torch::Tensor RestrictedBoltzmannMachine::pseudo_log_likelihood(const torch::Tensor& x) const {
  auto v = prepare(x, "score");
  return ebm::pseudo_log_likelihood(net_->rbm(), v).cpu();
}

torch::Tensor RestrictedBoltzmannMachine::stochastic_pseudo_likelihood(const torch::Tensor& x,
                                                                        at::Generator& gen) const {
  auto v = prepare(x, "score");
  return ebm::stochastic_pseudo_likelihood(net_->rbm(), v, gen).cpu();
}

torch::Tensor RestrictedBoltzmannMachine::score_samples(const torch::Tensor& x) const {
  const std::string estimator = fitted() ? resolved_estimator(options_, net_->rbm()) : options_.estimator;
  if (estimator == "pseudo_likelihood") return pseudo_log_likelihood(x);
  if (estimator == "stochastic_pl") {
    auto gen = make_generator(static_cast<uint64_t>(options_.seed));
    return stochastic_pseudo_likelihood(x, gen);
  }
  auto f = free_energy(x);
  return -f - log_partition();
}

ScoreEstimator RestrictedBoltzmannMachine::score_estimator() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet");
  ScoreEstimator e;
  e.name = resolved_estimator(options_, net_->rbm());
  if (e.name == "pseudo_likelihood" || e.name == "stochastic_pl") {
    e.is_likelihood = false;
    e.description = e.name == "pseudo_likelihood"
                        ? "exact pseudo-log-likelihood, sum_i log p(v_i | v_-i) (not a log-likelihood)"
                        : "scikit-learn's stochastic pseudo-likelihood, D log sigmoid(F(v~) - F(v)) with one bit "
                          "flipped (not a log-likelihood)";
    return e;
  }
  log_partition();
  e.details = {{"log_z", log_z_.value}, {"free_energy", "log p(v) = -F(v) - log Z"}};
  e.standard_error = log_z_.standard_error;
  if (log_z_.method == "ais") {
    e.details["ais_runs"] = log_z_.runs;
    e.details["ais_betas"] = log_z_.betas;
    e.details["effective_runs"] = log_z_.effective_runs;
  }
  e.description = "-F(v) - log Z, " + log_z_.description();
  return e;
}

torch::Tensor RestrictedBoltzmannMachine::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet, so it cannot sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  torch::NoGradGuard no_grad;
  const auto rbm = net_->rbm();
  const int64_t chains = options_.sample_chains > 0 ? std::min(n, options_.sample_chains) : n;
  const int64_t per_chain = (n + chains - 1) / chains;
  const int64_t sweeps = std::max<int64_t>(1, options_.gibbs_steps) + (per_chain - 1) * options_.thin;
  std::vector<torch::Tensor> taken;
  run_chains(*net_, base_draws(*net_, chains, gen), sweeps, gen, options_.pt_temperatures,
             [&](int64_t s, const torch::Tensor& h, const torch::Tensor& v) {
               const int64_t after = s + 1 - std::max<int64_t>(1, options_.gibbs_steps);
               if (after >= 0 && after % options_.thin == 0) {
                 taken.push_back(rbm.gaussian() ? v : rbm.visible_mean(h));
               }
             });
  // Sample i is chain i % chains at its (i / chains)-th take.
  auto all = torch::stack(taken, 0).reshape({-1, rbm.n_visible()}).slice(0, 0, n);  // [n, D]
  return all.to(torch::kFloat32).cpu().reshape(net_->geometry.batch_shape(n));
}

torch::Tensor RestrictedBoltzmannMachine::transform(const torch::Tensor& x, const torch::Tensor&) const {
  auto v = prepare(x, "transform");
  torch::NoGradGuard no_grad;
  return net_->rbm().hidden_probs(v).to(torch::kFloat32).cpu();
}

torch::Tensor RestrictedBoltzmannMachine::decode(const torch::Tensor& h, const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet, so it cannot decode");
  GF_CHECK(h.dim() == 2 && h.size(1) == options_.n_components, "hidden states must be [N, ", options_.n_components,
           "], got ", h.sizes());
  torch::NoGradGuard no_grad;
  auto v = net_->rbm().visible_mean(h.to(net_->W.device(), net_->W.scalar_type()));
  return v.to(torch::kFloat32).cpu().reshape(net_->geometry.batch_shape(h.size(0)));
}

torch::Tensor RestrictedBoltzmannMachine::sample_latent(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet, so it cannot sample");
  torch::NoGradGuard no_grad;
  torch::Tensor last;
  run_chains(*net_, base_draws(*net_, n, gen), std::max<int64_t>(1, options_.gibbs_steps), gen,
             options_.pt_temperatures, [&](int64_t, const torch::Tensor& h, const torch::Tensor&) { last = h; });
  return last.to(torch::kFloat32).cpu();
}

torch::Tensor RestrictedBoltzmannMachine::clamped_gibbs(const torch::Tensor& x_in, at::Generator& gen,
                                                        bool mean) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet, so it cannot fill in cells");
  const auto rbm = net_->rbm();
  GF_CHECK_AS(DataError, x_in.defined() && x_in.dim() >= 2 && x_in.numel() == x_in.size(0) * rbm.n_visible(),
              "give rows of the model's size", "data to fill in must be [N, ", rbm.n_visible(), "] or images of ",
              net_->geometry.describe());
  torch::NoGradGuard no_grad;
  auto x = x_in.reshape({x_in.size(0), -1}).to(net_->W.device(), net_->W.scalar_type());  // [N, D]
  auto missing = x.isnan();
  auto observed = torch::where(missing, torch::zeros_like(x), x);
  GF_CHECK_AS(DataError, observed.isfinite().all().item<bool>(), "only NaN marks a missing cell",
              "the data holds infinite values");
  if (rbm.visible == ebm::Visible::bernoulli) {
    GF_CHECK_AS(DataError, ((observed >= 0) & (observed <= 1)).all().item<bool>(), "give values in [0, 1]",
                "Bernoulli visible units need observed values in [0, 1]");
  }
  if (!missing.any().item<bool>()) return x_in.clone();
  auto v = torch::where(missing, base_draws(*net_, x.size(0), gen), observed);
  const int64_t sweeps = std::max<int64_t>(2, options_.gibbs_steps);
  auto sum = torch::zeros_like(x);
  int64_t kept = 0;
  run_chains(*net_, v, sweeps, gen, 1, [&](int64_t s, const torch::Tensor& h, torch::Tensor& vs) {
    vs.copy_(torch::where(missing, vs, observed));
    if (mean && s >= sweeps / 2) {  // Rao-Blackwellised: average E[v | h] over the second half
      sum += rbm.visible_mean(h);
      ++kept;
    }
    v = vs;
  });
  auto filled = (mean ? sum / static_cast<double>(kept) : v).to(x_in.scalar_type()).cpu().reshape(x_in.sizes());
  // Given cells come back exactly as given (not through the model's float32).
  return torch::where(x_in.isnan(), filled, x_in);
}

torch::Tensor RestrictedBoltzmannMachine::conditional_sample(const torch::Tensor& x, at::Generator& gen) const {
  return clamped_gibbs(x, gen, false);
}

torch::Tensor RestrictedBoltzmannMachine::conditional_mean(const torch::Tensor& x) const {
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 99);
  return clamped_gibbs(x, gen, true);
}

torch::Tensor RestrictedBoltzmannMachine::visible_data(const torch::Tensor& x) const { return prepare(x, "read data"); }

namespace {
torch::Tensor fitted_tensor(const std::shared_ptr<RestrictedBoltzmannMachine::Net>& net,
                            torch::Tensor RestrictedBoltzmannMachine::Net::*member) {
  GF_CHECK_AS(NotFitted, net != nullptr, "fit the model first", "this RBM is not fitted yet");
  const auto& t = (*net).*member;
  return t.defined() ? t.detach() : t;
}
}  // namespace

torch::Tensor RestrictedBoltzmannMachine::components() const { return fitted_tensor(net_, &Net::W); }
torch::Tensor RestrictedBoltzmannMachine::intercept_visible() const { return fitted_tensor(net_, &Net::b); }
torch::Tensor RestrictedBoltzmannMachine::intercept_hidden() const { return fitted_tensor(net_, &Net::c); }
torch::Tensor RestrictedBoltzmannMachine::log_variance() const { return fitted_tensor(net_, &Net::log_var); }
torch::Tensor RestrictedBoltzmannMachine::base_visible() const { return fitted_tensor(net_, &Net::base_visible); }
const std::vector<torch::Tensor>& RestrictedBoltzmannMachine::softmax_groups() const {
  GF_CHECK_AS(NotFitted, net_ != nullptr, "fit the model first", "this RBM is not fitted yet");
  return net_->groups;
}

TensorMap RestrictedBoltzmannMachine::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this RBM is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  net_->geometry.save(out);
  return out;
}

void RestrictedBoltzmannMachine::load_state(const TensorMap& t) {
  auto geometry = neural::Geometry::load(t);
  auto it = t.find("W");
  GF_CHECK(it != t.end() && it->second.dim() == 2, "the RBM state has no weights W");
  GF_CHECK(it->second.size(0) == options_.n_components, "the stored weights have ", it->second.size(0),
           " hidden units, the options say n_components = ", options_.n_components);
  // The persistent chains keep their stored size whatever n_chains / batch_size say now.
  RbmOptions o = options_;
  if (auto chain = t.find("chain"); chain != t.end()) o.n_chains = chain->second.size(0);
  auto net = std::make_shared<Net>(geometry, o, geometry.numel());
  TensorMap with_groups = t;
  if (!with_groups.count("group_of")) with_groups["group_of"] = net->group_of;  // files before softmax groups
  neural::load_module(*net, "", with_groups);
  // Softmax groups number 0, 1, ... (-1: none); a stored index beyond the visible units is damage, and would make
  // index_groups build billions of empty groups.
  const auto& group_of = net->group_of;
  GF_CHECK(group_of.numel() == 0 ||
               (group_of.min().item<int64_t>() >= -1 && group_of.max().item<int64_t>() < group_of.numel()),
           "tensor 'group_of' holds a group index outside -1 .. ", group_of.numel() - 1);
  net->index_groups();
  net_ = net;
}

nlohmann::json RestrictedBoltzmannMachine::state_json() const {
  if (!log_z_.known()) return nlohmann::json::object();
  return {{"log_z", log_z_.to_json()}};
}

void RestrictedBoltzmannMachine::load_state_json(const nlohmann::json& state) {
  log_z_ = state.contains("log_z") ? LogPartition::from_json(state.at("log_z")) : LogPartition();
}

}  // namespace gf
