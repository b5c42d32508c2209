// The fuzz targets' bodies, one function per parser, shared by the libFuzzer drivers (fuzz_target.cpp, built with
// -DGF_FUZZ=ON and clang) and the regression test (tests/fuzz_corpus_test.cpp, every build), which runs each seed
// and each input a campaign once found through the same function. docs/reliability.md.
//
// The rule that decides a finding: a gf::Error other than InternalError is genforge's answer to bad input; anything
// else escaping — a c10::Error, a std::exception, an InternalError (a bug by definition) — is a finding, as are a
// sanitizer report, a crash, a leak, a timeout and an allocation over the limit (scripts/fuzz.sh).
#pragma once
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "genforge/apps/compress.h"
#include "genforge/apps/serve.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/runtime.h"
#include "genforge/data/images.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "genforge/data/source.h"
#include "genforge/data/tokenizers.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::fuzz {

// The .gf container and everything a model restores from it: header JSON, offsets, dtypes, shapes, metadata
// (options, schema, fit report, extra state, the pipeline with its tokenizer or vocabulary), then the model's own
// loaded-state checks.
inline void model_file(const std::string& bytes) {
  const auto contents = parse_model_file(bytes, "fuzz.gf");
  model_from_contents(contents, "fuzz.gf", "", {});
}

// CSV (RFC 4180: quotes, embedded delimiters and line breaks, BOM, NA tokens, type inference), then the writer.
inline void csv(const std::string& bytes) {
  ReadOptions grouped;  // the digit-group reading too, with the separator the input's size picks
  grouped.thousands = ",.' "[bytes.size() % 4];
  try {
    parse_csv(bytes, "fuzz.csv", grouped);
  } catch (const Error&) {  // bad input ends in its own error; the plain reading below is the one that must agree
  }
  const Table table = parse_csv(bytes, "fuzz.csv");
  std::ostringstream out;
  write_csv(out, table);
}

// JSON records (the vega-datasets format): nlohmann's parser (deep nesting, huge numbers, bad UTF-8) and the typing.
inline void json_records(const std::string& bytes) {
  const auto doc = nlohmann::ordered_json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return;  // read_json_records turns a parse error into a DataError
  table_to_records(table_from_records(doc, "fuzz.json"));
}

// NumPy .npy: magic, versions 1-3, the header's dict literal, shapes (2^62 rows refused before allocating).
inline void npy(const std::string& bytes) { parse_npy(bytes, "fuzz.npy"); }

