// Latent Dirichlet allocation (Blei et al. 2003) fitted by collapsed Gibbs sampling (Griffiths & Steyvers 2004, with
// SparseLDA's bucket sampler, Yao et al. 2009: topics = final counts + eta) or by variational Bayes (Hoffman et al.
// 2010, the default) over the whole
// corpus per pass, with gensim's update rules (Lee-Seung form of the per-document updates, learning rate
// (offset + pass + [pass > 0])^-decay, optional learned asymmetric alpha by Newton steps), written for speed: the
// per-document E-step runs in parallel and the sufficient statistics are added in document order.
//
//   gf::LdaOptions o;
//   o.n_components = 20;                        // topics
//   gf::LatentDirichletAllocation lda(o);
//   gf::Dataset d;
//   d.x = word_ids;                             // [N, 1] word ids of all documents, concatenated
//   d.lengths = doc_lengths;                    // [D] tokens per document
//   lda.fit(d);
//   auto theta = lda.doc_topics(x, lengths);    // [D, K] topic mixture of (unseen) documents
//   auto ppl = lda.perplexity(x, lengths);      // held-out perplexity, two documented conventions
#pragma once
#include <torch/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "genforge/core/options.h"
#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf {

struct LdaOptions {
  std::string algorithm = "vb";     // vb (variational Bayes, as gensim) | gibbs (collapsed Gibbs, SparseLDA sampler)
  int64_t sweeps = 200;             // gibbs: passes of the sampler over every token
  int64_t n_components = 10;        // topics K
  int64_t n_features = 0;           // vocabulary size V (0: largest word id in the data + 1)
  double alpha = 0;                 // symmetric document-topic prior (0: 1/K)
  bool learn_alpha = false;         // learn an asymmetric alpha (gensim's alpha='auto': Newton steps)
  double eta = 0;                   // symmetric topic-word prior (0: 1/K)
  int64_t passes = 10;              // passes over the corpus
  int64_t chunksize = 0;            // vb: documents per topic update, online VB (0: the whole corpus, batch VB)
  int64_t iterations = 50;          // most per-document variational iterations
  double gamma_threshold = 1e-3;    // a document's iterations stop when mean |change of gamma| < this
  double decay = 0.5;               // learning rate (offset + pass + [pass > 0])^-decay
  double offset = 1.0;
  std::string doc_init = "random";  // initial per-document gamma: random (Gamma(100, 1/100)) | ones
  bool gamma_warm_start = true;     // passes after the first start documents from the previous pass's gamma
  int64_t seed = 0;                 // initial topics and document starts

  void validate() const;
};

// Held-out perplexity, in two conventions (docs/models/lda.md):
//   gensim: per-word bound b = (sum of document bounds + topic term E[log p(beta) - log q(beta)]) / words, and
//           perplexity 2^-b — gensim's LdaModel.log_perplexity and what it logs;
//   document: exp(-(sum of document bounds) / words), the usual upper bound on per-word perplexity.
struct LdaPerplexity {
  int64_t documents = 0, words = 0;
  double per_word_bound_gensim = 0, perplexity_gensim = 0;
  double per_word_document_bound = 0, perplexity = 0;
};

class LatentDirichletAllocation : public Model,
                                  public TopicModel,
                                  public SequenceScorer,
                                  public PartAssigner,
                                  public Updatable {
 public:
  using Options = LdaOptions;
  static const OptionTable<LdaOptions>& option_table();

  explicit LatentDirichletAllocation(LdaOptions options = {});

  std::string kind() const override { return "lda"; }
  Capabilities capabilities() const override;
  nlohmann::json options_json() const override;
  const LdaOptions& options() const { return options_; }
  // sstats [K, V]: initial expected topic-word counts (default Gamma(100, 1/100) draws, as gensim).
  std::vector<std::string> init_names() const override { return {"sstats"}; }
  void set_init(const std::string& name, const torch::Tensor& value) override;

  // x [N, 1] word ids (documents concatenated), lengths [D]; undefined lengths = one document.
  FitReport fit(const Dataset& train, const FitContext& ctx = {}) override;
  // gensim's LdaModel.update(more): `passes` passes of online variational Bayes over the new documents (in chunks of
  // `chunksize`, 0: all at once), the topics' statistics blended with theirs at rho = (offset + pass + updates /
  // chunk)^-decay and scaled to every document seen so far; the learned alpha too with learn_alpha. The counts
  // gensim keeps between calls (documents seen, updates made) are saved in the model file. A Gibbs-fitted model is
  // updated the same way from its topics.
  std::string update_method() const override { return "online variational Bayes on the new documents (gensim's update)"; }
  FitReport update(const Dataset& more, const FitContext& ctx = {}) override;
  bool fitted() const override { return lambda_.defined(); }
  // One document of n words: theta ~ Dir(alpha), z ~ theta, w ~ topic z. int64 [n, 1]
  torch::Tensor sample(int64_t n, at::Generator& gen) const override;
  // x as one document: each word's share of the document's variational bound (sums to it). [N] nats
  torch::Tensor score_samples(const torch::Tensor& x) const override;
  // Variational lower bound on log p(document) for each document (topics held fixed). [D] nats
  torch::Tensor score_documents(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;
  torch::Tensor score_sequences(const torch::Tensor& x, const torch::Tensor& lengths = {}) const override {
    return score_documents(x, lengths);
  }
  // Topic mixture E[theta | document] of each document (the variational posterior's mean). [D, K]
  torch::Tensor doc_topics(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;
  std::string part_name() const override { return "topic"; }
  torch::Tensor part_probabilities(const torch::Tensor& x, const torch::Tensor& lengths) const override {
    return doc_topics(x, lengths);
  }
  LdaPerplexity perplexity(const torch::Tensor& x, const torch::Tensor& lengths = {}) const;

  torch::Tensor topics() const;  // [K, V] E[beta] (rows of lambda normalised)
  // The n most probable words of each topic, most probable first (ties: lower id first). [K][n]
  std::vector<std::vector<int64_t>> top_words(int64_t n) const override;
  const torch::Tensor& lambda() const { return lambda_; }  // [K, V] variational topic-word parameters
  const torch::Tensor& alpha() const { return alpha_; }    // [K]

  TensorMap state() const override;
  void load_state(const TensorMap& tensors) override;

 private:
  // Schema, training bound, validation and timing shared by both algorithms.
  FitReport finish_fit(FitReport report, const Dataset& train, const FitContext& ctx,
                       std::chrono::steady_clock::time_point started, int64_t v, int64_t d_count, int64_t n_words,
                       double eta);

  LdaOptions options_;
  torch::Tensor sstats_init_;
  torch::Tensor lambda_, alpha_;  // [K, V] float64, [K]
  double num_updates_ = 0;         // documents counted in first passes (gensim's num_updates)
  int64_t numdocs_ = 0;            // documents the topics have seen (gensim's LdaState.numdocs)
};

}  // namespace gf
