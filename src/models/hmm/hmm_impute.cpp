// Filling missing observations of an HMM's sequences: smoothing for the mean, forward filtering / backward
// sampling for draws (Frühwirth-Schnatter 1994; Chib 1996).
#include <ATen/ATen.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/data/dataset.h"
#include "genforge/models/hmm.h"
#include "models/hmm/emissions.h"
#include "stats/markov.h"

namespace gf {
using namespace hmm_detail;

namespace {

// What both fills need: the observations, the parameters, the scaled emissions and the mixture posteriors.
struct Evidence {
  Observations obs;
  HmmParams p;
  at::Tensor prob, log_scale, within;  // [N, K], [N], [N, K * M] (gmm)
  std::vector<int64_t> offsets;
};

// Posterior over the Gaussian components [N, C] given each step's state posterior `state` [N, K].
at::Tensor component_posterior(const Evidence& e, const at::Tensor& state, int64_t n_mix) {
  if (!e.within.defined()) return state;
  return state.repeat_interleave(n_mix, 1) * e.within;
}

Evidence gather_evidence(const HiddenMarkovModel& m, const at::Tensor& x, const at::Tensor& lengths) {
  Evidence e;
  e.obs = observe(x, m.options(), m.emissionprob().defined() ? m.emissionprob().size(1) : 0);
  e.p = params_of(m);
  e.prob = emission_prob(e.obs, e.p, m.options(), &e.log_scale, m.options().emission == "gmm" ? &e.within : nullptr);
  e.offsets = sequence_offsets(lengths, x.size(0));
  return e;
}

}  // namespace

torch::Tensor HiddenMarkovModel::sequence_mean(const torch::Tensor& x_in, const torch::Tensor& lengths) const {
  auto x = prepare_input(x_in, "impute");
  const auto e = gather_evidence(*this, x, lengths);
  auto fb = stats::forward_backward(e.prob, e.log_scale, e.offsets, startprob_, transmat_, true);
  GF_CHECK_AS(DataError, fb.seq_log_likelihood.isfinite().all().item<bool>(),
              "the model gives such a sequence probability zero", "a sequence is impossible under the model");
  auto out = x.clone();
  if (options_.emission == "categorical") {
    auto symbols = fb.gamma.mm(emissionprob_).argmax(1).to(at::kDouble);  // [N]
    out.select(1, 0).copy_(at::where(e.obs.missing, symbols, out.select(1, 0)));
    return out;
  }
  const int64_t d = x.size(1), c = e.p.g.means.size(0);
  auto post = component_posterior(e, fb.gamma, options_.emission == "gmm" ? options_.n_mix : 1);  // [N, C]
  auto full = stats::full_covariances(e.p.g.covariances, stats::parse_cov_type(options_.covariance_type), c, d);
  for (const auto& g : e.obs.layout.groups) {
    auto rows = x.index_select(0, g.rows);
    auto cond = stats::condition_group(rows, g, e.p.g.means, full);                          // mean [C, n, M]
    auto values = (cond.mean * post.index_select(0, g.rows).t().unsqueeze(2)).sum(0);       // [n, M]
    rows.index_copy_(1, g.missing, values);
    out.index_copy_(0, g.rows, rows);
  }
  return out;
}

torch::Tensor HiddenMarkovModel::sequence_samples(const torch::Tensor& x_in, const torch::Tensor& lengths, int64_t m,
                                                  at::Generator& gen) const {
  GF_CHECK(m >= 1, "the number of draws must be at least 1, got ", m);
  auto x = prepare_input(x_in, "impute");
  const auto e = gather_evidence(*this, x, lengths);
  const int64_t n = x.size(0), k = startprob_.numel();
  auto dopt = at::TensorOptions().dtype(at::kDouble);
  // Forward filtering: alpha[t] = p(state_t | x_<=t) of its sequence, normalised per step.
  auto alpha = at::empty({n, k}, dopt);
  {
    auto a = alpha.accessor<double, 2>();
    auto pr = e.prob.accessor<double, 2>();
    auto st = startprob_.contiguous(), tr = transmat_.contiguous();
    const double* pi = st.data_ptr<double>();
    const double* tm = tr.data_ptr<double>();
    for (size_t s = 0; s + 1 < e.offsets.size(); ++s) {
      for (int64_t t = e.offsets[s]; t < e.offsets[s + 1]; ++t) {
        double total = 0;
        for (int64_t j = 0; j < k; ++j) {
          double prior = 0;
          if (t == e.offsets[s]) {
            prior = pi[j];
          } else {
            for (int64_t i = 0; i < k; ++i) prior += a[t - 1][i] * tm[i * k + j];
          }
          a[t][j] = prior * pr[t][j];
          total += a[t][j];
        }
        GF_CHECK_AS(DataError, total > 0 && std::isfinite(total), "the model gives such a sequence probability zero",
                    "a sequence is impossible under the model (step ", t, ")");
        for (int64_t j = 0; j < k; ++j) a[t][j] /= total;
      }
    }
  }
  // Backward sampling of m state paths; uniforms drawn up front so a seed gives the same draws.
  auto u_state = at::rand({m, n}, gen, dopt), u_emit = at::rand({m, n}, gen, dopt);
  auto states = at::empty({m, n}, at::kLong);
  {
    auto a = alpha.accessor<double, 2>();
    auto us = u_state.accessor<double, 2>();
    auto ss = states.accessor<int64_t, 2>();
    auto tr = transmat_.contiguous();
    const double* tm = tr.data_ptr<double>();
    std::vector<double> w(static_cast<size_t>(k));
    auto pick = [&](double u) {
      double total = 0;
      for (double v : w) total += v;
      double acc = 0;
      for (int64_t j = 0; j < k; ++j) {
        acc += w[static_cast<size_t>(j)] / total;
        if (u < acc) return j;
      }
      return k - 1;
    };
    for (int64_t r = 0; r < m; ++r) {
      for (size_t s = 0; s + 1 < e.offsets.size(); ++s) {
        const int64_t first = e.offsets[s], last = e.offsets[s + 1] - 1;
        for (int64_t j = 0; j < k; ++j) w[static_cast<size_t>(j)] = a[last][j];
        ss[r][last] = pick(us[r][last]);
        for (int64_t t = last - 1; t >= first; --t) {
          for (int64_t j = 0; j < k; ++j) w[static_cast<size_t>(j)] = a[t][j] * tm[j * k + ss[r][t + 1]];
          ss[r][t] = pick(us[r][t]);
        }
      }
    }
  }
  auto out = x.unsqueeze(0).repeat({m, 1, 1});  // [m, N, D]
  // Pick an outcome of each row of probs [R, L] with the uniforms u [R] (inverse CDF). [R]
  auto inverse_cdf = [](const at::Tensor& probs, const at::Tensor& u) {
    auto cum = probs.cumsum(1) / probs.sum(1, true);
    return (cum < u.unsqueeze(1)).sum(1).clamp_max(probs.size(1) - 1);
  };
  if (options_.emission == "categorical") {
    auto symbols = inverse_cdf(emissionprob_.index_select(0, states.reshape(-1)), u_emit.reshape(-1)).view({m, n});
    auto col = out.select(2, 0);
    col.copy_(at::where(e.obs.missing.unsqueeze(0), symbols.to(at::kDouble), col));
    return out;
  }
  const int64_t d = x.size(1), c = e.p.g.means.size(0);
  const int64_t n_mix = options_.emission == "gmm" ? options_.n_mix : 1;
  auto comp = states;  // [m, N] the Gaussian component of each step
  if (n_mix > 1) {
    // The mixture component given the state and the step's observed cells: within [N, K * M] at the state's block.
    auto within = e.within.view({n, k, n_mix});
    auto rows = at::arange(n, at::kLong).unsqueeze(0).expand({m, n});
    auto block = within.index({rows.reshape(-1), states.reshape(-1)});  // [m N, M]
    comp = states * n_mix + inverse_cdf(block, u_emit.reshape(-1)).view({m, n});
  }
  auto full = stats::full_covariances(e.p.g.covariances, stats::parse_cov_type(options_.covariance_type), c, d);
  for (const auto& g : e.obs.layout.groups) {
    auto rows = x.index_select(0, g.rows);                        // [R, D]
    auto cond = stats::condition_group(rows, g, e.p.g.means, full);  // mean [C, R, M], cov [C, M, M]
    auto chol = at::linalg_cholesky(cond.cov);                    // [C, M, M]
    const int64_t r = rows.size(0), width = g.missing.numel();
    auto c_of = comp.index_select(1, g.rows);                     // [m, R]
    auto z = at::randn({m, r, width, 1}, gen, dopt);
    auto ids = at::arange(r, at::kLong).unsqueeze(0).expand({m, r});
    auto mu = cond.mean.index({c_of.reshape(-1), ids.reshape(-1)}).view({m, r, width});
    auto l = chol.index_select(0, c_of.reshape(-1)).view({m, r, width, width});
    auto values = mu + at::matmul(l, z).squeeze(3);               // [m, R, M]
    auto block = rows.unsqueeze(0).repeat({m, 1, 1});
    block.index_copy_(2, g.missing, values);
    out.index_copy_(1, g.rows, block);
  }
  return out;
}

}  // namespace gf
