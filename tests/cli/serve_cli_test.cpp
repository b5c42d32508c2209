// `genforge drift` and `genforge serve`'s refusals through the command line.
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "cli_fixture.h"
#include "genforge/apps/serve.h"

namespace gf::cli_test {
namespace {

using json = nlohmann::json;

TEST_F(Cli, DriftComparesNewDataWithTheProfileKeptAtTraining) {
  const std::string model = trained_model();
  auto r = test::run_cli({"drift", model, "--data", csv_, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["items"], 60);
  EXPECT_FALSE(j["drift"].get<bool>());
  EXPECT_LT(j["ks_statistic"].get<double>(), 0.02);  // the training data against its own profile
  EXPECT_NE(j["reference"].get<std::string>().find("training data"), std::string::npos);
  // Column a moved by 3: drift, with a picture.
  std::string shifted = "a,b,c\n";
  for (int i = 0; i < 60; ++i) {
    const double s = i % 2 ? 4.0 : 0.0;
    shifted += std::to_string(s + 3 + 0.1 * (i % 7)) + "," + std::to_string(s - 0.2 * (i % 5)) + "," +
               std::to_string(0.3 * (i % 3)) + "\n";
  }
  test::write_text(dir_.file("shifted.csv"), shifted);
  r = test::run_cli({"drift", model, "--data", dir_.file("shifted.csv"), "--out", dir_.file("drift.png")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("DRIFT: 60 items", 0), 0u) << r.out;
  EXPECT_TRUE(test::exists(dir_.file("drift.png")));
  // Without a profile in the file: refused, unless a reference is given.
  ASSERT_EQ(test::run_cli({"train", "gmm", "--data", csv_, "--out", dir_.file("bare.gf"), "--set", "n_components=2",
                           "--profile-items", "0", "-q"})
                .rc,
            0);
  expect_error({"drift", dir_.file("bare.gf"), "--data", csv_}, "holds no score profile");
  r = test::run_cli({"drift", dir_.file("bare.gf"), "--data", dir_.file("shifted.csv"), "--reference", csv_, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out)["drift"].get<bool>());
  expect_error({"drift", model, "--data", csv_, "--alpha", "2"}, "alpha must be in (0, 1)");
}

TEST_F(Cli, ServeRefusesBadSettingsBeforeListening) {
  const std::string model = trained_model();
  expect_error({"serve", dir_.file("nope.gf")}, "nope.gf");
  expect_error({"serve", model, "--port", "70000"}, "--port must be in 0..65535");
  expect_error({"serve", model, "--token-file", dir_.file("missing.txt")}, "cannot read");
  expect_error({"serve", model, model}, "two model files are named 'm'");
  // A port another server holds.
  serve::ServeOptions o;
  o.port = 0;
  serve::Server holder(serve::load_served_models({model}), o);
  const int port = holder.bind();
  expect_error({"serve", model, "--port", std::to_string(port)}, "cannot listen on 127.0.0.1:" + std::to_string(port));
}

// The binary itself: it prints where it listens, answers, and on SIGTERM finishes the request in flight and exits 0.
TEST_F(Cli, ServeStopsOnSigtermAfterTheRequestsInFlight) {
  const std::string model = trained_model();
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(GF_BINARY, GF_BINARY, "serve", model.c_str(), "--port", "0", "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string banner;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') banner += c;
  const auto colon = banner.find("127.0.0.1:");
  ASSERT_NE(colon, std::string::npos) << banner;
  const int port = std::stoi(banner.substr(colon + 10));
  httplib::Client client("127.0.0.1", port);
  auto r = client.Post("/v1/sample", R"({"n": 3, "seed": 1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // A large request in flight when SIGTERM arrives still gets its answer.
  auto in_flight = std::async(std::launch::async, [port] {
    httplib::Client c2("127.0.0.1", port);
    return c2.Post("/v1/sample", R"({"n": 10000, "seed": 2, "format": "csv"})", "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGTERM);
  auto answered = in_flight.get();
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string rest;
  while (read(out[0], &c, 1) == 1) rest += c;
  close(out[0]);
  EXPECT_NE(rest.find("stopped (SIGTERM)"), std::string::npos) << rest;
  // (it may have arrived after the listener closed: refused)
  if (answered) { EXPECT_EQ(answered->status, 200); }
}

}  // namespace
}  // namespace gf::cli_test
