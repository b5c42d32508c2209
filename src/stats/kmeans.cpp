// k-means for initialisation: greedy k-means++ seeding (as scikit-learn: 2 + floor(log K) candidates per step,
// keep the one that lowers the potential most) followed by Lloyd iterations.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <optional>
#include <vector>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "stats/gaussian_mixture.h"

namespace gf::stats {
namespace {
// Squared distances between rows of a [N, D] and b [K, D]. [N, K]
// Rows x components from which an initialisation shows a progress bar (about a second of work and up).
constexpr double kLongInitialisation = 5e7;

at::Tensor sq_dist(const at::Tensor& a, const at::Tensor& a_sq, const at::Tensor& b) {
  return (a_sq.unsqueeze(1) - 2.0 * at::mm(a, b.t()) + b.square().sum(1).unsqueeze(0)).clamp_min_(0.0);
}
}  // namespace

at::Tensor kmeans_plusplus(const at::Tensor& x, int64_t k, const at::Tensor& w, at::Generator& gen) {
  log::ScopedTimer timer("kmeans.seeding");
  const int64_t n = x.size(0);
  const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  auto x_sq = x.square().sum(1);  // [N]
  auto cpu_long = at::TensorOptions().dtype(at::kLong);
  std::vector<int64_t> centers;
  auto weights = w.defined() ? w : at::ones({n}, x.options());
  int64_t first = at::multinomial(weights.to(at::kDouble).cpu(), 1, false, gen).item<int64_t>();
  centers.push_back(first);
  auto closest = sq_dist(x, x_sq, x[first].unsqueeze(0)).squeeze(1) * weights;  // [N]
  // Seeding is O(N K): with many components on many rows it takes minutes, so it shows its progress.
  std::optional<Progress> bar;
  if (static_cast<double>(n) * static_cast<double>(k) >= kLongInitialisation) bar.emplace("k-means++ seeding", k, "centre");
  for (int64_t c = 1; c < k; ++c) {
    if (bar && c % 16 == 0) bar->update(c);
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
  if (bar) bar->finish();
  return at::tensor(centers, cpu_long).to(x.device());
}

namespace {
// One Lloyd assignment pass on the CPU: nearest centre of every row, and per-centre weighted sums and masses of
// the rows so assigned, computed block by block while the block is in cache (the tensor form makes four passes
// over [N, K] and [N, D]). Blocks are shared among threads with private sums, added in thread order.
// Returns the number of rows whose label changed.
template <typename T>
int64_t assign_cpu(const at::Tensor& x, const at::Tensor& w, const at::Tensor& centers, at::Tensor& labels,
                   at::Tensor& sums, at::Tensor& mass) {
  const int64_t n = x.size(0), d = x.size(1), k = centers.size(0);
  constexpr int64_t kBlock = 512;
  const int64_t n_blocks = (n + kBlock - 1) / kBlock;
  const auto c_norm = centers.square().sum(1);  // [K]
  const int64_t slots = at::get_num_threads();
  std::vector<at::Tensor> sum_slot(slots), mass_slot(slots);
  std::vector<int64_t> changed(slots, 0);
  for (int64_t t = 0; t < slots; ++t) {
    sum_slot[t] = at::zeros({k, d}, x.options());
    mass_slot[t] = at::zeros({k}, x.options());
  }
  int64_t* label = labels.data_ptr<int64_t>();
  const T* weight = w.defined() ? w.data_ptr<T>() : nullptr;
  const T* cn = c_norm.data_ptr<T>();
  at::parallel_for(0, n_blocks, 1, [&](int64_t b0, int64_t b1) {
    const int64_t slot = at::get_thread_num();
    T* sum = sum_slot[slot].data_ptr<T>();
    T* m = mass_slot[slot].data_ptr<T>();
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t s = blk * kBlock, e = std::min(n, s + kBlock);
      auto dots = at::mm(x.slice(0, s, e), centers.t()).contiguous();  // [B, K]
      const T* dp = dots.data_ptr<T>();
      const T* row = x.data_ptr<T>() + s * d;
      for (int64_t r = s; r < e; ++r, dp += k, row += d) {
        int64_t best = 0;
        T best_score = cn[0] - 2 * dp[0];
        for (int64_t j = 1; j < k; ++j) {
          const T score = cn[j] - 2 * dp[j];
          if (score < best_score) best_score = score, best = j;
        }
        if (label[r] != best) ++changed[slot], label[r] = best;
        const T wr = weight ? weight[r] : T(1);
        m[best] += wr;
        T* target = sum + best * d;
        for (int64_t c = 0; c < d; ++c) target[c] += wr * row[c];
      }
    }
  });
  sums = sum_slot[0];
  mass = mass_slot[0];
  int64_t total_changed = changed[0];
  for (int64_t t = 1; t < slots; ++t) sums.add_(sum_slot[t]), mass.add_(mass_slot[t]), total_changed += changed[t];
  return total_changed;
}

// The same on any device with tensor operations.
int64_t assign_tensor(const at::Tensor& x, const at::Tensor& w, const at::Tensor& centers, at::Tensor& labels,
                      at::Tensor& sums, at::Tensor& mass) {
  const int64_t k = centers.size(0);
  auto nearest = at::addmm(centers.square().sum(1).unsqueeze(0), x, centers.t(), 1.0, -2.0).argmin(1);  // [N]
  const int64_t changed = nearest.ne(labels).sum().item<int64_t>();
  labels = nearest;
  auto member = at::one_hot(labels, k).to(x.scalar_type()).t();  // [K, N]
  mass = w.defined() ? at::mv(member, w) : member.sum(1);         // [K]
  sums = at::mm(member, w.defined() ? x * w.unsqueeze(1) : x);    // [K, D]
  return changed;
}
}  // namespace

at::Tensor kmeans_labels(const at::Tensor& x_in, int64_t k, const at::Tensor& w, at::Generator& gen, int64_t max_iter,
                         double rel_tol) {
  const auto x = x_in.contiguous();
  auto centers = x.index_select(0, kmeans_plusplus(x, k, w, gen));  // [K, D]
  const double tol = x.var(0, /*unbiased=*/false).mean().item<double>() * rel_tol;
  log::ScopedTimer timer("kmeans.lloyd");
  auto assign = [&](at::Tensor& labels, at::Tensor& sums, at::Tensor& mass) -> int64_t {
    if (!x.is_cpu()) return assign_tensor(x, w, centers, labels, sums, mass);
    int64_t changed = 0;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kmeans_assign",
                               [&] { changed = assign_cpu<scalar_t>(x, w.defined() ? w.contiguous() : w, centers,
                                                                    labels, sums, mass); });
    return changed;
  };
  at::Tensor labels = at::full({x.size(0)}, -1, x.options().dtype(at::kLong));  // [N]
  at::Tensor sums, mass;
  assign(labels, sums, mass);
  std::optional<Progress> bar;
  if (static_cast<double>(x.size(0)) * static_cast<double>(k) >= kLongInitialisation) bar.emplace("k-means", max_iter, "iter");
  for (int64_t it = 0; it < max_iter; ++it) {
    if (bar) bar->update(it);
    // An empty cluster keeps its old centre.
    auto updated = at::where(mass.eq(0).unsqueeze(1), centers, sums / mass.clamp_min(1e-300).unsqueeze(1));
    double shift = (updated - centers).square().sum().item<double>();
    centers = updated;
    const int64_t changed = assign(labels, sums, mass);
    if (changed == 0 || shift <= tol) break;  // labels stable (strict convergence) or centres barely moved
  }
  return labels;
}

}  // namespace gf::stats
