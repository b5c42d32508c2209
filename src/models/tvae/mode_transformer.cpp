#include "models/tvae/mode_transformer.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/models/bgmm.h"
#include "stats/point_masses.h"

namespace gf::tvae {
namespace {

constexpr double kModeWeight = 0.005;  // CTGAN drops mixture components lighter than this
constexpr int64_t kModeRows = 20000;   // the mixture is fitted on at most this many of a column's values

// The modes of one numeric column: a Dirichlet-process mixture with CTGAN's settings (10 components,
// weight_concentration_prior 0.001), components above kModeWeight kept.
void fit_modes(std::vector<double> values, int64_t max_modes, int64_t seed, ColumnCode& c) {
  c.lo = *std::min_element(values.begin(), values.end());
  c.hi = *std::max_element(values.begin(), values.end());
  if (c.hi - c.lo < 1e-12 * std::max(1.0, std::fabs(c.lo))) {  // a constant: one mode
    c.means = {c.lo};
    c.stds = {1e-3 * std::max(1.0, std::fabs(c.lo))};
    c.weights = {1.0};
    return;
  }
  // A value that holds at least 1/(2 max_modes) of the rows (0 in a column of costs) is a mode of its own with no
  // spread: its rows get a deterministic mode and come back exactly; the mixture models the rest.
  std::sort(values.begin(), values.end());
  const auto n = static_cast<double>(values.size());
  auto split = stats::split_point_masses(values, 1.0 / (2.0 * static_cast<double>(max_modes)));
  for (size_t k = 0; k < split.values.size(); ++k) {
    c.weights.push_back(split.shares[k]);
    c.means.push_back(split.values[k]);
    c.stds.push_back(1e-9 * std::max(1.0, std::fabs(split.values[k])));
  }
  std::vector<double> rest = std::move(split.rest);
  if (rest.size() < 2) {
    if (!rest.empty()) {
      c.weights.push_back(1.0 / n), c.means.push_back(rest[0]), c.stds.push_back(1e-9 * std::max(1.0, std::fabs(rest[0])));
    }
    return;
  }
  const double rest_share = static_cast<double>(rest.size()) / n;
  values = std::move(rest);
  auto gen = make_generator(static_cast<uint64_t>(seed));
  auto all = torch::tensor(values, torch::kFloat64);
  if (all.size(0) > kModeRows) all = all.index_select(0, torch::randperm(all.size(0), gen, torch::kLong).slice(0, 0, kModeRows));
  std::vector<double> distinct = values;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  BgmmOptions o;
  o.n_components = std::min<int64_t>(max_modes, static_cast<int64_t>(distinct.size()));
  o.weight_concentration_prior = 1e-3;
  o.max_iter = 100;
  o.seed = seed;
  BayesianGaussianMixture mixture(o);
  FitContext quiet;
  quiet.progress = false;
  // Modes are a representation, not a density estimate: an unconverged fit (common with the tiny concentration
  // prior) still separates them, so its warning is not passed on.
  auto previous = log::set_warning_sink([](const std::string&) {});
  try {
    mixture.fit({all.unsqueeze(1)}, quiet);
  } catch (...) {
    log::set_warning_sink(previous);
    throw;
  }
  log::set_warning_sink(previous);
  const auto w = mixture.weights().contiguous();
  const auto m = mixture.means().contiguous();
  const auto cov = mixture.covariances().reshape({w.size(0)}).contiguous();
  int64_t kept = 0;
  for (int64_t k = 0; k < w.size(0); ++k) {
    if (w[k].item<double>() * rest_share <= kModeWeight) continue;
    ++kept;
    c.weights.push_back(w[k].item<double>() * rest_share);
    c.means.push_back(m[k][0].item<double>());
    c.stds.push_back(std::max(std::sqrt(cov[k].item<double>()), 1e-6));
  }
  if (!kept) {  // every component pruned: the heaviest carries the values between the point masses
    const auto k = w.argmax().item<int64_t>();
    c.weights.push_back(w[k].item<double>() * rest_share);
    c.means.push_back(m[k][0].item<double>());
    c.stds.push_back(std::max(std::sqrt(cov[k].item<double>()), 1e-6));
  }
}

}  // namespace

void ModeTransformer::fit(const torch::Tensor& x_in, const std::vector<TableFeature>& features,
                          const std::vector<std::string>& names, int64_t max_modes, int64_t seed) {
  const auto x = x_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  const double* px = x.data_ptr<double>();
  columns_.clear();
  width_ = 0;
  for (int64_t j = 0; j < d; ++j) {
    ColumnCode c;
    c.name = j < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(j)] : "x" + std::to_string(j);
    const TableFeature* f = features.empty() ? nullptr : &features[static_cast<size_t>(j)];
    GF_CHECK_AS(DataError, !f || f->encoding != "onehot", "leave categorical at its default (ordinal codes)",
                "column '", c.name, "' is one-hot encoded; the transformer one-hot encodes categories itself");
    std::vector<double> values;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isnan(px[i * d + j])) values.push_back(px[i * d + j]);
    }
    GF_CHECK_AS(DataError, !values.empty(), "leave the column out (--columns) or give it values", "column '", c.name,
                "' has no values: every cell is missing");
    c.has_missing = static_cast<int64_t>(values.size()) < n;
    c.categorical = f && f->type == ColumnType::categorical;
    if (c.categorical) {
      c.n_categories = f->n_categories;
      c.spans.push_back({width_, c.n_categories + (c.has_missing ? 1 : 0), false});
    } else {
      fit_modes(std::move(values), max_modes, seed + j, c);
      c.spans.push_back({width_, 1, true});
      c.spans.push_back({width_ + 1, static_cast<int64_t>(c.means.size()), false});
      if (c.has_missing) c.spans.push_back({c.spans.back().start + c.spans.back().width, 2, false});
    }
    width_ = c.spans.back().start + c.spans.back().width;
    columns_.push_back(std::move(c));
  }
}

