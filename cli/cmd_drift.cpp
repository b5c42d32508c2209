#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "genforge/io/provenance.h"
#include "genforge/apps/drift.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {

int run_drift(int argc, char** argv) {
  CLI::App app("has the data moved away from what the model was trained on? New data's scores against the score "
               "distribution kept in the model file (mean shift, Kolmogorov-Smirnov test)",
               "drift");
  app.allow_extras();
  std::string model_path, data, reference, out;
  int64_t limit = 0;
  bool json = false;
  apps::DriftOptions options;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("--data", data, "new data, of the kind the model was trained on")->required();
  app.add_option("--reference", reference,
                 "data to profile as the reference instead of the model file's record (files from before the record)");
  app.add_option("--out,-o", out, "PNG: the two score distributions on one plot");
  app.add_option("--alpha", options.alpha, "drift when the KS test's p-value is below this");
  app.add_option("--min-items", options.min_items, "fewer items: no verdict");
  app.add_option("--limit", limit, "use only the first N examples of --data");
  app.add_flag("--json", json, "print the report as JSON");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  options.validate();
  if (!out.empty()) check_writable(out);
  auto opened = open_model(model_path, option_flags(app.remaining(), "drift"));
  record_provenance_model(model_path, opened.model->kind());
  const Model& model = *opened.model;
  const DataKind kind = model.capabilities().data_kind;
  require_likelihood(model);
  std::optional<apps::ScoreProfile> profile;
  if (!reference.empty()) {
    const auto ref = data::load_source(reference, kind, source_options(table_flags));
    profile = apps::profile_scores(apps::item_scores(model, apps::spread_subset(ref, 5000), opened.input_overrides),
                                   "reference data (" + reference + ")");
  } else {
    profile = apps::stored_profile(model);
    GF_CHECK_AS(InvalidArgument, profile.has_value(),
                "give --reference DATA (e.g. the training data), or train the model again with this genforge",
                "'", model_path, "' holds no score profile (it was trained before genforge recorded one)");
  }
  const auto source = data::load_source(data, kind, source_options(table_flags, limit));
  const auto scores = apps::item_scores(model, source, opened.input_overrides);
  const apps::DriftReport report = apps::drift_test(*profile, scores, options);
  if (!out.empty()) {
    apps::write_drift_histogram(out, *profile, scores, "scores of " + std::filesystem::path(data).filename().string() + " vs the reference");
  }
  if (json) {
    auto j = report.to_json();
    j["reference"] = profile->on;
    std::cout << j.dump() << "\n";
  } else {
    std::cout << report.summary() << "\nreference: " << profile->on << "\n";
    if (!out.empty()) std::cout << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
