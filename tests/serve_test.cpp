// genforge serve: every endpoint in-process and over loopback, the drift check, completions batched and streamed,
// limits, auth, a malformed-request campaign and graceful shutdown.
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "genforge/apps/drift.h"
#include "genforge/apps/impute.h"
#include "genforge/apps/serve.h"
#include "genforge/core/random.h"
#include "genforge/data/matrix.h"
#include "genforge/data/readers.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

using json = nlohmann::json;

// Rows of (x, y = 2x + 1 + noise), x shifted by `shift`.
data::Source line_table(int64_t n, uint64_t seed, double shift = 0) {
  auto gen = make_generator(seed);
  auto x = at::randn({n}, gen, torch::kFloat64) + shift;
  auto y = 2.0 * x + 1.0 + 0.2 * at::randn({n}, gen, torch::kFloat64);
  data::Source s;
  s.spec = "line";
  s.form = DataKind::table;
  s.table = table_from_matrix(torch::stack({x, y}, 1), {"x", "y"});
  return s;
}

std::string rows_json(const data::Source& s) { return table_to_records(s.table).dump(); }

// Sequences (column id) that sit at 0 for ten steps, then at 5: `n` sequences of 20 rows, x and y near the level.
data::Source level_sequences(int64_t n) {
  std::string text = "id,x,y\n";
  for (int64_t s = 0; s < n; ++s) {
    for (int t = 0; t < 20; ++t) {
      const double base = t < 10 ? 0.0 : 5.0, wiggle = 0.3 * std::sin(1.7 * static_cast<double>(s * 20 + t));
      text += "s" + std::to_string(s) + "," + std::to_string(base + wiggle) + "," + std::to_string(base - wiggle) + "\n";
    }
  }
  data::Source src;
  src.spec = "levels";
  src.form = DataKind::table;
  src.table = parse_csv(text, "levels");
  return src;
}

// The model files of these tests, written once.
struct Files {
  test::TempDir dir;
  std::string line, gpt, hmm;
  Files() {
    auto gmm = create_model("gmm", {}, {{"n_components", "2"}});
    fit_source(*gmm, line_table(600, 1), test::quiet());
    EXPECT_TRUE(apps::attach_score_profile(*gmm, line_table(600, 2), "validation data"));
    line = dir.file("line.gf");
    save_model(*gmm, line);
    gpt = dir.file("gpt.gf");
    save_model(*test::small_language_model(), gpt);
    auto levels = create_model("hmm", {}, {{"n_components", "2"}, {"sequence_column", "id"}});
    fit_source(*levels, level_sequences(20), test::quiet());
    hmm = dir.file("levels.gf");
    save_model(*levels, hmm);
  }
};
const Files& files() {
  static Files f;
  return f;
}

serve::Response post(serve::Server& s, const std::string& path, const std::string& body,
                     std::map<std::string, std::string> headers = {}) {
  return s.handle({"POST", path, body, std::move(headers)});
}

void expect_serve_error(const serve::Response& r, int status, const std::string& part) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto j = json::parse(r.body);
  EXPECT_NE(j.at("error").get<std::string>().find(part), std::string::npos) << r.body;
  EXPECT_FALSE(j.at("hint").get<std::string>().empty());
}

