#include <cmath>
#include <cstdio>
#include <sstream>

#include "genforge/core/error.h"
#include "internal.h"

namespace gf::serve::detail {

void fail(int status, const std::string& error, const std::string& hint) { throw HttpError(status, error, hint); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response json_response(const json& j, int status) {
  Response r;
  r.status = status;
  r.body = dump(j);
  return r;
}

Response error_response(int status, const std::string& error, const std::string& hint) {
  return json_response({{"error", error}, {"hint", hint}}, status);
}

Body::Body(const std::string& text, std::initializer_list<const char*> known) {
  try {
    // Depth is bounded by the body size limit; nlohmann's parser is iterative for arrays and objects.
    doc_ = json::parse(text.empty() ? std::string("{}") : text);
  } catch (const json::parse_error& e) {
    fail(400, msg("the body is not valid JSON (byte ", e.byte, ")"), "send a JSON object, e.g. {\"n\": 10}");
  } catch (const json::exception& e) {  // e.g. a number beyond double's range
    fail(400, msg("the body cannot be read as JSON (", e.what(), ")"), "send numbers within double's range");
  }
  if (!doc_.is_object()) fail(400, msg("the body is a JSON ", doc_.type_name(), ", not an object"), "send a JSON object");
  for (auto it = doc_.begin(); it != doc_.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) {
      std::string names;
      for (const char* k : known) names += std::string(names.empty() ? "" : ", ") + k;
      fail(400, msg("unknown field '", it.key(), "'"), "this endpoint takes " + names);
    }
  }
}

int64_t Body::integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
  if (!has(key)) return fallback;
  const json& v = doc_.at(key);
  if (!v.is_number_integer() && !v.is_number_unsigned()) {
    fail(400, msg("'", key, "' must be an integer, got ", v.type_name()), msg("give an integer in [", lo, ", ", hi, "]"));
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    fail(400, msg("'", key, "' is out of range"), msg("give an integer in [", lo, ", ", hi, "]"));
  }
  const auto x = v.get<int64_t>();
  if (x < lo || x > hi) fail(400, msg("'", key, "' must be in [", lo, ", ", hi, "], got ", x), "this server's limits");
  return x;
}

double Body::number(const char* key, double fallback, double lo, double hi) const {
  if (!has(key)) return fallback;
  const json& v = doc_.at(key);
  if (!v.is_number()) fail(400, msg("'", key, "' must be a number, got ", v.type_name()), "give a number");
  const auto x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    fail(400, msg("'", key, "' must be in [", lo, ", ", hi, "], got ", x), "give a number in that range");
  }
  return x;
}

std::string Body::text(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& v = doc_.at(key);
  if (!v.is_string()) fail(400, msg("'", key, "' must be a string, got ", v.type_name()), "give a string");
  return v.get<std::string>();
}

bool Body::flag(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = doc_.at(key);
  if (!v.is_boolean()) fail(400, msg("'", key, "' must be true or false, got ", v.type_name()), "give a boolean");
  return v.get<bool>();
}

std::vector<std::string> Body::texts(const char* key, size_t max_count) const {
  if (!has(key)) return {};
  const json& v = doc_.at(key);
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array() || v.size() > max_count) {
    fail(400, msg("'", key, "' must be a string or an array of at most ", max_count, " strings"), "e.g. [\"\\n\"]");
  }
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string() || s.get<std::string>().empty()) {
      fail(400, msg("'", key, "' holds a ", s.type_name(), " that is not a non-empty string"), "e.g. [\"\\n\"]");
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

constexpr double Metrics::kBuckets[];

void Metrics::observe(const std::string& endpoint, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{endpoint, status}];
  Histogram& h = latency_[endpoint];
  for (size_t b = 0; b < std::size(kBuckets); ++b) h.counts[b] += seconds <= kBuckets[b];
  ++h.count;
  h.sum += seconds;
}

void Metrics::add_tokens(const std::string& model, int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  tokens_[model] += n;
}

void Metrics::add_decode_step(int64_t sequences) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++decode_steps_;
  decoded_rows_ += sequences;
}

std::string Metrics::text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream o;
  char number[64];
  auto num = [&](double v) {
    std::snprintf(number, sizeof number, "%.9g", v);
    return std::string(number);
  };
  o << "# HELP genforge_requests_total Requests answered, by endpoint and HTTP status.\n"
    << "# TYPE genforge_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    o << "genforge_requests_total{endpoint=\"" << key.first << "\",code=\"" << key.second << "\"} " << n << "\n";
  }
  o << "# HELP genforge_request_duration_seconds Time from a request's arrival to its answer.\n"
    << "# TYPE genforge_request_duration_seconds histogram\n";
  for (const auto& [endpoint, h] : latency_) {
    for (size_t b = 0; b < std::size(kBuckets); ++b) {
      o << "genforge_request_duration_seconds_bucket{endpoint=\"" << endpoint << "\",le=\"" << num(kBuckets[b])
        << "\"} " << h.counts[b] << "\n";
    }
    o << "genforge_request_duration_seconds_bucket{endpoint=\"" << endpoint << "\",le=\"+Inf\"} " << h.count << "\n"
      << "genforge_request_duration_seconds_sum{endpoint=\"" << endpoint << "\"} " << num(h.sum) << "\n"
      << "genforge_request_duration_seconds_count{endpoint=\"" << endpoint << "\"} " << h.count << "\n";
  }
  o << "# HELP genforge_tokens_generated_total Completion tokens generated, by model.\n"
    << "# TYPE genforge_tokens_generated_total counter\n";
  for (const auto& [model, n] : tokens_) o << "genforge_tokens_generated_total{model=\"" << model << "\"} " << n << "\n";
  o << "# HELP genforge_decode_steps_total Batched decoding steps.\n# TYPE genforge_decode_steps_total counter\n"
    << "genforge_decode_steps_total " << decode_steps_ << "\n"
    << "# HELP genforge_decoded_sequences_total Sequences advanced, summed over decoding steps (/ steps = mean batch).\n"
    << "# TYPE genforge_decoded_sequences_total counter\ngenforge_decoded_sequences_total " << decoded_rows_ << "\n"
    << "# HELP genforge_queue_depth Requests waiting for a worker or a decoding slot.\n# TYPE genforge_queue_depth gauge\n"
    << "genforge_queue_depth " << waiting.load() << "\n"
    << "# HELP genforge_requests_running Requests being computed.\n# TYPE genforge_requests_running gauge\n"
    << "genforge_requests_running " << running.load() << "\n"
    << "# HELP genforge_active_sequences Completions being decoded.\n# TYPE genforge_active_sequences gauge\n"
    << "genforge_active_sequences " << active_sequences.load() << "\n";
  return o.str();
}

Gate::Ticket::~Ticket() {
  if (!gate_) return;
  {
    std::lock_guard<std::mutex> lock(gate_->mutex_);
    --gate_->running_;
    --gate_->metrics_.running;
  }
  gate_->free_.notify_one();
}

Gate::Ticket Gate::enter(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (running_ >= workers_) {
    if (waiting_ >= max_queue_) {
      fail(429, msg("the server is busy (", waiting_, " requests waiting)"), "retry later, or start it with a larger --queue");
    }
    ++waiting_;
    ++metrics_.waiting;
    const bool got = free_.wait_until(lock, deadline, [&] { return running_ < workers_; });
    --waiting_;
    --metrics_.waiting;
    if (!got) fail(503, "the request timed out waiting for a worker", "retry later, or start the server with more --workers");
  }
  ++running_;
  ++metrics_.running;
  return Ticket(this);
}

}  // namespace gf::serve::detail
