// Human evaluation (genforge/eval/human.h): the statistics against published values and nltk 3.8's
// AnnotationTask (tests/reference/make_agreement_golden.py), the study design (blind, balanced, seeded), the
// make -> answers -> summarize round trip, the attention-check policy, and each error message.
// Torch-free on purpose, like the code it tests: it builds standalone in seconds.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "genforge/core/error.h"
#include "genforge/eval/human.h"

namespace gf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh folder, removed at the end of the test.
class Folder {
 public:
  Folder() {
    std::string pattern = (fs::temp_directory_path() / "genforge_human_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~Folder() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Summaries and keys are ordered_json (fields in a readable order); compared here as plain json.
json plain(const nlohmann::ordered_json& j) { return json::parse(j.dump()); }

const json& human_eval_golden() {
  static const json g = json::parse(read_text(std::string(GF_SOURCE_DIR) + "/tests/reference/agreement_golden.json"));
  return g;
}

eval::RatingMatrix matrix_of(const json& rows) {
  eval::RatingMatrix m;
  for (const auto& row : rows) {
    std::vector<double> r;
    for (const auto& v : row) r.push_back(v.is_null() ? NAN : v.get<double>());
    m.push_back(r);
  }
  return m;
}

// Runs `body` and checks it throws ErrorType with `text` in its message and a hint.
template <class ErrorType, class Body>
void expect_human_eval_error(Body body, const std::string& text) {
  try {
    body();
    ADD_FAILURE() << "no error; expected one containing: " << text;
  } catch (const ErrorType& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    EXPECT_FALSE(e.hint().empty()) << e.what();
  }
}

TEST(HumanEval, WilsonInterval) {
  // Closed forms: 0 of n gives [0, z^2 / (n + z^2)]; p = 1/2 is symmetric about 1/2.
  const double z2 = eval::kZ95 * eval::kZ95;
  auto zero = eval::wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(zero.low, 0.0);
  EXPECT_NEAR(zero.high, z2 / (10 + z2), 1e-15);
  auto half = eval::wilson_interval(20, 40);
  EXPECT_NEAR(half.low + half.high, 1.0, 1e-15);
  // 8 of 10 with z = 1.96 (Newcombe 1998, table I, method 3: 0.4902, 0.9433).
  auto eight = eval::wilson_interval(8, 10, 1.96);
  EXPECT_NEAR(eight.low, 0.4902, 5e-5);
  EXPECT_NEAR(eight.high, 0.9433, 5e-5);
  // Mirror: successes s and n - s swap the bounds around 1/2; ties count half.
  auto a = eval::wilson_interval(12.5, 30), b = eval::wilson_interval(17.5, 30);
  EXPECT_NEAR(a.low, 1 - b.high, 1e-15);
  EXPECT_TRUE(std::isnan(eval::wilson_interval(0, 0).low));
}

TEST(HumanEval, MeanInterval) {
  // 1..5: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764451051977987.
  auto ci = eval::mean_interval({1, 2, 3, 4, 5});
  const double half = 2.7764451051977987 * std::sqrt(2.5 / 5);
  EXPECT_NEAR(ci.low, 3 - half, 1e-12);
  EXPECT_NEAR(ci.high, 3 + half, 1e-12);
  EXPECT_TRUE(std::isnan(eval::mean_interval({4}).low));
}

TEST(HumanEval, BradleyTerryRecoversStrengths) {
  // Two systems: the maximum-likelihood odds are the win ratio, 30 : 10 -> strengths sqrt(3) and 1 / sqrt(3).
  auto two = eval::bradley_terry({{0, 30}, {10, 0}});
  ASSERT_TRUE(two.converged);
  EXPECT_NEAR(two.strengths[0], std::sqrt(3.0), 1e-8);
  EXPECT_NEAR(two.strengths[1], 1 / std::sqrt(3.0), 1e-8);

  // Four systems with known strengths (geometric mean 1), 4000 simulated comparisons per pair.
  const std::vector<double> truth = {4.0, 2.0, 0.5, 0.25};
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<double>> wins(4, std::vector<double>(4, 0.0));
  for (int i = 0; i < 4; ++i) {
    for (int j = i + 1; j < 4; ++j) {
      for (int k = 0; k < 4000; ++k) {
        if (u(rng) < truth[i] / (truth[i] + truth[j])) {
          wins[i][j] += 1;
        } else {
          wins[j][i] += 1;
        }
      }
    }
  }
  auto bt = eval::bradley_terry(wins);
  ASSERT_TRUE(bt.converged);
  EXPECT_TRUE(bt.strongly_connected);
  EXPECT_GT(bt.iterations, 1);
  double log_mean = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(std::log(bt.strengths[i]), std::log(truth[i]), 0.08) << i;
    log_mean += std::log(bt.strengths[i]) / 4;
  }
  EXPECT_NEAR(log_mean, 0.0, 1e-12);

  // Ties count half a win each: only ties give equal strengths.
  auto tied = eval::bradley_terry({{0, 3, 1}, {3, 0, 2}, {1, 2, 0}});
  for (double s : tied.strengths) EXPECT_NEAR(s, 1.0, 1e-9);

  // a always beats b: no finite maximum; flagged.
  auto apart = eval::bradley_terry({{0, 5}, {0, 0}});
  EXPECT_FALSE(apart.strongly_connected);
  EXPECT_FALSE(apart.converged);
  EXPECT_GT(apart.strengths[0], apart.strengths[1]);
}

TEST(HumanEval, CohenKappa) {
  const auto& g = human_eval_golden()["cohen_wikipedia"];
  const auto m = matrix_of(g["ratings"]);
  EXPECT_NEAR(eval::cohen_kappa(m[0], m[1]), g["kappa"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::cohen_kappa(m[0], m[1]), 0.4, 1e-12);  // Wikipedia
  // A unit one rater left out does not count.
  auto a = m[0], b = m[1];
  a.push_back(1), b.push_back(NAN);
  EXPECT_NEAR(eval::cohen_kappa(a, b), 0.4, 1e-12);
  // Several raters: nltk's mean over pairs.
  for (const char* set : {"pairs_four_raters", "likert_three_raters"}) {
    int pairs = 0;
    EXPECT_NEAR(eval::mean_pairwise_cohen_kappa(matrix_of(human_eval_golden()[set]["ratings"]), &pairs),
                human_eval_golden()[set]["mean_pairwise_kappa"].get<double>(), 1e-12)
        << set;
    EXPECT_EQ(pairs, std::string(set) == "pairs_four_raters" ? 6 : 3);
  }
  EXPECT_TRUE(std::isnan(eval::cohen_kappa({1, 1}, {1, 1})));  // chance agreement 1: undefined
}

TEST(HumanEval, FleissKappa) {
  const auto& g = human_eval_golden()["fleiss_wikipedia"];
  std::vector<std::vector<double>> counts;
  for (const auto& row : g["counts"]) counts.push_back(row.get<std::vector<double>>());
  EXPECT_NEAR(eval::fleiss_kappa_counts(counts), g["fleiss_kappa"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::fleiss_kappa_counts(counts), 0.210, 5e-4);  // Wikipedia's 10 items x 14 raters
  int units = 0;
  EXPECT_NEAR(eval::fleiss_kappa(matrix_of(g["ratings"]), &units), 0.20993070442195522, 1e-12);
  EXPECT_EQ(units, 10);
  for (const char* set : {"pairs_four_raters", "likert_three_raters"}) {
    EXPECT_NEAR(eval::fleiss_kappa(matrix_of(human_eval_golden()[set]["ratings"])), human_eval_golden()[set]["fleiss_kappa"].get<double>(),
                1e-12)
        << set;
  }
  // Only units every rater rated count.
  auto m = matrix_of(human_eval_golden()["likert_three_raters"]["missing_ratings"]);
  eval::fleiss_kappa(m, &units);
  EXPECT_EQ(units, 21);
}

TEST(HumanEval, KrippendorffAlpha) {
  const auto& k = human_eval_golden()["krippendorff_2011"];
  const auto m = matrix_of(k["ratings"]);  // missing values; unit 12 has one value and is left out
  EXPECT_NEAR(eval::krippendorff_alpha(m, eval::AlphaLevel::nominal), k["alpha_nominal"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(m, eval::AlphaLevel::interval), k["alpha_interval"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(m, eval::AlphaLevel::nominal), 0.743, 5e-4);   // Krippendorff 2011
  EXPECT_NEAR(eval::krippendorff_alpha(m, eval::AlphaLevel::interval), 0.849, 5e-4);
  const auto& l = human_eval_golden()["likert_three_raters"];
  EXPECT_NEAR(eval::krippendorff_alpha(matrix_of(l["ratings"]), eval::AlphaLevel::interval),
              l["alpha_interval"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(matrix_of(l["ratings"]), eval::AlphaLevel::nominal),
              l["alpha_nominal"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(matrix_of(l["missing_ratings"]), eval::AlphaLevel::interval),
              l["missing_alpha_interval"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(matrix_of(l["missing_ratings"]), eval::AlphaLevel::nominal),
              l["missing_alpha_nominal"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(matrix_of(human_eval_golden()["pairs_four_raters"]["ratings"]), eval::AlphaLevel::nominal),
              human_eval_golden()["pairs_four_raters"]["alpha_nominal"].get<double>(), 1e-12);
  EXPECT_NEAR(eval::krippendorff_alpha(matrix_of(human_eval_golden()["fleiss_wikipedia"]["ratings"]), eval::AlphaLevel::nominal),
              human_eval_golden()["fleiss_wikipedia"]["alpha_nominal"].get<double>(), 1e-12);
  EXPECT_TRUE(std::isnan(eval::krippendorff_alpha({{1, 1}, {1, 1}}, eval::AlphaLevel::nominal)));
}

// ---- studies --------------------------------------------------------------------------------------------------

eval::StudySystem text_system(const std::string& name, int items) {
  eval::StudySystem s{name, "/data/secret-source-" + name + ".txt", {}};
  for (int i = 0; i < items; ++i) s.items.push_back(eval::text_item_html("sentence " + std::to_string(i)));
  return s;
}

TEST(HumanEval, StudyIsBalancedBlindAndSeeded) {
  eval::StudyOptions o;
  o.pairs = 31;
  o.seed = 5;
  o.study_id = "00000000000000aa";
  const auto study = eval::make_study({text_system("a", 7), text_system("b", 5), text_system("c", 9)}, o);
  const json key = plain(study.key);
  EXPECT_EQ(key["type"], "genforge study key");
  EXPECT_EQ(key["mode"], "pairs");
  ASSERT_EQ(key["questions"].size(), 31u + 3u);  // attention: max(2, 31 / 10) = 3
  std::map<std::string, int> per_pair;
  int attention = 0;
  for (size_t q = 0; q < key["questions"].size(); ++q) {
    const auto& question = key["questions"][q];
    EXPECT_EQ(question["id"], static_cast<int>(q + 1));
    if (question.value("attention", false)) {
      ++attention;
      EXPECT_TRUE(question["expect"] == "left" || question["expect"] == "right");
      continue;
    }
    std::string l = question["left"], r = question["right"];
    EXPECT_NE(l, r);
    per_pair[std::min(l, r) + std::max(l, r)] += 1;
  }
  EXPECT_EQ(attention, 3);
  ASSERT_EQ(per_pair.size(), 3u);
  for (const auto& [pair, count] : per_pair) EXPECT_TRUE(count == 10 || count == 11) << pair << " " << count;
  // Blind: no source path, no key field names; the attention instruction and the id are there.
  EXPECT_EQ(study.html.find("secret-source"), std::string::npos);
  EXPECT_EQ(study.html.find("left_item"), std::string::npos);
  EXPECT_EQ(study.html.find("\"system\""), std::string::npos);
  EXPECT_NE(study.html.find("Attention check: choose the"), std::string::npos);
  EXPECT_NE(study.html.find("00000000000000aa"), std::string::npos);
  for (const char* id : {"id='rater'", "id='start'", "id='choose-left'", "id='choose-right'", "id='choose-tie'",
                         "id='export-button'", "id='export'", "id='progress'"}) {
    EXPECT_NE(study.html.find(id), std::string::npos) << id;
  }
  EXPECT_EQ(study.html.find("http://"), std::string::npos);  // offline: nothing to fetch
  EXPECT_EQ(study.html.find("https://"), std::string::npos);
  // Seeded: the same seed gives the same page; a fresh study id by default.
  EXPECT_EQ(eval::make_study({text_system("a", 7), text_system("b", 5), text_system("c", 9)}, o).html, study.html);
  o.seed = 6;
  EXPECT_NE(eval::make_study({text_system("a", 7), text_system("b", 5), text_system("c", 9)}, o).html, study.html);
  o.study_id.clear();
  EXPECT_NE(eval::make_study({text_system("a", 7), text_system("b", 5)}, o).study_id,
            eval::make_study({text_system("a", 7), text_system("b", 5)}, o).study_id);
}

TEST(HumanEval, ItemSources) {
  Folder dir;
  write_text(dir.file("t.txt"), "first <b>line</b>\n\n  \r\nsecond\r\n");
  auto text = eval::read_study_items(dir.file("t.txt"));
  ASSERT_EQ(text.size(), 2u);
  EXPECT_EQ(text[0], "<div class=\"text\">first &lt;b&gt;line&lt;/b&gt;</div>");
  write_text(dir.file("r.csv"), "name,score\nx & y,3.50\nz,4.25\n");
  auto rows = eval::read_study_items(dir.file("r.csv"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], "<table class=\"record\"><tr><th>name</th><th>score</th></tr><tr><td>x &amp; y</td><td>3.50</td>"
                     "</tr></table>");
  fs::create_directory(dir.file("png"));
  write_text(dir.file("png/b.png"), std::string("\x89PNG\r\n\x1a\n", 8) + "B");
  write_text(dir.file("png/a.png"), std::string("\x89PNG\r\n\x1a\n", 8) + "A");
  write_text(dir.file("png/notes.md"), "ignored");
  auto images = eval::read_study_items(dir.file("png"));
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0], eval::png_item_html(std::string("\x89PNG\r\n\x1a\n", 8) + "A"));  // sorted by name
  EXPECT_NE(images[0].find("src=\"data:image/png;base64,iVBORw0KGgpB\""), std::string::npos);
}

// Answers of a simulated rater: prefers the system earlier in `quality` with probability `sureness`; attention checks
// answered right unless `careless`.
json simulated_answers(const json& key, const std::string& rater, const std::map<std::string, double>& quality,
                       double sureness, bool careless, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  json answers = json::array();
  for (const auto& q : key["questions"]) {
    json a = {{"id", q["id"]}};
    if (key["mode"] == "likert") {
      if (q.value("attention", false)) {
        a["rating"] = careless ? (q["expect"].get<int>() % key["scale"].get<int>()) + 1 : q["expect"].get<int>();
      } else {
        const double mean = quality.at(q["system"].get<std::string>());
        a["rating"] = std::clamp(static_cast<int>(std::lround(mean + (u(rng) - 0.5) * 2)), 1, key["scale"].get<int>());
      }
    } else if (q.value("attention", false)) {
      const std::string expect = q["expect"];
      a["choice"] = careless ? (expect == "left" ? "right" : "left") : expect;
    } else {
      const bool left_better = quality.at(q["left"]) > quality.at(q["right"]);
      const double roll = u(rng);
      a["choice"] = roll < 0.1 ? "tie" : (roll < sureness) == left_better ? "left" : "right";
    }
    answers.push_back(a);
  }
  return {{"type", "genforge study answers"}, {"study_id", key["study_id"]}, {"rater", rater},
          {"answers", answers}, {"ms", json::array()}};
}

TEST(HumanEval, PairsRoundTripRecoversPreferencesAndFlagsCarelessRater) {
  Folder dir;
  eval::StudyOptions o;
  o.pairs = 90;
  const auto study = eval::make_study({text_system("a", 10), text_system("b", 10), text_system("c", 10)}, o);
  eval::write_study(dir.file("study"), study);
  const json key = json::parse(read_text(dir.file("study/key.json")));
  EXPECT_EQ(key["study_id"], study.study_id);
  EXPECT_TRUE(fs::exists(dir.file("study/index.html")));
  const std::map<std::string, double> quality = {{"a", 3}, {"b", 2}, {"c", 1}};
  write_text(dir.file("study/alice.json"), simulated_answers(key, "alice", quality, 0.85, false, 1).dump());
  write_text(dir.file("study/bob.json"), simulated_answers(key, "bob", quality, 0.8, false, 2).dump());
  write_text(dir.file("study/carol.json"), simulated_answers(key, "carol", quality, 0.5, true, 3).dump());
  const std::vector<std::string> files = {dir.file("study/key.json"), dir.file("study/alice.json"),
                                          dir.file("study/bob.json"), dir.file("study/carol.json")};
  const json s = plain(eval::summarize_study_files(files));
  EXPECT_EQ(s["type"], "genforge study summary");
  EXPECT_EQ(s["failed_attention"], json({"carol"}));
  EXPECT_EQ(s["raters_included"], 2);
  for (const auto& r : s["raters"]) EXPECT_EQ(r["included"], r["name"] != "carol") << r.dump();
  for (const auto& p : s["pairs"]) {
    EXPECT_GT(p["a_preferred"].get<double>(), 0.6) << p.dump();  // a before b before c in system order
    EXPECT_LT(p["ci_low"].get<double>(), p["a_preferred"].get<double>());
    EXPECT_GT(p["ci_high"].get<double>(), p["a_preferred"].get<double>());
    EXPECT_EQ(p["n"].get<int>(), p["a_wins"].get<int>() + p["b_wins"].get<int>() + p["ties"].get<int>());
    EXPECT_EQ(p["n"].get<int>(), 2 * 30);  // 30 questions per pair, 2 included raters
  }
  const auto& ranking = s["bradley_terry"]["ranking"];
  EXPECT_EQ(ranking[0]["system"], "a");
  EXPECT_EQ(ranking[1]["system"], "b");
  EXPECT_EQ(ranking[2]["system"], "c");
  EXPECT_TRUE(s["bradley_terry"]["converged"].get<bool>());
  EXPECT_GT(s["agreement"]["cohen_kappa"].get<double>(), 0.2);
  EXPECT_EQ(s["agreement"]["krippendorff_level"], "nominal");
  EXPECT_EQ(s["agreement"]["fleiss_units"], 90);
  const std::string text = eval::study_summary_text(eval::summarize_study_files(files));
  EXPECT_NE(text.find("carol"), std::string::npos);
  EXPECT_NE(text.find("FAILED an attention check"), std::string::npos);
  EXPECT_NE(text.find("Bradley-Terry"), std::string::npos);

  eval::SummaryOptions keep;
  keep.include_failed = true;
  const json all = plain(eval::summarize_study_files(files, keep));
  EXPECT_EQ(all["raters_included"], 3);
  EXPECT_EQ(all["failed_attention"], json({"carol"}));
  EXPECT_NE(all["agreement"].find("cohen_kappa_note"), all["agreement"].end());
  // A summary written next to the answers is skipped when the folder is globbed again.
  write_text(dir.file("study/summary.json"), s.dump());  // "type": "genforge study summary"
  auto again = files;
  again.push_back(dir.file("study/summary.json"));
  EXPECT_EQ(plain(eval::summarize_study_files(again))["raters_included"], 2);
}

TEST(HumanEval, LikertRoundTrip) {
  Folder dir;
  eval::StudyOptions o;
  o.pairs = 60;
  o.likert = 5;
  o.attention = 4;
  const auto study = eval::make_study({text_system("a", 10), text_system("b", 10)}, o);
  const json key = plain(study.key);
  EXPECT_EQ(key["scale"], 5);
  EXPECT_NE(study.html.find("id='rate-5'"), std::string::npos);
  EXPECT_EQ(study.html.find("id='rate-6'"), std::string::npos);
  EXPECT_NE(study.html.find("Attention check: choose "), std::string::npos);
  int per_system_a = 0;
  for (const auto& q : key["questions"]) per_system_a += q.value("system", "") == "a" ? 1 : 0;
  EXPECT_EQ(per_system_a, 30);
  const std::map<std::string, double> quality = {{"a", 4.2}, {"b", 2.0}};
  std::vector<std::pair<std::string, json>> answers = {
      {"r1.json", simulated_answers(key, "r1", quality, 0, false, 4)},
      {"r2.json", simulated_answers(key, "r2", quality, 0, false, 5)}};
  const json s = plain(eval::summarize_study(key, "key.json", answers));
  ASSERT_EQ(s["likert"].size(), 2u);
  EXPECT_GT(s["likert"][0]["mean"].get<double>(), s["likert"][1]["mean"].get<double>() + 1);
  EXPECT_EQ(s["likert"][0]["n"], 60);
  EXPECT_LT(s["likert"][0]["ci_low"].get<double>(), s["likert"][0]["mean"].get<double>());
  EXPECT_EQ(s["agreement"]["krippendorff_level"], "interval");
  EXPECT_GT(s["agreement"]["krippendorff_alpha"].get<double>(), 0.5);
  EXPECT_FALSE(s.contains("bradley_terry"));
  EXPECT_NE(eval::study_summary_text(eval::summarize_study(key, "key.json", answers)).find("mean rating"), std::string::npos);
}

TEST(HumanEval, Errors) {
  Folder dir;
  eval::StudyOptions o;
  o.pairs = 0;
  expect_human_eval_error<InvalidArgument>([&] { eval::make_study({text_system("a", 2), text_system("b", 2)}, o); },
                                "--pairs must be at least 1; got 0");
  o.pairs = 10;
  expect_human_eval_error<InvalidArgument>([&] { eval::make_study({text_system("a", 2)}, o); },
                                "pairs need at least 2 systems; got 1");
  write_text(dir.file("x.jpg"), "not a source");
  expect_human_eval_error<InvalidArgument>([&] { eval::read_study_items(dir.file("x.jpg")); },
                                "item source '" + dir.file("x.jpg") + "' is of an unknown kind (.jpg)");
  write_text(dir.file("empty.txt"), "\n  \n");
  expect_human_eval_error<DataError>([&] { eval::read_study_items(dir.file("empty.txt")); },
                          "item source '" + dir.file("empty.txt") + "' holds no items (no non-empty line)");
  fs::create_directory(dir.file("nopng"));
  expect_human_eval_error<DataError>([&] { eval::read_study_items(dir.file("nopng")); }, "holds no .png files");
  write_text(dir.file("grid.png"), std::string("\x89PNG\r\n\x1a\n", 8));
  expect_human_eval_error<InvalidArgument>([&] { eval::read_study_items(dir.file("grid.png")); }, "is a single PNG file");

  o.study_id = "1111111111111111";
  const auto study = eval::make_study({text_system("a", 3), text_system("b", 3)}, o);
  eval::write_study(dir.file("s"), study);
  const json good = simulated_answers(plain(study.key), "bob", {{"a", 2}, {"b", 1}}, 0.9, false, 1);
  write_text(dir.file("s/bob.json"), good.dump());
  const std::string key = dir.file("s/key.json"), bob = dir.file("s/bob.json");

  json other = good;
  other["study_id"] = "2222222222222222";
  write_text(dir.file("other.json"), other.dump());
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, dir.file("other.json")}); },
                          "'" + dir.file("other.json") + "' answers study 2222222222222222 but the key '" + key +
                              "' is of study 1111111111111111");
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({bob, bob}); },
                          "no study key among the 2 files given");
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key}); },
                          "no answer files: study 1111111111111111 ('" + key + "') has no raters' answers");
  write_text(dir.file("broken.json"), "{\"type\": ");
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, dir.file("broken.json")}); },
                          "'" + dir.file("broken.json") + "' is not JSON");
  json no_rater = good;
  no_rater.erase("rater");
  write_text(dir.file("norater.json"), no_rater.dump());
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, dir.file("norater.json")}); },
                          "'" + dir.file("norater.json") + "' is an answer file without \"rater\"");
  write_text(dir.file("plain.json"), "{\"answers\": []}");
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, dir.file("plain.json")}); },
                          "is neither a study key nor a rater's answers");
  json stray = good;
  stray["answers"].push_back({{"id", 999}, {"choice", "left"}});
  write_text(dir.file("stray.json"), stray.dump());
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, dir.file("stray.json")}); },
                          "'" + dir.file("stray.json") + "': question id 999 is not in the key '" + key + "'");
  write_text(dir.file("bob2.json"), good.dump());
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, bob, dir.file("bob2.json")}); },
                          "two answer files are from the rater 'bob': '" + bob + "' and '" + dir.file("bob2.json") + "'");
  json bad_choice = good;
  bad_choice["answers"][0]["choice"] = "up";
  write_text(dir.file("badchoice.json"), bad_choice.dump());
  expect_human_eval_error<DataError>([&] { eval::summarize_study_files({key, dir.file("badchoice.json")}); },
                          "has choice 'up' (expected left, right or tie)");
}

}  // namespace
}  // namespace gf
