#include "genforge/models/lda.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "gibbs.h"
#include "genforge/core/distributed.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/random.h"
#include "core/cpu_clones.h"

namespace gf {

void LdaOptions::validate() const {
  GF_CHECK(algorithm == "vb" || algorithm == "gibbs", "algorithm must be vb or gibbs, got '", algorithm, "'");
  GF_CHECK(sweeps >= 1, "sweeps must be at least 1, got ", sweeps);
  GF_CHECK(chunksize >= 0, "chunksize must be 0 (the whole corpus) or positive, got ", chunksize);
  GF_CHECK(n_components >= 1, "n_components (topics) must be at least 1, got ", n_components);
  GF_CHECK(n_features >= 0, "n_features must be 0 (from the data) or the vocabulary size, got ", n_features);
  GF_CHECK(alpha >= 0 && eta >= 0, "alpha and eta must be positive (0: 1/K), got ", alpha, " and ", eta);
  GF_CHECK(passes >= 1, "passes must be at least 1, got ", passes);
  GF_CHECK(iterations >= 1, "iterations must be at least 1, got ", iterations);
  GF_CHECK(gamma_threshold >= 0, "gamma_threshold must be non-negative, got ", gamma_threshold);
  GF_CHECK(decay > 0.5 - 1e-12 && decay <= 1.0, "decay must be in [0.5, 1] (Hoffman et al.), got ", decay);
  GF_CHECK(offset >= 0, "offset must be non-negative, got ", offset);
  GF_CHECK(doc_init == "random" || doc_init == "ones", "doc_init must be random or ones, got '", doc_init, "'");
}

const OptionTable<LdaOptions>& LatentDirichletAllocation::option_table() {
  static const OptionTable<LdaOptions> table = [] {
    OptionTable<LdaOptions> t("lda");
    t.add("algorithm", &LdaOptions::algorithm, "variational Bayes or collapsed Gibbs sampling", {"vb", "gibbs"})
        .add("sweeps", &LdaOptions::sweeps, "gibbs: sampler passes over every token")
        .add("n_components", &LdaOptions::n_components, "number of topics")
        .add("n_features", &LdaOptions::n_features, "vocabulary size (0: largest word id + 1)")
        .add("alpha", &LdaOptions::alpha, "symmetric document-topic prior (0: 1/K)")
        .add("learn_alpha", &LdaOptions::learn_alpha, "learn an asymmetric alpha (Newton steps, gensim's 'auto')")
        .add("eta", &LdaOptions::eta, "symmetric topic-word prior (0: 1/K)")
        .add("passes", &LdaOptions::passes, "passes over the corpus")
        .add("chunksize", &LdaOptions::chunksize, "vb: documents per topic update (online VB; 0: the whole corpus)")
        .add("iterations", &LdaOptions::iterations, "most variational iterations per document")
        .add("gamma_threshold", &LdaOptions::gamma_threshold, "per-document convergence threshold")
        .add("decay", &LdaOptions::decay, "learning-rate decay kappa")
        .add("offset", &LdaOptions::offset, "learning-rate offset tau0")
        .add("doc_init", &LdaOptions::doc_init, "initial per-document gamma", {"random", "ones"})
        .add("gamma_warm_start", &LdaOptions::gamma_warm_start,
             "start each pass's document updates from the previous pass's (false: afresh, as gensim)")
        .add("seed", &LdaOptions::seed, "random seed of topics and document starts");
    return t;
  }();
  return table;
}

LatentDirichletAllocation::LatentDirichletAllocation(LdaOptions options) : options_(std::move(options)) {}

Capabilities LatentDirichletAllocation::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::documents;
  c.likelihood = Likelihood::lower_bound;
  return c;
}

nlohmann::json LatentDirichletAllocation::options_json() const { return option_table().to_json(options_); }

void LatentDirichletAllocation::set_init(const std::string& name, const torch::Tensor& value) {
  if (name != "sstats") Model::set_init(name, value);
  sstats_init_ = value.to(at::kCPU, at::kDouble);
}

