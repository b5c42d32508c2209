// SentencePiece tokens through the module built from plugins/sentencepiece (see the comment there for why it is a
// separate module opened with RTLD_DEEPBIND rather than a link-time dependency).
#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "genforge/core/error.h"
#include "genforge/io/bytes.h"
#include "genforge/core/runtime.h"
#include "genforge/data/tokenizers.h"

namespace gf {
namespace {

using BytesFn = void (*)(void*, const char*, size_t);
using IdsFn = void (*)(void*, const int*, size_t);

const char* const kModuleName = "libgenforge_sentencepiece.so";
const char* const kInstallHint =
    "install libsentencepiece-dev and rebuild (scripts/setup.sh does both), or set GENFORGE_SENTENCEPIECE_MODULE "
    "to the module's path";

struct Module {
  int (*train)(const char*, const char*, size_t, unsigned, BytesFn, void*, char*, size_t) = nullptr;
  void* (*load)(const char*, size_t, char*, size_t) = nullptr;
  void (*free)(void*) = nullptr;
  int (*size)(const void*) = nullptr;
  void (*piece)(const void*, int, BytesFn, void*) = nullptr;
  int (*encode)(const void*, const char*, size_t, IdsFn, void*) = nullptr;
  int (*decode)(const void*, const int*, size_t, BytesFn, void*) = nullptr;
  std::string error;  // why the module is unavailable ("" when loaded)
};

std::vector<std::string> module_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("GENFORGE_SENTENCEPIECE_MODULE")) out.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / kModuleName).string());
    out.push_back((exe.parent_path() / ".." / "lib" / "genforge" / kModuleName).string());
  }
#ifdef GF_SENTENCEPIECE_MODULE
  out.emplace_back(GF_SENTENCEPIECE_MODULE);  // the build tree's copy
#endif
  return out;
}

#if defined(__has_feature)  // clang names AddressSanitizer this way, gcc by __SANITIZE_ADDRESS__
#if __has_feature(address_sanitizer)
#define GF_HAS_ADDRESS_SANITIZER 1
#endif
#endif
#ifndef GF_HAS_ADDRESS_SANITIZER
#define GF_HAS_ADDRESS_SANITIZER 0
#endif

const Module& module() {
  static Module m;
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__SANITIZE_ADDRESS__) || GF_HAS_ADDRESS_SANITIZER
    // AddressSanitizer aborts the process on RTLD_DEEPBIND, and without it the two protobuf copies clash.
    m.error = "SentencePiece is unavailable in sanitizer builds (its module needs RTLD_DEEPBIND)";
    return;
#endif
    void* handle = nullptr;
    std::string tried;
    for (const auto& path : module_candidates()) {
      if (!std::filesystem::exists(path)) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      // RTLD_DEEPBIND: the module's protobuf copy must not bind to LibTorch's libprotobuf (and vice versa).
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (!handle) {
        m.error = msg("cannot open ", path, ": ", dlerror());
        return;
      }
      break;
    }
    if (!handle) {
      m.error = msg("genforge was built without SentencePiece (", kModuleName, " not found; looked at ", tried, ")");
      return;
    }
    auto sym = [&](const char* name) {
      void* p = dlsym(handle, name);
      if (!p && m.error.empty()) m.error = msg(kModuleName, " lacks ", name, ": rebuild genforge");
      return p;
    };
    m.train = reinterpret_cast<decltype(m.train)>(sym("gf_spm_train"));
    m.load = reinterpret_cast<decltype(m.load)>(sym("gf_spm_load"));
    m.free = reinterpret_cast<decltype(m.free)>(sym("gf_spm_free"));
    m.size = reinterpret_cast<decltype(m.size)>(sym("gf_spm_size"));
    m.piece = reinterpret_cast<decltype(m.piece)>(sym("gf_spm_piece"));
    m.encode = reinterpret_cast<decltype(m.encode)>(sym("gf_spm_encode"));
    m.decode = reinterpret_cast<decltype(m.decode)>(sym("gf_spm_decode"));
  });
  return m;
}

const Module& checked_module() {
  const Module& m = module();
  GF_CHECK_AS(NotSupported, m.error.empty(), kInstallHint, m.error);
  return m;
}

void append_bytes(void* ctx, const char* data, size_t size) { static_cast<std::string*>(ctx)->append(data, size); }

std::string model_bytes(const std::string& base64) {
  std::string bytes;
  GF_CHECK_AS(ModelFileError, base64_decode(base64, bytes), "train the model again",
              "the model's SentencePiece record is damaged (not base64)");
  return bytes;
}

// SentencePiece ids for each line, and one more id (the last) for the line break: SentencePiece treats its input
// as one sentence per line, so lines are encoded one at a time and joined by that token.
class SentencePieceTokens : public Tokenizer {
 public:
  SentencePieceTokens(std::string model, std::string model_type) : model_(std::move(model)), type_(std::move(model_type)) {
    const Module& m = checked_module();
    char err[512] = "";
    processor_ = m.load(model_.data(), model_.size(), err, sizeof(err));
    GF_CHECK_AS(ModelFileError, processor_ != nullptr, "give a model written by spm_train or by genforge",
                "SentencePiece cannot read the model: ", err);
    pieces_ = m.size(processor_);
  }
  ~SentencePieceTokens() override { module().free(processor_); }
  SentencePieceTokens(const SentencePieceTokens&) = delete;
  SentencePieceTokens& operator=(const SentencePieceTokens&) = delete;

