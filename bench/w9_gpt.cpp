// W9 (../shared/WORKLOADS.md): character-level GPT (4 layers, 4 heads, width 128, context 128, tied output) on
// bench-data/brown_chars.txt, as the nanoGPT peer: vocabulary = sorted characters, first 90 % train, last 10 %
// validation; batch 32 x 128, AdamW lr 1e-3 constant, betas (0.9, 0.99), weight decay 0.1 on matrices, clipping
// 1.0, 150 steps. Timed: the whole fit() of 150 steps (the peer times 50 steps after 5 warm-up ones, so this is
// conservative for genforge). Validation: mean cross-entropy over the peer's 640 fixed windows. Sampling: 500
// tokens after '\n', temperature 1, KV cache.
// Usage: gf_bench_w9_gpt BENCH_DATA_DIR THREADS [STEPS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/data/pipeline.h"
#include "genforge/models/gpt.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s BENCH_DATA_DIR THREADS [STEPS]\n", argv[0]);
    return 2;
  }
  gf::set_threads(std::atoi(argv[2]));
  const int64_t steps = argc == 4 ? std::atoll(argv[3]) : 150;
  // The text through the library: a character tokenizer (the sorted set of the text's bytes, nanoGPT's vocabulary).
  const auto source = gf::data::load_source(std::string(argv[1]) + "/brown_chars.txt", gf::DataKind::text);
  gf::data::InputPipeline pipeline(gf::DataKind::text, {});
  const gf::Dataset tokens = pipeline.fit_transform(source);
  const int64_t vocab = tokens.n_symbols;
  auto all = tokens.x.reshape({-1});
  const int64_t n = all.numel(), n_train = static_cast<int64_t>(0.9 * static_cast<double>(n));
  auto train = all.slice(0, 0, n_train), val = all.slice(0, n_train, n);
  gf::GptOptions o;
  o.max_steps = steps;
  o.schedule = "constant";
  o.warmup_steps = 0;
  o.checkpoint_every = 0;
  o.log_every = 50;
  o.vocab_size = vocab;
  o.start_token = tokens.start_symbol;  // the line break
  gf::Gpt gpt(o);
  gf::FitContext ctx;
  ctx.progress = false;
  auto t0 = std::chrono::steady_clock::now();
  gpt.fit({train.unsqueeze(1)}, ctx);
  const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The peer's 640 validation windows.
  double loss = 0;
  for (int64_t b = 0; b < 640; b += 32) {
    std::vector<torch::Tensor> xs, ys;
    for (int64_t k = b; k < b + 32; ++k) {
      xs.push_back(val.slice(0, 128 * k, 128 * k + 128));
      ys.push_back(val.slice(0, 128 * k + 1, 128 * k + 129));
    }
    auto logits = gpt.logits(torch::stack(xs));
    loss += torch::cross_entropy_loss(logits.reshape({-1, vocab}), torch::stack(ys).reshape({-1})).item<double>();
  }
  loss /= 20;
  auto gen = gf::make_generator(0);
  gf::GenerateOptions g;
  g.max_tokens = 500;
  t0 = std::chrono::steady_clock::now();
  auto out = gpt.generate({}, g, gen);
  const double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  g.use_cache = false;
  g.max_tokens = 100;
  auto gen2 = gf::make_generator(0);
  t0 = std::chrono::steady_clock::now();
  gpt.generate({}, g, gen2);
  const double uncached_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto first = out.slice(0, 0, std::min<int64_t>(120, out.numel())).contiguous();
  const std::string head =
      pipeline.tokenizer()->decode(std::vector<int64_t>(first.data_ptr<int64_t>(), first.data_ptr<int64_t>() + first.numel()));
  nlohmann::json j = {{"threads", gf::threads()},
                      {"vocab", vocab},
                      {"params", gpt.n_parameters()},
                      {"steps", steps},
                      {"fit_s", fit_s},
                      {"s_per_step", fit_s / static_cast<double>(steps)},
                      {"train_tokens_per_s", static_cast<double>(steps * 32 * 128) / fit_s},
                      {"val_loss", loss},
                      {"sample_tokens_per_s", 500.0 / sample_s},
                      {"uncached_sample_tokens_per_s", 100.0 / uncached_s},
                      {"sample_head", head}};
  std::cout << j.dump() << "\n";
  return 0;
}