namespace {

// psi(x) for x > 0: recurrence up to 6, then the asymptotic series (error < 1e-15 there).
double digamma(double x) {
  double r = 0;
  while (x < 6.0) {
    r -= 1.0 / x;
    x += 1.0;
  }
  const double f = 1.0 / (x * x);
  return r + std::log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

// Documents as bags of words: word ids ascending with their counts (np.unique order, as gensim's corpora).
struct Bags {
  std::vector<int64_t> offsets{0};  // [D + 1] into ids / counts
  std::vector<int64_t> ids;
  std::vector<double> counts;
  std::vector<double> words;        // [D] tokens per document
  int64_t size() const { return static_cast<int64_t>(offsets.size()) - 1; }
};

Bags make_bags(const at::Tensor& x_in, const at::Tensor& lengths, int64_t vocab) {
  GF_CHECK(x_in.defined() && (x_in.dim() == 1 || (x_in.dim() == 2 && x_in.size(1) == 1)),
           "documents are one column of word ids [N, 1], got shape ", x_in.defined() ? x_in.sizes() : at::IntArrayRef{});
  auto x = x_in.reshape({-1}).to(at::kCPU, at::kDouble).contiguous();
  const auto offsets = sequence_offsets(lengths, x.numel());
  const double* p = x.data_ptr<double>();
  Bags b;
  std::map<int64_t, double> bag;
  for (size_t d = 0; d + 1 < offsets.size(); ++d) {
    bag.clear();
    for (int64_t i = offsets[d]; i < offsets[d + 1]; ++i) {
      const double v = p[i];
      GF_CHECK_AS(DataError, std::isfinite(v) && v >= 0 && v == std::floor(v), "word ids are integers 0, 1, ...",
                  "row ", i, " holds ", v, ", which is not a word id");
      const auto id = static_cast<int64_t>(v);
      GF_CHECK_AS(DataError, vocab <= 0 || id < vocab, "use the vocabulary the model was trained with",
                  "word id ", id, " at row ", i, " is outside the model's vocabulary of ", vocab, " words");
      bag[id] += 1.0;
    }
    for (const auto& [id, c] : bag) {
      b.ids.push_back(id);
      b.counts.push_back(c);
    }
    b.offsets.push_back(static_cast<int64_t>(b.ids.size()));
    b.words.push_back(static_cast<double>(offsets[d + 1] - offsets[d]));
  }
  return b;
}

// Documents [d0, d1) of a corpus as their own bags.
Bags slice_bags(const Bags& b, int64_t d0, int64_t d1) {
  Bags out;
  const int64_t e0 = b.offsets[static_cast<size_t>(d0)], e1 = b.offsets[static_cast<size_t>(d1)];
  out.ids.assign(b.ids.begin() + e0, b.ids.begin() + e1);
  out.counts.assign(b.counts.begin() + e0, b.counts.begin() + e1);
  out.offsets.clear();
  for (int64_t d = d0; d <= d1; ++d) out.offsets.push_back(b.offsets[static_cast<size_t>(d)] - e0);
  out.words.assign(b.words.begin() + d0, b.words.begin() + d1);
  return out;
}

// exp(E[log beta]) stored word-major: [V][K].
std::vector<double> exp_elog_beta_word_major(const at::Tensor& lambda) {
  const int64_t k = lambda.size(0), v = lambda.size(1);
  auto lam = lambda.contiguous();
  const double* l = lam.data_ptr<double>();
  std::vector<double> out(static_cast<size_t>(v * k));
  at::parallel_for(0, k, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      double row = 0;
      for (int64_t w = 0; w < v; ++w) row += l[t * v + w];
      const double dr = digamma(row);
      for (int64_t w = 0; w < v; ++w) out[static_cast<size_t>(w * k + t)] = std::exp(digamma(l[t * v + w]) - dr);
    }
  });
  return out;
}

// Result of the per-document E-step.
struct EStep {
  std::vector<double> gamma;    // [D][K]
  std::vector<double> ratio;    // per bag entry: count / phinorm (for the sufficient statistics)
  std::vector<double> exp_elog_theta;  // [D][K]
};

// One document's variational updates, in the Lee-Seung form of Hoffman's onlineldavb (as gensim): phi is never
// stored; gamma = alpha + exp(E[log theta]) * sum_w (n_w / phinorm_w) exp(E[log beta_w]). `b` holds the document's
// rows of exp(E[log beta]) [n][K] gathered contiguously; each iteration makes one pass over them. Compiled for
// AVX2 as well, chosen at run time.
GF_CPU_CLONES bool infer_document(const double* b, const double* counts, int64_t n, int64_t k, const double* alpha,
                                  double* g, double* etheta, double* acc, double* last, double* ratio,
                                  const LdaOptions& o) {
  const double eps = std::numeric_limits<double>::epsilon();
  auto expect = [&]() {
    double sum = 0;
    for (int64_t t = 0; t < k; ++t) sum += g[t];
    const double ds = digamma(sum);
    for (int64_t t = 0; t < k; ++t) etheta[t] = std::exp(digamma(g[t]) - ds);
  };
  expect();
  bool converged = false;
  for (int64_t it = 0; it < o.iterations && !converged; ++it) {
    for (int64_t t = 0; t < k; ++t) acc[t] = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      const double* bj = b + j * k;
      double s = 0;
      for (int64_t t = 0; t < k; ++t) s += etheta[t] * bj[t];
      const double c = counts[j] / (s + eps);
      for (int64_t t = 0; t < k; ++t) acc[t] += c * bj[t];
    }
    double change = 0;
    for (int64_t t = 0; t < k; ++t) {
      last[t] = g[t];
      g[t] = alpha[t] + etheta[t] * acc[t];
      change += std::abs(g[t] - last[t]);
    }
    expect();
    converged = change / static_cast<double>(k) < o.gamma_threshold;
  }
  for (int64_t j = 0; j < n; ++j) {
    const double* bj = b + j * k;
    double s = 0;
    for (int64_t t = 0; t < k; ++t) s += etheta[t] * bj[t];
    ratio[j] = counts[j] / (s + eps);
  }
  return converged;
}

