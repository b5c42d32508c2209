// Filling missing values with a normalizing flow: Metropolis-adjusted Langevin sampling of p(missing | observed) in
// the flow's own space (after pre-processing or standardisation), where log p and its gradient are exact.
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/flow.h"
#include "nn/missing.h"
#include "nn/neural.h"

namespace gf {
namespace {

constexpr double kTargetAcceptance = 0.574;  // optimal for MALA (Roberts & Rosenthal 1998)

// A value per row [R] viewed against states [R, ...] for broadcasting: [R, 1, ..., 1].
torch::Tensor against(const torch::Tensor& per_row, const torch::Tensor& states) {
  std::vector<int64_t> shape(static_cast<size_t>(states.dim()), 1);
  shape[0] = per_row.size(0);
  return per_row.view(shape);
}

}  // namespace

torch::Tensor NormalizingFlow::langevin(const torch::Tensor& x_in, const torch::Tensor& labels_in, int64_t draws,
                                        bool average, at::Generator& gen) const {
  const int64_t b = x_in.size(0);
  // `draws` chains per row, each starting from the most probable of `mcmc_starts` completions by the model's own
  // samples (of the row's class): a single sample's hole rarely fits the kept part (a shoe's sole under a shirt),
  // and a chain of local steps takes long to leave it. The start does not change what the chain converges to.
  auto x = x_in.repeat_interleave(draws, 0);                                    // [draws B, ...]
  const auto labels = labels_in.defined() ? labels_in.repeat_interleave(draws, 0) : labels_in;
  auto missing = torch::isnan(x);
  torch::Tensor v, best;
  for (int64_t s = 0; s < options_.mcmc_starts; ++s) {
    auto drawn = labels.defined() ? sample_labelled(labels, gen) : sample(x.size(0), gen);
    auto candidate = to_flow_space(torch::where(missing, drawn.reshape(x.sizes()).to(x.scalar_type()), x)).detach();
    torch::Tensor lp;
    {
      torch::NoGradGuard no_grad;
      lp = flow_space_log_density(candidate, labels);  // [draws B]
      lp = torch::where(torch::isnan(lp), torch::full_like(lp, -INFINITY), lp);
    }
    if (!v.defined()) {
      v = candidate, best = lp;
      continue;
    }
    auto better = lp > best;
    v = torch::where(against(better, v), candidate, v);
    best = torch::where(better, lp, best);
  }
  auto mask = missing.reshape(v.sizes()).to(v.device(), v.scalar_type());
  auto log_density = [&](const torch::Tensor& at) {                             // log p(v | class) and its gradient
    auto leaf = at.detach().requires_grad_(true);
    auto lp = flow_space_log_density(leaf, labels);                             // [R]
    auto grad = torch::autograd::grad({lp.sum()}, {leaf})[0];
    return std::make_pair(lp.detach(), grad.detach() * mask);
  };
  const int64_t rows = v.size(0);
  auto per_row = [&](const torch::Tensor& t) { return t.view({rows, -1}); };
  auto [lp, grad] = log_density(v);
  auto step = torch::full({rows}, 0.01, v.options());  // per-row step size, adapted during burn-in
  // log q(to | from) of the Langevin proposal N(from + step grad(from), 2 step) over the missing coordinates. [R]
  auto log_proposal = [&](const torch::Tensor& to, const torch::Tensor& from, const torch::Tensor& g) {
    auto diff = per_row((to - from - against(step, v) * g) * mask);
    return -diff.pow(2).sum(1) / (4 * step);
  };
  const int64_t steps = options_.mcmc_steps, burn_in = steps / 2;
  torch::Tensor sum;
  for (int64_t t = 0; t < steps; ++t) {
    auto noise = neural::randn_from(v.sizes(), gen, v.options());
    auto proposal = v + (against(step, v) * grad + (2 * against(step, v)).sqrt() * noise) * mask;
    auto [lp_new, grad_new] = log_density(proposal);
    auto log_accept = lp_new - lp + log_proposal(v, proposal, grad_new) - log_proposal(proposal, v, grad);
    log_accept = torch::where(torch::isfinite(log_accept), log_accept, torch::full_like(log_accept, -INFINITY));
    auto u = neural::rand_from({rows}, gen, v.options());
    auto accept = u.log() < log_accept;  // [R]
    v = torch::where(against(accept, v), proposal, v);
    lp = torch::where(accept, lp_new, lp);
    grad = torch::where(against(accept, grad), grad_new, grad);
    if (t < burn_in) {
      auto rate = log_accept.clamp_max(0).exp();
      step = (step.log() + 0.5 * (rate - kTargetAcceptance)).exp().clamp(1e-6, 10.0);
    } else if (average) {
      auto y = from_flow_space(v, true);
      sum = sum.defined() ? sum + y : y;
    }
  }
  auto out = average ? sum / static_cast<double>(steps - burn_in) : from_flow_space(v);
  std::vector<int64_t> shape{b, draws};
  for (int64_t d = 1; d < out.dim(); ++d) shape.push_back(out.size(d));
  return out.reshape(shape).transpose(0, 1).cpu();  // [draws, B, ...]
}

torch::Tensor NormalizingFlow::conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this flow is not fitted yet, so it cannot fill in values");
  return neural::fill_missing_rows(x.to(torch::kCPU, torch::kFloat64), m, 4096 / std::max<int64_t>(m, 1),
                                   [&](const torch::Tensor& part) { return langevin(part, {}, m, false, gen); });
}

torch::Tensor NormalizingFlow::conditional_samples_given_class(const torch::Tensor& x, const torch::Tensor& labels,
                                                               int64_t m, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this flow is not fitted yet, so it cannot fill in values");
  GF_CHECK(m >= 1, "the number of draws must be at least 1, got ", m);
  const auto rows = x.to(torch::kCPU, torch::kFloat64);
  const auto classes = row_classes(labels, rows.size(0), n_classes());
  return neural::fill_missing_rows(rows, m, 4096 / m, [&](const torch::Tensor& part, const torch::Tensor& index) {
    return langevin(part, classes.index_select(0, index), m, false, gen);
  });
}

torch::Tensor NormalizingFlow::conditional_sample(const torch::Tensor& x, at::Generator& gen) const {
  return conditional_samples(x, 1, gen)[0];
}

torch::Tensor NormalizingFlow::conditional_mean(const torch::Tensor& x) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this flow is not fitted yet, so it cannot fill in values");
  auto gen = make_generator(static_cast<uint64_t>(options_.seed) + 4);
  return neural::fill_missing_rows(x.to(torch::kCPU, torch::kFloat64), 1, 4096,
                                   [&](const torch::Tensor& part) { return langevin(part, {}, 1, true, gen); })[0];
}

}  // namespace gf
