// Crash consistency: a training run killed with SIGKILL at random points and resumed, twenty times, ends with the
// parameters of an uninterrupted run; no file of the run directory is ever partial, and metrics.jsonl has every
// logged step once. (The name carries "Long": CI runs it under the label `long`.)
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "genforge/io/model_file.h"
#include "support/support.h"

namespace gf {
namespace {

pid_t spawn(const std::vector<std::string>& args) { return test::start_binary(args); }
using test::wait_exit;

// Every file a killed run left is whole: the checkpoint and config read back, every metrics line is JSON. (A write
// the kill cut short leaves only its NAME.tmp.XXXXXX file, which the next run removes.)
void expect_whole(const test::TempDir& dir, const std::string& run) {
  const std::string checkpoint = dir.file(run + "/checkpoint.gf");
  if (test::exists(checkpoint)) { EXPECT_NO_THROW(read_model_file(checkpoint)) << "a partial checkpoint"; }
  if (test::exists(dir.file(run + "/config.json"))) {
    EXPECT_NO_THROW(test::read_json(dir.file(run + "/config.json")));
  }
  std::ifstream metrics(dir.file(run + "/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST(CrashConsistency, LongSigkilledTrainingResumesToTheUninterruptedResult) {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 80; ++i) text += "the cat sat on the mat .\nthe dog ran to the log .\n";
  test::write_text(dir.file("text.txt"), text);
  auto fresh = [&](const std::string& run) {
    return std::vector<std::string>{"train", "gpt", "--data", dir.file("text.txt"), "--set", "n_layer=1", "--set",
                                    "n_head=2", "--set", "n_embd=16", "--set", "block_size=32", "--set",
                                    "batch_size=8", "--set", "max_steps=8000", "--set", "checkpoint_every=25",
                                    "--set", "log_every=25", "--run-dir", dir.file(run), "--threads", "1", "-q"};
  };
  ASSERT_EQ(wait_exit(spawn(fresh("straight"))), 0);

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> delay_ms(200, 900);
  int kills = 0, launches = 0;
  for (; launches < 60; ++launches) {
    const bool resumable = test::exists(dir.file("killed/checkpoint.gf"));
    const pid_t pid = spawn(resumable ? std::vector<std::string>{"train", "--resume", dir.file("killed"), "--threads",
                                                                 "1", "-q"}
                                      : fresh("killed"));
    if (kills < 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
      if (waitpid(pid, nullptr, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
        ++kills;
        expect_whole(dir, "killed");
        if (kills == 1) test::write_text(dir.file("killed/checkpoint.gf.tmp.Ab3xYz"), "half a checkpoint");
        continue;
      }
      // It finished before the kill.
    }
    ASSERT_EQ(wait_exit(pid), 0);
    break;
  }
  EXPECT_EQ(kills, 20);
  for (const auto& name : test::list_dir(dir.file("killed"))) EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
  ASSERT_TRUE(test::exists(dir.file("killed/model.gf"))) << "after " << launches << " launches";
  const auto a = read_model_file(dir.file("straight/model.gf")).tensors;
  const auto b = read_model_file(dir.file("killed/model.gf")).tensors;
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  std::ifstream metrics(dir.file("killed/metrics.jsonl"));
  std::vector<int64_t> steps;
  for (std::string line; std::getline(metrics, line);) steps.push_back(nlohmann::json::parse(line)["step"].get<int64_t>());
  ASSERT_EQ(steps.size(), 320u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], 25 * static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace gf
