#include "genforge/data/tokenizers.h"

#include "genforge/core/error.h"
#include "genforge/data/text.h"

namespace gf {
namespace {

class CharTokens : public Tokenizer {
 public:
  explicit CharTokens(CharTokenizer t) : t_(std::move(t)) {}
  std::string kind() const override { return "char"; }
  int64_t size() const override { return t_.size(); }
  std::vector<int64_t> encode(const std::string& text, const std::string& what) const override {
    return t_.encode(text, what);
  }
  std::string decode(const std::vector<int64_t>& ids) const override { return t_.decode(ids); }
  int64_t newline_id() const override { return t_.id('\n'); }
  nlohmann::json to_json() const override { return {{"kind", "char"}, {"bytes", t_.bytes}}; }

 private:
  CharTokenizer t_;
};

}  // namespace

std::unique_ptr<Tokenizer> train_char_tokenizer(const std::string& text) {
  return std::make_unique<CharTokens>(CharTokenizer::build(text));
}

std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j) {
  try {
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "char") return std::make_unique<CharTokens>(CharTokenizer::from_bytes(j.at("bytes").get<std::vector<int>>()));
    throw ModelFileError(msg("unknown tokenizer kind '", kind, "' in the model"), "train the model again");
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("the model's tokenizer record is damaged: ", e.what()), "train the model again");
  }
}

}  // namespace gf
