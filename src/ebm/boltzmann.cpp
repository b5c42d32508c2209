#include "ebm/boltzmann.h"

#include <torch/special.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/constants.h"
#include "nn/neural.h"
#include "stats/truncated_normal.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"

namespace gf::ebm {

namespace {
// All states of n binary units, rows start .. end - 1 of the enumeration (bit j of the row index is unit j). [M, n]
torch::Tensor binary_states(int64_t start, int64_t end, int64_t n, const torch::TensorOptions& opts) {
  auto index = torch::arange(start, end, torch::TensorOptions().dtype(torch::kLong).device(opts.device()));
  auto bits = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(opts.device()));
  return index.unsqueeze(1).bitwise_right_shift(bits).bitwise_and(1).to(opts.dtype());
}
}  // namespace

Visible visible_from_string(const std::string& name) {
  if (name == "bernoulli") return Visible::bernoulli;
  GF_CHECK(name == "gaussian", "visible units must be bernoulli or gaussian, got '", name, "'");
  return Visible::gaussian;
}

Hidden hidden_from_string(const std::string& name) {
  if (name == "bernoulli") return Hidden::bernoulli;
  GF_CHECK(name == "relu", "hidden units must be bernoulli or relu, got '", name, "'");
  return Hidden::relu;
}

torch::Tensor hidden_log_partition(Hidden kind, const torch::Tensor& a) {
  if (kind == Hidden::bernoulli) return torch::softplus(a);
  return 0.5 * a.pow(2) + torch::special::log_ndtr(a) + 0.5 * kLog2Pi;
}

torch::Tensor hidden_mean(Hidden kind, const torch::Tensor& a) {
  if (kind == Hidden::bernoulli) return torch::sigmoid(a);
  // a + phi(a) / Phi(a), written with erfcx so that it stays accurate far below zero (where it tends to -1 / a).
  return (a + std::sqrt(2.0 / M_PI) / torch::special::erfcx(-a * M_SQRT1_2)).clamp_min(0);
}

torch::Tensor sample_hidden(Hidden kind, const torch::Tensor& a, at::Generator& gen) {
  if (kind == Hidden::bernoulli) return bernoulli(torch::sigmoid(a), gen);
  // Inverse-CDF draws in float64: Phi's tails underflow in float32 within a few units of zero.
  auto a64 = a.to(torch::kFloat64);
  auto zero = torch::zeros({}, a64.options());
  auto inf = torch::full({}, std::numeric_limits<double>::infinity(), a64.options());
  return stats::truncated_normal(a64, torch::ones({}, a64.options()), zero, inf, gen).to(a.scalar_type());
}

torch::Tensor independent_units(int64_t n_visible, const std::vector<torch::Tensor>& groups,
                                const torch::TensorOptions& options) {
  auto mask = torch::ones({n_visible}, options.requires_grad(false));
  for (const auto& g : groups) mask.index_fill_(0, g.to(mask.device()), 0.0);
  return mask;
}

torch::Tensor Rbm::independent() const {
  return independent_mask.defined() ? independent_mask : independent_units(n_visible(), groups, W.options());
}

std::pair<torch::Tensor, torch::Tensor> Rbm::unit_masks() const {
  auto ind = has_groups() ? independent() : torch::ones({n_visible()}, W.options().requires_grad(false));
  if (!mixed()) return {ind, torch::zeros_like(ind)};
  auto bern = ind * bernoulli_units.to(ind.options());
  return {ind - bern, bern};
}

torch::Tensor Rbm::scaled_visible(const torch::Tensor& v) const {
  if (!gaussian()) return v;
  auto inv_var = torch::exp(-log_var);
  if (has_groups() || mixed()) {
    auto gauss = unit_masks().first;
    inv_var = inv_var * gauss + (1 - gauss);  // group and Bernoulli units are not scaled
  }
  return v * inv_var;
}

torch::Tensor Rbm::hidden_input(const torch::Tensor& v) const {
  return torch::addmm(c, scaled_visible(v), W.t());
}

