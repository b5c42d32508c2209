// SDMetrics' single-table metrics (see include/genforge/eval/table.h for the conventions). Summation orders follow
// SDMetrics where it changes the last digits (TVComplement's Counter order and its 1e-6 regularisation).
#include "genforge/eval/table.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <unordered_map>

#include "genforge/core/error.h"

namespace gf::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_numeric_kind(const Column& c) { return c.type != ColumnType::categorical; }  // numerical or datetime

const std::string& label(const Column& c, size_t i) { return c.categories[size_t(c.values[i])]; }

// The key a value is compared by: the label for categories, the number otherwise; missing is its own key.
std::string key_of(const Column& c, size_t i) {
  if (c.missing[i]) return std::string("\x01missing", 8);
  if (c.type == ColumnType::categorical) return label(c, i);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", c.values[i]);
  return buf;
}

std::vector<double> present_values(const Column& c) {
  std::vector<double> out;
  for (size_t i = 0; i < c.size(); ++i)
    if (!c.missing[i]) out.push_back(c.values[i]);
  return out;
}

// numpy.round(x, 14): rint(x * 1e14) / 1e14.
double round14(double x) { return std::nearbyint(x * 1e14) / 1e14; }

// scipy.stats.ks_2samp's two-sided statistic: the largest gap between the two empirical CDFs.
double ks_statistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double na = double(a.size()), nb = double(b.size());
  double d = 0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    // Step past every copy of the next value in both samples before comparing the CDFs.
    const double v = j >= b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    d = std::max(d, std::fabs(double(i) / na - double(j) / nb));
  }
  return d;
}

void check_pair(const Column& real, const Column& synthetic) {
  GF_CHECK_AS(DataError, real.type == synthetic.type || (real.is_numeric() && synthetic.is_numeric()),
              "give both tables the same column types (--types)", "column '", real.name, "' is ",
              to_string(real.type), " in the real table but ", to_string(synthetic.type), " in the synthetic one");
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return kNaN;
  if (n == 2) {
    auto sign = [](double v) { return double((v > 0) - (v < 0)); };
    return sign(x[1] - x[0]) * sign(y[1] - y[0]);
  }
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / double(n);
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / double(n);
  double sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  const double nx = std::sqrt(sxx), ny = std::sqrt(syy);
  double r = 0;
  for (size_t i = 0; i < n; ++i) r += ((x[i] - mx) / nx) * ((y[i] - my) / ny);
  return std::max(-1.0, std::min(1.0, r));
}

