// Lossless coding with a categorical HMM: forward filtering gives p(x_t | x_<t) = sum_k P(z_t = k | x_<t) B[k, x_t],
// in double arithmetic in one fixed order (so both sides of the coder agree to the last bit).
#include <cmath>
#include <limits>

#include "genforge/core/error.h"
#include "genforge/models/hmm.h"

namespace gf {
namespace {

class HmmStreams : public SymbolStreams {
 public:
  HmmStreams(const torch::Tensor& start, const torch::Tensor& trans, const torch::Tensor& emit, int64_t batch)
      : k_(emit.size(0)), v_(emit.size(1)), batch_(batch), start_(to_vector(start)), trans_(to_vector(trans)),
        emit_(to_vector(emit)), predicted_(static_cast<size_t>(batch)) {
    for (auto& p : predicted_) p = start_;
  }
  torch::Tensor next_scores() override {
    auto out = torch::empty({batch_, 1, v_}, torch::kFloat64);
    double* o = out.data_ptr<double>();
    for (int64_t b = 0; b < batch_; ++b) {
      const auto& p = predicted_[static_cast<size_t>(b)];
      for (int64_t x = 0; x < v_; ++x) {
        double s = 0;
        for (int64_t k = 0; k < k_; ++k) s += p[static_cast<size_t>(k)] * emit_[static_cast<size_t>(k * v_ + x)];
        o[b * v_ + x] = s > 0 ? std::log(s) : -std::numeric_limits<double>::infinity();
      }
    }
    return out;
  }
  void push(const torch::Tensor& symbols) override {
    auto ids = symbols.to(torch::kLong).contiguous();
    std::vector<double> filtered(static_cast<size_t>(k_));
    for (int64_t b = 0; b < batch_; ++b) {
      auto& p = predicted_[static_cast<size_t>(b)];
      const int64_t x = ids.data_ptr<int64_t>()[b];
      double total = 0;
      for (int64_t k = 0; k < k_; ++k) {
        total += filtered[static_cast<size_t>(k)] = p[static_cast<size_t>(k)] * emit_[static_cast<size_t>(k * v_ + x)];
      }
      for (int64_t k = 0; k < k_; ++k) {
        filtered[static_cast<size_t>(k)] = total > 0 ? filtered[static_cast<size_t>(k)] / total : 1.0 / static_cast<double>(k_);
      }
      for (int64_t j = 0; j < k_; ++j) {
        double s = 0;
        for (int64_t k = 0; k < k_; ++k) s += filtered[static_cast<size_t>(k)] * trans_[static_cast<size_t>(k * k_ + j)];
        p[static_cast<size_t>(j)] = s;
      }
    }
  }

 private:
  static std::vector<double> to_vector(const torch::Tensor& t) {
    auto c = t.to(torch::kFloat64).contiguous().cpu();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  int64_t k_, v_, batch_;
  std::vector<double> start_, trans_, emit_;
  std::vector<std::vector<double>> predicted_;  // P(z_t | x_<t) per stream [K]
};

void check_codable(const HiddenMarkovModel& m) {
  GF_CHECK_AS(NotFitted, m.fitted(), "fit the model first", "this HMM is not fitted yet, so it cannot code symbols");
  GF_CHECK_AS(NotSupported, m.options().emission == "categorical", "train an HMM with --emission categorical",
              "lossless coding needs categorical emissions; this HMM's are ", m.options().emission);
}

}  // namespace

int64_t HiddenMarkovModel::alphabet_size() const {
  check_codable(*this);
  return emissionprob_.size(1);
}

std::unique_ptr<SymbolStreams> HiddenMarkovModel::open_streams(int64_t batch) const {
  check_codable(*this);
  GF_CHECK(batch >= 1, "batch must be at least 1, got ", batch);
  return std::make_unique<HmmStreams>(startprob_, transmat_, emissionprob_, batch);
}

}  // namespace gf