// IDX (MNIST format), raw or gzip-compressed, through a file as genforge reads it (zlib's gzip reader included).
inline void idx(const std::string& bytes) {
  static const std::string path = "/dev/shm/genforge-fuzz-idx-" + std::to_string(getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  read_idx(path);
}

// PNG through stb_image, as the server and the image readers decode it (the size read from the header first).
inline void png(const std::string& bytes) { decode_png(bytes, "fuzz.png", int64_t{1} << 22); }

// Image files of every format an image folder may hold (PNG, JPEG, BMP, GIF, TGA, PNM: stb_image's decoders),
// through a file as `--data DIR` reads them (the size from the header first, then the whole file decoded).
inline void image_file(const std::string& bytes) {
  static const std::string path = "/dev/shm/genforge-fuzz-image-" + std::to_string(getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  read_image_file(path);
}

// A model's tokenizer record (char, word, byte-level BPE, unigram; SentencePiece's protobuf is its own project's
// parser): restored, then used — a record that loads must encode and decode without reading out of bounds.
inline void tokenizer(const std::string& bytes) {
  const auto record = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded() || (record.is_object() && record.contains("kind") &&
                                record["kind"] == "sentencepiece")) {
    return;
  }
  const auto restored = tokenizer_from_json(record);
  std::vector<int64_t> every;  // every token once, decoded, then that text encoded and decoded again
  for (int64_t id = 0; id < std::min<int64_t>(restored->size(), 4096); ++id) every.push_back(id);
  restored->decode(restored->encode(restored->decode(every)));
  restored->to_json();
}

// genforge's compressed streams (container header, arithmetic-coded payload, CRC-32) decoded with the built-in
// order-k model: a damaged stream is a DataError, never a crash or an unbounded output.
inline void compressed(const std::string& bytes) {
  apps::CompressOptions options;
  options.progress = false;
  apps::decompress_bytes(nullptr, "", bytes, options);
}

namespace detail {
inline std::unique_ptr<Model> fitted(const std::string& kind, const OptionOverrides& sets, const std::string& file,
                                     const std::string& contents) {
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  auto model = create_model(kind, {}, sets);
  fit_source(*model, data::load_source(file, model->capabilities().data_kind));
  std::remove(file.c_str());
  return model;
}

// A table model (GMM) and a text model (a tiny GPT), fitted once.
inline serve::Server& fuzz_server() {
  static serve::Server* instance = [] {
    const std::string stem = "/dev/shm/genforge-fuzz-serve-" + std::to_string(getpid());
    std::string rows = "length,width,species\n";
    for (int i = 0; i < 60; ++i) {
      rows += std::to_string(30 + i % 17 + 0.25 * (i % 5)) + "," + std::to_string(10 + i % 7) + "," +
              (i % 3 == 0 ? "Adelie" : i % 3 == 1 ? "Gentoo" : "Chinstrap") + "\n";
    }
    std::vector<serve::ServedModel> models(2);
    models[0].name = "table";
    models[0].model = fitted("gmm", {{"n_components", "2"}, {"categorical", "onehot"}}, stem + ".csv", rows);
    models[1].name = "text";
    models[1].model = fitted("gpt",
                             {{"n_layer", "1"}, {"n_head", "1"}, {"n_embd", "8"}, {"block_size", "16"},
                              {"max_steps", "2"}, {"batch_size", "4"}},
                             stem + ".txt", "the cat sat on the mat\nthe dog sat on the log\na bird sang\n");
    serve::ServeOptions options;
    options.max_items = 8;  // small answers keep executions fast; the limits themselves are fuzzed
    options.max_tokens = 4;
    options.request_timeout_s = 30;
    return new serve::Server(std::move(models), options);  // kept for the whole run
  }();
  return *instance;
}
}  // namespace detail

// `genforge serve` requests in-process (Server::handle): the first byte chooses the endpoint, the rest is the body.
// A status 500 — the server's word for a genforge bug — is a finding; other refusals are DataErrors here.
inline void serve_request(const std::string& bytes) {
  static const char* const endpoints[] = {"/v1/sample",      "/v1/score",  "/v1/anomaly", "/v1/impute",
                                          "/v1/completions", "/v1/models"};
  if (bytes.empty()) return;
  const std::string path = endpoints[static_cast<unsigned char>(bytes[0]) % 6];
  const serve::Request request{path == "/v1/models" ? "GET" : "POST", path, bytes.substr(1), {}};
  const auto response = detail::fuzz_server().handle(request);
  if (response.status == 500) throw InternalError(msg("status 500 for ", path, ": ", response.body), "");
  if (response.status != 200) throw DataError(msg("status ", response.status, " for ", path, ": ", response.body), "");
}

using Target = void (*)(const std::string&);
inline const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> all = {
      {"model_file", model_file}, {"csv", csv},   {"json_records", json_records}, {"npy", npy},
      {"idx", idx},               {"png", png},   {"tokenizer", tokenizer},       {"compressed", compressed},
      {"serve", serve_request},   {"image_file", image_file}};
  return all;
}

inline void init_once() {
  static const bool done = [] {
    set_threads(1);
    Progress::set_enabled(false);
    return true;
  }();
  (void)done;
}

// Runs one input; what escapes is a finding.
inline void run_one(Target target, const std::string& bytes) {
  init_once();
  try {
    target(bytes);
  } catch (const InternalError&) {
    throw;
  } catch (const Error&) {
  }
}

}  // namespace gf::fuzz