TEST(Serve, EndpointsAnswerWhatTheLibraryComputes) {
  serve::Server server(serve::load_served_models({files().line, files().gpt}), {});
  const auto gmm = load_model(files().line);
  auto r = server.handle({"GET", "/v1/models", "", {}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto models = json::parse(r.body).at("data");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["id"], "line");
  EXPECT_EQ(models[0]["kind"], "gmm");
  EXPECT_EQ(models[0]["endpoints"], json({"/v1/sample", "/v1/score", "/v1/anomaly", "/v1/transform", "/v1/impute"}));
  EXPECT_EQ(models[0]["score_profile"]["items"], 600);
  EXPECT_EQ(models[1]["endpoints"], json({"/v1/score", "/v1/anomaly", "/v1/completions"}));

  // Scores: the library's per-row log-likelihood, from objects or from arrays in input-column order.
  const auto rows = line_table(5, 7);
  const auto expected = apps::item_scores(*gmm, rows);
  r = post(server, "/v1/score", R"({"model": "line", "rows": )" + rows_json(rows) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto scores = json::parse(r.body).at("scores");
  ASSERT_EQ(scores.size(), 5u);
  for (int64_t i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(scores[i].get<double>(), expected[i].item<double>());
  json arrays = json::array();
  for (const auto& row : table_to_records(rows.table)) arrays.push_back({row["x"], row["y"]});
  r = post(server, "/v1/score", json{{"model", "line"}, {"rows", arrays}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_DOUBLE_EQ(json::parse(r.body)["scores"][4].get<double>(), expected[4].item<double>());

  // Transform: each row's mixture component and responsibilities, as `genforge transform` writes them.
  r = post(server, "/v1/transform", R"({"model": "line", "rows": )" + rows_json(rows) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto parts = json::parse(r.body);
  EXPECT_EQ(parts["part"], "component");
  EXPECT_EQ(parts["rows"], json::parse(table_to_records(transform_source(*gmm, rows).per_item).dump()));
  expect_serve_error(post(server, "/v1/transform", R"({"model": "gpt", "text": "the cat"})"), 400,
                     "has no parts (components, states, topics) or encoder");

  // Samples: seeded, as `genforge sample` draws them; CSV with the same rows.
  r = post(server, "/v1/sample", R"({"model": "line", "n": 3, "seed": 5})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto gen = make_generator(5);
  const auto drawn = table_to_records(samples_table(*gmm, draw_samples(*gmm, 3, "", gen)));
  EXPECT_EQ(json::parse(r.body)["rows"].dump(), drawn.dump());
  r = post(server, "/v1/sample", R"({"model": "line", "n": 3, "seed": 5, "format": "csv"})");
  EXPECT_EQ(r.content_type, "text/csv");
  EXPECT_EQ(r.body.substr(0, 4), "x,y\n");
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 4);

  // Anomalies: a far row is flagged, a typical one is not; the threshold is the profile's 5 % quantile.
  r = post(server, "/v1/anomaly", R"({"model": "line", "rows": [{"x": 0.1, "y": 1.2}, {"x": 0.1, "y": 9.0}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto a = json::parse(r.body);
  EXPECT_EQ(a["flags"], json({0, 1}));
  EXPECT_DOUBLE_EQ(a["threshold"].get<double>(), -apps::stored_profile(*gmm)->quantile(0.05));

  // Imputation: y from x along the line; observed cells unchanged.
  r = post(server, "/v1/impute", R"({"model": "line", "rows": [{"x": 1.0, "y": null}, {"x": 0.5, "y": 2.5}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto filled = json::parse(r.body);
  EXPECT_EQ(filled["missing_cells"], 1);
  EXPECT_NEAR(filled["rows"][0]["y"].get<double>(), 3.0, 0.3);
  EXPECT_DOUBLE_EQ(filled["rows"][1]["y"].get<double>(), 2.5);

  // Sequences: an HMM fills a wholly missing step from its neighbours, as `genforge impute` does.
  serve::Server seq_server(serve::load_served_models({files().hmm}), {});
  const auto hmm_models = json::parse(seq_server.handle({"GET", "/v1/models", "", {}}).body).at("data");
  EXPECT_EQ(hmm_models[0]["endpoints"].back(), "/v1/impute");
  json steps = json::array();
  for (int t = 0; t < 20; ++t) {
    const bool gap = t == 4 || t == 15;
    steps.push_back({{"id", "q"}, {"x", gap ? json() : json(t < 10 ? 0.1 : 5.1)}, {"y", gap ? json() : json(t < 10 ? -0.1 : 4.9)}});
  }
  r = post(seq_server, "/v1/impute", json{{"model", "levels"}, {"rows", steps}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  filled = json::parse(r.body);
  EXPECT_EQ(filled["missing_cells"], 4);
  EXPECT_NEAR(filled["rows"][4]["x"].get<double>(), 0.0, 1.0);
  EXPECT_NEAR(filled["rows"][15]["y"].get<double>(), 5.0, 1.0);
  data::Source request_rows;
  request_rows.spec = "rows";
  request_rows.form = DataKind::table;
  request_rows.table = table_from_records(steps, "rows");
  const auto library = apps::impute(*load_model(files().hmm), request_rows, {});
  EXPECT_EQ(filled["rows"].dump(), table_to_records(library.filled).dump());
  r = post(seq_server, "/v1/impute", json{{"model", "levels"}, {"rows", steps}, {"multiple", 2}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["draws"].size(), 2u);

  // Text is scored per line, as `genforge score` does.
  const std::string lines = "the cat sat on the mat .\ntmo.hee  sgt odac\n";
  r = post(server, "/v1/score", json{{"model", "gpt"}, {"text", lines}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  scores = json::parse(r.body)["scores"];
  ASSERT_EQ(scores.size(), 2u);
  data::Source text;
  text.form = DataKind::text;
  text.text = lines;
  const auto per_line = apps::item_scores(*load_model(files().gpt), text);
  EXPECT_DOUBLE_EQ(scores[1].get<double>(), per_line[1].item<double>());
}

// A sequence model scores each sequence of the rows (grouped by its sequence column), as `genforge score` does.
TEST(Serve, SequenceModelsScorePerSequence) {
  test::TempDir dir;
  auto gen = make_generator(3);
  const auto x = at::randn({200}, gen, torch::kFloat64) + 3.0 * (at::arange(200) / 10 % 2).to(torch::kFloat64);
  data::Source rows;
  rows.form = DataKind::table;
  rows.table = table_from_matrix(torch::stack({(at::arange(200) / 20).to(torch::kFloat64), x}, 1), {"seq", "x"});
  auto hmm = create_model("hmm", {}, {{"n_components", "2"}, {"sequence_column", "seq"}});
  fit_source(*hmm, rows, test::quiet());
  save_model(*hmm, dir.file("hmm.gf"));
  serve::Server server(serve::load_served_models({dir.file("hmm.gf")}), {});
  const std::string body = R"({"rows": [{"seq": 1, "x": 0.1}, {"seq": 1, "x": 0.3}, {"seq": 2, "x": 3.1}, {"seq": 2, "x": 2.9}]})";
  const auto r = post(server, "/v1/score", body);
  ASSERT_EQ(r.status, 200) << r.body;
  data::Source two;
  two.form = DataKind::table;
  two.table = table_from_records(nlohmann::ordered_json::parse(body)["rows"], "rows");
  const auto expected = apps::item_scores(*load_model(dir.file("hmm.gf")), two);
  const auto scores = json::parse(r.body)["scores"];
  ASSERT_EQ(scores.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) EXPECT_DOUBLE_EQ(scores[i].get<double>(), expected[i].item<double>());
}

TEST(Serve, BadRequestsGetAStatusAndAHint) {
  serve::ServeOptions o;
  o.max_items = 50;
  o.max_body_bytes = 4096;
  serve::Server server(serve::load_served_models({files().line, files().gpt}), o);
  expect_serve_error(post(server, "/v1/score", R"({"rows": [{"x": 1, "y": 2}]})"), 400, "several models");
  expect_serve_error(post(server, "/v1/score", R"({"model": "nope", "rows": []})"), 404, "no model named 'nope'");
  expect_serve_error(post(server, "/v1/score", R"({"model": "line", "rowz": 1})"), 400, "unknown field 'rowz'");
  expect_serve_error(post(server, "/v1/score", R"({"model": "line", "rows": [{"x": 1, "y)"), 400, "not valid JSON");
  expect_serve_error(post(server, "/v1/score", R"([1, 2])"), 400, "not an object");
  expect_serve_error(post(server, "/v1/score", R"({"model": "line", "rows": []})"), 400, "non-empty array");
  expect_serve_error(post(server, "/v1/score", R"({"model": "line", "rows": [[1, 2, 3]]})"), 400, "inputs are 2");
  expect_serve_error(post(server, "/v1/score", R"({"model": "line", "rows": [{"x": "a", "y": 2}]})"), 400, "");
  expect_serve_error(post(server, "/v1/sample", R"({"model": "line", "n": -3})"), 400, "'n' must be in [1, 50]");
  expect_serve_error(post(server, "/v1/sample", R"({"model": "line", "n": 1e300})"), 400, "'n' must be an integer");
  expect_serve_error(post(server, "/v1/sample", R"({"model": "line", "n": 99999999999999999999999})"), 400, "'n'");
  expect_serve_error(post(server, "/v1/sample", R"({"model": "line", "n": "5"})"), 400, "'n' must be an integer");
  expect_serve_error(post(server, "/v1/sample", R"({"model": "line", "format": "png"})"), 400, "png is for image models");
  expect_serve_error(post(server, "/v1/sample", R"({"model": "gpt"})"), 400, "");
  expect_serve_error(post(server, "/v1/impute", R"({"model": "gpt", "text": "a"})"), 400, "");
  expect_serve_error(post(server, "/v1/completions", R"({"model": "line", "prompt": "a"})"), 400, "does not generate text");
  expect_serve_error(post(server, "/v1/completions", R"({"model": "gpt", "max_tokens": 100000})"), 400, "'max_tokens'");
  expect_serve_error(post(server, "/v1/completions", R"({"model": "gpt", "n": 2})"), 400, "'n'");
  expect_serve_error(post(server, "/v1/completions", R"({"model": "gpt", "temperature": -1})"), 400, "'temperature'");
  expect_serve_error(post(server, "/v1/completions", R"({"model": "gpt", "prompt": "\u00e9\u4e2d"})"), 400, "");
  expect_serve_error(post(server, "/v1/score", "{\"model\": \"gpt\", \"text\": \"\xff\xfe\"}"), 400, "not valid JSON");
  expect_serve_error(post(server, "/v1/score", std::string(5000, ' ')), 413, "more than the 4096 allowed");
  expect_serve_error(server.handle({"GET", "/v1/score", "", {}}), 405, "GET /v1/score");
  expect_serve_error(server.handle({"GET", "/etc/passwd", "", {}}), 404, "no endpoint /etc/passwd");
  EXPECT_EQ(server.handle({"GET", "/healthz", "", {}}).status, 200);
  // Every failure was counted, under a bounded set of endpoint labels.
  const std::string metrics = server.metrics_text();
  EXPECT_NE(metrics.find("genforge_requests_total{endpoint=\"/v1/score\",code=\"400\"}"), std::string::npos);
  EXPECT_NE(metrics.find("genforge_requests_total{endpoint=\"other\",code=\"404\"} 1"), std::string::npos);
  EXPECT_EQ(metrics.find("passwd"), std::string::npos);
}

TEST(Serve, BearerTokenGuardsEverythingButHealth) {
  serve::ServeOptions o;
  o.token = "s3cret-token";
  serve::Server server(serve::load_served_models({files().line}), o);
  expect_serve_error(server.handle({"GET", "/v1/models", "", {}}), 401, "bearer token");
  expect_serve_error(server.handle({"GET", "/metrics", "", {{"authorization", "Bearer wrong"}}}), 401, "bearer token");
  EXPECT_EQ(server.handle({"GET", "/v1/models", "", {{"authorization", "Bearer s3cret-token"}}}).status, 200);
  EXPECT_EQ(server.handle({"GET", "/healthz", "", {}}).status, 200);
}

TEST(Serve, DriftFiresOnShiftedDataAndStaysQuietOnHeldOutData) {
  serve::ServeOptions o;
  o.drift_window = 300;
  serve::Server quiet(serve::load_served_models({files().line}), o);
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(post(quiet, "/v1/score", R"({"rows": )" + rows_json(line_table(100, 10 + k)) + "}").status, 200);
  }
  auto drift = json::parse(quiet.handle({"GET", "/v1/models", "", {}}).body)["data"][0]["drift"];
  EXPECT_EQ(drift["items"], 300);
  EXPECT_FALSE(drift["drift"].get<bool>()) << drift.dump();
  EXPECT_GT(drift["p_value"].get<double>(), 0.01);
  EXPECT_NE(quiet.metrics_text().find("genforge_drift_alert{model=\"line\"} 0"), std::string::npos);

  serve::Server shifted(serve::load_served_models({files().line}), o);
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(post(shifted, "/v1/score", R"({"rows": )" + rows_json(line_table(100, 20 + k, 1.5)) + "}").status, 200);
  }
  drift = json::parse(shifted.handle({"GET", "/v1/models", "", {}}).body)["data"][0]["drift"];
  EXPECT_TRUE(drift["drift"].get<bool>()) << drift.dump();
  EXPECT_LT(drift["p_value"].get<double>(), 1e-3);
  EXPECT_NE(shifted.metrics_text().find("genforge_drift_alert{model=\"line\"} 1"), std::string::npos);
}

TEST(Drift, KsStatisticIsTheTwoSampleStatisticWithinTheQuantileGrid) {
  // The reference: 2000 standard normal draws summarised by 201 quantiles; new data: 300 draws shifted by 0.3. The
  // statistic is within the quantile grid's resolution (0.005) of the exact two-sample statistic.
  auto gen = make_generator(3);
  const auto ref = at::randn({2000}, gen, torch::kFloat64);
  const auto now = at::randn({300}, gen, torch::kFloat64) + 0.3;
  const auto profile = apps::profile_scores(ref, "reference");
  const auto r = apps::drift_test(profile, now, {});
  // The exact two-sample statistic, computed here from both samples.
  auto all = std::get<0>(torch::cat({ref, now}).sort());
  double exact = 0;
  for (int64_t i = 0; i < all.numel(); ++i) {
    const double v = all[i].item<double>();
    const double fa = (ref <= v).sum().item<double>() / 2000.0, fb = (now <= v).sum().item<double>() / 300.0;
    exact = std::max(exact, std::fabs(fa - fb));
  }
  EXPECT_NEAR(r.ks_statistic, exact, 0.006);
  EXPECT_TRUE(r.drift);
  EXPECT_NEAR(r.shift_sd, 0.3, 0.15);
  // Same distribution: no drift, and a p-value far from the alpha.
  const auto same = apps::drift_test(profile, at::randn({300}, gen, torch::kFloat64), {});
  EXPECT_FALSE(same.drift);
  EXPECT_GT(same.p_value, 0.01);
  // Too few items: no verdict.
  EXPECT_FALSE(apps::drift_test(profile, now.slice(0, 0, 10), {}).enough);
}

TEST(Serve, CompletionsAreTheSameStreamedBatchedOrAlone) {
  serve::Server server(serve::load_served_models({files().gpt}), {});
  const auto lm = load_model(files().gpt);
  const std::string request = R"({"prompt": "the ", "max_tokens": 24, "seed": 11, "temperature": 0.9})";
  auto r = post(server, "/v1/completions", request);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto alone = json::parse(r.body);
  const std::string text = alone["choices"][0]["text"];
  EXPECT_EQ(alone["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(alone["usage"]["completion_tokens"], 24);
  EXPECT_EQ(alone["usage"]["prompt_tokens"], 4);
  // `genforge generate` with the same seed.
  GenerateOptions g;
  g.max_tokens = 24;
  g.temperature = 0.9;
  auto gen = make_generator(11);
  EXPECT_EQ(generate_text(*lm, "the ", g, {}, gen).text, "the " + text);
  // Streamed: the events' texts join to the same completion, then [DONE].
  const std::string streamed_request = R"({"prompt": "the ", "max_tokens": 24, "seed": 11, "temperature": 0.9, "stream": true})";
  r = post(server, "/v1/completions", streamed_request);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  std::string joined, finish;
  size_t at = 0;
  while ((at = r.body.find("data: ", at)) != std::string::npos) {
    const size_t end = r.body.find("\n\n", at);
    const std::string payload = r.body.substr(at + 6, end - at - 6);
    at = end;
    if (payload == "[DONE]") break;
    const auto event = json::parse(payload);
    joined += event["choices"][0]["text"].get<std::string>();
    if (!event["choices"][0]["finish_reason"].is_null()) finish = event["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(finish, "length");
  EXPECT_NE(r.body.find("data: [DONE]\n\n"), std::string::npos);
  // Eight at once, with different seeds and lengths, share decoding steps; each gets what it gets alone.
  std::vector<std::future<serve::Response>> many;
  for (int k = 0; k < 8; ++k) {
    const std::string body = k == 3 ? request
                                    : json{{"prompt", k % 2 ? "the dog" : ""}, {"max_tokens", 10 + 3 * k}, {"seed", k}}.dump();
    many.push_back(std::async(std::launch::async, [&server, body] { return post(server, "/v1/completions", body); }));
  }
  for (int k = 0; k < 8; ++k) {
    const auto got = many[static_cast<size_t>(k)].get();
    ASSERT_EQ(got.status, 200) << got.body;
    const std::string body = k == 3 ? request
                                    : json{{"prompt", k % 2 ? "the dog" : ""}, {"max_tokens", 10 + 3 * k}, {"seed", k}}.dump();
    EXPECT_EQ(json::parse(got.body)["choices"][0]["text"], json::parse(post(server, "/v1/completions", body).body)["choices"][0]["text"]);
  }
  // A stop text ends the completion and is left out of it; the cut is a prefix of the full text.
  const auto cut = text.find(' ', 1);
  ASSERT_NE(cut, std::string::npos);
  const std::string stop = text.substr(cut, 2);
  r = post(server, "/v1/completions",
           json{{"prompt", "the "}, {"max_tokens", 24}, {"seed", 11}, {"temperature", 0.9}, {"stop", {stop}}}.dump());
  const auto stopped = json::parse(r.body)["choices"][0];
  EXPECT_EQ(stopped["finish_reason"], "stop");
  EXPECT_EQ(stopped["text"], text.substr(0, text.find(stop)));
  const auto metrics = server.metrics_text();
  EXPECT_NE(metrics.find("genforge_tokens_generated_total{model=\"gpt\"}"), std::string::npos);
}

// Over loopback: a real listener, the malformed-request campaign, slow clients, shutdown with requests in flight.
TEST(Serve, LoopbackSurvivesMalformedRequestsAndStopsGracefully) {
  serve::ServeOptions o;
  o.port = 0;
  o.io_timeout_s = 1;
  o.max_body_bytes = 1 << 20;
  serve::Server server(serve::load_served_models({files().line, files().gpt}), o);
  const int port = server.bind();
  std::thread listener([&] { server.listen(); });
  while (!server.listening()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  auto health = [&] {
    auto h = client.Get("/healthz");
    return h && h->status == 200;
  };
  ASSERT_TRUE(health());
  auto r = client.Post("/v1/score", R"({"model": "line", "rows": [{"x": 0, "y": 1}]})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // Truncated JSON, huge numbers, negative n, garbage bytes, a 100 MB body, a wrong method.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/v1/score", R"({"model": "line", "rows": [{"x": 0,)"},
      {"/v1/sample", R"({"model": "line", "n": 1e999})"},
      {"/v1/sample", R"({"model": "line", "n": -1})"},
      {"/v1/completions", std::string("{\"model\": \"gpt\", \"prompt\": \"\x80\xc3\x28\xf0\"}")},
      {"/v1/score", std::string("\x00\x01\x02{", 4)},
      {"/v1/score", "{\"model\": \"line\", \"rows\": [" + std::string(200000, '[')}};
  for (const auto& [path, body] : bad) {
    auto b = client.Post(path.c_str(), body, "application/json");
    ASSERT_TRUE(b) << path;
    EXPECT_GE(b->status, 400) << path << " " << body.substr(0, 40);
    EXPECT_LT(b->status, 500) << b->body;
  }
  {
    httplib::Client big("127.0.0.1", port);
    auto b = big.Post("/v1/score", std::string(100u << 20, 'x'), "application/json");
    EXPECT_TRUE(!b || b->status == 413);  // refused, or dropped mid-upload
  }
  // A slow client: half a request line, then silence past the I/O timeout; the server drops it.
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_GT(write(sock, "POST /v1/sco", 12), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  char byte;
  EXPECT_LE(read(sock, &byte, 1), 0);  // closed by the server
  close(sock);
  EXPECT_TRUE(health());
  // A server-sent event stream over the wire.
  std::string events;
  httplib::Headers headers;
  auto s = client.Post("/v1/completions", headers, R"({"model": "gpt", "max_tokens": 8, "stream": true})",
                       "application/json");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_NE(s->body.find("data: [DONE]"), std::string::npos);
  // Shutdown with a long completion in flight: it still gets its whole answer.
  auto in_flight = std::async(std::launch::async, [port] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c.Post("/v1/completions", R"({"model": "gpt", "max_tokens": 400, "seed": 1})", "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.stop();
  listener.join();
  auto done = in_flight.get();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(json::parse(done->body)["usage"]["completion_tokens"], 400);
  EXPECT_FALSE(httplib::Client("127.0.0.1", port).Get("/healthz"));  // no longer listening
}

}  // namespace
}  // namespace gf