EStep e_step(const Bags& bags, const std::vector<double>& eb, int64_t k, const std::vector<double>& alpha,
             const std::vector<double>& gamma_init, const LdaOptions& o, int64_t* converged) {
  const int64_t d_count = bags.size();
  EStep r;
  r.gamma = gamma_init;
  r.exp_elog_theta.resize(static_cast<size_t>(d_count * k));
  r.ratio.resize(bags.ids.size());
  std::vector<int64_t> done(static_cast<size_t>(d_count), 0);
  at::parallel_for(0, d_count, 4, [&](int64_t d0, int64_t d1) {
    std::vector<double> acc(static_cast<size_t>(k)), last(static_cast<size_t>(k)), rows;
    for (int64_t d = d0; d < d1; ++d) {
      const int64_t first = bags.offsets[static_cast<size_t>(d)], n = bags.offsets[static_cast<size_t>(d) + 1] - first;
      rows.resize(static_cast<size_t>(n * k));
      for (int64_t j = 0; j < n; ++j) {
        const double* src = eb.data() + bags.ids[static_cast<size_t>(first + j)] * k;
        std::copy(src, src + k, rows.begin() + j * k);
      }
      done[static_cast<size_t>(d)] = infer_document(rows.data(), bags.counts.data() + first, n, k, alpha.data(),
                                                    r.gamma.data() + d * k, r.exp_elog_theta.data() + d * k,
                                                    acc.data(), last.data(), r.ratio.data() + first, o);
    }
  });
  if (converged) {
    *converged = 0;
    for (int64_t v : done) *converged += v;
  }
  return r;
}

std::vector<double> initial_gamma(int64_t d, int64_t k, const LdaOptions& o, at::Generator& gen) {
  if (o.doc_init == "ones") return std::vector<double>(static_cast<size_t>(d * k), 1.0);
  auto g = (at::_standard_gamma(at::full({d, k}, 100.0, at::kDouble), gen) / 100.0).contiguous();
  return std::vector<double>(g.data_ptr<double>(), g.data_ptr<double>() + d * k);
}

// gensim's update_dir_prior: one Newton step on the Dirichlet prior from the documents' mean E[log theta].
void update_alpha(std::vector<double>& alpha, const std::vector<double>& gamma, int64_t d_count, int64_t k,
                  double rho) {
  std::vector<double> logphat(static_cast<size_t>(k), 0.0);
  for (int64_t d = 0; d < d_count; ++d) {
    const double* g = gamma.data() + d * k;
    double sum = 0;
    for (int64_t t = 0; t < k; ++t) sum += g[t];
    const double ds = digamma(sum);
    for (int64_t t = 0; t < k; ++t) logphat[static_cast<size_t>(t)] += (digamma(g[t]) - ds) / static_cast<double>(d_count);
  }
  const double n = static_cast<double>(d_count);
  double asum = 0;
  for (double a : alpha) asum += a;
  auto trigamma = [](double x) { return at::polygamma(1, at::full({1}, x, at::kDouble)).item<double>(); };
  const double c = n * trigamma(asum);
  std::vector<double> grad(static_cast<size_t>(k)), q(static_cast<size_t>(k));
  double num = 0, den = 1.0 / c;
  for (int64_t t = 0; t < k; ++t) {
    grad[static_cast<size_t>(t)] = n * (digamma(asum) - digamma(alpha[static_cast<size_t>(t)]) + logphat[static_cast<size_t>(t)]);
    q[static_cast<size_t>(t)] = -n * trigamma(alpha[static_cast<size_t>(t)]);
    num += grad[static_cast<size_t>(t)] / q[static_cast<size_t>(t)];
    den += 1.0 / q[static_cast<size_t>(t)];
  }
  const double b = num / den;
  std::vector<double> next(alpha);
  bool positive = true;
  for (int64_t t = 0; t < k; ++t) {
    next[static_cast<size_t>(t)] += rho * (-(grad[static_cast<size_t>(t)] - b) / q[static_cast<size_t>(t)]);
    positive = positive && next[static_cast<size_t>(t)] > 0;
  }
  if (positive) alpha = next;
}

