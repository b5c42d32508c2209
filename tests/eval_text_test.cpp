// Text metrics against the reference vectors: sacreBLEU's and nltk's own tests plus values computed by them
// (tests/reference/vectors/{bleu_sacrebleu,chrf_sacrebleu,bleu_nltk}.json).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "genforge/core/error.h"
#include "eval/ngram.h"
#include "genforge/eval/text.h"
#include "support/support.h"

namespace gf {
namespace {

using Streams = std::vector<std::vector<std::optional<std::string>>>;

nlohmann::json vectors(const std::string& name) {
  return test::read_json(test::source_path("tests/reference/vectors/" + name));
}

Streams streams_from(const nlohmann::json& j) {
  Streams s;
  for (const auto& stream : j) {
    std::vector<std::optional<std::string>> lines;
    for (const auto& line : stream)
      lines.push_back(line.is_null() ? std::nullopt : std::optional<std::string>(line.get<std::string>()));
    s.push_back(lines);
  }
  return s;
}

// Hypotheses and reference streams of a case, whether it is spelled as a corpus or as one sentence.
std::pair<std::vector<std::string>, Streams> corpus_of(const nlohmann::json& c) {
  if (c.contains("hypotheses")) return {c["hypotheses"].get<std::vector<std::string>>(), streams_from(c["references"])};
  Streams s;
  for (const auto& r : c["references"]) s.push_back({r.get<std::string>()});
  return {{c["hypothesis"].get<std::string>()}, s};
}

eval::BleuOptions bleu_options(const nlohmann::json& p) {
  eval::BleuOptions o;
  if (p.contains("tokenize")) o.tokenize = eval::parse_bleu_tokenizer(p["tokenize"].get<std::string>());
  if (p.contains("smooth_method")) o.smooth = eval::parse_bleu_smoothing(p["smooth_method"].get<std::string>());
  if (p.contains("smooth_value") && !p["smooth_value"].is_null()) o.smooth_value = p["smooth_value"].get<double>();
  if (p.contains("effective_order")) o.effective_order = p["effective_order"].get<bool>();
  if (p.contains("lowercase")) o.lowercase = p["lowercase"].get<bool>();
  if (p.contains("max_ngram_order")) o.max_order = p["max_ngram_order"].get<int>();
  return o;
}

std::string without_version(const std::string& signature) { return signature.substr(0, signature.rfind("|version:")); }

TEST(SacreBleu, MatchesEveryReferenceCase) {
  const auto v = vectors("bleu_sacrebleu.json");
  int checked = 0;
  for (const auto* group : {&v["cases"], &v["computed_cases"]}) {
    for (const auto& c : *group) {
      SCOPED_TRACE(c["id"].get<std::string>() + " " + c["call"].get<std::string>());
      const auto& p = c["params"];
      auto o = bleu_options(p);
      const std::string scale = c.value("scale", "");
      if (p.contains("correct")) {  // BLEU.compute_bleu from statistics, effective order off
        auto r = eval::bleu_from_statistics(p["correct"].get<std::vector<double>>(),
                                            p["total"].get<std::vector<double>>(), p["sys_len"].get<int64_t>(),
                                            p["ref_len"].get<int64_t>(), o);
        EXPECT_NEAR(r.score / 100, c["expected"].get<double>(), 1e-8);
        ++checked;
        continue;
      }
      auto [hyps, refs] = corpus_of(c);
      auto r = eval::corpus_bleu(hyps, refs, o);
      if (scale == "0-1") {
        EXPECT_NEAR(r.score / 100, c["expected"].get<double>(), c["tol"].get<double>());
      } else if (scale == "counts") {
        EXPECT_EQ(r.counts, c["expected"]["counts"].get<std::vector<double>>());
        EXPECT_EQ(r.totals, c["expected"]["totals"].get<std::vector<double>>());
      } else if (scale == "string %.2f") {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", r.score);
        EXPECT_EQ(std::string(buf), c["expected"].get<std::string>());
      } else if (c["expected"].is_object()) {
        const auto& e = c["expected"];
        EXPECT_NEAR(r.score, e["score"].get<double>(), c["tol"].get<double>() * 100);
        EXPECT_EQ(r.counts, e["counts"].get<std::vector<double>>());
        EXPECT_EQ(r.totals, e["totals"].get<std::vector<double>>());
        EXPECT_NEAR(r.bp, e["bp"].get<double>(), 1e-12);
        EXPECT_EQ(r.sys_len, e["sys_len"].get<int64_t>());
        EXPECT_EQ(r.ref_len, e["ref_len"].get<int64_t>());
        EXPECT_EQ(r.signature, without_version(e["signature"].get<std::string>()));
      } else {
        const double tol = c.contains("tol") && !c["tol"].is_null() ? c["tol"].get<double>() : 1e-8;
        EXPECT_NEAR(r.score, c["expected"].get<double>(), tol);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, int(v["cases"].size() + v["computed_cases"].size()));
}

TEST(SacreBleu, TokenizersSplitAsMteval) {
  EXPECT_EQ(eval::bleu_tokenize("Hello, world! It's 3.14 (approx).", eval::BleuTokenizer::v13a),
            "Hello , world ! It's 3.14 ( approx ) .");
  EXPECT_EQ(eval::bleu_tokenize("A&amp;B costs $5,000.", eval::BleuTokenizer::v13a), "A & B costs $ 5,000 .");
  EXPECT_EQ(eval::bleu_tokenize("«Ça va?» — 12,5 €", eval::BleuTokenizer::intl), "« Ça va ? » — 12,5 €");
  EXPECT_EQ(eval::bleu_tokenize("ab c", eval::BleuTokenizer::chars), "a b   c");
}

TEST(SacreBleu, StreamsOfDifferentLengthAreAnError) {
  EXPECT_THROW(eval::corpus_bleu({"a b", "c"}, {{std::string("a b")}}), InvalidArgument);
  EXPECT_THROW(eval::corpus_bleu({}, {{}}), InvalidArgument);
  EXPECT_THROW(eval::parse_bleu_tokenizer("moses"), InvalidArgument);
}

TEST(Chrf, MatchesEveryReferenceCase) {
  const auto v = vectors("chrf_sacrebleu.json");
  for (const auto& c : v["cases"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    const auto& p = c["params"];
    eval::ChrfOptions o;
    o.char_order = p.value("char_order", 6);
    o.word_order = p.value("word_order", 0);
    o.beta = p.value("beta", 2.0);
    o.eps_smoothing = p.value("eps_smoothing", false);
    o.lowercase = p.value("lowercase", false);
    if (p.contains("remove_whitespace")) o.whitespace = !p["remove_whitespace"].get<bool>();
    if (p.contains("whitespace")) o.whitespace = p["whitespace"].get<bool>();
    auto [hyps, refs] = corpus_of(c);
    auto r = eval::corpus_chrf(hyps, refs, o);
    EXPECT_NEAR(r.score, c["expected"].get<double>(), c["tol"].get<double>());
    if (c.contains("signature")) {
      EXPECT_EQ(r.signature, without_version(c["signature"].get<std::string>()));
    }
  }
}

eval::NltkBleuOptions nltk_options(const nlohmann::json& c) {
  eval::NltkBleuOptions o;
  if (c.contains("weights")) o.weights = c["weights"].get<std::vector<double>>();
  if (c.contains("smoothing")) o.smoothing = std::stoi(c["smoothing"].get<std::string>().substr(6));
  // "weights=(1/n,)*n for n=1,2": checked with n = 2 (the stricter of the two).
  if (c["function"].get<std::string>().find("(1/n,)*n") != std::string::npos) o.weights = {0.5, 0.5};
  return o;
}

std::vector<eval::Tokens> token_lists(const nlohmann::json& j) { return j.get<std::vector<eval::Tokens>>(); }

TEST(NltkBleu, MatchesEveryReferenceCase) {
  const auto v = vectors("bleu_nltk.json");
  int checked = 0;
  for (const auto* group : {&v["cases"], &v["computed_cases"]}) {
    for (const auto& c : *group) {
      const std::string id = c["id"].get<std::string>(), f = c["function"].get<std::string>();
      SCOPED_TRACE(id + " " + f);
      const bool exact = c.contains("value_computed_nltk_3_8");
      const double expected = exact ? c["value_computed_nltk_3_8"].get<double>()
                              : c["expected"].is_null() ? 0.0
                                                        : c["expected"].get<double>();
      const double tol = exact ? 1e-12 : c["tol"].get<double>();
      auto o = nltk_options(c);
      double got;
      if (c.contains("expected_error") && c["expected_error"].is_string()) {
        EXPECT_THROW(eval::nltk_sentence_bleu(token_lists(c["references"]), c["hypothesis"].get<eval::Tokens>(), o),
                     InvalidArgument);
        ++checked;
        continue;
      }
      if (f.rfind("modified_precision", 0) == 0) {
        got = eval::nltk_modified_precision(token_lists(c["references"]), c["hypothesis"].get<eval::Tokens>(),
                                            c["n"].get<int>())
                  .value();
      } else if (f.rfind("brevity_penalty", 0) == 0) {
        const auto lens = c["ref_lengths"].get<std::vector<int64_t>>();
        const int64_t hyp_len = c["hyp_len"].get<int64_t>();
        std::vector<eval::Tokens> refs;
        for (int64_t len : lens) refs.emplace_back(size_t(len), "w");
        got = eval::nltk_brevity_penalty(eval::nltk_closest_ref_length(refs, hyp_len), hyp_len);
      } else if (f.rfind("(sentence_bleu", 0) == 0) {
        const auto lists = c["list_of_references"].get<std::vector<std::vector<eval::Tokens>>>();
        const auto hyps = c["hypotheses"].get<std::vector<eval::Tokens>>();
        got = 0;
        for (size_t i = 0; i < hyps.size(); ++i) got += eval::nltk_sentence_bleu(lists[i], hyps[i], o);
        got /= double(hyps.size());
      } else if (c.contains("list_of_references")) {
        got = eval::nltk_corpus_bleu(c["list_of_references"].get<std::vector<std::vector<eval::Tokens>>>(),
                                     c["hypotheses"].get<std::vector<eval::Tokens>>(), o);
      } else {
        got = eval::nltk_sentence_bleu(token_lists(c["references"]), c["hypothesis"].get<eval::Tokens>(), o);
        if (c.value("scale", "") == "0-100") got *= 100;
      }
      EXPECT_NEAR(got, expected, std::max(tol, 1e-12 * std::abs(expected)));
      ++checked;
    }
  }
  EXPECT_EQ(checked, int(v["cases"].size() + v["computed_cases"].size()));
}

TEST(Perplexity, IsTheExponentOfTheMeanNegativeLogLikelihood) {
  auto p = eval::perplexity({std::log(0.5), std::log(0.25)}, 4);
  EXPECT_NEAR(p.perplexity, std::sqrt(8.0), 1e-12);
  EXPECT_NEAR(p.bits_per_token, 1.5, 1e-12);
  EXPECT_NEAR(p.bits_per_character, 0.75, 1e-12);
  EXPECT_THROW(eval::perplexity({}), InvalidArgument);
}

}  // namespace
}  // namespace gf

namespace gf {
namespace {
TEST(NgramMatching, WideVocabulariesMatchAsNarrowOnes) {
  // Ids above 2^16 take the 128-bit key path; shifting every id must not change any statistic.
  eval::detail::Ids hyp = {1, 2, 3, 1, 2, 3, 4, 2, 2}, ref_a = {1, 2, 3, 4, 1, 2, 2}, ref_b = {2, 2, 3, 1, 2, 3};
  auto shift = [](eval::detail::Ids v) {
    for (auto& t : v) t += 100000;
    return v;
  };
  auto narrow = eval::detail::match_ngrams(hyp, {&ref_a, &ref_b}, 4);
  auto wide_hyp = shift(hyp), wide_a = shift(ref_a), wide_b = shift(ref_b);
  auto wide = eval::detail::match_ngrams(wide_hyp, {&wide_a, &wide_b}, 4);
  auto generic = eval::detail::match_ngrams(hyp, {&ref_a, &ref_b}, 5);  // order 5: the position-sorting path
  EXPECT_EQ(narrow.correct, wide.correct);
  EXPECT_EQ(narrow.total, wide.total);
  EXPECT_EQ(std::vector<int64_t>(generic.correct.begin(), generic.correct.begin() + 4), narrow.correct);
  EXPECT_EQ(narrow.correct, (std::vector<int64_t>{8, 7, 4, 3}));  // nltk modified_precision numerators
  EXPECT_EQ(narrow.ref_len, 7);
}
// nltk's corpus_bleu adds max(1, count) per segment to each order's denominator; on a corpus with a two-word
// segment this lowers BLEU. The nltk convention must reproduce nltk for every smoothing, the sacreBLEU one must not.
TEST(BleuConvention, NltkCountsShortSegments) {
  const auto golden = test::read_json(test::source_path("tests/reference/bleu_convention_golden.json"));
  const auto hyps = golden["hypotheses"].get<std::vector<std::string>>();
  std::vector<std::optional<std::string>> stream;
  for (const auto& r : golden["references"]) stream.emplace_back(r.get<std::string>());
  for (const auto& [smooth, expected] : golden["nltk"].items()) {
    SCOPED_TRACE(smooth);
    eval::BleuOptions o;
    o.smooth = eval::parse_bleu_smoothing(smooth);
    const double sacre = eval::corpus_bleu(hyps, {stream}, o).score;
    o.convention = eval::parse_bleu_convention("nltk");
    const auto nltk = eval::corpus_bleu(hyps, {stream}, o);
    EXPECT_NEAR(nltk.score, expected.get<double>(), 1e-9);
    EXPECT_GT(sacre, nltk.score + 1.0);
    EXPECT_EQ(nltk.signature.substr(nltk.signature.size() - 10), "|conv:nltk");
  }
  EXPECT_THROW(eval::parse_bleu_convention("moses"), InvalidArgument);
}

}  // namespace
}  // namespace gf
