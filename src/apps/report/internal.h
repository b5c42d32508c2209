// The pieces of `genforge report` (apps/report.h): what is gathered about a model, and its rendering as HTML.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "genforge/apps/report.h"
#include "genforge/data/table.h"
#include "genforge/viz/html.h"

namespace gf::apps::report {

// What the model produced (or --samples), in one of four forms.
struct Samples {
  enum class Form { images, table, texts, topics } form = Form::table;
  torch::Tensor images;  // [N, C, H, W] float in [0, 1]
  Table table;
  std::vector<std::string> texts;        // whole generated texts (shown)
  std::vector<std::string> lines;        // their lines of 12 characters or more (compared)
  std::vector<std::vector<std::string>> topics;
  std::string origin;    // "drawn from the model (seed 0)" or the --samples file
};

// The real items the memorisation check shows beside the samples, in the same form.
struct RealItems {
  torch::Tensor images;  // [M, C, H, W] float in [0, 1]
  Table table;
  std::vector<std::string> texts;
};

struct Page {
  std::string title;
  nlohmann::json card;                        // the model card
  std::vector<viz::SvgSeries> objective;      // the fit's objective per iteration
  std::string objective_name;
  std::vector<viz::SvgSeries> run_metrics;    // metrics.jsonl curves against step
  Samples samples;
  RealItems train;                            // for the memorisation pairs
  nlohmann::json metrics = nlohmann::json::object();
  std::optional<MemorisationCheck> memorisation;
  std::string feature_space;                  // where the distances are measured
  std::vector<CoverageCheck> coverage;
  std::vector<std::string> notes;             // what was left out, and why
};

std::string page_html(const Page& page);

}  // namespace gf::apps::report