  std::string kind() const override { return "sentencepiece"; }
  int64_t size() const override { return pieces_ + 1; }
  int64_t newline_id() const override { return pieces_; }

  std::vector<int64_t> encode(const std::string& text, const std::string&) const override {
    std::vector<int64_t> out;
    out.reserve(text.size() / 3);
    auto append_ids = [](void* ctx, const int* ids, size_t n) {
      auto* v = static_cast<std::vector<int64_t>*>(ctx);
      v->insert(v->end(), ids, ids + n);
    };
    size_t pos = 0;
    while (pos <= text.size()) {
      const size_t nl = std::min(text.find('\n', pos), text.size());
      if (nl > pos) {
        GF_CHECK_AS(InternalError, module().encode(processor_, text.data() + pos, nl - pos, append_ids, &out) == 0,
                    "report this", "SentencePiece failed to encode a line");
      }
      if (nl == text.size()) break;
      out.push_back(newline_id());
      pos = nl + 1;
    }
    return out;
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    std::vector<int> line;
    auto flush = [&] {
      if (line.empty()) return;
      GF_CHECK_AS(InternalError, module().decode(processor_, line.data(), line.size(), append_bytes, &out) == 0,
                  "report this", "SentencePiece failed to decode");
      line.clear();
    };
    for (int64_t id : ids) {
      GF_CHECK(id >= 0 && id < size(), "token id ", id, " is outside the vocabulary of ", size());
      if (id == newline_id()) {
        flush();
        out += '\n';
      } else {
        line.push_back(static_cast<int>(id));
      }
    }
    flush();
    return out;
  }

  std::string piece(int64_t id) const {
    if (id == newline_id()) return "\n";
    std::string out;
    module().piece(processor_, static_cast<int>(id), append_bytes, &out);
    return out;
  }

  nlohmann::json to_json() const override {
    return {{"kind", "sentencepiece"}, {"model_type", type_}, {"model", base64_encode(model_)}};
  }

 private:
  std::string model_;  // serialized ModelProto
  std::string type_;
  void* processor_ = nullptr;
  int pieces_ = 0;
};

}  // namespace

bool sentencepiece_available(std::string* why) {
  const Module& m = module();
  if (why) *why = m.error;
  return m.error.empty();
}

std::unique_ptr<Tokenizer> train_sentencepiece_tokenizer(const std::string& text, const SentencePieceOptions& o) {
  GF_CHECK(o.model_type == "bpe" || o.model_type == "unigram", "SentencePiece model_type must be bpe or unigram, got '",
           o.model_type, "'");
  GF_CHECK(o.vocab_size >= 300, "a SentencePiece vocabulary holds the 256 byte pieces, <unk> and the line break: ",
           "vocab_size >= 300, got ", o.vocab_size);
  GF_CHECK(o.character_coverage > 0 && o.character_coverage <= 1, "character_coverage must lie in (0, 1], got ",
           o.character_coverage);
  GF_CHECK_AS(DataError, text.find_first_not_of('\n') != std::string::npos, "give some text",
              "the text to train a tokenizer on is empty");
  const Module& m = checked_module();
  // Text is kept as written (identity normalisation, spaces as they are) and characters outside the vocabulary
  // fall back to their UTF-8 bytes, so every text round-trips; one id is reserved for the line break.
  std::ostringstream args;
  args << "--model_type=" << o.model_type << " --vocab_size=" << (o.vocab_size - 1)
       << " --character_coverage=" << o.character_coverage << " --byte_fallback=true"
       << " --normalization_rule_name=identity --remove_extra_whitespaces=false --split_digits=" << (o.split_digits ? "true" : "false")
       << " --bos_id=-1 --eos_id=-1 --unk_id=0 --hard_vocab_limit=" << (o.model_type == "bpe" ? "true" : "false")
       << " --max_sentence_length=" << o.max_sentence_length
       << " --num_threads=" << (o.threads > 0 ? o.threads : threads()) << " --minloglevel=2";
  std::string model;
  char err[1024] = "";
  const int rc = m.train(args.str().c_str(), text.data(), text.size(), o.seed, append_bytes, &model, err, sizeof(err));
  GF_CHECK_AS(DataError, rc == 0, "try a smaller --vocab-size or more text", "SentencePiece training failed: ", err);
  return std::make_unique<SentencePieceTokens>(std::move(model), o.model_type);
}

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_file) {
  std::ifstream in(model_file, std::ios::binary);
  GF_CHECK_AS(DataError, in.good(), "give the .model file written by spm_train", "cannot read '", model_file, "'");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  GF_CHECK_AS(DataError, !bytes.str().empty(), "give the .model file written by spm_train", "'", model_file,
              "' is empty");
  return std::make_unique<SentencePieceTokens>(bytes.str(), "file");
}

std::string sentencepiece_piece(const Tokenizer& t, int64_t id) {
  const auto* s = dynamic_cast<const SentencePieceTokens*>(&t);
  GF_CHECK(s != nullptr, "not a SentencePiece tokenizer: ", t.kind());
  GF_CHECK(id >= 0 && id < t.size(), "token id ", id, " is outside the vocabulary of ", t.size());
  return s->piece(id);
}

namespace detail {
std::unique_ptr<Tokenizer> sentencepiece_from_json(const nlohmann::json& j) {
  return std::make_unique<SentencePieceTokens>(model_bytes(j.at("model").get<std::string>()),
                                               j.at("model_type").get<std::string>());
}
}  // namespace detail

}  // namespace gf
