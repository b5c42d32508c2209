// The server: routing, authentication, limits and errors as HTTP statuses, cpp-httplib's listener. A request is
// the one place besides the command line's main() where errors are caught: each becomes its answer, never a crash.
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <set>

#include "genforge/core/error.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "internal.h"

namespace gf::serve {
namespace {

// Every endpoint, once: the GET ones the server answers itself, the POST ones by their function.
using Endpoint = Response (*)(detail::Context&, const Request&);
const char* const kGetPaths[] = {"/healthz", "/metrics", "/v1/models"};
const std::pair<const char*, Endpoint> kPostEndpoints[] = {
    {"/v1/sample", detail::sample},   {"/v1/score", detail::score},     {"/v1/anomaly", detail::anomaly},
    {"/v1/transform", detail::transform}, {"/v1/impute", detail::impute}, {"/v1/completions", detail::completions}};

const std::vector<std::string>& all_paths() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> out(std::begin(kGetPaths), std::end(kGetPaths));
    for (const auto& [path, endpoint] : kPostEndpoints) out.emplace_back(path);
    return out;
  }();
  return paths;
}

}  // namespace

void ServeOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, port >= 0 && port <= 65535, "give a port 1..65535 (0: any free one)",
              "--port must be in 0..65535, got ", port);
  GF_CHECK_AS(InvalidArgument, http_threads >= 2 && http_threads <= 4096, "give 2..4096",
              "--http-threads must be in 2..4096, got ", http_threads);
  GF_CHECK_AS(InvalidArgument, workers >= 1 && workers <= 256, "give 1..256", "--workers must be in 1..256, got ", workers);
  GF_CHECK_AS(InvalidArgument, max_queue >= 0, "give 0 or more", "--queue must be >= 0, got ", max_queue);
  GF_CHECK_AS(InvalidArgument, max_batch >= 1, "give 1 or more", "--max-batch must be >= 1, got ", max_batch);
  GF_CHECK_AS(InvalidArgument, max_body_bytes >= 1024, "give at least 1024", "--max-body must be >= 1024 bytes, got ",
              max_body_bytes);
  GF_CHECK_AS(InvalidArgument, max_items >= 1 && max_tokens >= 1, "give 1 or more",
              "--max-items and --max-tokens must be >= 1, got ", max_items, " and ", max_tokens);
  GF_CHECK_AS(InvalidArgument, request_timeout_s > 0 && io_timeout_s > 0, "give a positive number of seconds",
              "timeouts must be positive, got ", request_timeout_s, " and ", io_timeout_s);
  GF_CHECK_AS(InvalidArgument, drift_window >= drift.min_items, "give a window of at least the minimum items",
              "--drift-window (", drift_window, ") must be >= the drift check's min_items (", drift.min_items, ")");
  drift.validate();
}

std::vector<ServedModel> load_served_models(const std::vector<std::string>& paths) {
  GF_CHECK_AS(InvalidArgument, !paths.empty(), "give one or more model files", "no model to serve");
  std::vector<ServedModel> out;
  std::set<std::string> names;
  for (const auto& path : paths) {
    ServedModel m;
    m.path = path;
    m.name = std::filesystem::path(path).stem().string();
    GF_CHECK_AS(InvalidArgument, names.insert(m.name).second, "rename one of the files",
                "two model files are named '", m.name, "'");
    m.model = load_model(path);
    out.push_back(std::move(m));
  }
  return out;
}

using detail::Clock;

struct Server::Impl {
  ServeOptions options;
  std::vector<std::unique_ptr<detail::Entry>> models;
  detail::Metrics metrics;
  detail::Gate gate;
  detail::Context ctx;
  httplib::Server http;
  std::atomic<int> bound_port{0};

  Impl(std::vector<ServedModel> served, ServeOptions o)
      : options(std::move(o)), gate(options.workers, options.max_queue, metrics), ctx{options, models, metrics, gate} {
    options.validate();
    for (auto& s : served) {
      auto e = std::make_unique<detail::Entry>();
      e->served = std::move(s);
      const Model& model = *e->served.model;
      if (auto profile = apps::stored_profile(model)) {
        e->drift = std::make_unique<apps::DriftMonitor>(*profile, options.drift_window, options.drift);
      }
      const auto* generator = dynamic_cast<const TextGenerator*>(&model);
      const Tokenizer* tokenizer = model.pipeline() ? model.pipeline()->tokenizer() : nullptr;
      if (generator && tokenizer) {
        e->batcher = std::make_unique<detail::Batcher>(*generator, *tokenizer, e->served.name, options, metrics);
      }
      models.push_back(std::move(e));
    }
  }