torch::Tensor Rbm::hidden_probs(const torch::Tensor& v) const {
  return relu() ? hidden_mean(hidden, hidden_input(v)) : hidden_input(v).sigmoid_();
}

torch::Tensor Rbm::sample_hidden(const torch::Tensor& v, at::Generator& gen) const {
  return ebm::sample_hidden(hidden, hidden_input(v), gen);
}

torch::Tensor Rbm::visible_input(const torch::Tensor& h) const { return torch::addmm(b, h, W); }

torch::Tensor Rbm::mean_from_input(const torch::Tensor& in) const {
  auto out = !gaussian() ? torch::sigmoid(in)
                         : mixed() ? torch::where(unit_masks().second > 0, torch::sigmoid(in), in) : in.clone();
  for (const auto& g : groups) {
    const auto idx = g.to(in.device());
    out.index_copy_(1, idx, torch::softmax(in.index_select(1, idx), 1));
  }
  return out;
}

torch::Tensor Rbm::sample_from_input(torch::Tensor in, at::Generator& gen) const {
  torch::Tensor out;
  if (!gaussian()) {
    out = bernoulli(has_groups() ? torch::sigmoid(in) : in.sigmoid_(), gen);
  } else {
    auto noise = neural::randn_from(in.sizes(), gen, in.options()) * torch::exp(0.5 * log_var);
    out = has_groups() || mixed() ? in + noise : in.add_(noise);
    if (mixed()) out = torch::where(unit_masks().second > 0, bernoulli(torch::sigmoid(in), gen), out);
  }
  for (const auto& g : groups) {
    // One unit on per group, drawn from the group's softmax.
    const auto idx = g.to(in.device());
    auto p = torch::softmax(in.index_select(1, idx), 1);                  // [N, k]
    auto u = neural::rand_from({p.size(0), 1}, gen, p.options());
    auto pick = (p.cumsum(1) < u).sum(1, true).clamp_max(p.size(1) - 1);  // inverse CDF: [N, 1]
    out.index_copy_(1, idx, torch::zeros_like(p).scatter_(1, pick, 1.0));
  }
  return out;
}

torch::Tensor Rbm::visible_mean(const torch::Tensor& h) const { return mean_from_input(visible_input(h)); }

torch::Tensor Rbm::sample_visible(const torch::Tensor& h, at::Generator& gen) const {
  return sample_from_input(visible_input(h), gen);
}

torch::Tensor Rbm::visible_term(const torch::Tensor& v) const {
  if (!gaussian()) return torch::mv(v, b);
  auto quadratic = (v - b).pow(2) * torch::exp(-log_var);  // [N, D]
  if (!has_groups() && !mixed()) return -0.5 * quadratic.sum(1);
  auto gauss = unit_masks().first;  // the other units' term is linear: b.v
  return -0.5 * (quadratic * gauss).sum(1) + torch::mv(v, b * (1 - gauss));
}

double Rbm::visible_log_partition(const torch::Tensor& bias_in) const {
  torch::NoGradGuard no_grad;
  auto bias = bias_in.to(torch::kFloat64);
  auto per_unit = gaussian() ? 0.5 * (log_var.to(torch::kFloat64) + kLog2Pi) : torch::softplus(bias);  // [D]
  if (mixed()) {
    auto [gauss, bern] = unit_masks();
    per_unit = per_unit * gauss.to(torch::kFloat64) + torch::softplus(bias) * bern.to(torch::kFloat64);
  }
  double total = 0;
  if (has_groups()) {
    auto ind = independent().to(torch::kFloat64);
    total = (per_unit * ind).sum().item<double>();
    for (const auto& g : groups) total += torch::logsumexp(bias.index_select(0, g.to(bias.device())), 0).item<double>();
  } else {
    total = per_unit.sum().item<double>();
  }
  return total;
}

torch::Tensor Rbm::free_energy_from_input(const torch::Tensor& v, const torch::Tensor& input) const {
  return -visible_term(v) - hidden_log_partition(hidden, input).sum(1);
}