torch::Tensor ModeTransformer::transform(const torch::Tensor& x_in, at::Generator& gen) const {
  const auto x = x_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = x.size(0);
  auto out = torch::zeros({n, width_}, torch::kFloat32);
  for (size_t j = 0; j < columns_.size(); ++j) {
    const auto& c = columns_[j];
    auto col = x.select(1, static_cast<int64_t>(j));
    auto missing = torch::isnan(col);
    // A column without a "missing" outcome leaves a missing cell's spans at zero (the scatter writes 0 there).
    auto present = c.has_missing ? torch::ones({n, 1}, torch::kFloat32) : (~missing).to(torch::kFloat32).unsqueeze(1);
    if (c.categorical) {
      const double missing_code = c.has_missing ? static_cast<double>(c.n_categories) : 0.0;
      auto code = torch::where(missing, torch::full_like(col, missing_code), col).to(torch::kLong);
      out.slice(1, c.spans[0].start, c.spans[0].start + c.spans[0].width).scatter_(1, code.unsqueeze(1), present);
      continue;
    }
    auto v = torch::where(missing, torch::full_like(col, c.means[0]), col).unsqueeze(1);  // [N, 1]
    auto mu = torch::tensor(c.means, torch::kFloat64).unsqueeze(0), sd = torch::tensor(c.stds, torch::kFloat64).unsqueeze(0);
    auto w = torch::tensor(c.weights, torch::kFloat64).unsqueeze(0);
    auto logp = w.log() - 0.5 * ((v - mu) / sd).pow(2) - sd.log();  // [N, K] posterior over the modes, unnormalised
    auto mode = torch::multinomial(torch::softmax(logp, 1), 1, false, gen);  // [N, 1]
    auto pick = mode.squeeze(1);
    auto alpha = ((v.squeeze(1) - mu.squeeze(0).index({pick})) / (4 * sd.squeeze(0).index({pick})))
                     .clamp(-0.99, 0.99)
                     .unsqueeze(1);
    alpha = torch::where(missing.unsqueeze(1), torch::zeros_like(alpha), alpha);
    out.slice(1, c.spans[0].start, c.spans[0].start + 1).copy_(alpha);
    out.slice(1, c.spans[1].start, c.spans[1].start + c.spans[1].width).scatter_(1, mode, present);
    if (c.has_missing) {
      out.slice(1, c.spans[2].start, c.spans[2].start + 2)
          .scatter_(1, missing.to(torch::kLong).unsqueeze(1), torch::ones({n, 1}, torch::kFloat32));
    }
  }
  return out;
}

