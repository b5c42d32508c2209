#include "models/hmm/emissions.h"

#include "genforge/core/error.h"

namespace gf::hmm_detail {
using stats::CovType;

Observations observe(const at::Tensor& x, const HmmOptions& o, int64_t n_symbols) {
  Observations obs;
  obs.x = x;
  if (o.emission == "categorical") {
    GF_CHECK_AS(DataError, x.size(1) == 1, "give one column of symbol ids (0, 1, ...)",
                "categorical emissions take one column of symbols, the data has ", x.size(1));
    auto col = x.select(1, 0);
    obs.missing = col.isnan() | (col < 0);
    auto filled = at::where(obs.missing, at::zeros_like(col), col);
    auto bad = (filled != filled.round()).nonzero();
    GF_CHECK_AS(DataError, bad.numel() == 0, "symbols are integer ids 0, 1, ...", "row ",
                bad.numel() ? bad[0].item<int64_t>() : 0, " holds ",
                bad.numel() ? col[bad[0].item<int64_t>()].item<double>() : 0.0, ", which is not a symbol id");
    obs.ids = filled.to(at::kLong);
    if (n_symbols > 0) {
      auto over = (obs.ids >= n_symbols).nonzero();
      GF_CHECK_AS(DataError, over.numel() == 0, "map unknown symbols to a symbol of the vocabulary (or -1, missing)",
                  "symbol ", over.numel() ? obs.ids[over[0].item<int64_t>()].item<int64_t>() : 0, " at row ",
                  over.numel() ? over[0].item<int64_t>() : 0, " is outside the model's ", n_symbols, " symbols");
    }
  } else {
    obs.layout = stats::analyse_missing(x);
  }
  return obs;
}

// Scaled emission probabilities [N, K] and their log scale [N] (see forward_backward); `within` [N, K * M] gets
// the posterior of each mixture component given its state (gmm emissions) when asked for.
at::Tensor emission_prob(const Observations& obs, const HmmParams& p, const HmmOptions& o, at::Tensor* log_scale,
                         at::Tensor* within) {
  if (o.emission == "categorical") {
    auto prob = p.emissionprob.t().contiguous().index_select(0, obs.ids);  // [N, K]
    if (obs.missing.any().item<bool>()) prob = at::where(obs.missing.unsqueeze(1), at::ones_like(prob), prob);
    *log_scale = at::Tensor();
    return prob.contiguous();
  }
  const CovType type = stats::parse_cov_type(o.covariance_type);
  auto lp = stats::log_prob_with_missing(obs.x, obs.layout, p.g, type);  // [N, C]
  if (o.emission == "gmm") {
    const int64_t k = p.mix.size(0), m = p.mix.size(1);
    auto joint = (lp.view({-1, k, m}) + p.mix.log().unsqueeze(0));  // [N, K, M]
    lp = at::logsumexp(joint, 2);                                   // [N, K]
    if (within) *within = (joint - lp.unsqueeze(2)).exp().reshape({-1, k * m});
  }
  auto m = std::get<0>(lp.max(1));  // [N]
  m = at::where(m.isfinite(), m, at::zeros_like(m));
  *log_scale = m;
  return (lp - m.unsqueeze(1)).exp().contiguous();
}

HmmParams params_of(const HiddenMarkovModel& m) {
  HmmParams p;
  p.startprob = m.startprob();
  p.transmat = m.transmat();
  p.emissionprob = m.emissionprob();
  if (m.means().defined()) {
    const int64_t d = m.means().size(-1);
    const bool mixture = m.options().emission == "gmm";
    const int64_t c = mixture ? m.means().size(0) * m.means().size(1) : m.means().size(0);
    p.g.means = m.means().reshape({c, d});
    auto shape = stats::covariance_shape(stats::parse_cov_type(m.options().covariance_type), c, d);
    p.g.covariances = m.covars().reshape(shape);
    p.g.precisions_chol = stats::precisions_cholesky(p.g.covariances, stats::parse_cov_type(m.options().covariance_type),
                                                   at::ones({c}, at::kDouble), m.options().reg_covar);
    p.mix = m.weights();
  }
  return p;
}

}  // namespace gf::hmm_detail