  std::string drift_metrics() const {
    std::ostringstream o;
    o << "# HELP genforge_drift_ks_statistic KS distance of the rolling window of scores from the training scores.\n"
      << "# TYPE genforge_drift_ks_statistic gauge\n";
    std::ostringstream p, shift, alert, items, mean, reference_mean;
    for (const auto& e : models) {
      if (!e->drift) continue;
      const auto r = e->drift->report();
      const std::string label = "{model=\"" + e->served.name + "\"}";
      o << "genforge_drift_ks_statistic" << label << " " << r.ks_statistic << "\n";
      p << "genforge_drift_p_value" << label << " " << r.p_value << "\n";
      shift << "genforge_drift_mean_shift_sd" << label << " " << r.shift_sd << "\n";
      mean << "genforge_drift_window_mean_score" << label << " " << r.mean << "\n";
      reference_mean << "genforge_drift_reference_mean_score" << label << " " << r.reference_mean << "\n";
      alert << "genforge_drift_alert" << label << " " << (r.drift ? 1 : 0) << "\n";
      items << "genforge_scored_items_total" << label << " " << e->drift->total_items() << "\n";
    }
    o << "# HELP genforge_drift_p_value KS test p-value of the rolling window against the training scores.\n"
      << "# TYPE genforge_drift_p_value gauge\n" << p.str()
      << "# HELP genforge_drift_mean_shift_sd Window mean score minus the training mean, in training sds.\n"
      << "# TYPE genforge_drift_mean_shift_sd gauge\n" << shift.str()
      << "# HELP genforge_drift_window_mean_score Mean score of the rolling window.\n"
      << "# TYPE genforge_drift_window_mean_score gauge\n" << mean.str()
      << "# HELP genforge_drift_reference_mean_score Mean score of the training score profile.\n"
      << "# TYPE genforge_drift_reference_mean_score gauge\n" << reference_mean.str()
      << "# HELP genforge_drift_alert 1 while the window's p-value is below the alpha.\n"
      << "# TYPE genforge_drift_alert gauge\n" << alert.str()
      << "# HELP genforge_scored_items_total Items scored (score and anomaly requests).\n"
      << "# TYPE genforge_scored_items_total counter\n" << items.str();
    return o.str();
  }

  Response route(const Request& request) {
    const std::string& path = request.path;
    if (path == "/healthz") {
      if (request.method != "GET") detail::fail(405, "GET /healthz", "use GET");
      return detail::json_response({{"status", "ok"}, {"models", models.size()}});
    }
    if (!options.token.empty()) {
      auto it = request.headers.find("authorization");
      if (it == request.headers.end() || it->second != "Bearer " + options.token) {
        detail::fail(401, "missing or wrong bearer token", "send the header 'Authorization: Bearer TOKEN'");
      }
    }
    if (path == "/metrics" || path == "/v1/models") {
      if (request.method != "GET") detail::fail(405, "GET " + path, "use GET");
      if (path == "/v1/models") return detail::list_models(ctx);
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics.text() + drift_metrics();
      return r;
    }
    std::string posts;
    for (const auto& [name, endpoint] : kPostEndpoints) {
      posts += std::string(" ") + name;
      if (path != name) continue;
      if (request.method != "POST") detail::fail(405, msg(request.method, " ", path), "use POST with a JSON body");
      return endpoint(ctx, request);
    }
    detail::fail(404, "no endpoint " + path, "the endpoints: GET /v1/models /healthz /metrics; POST" + posts);
  }

  // route() with every failure turned into its answer, and the request counted.
  Response dispatch(const Request& request) {
    const auto start = Clock::now();
    Response r;
    try {
      if (static_cast<int64_t>(request.body.size()) > options.max_body_bytes) {
        detail::fail(413, msg("the body is ", request.body.size(), " bytes, more than the ", options.max_body_bytes,
                              " allowed"),
                     "split the request (the server's --max-body)");
      }
      r = route(request);
    } catch (const detail::HttpError& e) {
      r = detail::error_response(e.status, e.what(), e.hint);
    } catch (const InternalError& e) {
      r = detail::error_response(500, e.what(), e.hint());
    } catch (const Error& e) {  // the request's data or settings: the client's to fix
      r = detail::error_response(400, e.what(), e.hint());
    } catch (const std::exception& e) {
      r = detail::error_response(500, std::string("internal: ") + e.what(), "this is a genforge bug; please report it");
    }
    const std::string endpoint = known_endpoint(request.path);
    auto observe = [this, start, endpoint](int status) {
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      metrics.observe(endpoint, status, seconds);
      if (status >= 500) std::cerr << "error: " << endpoint << " answered " << status << "\n";
    };
    if (options.log_requests) std::cerr << request.method << " " << request.path << " " << r.status << "\n";
    if (r.stream) {  // counted when the stream ends
      auto inner = std::move(r.stream);
      r.stream = [inner, observe](const std::function<bool(const std::string&)>& sink) {
        inner(sink);
        observe(200);
      };
    } else {
      observe(r.status);
    }
    return r;
  }

