// Internal to src/apps/serve/: errors as HTTP statuses, strict JSON bodies, metrics, the worker gate and the
// continuous-batching decoder of completions.
#pragma once
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "genforge/apps/serve.h"
#include "genforge/data/tokenizers.h"
#include "genforge/model_interfaces.h"

namespace gf::serve::detail {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

// When a request arriving now must have started computing.
inline Clock::time_point deadline_of(const ServeOptions& options) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.request_timeout_s));
}

// A request the server refuses: the status and the {"error", "hint"} body.
struct HttpError : std::runtime_error {
  HttpError(int status, const std::string& error, std::string hint)
      : std::runtime_error(error), status(status), hint(std::move(hint)) {}
  int status;
  std::string hint;
};
[[noreturn]] void fail(int status, const std::string& error, const std::string& hint);
// JSON text; invalid UTF-8 in strings (a model's partial character) is replaced, never an exception.
std::string dump(const json& j);
Response json_response(const json& j, int status = 200);
Response error_response(int status, const std::string& error, const std::string& hint);

// A request body: a JSON object whose keys are all in `known` (else 400 naming the key and listing the known
// ones); typed getters answer 400 for a wrong type or a value out of range.
class Body {
 public:
  Body(const std::string& text, std::initializer_list<const char*> known);
  bool has(const char* key) const { return doc_.contains(key) && !doc_.at(key).is_null(); }
  const json& at(const char* key) const { return doc_.at(key); }
  int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const;
  double number(const char* key, double fallback, double lo, double hi) const;
  std::string text(const char* key, const std::string& fallback) const;
  bool flag(const char* key, bool fallback) const;
  // A string or an array of strings (OpenAI's "stop").
  std::vector<std::string> texts(const char* key, size_t max_count) const;

 private:
  json doc_;
};

// Prometheus metrics of the server.
class Metrics {
 public:
  void observe(const std::string& endpoint, int status, double seconds);
  void add_tokens(const std::string& model, int64_t n);
  void add_decode_step(int64_t sequences);
  std::atomic<int64_t> waiting{0}, running{0}, active_sequences{0};
  std::string text() const;  // counters, histograms and gauges above (drift gauges are added by the server)

 private:
  static constexpr double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  struct Histogram {
    std::vector<int64_t> counts = std::vector<int64_t>(std::size(kBuckets), 0);
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, int64_t> tokens_;
  int64_t decode_steps_ = 0, decoded_rows_ = 0;
};

// At most `workers` requests compute at once; at most `max_queue` wait for them.
class Gate {
 public:
  Gate(int64_t workers, int64_t max_queue, Metrics& metrics) : workers_(workers), max_queue_(max_queue), metrics_(metrics) {}
  class Ticket {
   public:
    explicit Ticket(Gate* gate) : gate_(gate) {}
    Ticket(Ticket&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Ticket(const Ticket&) = delete;
    ~Ticket();

   private:
    Gate* gate_;
  };
  // 429 when max_queue requests are waiting already; 503 when no worker is free by `deadline`.
  Ticket enter(Clock::time_point deadline);

 private:
  int64_t workers_, max_queue_, running_ = 0, waiting_ = 0;
  Metrics& metrics_;
  std::mutex mutex_;
  std::condition_variable free_;
};

// One completion request's decoding, shared by its HTTP thread and the batcher.
struct Completion {
  // Set by the endpoint.
  std::vector<int64_t> prompt;  // token ids (empty: the start token)
  GenerateOptions options;
  std::vector<std::string> stops;  // text that ends the completion (left out of it)
  uint64_t seed = 0;
  Clock::time_point deadline;
  // Progress, under `mutex`.
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int64_t> generated;
  std::string text;    // the completion so far (cut at a stop)
  size_t stable = 0;   // bytes of `text` that can be sent: no partial stop text or UTF-8 character after them
  bool done = false, cancelled = false;
  std::string finish_reason;  // "stop" | "length"
  int error_status = 0;       // non-zero: failed with this status and `error`
  std::string error;
};

// Decodes the completions of one text model: concurrent requests share each step of its BatchDecoder; models
// without one generate a request at a time.
class Batcher {
 public:
  Batcher(const TextGenerator& generator, const Tokenizer& tokenizer, std::string model_name,
          const ServeOptions& options, Metrics& metrics);
  ~Batcher();
  void submit(const std::shared_ptr<Completion>& job);  // 429 when max_queue are waiting
  void shutdown();  // finishes what is running and waiting, then stops

 private:
  void loop();
  void run_one(const std::shared_ptr<Completion>& job);        // without a decoder
  bool advance(Completion& job, int64_t token);                 // true when the completion is finished
  void finish(Completion& job, const std::string& reason);
  const TextGenerator& generator_;
  const Tokenizer& tokenizer_;
  std::string name_;
  const ServeOptions& options_;
  Metrics& metrics_;
  std::unique_ptr<BatchDecoder> decoder_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::shared_ptr<Completion>> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

// A served model with its monitors.
struct Entry {
  ServedModel served;
  std::unique_ptr<apps::DriftMonitor> drift;  // when the model file holds a score profile
  bool drift_alert = false;                   // the last report's verdict (warnings are logged on changes)
  std::unique_ptr<Batcher> batcher;           // text models
  std::mutex alert_mutex;
};

struct Context {
  const ServeOptions& options;
  std::vector<std::unique_ptr<Entry>>& models;
  Metrics& metrics;
  Gate& gate;
};

// The endpoints (endpoints.cpp, completions.cpp).
Response list_models(Context& ctx);
Response sample(Context& ctx, const Request& request);
Response score(Context& ctx, const Request& request);
Response anomaly(Context& ctx, const Request& request);
Response transform(Context& ctx, const Request& request);
Response impute(Context& ctx, const Request& request);
Response completions(Context& ctx, const Request& request);
// The model a request names ("model"; may be left out when one model is served): 404 for an unknown name.
Entry& find_model(Context& ctx, const Body& body);
// Feeds scores to the model's drift monitor; logs a warning when the verdict changes.
void record_scores(Entry& entry, const torch::Tensor& scores);
json drift_json(const Entry& entry);

}  // namespace gf::serve::detail