// Sum over documents of E[log p(doc | theta, beta)] + E[log p(theta | alpha) - log q(theta | gamma)], gensim's
// form of the bound (the word term uses logsumexp over topics of E[log theta] + E[log beta]).
std::vector<double> document_bounds(const Bags& bags, const EStep& es, const at::Tensor& lambda,
                                    const std::vector<double>& alpha, int64_t k) {
  const int64_t v = lambda.size(1), d_count = bags.size();
  auto lam = lambda.contiguous();
  const double* l = lam.data_ptr<double>();
  std::vector<double> elog_beta(static_cast<size_t>(v * k));  // word-major
  for (int64_t t = 0; t < k; ++t) {
    double row = 0;
    for (int64_t w = 0; w < v; ++w) row += l[t * v + w];
    const double dr = digamma(row);
    for (int64_t w = 0; w < v; ++w) elog_beta[static_cast<size_t>(w * k + t)] = digamma(l[t * v + w]) - dr;
  }
  double alpha_sum = 0, lgamma_alpha = 0;
  for (double a : alpha) {
    alpha_sum += a;
    lgamma_alpha += std::lgamma(a);
  }
  std::vector<double> out(static_cast<size_t>(d_count));
  at::parallel_for(0, d_count, 8, [&](int64_t d0, int64_t d1) {
    std::vector<double> elt(static_cast<size_t>(k));
    for (int64_t d = d0; d < d1; ++d) {
      const double* g = es.gamma.data() + d * k;
      double gsum = 0;
      for (int64_t t = 0; t < k; ++t) gsum += g[t];
      const double ds = digamma(gsum);
      for (int64_t t = 0; t < k; ++t) elt[static_cast<size_t>(t)] = digamma(g[t]) - ds;
      double score = 0;
      for (int64_t j = bags.offsets[static_cast<size_t>(d)]; j < bags.offsets[static_cast<size_t>(d) + 1]; ++j) {
        const double* eb = elog_beta.data() + bags.ids[static_cast<size_t>(j)] * k;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t t = 0; t < k; ++t) m = std::max(m, elt[static_cast<size_t>(t)] + eb[t]);
        double s = 0;
        for (int64_t t = 0; t < k; ++t) s += std::exp(elt[static_cast<size_t>(t)] + eb[t] - m);
        score += bags.counts[static_cast<size_t>(j)] * (m + std::log(s));
      }
      for (int64_t t = 0; t < k; ++t) {
        score += (alpha[static_cast<size_t>(t)] - g[t]) * elt[static_cast<size_t>(t)] + std::lgamma(g[t]);
      }
      score += -lgamma_alpha + std::lgamma(alpha_sum) - std::lgamma(gsum);
      out[static_cast<size_t>(d)] = score;
    }
  });
  return out;
}

// E[log p(beta | eta) - log q(beta | lambda)], symmetric eta (gensim's topic term of the bound).
double topic_bound(const at::Tensor& lambda, double eta) {
  auto elog = at::digamma(lambda) - at::digamma(lambda.sum(1, true));
  const double v = static_cast<double>(lambda.size(1));
  double s = ((eta - lambda) * elog).sum().item<double>();
  s += (at::lgamma(lambda) - std::lgamma(eta)).sum().item<double>();
  s += (std::lgamma(eta * v) - at::lgamma(lambda.sum(1))).sum().item<double>();
  return s;
}

