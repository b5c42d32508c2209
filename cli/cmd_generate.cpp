#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/apps/watermark.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/io/provenance.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_generate(int argc, char** argv) {
  CLI::App app("continue a prompt with a language model (gpt)", "generate");
  std::string model_path, prompt, out;
  std::vector<std::string> stops;
  GenerateOptions g;
  std::optional<uint64_t> seed;
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
  app.add_option("--seed", seed, "random seed (default: a fresh one, printed to stderr)");
  std::string watermark_secret;
  g.watermark.strength = 2.0;
  app.add_option("--watermark-key", watermark_secret,
                 "watermark the text with this secret (green-list bias; `genforge watermark detect` finds it)");
  app.add_option("--watermark-strength", g.watermark.strength, "logit bias δ of the green tokens")->capture_default_str();
  app.add_option("--watermark-fraction", g.watermark.green_fraction, "share γ of the vocabulary that is green")
      ->capture_default_str();
  app.add_option("--watermark-context", g.watermark.context_width,
                 "previous tokens that pick the green list (more for small vocabularies, e.g. characters)")
      ->capture_default_str();
  app.add_option("--out,-o", out, "write the prompt and its continuation here instead of stdout");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  if (!out.empty()) check_writable(out);
  if (app.count("--watermark-key") == 0) {
    g.watermark.strength = 0;
  } else {
    g.watermark.key = apps::watermark_key(watermark_secret);  // an empty secret is an error
  }
  auto model = load_model(model_path);
  record_provenance_model(model_path, model->kind());
  as_text_generator(*model, model_path);
  auto gen = make_generator(resolve_seed(seed));
  const GeneratedText result = generate_text(*model, prompt, g, stops, gen);
  if (!result.notice.empty()) std::cerr << "notice: " << result.notice << "\n";
  if (out.empty()) {
    std::cout << result.text << (result.text.empty() || result.text.back() != '\n' ? "\n" : "");
  } else {
    write_file_atomic(out, [&](std::ostream& o) { o << result.text; });
    write_provenance_sidecar(out);
    std::cout << "generated " << result.new_tokens << " tokens; wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
