// The green-list text watermark: the lists are keyed and hold γ of the vocabulary, plain text scores as chance,
// watermarked text from choose_token and from a GPT is detected, and the CLI round trip works.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <random>

#include "genforge/apps/watermark.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

TEST(Watermark, GreenListsHoldTheFractionAndDependOnTheKey) {
  int64_t green = 0, same_under_other_key = 0;
  const int64_t pairs = 200000;
  const Watermark ours{42, 2.0, 0.25, 1}, theirs{43, 2.0, 0.25, 1};
  for (int64_t i = 0; i < pairs; ++i) {
    const std::vector<int64_t> previous = {i % 997};
    const int64_t token = i / 997;
    const bool g = is_green_token(green_list_seed(ours, previous, 1), token, 0.25);
    green += g;
    same_under_other_key += g == is_green_token(green_list_seed(theirs, previous, 1), token, 0.25);
    EXPECT_EQ(g, is_green_token(green_list_seed(ours, previous, 1), token, 0.25));
  }
  // A wider context: the list depends on the last `context_width` tokens, and only on them.
  const Watermark wide{42, 2.0, 0.25, 3};
  const std::vector<int64_t> a = {9, 1, 2, 3}, b = {8, 1, 2, 3}, c = {9, 1, 5, 3};
  EXPECT_EQ(green_list_seed(wide, a, 4), green_list_seed(wide, b, 4));
  EXPECT_NE(green_list_seed(wide, a, 4), green_list_seed(wide, c, 4));
  const double share = static_cast<double>(green) / pairs, sd = std::sqrt(0.25 * 0.75 / pairs);
  EXPECT_NEAR(share, 0.25, 4 * sd);
  // Two keys agree as two independent lists do: γ² + (1 - γ)² = 0.625 of the time.
  EXPECT_NEAR(static_cast<double>(same_under_other_key) / pairs, 0.625, 0.01);
  EXPECT_NE(apps::watermark_key("secret"), apps::watermark_key("secret "));
  EXPECT_THROW(apps::watermark_key(""), InvalidArgument);
}

TEST(Watermark, TextWithoutTheWatermarkScoresAsChance) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> token(0, 499);
  Watermark w{apps::watermark_key("k"), 2.0, 0.25, 1};
  const double threshold = apps::watermark_threshold(0.01);
  EXPECT_NEAR(threshold, 2.326347874, 1e-8);
  int flagged = 0;
  double mean_z = 0;
  const int texts = 400;
  for (int t = 0; t < texts; ++t) {
    std::vector<int64_t> ids(200);
    for (auto& id : ids) id = token(rng);
    const auto d = apps::detect_watermark(ids, w);
    flagged += d.z > threshold;
    mean_z += d.z / texts;
  }
  EXPECT_NEAR(mean_z, 0.0, 0.2);
  EXPECT_LE(flagged, 12) << "false positives at a 1 % rate among " << texts;  // expected 4
}

// Tokens drawn by choose_token from flat logits: the bias δ = 2 makes a green token e² times as likely, so about
// 71 % of tokens are green instead of 25 %.
TEST(Watermark, ChooseTokenLeavesAMarkOnlyItsKeyFinds) {
  GenerateOptions g;
  g.watermark = {apps::watermark_key("ours"), 2.0, 0.25, 1};
  auto gen = make_generator(3);
  std::vector<int64_t> ids = {0};
  const auto flat = torch::zeros({256});
  for (int i = 0; i < 200; ++i) ids.push_back(choose_token(flat, ids, g, gen));
  const auto ours = apps::detect_watermark(ids, g.watermark);
  EXPECT_GT(ours.z, 8.0);
  EXPECT_LT(ours.p_value, 1e-12);
  EXPECT_NEAR(static_cast<double>(ours.green) / ours.scored, 0.71, 0.1);
  Watermark other = g.watermark;
  other.key = apps::watermark_key("theirs");
  EXPECT_LT(std::abs(apps::detect_watermark(ids, other).z), 3.5);
  std::vector<int64_t> too_short = {1, 2};
  EXPECT_THROW(apps::detect_watermark(too_short, g.watermark), InvalidArgument);
  // The same with a context of four tokens.
  g.watermark.context_width = 4;
  ids = {0};
  for (int i = 0; i < 200; ++i) ids.push_back(choose_token(flat, ids, g, gen));
  EXPECT_GT(apps::detect_watermark(ids, g.watermark).z, 8.0);
  g.watermark.context_width = 1;
  EXPECT_LT(apps::detect_watermark(ids, g.watermark).z, 3.5);
  g.watermark.green_fraction = 1.0;
  EXPECT_THROW(g.validate(), InvalidArgument);
}

TEST(Watermark, GptTextIsDetectedAtFixedSeedsAndPlainTextIsNot) {
  const auto lm = test::small_language_model();
  GenerateOptions plain;
  plain.max_tokens = 200;
  GenerateOptions marked = plain;
  marked.watermark = {apps::watermark_key("brown"), 2.0, 0.25, 1};
  const double threshold = apps::watermark_threshold(0.01);
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    auto gen = make_generator(seed);
    const std::string with = generate_text(*lm, "the ", marked, {}, gen).text;
    gen = make_generator(seed);
    const std::string without = generate_text(*lm, "the ", plain, {}, gen).text;
    EXPECT_GT(apps::detect_watermark_text(*lm, with, marked.watermark).z, threshold);
    EXPECT_LT(apps::detect_watermark_text(*lm, without, marked.watermark).z, threshold);
  }
}

TEST(Watermark, CliGeneratesAndDetects) {
  test::TempDir dir;
  const auto lm = test::small_language_model();
  save_model(*lm, dir.file("lm.gf"));
  ASSERT_EQ(test::run_cli({"generate", dir.file("lm.gf"), "-n", "200", "--seed", "5", "--watermark-key", "team",
                           "--out", dir.file("marked.txt")}).rc, 0);
  ASSERT_EQ(test::run_cli({"generate", dir.file("lm.gf"), "-n", "200", "--seed", "5", "--out", dir.file("plain.txt")})
                .rc, 0);
  auto r = test::run_cli({"watermark", "detect", "--model", dir.file("lm.gf"), "--key", "team", "--json",
                          dir.file("marked.txt"), dir.file("plain.txt")});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::istringstream lines(r.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_TRUE(nlohmann::json::parse(first)["watermarked"].get<bool>()) << first;
  EXPECT_FALSE(nlohmann::json::parse(second)["watermarked"].get<bool>()) << second;
  r = test::run_cli({"watermark", "find", "--key", "x"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err.rfind("error: unknown watermark action 'find'\nhint: usage: genforge watermark detect", 0), 0u)
      << r.err;
  r = test::run_cli({"generate", dir.file("lm.gf"), "--watermark-key", "team", "--watermark-fraction", "1.5"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("green fraction must be in (0, 1), got 1.5"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gf
