// The report's two checks: memorisation (nearest-neighbour distances) and coverage (chi-square of category
// frequencies), and the hashed character n-gram features that put texts in a space with distances.
#include <boost/math/special_functions/gamma.hpp>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "genforge/apps/report.h"
#include "genforge/core/error.h"

namespace gf::apps {
namespace {

// Each row of `queries`' nearest row of `reference`: [Q] distances and indices; `skip_self` leaves out the row of
// the same index (queries == reference). In blocks, so the distance matrix never holds more than 16 M entries.
std::pair<std::vector<double>, std::vector<int64_t>> nearest(const torch::Tensor& queries, const torch::Tensor& reference,
                                                             bool skip_self) {
  auto q = queries.to(torch::kFloat64).contiguous();   // [Q, D]
  auto r = reference.to(torch::kFloat64).contiguous(); // [M, D]
  const auto r_norms = r.pow(2).sum(1);                // [M]
  std::vector<double> distance(static_cast<size_t>(q.size(0)));
  std::vector<int64_t> index(static_cast<size_t>(q.size(0)));
  const int64_t block = std::max<int64_t>(1, (1 << 24) / std::max<int64_t>(1, r.size(0)));
  for (int64_t start = 0; start < q.size(0); start += block) {
    const int64_t end = std::min(q.size(0), start + block);
    auto qb = q.slice(0, start, end);
    auto d2 = (qb.pow(2).sum(1, true) - 2 * torch::matmul(qb, r.t()) + r_norms.unsqueeze(0)).clamp_min(0);  // [B, M]
    // Each query row i's own column (i) in this block: the block's diagonal from column `start`.
    if (skip_self) d2.narrow(1, start, end - start).diagonal().fill_(std::numeric_limits<double>::infinity());
    auto [values, where] = d2.min(1);
    const auto roots = values.sqrt().contiguous(), nearest_rows = where.to(torch::kLong).contiguous();
    std::copy(roots.data_ptr<double>(), roots.data_ptr<double>() + (end - start), distance.begin() + start);
    std::copy(nearest_rows.data_ptr<int64_t>(), nearest_rows.data_ptr<int64_t>() + (end - start), index.begin() + start);
  }
  return {distance, index};
}

double quantile(std::vector<double> v, double p) {  // linear interpolation, numpy's default
  std::sort(v.begin(), v.end());
  const double at = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(at));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (at - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

uint64_t fnv1a(const char* data, size_t size) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<uint8_t>(data[i])) * 1099511628211ULL;
  return h;
}

}  // namespace

MemorisationCheck memorisation_check(const torch::Tensor& samples, const torch::Tensor& train,
                                     const torch::Tensor& holdout, const MemorisationOptions& o) {
  GF_CHECK(samples.dim() == 2 && train.dim() == 2 && samples.size(1) == train.size(1),
           "memorisation check: samples [N, D] and training items [M, D] of one width, got ", samples.sizes(),
           " and ", train.sizes());
  GF_CHECK(samples.size(0) >= 1 && train.size(0) >= 2, "memorisation check: needs samples and at least 2 training "
           "items, got ", samples.size(0), " and ", train.size(0));
  GF_CHECK(!holdout.defined() || (holdout.dim() == 2 && holdout.size(1) == train.size(1) && holdout.size(0) >= 1),
           "memorisation check: held-out items [H, D] of the training width, got ", holdout.sizes());
  MemorisationCheck c;
  std::vector<int64_t> nearest_train;
  std::tie(c.sample_distances, nearest_train) = nearest(samples, train, false);
  if (holdout.defined()) {
    c.reference_distances = nearest(holdout, train, false).first;
    c.reference = "held-out data";
  } else {
    c.reference_distances = nearest(train, train, true).first;
    c.reference = "training data (leave-one-out)";
  }
  c.threshold = o.flag_ratio * quantile(c.reference_distances, o.flag_quantile);
  const double p05 = quantile(c.reference_distances, 0.05);
  std::vector<int64_t> order(c.sample_distances.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return c.sample_distances[static_cast<size_t>(a)] < c.sample_distances[static_cast<size_t>(b)];
  });
  int64_t below_p05 = 0;
  for (size_t i = 0; i < c.sample_distances.size(); ++i) {
    const double d = c.sample_distances[i];
    below_p05 += d < p05;
    if (d < c.threshold) c.flagged_samples.push_back(static_cast<int64_t>(i));
  }
  c.flagged = static_cast<int64_t>(c.flagged_samples.size());
  c.share_below_reference_p05 = static_cast<double>(below_p05) / static_cast<double>(c.sample_distances.size());
  const double reference_median = quantile(c.reference_distances, 0.5);
  c.median_ratio = reference_median > 0 ? quantile(c.sample_distances, 0.5) / reference_median : 0.0;
  for (size_t k = 0; k < order.size() && static_cast<int64_t>(k) < o.shown; ++k) {
    const int64_t s = order[k];
    const double d = c.sample_distances[static_cast<size_t>(s)];
    c.shown.push_back({s, nearest_train[static_cast<size_t>(s)], d, d < c.threshold});
  }
  return c;
}

