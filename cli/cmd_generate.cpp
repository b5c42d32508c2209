#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/text.h"
#include "genforge/models/gpt.h"
#include "genforge/registry.h"

namespace gf::cli {

// The tokenizer a language model was trained with (kept in its schema by `genforge train`).
std::unique_ptr<Tokenizer> model_tokenizer(const Model& model, const std::string& path) {
  GF_CHECK_AS(InvalidArgument, model.schema().contains("tokenizer"),
              "train the model from text with genforge train gpt --data FILE", "'", path,
              "' was trained on token ids and has no tokenizer");
  return tokenizer_from_json(model.schema()["tokenizer"]);
}

int run_generate(int argc, char** argv) {
  CLI::App app("continue a prompt with a language model (gpt)", "generate");
  std::string model_path, prompt, out;
  std::vector<std::string> stops;
  GenerateOptions g;
  int64_t seed = 0;
  CommonFlags common;
  app.add_option("model", model_path, "language model file (.gf)")->required();
  app.add_option("--prompt,-p", prompt, "text to continue (default: the start token, a line break)");
  app.add_option("-n,--max-tokens", g.max_tokens, "most tokens to generate");
  app.add_option("--temperature,-t", g.temperature, "sampling temperature (0: greedy)");
  app.add_option("--top-k", g.top_k, "keep the k most likely tokens (0: all)");
  app.add_option("--top-p", g.top_p, "nucleus: keep the most likely tokens holding this much probability");
  app.add_option("--min-p", g.min_p, "drop tokens below min-p times the most likely one's probability");
  app.add_option("--repetition-penalty", g.repetition_penalty, "> 1 discourages tokens already in the context");
  app.add_option("--stop", stops, "stop after this text (repeatable)");
  app.add_option("--seed", seed, "random seed");
  app.add_option("--out,-o", out, "write the prompt and its continuation here instead of stdout");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  if (!out.empty()) check_writable(out);
  auto model = load_model(model_path);
  auto* gpt = dynamic_cast<Gpt*>(model.get());
  GF_CHECK_AS(InvalidArgument, gpt != nullptr, "give a model trained by genforge train gpt", "'", model_path,
              "' holds a ", model->kind(), " model, which does not generate text");
  const auto tokens = model_tokenizer(*model, model_path);
  for (const auto& s : stops) {
    GF_CHECK(!s.empty(), "--stop needs some text");
    g.stop.push_back(tokens->encode(s, "--stop"));
  }
  torch::Tensor prompt_ids;
  if (!prompt.empty()) prompt_ids = torch::tensor(tokens->encode(prompt, "the prompt"), torch::kLong);
  auto gen = make_generator(static_cast<uint64_t>(seed));
  auto ids = gpt->generate(prompt_ids, g, gen);
  const std::string text = prompt + tokens->decode(std::vector<int64_t>(ids.data_ptr<int64_t>(),
                                                                       ids.data_ptr<int64_t>() + ids.numel()));
  if (out.empty()) {
    std::cout << text << (text.empty() || text.back() != '\n' ? "\n" : "");
  } else {
    write_file_atomic(out, [&](std::ostream& o) { o << text; });
    std::cout << "generated " << ids.numel() << " tokens; wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