torch::Tensor Rbm::free_energy(const torch::Tensor& v) const { return free_energy_from_input(v, hidden_input(v)); }

torch::Tensor Rbm::hidden_log_marginal(const torch::Tensor& h) const {
  auto in = visible_input(h);  // [N, D]
  auto out = torch::mv(h, c);
  torch::Tensor per_unit;  // [N, D] log sum over one unit's values
  if (!gaussian()) {
    per_unit = torch::softplus(in);
  } else {
    // integral of exp(-(v - b)^2 / (2 s2) + v (W^T h) / s2) dv = sqrt(2 pi s2) exp(((b + W^T h)^2 - b^2) / (2 s2))
    per_unit = 0.5 * (in.pow(2) - b.pow(2)) * torch::exp(-log_var) + 0.5 * (log_var + kLog2Pi);
    if (mixed()) {
      auto [gauss, bern] = unit_masks();
      per_unit = per_unit * gauss + torch::softplus(in) * bern;
    }
  }
  if (!has_groups()) return out + per_unit.sum(1);
  out = out + torch::mv(per_unit, independent());
  for (const auto& g : groups) out = out + torch::logsumexp(in.index_select(1, g.to(in.device())), 1);
  return out;
}

torch::Tensor Rbm::log_visible_given_hidden(const torch::Tensor& v, const torch::Tensor& h) const {
  auto in = visible_input(h);  // [N, D]
  auto per_unit = gaussian() ? -0.5 * ((v - in).pow(2) * torch::exp(-log_var) + log_var + kLog2Pi)
                             : v * in - torch::softplus(in);  // Bernoulli: -cross-entropy with logits
  if (mixed()) {
    auto [gauss, bern] = unit_masks();
    per_unit = per_unit * gauss + (v * in - torch::softplus(in)) * bern;
  }
  if (!has_groups()) return per_unit.sum(1);
  auto out = torch::mv(per_unit, independent());
  for (const auto& g : groups) {
    const auto idx = g.to(in.device());
    out = out + (v.index_select(1, idx) * torch::log_softmax(in.index_select(1, idx), 1)).sum(1);
  }
  return out;
}

std::vector<torch::Tensor> one_hot_groups(const std::vector<std::string>& columns) {
  std::vector<torch::Tensor> out;
  size_t i = 0;
  while (i < columns.size()) {
    const auto eq = columns[i].find('=');
    size_t j = i + 1;
    if (eq != std::string::npos) {
      const std::string prefix = columns[i].substr(0, eq + 1);
      while (j < columns.size() && columns[j].compare(0, prefix.size(), prefix) == 0) ++j;
      if (j - i >= 2) {
        out.push_back(torch::arange(static_cast<int64_t>(i), static_cast<int64_t>(j), torch::kLong));
      }
    }
    i = j;
  }
  return out;
}

torch::Tensor bernoulli(const torch::Tensor& p, at::Generator& gen) {
  // u < p written into u itself: 1.0 or 0.0 in p's dtype, one tensor instead of three.
  return neural::rand_from(p.sizes(), gen, p.options()).lt_(p);
}

std::vector<double> tempering_betas(int64_t m) {
  GF_CHECK(m >= 1, "the number of tempering temperatures must be at least 1, got ", m);
  std::vector<double> out;
  for (int64_t i = 0; i < m; ++i) out.push_back(m == 1 ? 1.0 : 1.0 - static_cast<double>(i) / (m - 1));
  return out;
}

torch::Tensor ladder_betas(const std::vector<double>& betas, int64_t chains, const torch::TensorOptions& options) {
  return torch::tensor(betas, torch::TensorOptions().dtype(torch::kFloat64))
      .to(options)
      .repeat_interleave(chains)
      .unsqueeze(1);
}

