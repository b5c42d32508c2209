// GPT language model: the causal mask, KV-cache generation equal to recomputing the context, learning a
// pattern, the sampling filters, scoring windows, and bad input.
#include <gtest/gtest.h>

#include <array>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/random.h"
#include "genforge/data/source.h"
#include "genforge/models/gpt.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "models/gpt/attention_cpu.h"

#include <torch/autograd.h>
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// A small model trained briefly on a repeating pattern of 6 symbols ("abcabd" style) with a little noise.
const Gpt& small_model() {
  static const Gpt model = [] {
    GptOptions o;
    o.n_layer = 2;
    o.n_head = 2;
    o.n_embd = 32;
    o.block_size = 16;
    o.max_steps = 600;
    o.batch_size = 16;
    o.lr = 3e-3;
    o.warmup_steps = 20;
    o.checkpoint_every = 0;
    Gpt gpt(o);
    auto gen = make_generator(1);
    auto pattern = torch::tensor({0, 1, 2, 0, 1, 3}, torch::kLong);
    auto ids = pattern.repeat({800});
    auto noise = torch::rand({ids.numel()}, gen) < 0.02;
    ids = torch::where(noise, torch::full_like(ids, 4), ids);
    gpt.fit({ids.unsqueeze(1)}, quiet());
    return gpt;
  }();
  return model;
}

TEST(Gpt, FusedCpuAttentionEqualsTheOperatorFormulaWithGradients) {
  // softmax(q k^T / sqrt(D) + causal mask) v per head, written with LibTorch operators, against the fused operator:
  // head widths of the blocked kernels (16, 32, 64) and of the plain one (4), odd and even lengths.
  auto gen = make_generator(3);
  for (const auto& shape : std::vector<std::array<int64_t, 4>>{{2, 11, 3, 4}, {2, 37, 2, 32}, {1, 16, 3, 16},
                                                               {2, 9, 1, 64}, {1, 1, 2, 32}}) {
    const int64_t b = shape[0], t = shape[1], heads = shape[2], d = shape[3];  // lambdas cannot capture bindings
    const int64_t c = heads * d;
    auto qkv = torch::randn({b, t, 3 * c}, gen).set_requires_grad(true);
    auto weights = torch::randn({b, t, c}, gen);
    auto reference = [&](const torch::Tensor& in) {
      auto parts = in.view({b, t, 3, heads, d}).permute({2, 0, 3, 1, 4});
      auto mask = torch::full({t, t}, -std::numeric_limits<float>::infinity()).triu(1);
      auto att = torch::softmax(torch::matmul(parts[0], parts[1].transpose(-2, -1)) / std::sqrt(double(d)) + mask, -1);
      return torch::matmul(att, parts[2]).transpose(1, 2).reshape({b, t, c});
    };
    auto want = reference(qkv);
    auto got = gpt_cpu::causal_attention(qkv, heads);
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5)) << "T=" << t << " D=" << d << " " << (got - want).abs().max();
    auto g_want = torch::autograd::grad({(want * weights).sum()}, {qkv})[0];
    auto g_got = torch::autograd::grad({(got * weights).sum()}, {qkv})[0];
    EXPECT_TRUE(torch::allclose(g_got, g_want, 1e-4, 1e-4)) << "T=" << t << " D=" << d << " "
                                                             << (g_got - g_want).abs().max();
  }
}

TEST(Gpt, FutureTokensDoNotChangeEarlierLogits) {
  const auto& m = small_model();
  auto a = torch::tensor({{0, 1, 2, 0, 1, 3, 0, 1}}, torch::kLong);
  auto b = a.clone();
  b[0][5] = 4;
  b[0][7] = 2;
  auto la = m.logits(a), lb = m.logits(b);
  EXPECT_TRUE(torch::allclose(la.slice(1, 0, 5), lb.slice(1, 0, 5), 0, 0));  // positions before the first change
  EXPECT_FALSE(torch::allclose(la.slice(1, 5, 6), lb.slice(1, 5, 6)));
}

TEST(Gpt, KvCacheGenerationEqualsRecomputingTheContext) {
  const auto& m = small_model();
  GenerateOptions g;
  g.max_tokens = 60;  // beyond the 16-token context: the window restarts several times
  auto g1 = make_generator(7), g2 = make_generator(7);
  auto cached = m.generate(torch::tensor({0, 1}, torch::kLong), g, g1);
  g.use_cache = false;
  auto full = m.generate(torch::tensor({0, 1}, torch::kLong), g, g2);
  EXPECT_TRUE(torch::equal(cached, full));
  EXPECT_EQ(cached.numel(), 60);
}

TEST(Gpt, LearnsThePatternAndScoresIt) {
  const auto& m = small_model();
  GenerateOptions g;
  g.temperature = 0;  // greedy
  g.max_tokens = 12;
  auto gen = make_generator(0);
  auto out = m.generate(torch::tensor({0, 1, 2, 0, 1}, torch::kLong), g, gen);
  EXPECT_TRUE(torch::equal(out, torch::tensor({3, 0, 1, 2, 0, 1, 3, 0, 1, 2, 0, 1}, torch::kLong))) << out;
  // Per-token log-likelihood of clean pattern text: the deterministic steps cost little; the first positions
  // (no context yet) and the 2-way choices after "0 1" cost more.
  auto text = torch::tensor({0, 1, 2, 0, 1, 3}, torch::kLong).repeat({10});
  auto ll = m.score_samples(text.unsqueeze(1));
  ASSERT_EQ(ll.numel(), 60);
  EXPECT_GT(ll.mean().item<double>(), -0.5) << ll;
  // Tokens inside the first window are scored from exactly the preceding tokens and start_token.
  auto with_start = torch::cat({torch::zeros({1}, torch::kLong), text.slice(0, 0, 15)}).unsqueeze(0);
  auto logp = torch::log_softmax(m.logits(with_start)[0].to(torch::kFloat64), -1);
  EXPECT_NEAR(ll[9].item<double>(), logp[9][text[9].item<int64_t>()].item<double>(), 1e-5);
}

