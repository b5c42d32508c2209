#include "genforge/io/model_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/io/bytes.h"

namespace gf {
namespace fs = std::filesystem;
namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t size;
};
const DtypeInfo kDtypes[] = {{"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
                             {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
                             {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},      {"U8", torch::kUInt8, 1},
                             {"BOOL", torch::kBool, 1}};

const DtypeInfo* dtype_by_type(torch::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (d.type == t) return &d;
  }
  return nullptr;
}
const DtypeInfo* dtype_by_name(const std::string& n) {
  for (const auto& d : kDtypes) {
    if (n == d.name) return &d;
  }
  return nullptr;
}

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr uint64_t kMaxDimension = 1ull << 40;
const char* kHint = "the file is damaged or not a genforge model; re-create it with `genforge train`";

}  // namespace

void write_model_file(const std::string& path, const ModelFileContents& c) {
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json meta;
  meta["format"] = "genforge";
  meta["format_version"] = std::to_string(kModelFormatVersion);
  meta["kind"] = c.kind;
  meta["genforge_version"] = GF_VERSION;
  // safetensors metadata values are strings, so structured fields are stored as JSON text.
  meta["options"] = c.options.dump();
  meta["schema"] = c.schema.dump();
  meta["fit_report"] = c.fit_report.dump();
  if (!c.extra.is_null()) meta["extra"] = c.extra.dump();
  if (!c.pipeline.is_null()) meta["pipeline"] = c.pipeline.dump();
  if (!c.base.is_null()) meta["base"] = c.base.dump();
  header["__metadata__"] = meta;
  std::vector<torch::Tensor> blobs;
  uint64_t offset = 0;
  for (const auto& kv : c.tensors) {  // std::map: sorted names, stable layout
    GF_CHECK(kv.second.defined(), "tensor '", kv.first, "' is undefined");
    auto t = kv.second.detach().to(torch::kCPU).contiguous();
    const DtypeInfo* d = dtype_by_type(t.scalar_type());
    GF_CHECK(d != nullptr, "tensor '", kv.first, "' has dtype ", t.scalar_type(), ", which .gf cannot store");
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * d->size;
    header[kv.first] = {{"dtype", d->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    blobs.push_back(t);
  }
  std::string text = header.dump();
  text += std::string((8 - text.size() % 8) % 8, ' ');
  write_file_atomic(path, [&](std::ostream& out) {
    uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : blobs) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
  });
}

ModelFileContents read_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GF_CHECK_AS(ModelFileError, in.good(), "check the path; models are written by `genforge train ... --out M.gf`",
              "cannot open model file '", path, "': no such file or not readable");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ModelFileContents c = parse_model_file(bytes, path);
  if (c.base.is_null()) return c;
  // Adapters alone: the base model beside them supplies every other tensor.
  const std::string file = c.base["file"].get<std::string>();
  const fs::path base_path = fs::path(file).is_absolute() ? fs::path(file) : fs::path(path).parent_path() / file;
  const std::string keep = "keep the base model at that path, or save the whole model (finetune without "
                           "--adapters-only, or `genforge export --merge`)";
  GF_CHECK_AS(ModelFileError, fs::is_regular_file(base_path), keep, "'", path, "' holds adapters for the base model '",
              base_path.string(), "', which is not there");
  const std::string base_bytes = read_file_bytes(base_path.string());  // read once: hashed, then parsed
  GF_CHECK_AS(ModelFileError, sha256_hex(base_bytes) == c.base["sha256"].get<std::string>(), keep, "'",
              base_path.string(), "' is not the base model the adapters in '", path,
              "' were trained on (its SHA-256 differs)");
  ModelFileContents base = parse_model_file(base_bytes, base_path.string());
  GF_CHECK_AS(ModelFileError, base.base.is_null() && base.kind == c.kind, keep, "'", base_path.string(),
              "' is not a whole ", c.kind, " model to put the adapters of '", path, "' on");
  for (auto& [name, t] : base.tensors) c.tensors.emplace(name, t);  // the adapters' own tensors stay
  return c;
}

