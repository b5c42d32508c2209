// Every seed of the fuzz corpora and every input a fuzzing campaign once turned into a finding
// (fuzz/regressions/TARGET/) run once through the same target functions the fuzzers call (fuzz/targets.h), in the
// ordinary build: a fixed finding stays fixed without clang. docs/reliability.md.
#include <gtest/gtest.h>

#include <filesystem>

#include "../fuzz/targets.h"
#include "genforge/io/bytes.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* folder : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(GF_SOURCE_DIR) / "fuzz" / folder / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class FuzzCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpus, EveryInputEndsNormallyOrWithAGenforgeError) {
  setenv("GENFORGE_MEMORY_LIMIT_MB", "1500", 1);  // as scripts/fuzz.sh runs them
  const auto target = gf::fuzz::targets().at(GetParam());
  const auto files = inputs_of(GetParam());
  ASSERT_GE(files.size(), 3u) << "the seed corpus of " << GetParam() << " is missing";
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const std::string bytes = gf::read_file_bytes(file.string());
    EXPECT_NO_THROW(gf::fuzz::run_one(target, bytes));
    // Seeds are valid inputs unless their name says otherwise, so a target that refuses everything (or whose
    // set-up fails) cannot pass for a parser that accepts.
    if (file.parent_path().filename() == GetParam() && file.parent_path().parent_path().filename() == "corpus" &&
        file.filename().string().rfind("bad_", 0) != 0) {
      try {
        gf::fuzz::init_once();
        target(bytes);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "a valid seed is refused: " << e.what();
      }
    }
  }
}

std::vector<std::string> every_target() {
  std::vector<std::string> names;
  for (const auto& target : gf::fuzz::targets()) names.push_back(target.first);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(every_target()));

// The rule itself can fail: an input the parser must refuse is refused with a genforge error, not accepted, and
// an InternalError escapes run_one (it is a bug, so a finding).
TEST(FuzzCorpus, TheRuleSeparatesRefusalsFromFindings) {
  EXPECT_THROW(gf::fuzz::npy("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',}"), gf::DataError);
  EXPECT_THROW(gf::fuzz::run_one([](const std::string&) { throw gf::InternalError("bug", ""); }, ""),
               gf::InternalError);
  EXPECT_NO_THROW(gf::fuzz::run_one(gf::fuzz::model_file, "not a model"));
}

}  // namespace
