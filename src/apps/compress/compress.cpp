#include "genforge/apps/compress.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "arithmetic_coder.h"
#include "container.h"
#include "context_model.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/runtime.h"
#include "genforge/io/bytes.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "symbol_layout.h"

namespace gf::apps {
namespace {

using Clock = std::chrono::steady_clock;

// One intra-op thread while a model whose operators depend on the thread count codes (restored after).
class ThreadsForCoding {
 public:
  explicit ThreadsForCoding(bool single) : before_(threads()), changed_(single && before_ != 1) {
    if (changed_) set_threads(1);
  }
  ~ThreadsForCoding() {
    if (changed_) set_threads(before_);
  }

 private:
  int before_;
  bool changed_;
};

// Codes (encoder given) or decodes (decoder given) the streams first .. first + n - 1 of `layout` in lockstep, one
// step at a time; returns the model's bits for those symbols.
double code_group(const SymbolPredictor& model, coding::SymbolLayout& layout, int64_t first, int64_t n,
                  coding::Encoder* encoder, coding::Decoder* decoder, const std::function<void(int64_t)>& tick) {
  const int64_t g = layout.per_step, v = layout.alphabet;
  int64_t max_steps = 0;
  for (int64_t b = 0; b < n; ++b) max_steps = std::max(max_steps, layout.steps(first + b));
  auto streams = model.open_streams(n);
  auto pushed = torch::zeros({n, g}, torch::kLong);
  int64_t* next = pushed.data_ptr<int64_t>();
  coding::Frequencies f;
  double bits = 0;
  for (int64_t t = 0; t < max_steps; ++t) {
    auto scores = streams->next_scores().contiguous();
    GF_CHECK_AS(InternalError, scores.dim() == 3 && scores.size(0) == n && scores.size(1) == g && scores.size(2) == v,
                "", "the model's next-symbol scores have shape ", scores.sizes(), ", expected [", n, ", ", g, ", ",
                v, "]");
    if (scores.scalar_type() != torch::kFloat64) scores = scores.to(torch::kFloat32);
    // Frequencies of score row `row` (float or double scores), and that row's score of a symbol.
    auto quantise = [&](int64_t row) {
      if (scores.scalar_type() == torch::kFloat64) {
        coding::quantise_scores(scores.data_ptr<double>() + row, v, f);
      } else {
        coding::quantise_scores(scores.data_ptr<float>() + row, v, f);
      }
    };
    auto score_of = [&](int64_t row, int64_t symbol) {
      return scores.scalar_type() == torch::kFloat64 ? scores.data_ptr<double>()[row + symbol]
                                                     : static_cast<double>(scores.data_ptr<float>()[row + symbol]);
    };
    int64_t coded = 0;
    for (int64_t b = 0; b < n; ++b) {
      const bool active = t < layout.steps(first + b);
      int64_t* symbols = active ? layout.stream(first + b) + t * g : nullptr;
      for (int64_t c = 0; c < g; ++c) {
        if (!active) {
          next[b * g + c] = 0;
          continue;
        }
        const int64_t row = (b * g + c) * v;
        quantise(row);
        int64_t symbol;
        if (encoder) {
          symbol = symbols[c];
          encoder->encode(f, symbol);
        } else {
          symbol = decoder->decode(f);
          symbols[c] = symbol;
        }
        bits += f.ideal_bits(score_of(row, symbol));
        next[b * g + c] = symbol;
        ++coded;
      }
    }
    streams->push(pushed);
    tick(coded);
  }
  return bits;
}

// The built-in model over the bytes of `symbols` (one stream).
double code_bytes(int order, coding::SymbolLayout& layout, coding::Encoder* encoder, coding::Decoder* decoder,
                  const std::function<void(int64_t)>& tick) {
  coding::ContextModel model(order);
  coding::Frequencies f;
  double bits = 0;
  const int64_t n = layout.total_symbols();
  int64_t* data = n > 0 ? layout.stream(0) : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    model.predict(f);
    if (encoder) {
      encoder->encode(f, data[i]);
    } else {
      data[i] = decoder->decode(f);
    }
    const uint32_t share = f.cum[static_cast<size_t>(data[i] + 1)] - f.cum[static_cast<size_t>(data[i])];
    bits += std::log2(static_cast<double>(f.total()) / static_cast<double>(share));
    model.update(static_cast<uint8_t>(data[i]));
    if ((i & 4095) == 4095) tick(4096);
  }
  tick(n & 4095);
  return bits;
}

// Runs the coder over every group; `payloads` are the groups' coded bytes (filled when encoding, read when
// decoding).
double run_coder(const Model* model, int order, coding::SymbolLayout& layout, int64_t batch,
                 std::vector<std::string>& payloads, bool encode, bool progress, int64_t original_bytes) {
  const int64_t total = layout.total_symbols();
  std::unique_ptr<Progress> bar;
  if (progress && total > 0) bar = std::make_unique<Progress>(encode ? "compress" : "decompress",
                                                              std::max<int64_t>(1, original_bytes / 1024), "KB");
  int64_t done = 0;
  std::mutex tick_mutex;
  auto tick = [&](int64_t coded) {
    std::lock_guard<std::mutex> lock(tick_mutex);
    done += coded;
    if (bar) bar->update(static_cast<int64_t>(static_cast<double>(done) / static_cast<double>(total) *
                                              static_cast<double>(original_bytes / 1024)));
  };
  double bits = 0;
  if (!model) {
    if (encode) payloads.assign(1, "");
    GF_CHECK_AS(DataError, payloads.size() == 1, "the file is damaged; compress the original again",
                "the compressed stream lists ", payloads.size(), " coded groups, the built-in model writes one");
    std::unique_ptr<coding::Encoder> enc;
    std::unique_ptr<coding::Decoder> dec;
    if (encode) enc = std::make_unique<coding::Encoder>(payloads[0]);
    else dec = std::make_unique<coding::Decoder>(reinterpret_cast<const uint8_t*>(payloads[0].data()), payloads[0].size());
    bits = code_bytes(order, layout, enc.get(), dec.get(), tick);
    if (enc) enc->finish();
  } else {
    const auto& predictor = dynamic_cast<const SymbolPredictor&>(*model);
    const int workers = predictor.single_threaded() ? threads() : 1;
    ThreadsForCoding threads_guard(predictor.single_threaded());
    const int64_t groups = (layout.n_streams() + batch - 1) / batch;
    if (encode) payloads.assign(static_cast<size_t>(groups), "");
    GF_CHECK_AS(DataError, static_cast<int64_t>(payloads.size()) == groups,
                "the file is damaged; compress the original again", "the compressed stream lists ",
                payloads.size(), " coded groups where its layout has ", groups);
    std::vector<double> group_bits(static_cast<size_t>(groups), 0.0);
    auto code = [&](int64_t k) {
      std::string& payload = payloads[static_cast<size_t>(k)];
      const int64_t first = k * batch, n = std::min(batch, layout.n_streams() - first);
      if (encode) {
        coding::Encoder enc(payload);
        group_bits[static_cast<size_t>(k)] = code_group(predictor, layout, first, n, &enc, nullptr, tick);
        enc.finish();
      } else {
        coding::Decoder dec(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
        group_bits[static_cast<size_t>(k)] = code_group(predictor, layout, first, n, nullptr, &dec, tick);
      }
    };
    if (workers <= 1 || groups <= 1) {
      for (int64_t k = 0; k < groups; ++k) code(k);
    } else {
      // Groups are independent: one-thread models code several at once, each group on one thread with one
      // intra-op thread (so each group's arithmetic is the same as in a sequential run).
      std::atomic<int64_t> next{0};
      std::exception_ptr failure;
      std::mutex failure_mutex;
      std::vector<std::thread> pool;
      const int n_workers = static_cast<int>(std::min<int64_t>(workers, groups));
      // Each worker sets its thread count once, one at a time, and none starts coding before all have: LibTorch
      // clears its oneDNN caches when a thread count is set, which must not happen under another worker's operator.
      std::mutex init_mutex;
      std::condition_variable all_ready;
      int ready = 0;
      for (int w = 0; w < n_workers; ++w) {
        pool.emplace_back([&] {
          {
            std::unique_lock<std::mutex> lock(init_mutex);
            at::set_num_threads(1);
            ++ready;
            all_ready.notify_all();
            all_ready.wait(lock, [&] { return ready == n_workers; });
          }
          try {
            for (int64_t k = next++; k < groups; k = next++) code(k);
          } catch (...) {
            std::lock_guard<std::mutex> lock(failure_mutex);
            if (!failure) failure = std::current_exception();
            next = groups;
          }
        });
      }
      for (auto& t : pool) t.join();
      if (failure) std::rethrow_exception(failure);
    }
    for (double b : group_bits) bits += b;  // in group order, whatever the schedule
  }
  if (bar) bar->finish();
  return bits;
}

std::string coder_name(const Model* model, int64_t order) {
  return model ? model->kind() : "order-" + std::to_string(order);
}

}  // namespace

void CompressOptions::validate() const {
  GF_CHECK(batch >= 1 && batch <= 4096, "batch must be 1 .. 4096, got ", batch);
  GF_CHECK(segment_length >= 0, "segment_length must be >= 0 (0: automatic), got ", segment_length);
  GF_CHECK(order >= 0 && order <= 7, "order must be 0 .. 7, got ", order);
}

nlohmann::json CompressReport::to_json() const {
  nlohmann::json j;
  j["coder"] = coder;
  j["format"] = format;
  j["original_bytes"] = original_bytes;
  j["compressed_bytes"] = compressed_bytes;
  j["symbols"] = symbols;
  j["streams"] = streams;
  j["ratio"] = original_bytes > 0 ? static_cast<double>(compressed_bytes) / static_cast<double>(original_bytes) : 0.0;
  j["bits_per_byte"] = original_bytes > 0 ? 8.0 * static_cast<double>(compressed_bytes) / static_cast<double>(original_bytes) : 0.0;
  if (format == "idx" || format == "npy") {
    j["bits_per_pixel"] = symbols > 0 ? 8.0 * static_cast<double>(compressed_bytes) / static_cast<double>(symbols) : 0.0;
  }
  j["model_bits"] = model_bits;
  j["model_bits_per_byte"] = original_bytes > 0 ? model_bits / static_cast<double>(original_bytes) : 0.0;
  j["payload_bits"] = payload_bits;
  j["coding_overhead"] = model_bits > 0 ? payload_bits / model_bits - 1.0 : 0.0;
  j["seconds"] = seconds;
  j["kb_per_s"] = seconds > 0 ? static_cast<double>(original_bytes) / 1024.0 / seconds : 0.0;
  return j;
}

std::string compress_bytes(const Model* model, const std::string& model_sha256, const std::string& data,
                           const CompressOptions& options, CompressReport* report) {
  options.validate();
  const auto t0 = Clock::now();
  coding::SymbolLayout layout = coding::layout_for(model, data, options);
  std::vector<std::string> payloads;
  const double bits = run_coder(model, static_cast<int>(options.order), layout, options.batch, payloads, true,
                                options.progress, static_cast<int64_t>(data.size()));
  nlohmann::json header = layout.header();
  header["coder"] = coder_name(model, options.order);
  header["model_sha256"] = model ? model_sha256 : "";
  header["original_bytes"] = data.size();
  header["crc32"] = crc32_of(data);
  header["batch"] = options.batch;
  std::string payload = layout.side;
  header["side_bytes"] = layout.side.size();
  std::vector<int64_t> sizes;
  for (const auto& p : payloads) {
    sizes.push_back(static_cast<int64_t>(p.size()));
    payload += p;
  }
  // Data the model cannot shrink (random bytes, already compressed files) is stored as it is.
  const bool stored = payload.size() >= data.size() && !data.empty();
  if (stored) {
    payload = data;
    header["side_bytes"] = 0;
    sizes.assign(1, static_cast<int64_t>(data.size()));
    header["stored"] = true;
  }
  header["group_bytes"] = sizes;
  std::string out = coding::write_container(header, payload);
  if (report) {
    report->coder = stored ? "stored" : header["coder"].get<std::string>();
    report->format = layout.format;
    report->original_bytes = static_cast<int64_t>(data.size());
    report->compressed_bytes = static_cast<int64_t>(out.size());
    report->symbols = layout.total_symbols();
    report->streams = layout.n_streams();
    report->model_bits = bits;
    report->payload_bits = 8.0 * static_cast<double>(payload.size());
    report->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return out;
}

std::string decompress_bytes(const Model* model, const std::string& model_sha256, const std::string& compressed,
                             const CompressOptions& options, CompressReport* report) {
  const auto t0 = Clock::now();
  size_t offset = 0;
  const nlohmann::json header = coding::read_container(compressed, &offset);
  const char* damaged = "the file is damaged; compress the original again";
  std::string coder, sha, format;
  int64_t original = 0, batch = 0;
  uint32_t crc = 0;
  std::vector<int64_t> sizes;
  try {
    coder = header.at("coder").get<std::string>();
    sha = header.at("model_sha256").get<std::string>();
    original = header.at("original_bytes").get<int64_t>();
    crc = header.at("crc32").get<uint32_t>();
    batch = header.at("batch").get<int64_t>();
    sizes = header.at("group_bytes").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(msg("the compressed stream's header is incomplete (", e.what(), ")"), damaged);
  }
  const bool builtin = coder.rfind("order-", 0) == 0;
  if (builtin) {
    GF_CHECK_AS(DataError, model == nullptr, "decompress it without a model file",
                "this stream was compressed with the built-in ", coder, " model, not with a model file");
  } else {
    GF_CHECK_AS(DataError, model != nullptr, "give the model file it was compressed with",
                "this stream was compressed with a ", coder, " model (SHA-256 ", sha, ")");
    GF_CHECK_AS(DataError, model->kind() == coder && model_sha256 == sha,
                "give the model file it was compressed with",
                "wrong model: the stream was compressed with a ", coder, " model of SHA-256 ", sha, ", this is a ",
                model->kind(), " model of SHA-256 ", model_sha256);
  }
  GF_CHECK_AS(DataError, batch >= 1 && batch <= 4096 && original >= 0, damaged,
              "the compressed stream's header is damaged (batch ", batch, ", ", original, " bytes)");
  const int64_t side_bytes = header.value("side_bytes", int64_t{0});
  GF_CHECK_AS(DataError, side_bytes >= 0 && offset + static_cast<uint64_t>(side_bytes) <= compressed.size(), damaged,
              "the compressed stream is truncated (", compressed.size(), " bytes)");
  const std::string side = compressed.substr(offset, static_cast<size_t>(side_bytes));
  std::vector<std::string> payloads;
  size_t at = offset + static_cast<size_t>(side_bytes);
  for (int64_t s : sizes) {
    GF_CHECK_AS(DataError, s >= 0 && at + static_cast<uint64_t>(s) <= compressed.size(), damaged,
                "the compressed stream is truncated (", compressed.size(), " bytes; its coded groups need ",
                at + static_cast<uint64_t>(std::max<int64_t>(s, 0)), ")");
    payloads.push_back(compressed.substr(at, static_cast<size_t>(s)));
    at += static_cast<size_t>(s);
  }
  GF_CHECK_AS(DataError, at == compressed.size(), damaged, "the compressed stream has ", compressed.size() - at,
              " bytes after its coded groups");
  if (header.value("stored", false)) {
    GF_CHECK_AS(DataError, payloads.size() == 1 && crc32_of(payloads[0]) == crc &&
                               static_cast<int64_t>(payloads[0].size()) == original,
                damaged, "the stored data fails its check");
    if (report) {
      *report = CompressReport{};
      report->coder = "stored";
      report->format = header.value("format", "");
      report->original_bytes = original;
      report->compressed_bytes = static_cast<int64_t>(compressed.size());
      report->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return payloads[0];
  }
  // Before allocating: even the most likely symbol costs some bits (every other symbol keeps a frequency of 1), so a
  // payload of B bytes holds at most 8 B / min_bits symbols; a header claiming more is damaged (or forged).
  {
    const double v = std::max(2.0, static_cast<double>(header.value("alphabet", int64_t{2})));
    const double min_bits = -std::log2(1.0 - (v - 1.0) / static_cast<double>(coding::kMaxTotal));
    const double payload_bits = 8.0 * static_cast<double>(compressed.size() - offset) + 64.0 * static_cast<double>(sizes.size() + 1);
    const double claimed = static_cast<double>(header.value("symbols", int64_t{0}));
    GF_CHECK_AS(DataError, claimed <= payload_bits / min_bits + 1.0, damaged, "the compressed stream's header claims ",
                header.value("symbols", int64_t{0}), " symbols, more than its ", compressed.size() - offset,
                " payload bytes can hold");
  }
  coding::SymbolLayout layout = coding::layout_from_header(model, header, original, side);
  int order = 0;
  if (builtin) order = header.value("order", -1);
  GF_CHECK_AS(DataError, !builtin || (order >= 0 && order <= 7), damaged, "the header names order ", order);
  const double bits =
      run_coder(model, order, layout, batch, payloads, false, options.progress, original);
  std::string out = layout.rebuild();
  GF_CHECK_AS(DataError, static_cast<int64_t>(out.size()) == original && crc32_of(out) == crc,
              "the stream is damaged, or was written on another kind of machine whose floating point differs",
              "decompressed data fails its check: ", out.size(), " bytes of CRC-32 ", crc32_of(out), ", expected ",
              original, " bytes of CRC-32 ", crc);
  if (report) {
    report->coder = coder;
    report->format = layout.format;
    report->original_bytes = original;
    report->compressed_bytes = static_cast<int64_t>(compressed.size());
    report->symbols = layout.total_symbols();
    report->streams = layout.n_streams();
    report->model_bits = bits;
    report->payload_bits = 8.0 * static_cast<double>(compressed.size() - offset);
    report->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return out;
}

namespace {

std::unique_ptr<Model> model_for_coding(const std::string& path, std::string* sha) {
  if (path.empty()) return nullptr;
  auto model = load_model(path);
  GF_CHECK_AS(NotSupported, dynamic_cast<const SymbolPredictor*>(model.get()) != nullptr,
              "compress with a gpt (text), pixelcnn (images) or categorical hmm (lines of symbols) model, or with no model "
              "(the built-in order-k model)",
              "a ", model->kind(), " model does not predict next symbols, so it cannot drive a lossless coder");
  *sha = sha256_file_hex(path);
  return model;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace

CompressReport compress_file(const std::string& model_path, const std::string& in, const std::string& out,
                             const CompressOptions& options) {
  check_writable(out);
  std::string sha;
  auto model = model_for_coding(model_path, &sha);
  const bool images = model && model->capabilities().data_kind == DataKind::images;
  const std::string data = read_file_bytes(in, images);
  CompressReport report;
  const std::string packed = compress_bytes(model.get(), sha, data, options, &report);
  write_bytes(out, packed);
  return report;
}

CompressReport decompress_file(const std::string& model_path, const std::string& in, const std::string& out,
                               const CompressOptions& options) {
  check_writable(out);
  std::string sha;
  auto model = model_for_coding(model_path, &sha);
  CompressReport report;
  const std::string data = decompress_bytes(model.get(), sha, read_file_bytes(in), options, &report);
  write_bytes(out, data);
  return report;
}

}  // namespace gf::apps
