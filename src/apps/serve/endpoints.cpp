// GET /v1/models, POST /v1/sample, /v1/score, /v1/anomaly, /v1/impute: request JSON -> data::Source -> the library
// calls every verb makes -> JSON.
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>

#include "genforge/apps/anomaly.h"
#include "genforge/apps/impute.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/data/readers.h"
#include "genforge/data/text.h"
#include "genforge/io/bytes.h"
#include "genforge/workflow.h"
#include "internal.h"

namespace gf::serve::detail {
namespace {

const char* kInputHint =
    "send {\"rows\": [{column: value, ...}, ...]} for table models, {\"images\": [base64 PNG or pixel arrays]} for "
    "image models, {\"text\": \"...\"} for language models, {\"documents\": [\"words ...\", ...]} for topic models";

// One image from a request: a base64 PNG string or nested arrays of 0..255 ([H][W] or [C][H][W]). [C, H, W] uint8
torch::Tensor request_image(const json& item, size_t index) {
  const std::string what = msg("images[", index, "]");
  if (item.is_string()) {
    std::string bytes;
    if (!base64_decode(item.get<std::string>(), bytes)) fail(400, what + " is not base64", "send base64 PNG bytes");
    return decode_png(bytes, what, 4096 * 4096);
  }
  // Nested arrays: walk down the first elements for the shape, then read every value checking the shape.
  std::vector<int64_t> shape;
  for (const json* j = &item; j->is_array(); j = &j->front()) {
    if (j->empty() || shape.size() > 3) fail(400, what + " is not an image", "an image is [H][W] or [C][H][W] numbers");
    shape.push_back(static_cast<int64_t>(j->size()));
  }
  if (shape.size() < 2 || shape.size() > 3 || shape[0] * shape[1] * (shape.size() == 3 ? shape[2] : 1) > (1 << 24)) {
    fail(400, what + " is not an image of [H][W] or [C][H][W] numbers", "send pixel values 0..255");
  }
  std::vector<uint8_t> values;
  std::function<void(const json&, size_t)> walk = [&](const json& j, size_t depth) {
    if (depth == shape.size()) {
      if (!j.is_number() || j.get<double>() < 0 || j.get<double>() > 255 || j.get<double>() != std::floor(j.get<double>())) {
        fail(400, what + " holds a value that is not an integer 0..255", "send 8-bit pixel values");
      }
      values.push_back(static_cast<uint8_t>(j.get<int>()));
      return;
    }
    if (!j.is_array() || static_cast<int64_t>(j.size()) != shape[depth]) {
      fail(400, what + " is ragged (rows of different lengths)", "every row of an image has the same length");
    }
    for (const auto& e : j) walk(e, depth + 1);
  };
  walk(item, 0);
  auto t = torch::tensor(values, torch::kUInt8).reshape(shape);
  return shape.size() == 2 ? t.unsqueeze(0) : t;
}

size_t checked_count(const json& array, const char* key, const ServeOptions& options) {
  if (!array.is_array() || array.empty()) fail(400, msg("'", key, "' must be a non-empty array"), kInputHint);
  if (static_cast<int64_t>(array.size()) > options.max_items) {
    fail(400, msg("'", key, "' holds ", array.size(), " items, more than the ", options.max_items, " allowed"),
         "split the request (the server's --max-items)");
  }
  return array.size();
}

// The request's data for the model, as data::load_source would read it from a file.
data::Source request_source(const Model& model, const Body& body, const ServeOptions& options) {
  data::Source s;
  s.spec = "the request";
  const DataKind kind = model.capabilities().data_kind;
  switch (kind) {
    case DataKind::table:
    case DataKind::sequences: {
      if (!body.has("rows")) fail(400, "the request has no 'rows'", kInputHint);
      const json& rows = body.at("rows");
      checked_count(rows, "rows", options);
      s.form = DataKind::table;
      if (rows.front().is_array()) {  // arrays of values in the order of the model's input columns
        const auto names = pipeline_of(model).input_columns();
        json records = json::array();
        for (const auto& r : rows) {
          if (!r.is_array() || r.size() != names.size()) {
            fail(400, msg("a row holds ", r.is_array() ? r.size() : 0, " values; the model's inputs are ", names.size()),
                 "send one value per input column, or objects naming them");
          }
          json o = json::object();
          for (size_t j = 0; j < names.size(); ++j) o[names[j]] = r[j];
          records.push_back(std::move(o));
        }
        s.table = table_from_records(records, "the request's rows");
      } else {
        s.table = table_from_records(rows, "the request's rows");
      }
      break;
    }
    case DataKind::images: {
      if (!body.has("images")) fail(400, "the request has no 'images'", kInputHint);
      const json& images = body.at("images");
      const size_t n = checked_count(images, "images", options);
      std::vector<torch::Tensor> list;
      for (size_t i = 0; i < n; ++i) {
        list.push_back(request_image(images[i], i));
        if (list.back().sizes() != list.front().sizes()) {
          fail(400, msg("images[", i, "] is ", list.back().sizes(), " but images[0] is ", list.front().sizes()),
               "send images of one size");
        }
      }
      s.form = DataKind::images;
      s.images.images = torch::stack(list);
      break;
    }
    case DataKind::text: {
      s.form = DataKind::text;
      s.text = body.text("text", "");
      if (s.text.empty()) fail(400, "the request has no 'text'", kInputHint);
      if (s.text.back() != '\n') s.text += '\n';
      if (static_cast<int64_t>(std::count(s.text.begin(), s.text.end(), '\n')) > options.max_items) {
        fail(400, "the text has more lines than the server allows", "split the request (the server's --max-items)");
      }
      break;
    }
    case DataKind::documents: {
      if (!body.has("documents")) fail(400, "the request has no 'documents'", kInputHint);
      const json& docs = body.at("documents");
      checked_count(docs, "documents", options);
      s.form = DataKind::documents;
      for (const auto& d : docs) {
        if (!d.is_string()) fail(400, "every document is a string of words", kInputHint);
        s.documents.words.push_back(document_words(d.get<std::string>()));
      }
      break;
    }
    default:
      fail(400, msg("a ", model.kind(), " model takes ", to_string(kind), " data, which this server cannot read"),
           "use the command line for this model");
  }
  return s;
}

std::vector<std::string> endpoints_of(const Model& model) {
  std::vector<std::string> out;
  const auto caps = model.capabilities();
  const bool text = dynamic_cast<const TextGenerator*>(&model) != nullptr;
  if (!text && caps.data_kind != DataKind::documents) out.push_back("/v1/sample");
  if (caps.likelihood != Likelihood::none) {
    out.push_back("/v1/score");
    out.push_back("/v1/anomaly");
  }
  if (dynamic_cast<const PartAssigner*>(&model) || caps.encoder) out.push_back("/v1/transform");
  // Rows with null cells: conditional samplers of tables, and sequence models (the rows carry the model's sequence
  // column; consecutive rows with one value form a sequence). Image models fill pixels through `genforge inpaint`.
  const bool fills = dynamic_cast<const ConditionalSampler*>(&model) || dynamic_cast<const SequenceImputer*>(&model);
  if (fills && pipeline_of(model).form() == DataKind::table) {
    out.push_back("/v1/impute");
  }
  if (text) out.push_back("/v1/completions");
  return out;
}

json vector_json(const torch::Tensor& t) {
  auto d = t.to(torch::kFloat64).contiguous();
  json out = json::array();
  for (int64_t i = 0; i < d.numel(); ++i) {
    const double v = d.data_ptr<double>()[i];
    out.push_back(std::isfinite(v) ? json(v) : json(nullptr));
  }
  return out;
}

json json_of(const nlohmann::json& j) { return json::parse(j.dump()); }

}  // namespace

Entry& find_model(Context& ctx, const Body& body) {
  if (!body.has("model")) {
    if (ctx.models.size() == 1) return *ctx.models.front();
    std::string names;
    for (const auto& m : ctx.models) names += (names.empty() ? "" : ", ") + m->served.name;
    fail(400, "this server has several models; name one with \"model\"", "the models: " + names);
  }
  const std::string name = body.text("model", "");
  for (auto& m : ctx.models) {
    if (m->served.name == name) return *m;
  }
  std::string names;
  for (const auto& m : ctx.models) names += (names.empty() ? "" : ", ") + m->served.name;
  fail(404, msg("no model named '", name, "'"), "the models: " + names + " (GET /v1/models)");
}

json drift_json(const Entry& entry) {
  if (!entry.drift) return nullptr;
  json j = json_of(entry.drift->report().to_json());
  j["items_scored"] = entry.drift->total_items();
  j["reference"] = entry.drift->reference().on;
  return j;
}

void record_scores(Entry& entry, const torch::Tensor& scores) {
  if (!entry.drift) return;
  entry.drift->add(scores);
  const apps::DriftReport report = entry.drift->report();
  std::lock_guard<std::mutex> lock(entry.alert_mutex);
  if (report.enough && report.drift != entry.drift_alert) {
    entry.drift_alert = report.drift;
    std::cerr << (report.drift ? "warning: drift on model '" : "notice: drift cleared on model '") << entry.served.name
              << "': " << report.summary() << "\n";
  }
}

Response list_models(Context& ctx) {
  json data = json::array();
  for (const auto& e : ctx.models) {
    const Model& m = *e->served.model;
    json profile = nullptr;
    if (e->drift) {
      const auto& p = e->drift->reference();
      profile = {{"items", p.items}, {"mean", p.mean}, {"sd", p.sd}, {"on", p.on}};
    }
    data.push_back({{"id", e->served.name},
                    {"object", "model"},
                    {"owned_by", "genforge"},
                    {"kind", m.kind()},
                    {"file", std::filesystem::path(e->served.path).filename().string()},
                    {"capabilities", json_of(m.capabilities().to_json())},
                    {"options", json_of(m.options_json())},
                    {"schema", json_of(m.schema())},
                    {"endpoints", endpoints_of(m)},
                    {"score_profile", profile},
                    {"drift", drift_json(*e)}});
  }
  return json_response({{"object", "list"}, {"data", data}});
}

Response sample(Context& ctx, const Request& request) {
  const Body body(request.body, {"model", "n", "seed", "class", "format"});
  Entry& entry = find_model(ctx, body);
  const Model& model = *entry.served.model;
  const int64_t n = body.integer("n", 1, 1, ctx.options.max_items);
  const auto seed = static_cast<uint64_t>(body.integer("seed", 0, 0, INT64_MAX));
  const std::string label = body.has("class") && body.at("class").is_number_integer()
                                ? std::to_string(body.at("class").get<int64_t>())
                                : body.text("class", "");
  const bool images = samples_are_images(model);
  const std::string format = body.text("format", images ? "png" : "json");
  if (format != "json" && format != "csv" && format != "png") {
    fail(400, msg("unknown format '", format, "'"), "format is json, csv (tables) or png (images)");
  }
  if (format == "png" && !images) fail(400, "png is for image models", "ask for json or csv");
  if (format == "csv" && images) fail(400, "csv is for table models", "ask for png or json (pixel arrays)");
  auto ticket = ctx.gate.enter(deadline_of(ctx.options));
  auto gen = make_generator(seed);
  const torch::Tensor samples = draw_samples(model, n, label, gen);
  json out = {{"model", entry.served.name}, {"n", n}, {"seed", seed}};
  if (images) {
    auto pixels = samples.is_floating_point() ? (samples.clamp(0, 1) * 255).round().to(torch::kUInt8) : samples.to(torch::kUInt8);
    json list = json::array();
    for (int64_t i = 0; i < pixels.size(0); ++i) {
      if (format == "png") {
        list.push_back(base64_encode(encode_png(pixels[i])));
      } else {
        auto img = pixels[i].to(torch::kLong).contiguous();
        std::vector<int64_t> flat(img.data_ptr<int64_t>(), img.data_ptr<int64_t>() + img.numel());
        json channels = json::array();
        const int64_t c = img.size(0), h = img.size(1), w = img.size(2);
        for (int64_t k = 0; k < c; ++k) {
          json rows = json::array();
          for (int64_t y = 0; y < h; ++y) {
            rows.push_back(std::vector<int64_t>(flat.begin() + (k * h + y) * w, flat.begin() + (k * h + y + 1) * w));
          }
          channels.push_back(std::move(rows));
        }
        list.push_back(std::move(channels));
      }
    }
    out["format"] = format;
    out["images"] = std::move(list);
    return json_response(out);
  }
  const Table table = samples_table(model, samples);
  if (format == "csv") {
    std::ostringstream csv;
    write_csv(csv, table);
    Response r;
    r.content_type = "text/csv";
    r.body = csv.str();
    return r;
  }
  out["rows"] = table_to_records(table);
  return json_response(out);
}

Response score(Context& ctx, const Request& request) {
  const Body body(request.body, {"model", "rows", "images", "text", "documents"});
  Entry& entry = find_model(ctx, body);
  const Model& model = *entry.served.model;
  const data::Source source = request_source(model, body, ctx.options);
  auto ticket = ctx.gate.enter(deadline_of(ctx.options));
  const auto scores = apps::item_scores(model, source);
  record_scores(entry, scores);
  const auto finite = scores.isfinite();
  const double mean = finite.any().item<bool>() ? scores.masked_select(finite).mean().item<double>() : NAN;
  return json_response({{"model", entry.served.name},
                        {"items", scores.numel()},
                        {"scores", vector_json(scores)},
                        {"mean", std::isfinite(mean) ? json(mean) : json(nullptr)},
                        {"unit", "nats"},
                        {"likelihood", to_string(model.capabilities().likelihood)}});
}

Response transform(Context& ctx, const Request& request) {
  const Body body(request.body, {"model", "rows", "images", "text", "documents"});
  Entry& entry = find_model(ctx, body);
  const Model& model = *entry.served.model;
  const data::Source source = request_source(model, body, ctx.options);
  auto ticket = ctx.gate.enter(deadline_of(ctx.options));
  const TransformResult r = transform_source(model, source);
  json out = json_of(r.summary);
  out["model"] = entry.served.name;
  out["rows"] = table_to_records(r.per_item);
  return json_response(out);
}

Response anomaly(Context& ctx, const Request& request) {
  const Body body(request.body, {"model", "rows", "images", "text", "documents", "contamination", "threshold"});
  Entry& entry = find_model(ctx, body);
  const Model& model = *entry.served.model;
  const double contamination = body.number("contamination", 0.05, 1e-6, 0.5);
  double threshold = NAN;
  std::string calibrated = "the request's threshold";
  if (body.has("threshold")) {
    threshold = body.number("threshold", 0, -1e300, 1e300);
  } else if (entry.drift) {
    // Flag what scores below the `contamination` quantile of the training scores.
    threshold = -entry.drift->reference().quantile(contamination);
    calibrated = msg("the ", contamination, " quantile of the scores of ", entry.drift->reference().on);
  } else {
    fail(400, msg("model '", entry.served.name, "' holds no score profile to calibrate a threshold on"),
         "send \"threshold\" (an anomaly score), or train the model again with this genforge");
  }
  const data::Source source = request_source(model, body, ctx.options);
  auto ticket = ctx.gate.enter(deadline_of(ctx.options));
  const auto scores = apps::item_scores(model, source);
  record_scores(entry, scores);
  const auto anomaly_scores = -scores;
  json flags = json::array();
  auto a = anomaly_scores.contiguous();
  for (int64_t i = 0; i < a.numel(); ++i) flags.push_back(a.data_ptr<double>()[i] > threshold ? 1 : 0);
  return json_response({{"model", entry.served.name},
                        {"anomaly_scores", vector_json(anomaly_scores)},
                        {"flags", flags},
                        {"threshold", threshold},
                        {"calibrated_on", calibrated},
                        {"evidence", apps::anomaly_evidence(model)}});
}

Response impute(Context& ctx, const Request& request) {
  const Body body(request.body, {"model", "rows", "multiple", "seed"});
  Entry& entry = find_model(ctx, body);
  const Model& model = *entry.served.model;
  apps::ImputeOptions options;
  options.multiple = body.integer("multiple", 0, 0, 100);
  options.seed = static_cast<uint64_t>(body.integer("seed", 0, 0, INT64_MAX));
  const data::Source source = request_source(model, body, ctx.options);
  auto ticket = ctx.gate.enter(deadline_of(ctx.options));
  const apps::Imputation r = apps::impute(model, source, options);
  json out = {{"model", entry.served.name}, {"missing_cells", r.missing_cells}};
  if (options.multiple == 0) {
    out["rows"] = table_to_records(r.filled);
  } else {
    json draws = json::array();
    for (const auto& t : r.draws) draws.push_back(table_to_records(t));
    out["draws"] = std::move(draws);
  }
  return json_response(out);
}

}  // namespace gf::serve::detail
