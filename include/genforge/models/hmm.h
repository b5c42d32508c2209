// Hidden Markov model with categorical, Gaussian or Gaussian-mixture emissions, fitted by Baum-Welch over many
// variable-length sequences (scaled forward-backward, parallel across sequences), with what hmmlearn has (Viterbi
// and posterior decoding, sampling, per-sequence scores, AIC/BIC, fixed parameters, zero-preserving transitions
// for left-right topologies) and what its users ask for: supervised training from labelled sequences,
// semi-supervised training (labelled and unlabelled sequences, or partly labelled ones) and missing observations.
//
//   gf::HmmOptions o;
//   o.n_components = 3;
//   o.emission = "gaussian";
//   gf::HiddenMarkovModel hmm(o);
//   gf::Dataset d;
//   d.x = x;                    // [N, D] float64 (categorical: [N, 1] symbol ids); NaN / -1 = missing
//   d.lengths = lengths;        // [S] int64, sums to N (undefined: one sequence)
//   d.labels = states;          // optional [N] int64 hidden states, -1 = unknown (supervised / semi-supervised)
//   hmm.fit(d);
//   auto ll = hmm.score_sequences(x, lengths);      // [S] log p(sequence) in nats
//   auto path = hmm.predict(x, lengths);            // [N] Viterbi states
//   auto gen = gf::make_generator(0);
//   auto seq = hmm.sample(100, gen);                // [100, D], one sequence
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct HmmOptions {
  int64_t n_components = 2;              // hidden states K
  std::string emission = "gaussian";     // gaussian | categorical | gmm
  std::string covariance_type = "diag";  // gaussian / gmm emissions: full | diag | tied | spherical
  int64_t n_mix = 2;                     // gmm emissions: Gaussians per state
  int64_t n_features = 0;                // categorical emissions: symbols V (0: largest symbol in the data + 1)
  std::string topology = "ergodic";      // ergodic | left-right (start in state 0; i -> i or i + 1 only)
  std::string params = "ste";            // what EM updates: s start, t transitions, e emissions
  std::string init_params = "ste";       // what fit initialises; the others must be given by set_init
  int64_t max_iter = 100;                // Baum-Welch iterations
  double tol = 1e-2;                     // stop when the total log-likelihood rises less than this (nats)
  double reg_covar = 1e-6;               // added to covariance diagonals
  double pseudocount = 0;                // added to every expected start, transition and symbol count
  int64_t seed = 0;                      // random initialisation (categorical emissions, k-means)
  std::string decoder = "viterbi";       // predict(): viterbi (best path) | map (most probable state per step)

  void validate() const;
};

class HiddenMarkovModel : public Model,
                          public SequenceScorer,
                          public InformationCriteria,
                          public SymbolPredictor,
                          public SequenceImputer,
                          public PartAssigner,
                          public Updatable {
 public:
  using Options = HmmOptions;
  static const OptionTable<HmmOptions>& option_table();

  explicit HiddenMarkovModel(HmmOptions options = {});

  std::string kind() const override { return "hmm"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const HmmOptions& options() const { return options_; }
  // startprob [K], transmat [K, K], emissionprob [K, V] (categorical), means [K, D] / [K, M, D] (gmm),
  // covars (hmmlearn's shapes by covariance type; gmm: per mixture component), weights [K, M] (gmm).
  std::vector<std::string> init_names() const override;
  void set_init(const std::string& name, const torch::Tensor& value) override;

  // Baum-Welch. With labels, labelled steps are clamped to their state: all labelled = supervised maximum
  // likelihood (one EM step gives the counts), some labelled = semi-supervised EM started from the labelled counts.
  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  // hmmlearn's init_params="": Baum-Welch (or the supervised counts) on `more` from the current parameters.
  std::string update_method() const override { return "Baum-Welch from the current parameters"; }
  FitReport update(const Dataset& more, const FitContext& ctx = {}) override;
  bool fitted() const override { return startprob_.defined(); }
  // One sequence of n steps. [n, D] (categorical: int64 [n, 1] symbols)
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  torch::Tensor sample(int64_t n, at::Generator& gen, torch::Tensor* states) const;  // also [n] states
  // x as one sequence: log p(x_t | x_<t), which sums to log p(x). [N] nats
  torch::Tensor score_samples(const torch::Tensor& x) const override;
  // log p(sequence) for each sequence. [S] nats
  torch::Tensor score_sequences(const torch::Tensor& x, const torch::Tensor& lengths = {}) const override;

  // Hidden states by `decoder` (not Model::decode, which maps latent codes to data). [N] int64
  torch::Tensor predict(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;
  torch::Tensor viterbi(const torch::Tensor& x, const torch::Tensor& lengths = {},
                        torch::Tensor* log_prob = nullptr) const;  // [N] int64; log_prob [S] of the best paths
  torch::Tensor predict_proba(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;  // [N, K]
  std::string part_name() const override { return "state"; }
  torch::Tensor part_probabilities(const torch::Tensor& x, const torch::Tensor& lengths) const override {
    return predict_proba(x, lengths);
  }
  torch::Tensor assign_parts(const torch::Tensor& x, const torch::Tensor& lengths) const override {
    return predict(x, lengths);
  }
  // Missing observations filled (src/models/hmm/hmm_impute.cpp): the mean by smoothing — p(state | sequence) from
  // forward-backward, then each state's (gmm: each component's) conditional Gaussian given the step's observed
  // cells; a symbol by the most probable one. Draws by forward filtering, backward sampling of a state path, then
  // the component and the missing cells given it.
  torch::Tensor sequence_mean(const torch::Tensor& x, const torch::Tensor& lengths) const override;  // [N, D]
  torch::Tensor sequence_samples(const torch::Tensor& x, const torch::Tensor& lengths, int64_t m,
                                 at::Generator& gen) const override;  // [m, N, D]
  // Lossless coding of symbol sequences (categorical emissions): forward filtering, each sequence from startprob.
  int64_t alphabet_size() const override;
  std::unique_ptr<SymbolStreams> open_streams(int64_t batch) const override;
  int64_t n_parameters() const;  // free parameters (zero transitions of a left-right model are not counted)
  double aic(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;
  double bic(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;
  double criterion(Criterion which, const Dataset& data) const override {
    return which == Criterion::bic ? bic(data.x, data.lengths) : aic(data.x, data.lengths);
  }

  const torch::Tensor& startprob() const { return startprob_; }        // [K]
  const torch::Tensor& transmat() const { return transmat_; }          // [K, K]
  const torch::Tensor& emissionprob() const { return emissionprob_; }  // [K, V] (categorical)
  const torch::Tensor& means() const { return means_; }                // [K, D] | [K, M, D]
  const torch::Tensor& covars() const { return covars_; }
  const torch::Tensor& weights() const { return weights_; }            // [K, M] (gmm)

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

 private:
  torch::Tensor prepare_input(const torch::Tensor& x, const char* what) const;
  torch::Tensor emission_log_prob(const torch::Tensor& x) const;  // [N, K]
  // p(x_n | k) / exp(log_scale[n]) [N, K] for the forward-backward pass; log_scale [N] (undefined: 0).
  torch::Tensor scaled_emissions(const torch::Tensor& x, torch::Tensor* log_scale) const;

  HmmOptions options_;
  TensorMap init_;  // user-given initial parameters by name
  torch::Tensor startprob_, transmat_, emissionprob_, means_, covars_, weights_;  // precision factors are derived when used
};

}  // namespace gf
