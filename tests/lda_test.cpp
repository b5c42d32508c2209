// Latent Dirichlet allocation: gensim 4.2's updates reproduced number for number (tests/reference/
// make_lda_golden.py), planted topics recovered, coherence definitions, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/eval/topics.h"
#include "genforge/models/lda.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

Dataset documents(const std::vector<std::vector<int64_t>>& docs) {
  std::vector<double> ids;
  std::vector<int64_t> lengths;
  for (const auto& d : docs) {
    ids.insert(ids.end(), d.begin(), d.end());
    lengths.push_back(static_cast<int64_t>(d.size()));
  }
  Dataset ds{torch::tensor(ids, torch::kFloat64).unsqueeze(1)};
  ds.lengths = torch::tensor(lengths, torch::kLong);
  return ds;
}

void check_against_gensim(const std::string& variant, bool learn_alpha, int64_t chunksize = 0) {
  auto g = test::read_json(test::source_path("tests/reference/lda_golden.json"));
  auto train = documents(g["train"].get<std::vector<std::vector<int64_t>>>());
  auto test_docs = documents(g["test"].get<std::vector<std::vector<int64_t>>>());
  LdaOptions o;
  o.n_components = 3;
  o.n_features = 30;
  o.passes = 4;
  o.doc_init = "ones";
  o.gamma_warm_start = false;
  o.learn_alpha = learn_alpha;
  o.chunksize = chunksize;
  LatentDirichletAllocation lda(o);
  lda.set_init("sstats", test::tensor_from_json(g["sstats0"]));
  lda.fit(train, quiet());
  const auto& want = g[variant];
  EXPECT_TRUE(test::all_close(lda.lambda(), test::tensor_from_json(want["lambda"]), 1e-9, 1e-12)) << variant;
  EXPECT_TRUE(test::all_close(lda.alpha(), test::tensor_from_json(want["alpha"]), 1e-9, 1e-12)) << variant;
  auto p = lda.perplexity(test_docs.x, test_docs.lengths);
  EXPECT_NEAR(p.per_word_bound_gensim, want["heldout_per_word_bound"].get<double>(), 1e-9) << variant;
  EXPECT_NEAR(p.perplexity_gensim, std::exp2(-want["heldout_per_word_bound"].get<double>()), 1e-6) << variant;
  EXPECT_TRUE(test::all_close(lda.doc_topics(test_docs.x, test_docs.lengths),
                              test::tensor_from_json(want["heldout_doc_topics"]), 1e-8, 1e-12))
      << variant;
  // LdaModel.update on 30 more documents: the same topics and alpha, also from a copy made from the model's state
  // (the counts gensim keeps between calls travel in the file).
  LatentDirichletAllocation copy(o);
  copy.load_state(lda.state());
  auto more = documents(g["more"].get<std::vector<std::vector<int64_t>>>());
  lda.update(more, quiet());
  const auto& updated = want["updated"];
  EXPECT_TRUE(test::all_close(lda.lambda(), test::tensor_from_json(updated["lambda"]), 1e-9, 1e-12)) << variant;
  EXPECT_TRUE(test::all_close(lda.alpha(), test::tensor_from_json(updated["alpha"]), 1e-9, 1e-12)) << variant;
  const auto counts = lda.state().at("update_counts");
  EXPECT_EQ(counts[0].item<double>(), updated["numdocs"].get<double>()) << variant;
  EXPECT_EQ(counts[1].item<double>(), updated["num_updates"].get<double>()) << variant;
  copy.update(more, quiet());
  EXPECT_TRUE(torch::equal(copy.lambda(), lda.lambda())) << variant;
}

TEST(Lda, VariationalBayesMatchesGensim) { check_against_gensim("symmetric", false); }

TEST(Lda, LearnedAsymmetricAlphaMatchesGensimAuto) { check_against_gensim("auto", true); }

TEST(Lda, OnlineUpdatesEveryChunkMatchGensim) { check_against_gensim("online_chunks_of_12", false, 12); }

// 4 topics over 40 words, each on its own 10 words; documents mix one or two topics.
Dataset planted_corpus() {
  auto gen = make_generator(11);
  std::vector<std::vector<int64_t>> docs;
  for (int d = 0; d < 200; ++d) {
    const int64_t a = d % 4, b = (d / 4) % 4;
    std::vector<int64_t> doc;
    for (int i = 0; i < 60; ++i) {
      const int64_t topic = torch::rand({1}, gen).item<double>() < 0.7 ? a : b;
      doc.push_back(topic * 10 + static_cast<int64_t>(torch::randint(10, {1}, gen).item<int64_t>()));
    }
    docs.push_back(doc);
  }
  return documents(docs);
}

void expect_planted_topics(const LatentDirichletAllocation& lda) {
  std::set<int64_t> found;
  for (const auto& top : lda.top_words(10)) {
    std::set<int64_t> blocks;
    for (int64_t w : top) blocks.insert(w / 10);
    EXPECT_EQ(blocks.size(), 1u) << "a topic mixes planted topics";
    found.insert(*blocks.begin());
  }
  EXPECT_EQ(found.size(), 4u);
}

