#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/eval/topics.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_topics(int argc, char** argv) {
  CLI::App app("the top words of each topic of a topic model (lda), with their coherence", "topics");
  std::string model_path, data;
  int64_t n = 10;
  bool json = false;
  CommonFlags common;
  app.add_option("model", model_path, "topic model file (.gf)")->required();
  app.add_option("-n", n, "words per topic");
  app.add_option("--data", data, "reference documents for UMass and NPMI coherence (usually the training data)");
  app.add_flag("--json", json, "print as JSON");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  auto model = load_model(model_path);
  as_topic_model(*model, model_path);
  const auto words = topic_words(*model, n);
  const auto tops = as_topic_model(*model).top_words(n);
  std::vector<std::string> shared;  // stop words: among the top words of most topics
  const Vocabulary* vocabulary = pipeline_of(*model).vocabulary();
  for (int64_t w : eval::words_in_most_topics(tops)) {
    shared.push_back(vocabulary->words[static_cast<size_t>(w)]);
  }
  if (!shared.empty()) {
    log::warn(msg(join_names(shared), shared.size() == 1 ? " is" : " are",
                  " among the top words of most topics: stop words, which make the topics look alike; train again "
                  "without them: --max_df F drops the words in more than a fraction F of the documents"));
  }
  eval::Coherence umass, npmi;
  if (!data.empty()) {
    const auto docs = encode_documents(*model, data::load_source(data, DataKind::documents));
    umass = eval::umass_coherence(tops, docs);
    npmi = eval::npmi_coherence(tops, docs);
  }
  nlohmann::json out = nlohmann::json::array();
  for (size_t t = 0; t < words.size(); ++t) {
    nlohmann::json row = {{"topic", t}, {"words", words[t]}};
    if (!data.empty()) {
      row["umass"] = umass.per_topic[t];
      row["npmi"] = npmi.per_topic[t];
    }
    out.push_back(row);
  }
  if (json) {
    nlohmann::json all = {{"topics", out}, {"words_in_most_topics", shared}};
    if (!data.empty()) all["umass_mean"] = umass.mean, all["npmi_mean"] = npmi.mean;
    std::cout << all.dump(2) << "\n";
    return 0;
  }
  for (const auto& row : out) {
    std::cout << "topic " << row["topic"].get<int64_t>() << ":";
    for (const auto& w : row["words"]) std::cout << " " << w.get<std::string>();
    if (!data.empty()) std::printf("   (UMass %.2f, NPMI %.3f)", row["umass"].get<double>(), row["npmi"].get<double>());
    std::cout << "\n";
  }
  if (!data.empty()) std::printf("mean UMass %.3f, mean NPMI %.4f\n", umass.mean, npmi.mean);
  return 0;
}

}  // namespace gf::cli
