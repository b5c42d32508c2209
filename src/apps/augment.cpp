#include "genforge/apps/augment.h"

#include <algorithm>
#include <limits>
#include <memory>

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

bool encodes_and_decodes(const Model& m) {
  const auto c = m.capabilities();
  return c.encoder && c.latent_space;
}

bool interpolating(const AugmentOptions& o) { return o.method == "interpolate"; }

// The rows of x [N, ...] without a missing (NaN) cell: only complete rows have codes to interpolate.
torch::Tensor complete_rows(const torch::Tensor& x) {
  return x.index_select(0, x.isnan().flatten(1).any(1).logical_not().nonzero().reshape({-1}));
}

// The model that interpolates: the given one, or one fitted here on every labelled example (`sets` as given; its
// labels reach it only when it is conditional). `owned` keeps the fitted one alive.
const Model& interpolation_model(const data::Source& labelled, const ModelInfo* info, const OptionOverrides& sets,
                                 const AugmentOptions& o, const FitContext& ctx, std::unique_ptr<Model>& owned) {
  if (o.trained == nullptr) owned = info->create({}, sets);
  const Model& m = o.trained != nullptr ? *o.trained : *owned;
  GF_CHECK_AS(NotSupported, encodes_and_decodes(m),
              "interpolate with a model that encodes and decodes: " +
                  join_names(registered_models_with(encodes_and_decodes)) + "; or use --method sample",
              "a ", m.kind(), " model has no encoder and decoder to interpolate codes with");
  if (owned) fit_source(*owned, labelled, ctx);  // after the check: a refused kind costs no training
  return m;
}

// The codes of `o.towards` (complete rows of a table), the targets of interpolation; undefined without it.
torch::Tensor pool_codes(const Model& m, const AugmentOptions& o) {
  if (o.towards == nullptr) return {};
  GF_CHECK_AS(InvalidArgument, m.n_classes() == 0,
              "interpolate towards unlabelled examples with an unconditional model", "a class-conditional ", m.kind(),
              " model needs the classes of the examples it encodes");
  auto x = prepare(m, *o.towards).x;
  if (o.towards->form == DataKind::table) x = complete_rows(x);
  GF_CHECK_AS(InvalidArgument, x.size(0) > 0, "give examples to interpolate towards", "'", o.towards->spec,
              "' has no complete examples");
  return m.transform(x);  // [P, L]
}

// `n` new examples of class `label` from the prepared examples x [M, ...] of that class: their codes interpolated
// (SMOTE) and decoded; with `keep_detail`, the decoded change from the base example's own code added to that real
// example instead. [n, ...] in the model's space
torch::Tensor interpolated_examples(const Model& m, const torch::Tensor& x, int64_t label, const std::string& name,
                                    int64_t n, const AugmentOptions& o, const torch::Tensor& pool_codes,
                                    at::Generator& gen) {
  const int64_t needed = pool_codes.defined() ? 1 : 2;  // towards other examples, one of the class is enough
  GF_CHECK_AS(InvalidArgument, x.size(0) >= needed,
              "give each class enough complete examples, or use --method sample", "class '", name, "' has ",
              x.size(0), " complete example", x.size(0) == 1 ? "" : "s", ": interpolation needs ",
              needed == 1 ? "one" : "two");
  const bool conditional = m.n_classes() > 0;
  const auto labels_of = [&](int64_t count) {
    return conditional ? torch::full({count}, label, torch::kLong) : torch::Tensor();
  };
  const auto codes = m.transform(x, labels_of(x.size(0)));  // [M, L]
  const auto step = interpolate_codes(codes, n, o.neighbours, gen, pool_codes);
  const auto decoded = m.decode(step.codes, labels_of(n));
  if (!o.keep_detail) return decoded;
  const auto base = x.index_select(0, step.base);  // the real examples the new ones start from
  const auto change = decoded - m.decode(codes.index_select(0, step.base), labels_of(n));
  return base.to(decoded.scalar_type()) + change.reshape(base.sizes());
}

std::string label_text(const Column& c, double v) {
  if (c.type == ColumnType::categorical) return c.categories[static_cast<size_t>(v)];
  return std::to_string(static_cast<long long>(v));
}