// gensim's online variational Bayes (LdaModel.update; Hoffman et al. 2010) over `bags`: `passes` passes, the
// documents in chunks of `chunk`, each chunk's E-step from `eb` (exp E[log beta] of the current topics, word-major)
// and one topic update with rho = (offset + pass + num_updates / chunk)^-decay, the chunk's statistics scaled to
// `target_docs` (every document the topics have seen: gensim's LdaState.blend); updates are counted in the first
// pass only. One chunk = batch VB. sstats [K, V], alpha and num_updates are updated in place; the report gets
// each pass's share of converged documents.
void online_vb(const Bags& bags, const LdaOptions& o, int64_t chunk, double target_docs, double eta,
               std::vector<double> eb, at::Tensor& sstats, std::vector<double>& alpha, double& num_updates,
               at::Generator& gen, const FitContext& ctx, FitReport& report) {
  const int64_t k = sstats.size(0), v = sstats.size(1), d_count = bags.size();
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("lda variational Bayes", o.passes, "pass");
  std::vector<Bags> chunks;
  for (int64_t c0 = 0; c0 < d_count; c0 += chunk) chunks.push_back(slice_bags(bags, c0, std::min(d_count, c0 + chunk)));
  std::vector<std::vector<double>> last_gamma(chunks.size());
  // In a distributed job (genforge launch) each rank infers a share of each chunk's documents; the topic
  // statistics and the documents' gammas are summed, so every rank makes the same topic update.
  dist::Communicator& comm = dist::world();
  for (int64_t pass = 0; pass < o.passes; ++pass) {
    log::ScopedTimer timer("lda.pass");
    int64_t converged = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const Bags& cb = chunks[c];
      const int64_t nd = cb.size();
      const double rho = std::pow(o.offset + static_cast<double>(pass) + num_updates / static_cast<double>(chunk), -o.decay);
      int64_t chunk_converged = 0;
      // Each pass starts the documents where the previous one left them (gamma_warm_start), or afresh as gensim.
      std::vector<double> start = (o.gamma_warm_start && pass > 0) ? last_gamma[c] : initial_gamma(nd, k, o, gen);
      const auto [d0, d1] = dist::shard(nd, comm.rank(), comm.size());
      std::optional<Bags> share;
      if (comm.distributed()) {
        share = slice_bags(cb, d0, d1);
        start = std::vector<double>(start.begin() + d0 * k, start.begin() + d1 * k);
      }
      const Bags& mine = share ? *share : cb;
      EStep es = e_step(mine, eb, k, alpha, start, o, &chunk_converged);
      // Sufficient statistics sum_d n_dw phi_dwk, added in document order (deterministic for any thread count).
      std::vector<double> stats(static_cast<size_t>(v * k), 0.0);  // word-major
      for (int64_t d = 0; d < mine.size(); ++d) {
        const double* et = es.exp_elog_theta.data() + d * k;
        for (int64_t j = mine.offsets[static_cast<size_t>(d)]; j < mine.offsets[static_cast<size_t>(d) + 1]; ++j) {
          double* st = stats.data() + mine.ids[static_cast<size_t>(j)] * k;
          const double r = es.ratio[static_cast<size_t>(j)];
          for (int64_t t = 0; t < k; ++t) st[t] += et[t] * r;
        }
      }
      if (comm.distributed()) {
        auto summed_stats = at::from_blob(stats.data(), {v * k}, at::kDouble);  // a view: summed in place
        auto gamma = at::zeros({nd * k}, at::kDouble);
        if (d1 > d0) gamma.slice(0, d0 * k, d1 * k).copy_(at::from_blob(es.gamma.data(), {(d1 - d0) * k}, at::kDouble));
        auto count = at::tensor({static_cast<double>(chunk_converged)}, at::kDouble);
        std::vector<at::Tensor> parts{summed_stats, gamma, count};
        comm.all_reduce_sum(parts);
        es.gamma.assign(gamma.data_ptr<double>(), gamma.data_ptr<double>() + nd * k);
        chunk_converged = static_cast<int64_t>(count.item<double>());
      }
      converged += chunk_converged;
      if (o.learn_alpha) update_alpha(alpha, es.gamma, nd, k, rho);
      for (size_t i = 0; i < stats.size(); ++i) stats[i] *= eb[i];
      auto fresh = at::from_blob(stats.data(), {v, k}, at::kDouble).t().contiguous();  // [K, V]
      sstats = (1.0 - rho) * sstats + rho * (target_docs / static_cast<double>(nd)) * fresh;
      if (pass == 0) num_updates += static_cast<double>(nd);
      eb = exp_elog_beta_word_major(sstats + eta);
      last_gamma[c] = std::move(es.gamma);
    }
    report.history.push_back(static_cast<double>(converged) / static_cast<double>(d_count));
    report.n_iter = pass + 1;
    if (bar) bar->update(pass + 1, msg("documents converged ", converged, "/", d_count));
  }
  if (bar) bar->finish();
}

}  // namespace

