// docs/errors.md is the catalogue of bad input: every command on that page runs here, in a folder holding the
// files it names, and must print exactly the error and hint lines the page shows, exit with code 2, and leave no
// file behind. The page and the binary cannot drift apart.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "genforge/io/bytes.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {
namespace fs = std::filesystem;

struct Case {
  std::string title, command, error, hint;
  std::vector<std::string> args;
};

// The command line's words as a POSIX shell splits them (single and double quotes; '' is an empty word).
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0; else word += c;
    } else if (c == '\'' || c == '"') {
      quote = c, in_word = true;
    } else if (c == ' ') {
      if (in_word) words.push_back(word);
      word.clear(), in_word = false;
    } else {
      word += c, in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

std::vector<Case> catalogue() {
  std::ifstream in(test::source_path("docs/errors.md"));
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0) {
      cases.push_back({line.substr(4), "", "", "", {}});
    } else if (!cases.empty() && line.rfind("    genforge ", 0) == 0) {
      cases.back().command = line.substr(4);
      const auto words = shell_words(line.substr(4));
      cases.back().args.assign(words.begin() + 1, words.end());
    } else if (!cases.empty() && line.rfind("    error: ", 0) == 0) {
      cases.back().error = line.substr(4);
    } else if (!cases.empty() && line.rfind("    hint: ", 0) == 0) {
      cases.back().hint = line.substr(4);
    }
  }
  return cases;
}

// Equal, or -- when the page's line ends in " …" -- equal up to there.
bool matches(const std::string& printed, const std::string& documented) {
  const std::string ellipsis = " …";
  if (documented.size() > ellipsis.size() &&
      documented.compare(documented.size() - ellipsis.size(), ellipsis.size(), ellipsis) == 0) {
    return printed.rfind(documented.substr(0, documented.size() - ellipsis.size()), 0) == 0;
  }
  return printed == documented;
}

std::vector<std::string> listing() {
  auto names = test::list_dir(".");
  std::sort(names.begin(), names.end());
  return names;
}

// The folder the page's commands run in.
void make_fixture(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator(test::source_path("tests/reference/bad_inputs"))) {
    fs::copy(entry.path(), fs::path(dir) / entry.path().filename(), fs::copy_options::recursive);
  }
  std::string table = "a,b,c\n";
  for (int i = 0; i < 60; ++i) {
    const double s = i % 2 ? 4.0 : 0.0;
    table += std::to_string(s + 0.1 * (i % 7)) + "," + std::to_string(s - 0.2 * (i % 5)) + "," +
             std::to_string(0.3 * (i % 3)) + "\n";
  }
  test::write_text(dir + "/data.csv", table);
  std::string lines;
  for (int i = 0; i < 60; ++i) lines += "the cat sat on the mat .\nthe dog ran to the log .\n";
  test::write_text(dir + "/lines.txt", lines);
  fs::copy_file(test::source_path("data/vega-datasets/data/penguins.json"), dir + "/penguins.json");
  ASSERT_EQ(test::run_cli({"train", "gmm", "--data", dir + "/data.csv", "--out", dir + "/m.gf", "--set",
                           "n_components=2", "-q", "--no-provenance"}).rc, 0);
  ASSERT_EQ(test::run_cli({"train", "copula", "--data", dir + "/data.csv", "--out", dir + "/copula.gf", "-q",
                           "--no-provenance"}).rc, 0);
  save_model(*test::small_language_model(), dir + "/lm.gf");
  test::write_text(dir + "/truncated.gf", read_file_bytes(dir + "/m.gf").substr(0, 200));
  auto contents = read_model_file(dir + "/m.gf");  // finite but damaged: mixture weights summing to 5
  contents.tensors["weights"] = contents.tensors["weights"] * 5;
  write_model_file(dir + "/weights5.gf", contents);
  test::write_text(dir + "/text.gf", "not a model\n");
}

TEST(ErrorsCatalogue, EveryDocumentedBadInputGetsItsDocumentedLines) {
  const auto cases = catalogue();
  ASSERT_GE(cases.size(), 40u) << "docs/errors.md lists at least 40 bad inputs";
  test::TempDir dir;
  make_fixture(dir.path());
  if (const char* keep = std::getenv("GF_KEEP_ERRORS_FIXTURE")) {  // for scripts/errors_catalogue.py
    fs::create_directories(keep);
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      fs::copy(entry.path(), fs::path(keep) / entry.path().filename(),
               fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    }
  }
  const fs::path home = fs::current_path();
  fs::current_path(dir.path());  // the page's paths are relative to this folder
  for (const auto& c : cases) {
    SCOPED_TRACE(c.title + ": " + c.command);
    ASSERT_FALSE(c.command.empty() || c.error.empty() || c.hint.empty()) << "an incomplete entry";
    const auto before = listing();
    const auto r = test::run_cli(c.args);
    EXPECT_EQ(r.rc, 2);
    std::istringstream err(r.err);
    std::string line, error, hint;
    while (std::getline(err, line)) {
      if (line.rfind("error: ", 0) == 0) {
        error = line;
        std::getline(err, hint);
        break;
      }
    }
    EXPECT_TRUE(matches(error, c.error)) << "printed:    " << error << "\ndocumented: " << c.error;
    EXPECT_TRUE(matches(hint, c.hint)) << "printed:    " << hint << "\ndocumented: " << c.hint;
    EXPECT_EQ(listing(), before) << "a file was left behind";
  }
  fs::current_path(home);
}

}  // namespace
}  // namespace gf