// `info`: the kind to train here, null when the model is given trained (o.trained).
Augmentation augment_images(const data::Source& labelled, const ModelInfo* info, const AugmentOptions& o,
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
  if (o.unlabelled != nullptr) {
    GF_CHECK_AS(InvalidArgument, !interpolating(o) && o.trained == nullptr,
                "unlabelled images train a semi-supervised model here (--method sample, no --from); to interpolate "
                "towards unlabelled images use --towards",
                "--unlabelled applies to a model trained here by --method sample");
    GF_CHECK_AS(NotSupported, info->has_option("semi_supervised"),
                "learn from unlabelled images with a semi-supervised model: " + join_names(semi_supervised_models()),
                "model kind '", info->name, "' does not learn from unlabelled examples");
  }
  if (interpolating(o)) {
    std::unique_ptr<Model> owned;
    const Model& m = interpolation_model(labelled, info, o.sets, o, ctx, owned);
    const Dataset ds = prepare(m, labelled);
    const auto towards = pool_codes(m, o);
    const auto y = set.labels.to(torch::kLong).reshape({-1});
    for (int64_t c = 0; c < n_classes; ++c) {
      if (n_for(c) == 0 || counts[c].item<int64_t>() == 0) continue;
      const auto x = ds.x.index_select(0, (y == c).nonzero().reshape({-1}));
      images.push_back(interpolated_examples(m, x, c, a.classes[static_cast<size_t>(c)], n_for(c), o, towards, gen)
                           .to(torch::kFloat32));
      labels.push_back(torch::full({n_for(c)}, c, torch::kLong));
    }
    a.method = "SMOTE in a " + m.kind() + "'s latent space";
  } else if (o.trained != nullptr) {
    const Model& m = *o.trained;
    GF_CHECK_AS(InvalidArgument, m.n_classes() >= n_classes,
                "give a class-conditional model (--set conditional=true) or use --method interpolate",
                "the given ", m.kind(), " model draws ", m.n_classes(), " classes; the data has ", n_classes);
    for (int64_t c = 0; c < n_classes; ++c) {
      if (n_for(c) == 0) continue;
      auto y = torch::full({n_for(c)}, c, torch::kLong);
      images.push_back(m.sample_labelled(y, gen).to(torch::kFloat32));
      labels.push_back(y);
    }
    a.method = "class-conditional " + m.kind();
  } else if (info->has_option("conditional")) {
    OptionOverrides sets = o.sets;
    sets.emplace_back("conditional", "true");
    if (o.unlabelled != nullptr) sets.emplace_back("semi_supervised", "true");
    auto model = info->create({}, sets);
    fit_source(*model, o.unlabelled != nullptr ? data::with_unlabelled(labelled, *o.unlabelled) : labelled, ctx);
    for (int64_t c = 0; c < n_classes; ++c) {
      if (n_for(c) == 0) continue;
      auto y = torch::full({n_for(c)}, c, torch::kLong);
      images.push_back(model->sample_labelled(y, gen).to(torch::kFloat32));
      labels.push_back(y);
    }
    a.method = (o.unlabelled != nullptr ? "semi-supervised " : "class-conditional ") + info->name;
  } else {
    for (int64_t c = 0; c < n_classes; ++c) {
      auto rows = (set.labels == c).nonzero().reshape({-1});
      if (rows.numel() == 0 || n_for(c) == 0) continue;
      data::Source part = labelled;
      part.images.images = set.images.index_select(0, rows);
      part.images.labels = set.labels.index_select(0, rows);
      auto model = info->create({}, o.sets);
      fit_source(*model, part, ctx);
      images.push_back(model->sample(n_for(c), gen).to(torch::kFloat32));
      labels.push_back(torch::full({n_for(c)}, c, torch::kLong));
    }
    a.method = "one " + info->name + " per class";
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

Augmentation augment_table(const data::Source& labelled, const ModelInfo* info, const AugmentOptions& o,
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
  GF_CHECK_AS(InvalidArgument, o.trained == nullptr || interpolating(o),
              "augment a table with a given model by --method interpolate; to sample, let augment fit one model per "
              "class (--model KIND)",
              "a given model samples a table's classes only by interpolation");
  Augmentation a;
  std::unique_ptr<Model> owned;
  const Model* interpolator = nullptr;
  torch::Tensor towards;
  if (interpolating(o)) {
    interpolator = &interpolation_model(labelled, info, sets, o, ctx, owned);
    const auto inputs = pipeline_of(*interpolator).input_columns();
    GF_CHECK_AS(InvalidArgument, std::find(inputs.begin(), inputs.end(), o.label_column) == inputs.end(),
                "give a model trained without the class column (--columns)", "the ", interpolator->kind(),
                " model reads the class column '", o.label_column, "' as an input");
    a.method = "SMOTE in a " + interpolator->kind() + "'s latent space";
    towards = pool_codes(*interpolator, o);
  } else {
    a.method = "one " + info->name + " per class";
  }
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
    Table rows;
    if (interpolator != nullptr) {
      const auto x = complete_rows(prepare(*interpolator, part).x);  // [M, D]
      rows = samples_table(*interpolator,
                           interpolated_examples(*interpolator, x, 0, a.classes.back(), n, o, towards, gen));
    } else {
      auto model = info->create({}, sets);
      fit_source(*model, part, ctx);
      rows = samples_table(*model, model->sample(n, gen));
    }
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
  GF_CHECK_AS(InvalidArgument, method == "sample" || method == "interpolate", "give --method sample or interpolate",
              "unknown augmentation method '", method, "'");
  GF_CHECK_AS(InvalidArgument, neighbours >= 1 && neighbours <= 1000, "give --neighbours K with 1 <= K <= 1000",
              "neighbours must be in 1..1000, got ", neighbours);
}

Interpolation interpolate_codes(const torch::Tensor& codes, int64_t n, int64_t k, at::Generator& gen,
                                const torch::Tensor& towards) {
  const bool own = !towards.defined();
  GF_CHECK_AS(InvalidArgument, codes.dim() == 2 && codes.size(0) >= (own ? 2 : 1), "give two or more codes",
              "interpolation needs codes [M >= 2, L], got ", codes.sizes());
  const auto c = codes.to(torch::kFloat64);
  const auto t = own ? c : towards.to(torch::kFloat64);
  GF_CHECK_AS(InvalidArgument, t.dim() == 2 && t.size(1) == c.size(1) && t.size(0) >= 1,
              "give codes to interpolate towards of the same width", "codes ", codes.sizes(), " and targets ",
              towards.sizes());
  auto distance = torch::cdist(c, t);  // [M, P]
  // A code is not its own neighbour, nor is an example also present in the targets, whose code there may differ in
  // the last bits (float32, computed in another batch): closer than 1e-4 of the code's norm counts as the same.
  const auto same = distance <= 1e-4 * (1 + c.norm(2, 1, /*keepdim=*/true));
  distance.masked_fill_(same, std::numeric_limits<double>::infinity());
  const int64_t m = codes.size(0), kk = std::min(k, own ? m - 1 : t.size(0));
  const auto nearest = std::get<1>(distance.topk(kk, 1, /*largest=*/false));  // [M, kk]
  const auto base = torch::randint(0, m, {n}, gen, torch::kLong);
  const auto pick = torch::randint(0, kk, {n}, gen, torch::kLong);
  const auto other = nearest.index({base, pick});                       // [n]
  const auto step = torch::rand({n, 1}, gen, torch::kFloat64);           // [n, 1] in [0, 1)
  const auto from = c.index_select(0, base);
  return {(from + step * (t.index_select(0, other) - from)).to(codes.scalar_type()), base};
}

Augmentation augment(const data::Source& labelled, const AugmentOptions& options, const FitContext& ctx) {
  options.validate();
  const ModelInfo* info = options.trained != nullptr ? nullptr : &model_info(options.model);
  const DataKind kind = info != nullptr ? info->data_kind : options.trained->capabilities().data_kind;
  GF_CHECK_AS(NotSupported, kind == DataKind::images || kind == DataKind::table,
              "augment images or tables with an image or table model (vae, gan, gmm, ...)", "a ",
              info != nullptr ? info->name : options.trained->kind(), " model does not generate images or table rows");
  if (labelled.form == DataKind::images) return augment_images(labelled, info, options, ctx);
  GF_CHECK_AS(InvalidArgument, labelled.form == DataKind::table, "give labelled images or a table", "'",
              labelled.spec, "' is neither images nor a table");
  GF_CHECK_AS(NotSupported, options.unlabelled == nullptr, "drop --unlabelled: semi-supervised training is for images",
              "no table model learns from unlabelled rows");
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
