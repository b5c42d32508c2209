// Detecting the text watermark of GenerateOptions::watermark (Kirchenbauer et al. 2023). Each token after the
// first context_width is green or not under the key and the tokens before it; without the watermark a token is green with
// probability γ (the green fraction), so the count g of green tokens among T scored ones has the one-sided
// z-score z = (g - γT) / sqrt(T γ (1 - γ)) and p-value 1 - Φ(z). Repeated (context, token) pairs are scored once
// by default: repetitive text would otherwise count the same green pair many times and overstate z.
//
//   GenerateOptions g;  g.watermark = {gf::apps::watermark_key("secret"), 2.0, 0.25, 1};  // key, δ, γ, h
//   auto text = gf::generate_text(*gpt, "The jury", g, {}, gen).text;
//   auto test = gf::apps::detect_watermark_text(*gpt, text, g.watermark);  // test.z, test.p_value
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "genforge/model.h"
#include "genforge/model_interfaces.h"

namespace gf::apps {

// A 64-bit key from a secret phrase (the first 8 bytes of its SHA-256), so any text can serve as the key.
uint64_t watermark_key(const std::string& secret);

struct WatermarkDetection {
  int64_t tokens = 0;  // in the text
  int64_t scored = 0;  // (context, token) pairs counted: all but the first context_width, repeats once unless asked
  int64_t green = 0;
  double green_fraction = 0.25;
  double z = 0;        // (green - γ scored) / sqrt(scored γ (1 - γ))
  double p_value = 1;  // one-sided normal tail: chance of so many green tokens in text without the watermark
  nlohmann::json to_json() const;
};

// Token ids of the text, in order. InvalidArgument when fewer than 2 tokens are scored.
WatermarkDetection detect_watermark(const std::vector<int64_t>& tokens, const Watermark& watermark,
                                    bool count_repeats = false);
// The same on text, tokenized by the model's tokenizer (a language model trained on text).
WatermarkDetection detect_watermark_text(const Model& model, const std::string& text, const Watermark& watermark,
                                         bool count_repeats = false);
// The z-score beyond which text is called watermarked at a false-positive rate (one-sided normal quantile).
double watermark_threshold(double false_positive_rate);

}  // namespace gf::apps
