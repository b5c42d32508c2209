// The .gf model file: a safetensors container (8-byte little-endian header length, JSON header, raw
// little-endian tensor bytes) whose `__metadata__` carries genforge's fields, so Python reads the weights with
// `safetensors.torch.load_file` or plain numpy. See docs/file-format.md.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace gf {

using TensorMap = std::map<std::string, torch::Tensor>;

// Version 2 added the input pipeline; version 1 files (no pipeline: columns, vocabulary or tokenizer in the
// schema) still load, their pipeline rebuilt from the schema.
constexpr int kModelFormatVersion = 2;
constexpr int kOldestModelFormatVersion = 1;

struct ModelFileContents {
  std::string kind;               // registry name, e.g. "gmm"
  int format_version = kModelFormatVersion;
  std::string genforge_version;   // filled by the writer
  nlohmann::json options;         // the model's options
  nlohmann::json schema;          // the data the model was fitted on (column names, ...)
  nlohmann::json fit_report;      // FitReport::to_json()
  nlohmann::json extra;           // learned state that is not tensors (Model::state_json; optional)
  nlohmann::json pipeline;        // the fitted input pipeline (data::InputPipeline::to_json; optional)
  // An adapter file (`finetune --lora --adapters-only`): {"file": the base model's path relative to this file's
  // folder, "sha256": its SHA-256}; `tensors` then holds the adapters alone, and read_model_file adds the base's.
  nlohmann::json base;
  TensorMap tensors;              // learned state
};

// Writes atomically (temporary file + rename). Tensors are stored contiguous, little-endian, on CPU.
void write_model_file(const std::string& path, const ModelFileContents& contents);
// Reads and validates everything; any violation is a gf::ModelFileError naming the file and the field. An adapter
// file comes back whole: the base model it names (beside it, with the recorded SHA-256) supplies the other tensors.
ModelFileContents read_model_file(const std::string& path);
// The same from a file's bytes already in memory (`path` names them in errors).
ModelFileContents parse_model_file(const std::string& bytes, const std::string& path);

// The tensor `name` of a stored state for Model::load_state, with its shape checked where `shape` is given (-1: any
// size along that axis). A file without it, or with another shape, is a gf::Error naming the tensor (load_model
// reports it as a damaged file).
const torch::Tensor& stored_tensor(const TensorMap& tensors, const std::string& name);
const torch::Tensor& stored_tensor(const TensorMap& tensors, const std::string& name,
                                   const std::vector<int64_t>& shape);

}  // namespace gf
