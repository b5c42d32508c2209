// SentencePiece behind a C interface, built as its own shared module (libgenforge_sentencepiece.so) and opened by
// src/data/sentencepiece.cpp with RTLD_DEEPBIND. Why a module: Debian's libsentencepiece carries its own copy of
// protobuf 3.14 with default visibility, while Debian's LibTorch loads libprotobuf 3.21; linked into one program
// the two resolve to each other's symbols and the process aborts before main. Opened with RTLD_DEEPBIND, this
// module and its libraries look symbols up in their own scope first. Only plain C types cross the boundary, and
// everything allocated here is freed here.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace sentencepiece {
void SetRandomGeneratorSeed(unsigned int seed);
namespace logging {
void SetMinLogLevel(int level);
}  // namespace logging
}  // namespace sentencepiece

extern "C" {
typedef void (*gf_spm_bytes_fn)(void* ctx, const char* data, size_t size);
typedef void (*gf_spm_ids_fn)(void* ctx, const int* ids, size_t count);
}

namespace {

void put_error(const std::string& what, char* err, size_t cap) {
  if (cap == 0) return;
  const size_t n = std::min(what.size(), cap - 1);
  std::memcpy(err, what.data(), n);
  err[n] = '\0';
}

// Sentences for the trainer: the lines of the caller's text, read in place.
class Lines : public sentencepiece::SentenceIterator {
 public:
  Lines(const char* text, size_t size) : text_(text), size_(size) { Next(); }
  bool done() const override { return done_; }
  void Next() override {
    while (pos_ <= size_) {
      const void* nl = std::memchr(text_ + pos_, '\n', size_ - pos_);
      const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text_) : size_;
      line_.assign(text_ + pos_, end - pos_);
      pos_ = end + 1;
      if (!line_.empty()) return;
    }
    done_ = true;
  }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const char* text_;
  size_t size_;
  size_t pos_ = 0;
  std::string line_;
  bool done_ = false;
};

}  // namespace

extern "C" {

int gf_spm_abi_version() { return 1; }

// Trains on the lines of `text` with trainer flags `args` ("--vocab_size=8000 --model_type=bpe ..."); the
// serialized model goes to `out`. Returns 0, or 1 with the reason in `err`.
int gf_spm_train(const char* args, const char* text, size_t size, unsigned seed, gf_spm_bytes_fn out, void* ctx,
                 char* err, size_t err_cap) {
  try {
    sentencepiece::logging::SetMinLogLevel(2);
    sentencepiece::SetRandomGeneratorSeed(seed);
    Lines lines(text, size);
    std::string model;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &model);
    if (!status.ok()) {
      put_error(status.ToString(), err, err_cap);
      return 1;
    }
    out(ctx, model.data(), model.size());
    return 0;
  } catch (const std::exception& e) {
    put_error(e.what(), err, err_cap);
    return 1;
  }
}

// A processor from a serialized model, or null with the reason in `err`. Free it with gf_spm_free.
void* gf_spm_load(const char* model, size_t size, char* err, size_t err_cap) {
  try {
    sentencepiece::logging::SetMinLogLevel(2);
    auto* p = new sentencepiece::SentencePieceProcessor();
    const auto status = p->LoadFromSerializedProto(std::string(model, size));
    if (!status.ok()) {
      put_error(status.ToString(), err, err_cap);
      delete p;
      return nullptr;
    }
    return p;
  } catch (const std::exception& e) {
    put_error(e.what(), err, err_cap);
    return nullptr;
  }
}

void gf_spm_free(void* processor) { delete static_cast<sentencepiece::SentencePieceProcessor*>(processor); }

int gf_spm_size(const void* processor) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->GetPieceSize();
}

// The piece of `id` in SentencePiece's spelling (U+2581 for spaces, <0x0A> for byte pieces).
void gf_spm_piece(const void* processor, int id, gf_spm_bytes_fn out, void* ctx) {
  const auto& piece = static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->IdToPiece(id);
  out(ctx, piece.data(), piece.size());
}

int gf_spm_encode(const void* processor, const char* text, size_t size, gf_spm_ids_fn out, void* ctx) {
  std::vector<int> ids;
  const auto status =
      static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->Encode(std::string(text, size), &ids);
  if (!status.ok()) return 1;
  out(ctx, ids.data(), ids.size());
  return 0;
}

int gf_spm_decode(const void* processor, const int* ids, size_t count, gf_spm_bytes_fn out, void* ctx) {
  std::string text;
  const auto status = static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->Decode(
      std::vector<int>(ids, ids + count), &text);
  if (!status.ok()) return 1;
  out(ctx, text.data(), text.size());
  return 0;
}

}  // extern "C"