double tempering_exchange(const std::vector<double>& betas, const torch::Tensor& g,
                          std::vector<torch::Tensor*> states, at::Generator& gen, int64_t parity) {
  torch::NoGradGuard no_grad;
  const int64_t M = static_cast<int64_t>(betas.size()), C = g.size(0) / M;
  int64_t tried = 0, accepted = 0;
  for (int64_t m = parity % 2; m + 1 < M; m += 2) {
    auto i = torch::arange(m * C, (m + 1) * C, torch::TensorOptions().dtype(torch::kLong).device(g.device()));
    auto j = i + C;
    auto log_alpha = (betas[m] - betas[m + 1]) * (g.index_select(0, j) - g.index_select(0, i));  // [C]
    auto u = at::rand({C}, gen, torch::TensorOptions().dtype(torch::kFloat64)).to(g.device());
    auto swap = u.log() < log_alpha;
    auto si = i.masked_select(swap), sj = j.masked_select(swap);
    if (si.numel() > 0) {
      for (torch::Tensor* state : states) {
        auto at_i = state->index_select(0, si);
        state->index_copy_(0, si, state->index_select(0, sj));
        state->index_copy_(0, sj, at_i);
      }
    }
    tried += C;
    accepted += si.numel();
  }
  return tried ? static_cast<double>(accepted) / static_cast<double>(tried) : 0.0;
}

double tempered_sweep(const Rbm& rbm, const torch::Tensor& base_visible, const std::vector<double>& betas,
                      torch::Tensor& v, torch::Tensor& h, at::Generator& gen, int64_t parity) {
  torch::NoGradGuard no_grad;
  const int64_t M = static_cast<int64_t>(betas.size()), C = v.size(0) / M;
  GF_CHECK(C * M == v.size(0), "tempered chains: ", v.size(0), " rows are not ", M, " temperatures x chains");
  auto beta = ladder_betas(betas, C, v.options());  // [M * C, 1]
  auto b_base = base_visible.to(v.options());
  h = sample_hidden(rbm.hidden, beta * rbm.hidden_input(v), gen);
  auto in = rbm.visible_input(h);  // [M * C, D]
  v = rbm.sample_from_input((1 - beta) * b_base + beta * in, gen);
  if (M == 1) return 0.0;
  // g(v, h) = -E(v, h) + E_base(v) = visible term - base visible term + h.c + (W^T h).(v / s2) (a rectified
  // Gaussian unit's h^2 / 2 is in both energies: every temperature keeps it)
  Rbm base = rbm;
  base.b = b_base;
  auto g = (rbm.visible_term(v) - base.visible_term(v) + torch::mv(h, rbm.c) +
            ((in - rbm.b) * rbm.scaled_visible(v)).sum(1))
               .to(torch::kFloat64);  // [M * C]
  return tempering_exchange(betas, g, {&v, &h}, gen, parity);
}

torch::Tensor binarized(const torch::Tensor& v, const std::string& binarize, bool strict, int64_t seed) {
  if (binarize == "threshold") return (v >= 0.5).to(v.scalar_type());
  if (binarize == "stochastic") {
    auto gen = make_generator(static_cast<uint64_t>(seed) + 4242);
    return bernoulli(v, gen);
  }
  GF_CHECK(binarize == "none", "binarize must be none, threshold or stochastic, got '", binarize, "'");
  GF_CHECK_AS(DataError, !strict || ((v == 0) | (v == 1)).all().item<bool>(),
              "binarize the data (binarize=threshold|stochastic) or set strict=false to read values as probabilities",
              "strict Bernoulli units need values 0 and 1; the data has other values");
  return v;
}

torch::Tensor cd_loss(const Rbm& rbm, const torch::Tensor& v_pos, const torch::Tensor& v_neg, torch::Tensor* q_out,
                      torch::Tensor* input_out) {
  const int64_t B = v_pos.size(0);
  auto v = torch::cat({v_pos, v_neg});
  auto input = rbm.hidden_input(v);  // one product for the data and the chains: [B + C, H]
  torch::Tensor q;
  {
    torch::NoGradGuard no_grad;
    q = hidden_mean(rbm.hidden, input.detach());
  }
  // (A rectified Gaussian unit's E[h^2] / 2 holds no parameter: it is left out.)
  auto energy = -(rbm.visible_term(v) + (q * input).sum(1));  // [B + C]
  if (q_out) *q_out = q;
  if (input_out) *input_out = input;
  return energy.slice(0, 0, B).mean() - energy.slice(0, B).mean();
}

