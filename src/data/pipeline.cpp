#include "genforge/data/pipeline.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/data/matrix.h"

namespace gf::data {
namespace {

std::string join_commas(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

bool is_selection_key(const std::string& key) {
  return key == "columns" || key == "weights" || key == "sequence_column" || key == "state_column";
}

// The documents' words as the options read them (punctuation stripped or kept).
std::vector<std::vector<std::string>> documents_as_read(const Source& source, const PipelineOptions& o) {
  if (o.punctuation == "keep") return source.documents.words;
  std::vector<std::vector<std::string>> out;
  for (const auto& d : source.documents.words) out.push_back(strip_punctuation(d));
  return out;
}

}  // namespace

const OptionTable<PipelineOptions>& PipelineOptions::option_table() {
  static const OptionTable<PipelineOptions> table = [] {
    OptionTable<PipelineOptions> t("input pipeline");
    t.add("columns", &PipelineOptions::columns, "comma-separated input columns (default: all)")
        .add("weights", &PipelineOptions::weights, "column holding per-row sample weights")
        .add("sequence_column", &PipelineOptions::sequence_column,
             "consecutive rows with the same value of this column form one sequence")
        .add("state_column", &PipelineOptions::state_column,
             "hidden-state labels 0..K-1 (empty cells unknown: semi-supervised training)")
        .add("categorical", &PipelineOptions::categorical, "categorical columns: refused, one-hot or ordinal codes",
             {"error", "onehot", "ordinal"})
        .add("datetime", &PipelineOptions::datetime, "datetime columns: seconds since 1970-01-01 UTC, or refused",
             {"number", "error"})
        .add("standardize", &PipelineOptions::standardize,
             "scale numeric columns to zero mean and unit variance (undone on samples)")
        .add("drop_incomplete", &PipelineOptions::drop_incomplete,
             "train on the rows without a missing input cell (for models that fit complete rows only)")
        .add("rare_labels", &PipelineOptions::rare_labels,
             "labels seen in fewer training rows than this are pooled into one label, _RARE_, so that samples never "
             "carry a label that points at a few rows (0: keep every label; -1: auto, 5 for the synthesizers and in "
             "`synth`, else 0)")
        .add("pixel_scale", &PipelineOptions::pixel_scale, "pixel values are divided by this (255: [0, 1])")
        .add("symbols", &PipelineOptions::symbols,
             "sequences read from text: each line's characters (bytes) or its whitespace-separated words",
             {"chars", "words"})
        .add("tokenizer", &PipelineOptions::tokenizer,
             "char | word | bpe (byte-level byte-pair encoding) | unigram (unigram language model) | spm-bpe | "
             "spm-unigram (SentencePiece) | FILE.model (a SentencePiece model)")
        .add("vocab_size", &PipelineOptions::vocab_size, "tokens in all, for word and subword tokenizers")
        .add("min_df", &PipelineOptions::min_df, "drop words in fewer documents than this")
        .add("max_df", &PipelineOptions::max_df, "drop words in more than this fraction of documents (stop words)")
        .add("max_words", &PipelineOptions::max_words, "keep only the most frequent words (0: all)")
        .add("punctuation", &PipelineOptions::punctuation,
             "each word's leading and trailing punctuation: kept ('\"the' apart from 'the') or stripped",
             {"keep", "strip"});
    return t;
  }();
  return table;
}

std::vector<std::string> PipelineOptions::names_for(DataKind kind) {
  switch (kind) {
    case DataKind::table:
      return {"columns", "weights", "categorical", "rare_labels", "datetime", "standardize", "drop_incomplete"};
    case DataKind::sequences:
      return {"columns",     "weights",  "sequence_column", "state_column", "categorical",
              "rare_labels", "datetime", "standardize",     "symbols"};
    case DataKind::images:  // + tables
      return {"columns", "pixel_scale", "categorical", "rare_labels", "datetime", "standardize", "drop_incomplete"};
    case DataKind::text: return {"tokenizer", "vocab_size"};
    case DataKind::documents: return {"min_df", "max_df", "max_words", "punctuation", "columns", "sequence_column"};
    case DataKind::tagged_text: return {};
  }
  return {};
}

void PipelineOptions::validate() const {
  GF_CHECK(pixel_scale > 0, "pixel_scale must be positive, got ", pixel_scale);
  GF_CHECK(vocab_size >= 1, "vocab_size must be at least 1, got ", vocab_size);
  GF_CHECK(min_df >= 1, "min_df must be at least 1, got ", min_df);
  GF_CHECK(max_df > 0 && max_df <= 1, "max_df must be in (0, 1], got ", max_df);
  GF_CHECK(max_words >= 0, "max_words must be >= 0, got ", max_words);
  GF_CHECK(rare_labels >= -1, "rare_labels must be >= 0 (or -1: auto), got ", rare_labels);
}

InputPipeline::InputPipeline(DataKind model_kind, PipelineOptions options)
    : model_kind_(model_kind), options_(std::move(options)) {}

std::vector<std::string> InputPipeline::input_columns() const {
  std::vector<std::string> out;
  for (const auto& e : encoders_) out.push_back(e.name);
  return out;
}

std::vector<std::string> InputPipeline::feature_names() const {
  std::vector<std::string> out;
  for (const auto& e : encoders_) {
    if (e.encoding == "onehot") {
      for (const auto& c : e.categories) out.push_back(e.name + "=" + c);
    } else {
      out.push_back(e.name);
    }
  }
  return out;
}

namespace {
// The --columns value naming `names`, quoted for the shell when a name needs it.
std::string columns_flag_value(const std::vector<std::string>& names) {
  std::string list = join_commas(names);
  if (list.find_first_of(" ()") != std::string::npos) list = "'" + list + "'";
  return list;
}

// Categorical columns with (nearly) a distinct value per row -- names, codes, identifiers -- one-hot encode into
// about one feature per row (airports.csv's 'iata', 'name' and 'city': 9,300 columns, a GMM that ran for minutes on
// them) and describe nothing a model can learn: refused, naming them and the columns to keep. (Ordinal codes cost a
// column each; synthesizers leave identifiers out themselves. Pooled rare labels count as one.)
void refuse_name_columns(const Table& table, const std::vector<ColumnEncoder>& encoders) {
  constexpr size_t kMinRows = 20;  // a short table's categories may all differ honestly
  std::string names;
  std::vector<std::string> kept;
  for (const auto& e : encoders) {
    const Column& c = table.column(e.name);
    const auto present = e.encoding == "onehot"
                             ? static_cast<size_t>(std::count(c.missing.begin(), c.missing.end(), 0))
                             : size_t{0};
    if (present >= kMinRows && 2 * e.categories.size() > present) {
      names += msg(names.empty() ? "" : ", ", "'", e.name, "' (", e.categories.size(), " values in ", present,
                   " rows)");
    } else {
      kept.push_back(e.name);
    }
  }
  if (names.empty()) return;
  throw DataError(msg("'", table.source(), "' has categorical columns with nearly a distinct value per row, which "
                      "one-hot would turn into about a feature per row: ", names),
                  kept.empty() ? std::string("give columns that describe the rows")
                               : "leave them out with --columns " + columns_flag_value(kept));
}

// A column's labels seen in fewer than `threshold` rows become one label, kRareLabel (kept in the encoder only when
// some row has one): a label seen once or twice names its rows, and a synthesizer copying it into samples tells who is
// in the training data (the rare-category protection of privacy-minded synthesizers such as MOSTLY AI's). Labels
// seen in no row are dropped.
void pool_rare_labels(const Column& c, int64_t threshold, ColumnEncoder& e) {
  std::vector<int64_t> count(c.categories.size(), 0);
  for (size_t i = 0; i < c.size(); ++i) {
    if (!c.missing[i]) ++count[static_cast<size_t>(c.values[i])];
  }
  std::vector<std::string> kept;
  for (size_t k = 0; k < count.size(); ++k) {
    if (count[k] >= threshold) {
      kept.push_back(c.categories[k]);
    } else if (count[k] > 0) {
      ++e.pooled_labels;
      e.pooled_rows += count[k];
    }
  }
  if (e.pooled_labels > 0 && std::find(kept.begin(), kept.end(), kRareLabel) == kept.end()) {
    kept.push_back(kRareLabel);
  }
  if (!kept.empty()) e.categories = std::move(kept);
}
}  // namespace

void InputPipeline::fit_table(const Table& table) {
  std::vector<std::string> use = split_list(options_.columns);
  if (options_.columns.empty()) {
    for (const auto& name : table.names()) {
      if (name != options_.weights && name != options_.sequence_column && name != options_.state_column) {
        use.push_back(name);
      }
    }
  }
  GF_CHECK_AS(DataError, !use.empty(), "name the columns with --columns a,b,c", "'", table.source(),
              "' has no columns to use");
  encoders_.clear();
  std::string refused;
  for (const auto& name : use) {
    const Column& c = table.column(name);
    ColumnEncoder e;
    e.name = name;
    e.type = c.type;
    e.decimals = c.type == ColumnType::continuous ? c.decimals : -1;
    e.format = c.format;
    if (c.type == ColumnType::categorical) {
      if (options_.categorical == "error") {
        refused += (refused.empty() ? "'" : ", '") + name + "' (categorical)";
        continue;
      }
      e.encoding = options_.categorical;
      e.categories = c.categories;
      if (options_.rare_labels > 0) pool_rare_labels(c, options_.rare_labels, e);
    } else if (c.type == ColumnType::datetime && options_.datetime == "error") {
      refused += (refused.empty() ? "'" : ", '") + name + "' (datetime)";
      continue;
    } else if (options_.standardize) {
      double sum = 0, sq = 0;
      int64_t n = 0;
      for (size_t i = 0; i < c.size(); ++i) {
        if (!c.missing[i]) sum += c.values[i], ++n;
      }
      const double mean = n ? sum / static_cast<double>(n) : 0.0;
      for (size_t i = 0; i < c.size(); ++i) {
        if (!c.missing[i]) sq += (c.values[i] - mean) * (c.values[i] - mean);
      }
      const double sd = n > 1 ? std::sqrt(sq / static_cast<double>(n)) : 0.0;
      e.encoding = "standardize";
      e.shift = mean;
      e.scale = sd > 0 ? sd : 1.0;
    }
    encoders_.push_back(std::move(e));
  }
  if (!refused.empty()) {
    std::vector<std::string> numeric;
    for (const auto& name : use) {
      if (table.column(name).is_numeric()) numeric.push_back(name);
    }
    const std::string list = columns_flag_value(numeric);
    throw DataError(msg("'", table.source(), "' has non-numeric columns this model cannot use: ", refused),
                    (numeric.empty() ? std::string("encode them") : "choose numeric columns with --columns " + list +
                                                                        ", or encode them") +
                        " with --set categorical=onehot (or ordinal)");
  }
  refuse_name_columns(table, encoders_);
}

torch::Tensor InputPipeline::encode_matrix(const Table& table) const {
  const int64_t n = static_cast<int64_t>(table.n_rows());
  int64_t d = 0;
  for (const auto& e : encoders_) d += e.width();
  auto matrix = torch::empty({n, d}, torch::kFloat64);  // [N, D]
  double* x = matrix.data_ptr<double>();
  int64_t j0 = 0;
  for (const auto& e : encoders_) {
    GF_CHECK_AS(DataError, table.has_column(e.name), "give data with the columns the model was fitted on",
                "'", table.source(), "' has no column '", e.name, "', which the model was fitted on");
    const Column& c = table.column(e.name);
    if (e.encoding == "onehot" || e.encoding == "ordinal") {
      GF_CHECK_AS(DataError, c.type == ColumnType::categorical, "give the column as categories",
                  "column '", e.name, "' was categorical in training, but is ", to_string(c.type), " here");
      // Labels the model pooled, and labels it never saw, read as the pooled label where it has one.
      const auto rare = std::find(e.categories.begin(), e.categories.end(), kRareLabel);
      const int64_t rare_code = e.pooled_labels > 0 ? rare - e.categories.begin() : -1;
      std::vector<int64_t> recode(c.categories.size(), rare_code);
      for (size_t k = 0; k < c.categories.size(); ++k) {
        auto it = std::find(e.categories.begin(), e.categories.end(), c.categories[k]);
        if (it != e.categories.end()) recode[k] = it - e.categories.begin();
      }
      for (int64_t i = 0; i < n; ++i) {
        const size_t r = static_cast<size_t>(i);
        double* row = x + i * d + j0;
        if (c.missing[r]) {
          for (int64_t k = 0; k < e.width(); ++k) row[k] = NAN;
          continue;
        }
        const int64_t code = recode[static_cast<size_t>(c.values[r])];
        GF_CHECK_AS(DataError, code >= 0, "the model knows only the categories it was fitted on", "'",
                    table.source(), "' row ", i + 1, ", column '", e.name, "': category '",
                    c.categories[static_cast<size_t>(c.values[r])], "' was not seen in training");
        if (e.encoding == "ordinal") {
          row[0] = static_cast<double>(code);
        } else {
          for (int64_t k = 0; k < e.width(); ++k) row[k] = k == code ? 1.0 : 0.0;
        }
      }
    } else {
      GF_CHECK_AS(DataError, c.type != ColumnType::categorical, "give numbers in this column", "'", table.source(),
                  "' column '", e.name, "' is categorical, but the model was fitted on numbers there");
      for (int64_t i = 0; i < n; ++i) {
        const size_t r = static_cast<size_t>(i);
        x[i * d + j0] = c.missing[r] ? NAN : (c.values[r] - e.shift) / e.scale;
      }
    }
    j0 += e.width();
  }
  return matrix;
}

Dataset InputPipeline::transform_table(const Table& table) const {
  Dataset ds;
  ds.x = encode_matrix(table);
  ds.columns = feature_names();
  for (const auto& e : encoders_) {
    for (int64_t k = 0; k < e.width(); ++k) {
      ds.features.push_back({e.name, e.type, e.encoding, static_cast<int64_t>(e.categories.size())});
    }
  }
  if (!options_.weights.empty()) {
    const Column& wc = table.column(options_.weights);
    GF_CHECK_AS(DataError, wc.is_numeric() && wc.n_missing() == 0, "give a numeric column without missing cells",
                "weights column '", options_.weights, "' must be numeric and complete");
    ds.sample_weight = torch::tensor(wc.values, torch::kFloat64);
  }
  if (!options_.sequence_column.empty()) ds.lengths = sequence_lengths(table.column(options_.sequence_column));
  if (!options_.state_column.empty() && table.has_column(options_.state_column)) {
    const Column& sc = table.column(options_.state_column);
    GF_CHECK_AS(DataError, sc.is_numeric(), "state labels are integers 0..K-1 (empty = unknown)", "state column '",
                options_.state_column, "' is not numeric");
    std::vector<int64_t> states(sc.size());
    for (size_t i = 0; i < sc.size(); ++i) states[i] = sc.missing[i] ? -1 : static_cast<int64_t>(sc.values[i]);
    ds.labels = torch::tensor(states, torch::kLong);
  }
  return ds;
}

void InputPipeline::fit(const Source& source) {
  options_.validate();
  form_ = source.form;
  encoders_.clear();
  class_names_.clear();
  tokenizer_.reset();
  vocabulary_.reset();
  switch (source.form) {
    case DataKind::table:
    case DataKind::sequences:
      GF_CHECK_AS(InvalidArgument, model_kind_ == DataKind::sequences || model_kind_ == DataKind::documents ||
                                       (options_.sequence_column.empty() && options_.state_column.empty()),
                  "sequence_column and state_column are for sequence models (hmm)", "a ", to_string(model_kind_),
                  " model does not take sequences");
      fit_table(source.table);
      break;
    case DataKind::images:
      class_names_ = source.images.class_names;
      image_shape_ = source.images.images.sizes().slice(1).vec();
      break;
    case DataKind::text:
      if (model_kind_ == DataKind::sequences) {
        // Lines of symbols: one sequence per line, the symbols as categories (codes), unless the options say else.
        if (options_.sequence_column.empty()) options_.sequence_column = kLineColumn;
        if (options_.categorical == "error") options_.categorical = "ordinal";
        fit_table(as_table(source));
        break;
      }
      tokenizer_ = make_tokenizer(options_.tokenizer, source.text, options_.vocab_size);
      break;
    case DataKind::documents: {
      VocabularyOptions v;
      v.min_df = options_.min_df;
      v.max_df = options_.max_df;
      v.max_size = options_.max_words;
      vocabulary_ = Vocabulary::build(documents_as_read(source, options_), v);
      GF_CHECK_AS(DataError, vocabulary_->size() > 0, "lower --min-df or raise --max-df", "no document keeps a word");
      break;
    }
    case DataKind::tagged_text: break;
  }
  fitted_ = true;
}

Dataset InputPipeline::fit_transform(const Source& source) {
  fit(source);
  Dataset ds = transform(source);
  if (!options_.drop_incomplete || !ds.x.defined() || !ds.x.is_floating_point()) return ds;
  GF_CHECK_AS(InvalidArgument, !ds.lengths.defined(), "leave drop_incomplete off for sequences",
              "drop_incomplete does not apply to sequences: dropping a step would join its neighbours");
  auto keep = ds.x.isnan().flatten(1).any(1).logical_not().nonzero().squeeze(1);  // [N'] complete rows
  const int64_t dropped = ds.x.size(0) - keep.numel();
  GF_CHECK_AS(DataError, keep.numel() > 0, "impute the table first, or train a gmm (it marginalises missing cells)",
              "every training row of '", source.spec, "' has a missing cell, so drop_incomplete leaves none");
  if (dropped == 0) return ds;
  ds.x = ds.x.index_select(0, keep);
  if (ds.sample_weight.defined()) ds.sample_weight = ds.sample_weight.index_select(0, keep);
  if (ds.labels.defined()) ds.labels = ds.labels.index_select(0, keep);
  log::warn("training on " + std::to_string(keep.numel()) + " of " + std::to_string(keep.numel() + dropped) +
            " rows: " + std::to_string(dropped) + " with a missing cell left out (drop_incomplete)");
  return ds;
}

Dataset InputPipeline::transform(const Source& source) const {
  GF_CHECK_AS(NotFitted, fitted_, "fit the pipeline first (gf::fit does)", "the input pipeline is not fitted");
  GF_CHECK_AS(DataError, source.form == form_ || (form_ == DataKind::sequences && source.form == DataKind::table),
              "give data like the training data", "'", source.spec, "' is ", to_string(source.form),
              " data, but the model was fitted on ", to_string(form_));
  Dataset ds;
  switch (source.form) {
    case DataKind::table:
    case DataKind::sequences: return transform_table(source.table);
    case DataKind::images:
      ds.x = scale_images(source.images.images, options_.pixel_scale);  // [N, C, H, W]
      ds.labels = source.images.labels;
      ds.label_names = source.images.class_names;
      return ds;
    case DataKind::text: {
      if (model_kind_ == DataKind::sequences) return transform_table(as_table(source));
      const auto ids = tokenizer_->encode(source.text, "'" + source.spec + "'");
      ds.x = torch::tensor(ids, torch::kLong).unsqueeze(1);  // [N, 1]
      ds.n_symbols = tokenizer_->size();
      ds.start_symbol = tokenizer_->newline_id();
      return ds;
    }
    case DataKind::documents: {
      std::vector<double> ids;
      std::vector<int64_t> lengths;
      for (const auto& d : documents_as_read(source, options_)) {
        const auto encoded = vocabulary_->encode(d);
        if (encoded.empty()) continue;  // a document with no vocabulary word says nothing about the topics
        ids.insert(ids.end(), encoded.begin(), encoded.end());
        lengths.push_back(static_cast<int64_t>(encoded.size()));
      }
      GF_CHECK_AS(DataError, !lengths.empty(), "lower --min-df or raise --max-df", "no document keeps a word");
      ds.x = torch::tensor(ids, torch::kFloat64).unsqueeze(1);  // [N, 1]
      ds.lengths = torch::tensor(lengths, torch::kLong);
      ds.symbols = vocabulary_->words;
      ds.n_symbols = vocabulary_->size();
      return ds;
    }
    case DataKind::tagged_text: {
      std::unordered_map<std::string, int64_t> words, tags;
      std::vector<int64_t> x, y, lengths;
      for (const auto& s : source.sentences) {
        for (size_t i = 0; i < s.words.size(); ++i) {
          auto w = words.emplace(s.words[i], static_cast<int64_t>(ds.symbols.size()));
          if (w.second) ds.symbols.push_back(s.words[i]);
          auto t = tags.emplace(s.tags[i], static_cast<int64_t>(ds.label_names.size()));
          if (t.second) ds.label_names.push_back(s.tags[i]);
          x.push_back(w.first->second);
          y.push_back(t.first->second);
        }
        lengths.push_back(static_cast<int64_t>(s.words.size()));
      }
      ds.x = torch::tensor(x, torch::kLong).unsqueeze(1);  // [N, 1]
      ds.labels = torch::tensor(y, torch::kLong);
      ds.lengths = torch::tensor(lengths, torch::kLong);
      ds.n_symbols = static_cast<int64_t>(ds.symbols.size());
      return ds;
    }
  }
  return ds;
}

Table InputPipeline::decode_rows(const torch::Tensor& rows_in) const {
  auto rows = rows_in.to(torch::kCPU, torch::kFloat64).reshape({rows_in.size(0), -1}).contiguous();
  int64_t d = 0;
  for (const auto& e : encoders_) d += e.width();
  if (encoders_.empty() || rows.size(1) != d) {  // no table encoders (image rows, raw tensors): x0, x1, ...
    std::vector<std::string> names;
    for (int64_t j = 0; j < rows.size(1); ++j) names.push_back("x" + std::to_string(j));
    return table_from_matrix(rows, names);
  }
  const int64_t n = rows.size(0);
  const double* x = rows.data_ptr<double>();
  Table out("samples");
  int64_t j0 = 0;
  for (const auto& e : encoders_) {
    Column c;
    c.name = e.name;
    c.type = e.type;
    c.decimals = e.decimals;
    c.format = e.format;
    const double unit = e.decimals >= 0 ? std::pow(10.0, e.decimals) : 0.0;
    c.values.resize(static_cast<size_t>(n));
    c.missing.resize(static_cast<size_t>(n));
    if (e.encoding == "onehot" || e.encoding == "ordinal") c.categories = e.categories;
    const int64_t k_max = static_cast<int64_t>(e.categories.size()) - 1;
    for (int64_t i = 0; i < n; ++i) {
      const double* row = x + i * d + j0;
      double v = row[0];
      if (e.encoding == "onehot") {
        int64_t best = 0;
        for (int64_t k = 1; k < e.width(); ++k) best = row[k] > row[best] ? k : best;
        v = std::isnan(row[0]) ? NAN : static_cast<double>(best);
      } else if (e.encoding == "ordinal") {
        v = std::isnan(v) ? NAN : std::clamp<double>(std::round(v), 0.0, static_cast<double>(k_max));
      } else {
        v = v * e.scale + e.shift;
        if (e.type == ColumnType::integer) v = std::round(v);
        if (unit > 0 && unit < 1e15) v = std::round(v * unit) / unit;
      }
      c.missing[static_cast<size_t>(i)] = std::isnan(v) ? 1 : 0;
      c.values[static_cast<size_t>(i)] = std::isnan(v) ? 0.0 : v;
    }
    out.add_column(std::move(c));
    j0 += e.width();
  }
  return out;
}

Table InputPipeline::as_table(const Source& source) const {
  if (source.form == DataKind::table) return source.table;
  GF_CHECK_AS(InvalidArgument, source.form == DataKind::text && model_kind_ == DataKind::sequences,
              "give a table, or text to a sequence model", "'", source.spec, "' is ", to_string(source.form),
              " data, not rows of a table");
  return text_sequences(source.text, options_.symbols, source.spec);
}

Table InputPipeline::with_rare_labels_pooled(const Table& table) const {
  Table out(table.source());
  for (Column c : table.columns()) {
    const auto e = std::find_if(encoders_.begin(), encoders_.end(), [&](const ColumnEncoder& x) {
      return x.name == c.name && x.pooled_labels > 0;
    });
    if (e != encoders_.end() && c.type == ColumnType::categorical) {
      std::vector<std::string> labels;  // the column's labels as the model reads them, in first-seen order
      std::vector<double> recode(c.categories.size());
      for (size_t k = 0; k < c.categories.size(); ++k) {
        const bool kept = std::find(e->categories.begin(), e->categories.end(), c.categories[k]) != e->categories.end();
        const std::string label = kept ? c.categories[k] : kRareLabel;
        auto at = std::find(labels.begin(), labels.end(), label);
        if (at == labels.end()) at = labels.insert(labels.end(), label);
        recode[k] = static_cast<double>(at - labels.begin());
      }
      for (size_t i = 0; i < c.size(); ++i) c.values[i] = c.missing[i] ? 0.0 : recode[static_cast<size_t>(c.values[i])];
      c.categories = std::move(labels);
    }
    out.add_column(std::move(c));
  }
  return out;
}

torch::Tensor InputPipeline::encode_given(const std::vector<std::pair<std::string, std::string>>& given) const {
  GF_CHECK_AS(InvalidArgument, !encoders_.empty(), "give --given only for models fitted on tables",
              "the model was not fitted on a table, so it has no columns to condition on");
  std::vector<Column> cells;  // one row, every cell missing until given
  for (const auto& e : encoders_) {
    Column c;
    c.name = e.name;
    c.type = e.type;
    c.values = {0.0};
    c.missing = {1};
    if (e.type == ColumnType::categorical) c.categories = e.categories;
    cells.push_back(std::move(c));
  }
  for (const auto& named_value : given) {
    const std::string& name = named_value.first;
    const auto& value = named_value.second;
    auto it = std::find_if(cells.begin(), cells.end(), [&](const Column& c) { return c.name == name; });
    GF_CHECK_AS(InvalidArgument, it != cells.end(), "the model's columns: " + join_commas(input_columns()),
                "--given names column '", name, "', which the model was not fitted on");
    if (it->type == ColumnType::categorical) {
      auto cat = std::find(it->categories.begin(), it->categories.end(), value);
      const auto& encoder = encoders_[static_cast<size_t>(it - cells.begin())];
      GF_CHECK_AS(InvalidArgument, cat != it->categories.end(),
                  "its categories: " + join_commas(it->categories) +
                      (encoder.pooled_labels > 0 ? msg(" (", encoder.pooled_labels, " rare labels pooled into ",
                                                       kRareLabel, ": rare_labels ", options_.rare_labels, ")")
                                                 : std::string()),
                  "column '", name, "' has no category '", value, "'");
      it->values[0] = static_cast<double>(cat - it->categories.begin());
    } else {
      char* end = nullptr;
      it->values[0] = std::strtod(value.c_str(), &end);
      GF_CHECK_AS(InvalidArgument, !value.empty() && end && *end == 0 && std::isfinite(it->values[0]),
                  "give a number, e.g. --given '" + name + "=3.5'", "column '", name, "': '", value,
                  "' is not a number");
    }
    it->missing[0] = 0;
  }
  Table row("--given");
  for (auto& c : cells) row.add_column(std::move(c));
  return encode_matrix(row);  // [1, D]
}

int64_t InputPipeline::class_index(const std::string& name_or_index, int64_t n_classes) const {
  for (size_t k = 0; k < class_names_.size(); ++k) {
    if (class_names_[k] == name_or_index) return static_cast<int64_t>(k);
  }
  std::string names;
  for (const auto& c : class_names_) names += (names.empty() ? "" : ", ") + c;
  const std::string hint = names.empty() ? msg("give a class index 0..", n_classes - 1)
                                         : msg("give a class index 0..", n_classes - 1, " or a name: ", names);
  char* end = nullptr;
  const long long k = std::strtoll(name_or_index.c_str(), &end, 10);
  GF_CHECK_AS(InvalidArgument, !name_or_index.empty() && end && *end == 0, hint, "unknown class '", name_or_index,
              "'");
  GF_CHECK_AS(InvalidArgument, k >= 0 && k < n_classes, hint, "class index ", k, " is out of range: the model has ",
              n_classes, " classes");
  return static_cast<int64_t>(k);
}

InputPipeline InputPipeline::with_overrides(const std::vector<std::pair<std::string, std::string>>& overrides) const {
  InputPipeline p = *this;
  for (const auto& [key, value] : overrides) {
    GF_CHECK_AS(InvalidArgument, is_selection_key(key), "only columns, weights, sequence_column and state_column "
                "can change after training", "option '", key, "' is fixed by the trained model");
    if (key == "columns") {
      const auto names = split_list(value);
      GF_CHECK_AS(InvalidArgument, names.size() == p.encoders_.size(), "name as many columns as the model has inputs",
                  "--columns names ", names.size(), " columns, but the model was fitted on ", p.encoders_.size());
      for (size_t j = 0; j < names.size(); ++j) p.encoders_[j].name = names[j];
      p.options_.columns = value;
    } else {
      PipelineOptions::option_table().set(p.options_, key, value);
    }
  }
  return p;
}

nlohmann::json InputPipeline::to_json() const {
  nlohmann::json j = {{"model_kind", to_string(model_kind_)},
                      {"form", to_string(form_)},
                      {"options", PipelineOptions::option_table().to_json(options_)}};
  if (!encoders_.empty()) {
    nlohmann::json cols = nlohmann::json::array();
    for (const auto& e : encoders_) {
      nlohmann::json c = {{"name", e.name}, {"type", to_string(e.type)}, {"encoding", e.encoding}};
      if (e.encoding == "standardize") c["shift"] = e.shift, c["scale"] = e.scale;
      if (!e.categories.empty()) c["categories"] = e.categories;
      if (e.decimals >= 0) c["decimals"] = e.decimals;
      if (!e.format.empty()) c["format"] = e.format;
      if (e.pooled_labels > 0) c["pooled_labels"] = e.pooled_labels, c["pooled_rows"] = e.pooled_rows;
      cols.push_back(c);
    }
    j["columns"] = cols;
  }
  if (!class_names_.empty()) j["class_names"] = class_names_;
  if (!image_shape_.empty()) j["image_shape"] = image_shape_;
  if (tokenizer_) j["tokenizer"] = tokenizer_->to_json();
  if (vocabulary_) j["vocabulary"] = vocabulary_->words;
  return j;
}

InputPipeline InputPipeline::from_json(const nlohmann::json& j) {
  InputPipeline p;
  try {
    p.model_kind_ = data_kind_from_string(j.at("model_kind").get<std::string>());
    p.form_ = data_kind_from_string(j.at("form").get<std::string>());
    PipelineOptions::option_table().apply_json(p.options_, j.at("options"));
    for (const auto& c : j.value("columns", nlohmann::json::array())) {
      ColumnEncoder e;
      e.name = c.at("name").get<std::string>();
      e.type = column_type_from_string(c.at("type").get<std::string>());
      e.encoding = c.at("encoding").get<std::string>();
      e.shift = c.value("shift", 0.0);
      e.scale = c.value("scale", 1.0);
      e.categories = c.value("categories", std::vector<std::string>{});
      e.decimals = c.value("decimals", -1);
      e.format = c.value("format", std::string());
      e.pooled_labels = c.value("pooled_labels", int64_t{0});
      e.pooled_rows = c.value("pooled_rows", int64_t{0});
      p.encoders_.push_back(std::move(e));
    }
    p.class_names_ = j.value("class_names", std::vector<std::string>{});
    p.image_shape_ = j.value("image_shape", std::vector<int64_t>{});
    if (j.contains("tokenizer")) p.tokenizer_ = tokenizer_from_json(j["tokenizer"]);
    if (j.contains("vocabulary")) {
      p.vocabulary_ = Vocabulary::from_words(j["vocabulary"].get<std::vector<std::string>>(), false);
    }
  } catch (const nlohmann::json::exception& e) {
    throw ModelFileError(msg("the stored input pipeline is incomplete: ", e.what()),
                         "the file is damaged; re-create it with `genforge train`");
  }
  p.fitted_ = true;
  return p;
}

InputPipeline InputPipeline::from_legacy_schema(DataKind model_kind, const nlohmann::json& schema) {
  InputPipeline p(model_kind, {});
  const std::string kind = schema.value("data_kind", std::string(to_string(model_kind)));
  p.form_ = kind == "images" ? DataKind::images : kind == "text" ? DataKind::text : DataKind::table;
  if (schema.contains("tokenizer")) p.tokenizer_ = tokenizer_from_json(schema["tokenizer"]);
  if (schema.contains("vocabulary")) {
    p.vocabulary_ = Vocabulary::from_words(schema["vocabulary"].get<std::vector<std::string>>(), false);
    p.form_ = DataKind::documents;
  }
  if (model_kind == DataKind::tagged_text) p.form_ = DataKind::tagged_text;
  for (const auto& name : schema.value("columns", std::vector<std::string>{})) {
    ColumnEncoder e;
    e.name = name;
    p.encoders_.push_back(e);
  }
  p.fitted_ = true;
  return p;
}

}  // namespace gf::data
