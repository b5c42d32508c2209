// One EM iteration on complete rows as a single pass over the data: each block of rows gets its E-step
// (log-densities, responsibilities, log-likelihood) and immediately adds its sufficient statistics for the
// M-step, while the block is still in cache. On the CPU the blocks are shared among threads, each with its own
// accumulators (BLAS then runs single-threaded inside each thread), summed in thread order at the end so a
// given thread count always gives the same numbers. Other devices take the whole data as one block.
//
// Data are centred once per fit on their (weighted) mean: sums of squares about that point lose less to
// cancellation than raw second moments, and the E-step expansions for diag/spherical become safe.
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "core/constants.h"
#include "stats/gaussian_mixture.h"

namespace gf::stats {
namespace {
// Per-iteration constants of the E-step, built once from the parameters.
struct EStepPlan {
  CovType type;
  at::Tensor stacked;    // full: [D, K*D] precision factors side by side; tied: [D, D]
  at::Tensor offset;     // full: [1, K*D] mu_k U_k; tied: [K, D]
  at::Tensor prec;       // diag: [K, D], spherical: [K] squared factors
  at::Tensor cross;      // diag/spherical: [D, K] mu_k * prec_k
  at::Tensor mean_quad;  // diag/spherical: [1, K] mu_k^T P_k mu_k
  at::Tensor constant;   // [1, K] offset_k + log det U_k - D/2 log(2 pi)
  // full in float64: quadratic forms through the row's pair products (see pair_products).
  bool by_pairs = false;
  at::Tensor pair_coef;  // [P + D, K]
};

// Column pairs (i <= j) of a D-column matrix, in row-major upper-triangle order.
struct PairIndex {
  at::Tensor first, second;  // int64 [P], P = D(D+1)/2
};
PairIndex pair_index(int64_t d, const at::Device& device) {
  auto iu = at::triu_indices(d, d, 0, at::TensorOptions().dtype(at::kLong).device(device));  // [2, P]
  return {iu[0], iu[1]};
}

// [B, P + D]: the products x_i x_j (i <= j) of each row, then the row itself. With them, every component's
// quadratic form is one GEMM against its packed precision ([P + D, K]) and the M-step's first and second moments
// of all components are one GEMM resp^T [K, B] x [B, P + D]: half the work of the per-component form, since
// the symmetric half is never computed twice.
// The CPU loop is built for several instruction sets (chosen at load time), as Debian's baseline is SSE2 only.
__attribute__((target_clones("avx512f", "avx2", "default"))) void pair_products_rows(
    const double* __restrict x, int64_t rows, int64_t d, double* __restrict z) {
  for (int64_t r = 0; r < rows; ++r, x += d) {
    for (int64_t i = 0; i < d; ++i) {
      const double xi = x[i];
      const int64_t len = d - i;
      for (int64_t j = 0; j < len; ++j) z[j] = xi * x[i + j];
      z += len;
    }
    for (int64_t i = 0; i < d; ++i) z[i] = x[i];
    z += d;
  }
}

at::Tensor pair_products(const at::Tensor& xb, const PairIndex& pairs) {
  const int64_t b = xb.size(0), d = xb.size(1), p = pairs.first.numel();
  auto out = at::empty({b, p + d}, xb.options());
  if (xb.is_cpu() && xb.scalar_type() == at::kDouble && xb.is_contiguous()) {
    pair_products_rows(xb.data_ptr<double>(), b, d, out.data_ptr<double>());
  } else {
    auto prod = out.narrow(1, 0, p);
    at::mul_out(prod, xb.index_select(1, pairs.first), xb.index_select(1, pairs.second));
    out.narrow(1, p, d).copy_(xb);
  }
  return out;
}

EStepPlan make_plan(const at::Tensor& pc, const at::Tensor& log_offset, const at::Tensor& centred_means, CovType type,
                    const PairIndex* pairs) {
  const int64_t k = centred_means.size(0), d = centred_means.size(1);
  EStepPlan plan;
  plan.type = type;
  switch (type) {
    case CovType::full:
      if (pairs) {
        // (x - mu)^T P (x - mu) = sum_{i<=j} c_ij x_i x_j - 2 (P mu)^T x + mu^T P mu, c_ii = P_ii, c_ij = 2 P_ij.
        auto prec = at::bmm(pc, pc.transpose(1, 2));  // [K, D, D]
        auto packed = prec.index({at::indexing::Slice(), pairs->first, pairs->second});  // [K, P]
        packed = packed * at::where(pairs->first == pairs->second, 1.0, 2.0).to(packed.dtype()).unsqueeze(0);
        auto prec_mean = at::bmm(prec, centred_means.unsqueeze(2)).squeeze(2);  // [K, D]
        plan.by_pairs = true;
        plan.pair_coef = at::cat({packed, -2.0 * prec_mean}, 1).t().contiguous();  // [P + D, K]
        plan.mean_quad = (prec_mean * centred_means).sum(1).unsqueeze(0);
      } else {
        plan.stacked = pc.permute({1, 0, 2}).reshape({d, k * d}).contiguous();
        plan.offset = at::bmm(centred_means.unsqueeze(1), pc).reshape({1, k * d});
      }
      break;
    case CovType::tied:
      plan.stacked = pc.contiguous();
      plan.offset = at::mm(centred_means, pc);
      break;
    case CovType::diag:
      plan.prec = pc.square();
      plan.cross = (centred_means * plan.prec).t().contiguous();
      plan.mean_quad = (centred_means.square() * plan.prec).sum(1).unsqueeze(0);
      break;
    case CovType::spherical:
      plan.prec = pc.square();
      plan.cross = (centred_means * plan.prec.unsqueeze(1)).t().contiguous();
      plan.mean_quad = (centred_means.square().sum(1) * plan.prec).unsqueeze(0);
      break;
  }
  const auto logdet = log_det_cholesky(pc, type, k, d);  // [K]
  plan.constant = (log_offset + logdet - 0.5 * static_cast<double>(d) * kLog2Pi).unsqueeze(0);
  return plan;
}

// (x_n - mu_k)^T P_k (x_n - mu_k) for a block of rows (xb_sq: their squares, diag/spherical; zb: their pair
// products, full by pairs). [B, K]
at::Tensor quad_block(const EStepPlan& plan, const at::Tensor& xb, const at::Tensor& xb_sq, const at::Tensor& zb) {
  const int64_t b = xb.size(0), k = plan.constant.size(1);
  at::Tensor quad;  // [B, K]
  switch (plan.type) {
    case CovType::full: {
      if (plan.by_pairs) {
        quad = at::addmm(plan.mean_quad, zb, plan.pair_coef);
        break;
      }
      auto y = at::addmm(plan.offset, xb, plan.stacked, /*beta=*/-1.0, /*alpha=*/1.0);  // [B, K*D]
      quad = y.square_().view({b, k, -1}).sum(-1);
      break;
    }
    case CovType::tied: {
      auto y = at::mm(xb, plan.stacked);  // [B, D]
      quad = (y.unsqueeze(1) - plan.offset.unsqueeze(0)).square_().sum(-1);
      break;
    }
    case CovType::diag:
      quad = at::addmm(plan.mean_quad, xb, plan.cross, 1.0, -2.0).addmm_(xb_sq, plan.prec.t());
      break;
    case CovType::spherical:
      quad = at::addmm(plan.mean_quad, xb, plan.cross, 1.0, -2.0).add_(xb_sq.sum(1, true) * plan.prec.unsqueeze(0));
      break;
  }
  return quad;
}

// offset_k + log N(x_n | mu_k, Sigma_k) for a block of centred rows. [B, K]
at::Tensor weighted_log_prob_block(const EStepPlan& plan, const at::Tensor& xb, const at::Tensor& xb_sq,
                                  const at::Tensor& zb) {
  return quad_block(plan, xb, xb_sq, zb).mul_(-0.5).add_(plan.constant);
}

// One thread's running sums.
struct Accumulator {
  double log_likelihood = 0;  // sum_n w_n log p(x_n)
  double resp_log_resp = 0;   // sum_n w_n sum_k r_nk log r_nk
  at::Tensor mass;            // [K] sum_n r_nk
  at::Tensor first;           // [K, D] sum_n r_nk x_n
  at::Tensor second;          // full: [K*D, D] sum_n r_nk x_n x_n^T; diag/spherical: [K, D] sum_n r_nk x_n^2
  at::Tensor moments;         // full by pairs: [K, P + D] sum_n r_nk z_n
};

int64_t rows_per_block(CovType type, int64_t k, int64_t d) {
  // A block's widest matrix ([B, K*D] or [B, D(D+1)/2 + D] for full) is kept near 64K numbers: on W1 (full,
  // K=10, D=32) 2^16 gave 38.8 ms per iteration, 2^15 41.0, 2^17 48.6, 2^14 52.6 (2 threads); smaller blocks also
  // let OpenBLAS take its no-packing path for small matrices.
  const int64_t width = type == CovType::full ? std::max(k * d, d * (d + 3) / 2) : std::max<int64_t>(k, d);
  return std::max<int64_t>(16, (int64_t{1} << 16) / std::max<int64_t>(1, width));
}
}  // namespace

at::Tensor mahalanobis_sq(const at::Tensor& x, const at::Tensor& means, const at::Tensor& pc, CovType type) {
  const int64_t n = x.size(0), d = x.size(1), k = means.size(0);
  const EStepPlan plan = make_plan(pc, at::zeros({k}, means.options()), means, type, /*pairs=*/nullptr);
  const bool squares = type == CovType::diag || type == CovType::spherical;
  auto quad = at::empty({n, k}, x.options());  // [N, K]
  const int64_t block = rows_per_block(type, k, d);
  for (int64_t s = 0; s < n; s += block) {
    auto xb = x.slice(0, s, std::min(n, s + block));
    quad.slice(0, s, s + xb.size(0)).copy_(quad_block(plan, xb, squares ? xb.square() : at::Tensor(), {}));
  }
  return quad;
}

EmData prepare_em_data(const at::Tensor& x, const at::Tensor& row_weight, CovType type,
                       dist::Communicator* across) {
  EmData data;
  data.row_weight = row_weight;
  data.total_weight = row_weight.defined() ? row_weight.sum().item<double>() : static_cast<double>(x.size(0));
  data.shift = row_weight.defined() ? at::mv(x.t(), row_weight) / data.total_weight : x.mean(0);  // [D]
  data.centred = (x - data.shift).contiguous();                                                     // [N, D]
  if (type == CovType::diag || type == CovType::spherical) data.centred_sq = data.centred.square();
  if (type == CovType::tied) {
    const auto& xc = data.centred;
    data.scatter = row_weight.defined() ? at::mm(xc.t(), xc * row_weight.unsqueeze(1)) : at::mm(xc.t(), xc);
  }
  if (across != nullptr && across->distributed()) {
    // The shift, total weight and scatter above are of all rows (every rank holds them all); the E-step's
    // per-row work is this rank's share.
    const auto [begin, end] = dist::shard(x.size(0), across->rank(), across->size());
    data.centred = data.centred.slice(0, begin, end);
    if (data.centred_sq.defined()) data.centred_sq = data.centred_sq.slice(0, begin, end);
    if (data.row_weight.defined()) data.row_weight = data.row_weight.slice(0, begin, end);
    data.across = across;
  }
  return data;
}

EStepTotals em_iteration(const EmData& data, const at::Tensor& means, const at::Tensor& precisions_chol,
                         const at::Tensor& log_offset, CovType type, double reg_covar, bool want_resp_log_resp,
                         GaussianStats& next) {
  const at::Tensor& xc = data.centred;  // [N, D]
  const int64_t n = xc.size(0), d = xc.size(1), k = means.size(0);
  const auto centred_means = means - data.shift;  // [K, D]
  // float32 keeps the direct form: its expansion would lose too many digits to cancellation.
  const bool by_pairs = type == CovType::full && xc.scalar_type() == at::kDouble;
  const PairIndex pairs = by_pairs ? pair_index(d, xc.device()) : PairIndex{};
  const EStepPlan plan = make_plan(precisions_chol, log_offset, centred_means, type, by_pairs ? &pairs : nullptr);
  const int64_t n_pairs = d * (d + 1) / 2;

  const bool on_cpu = xc.is_cpu();
  const int64_t block = on_cpu ? rows_per_block(type, k, d) : n;
  const int64_t n_blocks = (n + block - 1) / block;
  const int64_t n_slots = on_cpu ? at::get_num_threads() : 1;
  std::vector<Accumulator> acc(static_cast<size_t>(n_slots));
  for (auto& a : acc) {
    a.mass = at::zeros({k}, xc.options());
    if (!by_pairs) a.first = at::zeros({k, d}, xc.options());
    if (by_pairs) a.moments = at::zeros({k, n_pairs + d}, xc.options());
    if (type == CovType::full && !by_pairs) a.second = at::zeros({k * d, d}, xc.options());
    if (type == CovType::diag || type == CovType::spherical) a.second = at::zeros({k, d}, xc.options());
  }

  auto run_blocks = [&](int64_t first_block, int64_t last_block, Accumulator& a) {
    for (int64_t blk = first_block; blk < last_block; ++blk) {
      const int64_t s = blk * block, e = std::min(n, s + block), b = e - s;
      auto xb = xc.slice(0, s, e);  // [B, D]
      auto xb_sq = data.centred_sq.defined() ? data.centred_sq.slice(0, s, e) : at::Tensor();
      auto zb = by_pairs ? pair_products(xb, pairs) : at::Tensor();  // [B, P + D]
      auto lp = weighted_log_prob_block(plan, xb, xb_sq, zb);      // [B, K]
      auto norm = at::logsumexp(lp, 1, /*keepdim=*/true);  // [B, 1]
      auto log_resp = lp.sub_(norm);                       // [B, K]
      auto resp = log_resp.exp();                          // [B, K]
      if (data.row_weight.defined()) {
        auto wb = data.row_weight.slice(0, s, e);
        a.log_likelihood += at::dot(norm.view({b}), wb).item<double>();
        resp.mul_(wb.unsqueeze(1));
      } else {
        a.log_likelihood += norm.sum().item<double>();
      }
      if (want_resp_log_resp) a.resp_log_resp += (resp * log_resp).sum().item<double>();
      a.mass.add_(resp.sum(0));
      if (by_pairs) {
        a.moments.addmm_(resp.t(), zb);  // first and second moments at once
        continue;
      }
      a.first.addmm_(resp.t(), xb);
      if (type == CovType::full) {
        auto weighted = (resp.unsqueeze(2) * xb.unsqueeze(1)).view({b, k * d});  // [B, K*D]
        a.second.addmm_(weighted.t(), xb);
      } else if (a.second.defined()) {
        a.second.addmm_(resp.t(), xb_sq);
      }
    }
  };
  if (on_cpu && n_slots > 1) {
    at::parallel_for(0, n_blocks, 1, [&](int64_t first_block, int64_t last_block) {
      run_blocks(first_block, last_block, acc[static_cast<size_t>(at::get_thread_num())]);
    });
  } else {
    run_blocks(0, n_blocks, acc[0]);
  }
  for (size_t t = 1; t < acc.size(); ++t) {
    acc[0].log_likelihood += acc[t].log_likelihood;
    acc[0].resp_log_resp += acc[t].resp_log_resp;
    acc[0].mass.add_(acc[t].mass);
    if (acc[0].first.defined()) acc[0].first.add_(acc[t].first);
    if (acc[0].second.defined()) acc[0].second.add_(acc[t].second);
    if (acc[0].moments.defined()) acc[0].moments.add_(acc[t].moments);
  }
  Accumulator& sum = acc[0];
  if (data.across != nullptr) {  // sums over every rank's rows: one all-reduce per iteration
    auto totals = at::tensor({sum.log_likelihood, sum.resp_log_resp}, at::kDouble);
    std::vector<at::Tensor> parts{sum.mass, totals};
    for (const auto* t : {&sum.first, &sum.second, &sum.moments}) {
      if (t->defined()) parts.push_back(*t);
    }
    data.across->all_reduce_sum(parts);
    sum.log_likelihood = totals[0].item<double>();
    sum.resp_log_resp = totals[1].item<double>();
  }
  if (by_pairs) {
    sum.first = sum.moments.narrow(1, n_pairs, d);
    auto second = at::zeros({k, d, d}, xc.options());
    auto packed = sum.moments.narrow(1, 0, n_pairs);
    second.index_put_({at::indexing::Slice(), pairs.first, pairs.second}, packed);
    second.index_put_({at::indexing::Slice(), pairs.second, pairs.first}, packed);
    sum.second = second;
  }

  // Gaussian statistics from the sums, with scikit-learn's 10*eps added to each component's mass.
  const double eps = xc.scalar_type() == at::kFloat ? 1.1920928955078125e-07 : 2.220446049250313e-16;
  auto nk = sum.mass + 10 * eps;            // [K]
  auto mc = sum.first / nk.unsqueeze(1);    // [K, D] new means, centred
  switch (type) {
    case CovType::full:
      next.covariances = sum.second.view({k, d, d}) / nk.view({k, 1, 1}) - mc.unsqueeze(2) * mc.unsqueeze(1);
      next.covariances.diagonal(0, -2, -1).add_(reg_covar);
      break;
    case CovType::tied:
      next.covariances = (data.scatter - at::mm((nk.unsqueeze(1) * mc).t(), mc)) / nk.sum();
      next.covariances.diagonal().add_(reg_covar);
      break;
    case CovType::diag:
    case CovType::spherical:
      next.covariances = sum.second / nk.unsqueeze(1) - mc.square() + reg_covar;
      if (type == CovType::spherical) next.covariances = next.covariances.mean(1);
      break;
  }
  next.nk = nk;
  next.means = mc + data.shift;
  return {sum.log_likelihood / data.total_weight, sum.resp_log_resp};
}

}  // namespace gf::stats
