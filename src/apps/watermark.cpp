// Detecting the green-list text watermark (see the header).
#include "genforge/apps/watermark.h"

#include <cmath>
#include <set>
#include <utility>

#include "genforge/core/error.h"
#include "genforge/io/bytes.h"
#include "genforge/workflow.h"

namespace gf::apps {

uint64_t watermark_key(const std::string& secret) {
  GF_CHECK_AS(InvalidArgument, !secret.empty(), "give a secret phrase, e.g. --watermark-key 'our team key'",
              "the watermark key is empty");
  return std::stoull(sha256_hex(secret).substr(0, 16), nullptr, 16);
}

nlohmann::json WatermarkDetection::to_json() const {
  return {{"tokens", tokens}, {"scored", scored}, {"green", green}, {"green_fraction", green_fraction},
          {"z", z}, {"p_value", p_value}};
}

WatermarkDetection detect_watermark(const std::vector<int64_t>& tokens, const Watermark& watermark,
                                    bool count_repeats) {
  GenerateOptions check;
  check.watermark = watermark;
  check.validate();
  WatermarkDetection d;
  d.tokens = static_cast<int64_t>(tokens.size());
  d.green_fraction = watermark.green_fraction;
  std::set<std::pair<uint64_t, int64_t>> seen;
  // Tokens with their whole context in the text: the lists of the first ones depended on a prompt not given.
  for (size_t i = static_cast<size_t>(watermark.context_width); i < tokens.size(); ++i) {
    const uint64_t list = green_list_seed(watermark, tokens, i);
    if (!count_repeats && !seen.insert({list, tokens[i]}).second) continue;
    ++d.scored;
    if (is_green_token(list, tokens[i], watermark.green_fraction)) ++d.green;
  }
  GF_CHECK_AS(InvalidArgument, d.scored >= 2, "give a longer text: the test needs tens of tokens to say anything",
              "the text has ", d.tokens, " tokens, ", d.scored, " of them scored; at least 2 are needed");
  const double gamma = watermark.green_fraction, t = static_cast<double>(d.scored);
  d.z = (static_cast<double>(d.green) - gamma * t) / std::sqrt(t * gamma * (1 - gamma));
  d.p_value = 0.5 * std::erfc(d.z / std::sqrt(2.0));
  return d;
}

WatermarkDetection detect_watermark_text(const Model& model, const std::string& text, const Watermark& watermark,
                                         bool count_repeats) {
  as_text_generator(model);
  const Tokenizer* tokenizer = pipeline_of(model).tokenizer();
  GF_CHECK_AS(InvalidArgument, tokenizer != nullptr, "use the language model that generated the text",
              "the ", model.kind(), " model was trained on token ids and has no tokenizer");
  return detect_watermark(tokenizer->encode(text, "the text"), watermark, count_repeats);
}

double watermark_threshold(double false_positive_rate) {
  GF_CHECK(false_positive_rate > 0 && false_positive_rate < 1, "the false-positive rate must be in (0, 1), got ",
           false_positive_rate);
  // Φ^-1(1 - α) by bisection on the complementary error function: exact to 1e-12, no table needed.
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > false_positive_rate ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace gf::apps
