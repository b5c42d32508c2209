// `genforge serve`: saved models behind an HTTP/1.1 API with JSON bodies (cpp-httplib from Debian), watched by
// Prometheus. Every model is reached through its capabilities (no per-family code):
//   GET  /v1/models        each model's kind, options, schema, capabilities, endpoints and drift state
//   POST /v1/sample        {"n", "seed", "class", "format": json|csv|png}: rows, images (base64 PNG or pixels)
//   POST /v1/score         {"rows" | "images" | "text" | "documents"}: per-item log-likelihood (nats)
//   POST /v1/anomaly       the same input: anomaly scores and flags (threshold from the training score profile)
//   POST /v1/impute        {"rows" with nulls, "multiple", "seed"}: filled rows (ConditionalSampler models)
//   POST /v1/completions   OpenAI's fields (prompt, max_tokens, temperature, top_p, top_k, min_p, stop, seed,
//                          stream): text models; `stream` answers with server-sent events
//   GET  /healthz, GET /metrics (Prometheus text: requests, errors, latency histograms, tokens, queue, drift)
// Concurrent completions share decoding steps (continuous batching through BatchDecoder): a request's text does
// not depend on what else is being decoded. Other requests run on a pool of `workers`; at most `max_queue` wait,
// the next gets 429. Bad input is 400 with {"error", "hint"}; the server never reads or writes a file a request
// names.
//
//   auto models = gf::serve::load_served_models({"penguins-gmm.gf"});
//   gf::serve::Server server(std::move(models), {});
//   auto r = server.handle({"POST", "/v1/score", R"({"rows": [{"bill_length_mm": 39.1}]})", {}});  // in-process
//   server.listen();  // until stop() (genforge serve: SIGTERM / SIGINT)
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "genforge/apps/drift.h"
#include "genforge/model.h"

namespace gf::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";  // the loopback interface only; 0.0.0.0 to listen on every interface
  int port = 8080;                  // 0: a free port chosen by the system (Server::port() says which)
  int64_t http_threads = 64;        // connections handled at once (an idle keep-alive connection holds one)
  int64_t workers = 1;              // non-completion requests computed at once (each with the intra-op threads)
  int64_t max_queue = 64;           // requests waiting for a worker or a decoding slot; one more: 429
  int64_t max_batch = 32;           // sequences decoded together
  int64_t max_body_bytes = 8 << 20; // larger bodies: 413
  int64_t max_items = 10000;        // samples, rows, images or lines in one request
  int64_t max_tokens = 1024;        // completion tokens in one request
  double request_timeout_s = 60;    // a request still waiting for a worker after this: 503
  double io_timeout_s = 5;          // a client silent for this long while sending or receiving is dropped
  std::string token;                // non-empty: every endpoint but /healthz needs "Authorization: Bearer TOKEN"
  int64_t drift_window = 500;       // scores in the rolling drift check
  apps::DriftOptions drift;
  bool log_requests = false;        // one line per request on stderr (errors and drift warnings always)
  void validate() const;
};

struct ServedModel {
  std::string name;  // how requests name it ("model": NAME); the file's stem
  std::string path;
  std::unique_ptr<Model> model;
};
// Loads each file once; names are the file stems (a repeated stem is InvalidArgument).
std::vector<ServedModel> load_served_models(const std::vector<std::string>& paths);

// A request and its answer independent of HTTP, so every endpoint can be called in-process.
struct Request {
  std::string method, path, body;
  std::map<std::string, std::string> headers;  // names in lower case
};
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Server-sent events: when set, the body is written by calling this with a sink (false from the sink: the client
  // went away, stop). `handle` runs it and collects the events into `body`.
  std::function<void(const std::function<bool(const std::string&)>& sink)> stream;
};

class Server {
 public:
  Server(std::vector<ServedModel> models, ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Response handle(const Request& request);  // in-process: streams are collected into the body
  // Binds host:port (an address in use is InvalidArgument) and returns the port: the chosen one for port 0.
  int bind();
  // Serves (binding first if bind() was not called) until stop(); returns after the requests in flight have
  // finished.
  void listen();
  void stop();  // from any thread (a signal watcher): no new connections; in-flight requests finish
  int port() const;  // once bound; 0 before
  bool listening() const;
  std::string metrics_text() const;  // what GET /metrics answers

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gf::serve
