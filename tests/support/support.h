// Test helpers: temporary folders, files, the CLI run in-process, tensor comparison, golden JSON.
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "genforge/core/error.h"
#include "genforge/model.h"

#include <string>
#include <vector>

namespace gf::test {

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);
bool exists(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);

struct CliResult {
  int rc;
  std::string out, err;
};
// A fit context without progress bars.
inline FitContext quiet() {
  FitContext c;
  c.progress = false;
  return c;
}

// Runs f, which must throw a gf::Error whose message contains `part`.
template <class F>
void expect_error_message(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// Runs `genforge <args...>` in-process through the same entry point as the binary.
CliResult run_cli(const std::vector<std::string>& args);
// Runs the CLI and expects exit code 2, an `error: ` first line containing `contains`, and a hint line.
void expect_cli_error(const std::vector<std::string>& args, const std::string& contains);

// A one-layer character GPT fitted for 40 steps on two repeated sentences ("the cat sat on the mat ." and "the dog
// ran to the log ."): a language model in a fraction of a second.
std::unique_ptr<Model> small_language_model();

std::string source_path(const std::string& relative);  // path inside the repository
nlohmann::json read_json(const std::string& path);
torch::Tensor tensor_from_json(const nlohmann::json& j);  // nested lists -> float64 tensor

// Starts the genforge binary (GF_BINARY) with `args` and extra environment variables; its standard output and
// error go to the files named (empty: discarded). Returns the process id.
int start_binary(const std::vector<std::string>& args,
                 const std::vector<std::pair<std::string, std::string>>& env = {}, const std::string& out = "",
                 const std::string& err = "");
// Waits for the process; its exit status, or 128 + the signal that killed it.
int wait_exit(int pid);

// Max |a - b| / (atol + rtol |b|) <= 1 elementwise.
::testing::AssertionResult all_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol);

}  // namespace gf::test
