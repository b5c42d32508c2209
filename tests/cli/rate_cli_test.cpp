// genforge rate make | summarize end to end (in-process): a study folder from text files and from PNG grids, the
// summary of synthetic answers as JSON and as a file, a study folder not overwritten by accident, and one-line
// errors with hints. The statistics are pinned by tests/human_eval_test.cpp; the page by Browser.Study.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>
#include <torch/utils.h>

#include "genforge/data/images.h"
#include "support/support.h"

namespace gf {
namespace {

using nlohmann::json;
using test::run_cli;

void expect_rate_error(const std::vector<std::string>& args, const std::string& contains) {
  test::expect_cli_error(args, contains);
}

// A rater who always prefers system a and answers the attention checks as told.
json answers_preferring_a(const json& key, const std::string& rater) {
  json answers = json::array();
  for (const auto& q : key["questions"]) {
    std::string choice;
    if (q.value("attention", false)) {
      choice = q["expect"];
    } else {
      choice = q["left"] == "a" ? "left" : "right";
    }
    answers.push_back({{"id", q["id"]}, {"choice", choice}});
  }
  return {{"type", "genforge study answers"}, {"study_id", key["study_id"]}, {"rater", rater}, {"answers", answers}};
}

TEST(RateCli, MakeThenSummarize) {
  test::TempDir dir;
  test::write_text(dir.file("a.txt"), "a fine sentence\nanother fine sentence\nthird\n");
  test::write_text(dir.file("b.txt"), "sentence fine a\nfine another\n");
  const std::vector<std::string> make = {"rate", "make", "--a", dir.file("a.txt"), "--b", dir.file("b.txt"),
                                         "--pairs", "10", "--attention", "2", "--seed", "4", "--out",
                                         dir.file("study")};
  auto r = run_cli(make);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("12 questions: 10 comparisons + 2 attention checks"), std::string::npos) << r.out;
  const std::string html = test::read_text(dir.file("study/index.html"));
  EXPECT_EQ(html.find(dir.file("a.txt")), std::string::npos);  // blind: no source on the page
  const json key = test::read_json(dir.file("study/key.json"));
  EXPECT_EQ(key["type"], "genforge study key");
  EXPECT_NE(html.find(key["study_id"].get<std::string>()), std::string::npos);

  // Making again into the same folder would orphan the answers given to the first page.
  auto again = run_cli(make);
  EXPECT_EQ(again.rc, 2);
  EXPECT_NE(again.err.find("a study is already there"), std::string::npos) << again.err;
  EXPECT_EQ(test::read_json(dir.file("study/key.json"))["study_id"], key["study_id"]);

  test::write_text(dir.file("study/ann.json"), answers_preferring_a(key, "ann").dump());
  test::write_text(dir.file("study/ben.json"), answers_preferring_a(key, "ben").dump());
  auto s = run_cli({"rate", "summarize", dir.file("study/key.json"), dir.file("study/ann.json"),
                    dir.file("study/ben.json"), "--json", "--out", dir.file("summary.json")});
  ASSERT_EQ(s.rc, 0) << s.err;
  const json summary = json::parse(s.out);
  EXPECT_EQ(summary["failed_attention"], json::array());
  EXPECT_EQ(summary["pairs"][0]["a_preferred"], 1.0);
  EXPECT_EQ(summary["pairs"][0]["n"], 20);
  EXPECT_EQ(summary["bradley_terry"]["ranking"][0]["system"], "a");
  EXPECT_EQ(test::read_json(dir.file("summary.json"))["type"], "genforge study summary");
  auto table = run_cli({"rate", "summarize", dir.file("study/key.json"), dir.file("study/ann.json"),
                        dir.file("study/ben.json")});
  ASSERT_EQ(table.rc, 0) << table.err;
  EXPECT_NE(table.out.find("Krippendorff's alpha"), std::string::npos) << table.out;
}

TEST(RateCli, PngGridsCutIntoTiles) {
  test::TempDir dir;
  torch::manual_seed(1);
  write_png_grid(dir.file("a.png"), torch::randint(0, 256, {5, 1, 8, 8}, torch::kUInt8), 3);
  write_png_grid(dir.file("b.png"), torch::randint(0, 256, {5, 1, 8, 8}, torch::kUInt8), 3);
  auto r = run_cli({"rate", "make", "--a", dir.file("a.png"), "--b", dir.file("b.png"), "--tile", "8", "--pairs",
                    "6", "--out", dir.file("study")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json key = test::read_json(dir.file("study/key.json"));
  EXPECT_EQ(key["systems"][0]["items"], 5);
  EXPECT_EQ(key["systems"][1]["items"], 5);
  EXPECT_NE(test::read_text(dir.file("study/index.html")).find("data:image/png;base64,"), std::string::npos);
  expect_rate_error({"rate", "make", "--a", dir.file("a.png"), "--b", dir.file("b.png"), "--out", dir.file("s2")},
               "is a single PNG file");
}

TEST(RateCli, Errors) {
  test::TempDir dir;
  test::write_text(dir.file("a.txt"), "one\ntwo\n");
  test::write_text(dir.file("b.txt"), "three\n");
  test::write_text(dir.file("x.jpg"), "?");
  expect_rate_error({"rate", "make", "--a", dir.file("a.txt"), "--out", dir.file("s")},
               "pairs need at least 2 systems; got 1");
  expect_rate_error({"rate", "make", "--a", dir.file("a.txt"), "--b", dir.file("b.txt"), "--pairs", "0", "--out",
                dir.file("s")},
               "--pairs must be at least 1; got 0");
  expect_rate_error({"rate", "make", "--a", dir.file("x.jpg"), "--b", dir.file("b.txt"), "--out", dir.file("s")},
               "is of an unknown kind (.jpg)");
  EXPECT_FALSE(test::exists(dir.file("s")));
  test::write_text(dir.file("ans.json"), R"({"type": "genforge study answers", "study_id": "x", "rater": "r",
                                            "answers": []})");
  expect_rate_error({"rate", "summarize", dir.file("ans.json")}, "no study key among the 1 files given");
  expect_rate_error({"rate", "frob"}, "unknown rate command 'frob'");
}

}  // namespace
}  // namespace gf
