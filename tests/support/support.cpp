#include "support/support.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "genforge/data/source.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "commands.h"
#include "genforge/core/progress.h"

namespace gf::test {

TempDir::TempDir() {
  std::string tmpl = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : std::string("/tmp")) +
                     "/genforge_test_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  path_ = mkdtemp(buf.data());
}

TempDir::~TempDir() {
  std::string cmd = "chmod -R u+w '" + path_ + "' 2>/dev/null; rm -rf '" + path_ + "'";
  (void)std::system(cmd.c_str());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  return out;
}

CliResult run_cli(const std::vector<std::string>& args) {
  std::vector<std::string> storage = {"genforge"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = gf::cli::main_entry(static_cast<int>(storage.size()), argv.data());
  CliResult r{rc, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
  gf::Progress::set_enabled(true);
  return r;
}

std::string source_path(const std::string& relative) { return std::string(GF_SOURCE_DIR) + "/" + relative; }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

torch::Tensor tensor_from_json(const nlohmann::json& j) {
  if (j.is_number()) return torch::tensor(j.get<double>(), torch::kFloat64);
  std::vector<torch::Tensor> rows;
  for (const auto& e : j) rows.push_back(tensor_from_json(e));
  if (rows.empty()) return torch::empty({0}, torch::kFloat64);
  return torch::stack(rows);
}

::testing::AssertionResult all_close(const torch::Tensor& a_in, const torch::Tensor& b_in, double rtol, double atol) {
  auto a = a_in.to(torch::kCPU, torch::kFloat64);
  auto b = b_in.to(torch::kCPU, torch::kFloat64);
  if (a.sizes() != b.sizes()) {
    return ::testing::AssertionFailure() << "shapes differ: " << a.sizes() << " vs " << b.sizes();
  }
  auto err = (a - b).abs() - (atol + rtol * b.abs());  // <= 0 where close
  double worst = err.numel() ? err.max().item<double>() : 0.0;
  if (worst <= 0.0 && !a.isnan().any().item<bool>()) return ::testing::AssertionSuccess();
  auto idx = err.argmax().item<int64_t>();
  return ::testing::AssertionFailure() << "max excess over tolerance " << worst << " at flat index " << idx << ": "
                                       << a.reshape(-1)[idx].item<double>() << " vs "
                                       << b.reshape(-1)[idx].item<double>() << " (rtol " << rtol << ", atol "
                                       << atol << ")";
}

void expect_cli_error(const std::vector<std::string>& args, const std::string& contains) {
  auto r = run_cli(args);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint: "), std::string::npos) << r.err;
}

std::unique_ptr<Model> small_language_model() {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "the cat sat on the mat .\nthe dog ran to the log .\n";
  auto lm = create_model("gpt", {}, {{"n_layer", "1"}, {"n_head", "2"}, {"n_embd", "16"}, {"block_size", "32"},
                                     {"max_steps", "40"}, {"batch_size", "8"}});
  data::Source s;
  s.spec = "cats";
  s.form = DataKind::text;
  s.text = text;
  fit_source(*lm, s, quiet());
  return lm;
}

int start_binary(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
                 const std::string& out, const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    const int o = ::open(out.empty() ? "/dev/null" : out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.empty() ? "/dev/null" : err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> argv{const_cast<char*>(GF_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(GF_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace gf::test
