#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/data/readers.h"
#include "genforge/io/provenance.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_transform(int argc, char** argv) {
  CLI::App app("each item's part under a saved model -- mixture component (gmm, bgmm), hidden state (hmm), topic "
               "(lda) -- with every part's probability, or its code (vae, autoencoder, flow, rbm, dbn, dbm, tvae; a "
               "copula's normal scores)",
               "transform");
  app.allow_extras();
  std::string model_path, data, out;
  int64_t limit = 0;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("--data", data, "data of the kind the model was trained on")->required();
  app.add_option("--out,-o", out, "CSV: item, its name (file, sequence) when the data has one, then the part and "
                                  "p_PART_k columns, or z0, z1, … of the code")
      ->required();
  app.add_option("--limit", limit, "only the first N examples");
  app.add_flag("--json", json, "print the summary as JSON");
  app.footer("Data laid out differently from the training data: --columns a,b, --sequence-column ID. Settings of the "
             "saved model, e.g. an hmm's --decoder map (most probable state per step instead of the Viterbi path).");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto overrides = option_flags(app.remaining(), "transform");
  check_writable(out);
  auto opened = open_model(model_path, overrides);
  record_provenance_model(model_path, opened.model->kind());
  const auto source =
      data::load_source(data, opened.model->capabilities().data_kind, source_options(table_flags, limit));
  const TransformResult r = transform_source(*opened.model, source, opened.input_overrides);
  write_csv(out, r.per_item);
  if (json) {
    std::cout << r.summary.dump() << "\n";
  } else {
    std::cout << r.description << "\n" << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
