// ROUGE, the Porter stemmer and METEOR against the reference rouge_meteor_vectors (tests/reference/vectors/{rouge,
// porter_stemmer,meteor_nltk}.json: rouge-score's and nltk's own tests plus values computed by them), and the
// WordNet reader against facts of WordNet 3.0.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/rouge.h"
#include "genforge/core/error.h"
#include "genforge/eval/text.h"
#include "genforge/eval/wordnet.h"
#include "support/support.h"

namespace gf {
namespace {

nlohmann::json rouge_meteor_vectors(const std::string& name) {
  return test::read_json(test::source_path("tests/reference/vectors/" + name));
}

// unittest's assertAlmostEqual(a, b, places): round(a - b, places) == 0.
void expect_almost_equal(double got, double expected, int places) {
  EXPECT_LE(std::fabs(got - expected), 0.5 * std::pow(10.0, -places)) << "got " << got << " expected " << expected;
}

TEST(PorterStemmer, MatchesNltkInEveryMode) {
  const auto v = rouge_meteor_vectors("porter_stemmer.json");
  int checked = 0;
  for (const auto& c : v["cases"]) {
    const auto word = c["word"].get<std::string>();
    SCOPED_TRACE(word);
    EXPECT_EQ(eval::porter_stem(word, eval::PorterMode::nltk), c["NLTK_EXTENSIONS"].get<std::string>());
    EXPECT_EQ(eval::porter_stem(word, eval::PorterMode::martin), c["MARTIN_EXTENSIONS"].get<std::string>());
    EXPECT_EQ(eval::porter_stem(word, eval::PorterMode::original), c["ORIGINAL_ALGORITHM"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, 116);
  EXPECT_THROW(eval::parse_porter_mode("snowball"), InvalidArgument);
}

TEST(Rouge, MatchesEveryReferenceCase) {
  const auto v = rouge_meteor_vectors("rouge.json");
  int checked = 0;
  for (const auto* group : {&v["cases"], &v["computed_cases"]}) {
    for (const auto& c : *group) {
      SCOPED_TRACE(c["id"].get<std::string>());
      eval::RougeOptions o;
      o.types = c["rouge_types"].get<std::vector<std::string>>();
      o.use_stemmer = c["use_stemmer"].get<bool>();
      const auto prediction = c["prediction"].get<std::string>();
      const auto got = c.contains("targets")
                           ? eval::rouge_score_multi(c["targets"].get<std::vector<std::string>>(), prediction, o)
                           : eval::rouge_score(c["target"].get<std::string>(), prediction, o);
      const int places = c["places"].get<int>();
      ASSERT_EQ(got.size(), c["expected"].size());
      for (const auto& [type, expected] : c["expected"].items()) {
        const auto& s = got.at(type);
        // testRougeLsum asserts P and R to 7 places and F to 3; its P and R are exact, so 3 is the bound for F only.
        expect_almost_equal(s.precision, expected["precision"].get<double>(), places);
        expect_almost_equal(s.recall, expected["recall"].get<double>(), places);
        expect_almost_equal(s.fmeasure, expected["fmeasure"].get<double>(), places);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 34);
}

TEST(Rouge, LcsInternalsMatchRougeScore) {
  const auto v = rouge_meteor_vectors("rouge.json");
  int checked = 0;
  for (const auto& c : v["internal_function_cases"]) {
    const auto id = c["id"].get<std::string>();
    SCOPED_TRACE(id);
    const auto fn = c["function"].get<std::string>();
    if (fn == "_lcs_table/_backtrack_norec") {
      const auto ref = c["ref"].get<std::vector<int32_t>>(), can = c["can"].get<std::vector<int32_t>>();
      EXPECT_EQ(eval::detail::lcs_length(ref, can), c["expected_lcs_length"].get<int64_t>());
      EXPECT_EQ(eval::detail::lcs_indices(ref, can), c["expected_lcs_indices_into_ref"].get<std::vector<int64_t>>());
    } else if (fn == "_find_union") {
      // _find_union is the sorted union of index lists; union_lcs uses it, checked through the next case.
      std::set<int64_t> u;
      for (const auto& l : c["lcs_list"]) for (int64_t i : l) u.insert(i);
      EXPECT_EQ(std::vector<int64_t>(u.begin(), u.end()), c["expected"].get<std::vector<int64_t>>());
    } else if (fn == "_union_lcs") {
      EXPECT_EQ(eval::detail::union_lcs(c["ref"].get<std::vector<int32_t>>(),
                                        c["c_list"].get<std::vector<std::vector<int32_t>>>()),
                c["expected"].get<std::vector<int32_t>>());
    } else if (fn == "_summary_level_lcs") {
      // Sentences of integer tokens, written out as text lines so they go through the public ROUGE-Lsum path.
      auto lines = [](const nlohmann::json& sents) {
        std::string text;
        for (const auto& s : sents) {
          for (const auto& t : s) text += (t.is_string() ? t.get<std::string>() : std::to_string(t.get<int>())) + " ";
          text += "\n";
        }
        return text;
      };
      eval::RougeOptions o;
      o.types = {"rougeLsum"};
      const auto s = eval::rouge_score(lines(c["ref_sent"]), lines(c["can_sent"]), o).at("rougeLsum");
      const int places = c.value("places", 7);
      for (const auto& [key, value] : c["expected"].items()) {
        const double got = key == "recall" ? s.recall : key == "precision" ? s.precision : s.fmeasure;
        expect_almost_equal(got, value.get<double>(), places);
      }
    } else {
      ADD_FAILURE() << "unknown function " << fn;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(Rouge, TokenizerFollowsPythonLowercase) {
  // Python lowercases the Kelvin sign to an ASCII k and the dotted capital I to "i" + a combining dot.
  EXPECT_EQ(eval::rouge_tokenize("\u212Aelvin \u0130stanbul caf\u00e9", false),
            (std::vector<std::string>{"kelvin", "i", "stanbul", "caf"}));
  EXPECT_EQ(eval::rouge_tokenize("Running dogs ran", true), (std::vector<std::string>{"run", "dog", "ran"}));
  EXPECT_THROW(eval::rouge_score("a", "a", {{"rougeX"}, false}), InvalidArgument);
  EXPECT_THROW(eval::rouge_score("a", "a", {{"rouge0"}, false}), InvalidArgument);
}

TEST(Rouge, CorpusScoreIsTheMeanOfSegmentScores) {
  const std::vector<std::string> preds = {"the cat sat", "a dog barked loudly"};
  const std::vector<std::vector<std::string>> refs = {{"the cat sat down"}, {"the dog barked", "a dog barked"}};
  const auto corpus = eval::corpus_rouge(preds, refs);
  const auto a = eval::rouge_score_multi(refs[0], preds[0]), b = eval::rouge_score_multi(refs[1], preds[1]);
  for (const auto& type : {"rouge1", "rouge2", "rougeL", "rougeLsum"}) {
    EXPECT_DOUBLE_EQ(corpus.at(type).fmeasure, (a.at(type).fmeasure + b.at(type).fmeasure) / 2) << type;
    EXPECT_DOUBLE_EQ(corpus.at(type).recall, (a.at(type).recall + b.at(type).recall) / 2) << type;
  }
  EXPECT_THROW(eval::corpus_rouge(preds, {refs[0]}), InvalidArgument);
}

TEST(WordNet, ReadsWordNet30) {
  const auto& wn = eval::WordNet::system();
  // WordNet 3.0's index holds 155,287 (string, part of speech) entries.
  EXPECT_EQ(wn.index_size(), 155287);
  EXPECT_EQ(wn.morphy("dogs", 'n'), (std::vector<std::string>{"dog"}));
  EXPECT_EQ(wn.morphy("ran", 'v'), (std::vector<std::string>{"run"}));  // verb.exc
  EXPECT_EQ(wn.morphy("churches", 'n'), (std::vector<std::string>{"church"}));
  EXPECT_TRUE(wn.morphy("qwzx", 'n').empty());
  const auto synsets = wn.synsets("Dog");
  ASSERT_EQ(synsets.size(), 8u);  // 7 noun senses, 1 verb sense
  EXPECT_EQ(synsets[0].pos, 'n');
  EXPECT_EQ(synsets[0].offset, 2084071);
  EXPECT_EQ(synsets[0].lemmas, (std::vector<std::string>{"dog", "domestic_dog", "Canis_familiaris"}));
  EXPECT_EQ(synsets.back().pos, 'v');
  EXPECT_THROW(eval::WordNet("/nonexistent"), DataError);
}

TEST(Meteor, MatchesEveryNltkCase) {
  const auto v = rouge_meteor_vectors("meteor_nltk.json");
  int checked = 0;
  for (const auto* group : {&v["cases"], &v["computed_cases"]}) {
    for (const auto& c : *group) {
      SCOPED_TRACE(c["id"].get<std::string>());
      std::vector<eval::Tokens> refs;
      for (const auto& r : c["references"]) refs.push_back(r.get<eval::Tokens>());
      const auto hyp = c["hypothesis"].get<eval::Tokens>();
      const double got = eval::meteor_score(refs, hyp);
      const double tol = c["tol"].get<double>();
      if (c.contains("value_computed_nltk_3_8") && !c["value_computed_nltk_3_8"].is_null()) {
        EXPECT_NEAR(got, c["value_computed_nltk_3_8"].get<double>(), 1e-12);
      }
      EXPECT_NEAR(got, c["expected"].get<double>(), tol == 0 ? 1e-15 : tol);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21);
}

TEST(Meteor, StagesAndOptions) {
  // exact (the), then stem (cats/cat), then synonym (couch/sofa): three matches in one chunk. Values from nltk 3.8.
  const eval::Tokens ref = {"the", "couch", "cats"}, hyp = {"the", "sofa", "cat"};
  EXPECT_DOUBLE_EQ(eval::single_meteor_score(ref, hyp), 1 - 0.5 * std::pow(1.0 / 3, 3));
  // nltk's synonym stage looks up stems: "large" became "larg", so large/big does not match (nltk: 1/3).
  EXPECT_DOUBLE_EQ(eval::single_meteor_score({"the", "big", "cats"}, {"the", "large", "cat"}), 1.0 / 3);
  // The stemmer lowercases, so case still matches in the stem stage without preprocessing (nltk: 0.5 both ways).
  eval::MeteorOptions case_sensitive;
  case_sensitive.lowercase = false;
  EXPECT_EQ(eval::single_meteor_score({"The"}, {"the"}, case_sensitive), 0.5);
  EXPECT_EQ(eval::single_meteor_score({"The"}, {"the"}), 0.5);
  EXPECT_EQ(eval::single_meteor_score({}, {"a"}), 0.0);
  EXPECT_THROW(eval::meteor_score({}, hyp), InvalidArgument);
  const double corpus = eval::corpus_meteor({{ref}, {{"a"}}}, {hyp, {"a"}});
  EXPECT_DOUBLE_EQ(corpus, (eval::single_meteor_score(ref, hyp) + eval::single_meteor_score({"a"}, {"a"})) / 2);
}

}  // namespace
}  // namespace gf