torch::Tensor ModeTransformer::inverse(const torch::Tensor& raw_in, const torch::Tensor& sigma, at::Generator& gen,
                                       bool draw_one_hots) const {
  auto raw = raw_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = raw.size(0);
  if (draw_one_hots) {
    raw = raw.clone();
    for (const auto& c : columns_) {
      for (const auto& s : c.spans) {
        if (s.scalar) continue;
        auto u = torch::rand({n, s.width}, gen, torch::kFloat64).clamp(1e-12, 1 - 1e-12);
        raw.slice(1, s.start, s.start + s.width).add_(-torch::log(-torch::log(u)));
      }
    }
  }
  auto out = torch::empty({n, static_cast<int64_t>(columns_.size())}, torch::kFloat64);
  for (size_t j = 0; j < columns_.size(); ++j) {
    const auto& c = columns_[j];
    auto span = [&](const Span& s) { return raw.slice(1, s.start, s.start + s.width); };
    if (c.categorical) {
      auto code = span(c.spans[0]).argmax(1).to(torch::kFloat64);
      if (c.has_missing) code = torch::where(code == static_cast<double>(c.n_categories), torch::full_like(code, NAN), code);
      out.select(1, static_cast<int64_t>(j)).copy_(code);
      continue;
    }
    auto alpha = torch::tanh(span(c.spans[0]).squeeze(1));
    if (sigma.defined()) {
      alpha = alpha + torch::randn({n}, gen, torch::kFloat64) * sigma[c.spans[0].start].item<double>();
    }
    alpha = alpha.clamp(-1, 1);
    auto mode = span(c.spans[1]).argmax(1);
    auto mu = torch::tensor(c.means, torch::kFloat64).index({mode}), sd = torch::tensor(c.stds, torch::kFloat64).index({mode});
    auto v = (alpha * 4 * sd + mu).clamp(c.lo, c.hi);
    if (c.has_missing) v = torch::where(span(c.spans[2]).argmax(1) == 1, torch::full_like(v, NAN), v);
    out.select(1, static_cast<int64_t>(j)).copy_(v);
  }
  return out;
}

torch::Tensor ModeTransformer::observed_log_likelihood(const torch::Tensor& raw_in, const torch::Tensor& x_in,
                                                       const torch::Tensor& sigma_in) const {
  const auto raw = raw_in.to(torch::kFloat64), x = x_in.to(raw.device(), torch::kFloat64);
  const auto sigma = sigma_in.to(raw.device(), torch::kFloat64);
  auto total = torch::zeros({raw.size(0)}, raw.options());  // [M]
  auto span = [&](const Span& s) { return raw.slice(1, s.start, s.start + s.width); };
  for (size_t j = 0; j < columns_.size(); ++j) {
    const auto& c = columns_[j];
    auto v = x.select(1, static_cast<int64_t>(j));  // [M]
    auto observed = ~torch::isnan(v);
    auto safe = torch::where(observed, v, torch::zeros_like(v));
    torch::Tensor term;
    if (c.categorical) {
      auto logp = torch::log_softmax(span(c.spans[0]), 1);  // [M, width]
      term = logp.gather(1, safe.clamp(0, static_cast<double>(c.n_categories - 1)).to(torch::kLong).unsqueeze(1)).squeeze(1);
    } else {
      auto opts = raw.options();
      auto mu = torch::tensor(c.means, opts).unsqueeze(0), sd = torch::tensor(c.stds, opts).unsqueeze(0);  // [1, K]
      auto alpha = (safe.unsqueeze(1) - mu) / (4 * sd);                                                  // [M, K]
      auto mean = torch::tanh(span(c.spans[0]));                                                         // [M, 1]
      auto s = sigma[c.spans[0].start];
      auto log_density = -0.5 * ((alpha - mean) / s).pow(2) - s.log() - 0.5 * std::log(2 * M_PI) - (4 * sd).log();
      term = torch::logsumexp(torch::log_softmax(span(c.spans[1]), 1) + log_density, 1);
    }
    total += torch::where(observed, term, torch::zeros_like(term));
    // A missing cell is imputed as the value it would have had: every cell is present, so where the column had
    // missing cells in training the codes are weighted by p(present | z) too (an observed category implies it).
    if (c.has_missing && !c.categorical) total += torch::log_softmax(span(c.spans[2]), 1).select(1, 0);
    if (c.has_missing && c.categorical) {
      auto present = torch::log1p(-torch::softmax(span(c.spans[0]), 1).select(1, c.n_categories).clamp_max(1 - 1e-12));
      total += torch::where(observed, torch::zeros_like(present), present);
    }
  }
  return total;
}