  static std::string known_endpoint(const std::string& path) {
    for (const auto& p : all_paths()) {
      if (path == p) return p;
    }
    return "other";  // a bounded label set, whatever paths clients try
  }

  void answer(const httplib::Request& in, httplib::Response& out) {
    Request request;
    request.method = in.method;
    request.path = in.path;
    request.body = in.body;
    for (const auto& [key, value] : in.headers) {
      std::string k = key;
      std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers.emplace(k, value);
    }
    Response r = dispatch(request);
    out.status = r.status;
    if (r.status == 401) out.set_header("WWW-Authenticate", "Bearer");
    if (!r.stream) {
      out.set_content(r.body, r.content_type);
      return;
    }
    out.set_header("Cache-Control", "no-cache");
    auto stream = std::move(r.stream);
    out.set_chunked_content_provider(r.content_type, [stream](size_t, httplib::DataSink& sink) {
      stream([&](const std::string& data) { return sink.write(data.data(), data.size()); });
      sink.done();
      return true;
    });
  }

  void configure() {
    const size_t threads = static_cast<size_t>(options.http_threads);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
    const auto io = std::chrono::duration<double>(options.io_timeout_s);
    http.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(io));
    http.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(io));
    http.set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, options.io_timeout_s)));
    http.set_tcp_nodelay(true);
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a second server bind a port in use.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
    });
    auto handler = [this](const httplib::Request& in, httplib::Response& out) { answer(in, out); };
    for (const auto& p : all_paths()) {
      http.Get(p, handler);
      http.Post(p, handler);
    }
    // What httplib answers itself (unknown paths and methods, oversized bodies): the same JSON errors.
    http.set_error_handler([this](const httplib::Request& in, httplib::Response& out) {
      if (!out.body.empty()) return;
      std::string error = msg("HTTP ", out.status);
      std::string hint = "see GET /v1/models for what this server answers";
      if (out.status == 404) error = "no endpoint " + in.path;
      if (out.status == 413) {
        error = msg("the body is larger than the ", options.max_body_bytes, " bytes allowed");
        hint = "split the request (the server's --max-body)";
      }
      out.set_content(detail::dump({{"error", error}, {"hint", hint}}), "application/json");
      metrics.observe("other", out.status, 0);
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& out, std::exception_ptr) {
      out.status = 500;
      out.set_content(detail::dump({{"error", "internal error"}, {"hint", "this is a genforge bug; please report it"}}),
                      "application/json");
    });
  }
};

Server::Server(std::vector<ServedModel> models, ServeOptions options)
    : impl_(std::make_unique<Impl>(std::move(models), std::move(options))) {
  impl_->configure();
}

Server::~Server() {
  stop();
  for (auto& e : impl_->models) {
    if (e->batcher) e->batcher->shutdown();
  }
}

Response Server::handle(const Request& request) {
  Response r = impl_->dispatch(request);
  if (r.stream) {
    std::string body;
    r.stream([&](const std::string& data) {
      body += data;
      return true;
    });
    r.body = std::move(body);
    r.stream = nullptr;
  }
  return r;
}

int Server::bind() {
  Impl& m = *impl_;
  if (m.bound_port > 0) return m.bound_port;
  int port = m.options.port;
  if (port == 0) {
    port = m.http.bind_to_any_port(m.options.host);
    GF_CHECK_AS(InvalidArgument, port > 0, "check --host", "cannot listen on ", m.options.host);
  } else {
    GF_CHECK_AS(InvalidArgument, m.http.bind_to_port(m.options.host, port), "choose another --port, or stop what uses it",
                "cannot listen on ", m.options.host, ":", port, " (in use, or not an address of this machine)");
  }
  m.bound_port = port;
  return port;
}

void Server::listen() {
  bind();
  impl_->http.listen_after_bind();  // returns after stop(), once the requests in flight are answered
}

void Server::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
}

int Server::port() const { return impl_->bound_port; }
bool Server::listening() const { return impl_->http.is_running(); }
std::string Server::metrics_text() const { return impl_->metrics.text() + impl_->drift_metrics(); }

}  // namespace gf::serve
