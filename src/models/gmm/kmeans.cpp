// k-means for initialisation: greedy k-means++ seeding (as scikit-learn: 2 + floor(log K) candidates per step,
// keep the one that lowers the potential most) followed by Lloyd iterations.
#include <cmath>

#include "genforge/core/error.h"
#include "gmm_internal.h"

namespace gf::gmm {
namespace {
// Squared distances between rows of a [N, D] and b [K, D]. [N, K]
at::Tensor sq_dist(const at::Tensor& a, const at::Tensor& a_sq, const at::Tensor& b) {
  return (a_sq.unsqueeze(1) - 2.0 * at::mm(a, b.t()) + b.square().sum(1).unsqueeze(0)).clamp_min_(0.0);
}
}  // namespace

at::Tensor kmeans_plusplus(const at::Tensor& x, int64_t k, const at::Tensor& w, at::Generator& gen) {
  const int64_t n = x.size(0);
  const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  auto x_sq = x.square().sum(1);  // [N]
  auto cpu_long = at::TensorOptions().dtype(at::kLong);
  std::vector<int64_t> centers;
  auto weights = w.defined() ? w : at::ones({n}, x.options());
  int64_t first = at::multinomial(weights.to(at::kDouble).cpu(), 1, false, gen).item<int64_t>();
  centers.push_back(first);
  auto closest = sq_dist(x, x_sq, x[first].unsqueeze(0)).squeeze(1) * weights;  // [N]
  for (int64_t c = 1; c < k; ++c) {
    double pot = closest.sum().item<double>();
    at::Tensor candidates;
    if (pot > 0) {
      auto cum = closest.cumsum(0).to(at::kDouble).cpu();
      auto r = at::rand({trials}, gen, at::TensorOptions().dtype(at::kDouble)) * pot;
      candidates = at::searchsorted(cum, r).clamp_max_(n - 1);
    } else {
      candidates = at::randint(n, {trials}, gen, cpu_long);  // all points coincide with centres
    }
    candidates = candidates.to(x.device());
    auto d = sq_dist(x, x_sq, x.index_select(0, candidates)).t() * weights.unsqueeze(0);  // [trials, N]
    auto improved = at::minimum(d, closest.unsqueeze(0));
    auto best = improved.sum(1).argmin().item<int64_t>();
    centers.push_back(candidates[best].item<int64_t>());
    closest = improved[best];
  }
  return at::tensor(centers, cpu_long).to(x.device());
}

at::Tensor kmeans_labels(const at::Tensor& x, int64_t k, const at::Tensor& w, at::Generator& gen, int64_t max_iter,
                         double rel_tol) {
  auto x_sq = x.square().sum(1);
  auto weights = w.defined() ? w : at::ones({x.size(0)}, x.options());
  auto centers = x.index_select(0, kmeans_plusplus(x, k, w, gen));  // [K, D]
  const double tol = x.var(0, /*unbiased=*/false).mean().item<double>() * rel_tol;
  at::Tensor labels;
  for (int64_t it = 0; it < max_iter; ++it) {
    labels = sq_dist(x, x_sq, centers).argmin(1);  // [N]
    auto onehot = at::zeros({x.size(0), k}, x.options());
    onehot.scatter_(1, labels.unsqueeze(1), weights.unsqueeze(1));
    auto mass = onehot.sum(0);  // [K]
    auto sums = at::mm(onehot.t(), x);
    // An empty cluster keeps its old centre.
    auto keep = mass.eq(0).unsqueeze(1);
    auto updated = at::where(keep, centers, sums / mass.clamp_min(1e-300).unsqueeze(1));
    double shift = (updated - centers).square().sum().item<double>();
    centers = updated;
    if (shift <= tol) break;
  }
  return sq_dist(x, x_sq, centers).argmin(1);
}

}  // namespace gf::gmm
