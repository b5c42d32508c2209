#include "genforge/apps/augment.h"

#include <algorithm>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/workflow.h"

namespace gf::apps {
namespace {

Table with_origin(Table t, const std::string& origin) {
  Column c{"origin"};
  c.type = ColumnType::categorical;
  c.categories = {origin};
  c.values.assign(t.n_rows(), 0.0);
  c.missing.assign(t.n_rows(), 0);
  t.add_column(std::move(c));
  return t;
}

// Synthetic examples for a class of `count` real ones: per_class, or with `balance` as many as bring it up to the
// largest class (imbalanced-learn's default "not majority" strategy; 0 for the largest class).
int64_t wanted(const AugmentOptions& o, int64_t count, int64_t largest) {
  return o.balance ? largest - count : o.per_class;
}

std::string label_text(const Column& c, double v) {
  if (c.type == ColumnType::categorical) return c.categories[static_cast<size_t>(v)];
  return std::to_string(static_cast<long long>(v));
}

Augmentation augment_images(const data::Source& labelled, const ModelInfo& info, const AugmentOptions& o,
                            const FitContext& ctx) {
  GF_CHECK_AS(InvalidArgument, labelled.images.labels.defined() && labelled.images.labels.numel() > 0,
              "give labelled images: class sub-folders, or fashion-mnist", "'", labelled.spec,
              "' has no class labels to augment by");
  const auto& set = labelled.images;
  const int64_t n_classes = std::max<int64_t>(set.n_classes(), set.labels.max().item<int64_t>() + 1);
  Augmentation a;
  for (int64_t c = 0; c < n_classes; ++c) {
    a.classes.push_back(c < set.n_classes() ? set.class_names[static_cast<size_t>(c)] : std::to_string(c));
  }
  auto gen = make_generator(o.seed);
  const auto counts = torch::bincount(set.labels.to(torch::kLong).reshape({-1}), {}, n_classes);  // [K]
  const int64_t largest = counts.max().item<int64_t>();
  auto n_for = [&](int64_t c) { return wanted(o, counts[c].item<int64_t>(), largest); };
  std::vector<torch::Tensor> images, labels;
  if (info.has_option("conditional")) {
    OptionOverrides sets = o.sets;
    sets.emplace_back("conditional", "true");
    auto model = info.create({}, sets);
    fit_source(*model, labelled, ctx);
    for (int64_t c = 0; c < n_classes; ++c) {
      if (n_for(c) == 0) continue;
      auto y = torch::full({n_for(c)}, c, torch::kLong);
      images.push_back(model->sample_labelled(y, gen).to(torch::kFloat32));
      labels.push_back(y);
    }
    a.method = "class-conditional " + info.name;
  } else {
    for (int64_t c = 0; c < n_classes; ++c) {
      auto rows = (set.labels == c).nonzero().reshape({-1});
      if (rows.numel() == 0 || n_for(c) == 0) continue;
      data::Source part = labelled;
      part.images.images = set.images.index_select(0, rows);
      part.images.labels = set.labels.index_select(0, rows);
      auto model = info.create({}, o.sets);
      fit_source(*model, part, ctx);
      images.push_back(model->sample(n_for(c), gen).to(torch::kFloat32));
      labels.push_back(torch::full({n_for(c)}, c, torch::kLong));
    }
    a.method = "one " + info.name + " per class";
  }
  GF_CHECK_AS(InvalidArgument, !images.empty(), "drop --balance to draw --per-class examples of every class",
              "every class of '", labelled.spec, "' has as many examples as the largest, so --balance adds none");
  a.synthetic.spec = "synthetic";
  a.synthetic.form = DataKind::images;
  auto x = torch::cat(images);
  a.synthetic.images.images = x.clamp(0, 1).mul(255).round().to(torch::kByte).reshape({x.size(0), -1, set.images.size(2), set.images.size(3)});
  a.synthetic.images.labels = torch::cat(labels);
  a.synthetic.images.class_names = a.classes;
  return a;
}

Augmentation augment_table(const data::Source& labelled, const ModelInfo& info, const AugmentOptions& o,
                           const FitContext& ctx) {
  GF_CHECK_AS(InvalidArgument, !o.label_column.empty(), "name the class column, e.g. --label species",
              "a table needs its label column to augment by class");
  const Table& t = labelled.table;
  const Column& label = t.column(o.label_column);
  GF_CHECK_AS(InvalidArgument, label.type == ColumnType::categorical || label.type == ColumnType::integer,
              "give a categorical or integer class column", "column '", o.label_column, "' is ", to_string(label.type),
              ", not classes");
  GF_CHECK_AS(DataError, label.n_missing() == 0, "give every row a class", "column '", o.label_column, "' has ",
              label.n_missing(), " missing cells");
  std::vector<double> values(label.values.begin(), label.values.end());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  OptionOverrides sets = o.sets;
  const bool has_columns = std::any_of(sets.begin(), sets.end(), [](const auto& kv) { return kv.first == "columns"; });
  if (!has_columns) {
    std::vector<std::string> inputs;
    for (const auto& name : t.names()) {
      if (name != o.label_column) inputs.push_back(name);
    }
    std::string joined;
    for (const auto& n : inputs) joined += (joined.empty() ? "" : ",") + n;
    sets.emplace_back("columns", joined);
  }
  Augmentation a;
  a.method = "one " + info.name + " per class";
  auto gen = make_generator(o.seed);
  Table all("synthetic");
  std::vector<std::vector<int64_t>> rows_of(values.size());
  for (size_t i = 0; i < label.size(); ++i) {
    const auto at = std::lower_bound(values.begin(), values.end(), label.values[i]) - values.begin();
    rows_of[static_cast<size_t>(at)].push_back(static_cast<int64_t>(i));
  }
  int64_t largest = 0;
  for (const auto& rows : rows_of) largest = std::max<int64_t>(largest, static_cast<int64_t>(rows.size()));
  for (size_t k = 0; k < values.size(); ++k) {
    const double v = values[k];
    const std::vector<int64_t>& in_class = rows_of[k];
    a.classes.push_back(label_text(label, v));
    const int64_t n = wanted(o, static_cast<int64_t>(in_class.size()), largest);
    if (n == 0) continue;
    data::Source part = labelled;
    part.table = take_rows(t, in_class);
    auto model = info.create({}, sets);
    fit_source(*model, part, ctx);
    Table rows = samples_table(*model, model->sample(n, gen));
    Column cls = label;
    cls.values.assign(static_cast<size_t>(n), v);
    cls.missing.assign(static_cast<size_t>(n), 0);
    rows.add_column(std::move(cls));
    append_rows(all, rows);
  }
  GF_CHECK_AS(InvalidArgument, all.n_rows() > 0, "drop --balance to draw --per-class rows of every class",
              "every class of '", labelled.spec, "' has as many rows as the largest, so --balance adds none");
  a.synthetic.spec = "synthetic";
  a.synthetic.form = DataKind::table;
  std::vector<std::string> columns;  // the data's order; columns the models did not use (`columns=`) are left out
  for (const auto& name : t.names()) {
    if (all.has_column(name)) columns.push_back(name);
  }
  a.synthetic.table = with_origin(all.select(columns), "generated by genforge (" + a.method + ")");
  return a;
}

}  // namespace

void AugmentOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, per_class >= 1 && per_class <= 1000000, "give --per-class N with N >= 1",
              "per_class must be in 1..1000000, got ", per_class);
}