FitReport LatentDirichletAllocation::fit(const Dataset& train, const FitContext& ctx) {
  options_.validate();
  const auto started = std::chrono::steady_clock::now();
  const LdaOptions& o = options_;
  const int64_t k = o.n_components;
  const Bags bags = make_bags(train.x, train.lengths, o.n_features);
  int64_t v = o.n_features;
  if (v == 0) {
    GF_CHECK_AS(DataError, !bags.ids.empty(), "give documents with words", "the corpus has no words");
    v = *std::max_element(bags.ids.begin(), bags.ids.end()) + 1;
  }
  const int64_t d_count = bags.size();
  const double alpha0 = o.alpha > 0 ? o.alpha : 1.0 / static_cast<double>(k);
  const double eta = o.eta > 0 ? o.eta : 1.0 / static_cast<double>(k);
  std::vector<double> alpha(static_cast<size_t>(k), alpha0);
  at::Generator gen = make_generator(static_cast<uint64_t>(o.seed));
  if (o.algorithm == "gibbs") {
    // Tokens from the bags (order within a document does not matter to LDA).
    std::vector<int64_t> tokens, offsets{0};
    for (int64_t d = 0; d < d_count; ++d) {
      for (int64_t j = bags.offsets[static_cast<size_t>(d)]; j < bags.offsets[static_cast<size_t>(d) + 1]; ++j) {
        tokens.insert(tokens.end(), static_cast<size_t>(bags.counts[static_cast<size_t>(j)]), bags.ids[static_cast<size_t>(j)]);
      }
      offsets.push_back(static_cast<int64_t>(tokens.size()));
    }
    std::optional<Progress> bar;
    if (ctx.progress) bar.emplace("lda collapsed Gibbs", o.sweeps, "sweep");
    auto result = lda::collapsed_gibbs(tokens, offsets, k, v, alpha0, eta, o.sweeps, static_cast<uint64_t>(o.seed),
                                       [&](int64_t s, double ll) {
                                         if (bar) bar->update(s + 1, msg("log p(w | z) ", ll));
                                       });
    if (bar) bar->finish();
    lambda_ = result.topic_word + eta;
    alpha_ = at::full({k}, alpha0, at::kDouble);
    numdocs_ = d_count;
    num_updates_ = static_cast<double>(d_count);
    FitReport report;
    report.history = result.log_likelihood;
    report.n_iter = o.sweeps;
    report.extra["history"] = "log p(words | topic assignments) after each sweep (nats)";
    return finish_fit(report, train, ctx, started, v, d_count,
                      static_cast<int64_t>(std::accumulate(bags.words.begin(), bags.words.end(), 0.0)), eta);
  }
  at::Tensor sstats;  // [K, V]
  if (sstats_init_.defined()) {
    GF_CHECK(sstats_init_.sizes() == at::IntArrayRef({k, v}), "sstats must have shape [", k, ", ", v, "], got ",
             sstats_init_.sizes());
    sstats = sstats_init_.clone();
  } else {
    sstats = at::_standard_gamma(at::full({k, v}, 100.0, at::kDouble), gen) / 100.0;
  }
  // gensim's first E-step uses the expectation of the initial statistics themselves (without eta).
  FitReport report;
  num_updates_ = 0;
  numdocs_ = d_count;
  online_vb(bags, o, o.chunksize > 0 ? std::min(o.chunksize, d_count) : d_count, static_cast<double>(d_count), eta,
            exp_elog_beta_word_major(sstats), sstats, alpha, num_updates_, gen, ctx, report);
  lambda_ = sstats + eta;
  alpha_ = at::tensor(alpha, at::kDouble);
  report.extra["history"] = "fraction of documents whose variational iterations converged, per pass";
  return finish_fit(report, train, ctx, started, v, d_count,
                      static_cast<int64_t>(std::accumulate(bags.words.begin(), bags.words.end(), 0.0)), eta);
}