ModelFileContents parse_model_file(const std::string& bytes, const std::string& path) {
  auto fail = [&](const std::string& what) { return ModelFileError(msg("'", path, "': ", what), kHint); };
  if (bytes.size() < 8) throw fail(msg("file is too short to be a model (", bytes.size(), " bytes)"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[static_cast<size_t>(i)])) << (8 * i);
  if (n > kMaxHeaderBytes || n < 2) throw fail(msg("bad magic: implausible header length ", n));
  if (n > bytes.size() - 8) {
    throw fail(msg("truncated file: the header needs ", n, " bytes but only ", bytes.size() - 8, " follow"));
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception&) {
    throw fail("bad magic: the header is not JSON, so this is not a .gf (safetensors) file");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  auto meta_it = header.find("__metadata__");
  if (meta_it == header.end() || !meta_it->is_object()) throw fail("no __metadata__: not a genforge model file");
  const auto& meta = *meta_it;
  auto meta_string = [&](const char* key) -> std::string {
    auto it = meta.find(key);
    if (it == meta.end() || !it->is_string()) throw fail(msg("metadata field '", key, "' is missing"));
    return it->get<std::string>();
  };
  if (meta_string("format") != "genforge") throw fail("metadata 'format' is not 'genforge'");
  ModelFileContents c;
  std::string version = meta_string("format_version");
  try {
    c.format_version = std::stoi(version);
  } catch (...) {
    throw fail(msg("metadata 'format_version' is not a number: '", version, "'"));
  }
  if (c.format_version < kOldestModelFormatVersion || c.format_version > kModelFormatVersion) {
    throw ModelFileError(msg("'", path, "': unsupported format version ", c.format_version, " (this genforge reads ",
                             kOldestModelFormatVersion, " to ", kModelFormatVersion, ")"),
                         c.format_version > kModelFormatVersion
                             ? "use the genforge version that wrote the file, or re-train the model"
                             : "re-train the model with this genforge");
  }
  c.kind = meta_string("kind");
  c.genforge_version = meta_string("genforge_version");
  auto parse_field = [&](const char* key, bool required) -> nlohmann::json {
    if (!required && meta.find(key) == meta.end()) return nullptr;
    try {
      return nlohmann::json::parse(meta_string(key));
    } catch (const nlohmann::json::exception&) {
      throw fail(msg("metadata field '", key, "' is not valid JSON"));
    }
  };
  c.options = parse_field("options", true);
  c.schema = parse_field("schema", true);
  c.fit_report = parse_field("fit_report", true);
  c.extra = parse_field("extra", false);
  c.pipeline = parse_field("pipeline", false);
  c.base = parse_field("base", false);
  if (!c.base.is_null()) {
    if (!c.base.is_object() || !c.base.contains("file") || !c.base["file"].is_string() || !c.base.contains("sha256") ||
        !c.base["sha256"].is_string() || c.base["sha256"].get<std::string>().size() != 64) {
      throw fail("metadata field 'base' must be {\"file\": path, \"sha256\": 64 hex digits}");
    }
  }

  const uint64_t data_begin = 8 + n, data_size = bytes.size() - data_begin;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto& e = it.value();
    const std::string& name = it.key();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
      throw fail(msg("tensor '", name, "' lacks dtype, shape or data_offsets"));
    }
    const DtypeInfo* d = e["dtype"].is_string() ? dtype_by_name(e["dtype"].get<std::string>()) : nullptr;
    if (!d) throw fail(msg("tensor '", name, "' has unknown dtype ", e["dtype"].dump()));
    std::vector<int64_t> shape;
    uint64_t count = 1;
    if (!e["shape"].is_array()) throw fail(msg("tensor '", name, "' shape is not a list"));
    for (const auto& s : e["shape"]) {
      if (!s.is_number_unsigned() && !(s.is_number_integer() && s.get<int64_t>() >= 0)) {
        throw fail(msg("tensor '", name, "' has a bad shape ", e["shape"].dump()));
      }
      // Bounded before multiplying: a claimed shape must not overflow the element count or torch's int64 sizes.
      const uint64_t dim = s.get<uint64_t>();
      if (dim > kMaxDimension || (dim != 0 && count > data_size / dim)) {
        throw fail(msg("tensor '", name, "' shape ", e["shape"].dump(), " exceeds the file"));
      }
      shape.push_back(static_cast<int64_t>(dim));
      count *= dim;
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      throw fail(msg("tensor '", name, "' has bad data_offsets ", off.dump()));
    }
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size) {
      throw fail(msg("tensor '", name, "' data_offsets [", b, ", ", en, "] lie outside the ", data_size,
                     " data bytes (truncated file?)"));
    }
    if (en - b != count * d->size) {
      throw fail(msg("tensor '", name, "' has ", en - b, " bytes but dtype ", d->name, " x shape ",
                     e["shape"].dump(), " needs ", count * d->size));
    }
    auto t = torch::empty(shape, torch::TensorOptions().dtype(d->type));
    if (en > b) std::memcpy(t.data_ptr(), bytes.data() + data_begin + b, en - b);
    c.tensors[name] = t;
    spans.push_back({b, en, name});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (const auto& s : spans) {
    if (s.begin != expected) {
      throw fail(msg("tensor '", s.name, "' starts at byte ", s.begin, ", expected ", expected,
                     " (tensors must be contiguous and not overlap)"));
    }
    expected = s.end;
  }
  if (expected != data_size) {
    throw fail(msg("the data section has ", data_size, " bytes but the tensors account for ", expected,
                   expected < data_size ? " (trailing bytes)" : " (truncated file)"));
  }
  return c;
}

const torch::Tensor& stored_tensor(const TensorMap& tensors, const std::string& name) {
  const auto found = tensors.find(name);
  GF_CHECK(found != tensors.end(), "tensor '", name, "' is missing");
  return found->second;
}

const torch::Tensor& stored_tensor(const TensorMap& tensors, const std::string& name,
                                   const std::vector<int64_t>& shape) {
  const auto& t = stored_tensor(tensors, name);
  bool fits = t.dim() == static_cast<int64_t>(shape.size());
  for (size_t i = 0; fits && i < shape.size(); ++i) fits = shape[i] < 0 || t.size(static_cast<int64_t>(i)) == shape[i];
  GF_CHECK(fits, "tensor '", name, "' has shape ", t.sizes(), ", expected ", c10::IntArrayRef(shape));
  return t;
}

}  // namespace gf
