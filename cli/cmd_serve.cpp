#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/serve.h"
#include "genforge/core/error.h"

namespace gf::cli {
namespace {

std::atomic<int> g_signal{0};
extern "C" void on_stop_signal(int sig) { g_signal = sig; }

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  GF_CHECK_AS(InvalidArgument, in.good(), "give a file holding the token on one line", "cannot read '", path, "'");
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  GF_CHECK_AS(InvalidArgument, token.size() >= 8, "use a token of 8 characters or more (e.g. openssl rand -hex 16)",
              "the token in '", path, "' is empty or shorter than 8 characters");
  return token;
}

}  // namespace

int run_serve(int argc, char** argv) {
  CLI::App app("serve saved models over HTTP: JSON endpoints for sampling, scoring, anomaly detection, imputation and "
               "OpenAI-style completions; Prometheus metrics with a drift check",
               "serve");
  std::vector<std::string> paths;
  std::string token_file;
  serve::ServeOptions o;
  CommonFlags common;
  app.add_option("models", paths, "model files (.gf); requests name them by file stem")->required();
  app.add_option("--host", o.host, "address to listen on (0.0.0.0: every interface)");
  app.add_option("--port", o.port, "port (0: any free one, printed)");
  app.add_option("--workers", o.workers, "requests computed at once (other than completions, which are batched)");
  app.add_option("--http-threads", o.http_threads, "connections handled at once");
  app.add_option("--queue", o.max_queue, "requests that may wait; one more is answered 429");
  app.add_option("--max-batch", o.max_batch, "completions decoded together");
  app.add_option("--max-body", o.max_body_bytes, "largest request body in bytes (larger: 413)");
  app.add_option("--max-items", o.max_items, "most samples, rows, images or lines in one request");
  app.add_option("--max-tokens", o.max_tokens, "most completion tokens in one request");
  app.add_option("--timeout", o.request_timeout_s, "seconds a request may wait for a worker (then 503)");
  app.add_option("--io-timeout", o.io_timeout_s, "seconds a silent client is kept");
  app.add_option("--token-file", token_file, "require 'Authorization: Bearer TOKEN' (the file's first line)");
  app.add_option("--drift-window", o.drift_window, "scores in the rolling drift check");
  app.add_option("--drift-alpha", o.drift.alpha, "drift when the KS test's p-value is below this");
  app.add_flag("--log-requests", o.log_requests, "one line per request on stderr");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  if (!token_file.empty()) o.token = read_token_file(token_file);
  o.validate();
  serve::Server server(serve::load_served_models(paths), o);
  const int port = server.bind();
  std::cout << "serving " << paths.size() << (paths.size() == 1 ? " model" : " models") << " on http://" << o.host
            << ":" << port << (o.token.empty() ? "" : " (bearer token required)")
            << "; GET /v1/models lists them; SIGTERM or Ctrl-C stops" << std::endl;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::atomic<bool> finished{false};
  // stop() from a thread, not the handler (it is not async-signal-safe); repeated until listen() returns.
  std::thread watcher([&] {
    while (!finished) {
      if (g_signal != 0) server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  server.listen();
  finished = true;
  watcher.join();
  std::cout << "stopped" << (g_signal == SIGTERM ? " (SIGTERM)" : g_signal == SIGINT ? " (SIGINT)" : "")
            << " after answering the requests in flight" << std::endl;
  return 0;
}

}  // namespace gf::cli
