// Imputation with any model that samples conditionally (ConditionalSampler: gmm, copula, bayesnet, tvae, rbm; or
// SequenceImputer: hmm, given each cell's whole sequence): missing cells of a table filled by the model's conditional expectation E[missing | observed] (single imputation), or by M draws from
// p(missing | observed) (multiple imputation, Rubin's sense: each a complete table; the spread of the draws is the
// uncertainty of the filled cells). Cells come back in the user's columns (categories as labels, integers rounded,
// standardisation undone); observed cells and columns the model does not use are copied unchanged.
//
//   auto model = gf::load_model("penguins-gmm.gf");
//   auto data = gf::data::load_source("penguins-with-gaps.csv", gf::DataKind::table);
//   gf::apps::Imputation r = gf::apps::impute(*model, data, {});     // r.filled
//   gf::apps::ImputeOptions twenty;
//   twenty.multiple = 20;
//   auto m = gf::apps::impute(*model, data, twenty);                 // m.draws[0..19]
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/data/table.h"
#include "genforge/model.h"
#include "genforge/registry.h"

namespace gf::apps {

struct ImputeOptions {
  int64_t multiple = 0;  // 0: the conditional mean; M >= 1: M draws
  uint64_t seed = 0;     // of the draws (and of the bootstrap)
  // Multiple imputation that also carries the uncertainty of the model's parameters (Rubin's "proper" imputation,
  // by the bootstrap): B fresh models with the saved model's options, each fitted on a bootstrap resample of the
  // data's rows, share the M draws. 0: every draw from the saved model (intervals too narrow when the model was
  // fitted on few rows).
  int64_t bootstrap = 0;
  void validate() const;
};

struct Imputation {
  Table filled;              // single imputation (multiple = 0)
  std::vector<Table> draws;  // multiple imputation: M complete tables
  int64_t missing_cells = 0;     // cells filled in each table (of the model's input columns)
  int64_t unused_missing = 0;    // missing cells of columns the model does not use (left missing)
  std::vector<std::string> filled_columns;  // the model's input columns
};

// Fills the missing cells of a table under `model`. With bootstrap > 0 the model is refitted B times (its kind
// must be registered). Models without ConditionalSampler are NotSupported (the error
// names those that have it); image data is NotSupported (see `genforge inpaint`).
Imputation impute(const Model& model, const data::Source& data, const ImputeOptions& options,
                  const OptionOverrides& overrides = {});
// The M tables of a multiple imputation as one long table: an `imputation` column (0 .. M-1), then the columns.
Table stack_imputations(const std::vector<Table>& draws);

}  // namespace gf::apps
