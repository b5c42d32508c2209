// Choosing tokens from a language model's next-token scores (model_interfaces.h): what every TextGenerator and the
// server's batching share, so one seed gives one text whichever path decodes it.
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "genforge/core/error.h"
#include "genforge/model_interfaces.h"

namespace gf {

void GenerateOptions::validate() const {
  GF_CHECK(max_tokens >= 0, "max_tokens must be non-negative, got ", max_tokens);
  GF_CHECK(temperature >= 0 && std::isfinite(temperature), "temperature must be >= 0, got ", temperature);
  GF_CHECK(top_k >= 0, "top_k must be >= 0 (0: off), got ", top_k);
  GF_CHECK(top_p > 0 && top_p <= 1, "top_p must be in (0, 1], got ", top_p);
  GF_CHECK(min_p >= 0 && min_p < 1, "min_p must be in [0, 1), got ", min_p);
  GF_CHECK(repetition_penalty > 0, "repetition_penalty must be positive, got ", repetition_penalty);
  GF_CHECK(watermark.strength >= 0 && std::isfinite(watermark.strength),
           "the watermark strength must be >= 0 (0: off), got ", watermark.strength);
  GF_CHECK(watermark.green_fraction > 0 && watermark.green_fraction < 1,
           "the watermark's green fraction must be in (0, 1), got ", watermark.green_fraction);
  GF_CHECK(watermark.context_width >= 1 && watermark.context_width <= 64,
           "the watermark's context width must be in 1..64, got ", watermark.context_width);
}

namespace {
uint64_t mix64(uint64_t x) {  // splitmix64's finaliser: every input bit reaches every output bit
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t green_list_seed(const Watermark& watermark, const std::vector<int64_t>& tokens, size_t end) {
  uint64_t seed = mix64(watermark.key);
  const auto width = static_cast<size_t>(watermark.context_width);
  for (size_t i = end > width ? end - width : 0; i < end; ++i) seed = mix64(seed ^ static_cast<uint64_t>(tokens[i]));
  return seed;
}

bool is_green_token(uint64_t list_seed, int64_t token, double green_fraction) {
  // The top 53 bits as a uniform double in [0, 1).
  return static_cast<double>(mix64(list_seed ^ mix64(static_cast<uint64_t>(token))) >> 11) * 0x1.0p-53 < green_fraction;
}

// Plain loops over the V scores: a token's worth of LibTorch operators
// would cost more than the decoding step itself.
int64_t choose_token(const torch::Tensor& logits_in, const std::vector<int64_t>& context, const GenerateOptions& g,
                     at::Generator& gen) {
  auto logits_t = logits_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const float* lp = logits_t.data_ptr<float>();
  const int64_t v = logits_t.numel();
  std::vector<double> l(lp, lp + v);
  if (g.repetition_penalty != 1.0) {
    std::vector<bool> seen(static_cast<size_t>(v), false);
    for (int64_t t : context) {
      if (seen[static_cast<size_t>(t)]) continue;
      seen[static_cast<size_t>(t)] = true;
      double& x = l[static_cast<size_t>(t)];
      x = x > 0 ? x / g.repetition_penalty : x * g.repetition_penalty;
    }
  }
  if (g.watermark.on() && !context.empty()) {
    const uint64_t seed = green_list_seed(g.watermark, context, context.size());
    for (int64_t i = 0; i < v; ++i) {
      if (is_green_token(seed, i, g.watermark.green_fraction)) l[static_cast<size_t>(i)] += g.watermark.strength;
    }
  }
  const double u = at::rand({1}, gen, torch::kFloat64).item<double>();  // one draw per token, whatever the filters
  if (g.temperature == 0) return static_cast<int64_t>(std::max_element(l.begin(), l.end()) - l.begin());
  const double top = *std::max_element(l.begin(), l.end());
  std::vector<double> p(static_cast<size_t>(v));
  for (int64_t i = 0; i < v; ++i) p[static_cast<size_t>(i)] = std::exp((l[static_cast<size_t>(i)] - top) / g.temperature);
  double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) x /= total;
  if (g.top_k > 0 && g.top_k < v) {  // ties at the k-th value stay in
    std::vector<double> sorted(p);
    std::nth_element(sorted.begin(), sorted.begin() + (g.top_k - 1), sorted.end(), std::greater<double>());
    const double kth = sorted[static_cast<size_t>(g.top_k - 1)];
    for (double& x : p) x = x >= kth ? x : 0.0;
  }
  if (g.min_p > 0) {
    const double cut = *std::max_element(p.begin(), p.end()) * g.min_p;
    for (double& x : p) x = x >= cut ? x : 0.0;
  }
  if (g.top_p < 1.0) {  // the smallest most-likely set holding top_p of the remaining mass
    std::vector<int64_t> order(static_cast<size_t>(v));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]; });
    const double mass = std::accumulate(p.begin(), p.end(), 0.0);
    double before = 0;
    for (int64_t i : order) {
      const double x = p[static_cast<size_t>(i)];
      if (before / mass >= g.top_p) p[static_cast<size_t>(i)] = 0.0;
      before += x;
    }
  }
  total = std::accumulate(p.begin(), p.end(), 0.0);
  double acc = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < v; ++i) {
    if (p[static_cast<size_t>(i)] <= 0) continue;
    acc += p[static_cast<size_t>(i)] / total;
    last = i;
    if (u < acc) return i;
  }
  return last;
}

bool ends_with_stop(const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& stops) {
  for (const auto& s : stops) {
    if (!s.empty() && out.size() >= s.size() && std::equal(s.rbegin(), s.rend(), out.rbegin())) return true;
  }
  return false;
}


}  // namespace gf