int64_t enumerated_units(const Rbm& rbm) {
  if (rbm.relu()) {
    // Continuous hidden units: only Bernoulli visible states can be summed.
    return rbm.gaussian() || rbm.has_groups() ? std::numeric_limits<int32_t>::max() : rbm.n_visible();
  }
  return rbm.gaussian() || rbm.has_groups() ? rbm.n_hidden() : std::min(rbm.n_hidden(), rbm.n_visible());
}

std::string log_partition_method(const std::string& estimator, const Rbm& rbm) {
  if (estimator == "exact" || estimator == "ais") return estimator;
  return enumerated_units(rbm) <= 20 ? "exact" : "ais";
}

double exact_log_z(const Rbm& rbm_in, int64_t max_units) {
  const int64_t n = enumerated_units(rbm_in);
  GF_CHECK_AS(InvalidArgument, !rbm_in.relu() || !(rbm_in.gaussian() || rbm_in.has_groups()),
              "use the AIS estimate (estimator=ais)",
              "exact log Z of rectified Gaussian hidden units sums over visible states, which needs Bernoulli visible "
              "units without softmax groups");
  GF_CHECK_AS(InvalidArgument, n <= max_units,
              "use the AIS estimate (estimator=ais) for larger models",
              "exact log Z enumerates 2^", n, " states; at most 2^", max_units, " are allowed");
  torch::NoGradGuard no_grad;
  // float64 throughout: the sum spans many orders of magnitude.
  Rbm rbm{rbm_in.visible, rbm_in.W.to(torch::kFloat64), rbm_in.b.to(torch::kFloat64), rbm_in.c.to(torch::kFloat64),
          rbm_in.log_var.defined() ? rbm_in.log_var.to(torch::kFloat64) : torch::Tensor(), rbm_in.groups};
  rbm.hidden = rbm_in.hidden;
  rbm.bernoulli_units = rbm_in.bernoulli_units;
  const bool over_hidden = !rbm.relu() && n == rbm.n_hidden();
  const auto opts = rbm.W.options();
  const int64_t total = int64_t{1} << n;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(total, (int64_t{1} << 22) / std::max<int64_t>(
                                                                          1, rbm.n_visible() + rbm.n_hidden())));
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < total; s += chunk) {
    auto states = binary_states(s, std::min(total, s + chunk), n, opts);
    // Over visible states: log sum_h exp(-E) = -F(v).
    auto log_p = over_hidden ? rbm.hidden_log_marginal(states) : -rbm.free_energy(states);
    parts.push_back(torch::logsumexp(log_p, 0).reshape({1}));
  }
  return torch::logsumexp(torch::cat(parts), 0).item<double>();
}

std::vector<double> ais_betas(int64_t n) {
  GF_CHECK(n >= 1, "the number of AIS temperatures must be at least 1, got ", n);
  // Salakhutdinov & Murray (2008): 500 steps over [0, 0.5], 4000 over [0.5, 0.9], 10000 over [0.9, 1].
  const int64_t n1 = std::max<int64_t>(1, n * 500 / 14500), n2 = std::max<int64_t>(1, n * 4000 / 14500);
  std::vector<double> betas{0.0};
  auto segment = [&](double from, double to, int64_t steps) {
    for (int64_t i = 1; i <= steps; ++i) betas.push_back(from + (to - from) * static_cast<double>(i) / steps);
  };
  if (n < 3) {
    segment(0, 1, n);
  } else {
    segment(0, 0.5, n1);
    segment(0.5, 0.9, n2);
    segment(0.9, 1.0, n - n1 - n2);
  }
  return betas;
}

