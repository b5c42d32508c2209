#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/readers.h"
#include "genforge/registry.h"
#include "genforge/viz/plot.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_score(int argc, char** argv) {
  CLI::App app("log-likelihood (nats) of data under a saved model: per row, sequence, document or line", "score");
  app.allow_extras();
  std::string model_path, data, out, confusion;
  int64_t limit = 0;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("--data", data, "data to score, of the kind the model was trained on")->required();
  app.add_option("--out,-o", out, "CSV with one log_likelihood per example (per sequence / line where grouped; a "
                                  "classifier: the predicted class and the class probabilities)");
  app.add_option("--limit", limit, "score only the first N examples");
  app.add_flag("--json", json, "print the summary as JSON");
  app.add_option("--confusion", confusion, "models that classify, on labelled data: the confusion matrix as a PNG");
  app.footer("Data laid out differently from the training data: --columns a,b (renames the model's inputs in order), "
             "--sequence-column ID, --weights W, --state-column S. Settings of the saved model for this scoring, "
             "e.g. an RBM's --estimator ais|exact|pseudo_likelihood|stochastic_pl --ais_runs N (see its doc page).");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto overrides = option_flags(app.remaining(), "score");
  if (!out.empty()) check_writable(out);
  if (!confusion.empty()) check_writable(confusion);
  auto opened = open_model(model_path, overrides);
  record_provenance_model(model_path, opened.model->kind());
  const auto& model = opened.model;
  const auto source = data::load_source(data, model->capabilities().data_kind, source_options(table_flags, limit));
  const ScoreResult r = score_source(*model, source, opened.input_overrides);
  if (!out.empty()) write_csv(out, r.per_example);
  if (!confusion.empty()) write_confusion(confusion, r, model->kind(), data);
  if (json) {
    std::cout << r.summary.dump() << "\n";
  } else {
    std::cout << r.description << "\n";
    if (!out.empty()) std::cout << "wrote " << out << "\n";
    if (!confusion.empty()) std::cout << "wrote " << confusion << "\n";
  }
  return 0;
}

}  // namespace gf::cli