TEST(Lda, CollapsedGibbsRecoversPlantedTopicsDeterministically) {
  LdaOptions o;
  o.algorithm = "gibbs";
  o.n_components = 4;
  o.sweeps = 100;
  LatentDirichletAllocation a(o), b(o);
  auto data = planted_corpus();
  auto report = a.fit(data, quiet());
  b.fit(data, quiet());
  expect_planted_topics(a);
  EXPECT_TRUE(torch::equal(a.lambda(), b.lambda()));  // same seed, same chain
  // The collapsed log-likelihood rises from the random start.
  EXPECT_GT(report.history.back(), report.history.front() + 1000);
  // Each topic's counts sum to its tokens: 12,000 tokens in all, plus eta per entry.
  EXPECT_NEAR((a.lambda() - 0.25).sum().item<double>(), 12000.0, 1e-6);
  LdaOptions vb;
  vb.n_components = 4;
  vb.passes = 30;
  LatentDirichletAllocation v(vb);
  v.fit(data, quiet());
  const double pg = a.perplexity(data.x, data.lengths).perplexity, pv = v.perplexity(data.x, data.lengths).perplexity;
  EXPECT_LT(std::abs(pg - pv) / pv, 0.05) << pg << " vs " << pv;  // both near the planted model's
}

TEST(Lda, RecoversPlantedTopics) {
  LdaOptions o;
  o.n_components = 4;
  o.passes = 30;
  LatentDirichletAllocation lda(o);
  auto data = planted_corpus();
  lda.fit(data, quiet());
  expect_planted_topics(lda);
  // Words of a document's own topics carry its mixture; score_samples shares the bound out over the words.
  auto theta = lda.doc_topics(data.x.slice(0, 0, 60), {});
  EXPECT_GT(theta.max().item<double>(), 0.5);
  auto words = lda.score_samples(data.x.slice(0, 0, 60));
  EXPECT_NEAR(words.sum().item<double>(), lda.score_documents(data.x.slice(0, 0, 60)).item<double>(), 1e-9);
  auto p = lda.perplexity(data.x, data.lengths);
  EXPECT_LT(p.perplexity, 40.0);  // better than uniform over the vocabulary
  EXPECT_GT(p.perplexity, 5.0);   // no better than knowing each word's 10-word block
}

TEST(Lda, CoherenceDefinitions) {
  // Documents: {0,1}, {0,1,2}, {0}, {3}
  const std::vector<std::vector<int64_t>> docs = {{0, 1, 1}, {0, 1, 2}, {0}, {3}};
  auto umass = eval::umass_coherence({{0, 1, 2}}, docs);
  // pairs (1,0): log((2+1)/3); (2,0): log((1+1)/3); (2,1): log((1+1)/2)
  EXPECT_NEAR(umass.mean, std::log(1.0) + std::log(2.0 / 3) + std::log(1.0), 1e-12);
  auto npmi = eval::npmi_coherence({{0, 1}, {0, 3}}, docs);
  // P(0)=3/4, P(1)=2/4, P(0,1)=2/4: log(0.5/(0.375))/-log(0.5); 0 and 3 never together: -1.
  EXPECT_NEAR(npmi.per_topic[0], std::log(0.5 / 0.375) / -std::log(0.5), 1e-12);
  EXPECT_EQ(npmi.per_topic[1], -1.0);
  EXPECT_THROW(eval::umass_coherence({{7, 0}}, docs), DataError);  // word 7 occurs nowhere: log(x / 0)
  // Stop words: among the top words of at least 80 % of the topics (4 of 5 here), in order of first appearance.
  EXPECT_EQ(eval::words_in_most_topics({{0, 9, 1}, {1, 0, 2}, {0, 3, 1}, {4, 0, 1}, {5, 6, 7}}),
            (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(eval::words_in_most_topics({{0, 1}, {0, 1}}).empty());  // two topics: too few to tell
  EXPECT_TRUE(eval::words_in_most_topics({{0, 1}, {2, 3}, {0, 4}}).empty());
}

TEST(Lda, BadInputGetsClearErrors) {
  LdaOptions o;
  o.n_components = 2;
  o.n_features = 5;
  auto message = [&](const Dataset& d) {
    try {
      LatentDirichletAllocation lda(o);
      lda.fit(d, quiet());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(documents({{0, 1}, {2, 7}})), "word id 7 at row 3 is outside the model's vocabulary of 5 words");
  Dataset zero = documents({{0, 1}, {2, 3}});
  zero.lengths = torch::tensor({4, 0}, torch::kLong);
  EXPECT_EQ(message(zero), "sequence 1 has length 0; every sequence needs at least one observation");
  Dataset frac{torch::tensor({0.0, 1.5}, torch::kFloat64).unsqueeze(1)};
  EXPECT_EQ(message(frac), "row 1 holds 1.5, which is not a word id");
  o.decay = 0.2;
  EXPECT_THROW(o.validate(), InvalidArgument);
}

}  // namespace
}  // namespace gf
