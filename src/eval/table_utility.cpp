// Utility of synthetic tables: machine-learning efficacy (TSTR) and the propensity-score MSE.
#include <torch/linalg.h>
#include <torch/optim/lbfgs.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "genforge/core/error.h"
#include "genforge/eval/classification.h"
#include "genforge/eval/table.h"

namespace gf::eval {
namespace {

constexpr size_t kMaxLevels = 50;

// Features learnt from one table, applied to any table with its columns.
class Features {
 public:
  Features(const Table& fit_on, const std::vector<std::string>& skip) {
    for (const auto& c : fit_on.columns()) {
      if (std::find(skip.begin(), skip.end(), c.name) != skip.end()) continue;
      Encoder e;
      e.name = c.name;
      e.categorical = c.type == ColumnType::categorical;
      if (e.categorical) {
        std::map<std::string, double> counts;
        for (size_t i = 0; i < c.size(); ++i) {
          if (!c.missing[i]) counts[c.categories[static_cast<size_t>(c.values[i])]] += 1;
        }
        std::vector<std::pair<double, std::string>> by_count;
        for (const auto& [label, n] : counts) by_count.emplace_back(-n, label);
        std::sort(by_count.begin(), by_count.end());
        for (size_t k = 0; k < by_count.size() && k < kMaxLevels; ++k) e.levels.push_back(by_count[k].second);
      } else {
        double sum = 0, sq = 0, n = 0;
        for (size_t i = 0; i < c.size(); ++i) {
          if (!c.missing[i]) sum += c.values[i], sq += c.values[i] * c.values[i], n += 1;
        }
        e.mean = n > 0 ? sum / n : 0;
        const double var = n > 0 ? sq / n - e.mean * e.mean : 0;
        e.sd = var > 1e-24 ? std::sqrt(var) : 1.0;
      }
      encoders_.push_back(std::move(e));
    }
  }
  int64_t width() const {
    int64_t w = 0;
    for (const auto& e : encoders_) w += e.categorical ? static_cast<int64_t>(e.levels.size()) + 1 : 1;
    return w;
  }
  torch::Tensor operator()(const Table& t) const {  // [N, width]
    const auto n = static_cast<int64_t>(t.n_rows());
    auto x = torch::zeros({n, width()}, torch::kFloat64);
    auto a = x.accessor<double, 2>();
    int64_t j0 = 0;
    for (const auto& e : encoders_) {
      const Column& c = t.column(e.name);
      for (int64_t i = 0; i < n; ++i) {
        const auto r = static_cast<size_t>(i);
        if (!e.categorical) {
          a[i][j0] = c.missing[r] ? 0.0 : (c.values[r] - e.mean) / e.sd;
          continue;
        }
        if (c.missing[r]) continue;
        const auto& label = c.categories[static_cast<size_t>(c.values[r])];
        const auto it = std::find(e.levels.begin(), e.levels.end(), label);
        a[i][j0 + (it - e.levels.begin())] = 1;  // unknown labels land on "other", the last slot
      }
      j0 += e.categorical ? static_cast<int64_t>(e.levels.size()) + 1 : 1;
    }
    return x;
  }