FitReport LatentDirichletAllocation::update(const Dataset& more, const FitContext& ctx) {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train lda ...`) or load a fitted one",
              "this LatentDirichletAllocation is not fitted yet, so it cannot be updated");
  options_.validate();
  const auto started = std::chrono::steady_clock::now();
  const LdaOptions& o = options_;
  const int64_t k = lambda_.size(0), v = lambda_.size(1);
  GF_CHECK_AS(DataError, more.x.defined() && more.x.numel() > 0, "give documents with words",
              "there are no words to update the topics with");
  const Bags bags = make_bags(more.x, more.lengths, v);
  const int64_t d_count = bags.size();
  const double eta = o.eta > 0 ? o.eta : 1.0 / static_cast<double>(k);
  if (numdocs_ == 0) {  // a file from before these counts were kept: its fit's documents stand for both
    numdocs_ = report_.extra.value("n_documents", int64_t{0});
    num_updates_ = static_cast<double>(numdocs_);
  }
  numdocs_ += d_count;  // gensim adds the new corpus before the first blend
  at::Tensor sstats = lambda_ - eta;  // [K, V]
  std::vector<double> alpha(alpha_.data_ptr<double>(), alpha_.data_ptr<double>() + k);
  at::Generator gen = make_generator(static_cast<uint64_t>(o.seed) + static_cast<uint64_t>(numdocs_));
  FitReport report;
  online_vb(bags, o, o.chunksize > 0 ? std::min(o.chunksize, d_count) : d_count, static_cast<double>(numdocs_), eta,
            exp_elog_beta_word_major(lambda_), sstats, alpha, num_updates_, gen, ctx, report);
  lambda_ = sstats + eta;
  alpha_ = at::tensor(alpha, at::kDouble);
  report.extra["history"] = "fraction of documents whose variational iterations converged, per pass";
  report.extra["documents_seen"] = numdocs_;
  return finish_fit(report, more, ctx, started, v, d_count,
                    static_cast<int64_t>(std::accumulate(bags.words.begin(), bags.words.end(), 0.0)), eta);
}

FitReport LatentDirichletAllocation::finish_fit(FitReport report, const Dataset& train, const FitContext& ctx,
                                                std::chrono::steady_clock::time_point started, int64_t v,
                                                int64_t d_count, int64_t n_words, double eta) {
  schema_ = {{"data_kind", "documents"}, {"n_features", v}};
  // Training bound with the final topics (a fresh E-step, as gensim's bound does).
  const double bound = score_documents(train.x, train.lengths).sum().item<double>();
  report.converged = true;
  report.objective = bound + topic_bound(lambda_, eta);
  report.objective_name = "variational bound on log p(corpus) (nats)";
  report.extra["n_documents"] = d_count;
  report.extra["n_words"] = n_words;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto p = perplexity(ctx.validation->x, ctx.validation->lengths);
    report.extra["validation_perplexity"] = p.perplexity;
    report.extra["validation_perplexity_gensim"] = p.perplexity_gensim;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report_ = report;
  return report_;
}

namespace {

void check_fitted(const LatentDirichletAllocation& m, const char* what) {
  GF_CHECK_AS(NotFitted, m.fitted(), "fit the model first (`genforge train lda ...`) or load a fitted one",
              "this LatentDirichletAllocation is not fitted yet, so it cannot ", what);
}

// Fixed topics: the per-document E-step from constant starts (gamma = 1), so scores are deterministic.
EStep infer(const LatentDirichletAllocation& m, const Bags& bags) {
  const int64_t k = m.lambda().size(0);
  LdaOptions o = m.options();
  std::vector<double> alpha(m.alpha().data_ptr<double>(), m.alpha().data_ptr<double>() + k);
  return e_step(bags, exp_elog_beta_word_major(m.lambda()), k, alpha,
                std::vector<double>(static_cast<size_t>(bags.size() * k), 1.0), o, nullptr);
}

std::vector<double> alpha_vector(const LatentDirichletAllocation& m) {
  auto a = m.alpha().contiguous();
  return std::vector<double>(a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
}

}  // namespace

torch::Tensor LatentDirichletAllocation::score_documents(const torch::Tensor& x, const torch::Tensor& lengths) const {
  check_fitted(*this, "score documents");
  const Bags bags = make_bags(x, lengths, lambda_.size(1));
  const auto es = infer(*this, bags);
  return at::tensor(document_bounds(bags, es, lambda_, alpha_vector(*this), lambda_.size(0)), at::kDouble);
}

torch::Tensor LatentDirichletAllocation::score_samples(const torch::Tensor& x) const {
  check_fitted(*this, "score samples");
  const Bags bags = make_bags(x, {}, lambda_.size(1));
  const int64_t k = lambda_.size(0);
  const auto es = infer(*this, bags);
  const double total = document_bounds(bags, es, lambda_, alpha_vector(*this), k)[0];
  // Each word: log sum_k exp(E[log theta_k] + E[log beta_kw]); the document's KL terms shared equally.
  auto elog_theta = at::digamma(at::tensor(es.gamma, at::kDouble)) - digamma(std::accumulate(es.gamma.begin(), es.gamma.end(), 0.0));
  auto elog_beta = at::digamma(lambda_) - at::digamma(lambda_.sum(1, true));               // [K, V]
  auto ids = x.reshape({-1}).to(at::kCPU, at::kLong);
  auto word = at::logsumexp(elog_beta.index_select(1, ids) + elog_theta.unsqueeze(1), 0);  // [N]
  const double rest = total - word.sum().item<double>();
  return word + rest / static_cast<double>(ids.numel());
}

torch::Tensor LatentDirichletAllocation::doc_topics(const torch::Tensor& x, const torch::Tensor& lengths) const {
  check_fitted(*this, "infer topic mixtures");
  const Bags bags = make_bags(x, lengths, lambda_.size(1));
  const auto es = infer(*this, bags);
  auto g = at::tensor(es.gamma, at::kDouble).view({bags.size(), lambda_.size(0)});
  return g / g.sum(1, true);
}

LdaPerplexity LatentDirichletAllocation::perplexity(const torch::Tensor& x, const torch::Tensor& lengths) const {
  check_fitted(*this, "compute perplexity");
  const Bags bags = make_bags(x, lengths, lambda_.size(1));
  const auto es = infer(*this, bags);
  const auto bounds = document_bounds(bags, es, lambda_, alpha_vector(*this), lambda_.size(0));
  LdaPerplexity p;
  p.documents = bags.size();
  const double words = std::accumulate(bags.words.begin(), bags.words.end(), 0.0);
  p.words = static_cast<int64_t>(words);
  const double docs = std::accumulate(bounds.begin(), bounds.end(), 0.0);
  const double eta = options_.eta > 0 ? options_.eta : 1.0 / static_cast<double>(lambda_.size(0));
  p.per_word_document_bound = docs / words;
  p.perplexity = std::exp(-p.per_word_document_bound);
  p.per_word_bound_gensim = (docs + topic_bound(lambda_, eta)) / words;
  p.perplexity_gensim = std::exp2(-p.per_word_bound_gensim);
  return p;
}

torch::Tensor LatentDirichletAllocation::topics() const {
  check_fitted(*this, "give topics");
  return lambda_ / lambda_.sum(1, true);
}

std::vector<std::vector<int64_t>> LatentDirichletAllocation::top_words(int64_t n) const {
  auto t = topics().contiguous();
  const int64_t k = t.size(0), v = t.size(1);
  n = std::min(n, v);
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < k; ++r) {
    const double* row = t.data_ptr<double>() + r * v;
    std::vector<int64_t> idx(static_cast<size_t>(v));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    idx.resize(static_cast<size_t>(n));
    out.push_back(idx);
  }
  return out;
}

torch::Tensor LatentDirichletAllocation::sample(int64_t n, at::Generator& gen) const {
  check_fitted(*this, "sample");
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  auto theta = at::_standard_gamma(alpha_.unsqueeze(0), gen).squeeze(0);  // [K]
  theta = theta / theta.sum();
  auto z = at::multinomial(theta, n, /*replacement=*/true, gen);  // [n]
  auto beta = topics();
  auto words = at::empty({n}, at::kLong);
  for (int64_t t = 0; t < beta.size(0); ++t) {
    auto at_t = z.eq(t).nonzero().squeeze(1);
    if (at_t.numel() == 0) continue;
    words.index_copy_(0, at_t, at::multinomial(beta[t], at_t.numel(), /*replacement=*/true, gen));
  }
  return words.unsqueeze(1);  // [n, 1]
}

TensorMap LatentDirichletAllocation::state() const {
  check_fitted(*this, "be saved");
  // gensim's counts between updates: [documents seen, updates counted].
  return {{"lambda", lambda_}, {"alpha", alpha_},
          {"update_counts", at::tensor({static_cast<double>(numdocs_), num_updates_}, at::kDouble)}};
}

void LatentDirichletAllocation::load_state(const TensorMap& tensors) {
  lambda_ = stored_tensor(tensors, "lambda").to(at::kDouble);
  alpha_ = stored_tensor(tensors, "alpha").to(at::kDouble);
  GF_CHECK_AS(ModelFileError, lambda_.dim() == 2 && alpha_.dim() == 1 && alpha_.size(0) == lambda_.size(0),
              "the model file is damaged; train the model again", "the lda model file's lambda ", lambda_.sizes(),
              " and alpha ", alpha_.sizes(), " do not fit together");
  numdocs_ = 0, num_updates_ = 0;  // files from before the counts: update() takes the fit's documents
  if (const auto it = tensors.find("update_counts"); it != tensors.end()) {
    const auto& c = it->second;
    GF_CHECK_AS(ModelFileError, c.numel() == 2 && c.is_floating_point() && c.isfinite().all().item<bool>() &&
                                    (c >= 0).all().item<bool>(),
                "the model file is damaged; train the model again", "the lda model file's update counts ",
                c.sizes(), " are malformed");
    const auto counts = c.to(at::kDouble).contiguous();
    numdocs_ = static_cast<int64_t>(counts.data_ptr<double>()[0]);
    num_updates_ = counts.data_ptr<double>()[1];
  }
}

}  // namespace gf