nlohmann::json MemorisationCheck::to_json() const {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& p : shown) {
    pairs.push_back({{"sample", p.sample}, {"train", p.train}, {"distance", p.distance}, {"flagged", p.flagged}});
  }
  return {{"reference", reference},
          {"threshold", threshold},
          {"flagged", flagged},
          {"flagged_samples", flagged_samples},
          {"samples", sample_distances.size()},
          {"share_below_reference_p05", share_below_reference_p05},
          {"median_ratio", median_ratio},
          {"shown", pairs}};
}

double chi_square_tail(double x, int64_t k) {
  GF_CHECK(k >= 1, "chi-square degrees of freedom must be >= 1, got ", k);
  if (!(x > 0)) return 1.0;
  return boost::math::gamma_q(static_cast<double>(k) / 2.0, x / 2.0);
}

CoverageCheck coverage_check(const std::string& what, const std::vector<std::string>& categories,
                             const std::vector<double>& real_counts, const std::vector<int64_t>& sample_counts,
                             const CoverageOptions& o) {
  GF_CHECK(categories.size() == real_counts.size() && categories.size() == sample_counts.size(),
           "coverage check: ", categories.size(), " categories but ", real_counts.size(), " real and ",
           sample_counts.size(), " sample counts");
  const double real_total = std::accumulate(real_counts.begin(), real_counts.end(), 0.0);
  const int64_t n = std::accumulate(sample_counts.begin(), sample_counts.end(), int64_t{0});
  GF_CHECK(real_total > 0 && n > 0, "coverage check of ", what, ": no real items or no samples to count");
  CoverageCheck c;
  c.what = what;
  c.categories = categories;
  c.sample_counts = sample_counts;
  int64_t tested = 0;
  for (size_t k = 0; k < categories.size(); ++k) {
    const double real = real_counts[k] / real_total;
    const double observed = static_cast<double>(sample_counts[k]);
    c.real_share.push_back(real);
    c.sample_share.push_back(observed / static_cast<double>(n));
    if (real <= 0) {
      if (observed > 0) c.unseen.push_back(categories[k]);
      continue;
    }
    ++tested;
    const double expected = real * static_cast<double>(n);
    const double residual = (observed - expected) / std::sqrt(expected);
    c.chi_square += residual * residual;
    if (real < o.min_share || std::abs(residual) <= o.min_residual) continue;
    const double ratio = c.sample_share.back() / real;
    if (ratio < 1.0 / o.ratio) c.under.push_back(categories[k]);
    if (ratio > o.ratio) c.over.push_back(categories[k]);
  }
  c.degrees_of_freedom = std::max<int64_t>(1, tested - 1);
  c.p_value = chi_square_tail(c.chi_square, c.degrees_of_freedom);
  return c;
}

nlohmann::json CoverageCheck::to_json() const {
  return {{"what", what},         {"categories", categories},
          {"real_share", real_share}, {"sample_share", sample_share},
          {"sample_counts", sample_counts}, {"chi_square", chi_square},
          {"degrees_of_freedom", degrees_of_freedom}, {"p_value", p_value},
          {"under", under},       {"over", over},
          {"unseen", unseen}};
}

torch::Tensor text_features(const std::vector<std::string>& texts, int64_t dimensions) {
  GF_CHECK(dimensions >= 16, "text features need at least 16 dimensions, got ", dimensions);
  auto out = torch::zeros({static_cast<int64_t>(texts.size()), dimensions}, torch::kFloat64);
  auto a = out.accessor<double, 2>();
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& t = texts[i];
    for (size_t n = 3; n <= 5; ++n) {
      for (size_t at = 0; at + n <= t.size(); ++at) {
        a[static_cast<int64_t>(i)][static_cast<int64_t>(fnv1a(t.data() + at, n) % static_cast<uint64_t>(dimensions))] += 1.0;
      }
    }
  }
  return out / out.norm(2, {1}, true).clamp_min(1e-12);
}

}  // namespace gf::apps
