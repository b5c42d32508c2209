// Scaled forward-backward (Rabiner 1989, with the scaling of Bishop §13.2.4) and Viterbi. Each sequence is
// independent, so the work is spread over threads by blocks of sequences; per-block sums are added in block
// order afterwards, which keeps results identical for any thread count.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "genforge/core/error.h"
#include "stats/markov.h"

namespace gf::stats {

namespace {

// Contiguous groups of sequences of roughly equal total length; fixed by the data alone.
std::vector<int64_t> block_bounds(const std::vector<int64_t>& offsets) {
  const int64_t s = static_cast<int64_t>(offsets.size()) - 1;
  const int64_t n_blocks = std::min<int64_t>(s, 64);
  std::vector<int64_t> bounds{0};
  const int64_t total = offsets.back();
  int64_t seq = 0;
  for (int64_t b = 1; b < n_blocks; ++b) {
    const int64_t target = total * b / n_blocks;
    while (seq < s && offsets[static_cast<size_t>(seq)] < target) ++seq;
    if (seq > bounds.back()) bounds.push_back(seq);
  }
  if (bounds.back() != s) bounds.push_back(s);
  return bounds;
}

struct ForwardSums {
  std::vector<double> start, xi;  // [K], [K * K] (sum of alpha_{t-1} v_t^T, multiplied by A at the end)
};

}  // namespace

ForwardBackward forward_backward(const at::Tensor& prob_in, const at::Tensor& log_scale_in,
                                 const std::vector<int64_t>& offsets, const at::Tensor& startprob,
                                 const at::Tensor& transmat, bool posteriors, bool steps) {
  auto prob = prob_in.to(at::kCPU, at::kDouble).contiguous();  // [N, K]
  const int64_t n = prob.size(0), k = prob.size(1);
  const int64_t s = static_cast<int64_t>(offsets.size()) - 1;
  auto log_scale = log_scale_in.defined() ? log_scale_in.to(at::kCPU, at::kDouble).contiguous() : at::Tensor();
  auto pi_t = startprob.to(at::kCPU, at::kDouble).contiguous();
  auto a_t = transmat.to(at::kCPU, at::kDouble).contiguous();
  const double* P = prob.data_ptr<double>();
  const double* LS = log_scale.defined() ? log_scale.data_ptr<double>() : nullptr;
  const double* pi = pi_t.data_ptr<double>();
  const double* A = a_t.data_ptr<double>();

  auto dopt = at::TensorOptions().dtype(at::kDouble);
  ForwardBackward out;
  out.seq_log_likelihood = at::empty({s}, dopt);
  // Forward variables live in `alpha` and are turned into posteriors in place by the backward pass.
  at::Tensor alpha = at::empty({posteriors ? n : 0, k}, dopt);
  at::Tensor scale = at::empty({n}, dopt);  // log c_t + log_scale_t
  double* seq_ll = out.seq_log_likelihood.data_ptr<double>();
  double* alpha_all = alpha.data_ptr<double>();
  double* step_ll = scale.data_ptr<double>();

  const auto bounds = block_bounds(offsets);
  const int64_t n_blocks = static_cast<int64_t>(bounds.size()) - 1;
  std::vector<ForwardSums> acc(static_cast<size_t>(n_blocks));

  at::parallel_for(0, n_blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<double> cur(static_cast<size_t>(k)), prev(static_cast<size_t>(k)), c;
    std::vector<double> beta(static_cast<size_t>(k)), beta_prev(static_cast<size_t>(k)), v(static_cast<size_t>(k));
    for (int64_t b = b0; b < b1; ++b) {
      ForwardSums& a = acc[static_cast<size_t>(b)];
      a.start.assign(static_cast<size_t>(k), 0.0);
      if (posteriors) a.xi.assign(static_cast<size_t>(k * k), 0.0);
      for (int64_t q = bounds[static_cast<size_t>(b)]; q < bounds[static_cast<size_t>(b) + 1]; ++q) {
        const int64_t first = offsets[static_cast<size_t>(q)], len = offsets[static_cast<size_t>(q) + 1] - first;
        c.resize(static_cast<size_t>(len));
        double ll = 0;
        bool possible = true;
        for (int64_t t = 0; t < len; ++t) {
          const double* pt = P + (first + t) * k;
          double* a_row = posteriors ? alpha_all + (first + t) * k : cur.data();
          if (t == 0) {
            for (int64_t j = 0; j < k; ++j) a_row[j] = pi[j] * pt[j];
          } else {
            const double* a_prev = posteriors ? a_row - k : prev.data();
            std::fill(a_row, a_row + k, 0.0);
            for (int64_t i = 0; i < k; ++i) {
              const double ai = a_prev[i];
              if (ai == 0.0) continue;
              const double* ar = A + i * k;
              for (int64_t j = 0; j < k; ++j) a_row[j] += ai * ar[j];
            }
            for (int64_t j = 0; j < k; ++j) a_row[j] *= pt[j];
          }
          double ct = 0;
          for (int64_t j = 0; j < k; ++j) ct += a_row[j];
          if (!(ct > 0.0)) {  // the sequence is impossible under the model
            possible = false;
            ct = 1.0;
          }
          const double inv = 1.0 / ct;
          for (int64_t j = 0; j < k; ++j) a_row[j] *= inv;
          c[static_cast<size_t>(t)] = ct;
          const double term = std::log(ct) + (LS ? LS[first + t] : 0.0);
          step_ll[first + t] = possible ? term : -std::numeric_limits<double>::infinity();
          ll += term;
          if (!posteriors) std::swap(cur, prev);
        }
        seq_ll[q] = possible ? ll : -std::numeric_limits<double>::infinity();
        if (!posteriors || !possible) {
          if (posteriors) std::fill(alpha_all + first * k, alpha_all + (first + len) * k, 0.0);
          continue;
        }
        // Backward pass: row t of alpha becomes gamma_t = alpha_t * beta_t once beta_t is known.
        std::fill(beta.begin(), beta.end(), 1.0);
        for (int64_t t = len - 1; t >= 1; --t) {
          const double* pt = P + (first + t) * k;
          const double inv_c = 1.0 / c[static_cast<size_t>(t)];
          for (int64_t j = 0; j < k; ++j) v[static_cast<size_t>(j)] = pt[j] * beta[static_cast<size_t>(j)] * inv_c;
          double* a_prev = alpha_all + (first + t - 1) * k;
          for (int64_t i = 0; i < k; ++i) {
            const double ai = a_prev[i];
            const double* ar = A + i * k;
            double* xr = a.xi.data() + i * k;
            double dot = 0;
            for (int64_t j = 0; j < k; ++j) {
              xr[j] += ai * v[static_cast<size_t>(j)];
              dot += ar[j] * v[static_cast<size_t>(j)];
            }
            beta_prev[static_cast<size_t>(i)] = dot;
          }
          double* a_cur = alpha_all + (first + t) * k;
          for (int64_t j = 0; j < k; ++j) a_cur[j] *= beta[static_cast<size_t>(j)];
          std::swap(beta, beta_prev);
        }
        double* a0 = alpha_all + first * k;
        for (int64_t j = 0; j < k; ++j) {
          a0[j] *= beta[static_cast<size_t>(j)];
          a.start[static_cast<size_t>(j)] += a0[j];
        }
      }
    }
  });