torch::Tensor ModeTransformer::weighted_mean(const torch::Tensor& raw_in, const torch::Tensor& w_in) const {
  const auto raw = raw_in.to(torch::kFloat64), w = w_in.to(raw.device(), torch::kFloat64).unsqueeze(2);  // w [K, B, 1]
  auto out = torch::empty({raw.size(1), static_cast<int64_t>(columns_.size())}, raw.options());
  for (size_t j = 0; j < columns_.size(); ++j) {
    const auto& c = columns_[j];
    auto span = [&](const Span& s) { return raw.slice(2, s.start, s.start + s.width); };
    if (c.categorical) {
      auto p = (torch::softmax(span(c.spans[0]), 2) * w).sum(0).slice(1, 0, c.n_categories);  // [B, C]
      out.select(1, static_cast<int64_t>(j)).copy_(p.argmax(1).to(torch::kFloat64));
      continue;
    }
    auto opts = raw.options();
    auto mu = torch::tensor(c.means, opts), sd = torch::tensor(c.stds, opts);           // [K]
    auto value = (4 * sd * torch::tanh(span(c.spans[0])) + mu).clamp(c.lo, c.hi);      // [K', B, modes]
    auto expected = (torch::softmax(span(c.spans[1]), 2) * value).sum(2, true);          // [K', B, 1]
    out.select(1, static_cast<int64_t>(j)).copy_((expected * w).sum(0).squeeze(1));
  }
  return out;
}

void ModeTransformer::forbid_missing(torch::Tensor& raw) const {
  const double minus_inf = -std::numeric_limits<double>::infinity();
  for (const auto& c : columns_) {
    if (!c.has_missing) continue;
    const auto& s = c.spans.back();
    raw.select(-1, c.categorical ? s.start + s.width - 1 : s.start + 1).fill_(minus_inf);
  }
}

nlohmann::json ModeTransformer::to_json() const {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : columns_) {
    nlohmann::json spans = nlohmann::json::array();
    for (const auto& s : c.spans) spans.push_back({s.start, s.width, s.scalar});
    cols.push_back({{"name", c.name}, {"categorical", c.categorical}, {"n_categories", c.n_categories},
                    {"weights", c.weights}, {"means", c.means}, {"stds", c.stds}, {"lo", c.lo}, {"hi", c.hi},
                    {"has_missing", c.has_missing}, {"spans", spans}});
  }
  return {{"columns", cols}, {"width", width_}};
}

ModeTransformer ModeTransformer::from_json(const nlohmann::json& j) {
  ModeTransformer t;
  t.width_ = j.at("width").get<int64_t>();
  for (const auto& cj : j.at("columns")) {
    ColumnCode c;
    c.name = cj.at("name").get<std::string>();
    c.categorical = cj.at("categorical").get<bool>();
    c.n_categories = cj.at("n_categories").get<int64_t>();
    c.weights = cj.at("weights").get<std::vector<double>>();
    c.means = cj.at("means").get<std::vector<double>>();
    c.stds = cj.at("stds").get<std::vector<double>>();
    c.lo = cj.at("lo").get<double>();
    c.hi = cj.at("hi").get<double>();
    c.has_missing = cj.at("has_missing").get<bool>();
    for (const auto& s : cj.at("spans")) c.spans.push_back({s[0].get<int64_t>(), s[1].get<int64_t>(), s[2].get<bool>()});
    t.columns_.push_back(std::move(c));
  }
  return t;
}

}  // namespace gf::tvae