// Average ranks (1-based), ties sharing the mean of their positions, as scipy.stats.rankdata.
std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = (double(i) + double(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

size_t distinct_present(const Column& c) {
  std::vector<double> v = present_values(c);
  std::sort(v.begin(), v.end());
  return size_t(std::unique(v.begin(), v.end()) - v.begin());
}

// numpy.histogram_bin_edges(values, bins) then numpy.digitize: bin i holds edges[i-1] <= x < edges[i]; values at
// or above the last edge and missing values (NaN sorts last) get `bins + 1`.
std::vector<std::string> digitized(const Column& c, int bins) {
  const auto present = present_values(c);
  std::vector<std::string> out(c.size());
  if (present.empty()) {
    for (auto& s : out) s = std::to_string(bins + 1);
    return out;
  }
  double first = *std::min_element(present.begin(), present.end());
  double last = *std::max_element(present.begin(), present.end());
  if (first == last) {
    first -= 0.5;
    last += 0.5;
  }
  std::vector<double> edges(size_t(bins) + 1);
  const double step = (last - first) / bins;
  for (int i = 0; i <= bins; ++i) edges[size_t(i)] = double(i) * step + first;
  edges.back() = last;
  for (size_t i = 0; i < c.size(); ++i) {
    const int64_t bin = c.missing[i] ? bins + 1
                                     : int64_t(std::upper_bound(edges.begin(), edges.end(), c.values[i]) - edges.begin());
    out[i] = std::to_string(bin);
  }
  return out;
}

std::vector<std::string> contingency_keys(const Column& c, int bins) {
  if (c.type == ColumnType::categorical) {
    std::vector<std::string> out(c.size());
    for (size_t i = 0; i < c.size(); ++i) out[i] = key_of(c, i);
    return out;
  }
  return digitized(c, bins);
}

// Joint-category frequencies in first-seen order.
std::vector<std::pair<std::string, double>> joint_frequencies(const std::vector<std::string>& a,
                                                              const std::vector<std::string>& b) {
  std::unordered_map<std::string, size_t> slot;
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string k = a[i] + '\x00' + b[i];
    auto [it, fresh] = slot.emplace(k, out.size());
    if (fresh) out.emplace_back(std::move(k), 0.0);
    out[it->second].second += 1;
  }
  for (auto& kv : out) kv.second /= double(a.size());
  return out;
}

// scipy.stats.contingency.association(method="cramer") of the observed table: sqrt(chi2 / n / (min(r, c) - 1))
// without continuity correction; NaN for a table with a single row or column.
double cramers_v(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::unordered_map<std::string, size_t> rows, cols;
  for (const auto& k : a) rows.emplace(k, rows.size());
  for (const auto& k : b) cols.emplace(k, cols.size());
  const size_t r = rows.size(), c = cols.size();
  if (r < 2 || c < 2) return kNaN;
  std::vector<double> observed(r * c, 0.0), row_sum(r, 0.0), col_sum(c, 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    const size_t ri = rows[a[i]], ci = cols[b[i]];
    observed[ri * c + ci] += 1;
    row_sum[ri] += 1;
    col_sum[ci] += 1;
  }
  const double n = double(a.size());
  double chi2 = 0;
  for (size_t i = 0; i < r; ++i)
    for (size_t j = 0; j < c; ++j) {
      const double expected = row_sum[i] * col_sum[j] / n;
      const double d = observed[i * c + j] - expected;
      chi2 += d * d / expected;
    }
  return std::sqrt(chi2 / n / double(std::min(r, c) - 1));
}

}  // namespace

double ks_complement(const Column& real, const Column& synthetic) {
  check_pair(real, synthetic);
  GF_CHECK_AS(DataError, is_numeric_kind(real), "KSComplement is for numerical and datetime columns",
              "column '", real.name, "' is categorical");
  auto a = present_values(real), b = present_values(synthetic);
  if (a.empty() || b.empty()) return kNaN;
  for (auto& v : a) v = round14(v);
  for (auto& v : b) v = round14(v);
  return 1 - ks_statistic(std::move(a), std::move(b));
}

double tv_complement(const Column& real, const Column& synthetic) {
  check_pair(real, synthetic);
  // Counter(real) in first-seen order, then the synthetic-only values with their 1e-6 count.
  auto count = [](const Column& c, std::vector<std::string>& order, std::unordered_map<std::string, double>& counts) {
    double total = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      if (c.missing[i]) continue;
      auto k = key_of(c, i);
      if (counts.emplace(k, 0.0).second) order.push_back(k);
      counts[k] += 1;
      total += 1;
    }
    return total;
  };
  std::vector<std::string> order, synthetic_order;
  std::unordered_map<std::string, double> real_count, synthetic_count;
  const double n_real = count(real, order, real_count);
  const double n_synthetic = count(synthetic, synthetic_order, synthetic_count);
  GF_CHECK_AS(DataError, n_real > 0 && n_synthetic > 0, "TVComplement needs values on both sides",
              "column '", real.name, "' has no non-missing values in the ", n_real > 0 ? "synthetic" : "real",
              " table");
  double real_total = n_real;
  for (const auto& k : synthetic_order) {
    if (!real_count.count(k)) {
      real_count[k] = 1e-6;
      order.push_back(k);
      real_total += 1e-6;
    }
  }
  double tv = 0;
  for (const auto& k : order) {
    auto it = synthetic_count.find(k);
    const double f_obs = (it == synthetic_count.end() ? 0.0 : it->second) / n_synthetic;
    tv += std::fabs(f_obs - real_count[k] / real_total);
  }
  return 1 - 0.5 * tv;
}