  out.start = at::zeros({k}, dopt);
  double* st = out.start.data_ptr<double>();
  if (posteriors) {
    out.trans = at::zeros({k, k}, dopt);
    double* tr = out.trans.data_ptr<double>();
    for (const auto& a : acc) {
      for (int64_t j = 0; j < k; ++j) st[j] += a.start[static_cast<size_t>(j)];
      for (int64_t j = 0; j < k * k; ++j) tr[j] += a.xi[static_cast<size_t>(j)];
    }
    out.trans *= a_t;  // xi_t(i, j) = alpha_{t-1}(i) A_ij p(x_t | j) beta_t(j) / c_t
    out.gamma = alpha;
  }
  if (steps) out.step_log_likelihood = scale;
  return out;
}

double viterbi_sequence(const double* log_emit, int64_t length, int64_t k, const double* log_start,
                        const double* log_trans, int64_t* path) {
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  std::vector<double> delta(static_cast<size_t>(k)), next(static_cast<size_t>(k));
  std::vector<int32_t> back(static_cast<size_t>(length * k), -1);
  std::vector<int64_t> active, next_active;
  for (int64_t j = 0; j < k; ++j) {
    delta[static_cast<size_t>(j)] = log_start[j] + log_emit[j];
    if (delta[static_cast<size_t>(j)] > kNegInf) active.push_back(j);
  }
  for (int64_t t = 1; t < length; ++t) {
    const double* e = log_emit + t * k;
    next_active.clear();
    std::fill(next.begin(), next.end(), kNegInf);
    for (int64_t j = 0; j < k; ++j) {
      if (!(e[j] > kNegInf)) continue;
      double best = kNegInf;
      int32_t arg = -1;
      for (int64_t i : active) {  // ascending, so the first maximum (lowest state) wins ties
        const double sc = delta[static_cast<size_t>(i)] + log_trans[i * k + j];
        if (sc > best) {
          best = sc;
          arg = static_cast<int32_t>(i);
        }
      }
      if (arg < 0) continue;
      next[static_cast<size_t>(j)] = best + e[j];
      back[static_cast<size_t>(t * k + j)] = arg;
      next_active.push_back(j);
    }
    std::swap(delta, next);
    std::swap(active, next_active);
  }
  double best = kNegInf;
  int64_t state = -1;
  for (int64_t j : active) {
    if (delta[static_cast<size_t>(j)] > best) {
      best = delta[static_cast<size_t>(j)];
      state = j;
    }
  }
  if (state < 0) {  // no path has positive probability: report the most likely state per step of nothing
    std::fill(path, path + length, int64_t{-1});
    return kNegInf;
  }
  for (int64_t t = length - 1; t >= 0; --t) {
    path[t] = state;
    if (t > 0) state = back[static_cast<size_t>(t * k + state)];
  }
  return best;
}

at::Tensor viterbi(const at::Tensor& log_emit_in, const std::vector<int64_t>& offsets, const at::Tensor& log_start,
                   const at::Tensor& log_trans, at::Tensor* log_prob) {
  auto log_emit = log_emit_in.to(at::kCPU, at::kDouble).contiguous();  // [N, K]
  auto ls = log_start.to(at::kCPU, at::kDouble).contiguous();
  auto lt = log_trans.to(at::kCPU, at::kDouble).contiguous();
  const int64_t n = log_emit.size(0), k = log_emit.size(1);
  const int64_t s = static_cast<int64_t>(offsets.size()) - 1;
  auto path = at::empty({n}, at::kLong);
  auto best = at::empty({s}, at::kDouble);
  const double* e = log_emit.data_ptr<double>();
  int64_t* p = path.data_ptr<int64_t>();
  double* bp = best.data_ptr<double>();
  const double* lsp = ls.data_ptr<double>();
  const double* ltp = lt.data_ptr<double>();
  at::parallel_for(0, s, 16, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t first = offsets[static_cast<size_t>(q)];
      bp[q] = viterbi_sequence(e + first * k, offsets[static_cast<size_t>(q) + 1] - first, k, lsp, ltp, p + first);
    }
  });
  if (log_prob) *log_prob = best;
  return path;
}

}  // namespace gf::stats