AisEstimate ais_log_z(const Rbm& rbm, const torch::Tensor& base_visible, const AisSettings& settings,
                      at::Generator& gen, const std::string& progress_label, const torch::Tensor& base_hidden) {
  GF_CHECK(settings.runs >= 2, "AIS needs at least 2 runs (ais_runs), got ", settings.runs);
  GF_CHECK(base_visible.dim() == 1 && base_visible.size(0) == rbm.n_visible(), "the AIS base needs ",
           rbm.n_visible(), " visible biases, got ", base_visible.sizes());
  torch::NoGradGuard no_grad;
  const auto betas = ais_betas(settings.betas);
  const int64_t runs = settings.runs, H = rbm.n_hidden();
  auto b_base = base_visible.to(rbm.W.options());
  AisEstimate out;
  GF_CHECK(!base_hidden.defined() || (base_hidden.dim() == 1 && base_hidden.size(0) == H), "the AIS base needs ",
           H, " hidden biases, got ", base_hidden.defined() ? base_hidden.sizes() : torch::IntArrayRef{});
  // Base model: no weights, visible biases b_base, hidden biases c_base (default 0: units free), so
  // Z_0 = prod_j (1 + exp(c_base_j)) * Z(visible part).
  auto c_base = base_hidden.defined() ? base_hidden.to(rbm.W.options()) : torch::zeros({H}, rbm.W.options());
  auto c_base64 = c_base.to(torch::kFloat64);
  out.log_z_base = hidden_log_partition(rbm.hidden, c_base64).sum().item<double>() + rbm.visible_log_partition(b_base);
  // p*_beta(v) = exp((1 - beta) (-E_base(v)) + beta g_model(v)) * prod_j (1 + exp(beta a_j(v) + (1 - beta) c_base_j)),
  // a = c + W (v/s2). The log weight grows by (beta_k - beta_{k-1}) * delta(v) + sum_j [softplus(input at beta_k) -
  // softplus(input at beta_{k-1})], delta(v) = visible term of the model minus that of the base.
  Rbm base = rbm;
  base.b = b_base;
  auto visible_delta = [&](const torch::Tensor& v) {
    return (rbm.visible_term(v) - base.visible_term(v)).to(torch::kFloat64);
  };
  torch::Tensor v = rbm.sample_from_input(b_base.expand({runs, -1}).contiguous(), gen);
  auto log_w = torch::zeros({runs}, torch::TensorOptions().dtype(torch::kFloat64).device(v.device()));
  const int64_t steps = static_cast<int64_t>(betas.size()) - 1;
  std::unique_ptr<Progress> bar;
  if (!progress_label.empty()) bar = std::make_unique<Progress>(progress_label, steps, "temperature");
  for (int64_t k = 1; k <= steps; ++k) {
    const double beta = betas[k], previous = betas[k - 1];
    auto a = rbm.hidden_input(v);  // [R, H]
    auto a64 = a.to(torch::kFloat64);
    log_w += (beta - previous) * visible_delta(v) +
             (hidden_log_partition(rbm.hidden, beta * a64 + (1 - beta) * c_base64) -
              hidden_log_partition(rbm.hidden, previous * a64 + (1 - previous) * c_base64))
                 .sum(1);
    if (k == steps) break;  // the last transition does not change the weights
    // One Gibbs sweep that leaves p_beta invariant.
    auto h = sample_hidden(rbm.hidden, beta * a + (1 - beta) * c_base, gen);
    v = rbm.sample_from_input((1 - beta) * b_base + beta * rbm.visible_input(h), gen);  // [R, D]
    if (bar && (k % 50 == 0)) bar->update(k);
  }
  if (bar) bar->finish();
  const double max_w = log_w.max().item<double>();
  auto w = torch::exp(log_w - max_w);  // [R]
  const double mean_w = w.mean().item<double>();
  out.log_z = out.log_z_base + max_w + std::log(mean_w);
  out.standard_error = w.std().item<double>() / (std::sqrt(static_cast<double>(runs)) * mean_w);
  out.effective_runs = std::pow(w.sum().item<double>(), 2) / w.pow(2).sum().item<double>();
  auto cpu = log_w.cpu();
  out.log_weights.assign(cpu.data_ptr<double>(), cpu.data_ptr<double>() + runs);
  return out;
}

