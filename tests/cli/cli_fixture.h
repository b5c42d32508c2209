// The fixture of the in-process CLI tests (cli_test.cpp, apps_cli_test.cpp): a temporary folder with a small
// table, and expect_error for the one-line error + hint + exit code 2 + no partial output contract.
#pragma once
#include <gtest/gtest.h>

#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "genforge/data/images.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf::cli_test {

// A folder of 28x28 grayscale PNGs in two class sub-folders ("left": bright left half, "top": bright top half).
inline std::string image_folder(const test::TempDir& dir, const std::string& name, int64_t side = 28) {
  const std::string root = dir.file(name);
  for (const std::string cls : {"left", "top"}) {
    std::filesystem::create_directories(root + "/" + cls);
    for (int i = 0; i < 12; ++i) {
      auto img = torch::full({1, side, side}, 0.1 + 0.01 * i);
      if (cls == "left") img.slice(2, 0, side / 2).fill_(0.9);
      if (cls == "top") img.slice(1, 0, side / 2).fill_(0.9);
      write_png(root + "/" + cls + "/" + std::to_string(i) + ".png", img);
    }
  }
  return root;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = dir_.file("data.csv");
    std::string text = "a,b,c\n";
    for (int i = 0; i < 60; ++i) {
      double s = i % 2 ? 4.0 : 0.0;
      text += std::to_string(s + 0.1 * (i % 7)) + "," + std::to_string(s - 0.2 * (i % 5)) + "," +
              std::to_string(0.3 * (i % 3)) + "\n";
    }
    test::write_text(csv_, text);
  }
  // Asserts the error text (first line), a hint line and exit code 2, and that the folder gained no file.
  void expect_error(const std::vector<std::string>& args, const std::string& error_contains) {
    auto before = test::list_dir(dir_.path()).size();
    auto r = test::run_cli(args);
    EXPECT_EQ(r.rc, 2) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(error_contains), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\nhint: "), std::string::npos) << r.err;
    EXPECT_EQ(test::list_dir(dir_.path()).size(), before) << "a partial output file was left";
  }
  std::string trained_model() {
    auto path = dir_.file("m.gf");
    auto r = test::run_cli({"train", "gmm", "--data", csv_, "--out", path, "--set", "n_components=2", "-q"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return path;
  }
  test::TempDir dir_;
  std::string csv_;
};

}  // namespace gf::cli_test