TEST(Gpt, SamplingFilters) {
  const auto& m = small_model();
  auto prompt = torch::tensor({0, 1}, torch::kLong);
  auto run = [&](GenerateOptions g, uint64_t seed) {
    auto gen = make_generator(seed);
    return m.generate(prompt, g, gen);
  };
  GenerateOptions greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 20;
  GenerateOptions top1 = greedy;
  top1.temperature = 1.0;
  top1.top_k = 1;
  EXPECT_TRUE(torch::equal(run(greedy, 1), run(top1, 2)));  // top-1 sampling is greedy, whatever the seed
  GenerateOptions nucleus = top1;
  nucleus.top_k = 0;
  nucleus.top_p = 1e-9;  // only the most likely token survives
  EXPECT_TRUE(torch::equal(run(greedy, 1), run(nucleus, 3)));
  GenerateOptions minp = top1;
  minp.top_k = 0;
  minp.min_p = 0.999;  // tokens below 99.9 % of the best one's probability are dropped
  EXPECT_TRUE(torch::equal(run(greedy, 1), run(minp, 4)));
  // A stop sequence ends generation right after it (kept in the output).
  GenerateOptions stop = greedy;
  stop.stop = {{0, 1, 3}};
  auto out = run(stop, 1);
  ASSERT_GE(out.numel(), 3);
  EXPECT_TRUE(torch::equal(out.slice(0, out.numel() - 3), torch::tensor({0, 1, 3}, torch::kLong))) << out;
  EXPECT_LT(out.numel(), 20);
  // A strong repetition penalty steers greedy decoding away from tokens already in the context.
  GenerateOptions penalised = greedy;
  penalised.max_tokens = 1;
  penalised.repetition_penalty = 1e6;
  auto next = run(penalised, 1).item<int64_t>();
  EXPECT_NE(next, 0);
  EXPECT_NE(next, 1);
}

TEST(Gpt, BadInputGetsClearErrors) {
  const auto& m = small_model();
  GenerateOptions g;
  auto gen = make_generator(0);
  try {
    m.generate(torch::zeros({17}, torch::kLong), g, gen);
    FAIL() << "accepted a prompt longer than the context";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "the prompt has 17 tokens, longer than the model's context of 16");
  }
  try {
    m.score_samples(torch::tensor({0, 1, 9}, torch::kLong).unsqueeze(1));
    FAIL() << "scored a token outside the vocabulary";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "token id 9 at position 2 is outside the model's vocabulary of 5 tokens");
  }
  g.top_p = 0;
  EXPECT_THROW(m.generate({}, g, gen), InvalidArgument);
  GptOptions o;
  o.n_embd = 30;
  o.n_head = 4;
  EXPECT_THROW(o.validate(), InvalidArgument);
  GptOptions tiny;
  tiny.block_size = 64;
  Gpt gpt(tiny);
  try {
    gpt.fit({torch::arange(10, torch::kLong).unsqueeze(1)}, quiet());
    FAIL() << "trained on too little text";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the text for training has 10 tokens; one training window needs block_size + 1 = 65");
  }
}

// Whether `s` is well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF).
bool well_formed_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t len = b < 0x80 ? 1 : b >= 0xC2 && b < 0xE0 ? 2 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xF0 && b < 0xF5 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t c = len == 1 ? b : b & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) return false;
      c = (c << 6) | (cb & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// A byte-level model of UTF-8 text, barely trained, samples byte sequences that are not UTF-8: `generate` shows
// them as U+FFFD rather than printing broken bytes, and keeps the prompt as given.
TEST(Gpt, GeneratedTextIsWellFormedUtf8) {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Café crème — naïve façade, 日本語のテキスト. Ελληνικά.\n";
  test::write_text(dir.file("t.txt"), text);
  auto lm = create_model("gpt", {}, {{"tokenizer", "bpe"}, {"vocab_size", "300"}, {"n_layer", "1"}, {"n_embd", "16"},
                                     {"n_head", "2"}, {"block_size", "16"}, {"max_steps", "2"}});
  fit_source(*lm, data::load_source(dir.file("t.txt"), DataKind::text), quiet());
  GenerateOptions g;
  g.max_tokens = 200;
  g.temperature = 1.5;
  int replaced = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    auto gen = make_generator(seed);
    const std::string out = generate_text(*lm, "Café ", g, {}, gen).text;
    EXPECT_EQ(out.substr(0, 6), "Café ");
    EXPECT_TRUE(well_formed_utf8(out)) << out;
    replaced += out.find("\xEF\xBF\xBD") != std::string::npos;
  }
  EXPECT_GT(replaced, 0) << "no replacement character in 5 samples: the test lost its point";
}

}  // namespace
}  // namespace gf