LogPartition estimate_log_partition(const Rbm& rbm, const torch::Tensor& base_visible, const std::string& method,
                                    const AisSettings& settings, uint64_t seed, bool show_progress,
                                    const torch::Tensor& base_hidden) {
  LogPartition z;
  z.method = method;
  if (method == "exact") {
    z.value = exact_log_z(rbm);
    z.enumerated_units = enumerated_units(rbm);
    return z;
  }
  GF_CHECK(method == "ais", "log Z is found by exact enumeration or ais, got '", method, "'");
  auto gen = make_generator(seed);
  const auto e = ais_log_z(rbm, base_visible, settings, gen, show_progress ? "AIS log Z" : "", base_hidden);
  z.runs = settings.runs;
  z.betas = settings.betas;
  z.value = e.log_z;
  z.standard_error = e.standard_error;
  z.effective_runs = e.effective_runs;
  return z;
}

torch::Tensor pseudo_log_likelihood(const Rbm& rbm, const torch::Tensor& v) {
  GF_CHECK_AS(NotSupported, !rbm.gaussian() && !rbm.has_groups(), "score with estimator=ais or exact",
              "the pseudo-likelihood is defined here for Bernoulli visible units only (no softmax groups)");
  torch::NoGradGuard no_grad;
  const int64_t n = v.size(0), D = rbm.n_visible();
  // Flipping bit i changes -F by sign_i b_i + sum_j [softplus(a_j + sign_i W_ji) - softplus(a_j)] (for rectified
  // Gaussian units their log partition in place of softplus).
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 23) / std::max<int64_t>(1, D * rbm.n_hidden()));
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < n; s += chunk) {
    auto x = v.slice(0, s, std::min(n, s + chunk));  // [B, D]
    auto a = rbm.hidden_input(x);                      // [B, H]
    auto sign = 1 - 2 * x;                             // [B, D]
    auto neg_f0 = -rbm.free_energy_from_input(x, a);   // [B]
    auto a_flip = a.unsqueeze(1) + sign.unsqueeze(2) * rbm.W.t().unsqueeze(0);  // [B, D, H]
    auto neg_f1 = (neg_f0 - hidden_log_partition(rbm.hidden, a).sum(1)).unsqueeze(1) + sign * rbm.b +
                  hidden_log_partition(rbm.hidden, a_flip).sum(2);  // [B, D]
    auto f0 = neg_f0.to(torch::kFloat64).unsqueeze(1), f1 = neg_f1.to(torch::kFloat64);
    out.push_back((f0 - torch::logaddexp(f0, f1)).sum(1));
  }
  return torch::cat(out);
}

torch::Tensor stochastic_pseudo_likelihood(const Rbm& rbm, const torch::Tensor& v, at::Generator& gen) {
  GF_CHECK_AS(NotSupported, !rbm.gaussian() && !rbm.has_groups(), "score with estimator=ais or exact",
              "the pseudo-likelihood is defined here for Bernoulli visible units only (no softmax groups)");
  auto flips = at::randint(0, rbm.n_visible(), {v.size(0)}, gen, torch::TensorOptions().dtype(torch::kLong));
  return one_flip_pseudo_likelihood(rbm, v, flips);
}

torch::Tensor one_flip_pseudo_likelihood(const Rbm& rbm, const torch::Tensor& v, const torch::Tensor& flipped_bits) {
  torch::NoGradGuard no_grad;
  const int64_t n = v.size(0);
  GF_CHECK(flipped_bits.numel() == n, "one flipped bit per row: ", n, " rows, ", flipped_bits.numel(), " bits");
  auto flip = flipped_bits.to(v.device(), torch::kLong).reshape({n});
  auto flipped = v.clone();
  auto rows = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(v.device()));
  flipped.index_put_({rows, flip}, 1 - v.index({rows, flip}));
  auto gap = (rbm.free_energy(flipped) - rbm.free_energy(v)).to(torch::kFloat64);  // [N]
  return static_cast<double>(rbm.n_visible()) * torch::log_sigmoid(gap);
}

}  // namespace gf::ebm