CorrelationSimilarity correlation_similarity(const Column& real_a, const Column& real_b, const Column& synthetic_a,
                                             const Column& synthetic_b, Correlation coefficient,
                                             double real_threshold) {
  GF_CHECK(real_threshold >= 0 && real_threshold <= 1, "real correlation threshold must be in [0, 1], got ",
           real_threshold);
  check_pair(real_a, synthetic_a);
  check_pair(real_b, synthetic_b);
  GF_CHECK_AS(DataError, is_numeric_kind(real_a) && is_numeric_kind(real_b),
              "use contingency similarity for categorical columns", "correlation needs two numeric columns, got '",
              real_a.name, "' and '", real_b.name, "'");
  CorrelationSimilarity out{kNaN, kNaN, kNaN};
  for (const Column* c : {&real_a, &real_b, &synthetic_a, &synthetic_b})
    if (distinct_present(*c) == 1) return out;  // ConstantInputError in SDMetrics
  auto corr = [coefficient](const Column& a, const Column& b) {
    std::vector<double> x, y;
    for (size_t i = 0; i < a.size(); ++i)
      if (!a.missing[i] && !b.missing[i]) {
        x.push_back(a.values[i]);
        y.push_back(b.values[i]);
      }
    if (coefficient == Correlation::spearman) {
      x = average_ranks(x);
      y = average_ranks(y);
    }
    return pearson(x, y);
  };
  out.real = corr(real_a, real_b);
  if (std::fabs(out.real) <= real_threshold) return out;
  out.synthetic = corr(synthetic_a, synthetic_b);
  if (!std::isnan(out.real) && !std::isnan(out.synthetic)) out.score = 1 - std::fabs(out.real - out.synthetic) / 2;
  return out;
}

ContingencySimilarity contingency_similarity(const Column& real_a, const Column& real_b, const Column& synthetic_a,
                                             const Column& synthetic_b, int bins, double real_association_threshold) {
  check_pair(real_a, synthetic_a);
  check_pair(real_b, synthetic_b);
  GF_CHECK(bins > 0, "number of bins must be positive, got ", bins);
  GF_CHECK(real_association_threshold >= 0 && real_association_threshold <= 1,
           "real association threshold must be in [0, 1], got ", real_association_threshold);
  GF_CHECK_AS(DataError, real_a.size() > 0 && synthetic_a.size() > 0, "give non-empty tables",
              "contingency similarity of empty tables");
  const auto real_keys_a = contingency_keys(real_a, bins), real_keys_b = contingency_keys(real_b, bins);
  ContingencySimilarity out{kNaN, kNaN};
  if (real_association_threshold > 0) {
    out.real_association = cramers_v(real_keys_a, real_keys_b);
    if (std::isnan(out.real_association) || out.real_association <= real_association_threshold) return out;
  }
  const auto real = joint_frequencies(real_keys_a, real_keys_b);
  const auto synthetic = joint_frequencies(contingency_keys(synthetic_a, bins), contingency_keys(synthetic_b, bins));
  std::unordered_map<std::string, double> synthetic_of(synthetic.begin(), synthetic.end());
  double variation = 0;
  for (const auto& [k, p] : real) {
    auto it = synthetic_of.find(k);
    variation += std::fabs(p - (it == synthetic_of.end() ? 0.0 : it->second)) / 2;
    if (it != synthetic_of.end()) synthetic_of.erase(it);
  }
  for (const auto& [k, q] : synthetic)
    if (synthetic_of.count(k)) variation += q / 2;
  out.score = 1 - variation;
  return out;
}

