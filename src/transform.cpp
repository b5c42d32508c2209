// genforge transform: each item's part (mixture component, hidden state, topic) or code, as a table.
#include <cmath>
#include <string>
#include <vector>

#include "genforge/core/error.h"
#include "genforge/data/matrix.h"
#include "genforge/workflow.h"

namespace gf {
namespace {

bool has_representation(const Model& m) {
  return dynamic_cast<const PartAssigner*>(&m) != nullptr || m.capabilities().encoder;
}

Column number_column(std::string name, const torch::Tensor& values, ColumnType type) {
  Column c{std::move(name)};
  c.type = type;
  const auto v = values.to(torch::kCPU, torch::kFloat64).contiguous();
  c.values.assign(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
  for (double value : c.values) c.missing.push_back(std::isnan(value) ? 1 : 0);  // rows the model could not take
  return c;
}

// item_names for `n` items: as they are, or, when they name sequences whose steps are the items, repeated over each
// sequence's steps.
Column names_of_items(Column names, const torch::Tensor& lengths, int64_t n) {
  if (static_cast<int64_t>(names.size()) == n || !lengths.defined() || lengths.numel() != static_cast<int64_t>(names.size())) {
    return names;
  }
  const auto l = lengths.to(torch::kLong).contiguous();
  Column steps{names.name};
  steps.type = names.type;
  steps.categories = names.categories;
  for (int64_t s = 0; s < l.numel(); ++s) {
    for (int64_t t = 0; t < l.data_ptr<int64_t>()[s]; ++t) {
      steps.values.push_back(names.values[static_cast<size_t>(s)]);
      steps.missing.push_back(names.missing[static_cast<size_t>(s)]);
    }
  }
  return steps;
}

}  // namespace

TransformResult transform_source(const Model& model, const data::Source& source, const OptionOverrides& overrides) {
  GF_CHECK_AS(NotSupported, has_representation(model),
              "use a model with parts or an encoder: " + join_names(registered_models_with(has_representation)),
              "a ", model.kind(), " model has no parts (components, states, topics) or encoder to describe items by");
  const Dataset ds = prepare(model, source, overrides);
  TransformResult r;
  Table t("transform");
  int64_t n = 0;
  if (const auto* assigner = dynamic_cast<const PartAssigner*>(&model)) {
    const auto probabilities = over_complete_rows(model, ds.x, "gives", [&](const torch::Tensor& x) {
                                 return assigner->part_probabilities(x, ds.lengths);
                               }).to(torch::kFloat64);  // [N, K]
    const auto parts = over_complete_rows(model, ds.x, "gives", [&](const torch::Tensor& x) {
                         return assigner->assign_parts(x, ds.lengths).to(torch::kFloat64);
                       });  // [N], NaN: not assigned
    GF_CHECK_AS(InternalError, probabilities.dim() == 2 && parts.numel() == probabilities.size(0),
                "report this as a bug", "part probabilities ", probabilities.sizes(), " and ", parts.numel(), " parts");
    n = probabilities.size(0);
    const int64_t k = probabilities.size(1);
    const std::string part = assigner->part_name();
    t.add_column(number_column(part, parts, ColumnType::integer));
    for (int64_t j = 0; j < k; ++j) {
      t.add_column(number_column("p_" + part + "_" + std::to_string(j), probabilities.select(1, j),
                                 ColumnType::continuous));
    }
    const auto counts = parts.masked_select(parts.isnan().logical_not()).to(torch::kLong).bincount({}, k);
    r.summary = {{"items", n}, {"part", part}, {"parts", k},
                 {"items_per_part", std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + k)}};
    r.description = std::to_string(n) + " items: the " + part + " of each (of " + std::to_string(k) +
                    ") and each " + part + "'s probability";
  } else {
    const auto labels = model.n_classes() > 0 ? ds.labels : torch::Tensor();
    const auto codes = labels.defined() ? model.transform(ds.x, labels).to(torch::kFloat64)
                                        : over_complete_rows(model, ds.x, "gives", [&](const torch::Tensor& x) {
                                            return model.transform(x, {}).to(torch::kFloat64).reshape({x.size(0), -1});
                                          }).reshape({ds.x.size(0), -1});  // [N, L]
    n = codes.size(0);
    for (int64_t j = 0; j < codes.size(1); ++j) {
      t.add_column(number_column("z" + std::to_string(j), codes.select(1, j), ColumnType::continuous));
    }
    r.summary = {{"items", n}, {"code_size", codes.size(1)}};
    r.description = std::to_string(n) + " items: a code of " + std::to_string(codes.size(1)) + " numbers each";
  }
  Table out = insert_column(t, 0, number_column("item", torch::arange(n), ColumnType::integer));
  size_t next = 1;
  Column names = names_of_items(item_names(model, source, overrides), ds.lengths, n);
  if (static_cast<int64_t>(names.size()) == n && n > 0 && !out.has_column(names.name)) {
    out = insert_column(out, next++, std::move(names));
  }
  // Lines of text: each step's symbol beside its state (which letters or words a state emits).
  if (source.form == DataKind::text && model.capabilities().data_kind == DataKind::sequences && model.pipeline()) {
    Column symbols = model.pipeline()->as_table(source).column(data::kSymbolColumn);
    if (static_cast<int64_t>(symbols.size()) == n && !out.has_column(symbols.name)) {
      out = insert_column(out, next++, std::move(symbols));
    }
  }
  // Labelled images and documents keep their class beside the code (a latent space coloured by class).
  const auto labels = source.labels();
  if (labels.defined() && labels.numel() == n && !out.has_column("class")) {
    const auto& class_names = source.class_names();
    const auto l = labels.to(torch::kLong).contiguous();
    std::vector<std::string> classes;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = l.data_ptr<int64_t>()[i];
      classes.push_back(c >= 0 && c < static_cast<int64_t>(class_names.size()) ? class_names[static_cast<size_t>(c)]
                                                                               : std::to_string(c));
    }
    out = insert_column(out, next, text_column("class", classes));
  }
  r.per_item = std::move(out);
  return r;
}

}  // namespace gf