 private:
  struct Encoder {
    std::string name;
    bool categorical = false;
    std::vector<std::string> levels;
    double mean = 0, sd = 1;
  };
  std::vector<Encoder> encoders_;
};

torch::Tensor with_intercept(const torch::Tensor& x) {
  return torch::cat({x, torch::ones({x.size(0), 1}, x.options())}, 1);
}

// Multinomial logistic regression with an L2 penalty λ/2 |W|² on the slopes, per row mean cross-entropy, LBFGS.
// Returns class probabilities [M, K] for x_test.
torch::Tensor softmax_fit_predict(const torch::Tensor& x, const torch::Tensor& y, int64_t k, const torch::Tensor& x_test,
                                  double lambda) {
  auto xb = with_intercept(x);
  auto w = torch::zeros({xb.size(1), k}, torch::TensorOptions().dtype(torch::kFloat64).requires_grad(true));
  auto mask = torch::ones({xb.size(1), 1}, torch::kFloat64);
  mask[xb.size(1) - 1] = 0;
  torch::optim::LBFGS opt({w}, torch::optim::LBFGSOptions(1.0).max_iter(200).line_search_fn("strong_wolfe"));
  auto closure = [&]() -> torch::Tensor {
    opt.zero_grad();
    auto loss = torch::nll_loss(torch::log_softmax(xb.matmul(w), 1), y) + 0.5 * lambda * (w * mask).pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  torch::NoGradGuard no_grad;
  return torch::softmax(with_intercept(x_test).matmul(w), 1);
}

// Rows of `t` whose `target` cell is present.
std::vector<int64_t> labelled_rows(const Table& t, const std::string& target) {
  std::vector<int64_t> rows;
  const Column& c = t.column(target);
  for (size_t i = 0; i < c.size(); ++i) {
    if (!c.missing[i]) rows.push_back(static_cast<int64_t>(i));
  }
  return rows;
}

}  // namespace

MlEfficacy ml_efficacy(const Table& real_train, const Table& synthetic, const Table& real_test,
                       const std::string& target) {
  GF_CHECK_AS(InvalidArgument, real_train.has_column(target), "name a column of the table with --target",
              "machine-learning efficacy: the table has no column '", target, "'");
  GF_CHECK_AS(DataError, real_train.n_cols() >= 2, "give a table with a target and at least one other column",
              "machine-learning efficacy needs columns besides the target '", target, "'");
  const Features features(real_train, {target});
  const Column& tc = real_train.column(target);
  MlEfficacy out;
  out.target = target;
  const bool classify = tc.type == ColumnType::categorical;
  out.task = classify ? "classification" : "regression";
  std::vector<std::string> labels;  // classification: the real training labels
  if (classify) {
    for (size_t i = 0; i < tc.size(); ++i) {
      if (tc.missing[i]) continue;
      const auto& l = tc.categories[static_cast<size_t>(tc.values[i])];
      if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
    }
  }
  auto xy = [&](const Table& t) {
    const auto rows = labelled_rows(t, target);
    auto x = features(take_rows(t, rows));
    const Column& c = t.column(target);
    auto y = torch::empty({static_cast<int64_t>(rows.size())}, classify ? torch::kLong : torch::kFloat64);
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto i = static_cast<size_t>(rows[r]);
      if (classify) {
        const auto& l = c.categories[static_cast<size_t>(c.values[i])];
        const auto it = std::find(labels.begin(), labels.end(), l);
        y[static_cast<int64_t>(r)] = it == labels.end() ? -1 : static_cast<int64_t>(it - labels.begin());
      } else {
        y[static_cast<int64_t>(r)] = c.values[i];
      }
    }
    return std::make_pair(x, y);
  };
  const auto test_xy = xy(real_test);  // not a structured binding: C++17 lambdas cannot capture those
  const torch::Tensor &x_test = test_xy.first, &y_test = test_xy.second;
  GF_CHECK_AS(DataError, x_test.size(0) > 0, "give test rows with the target filled in",
              "machine-learning efficacy: no test row has a value in '", target, "'");
  // An identifier-like target (a name per row) leaves the test rows only values the training rows never had.
  GF_CHECK_AS(DataError, !classify || (y_test >= 0).any().item<bool>(),
              "choose a target whose values repeat across rows (a class, not an identifier) with --target",
              "machine-learning efficacy: none of the ", x_test.size(0), " test values of '", target,
              "' occurs in the training rows");
  auto score = [&](const std::pair<torch::Tensor, torch::Tensor>& train, double* macro_f1) {
    auto [x, y] = train;
    if (classify) {
      auto keep = y >= 0;  // synthetic labels the real data never had cannot be scored
      x = x.index({keep}), y = y.index({keep});
      if (x.size(0) == 0) return 0.0;
      const auto k = static_cast<int64_t>(labels.size());
      const auto predicted = softmax_fit_predict(x, y, k, x_test, 1e-3).argmax(1);
      const auto known = y_test >= 0;  // test categories the real training data never had cannot be predicted
      const auto report = classification_report(predicted.index({known}), y_test.index({known}), k);
      *macro_f1 = report.macro_f1;
      return report.accuracy;
    }
    if (x.size(0) == 0) return 0.0;
    auto xb = with_intercept(x);
    auto ridge = torch::eye(xb.size(1), torch::kFloat64) * 1e-3 * static_cast<double>(x.size(0));
    ridge[xb.size(1) - 1][xb.size(1) - 1] = 0;
    auto w = torch::linalg::solve(xb.t().matmul(xb) + ridge, xb.t().matmul(y.unsqueeze(1)), true);
    auto pred = with_intercept(x_test).matmul(w).squeeze(1);
    const double ss_res = (pred - y_test).pow(2).sum().item<double>();
    const double ss_tot = (y_test - y_test.mean()).pow(2).sum().item<double>();
    return ss_tot > 0 ? 1 - ss_res / ss_tot : 0.0;
  };
  out.real_score = score(xy(real_train), &out.real_macro_f1);
  out.synthetic_score = score(xy(synthetic), &out.synthetic_macro_f1);
  return out;
}

PropensityMse propensity_mse(const Table& real, const Table& synthetic) {
  GF_CHECK_AS(DataError, real.n_rows() > 0 && synthetic.n_rows() > 0, "give rows in both tables",
              "pMSE needs real and synthetic rows");
  const Features features(real, {});
  auto x = torch::cat({features(real), features(synthetic)});  // [N, D]
  const auto n_real = static_cast<int64_t>(real.n_rows()), n = x.size(0);
  auto y = torch::cat({torch::zeros({n_real}, torch::kLong), torch::ones({n - n_real}, torch::kLong)});
  auto p = softmax_fit_predict(x, y, 2, x, 1e-6).select(1, 1);
  PropensityMse out;
  const double c = static_cast<double>(n - n_real) / static_cast<double>(n);
  out.pmse = (p - c).pow(2).mean().item<double>();
  out.parameters = x.size(1) + 1;
  out.expected = static_cast<double>(out.parameters - 1) * (1 - c) * (1 - c) * c / static_cast<double>(n);
  out.ratio = out.expected > 0 ? out.pmse / out.expected : NAN;
  return out;
}

}  // namespace gf::eval