Augmentation augment(const data::Source& labelled, const AugmentOptions& options, const FitContext& ctx) {
  options.validate();
  const ModelInfo& info = model_info(options.model);
  GF_CHECK_AS(NotSupported, info.data_kind == DataKind::images || info.data_kind == DataKind::table,
              "augment images or tables with an image or table model (vae, gan, gmm, ...)", "a ", info.name,
              " model does not generate images or table rows");
  if (labelled.form == DataKind::images) return augment_images(labelled, info, options, ctx);
  GF_CHECK_AS(InvalidArgument, labelled.form == DataKind::table, "give labelled images or a table", "'",
              labelled.spec, "' is neither images nor a table");
  return augment_table(labelled, info, options, ctx);
}

data::Source labelled_output(const data::Source& real, const Augmentation& synthetic, bool include_real) {
  if (!include_real) return synthetic.synthetic;
  data::Source out = real;
  out.spec = real.spec + " + synthetic";
  if (real.form == DataKind::images) {
    const auto& s = synthetic.synthetic.images;
    GF_CHECK_AS(InvalidArgument, real.images.images.sizes().slice(1) == s.images.sizes().slice(1),
                "mix images of one size", "real images ", real.images.images.sizes(), " and synthetic ",
                s.images.sizes(), " differ in shape");
    out.images.images = torch::cat({real.images.images, s.images});
    out.images.labels = torch::cat({real.images.labels.to(torch::kLong), s.labels.to(torch::kLong)});
    return out;
  }
  out.table = with_origin(real.table, "real");
  append_rows(out.table, synthetic.synthetic.table);
  return out;
}

ClassFidelity class_fidelity(const torch::Tensor& images, const torch::Tensor& labels,
                             const eval::FeatureExtractor& classifier) {
  GF_CHECK_AS(InvalidArgument, classifier.has_class_logits(), "use a classifier (--features fmnist)",
              "'", classifier.name(), "' gives no class logits");
  GF_CHECK_AS(InvalidArgument, images.size(0) == labels.numel() && labels.numel() > 0, "give one label per image",
              images.size(0), " images but ", labels.numel(), " labels");
  auto predicted = classifier.logits(images.to(torch::kFloat32)).argmax(1).cpu();
  auto y = labels.to(torch::kLong).cpu();
  auto hit = predicted.eq(y).to(torch::kFloat64);
  ClassFidelity f;
  f.overall = hit.mean().item<double>();
  const int64_t k = y.max().item<int64_t>() + 1;
  for (int64_t c = 0; c < k; ++c) {
    auto in_class = y.eq(c);
    f.per_class.push_back(in_class.any().item<bool>() ? hit.masked_select(in_class).mean().item<double>() : NAN);
  }
  return f;
}

}  // namespace gf::apps
