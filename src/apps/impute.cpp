#include "genforge/apps/impute.h"

#include <algorithm>
#include <memory>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/model_interfaces.h"
#include "genforge/workflow.h"

namespace gf::apps {
namespace {

// The hint's list: conditional samplers of tables and sequences (image models fill pixels through `genforge
// inpaint`).
bool samples_conditionally(const Model& m) {
  return (dynamic_cast<const ConditionalSampler*>(&m) != nullptr && m.capabilities().data_kind != DataKind::images) ||
         dynamic_cast<const SequenceImputer*>(&m) != nullptr;
}

// The conditional mean and m draws [m, N, D] of a model's missing cells: rows one by one (ConditionalSampler) or
// whole sequences (SequenceImputer, with the data's sequence lengths).
torch::Tensor fill_mean(const Model& model, const Dataset& ds) {
  if (const auto* seq = dynamic_cast<const SequenceImputer*>(&model)) return seq->sequence_mean(ds.x, ds.lengths);
  return dynamic_cast<const ConditionalSampler&>(model).conditional_mean(ds.x);
}
torch::Tensor fill_draws(const Model& model, const Dataset& ds, int64_t m, at::Generator& gen) {
  if (const auto* seq = dynamic_cast<const SequenceImputer*>(&model)) return seq->sequence_samples(ds.x, ds.lengths, m, gen);
  return dynamic_cast<const ConditionalSampler&>(model).conditional_samples(ds.x, m, gen);
}

// `data` with the missing cells of the model's input columns taken from `decoded` (the model's rows decoded to
// the user's columns). Categories are matched by label.
Table merge(const Table& data, const Table& decoded, const std::vector<std::string>& inputs) {
  Table out(data.source());
  for (const Column& original : data.columns()) {
    Column c = original;
    if (std::find(inputs.begin(), inputs.end(), c.name) != inputs.end()) {
      const Column& d = decoded.column(c.name);
      for (size_t i = 0; i < c.size(); ++i) {
        if (!c.missing[i] || d.missing[i]) continue;
        if (c.type == ColumnType::categorical) {
          const std::string& label = d.categories[static_cast<size_t>(d.values[i])];
          auto it = std::find(c.categories.begin(), c.categories.end(), label);
          if (it == c.categories.end()) it = c.categories.insert(c.categories.end(), label);
          c.values[i] = static_cast<double>(it - c.categories.begin());
        } else {
          c.values[i] = d.values[i];
        }
        c.missing[i] = 0;
      }
    }
    out.add_column(std::move(c));
  }
  return out;
}

// A fresh model with `model`'s options fitted on a bootstrap resample of the rows of `data`. A resample that leaves
// out a category the data uses (the model could not read the data then) is drawn again.
std::unique_ptr<Model> bootstrap_fit(const Model& model, const data::Source& data, at::Generator& gen) {
  const int64_t n = static_cast<int64_t>(data.table.n_rows());
  for (int attempt = 0;; ++attempt) {
    auto rows = at::randint(n, {n}, gen, torch::kLong).contiguous();
    data::Source resample = data;
    resample.table = take_rows(data.table, std::vector<int64_t>(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + n));
    auto fresh = model_info(model.kind()).create(model.options_json());
    fresh->set_pipeline_options(pipeline_of(model).options());
    FitContext ctx;
    ctx.progress = false;
    try {
      fit_source(*fresh, resample, ctx);
      prepare(*fresh, data);
      return fresh;
    } catch (const DataError&) {
      if (attempt >= 20) throw;
    }
  }
}

}  // namespace

void ImputeOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, multiple >= 0 && multiple <= 10000, "give --multiple M with 1 <= M <= 10000 (or 0)",
              "the number of imputations must be in 0..10000, got ", multiple);
  GF_CHECK_AS(InvalidArgument, bootstrap >= 0 && bootstrap <= std::max<int64_t>(multiple, 0) && (bootstrap == 0 || multiple > 0),
              "give --bootstrap B with 1 <= B <= M, together with --multiple M",
              "--bootstrap must be between 1 and the number of imputations (", multiple, "), got ", bootstrap);
}

Imputation impute(const Model& model, const data::Source& data, const ImputeOptions& options,
                  const OptionOverrides& overrides) {
  options.validate();
  GF_CHECK_AS(NotSupported,
              dynamic_cast<const ConditionalSampler*>(&model) != nullptr ||
                  dynamic_cast<const SequenceImputer*>(&model) != nullptr,
              "use a model that samples given the observed cells: " +
                  join_names(registered_models_with(samples_conditionally)),
              "a ", model.kind(), " model cannot fill in missing cells of a table");
  GF_CHECK_AS(NotSupported, data.form == DataKind::table, "fill in images with `genforge inpaint`", "'", data.spec,
              "' is not a table");
  const auto& pipeline = pipeline_of(model);
  Imputation r;
  r.filled_columns = pipeline.input_columns();
  for (const Column& c : data.table.columns()) {
    const bool used = std::find(r.filled_columns.begin(), r.filled_columns.end(), c.name) != r.filled_columns.end();
    (used ? r.missing_cells : r.unused_missing) += static_cast<int64_t>(c.n_missing());
  }
  const Dataset ds = prepare(model, data, overrides);  // [N, D], NaN where missing
  // Rows with every cell missing have nothing to condition on: they are drawn from (or set to the mean of) the
  // model's marginal, which the conditional sampler does with an empty condition.
  if (options.multiple == 0) {
    r.filled = merge(data.table, samples_table(model, fill_mean(model, ds)), r.filled_columns);
    return r;
  }
  auto gen = make_generator(options.seed);
  if (options.bootstrap == 0) {
    const auto draws = fill_draws(model, ds, options.multiple, gen);  // [M, N, D]
    for (int64_t m = 0; m < options.multiple; ++m) {
      r.draws.push_back(merge(data.table, samples_table(model, draws[m]), r.filled_columns));
    }
    return r;
  }
  for (int64_t b = 0; b < options.bootstrap; ++b) {
    const auto fresh = bootstrap_fit(model, data, gen);
    const Dataset fresh_ds = prepare(*fresh, data);
    // Each of the B models gives M / B of the draws (the first M mod B models one more).
    const int64_t share = (options.multiple - b + options.bootstrap - 1) / options.bootstrap;
    const auto draws = fill_draws(*fresh, fresh_ds, share, gen);  // [share, N, D]
    for (int64_t i = 0; i < share; ++i) {
      r.draws.push_back(merge(data.table, samples_table(*fresh, draws[i]), r.filled_columns));
    }
  }
  return r;
}

Table stack_imputations(const std::vector<Table>& draws) {
  GF_CHECK(!draws.empty(), "no imputations to stack");
  Table out;
  for (size_t m = 0; m < draws.size(); ++m) {
    Table t(draws[m].source());
    Column index{"imputation"};
    index.type = ColumnType::integer;
    index.values.assign(draws[m].n_rows(), static_cast<double>(m));
    index.missing.assign(draws[m].n_rows(), 0);
    t.add_column(std::move(index));
    for (const Column& c : draws[m].columns()) t.add_column(c);
    append_rows(out, t);  // categories may differ per draw: matched by label
  }
  return out;
}

}  // namespace gf::apps