double roc_auc(const std::vector<int>& labels, const std::vector<double>& scores) {
  GF_CHECK(labels.size() == scores.size(), "roc_auc: ", labels.size(), " labels but ", scores.size(), " scores");
  const auto ranks = average_ranks(scores);
  double positives = 0, rank_sum = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == 1) {
      positives += 1;
      rank_sum += ranks[i];
    }
  const double negatives = double(labels.size()) - positives;
  GF_CHECK_AS(InvalidArgument, positives > 0 && negatives > 0, "ROC AUC needs both classes",
              "only one class present in the labels");
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

QualityReport quality_report(const Table& real, const Table& synthetic, const QualityOptions& options) {
  GF_CHECK_AS(DataError, real.n_rows() > 0 && synthetic.n_rows() > 0, "give tables with rows",
              "the quality report needs rows in both tables");
  QualityReport report;
  std::vector<const Column*> reals, synths;
  for (const auto& c : real.columns()) {
    reals.push_back(&c);
    synths.push_back(&synthetic.column(c.name));
    check_pair(c, *synths.back());
  }
  auto nan_mean = [](const std::vector<double>& v) {
    double sum = 0, n = 0;
    for (double x : v)
      if (!std::isnan(x)) {
        sum += x;
        n += 1;
      }
    return n > 0 ? sum / n : kNaN;
  };
  std::vector<double> shape_scores, pair_scores;
  for (size_t i = 0; i < reals.size(); ++i) {
    ColumnShape s;
    s.column = reals[i]->name;
    s.metric = is_numeric_kind(*reals[i]) ? "KSComplement" : "TVComplement";
    try {
      s.score = is_numeric_kind(*reals[i]) ? ks_complement(*reals[i], *synths[i]) : tv_complement(*reals[i], *synths[i]);
    } catch (const Error& e) {
      s.score = kNaN;
      s.error = e.what();
    }
    shape_scores.push_back(s.score);
    report.shapes.push_back(s);
  }
  for (size_t i = 0; i < reals.size(); ++i) {
    for (size_t j = i + 1; j < reals.size(); ++j) {
      PairTrend p;
      p.column_1 = reals[i]->name;
      p.column_2 = reals[j]->name;
      p.real_correlation = p.synthetic_correlation = p.real_association = kNaN;
      if (is_numeric_kind(*reals[i]) && is_numeric_kind(*reals[j])) {
        p.metric = "CorrelationSimilarity";
        const double threshold = options.real_correlation_threshold;
        auto c = correlation_similarity(*reals[i], *reals[j], *synths[i], *synths[j], Correlation::pearson, threshold);
        p.score = c.score;
        p.real_correlation = c.real;
        p.synthetic_correlation = c.synthetic;
        p.meets_threshold = threshold <= 0 || (!std::isnan(c.real) && std::fabs(c.real) > threshold);
      } else {
        p.metric = "ContingencySimilarity";
        const double threshold = options.real_association_threshold;
        auto c = contingency_similarity(*reals[i], *reals[j], *synths[i], *synths[j], 10, threshold);
        p.score = c.score;
        p.real_association = c.real_association;
        p.meets_threshold = threshold <= 0 || (!std::isnan(c.real_association) && c.real_association > threshold);
      }
      if (p.meets_threshold) pair_scores.push_back(p.score);
      report.pairs.push_back(p);
    }
  }
  report.column_shapes = nan_mean(shape_scores);
  report.column_pair_trends = nan_mean(pair_scores);
  report.score = nan_mean({report.column_shapes, report.column_pair_trends});
  return report;
}

// ---- detection ------------------------------------------------------------------------------------------------

namespace {

// SDMetrics' HyperTransformer fitted on the real table: numeric columns imputed with the real mean, categories
// one-hot over the real table's labels (missing is a label; a label only the synthetic table has is all zeros). A
// column of more than `max_levels` labels keeps its most frequent ones (ties: label order) and pools the others in a
// last column (named in `pooled`).
torch::Tensor detection_features(const Table& table, const Table& real, int64_t max_levels,
                                 std::vector<std::string>* pooled = nullptr) {
  const int64_t n = int64_t(table.n_rows());
  std::vector<torch::Tensor> blocks;
  for (const auto& rc : real.columns()) {
    const Column& c = table.column(rc.name);
    if (is_numeric_kind(rc)) {
      double sum = 0, count = 0;
      for (size_t i = 0; i < rc.size(); ++i)
        if (!rc.missing[i]) {
          sum += rc.values[i];
          count += 1;
        }
      const double mean = count > 0 ? sum / count : 0.0;
      auto col = torch::empty({n, 1}, torch::kFloat64);
      auto a = col.accessor<double, 2>();
      for (int64_t i = 0; i < n; ++i) a[i][0] = c.missing[size_t(i)] ? mean : c.values[size_t(i)];
      blocks.push_back(col);
    } else {
      std::map<std::string, int64_t> slot;  // sorted, as OneHotEncoder's categories; first the label counts
      for (size_t i = 0; i < rc.size(); ++i) ++slot[key_of(rc, i)];
      int64_t other = -1;  // the pooled column, when there is one
      if (static_cast<int64_t>(slot.size()) > max_levels) {
        std::vector<std::pair<int64_t, std::string>> by_count;
        for (const auto& [label, count] : slot) by_count.emplace_back(-count, label);
        std::sort(by_count.begin(), by_count.end());
        for (size_t r = 0; r < by_count.size(); ++r) slot[by_count[r].second] = int64_t(r) < max_levels ? 0 : -1;
        if (pooled) pooled->push_back(rc.name);
      }
      int64_t k = 0;
      for (auto& kv : slot) kv.second = kv.second < 0 ? -1 : k++;
      if (static_cast<int64_t>(slot.size()) > k) other = k++;
      auto col = torch::zeros({n, k}, torch::kFloat64);
      auto a = col.accessor<double, 2>();
      for (int64_t i = 0; i < n; ++i)
        if (auto it = slot.find(key_of(c, size_t(i))); it != slot.end()) a[i][it->second < 0 ? other : it->second] = 1;
      blocks.push_back(col);
    }
  }
  return torch::cat(blocks, 1);  // [N, D]
}

// numpy.percentile(x, q) along dim 0 with linear interpolation, from x already sorted along dim 0.
torch::Tensor percentile_of_sorted(const torch::Tensor& sorted, double q) {
  const double pos = q / 100 * double(sorted.size(0) - 1);
  const int64_t lo = int64_t(std::floor(pos));
  const int64_t hi = std::min<int64_t>(lo + 1, sorted.size(0) - 1);
  const double frac = pos - double(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

// L2-regularised logistic regression (sklearn's objective: 0.5 |w|^2 + C sum log-loss, intercept free), solved by
// Newton's method to the optimum; returns P(y = 1) for x_test.
torch::Tensor logistic_fit_predict(const torch::Tensor& x_train, const torch::Tensor& y_train,
                                   const torch::Tensor& x_test, double c) {
  const int64_t n = x_train.size(0), d = x_train.size(1);
  auto xb = torch::cat({x_train, torch::ones({n, 1}, x_train.options())}, 1);  // [N, D+1]
  auto w = torch::zeros({d + 1}, x_train.options());
  auto penalty = torch::ones({d + 1}, x_train.options());
  penalty[d] = 0;
  for (int iter = 0; iter < 100; ++iter) {
    auto p = torch::sigmoid(xb.matmul(w));                                        // [N]
    auto grad = penalty * w + c * xb.t().matmul(p - y_train);                      // [D+1]
    auto h = (xb * (c * p * (1 - p)).unsqueeze(1)).t().matmul(xb) + torch::diag(penalty);  // [D+1, D+1]
    h.diagonal().add_(1e-10);  // keeps the intercept-only direction solvable on separable data
    auto step = torch::linalg_solve(h, grad);
    w -= step;
    if (step.abs().max().item<double>() < 1e-10) break;
  }
  auto xt = torch::cat({x_test, torch::ones({x_test.size(0), 1}, x_test.options())}, 1);
  return torch::sigmoid(xt.matmul(w));
}

}  // namespace

DetectionResult logistic_detection(const Table& real, const Table& synthetic, at::Generator& gen,
                                   const DetectionOptions& options) {
  GF_CHECK(options.folds >= 2, "detection needs at least 2 folds, got ", options.folds);
  GF_CHECK_AS(DataError, int64_t(real.n_rows()) >= options.folds && int64_t(synthetic.n_rows()) >= options.folds,
              "give at least as many rows as folds", "detection: ", real.n_rows(), " real and ", synthetic.n_rows(),
              " synthetic rows for ", options.folds, " folds");
  for (const auto& c : real.columns()) check_pair(c, synthetic.column(c.name));
  DetectionResult out;
  GF_CHECK(options.max_levels >= 1, "detection's max_levels must be >= 1, got ", options.max_levels);
  auto x = torch::cat({detection_features(real, real, options.max_levels, &out.pooled_columns),
                       detection_features(synthetic, real, options.max_levels)});  // [N, D]
  const int64_t n_real = int64_t(real.n_rows()), n = x.size(0);
  auto y = torch::cat({torch::ones({n_real}, torch::kFloat64), torch::zeros({n - n_real}, torch::kFloat64)});
  // Stratified folds: each class shuffled and cut into `folds` nearly equal parts.
  std::vector<int64_t> fold_of(static_cast<size_t>(n));
  for (int cls = 0; cls < 2; ++cls) {
    const int64_t begin = cls == 0 ? 0 : n_real, count = cls == 0 ? n_real : n - n_real;
    auto perm = torch::randperm(count, gen, torch::kLong);
    auto p = perm.accessor<int64_t, 1>();
    for (int64_t i = 0; i < count; ++i) fold_of[size_t(begin + p[i])] = i * options.folds / count;
  }
  double sum = 0;
  for (int f = 0; f < options.folds; ++f) {
    std::vector<int64_t> train, test;
    for (int64_t i = 0; i < n; ++i) (fold_of[size_t(i)] == f ? test : train).push_back(i);
    auto train_ix = torch::tensor(train, torch::kLong), test_ix = torch::tensor(test, torch::kLong);
    auto x_train = x.index_select(0, train_ix), x_test = x.index_select(0, test_ix);
    // RobustScaler fitted on the training part: median and interquartile range (1 where the range is 0).
    auto sorted = std::get<0>(x_train.sort(0));
    auto center = percentile_of_sorted(sorted, 50);
    auto scale = percentile_of_sorted(sorted, 75) - percentile_of_sorted(sorted, 25);
    scale = torch::where(scale == 0, torch::ones_like(scale), scale);
    auto prob = logistic_fit_predict((x_train - center) / scale, y.index_select(0, train_ix), (x_test - center) / scale,
                                     options.c);
    auto y_test = y.index_select(0, test_ix).contiguous();
    prob = prob.contiguous();
    std::vector<int> labels(static_cast<size_t>(y_test.size(0)));
    std::vector<double> scores(prob.data_ptr<double>(), prob.data_ptr<double>() + prob.size(0));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = y_test.data_ptr<double>()[i] > 0.5 ? 1 : 0;
    const double auc = roc_auc(labels, scores);
    out.auc.push_back(auc);
    sum += std::max(0.5, auc) * 2 - 1;
  }
  out.score = 1 - sum / options.folds;
  return out;
}

// ---- privacy ----------------------------------------------------------------------------------------------------

namespace {

struct ColumnDistance {
  bool numeric = false;
  double range = 0;
  std::vector<double> data, ref;          // numeric values
  std::vector<uint8_t> data_missing, ref_missing;
  std::vector<int64_t> data_code, ref_code;  // categories (-1 missing), codes shared between the two tables
};

std::vector<ColumnDistance> distance_columns(const Table& dataset, const Table& reference) {
  std::vector<ColumnDistance> cols;
  for (const auto& rc : reference.columns()) {
    if (!dataset.has_column(rc.name)) continue;
    const Column& dc = dataset.column(rc.name);
    check_pair(rc, dc);
    ColumnDistance c;
    c.numeric = is_numeric_kind(rc);
    c.data_missing = dc.missing;
    c.ref_missing = rc.missing;
    if (c.numeric) {
      c.data = dc.values;
      c.ref = rc.values;
      const auto present = present_values(rc);
      c.range = present.empty() ? kNaN
                                : *std::max_element(present.begin(), present.end()) -
                                      *std::min_element(present.begin(), present.end());
    } else {
      std::unordered_map<std::string, int64_t> codes;
      auto code = [&codes](const Column& col, size_t i) -> int64_t {
        if (col.missing[i]) return -1;
        return codes.emplace(label(col, i), int64_t(codes.size())).first->second;
      };
      for (size_t i = 0; i < rc.size(); ++i) c.ref_code.push_back(code(rc, i));
      for (size_t i = 0; i < dc.size(); ++i) c.data_code.push_back(code(dc, i));
    }
    cols.push_back(std::move(c));
  }
  GF_CHECK_AS(DataError, !cols.empty(), "give tables that share columns",
              "there are no overlapping statistical columns to measure");
  return cols;
}

double median(std::vector<double> v) {
  GF_CHECK(!v.empty(), "median of no values");
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace

std::vector<double> distance_to_closest_record(const Table& dataset, const Table& reference) {
  GF_CHECK_AS(DataError, reference.n_rows() > 0, "give a reference table with rows", "DCR: the reference table is empty");
  const auto cols = distance_columns(dataset, reference);
  const int64_t n = int64_t(dataset.n_rows()), m = int64_t(reference.n_rows());
  std::vector<double> out(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < m; ++j) {
      double total = 0;
      for (const auto& c : cols) {
        double d;
        if (c.numeric) {
          const bool dm = c.data_missing[size_t(i)], rm = c.ref_missing[size_t(j)];
          if (dm || rm) {
            d = dm && rm ? 0.0 : 1.0;
          } else {
            const double diff = std::fabs(c.ref[size_t(j)] - c.data[size_t(i)]);
            if (c.range == 0) d = diff > 0 ? 1.0 : 0.0;
            else if (std::isnan(c.range)) d = 0.0;  // pandas' sum skips the NaN of an all-missing reference
            else d = std::min(diff / c.range, 1.0);
          }
        } else {
          d = c.data_code[size_t(i)] == c.ref_code[size_t(j)] ? 0.0 : 1.0;
        }
        total += d;
      }
      best = std::min(best, total / double(cols.size()));
    }
    out[size_t(i)] = best;
  }
  return out;
}

DcrOverfitting dcr_overfitting_protection(const Table& training, const Table& synthetic, const Table& holdout) {
  GF_CHECK_AS(DataError, synthetic.n_rows() > 0, "give a synthetic table with rows", "DCR: the synthetic table is empty");
  const auto to_training = distance_to_closest_record(synthetic, training);
  const auto to_holdout = distance_to_closest_record(synthetic, holdout);
  double closer = 0;
  for (size_t i = 0; i < to_training.size(); ++i) closer += to_training[i] < to_holdout[i] ? 1.0 : 0.0;
  DcrOverfitting out;
  out.closer_to_training = closer / double(to_training.size());
  out.closer_to_holdout = 1 - out.closer_to_training;
  out.score = std::min((1.0 - out.closer_to_training) * 2, 1.0);
  return out;
}

DcrBaseline dcr_baseline_protection(const Table& real, const Table& synthetic, at::Generator& gen) {
  GF_CHECK_AS(DataError, real.n_rows() > 0 && synthetic.n_rows() > 0, "give tables with rows",
              "DCR baseline: a table is empty");
  const int64_t n = int64_t(real.n_rows());
  Table random("random baseline");
  for (const auto& rc : real.columns()) {
    Column c;
    c.name = rc.name;
    c.type = rc.type;
    c.categories = rc.categories;
    c.values.resize(size_t(n));
    c.missing.assign(size_t(n), 0);
    const auto present = present_values(rc);
    if (!present.empty()) {
      const double lo = *std::min_element(present.begin(), present.end());
      const double hi = *std::max_element(present.begin(), present.end());
      torch::Tensor draws;
      if (rc.type == ColumnType::integer) {
        draws = torch::randint(int64_t(lo), int64_t(hi) + 1, {n}, gen, torch::kFloat64);
      } else if (rc.type == ColumnType::categorical) {
        std::vector<double> codes = present;
        std::sort(codes.begin(), codes.end());
        codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
        auto pick = torch::randint(0, int64_t(codes.size()), {n}, gen, torch::kLong);
        draws = torch::tensor(codes, torch::kFloat64).index_select(0, pick);
      } else {
        draws = torch::rand({n}, gen, torch::kFloat64) * (hi - lo) + lo;
      }
      auto a = draws.accessor<double, 1>();
      for (int64_t i = 0; i < n; ++i) c.values[size_t(i)] = a[i];
    }
    const double missing_rate = double(rc.n_missing()) / double(n);
    auto u = torch::rand({n}, gen, torch::kFloat64);
    auto ua = u.accessor<double, 1>();
    for (int64_t i = 0; i < n; ++i)
      if (present.empty() || ua[i] < missing_rate) c.missing[size_t(i)] = 1;
    random.add_column(std::move(c));
  }
  DcrBaseline out;
  out.median_synthetic = median(distance_to_closest_record(synthetic, real));
  out.median_random = median(distance_to_closest_record(random, real));
  out.score = out.median_random != 0 ? std::min(out.median_synthetic / out.median_random, 1.0) : kNaN;
  return out;
}

NewRowSynthesis new_row_synthesis(const Table& real, const Table& synthetic, double numerical_match_tolerance) {
  GF_CHECK_AS(DataError, synthetic.n_rows() > 0, "give a synthetic table with rows",
              "new-row synthesis: the synthetic table is empty");
  GF_CHECK(numerical_match_tolerance >= 0, "numerical match tolerance must be >= 0, got ", numerical_match_tolerance);
  const auto cols = distance_columns(synthetic, real);
  const int64_t n = int64_t(synthetic.n_rows()), m = int64_t(real.n_rows());
  std::vector<uint8_t> is_new(static_cast<size_t>(n), 1);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m && is_new[size_t(i)]; ++j) {
      bool all = true;
      for (const auto& c : cols) {
        bool match;
        if (c.numeric) {
          const bool sm = c.data_missing[size_t(i)], rm = c.ref_missing[size_t(j)];
          if (sm) match = rm;
          else match = !rm && std::fabs(c.ref[size_t(j)] - c.data[size_t(i)]) <=
                                  std::fabs(numerical_match_tolerance * c.data[size_t(i)]);
        } else {
          match = c.data_code[size_t(i)] == c.ref_code[size_t(j)];
        }
        if (!match) {
          all = false;
          break;
        }
      }
      if (all) is_new[size_t(i)] = 0;
    }
  }
  NewRowSynthesis out;
  for (uint8_t v : is_new) out.new_rows += v;
  out.matched_rows = n - out.new_rows;
  out.score = double(out.new_rows) / double(n);
  return out;
}

}  // namespace gf::eval
