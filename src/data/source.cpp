#include "genforge/data/source.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "column_builder.h"
#include "data/class_folder.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"

namespace gf::data {
namespace fs = std::filesystem;
namespace {

using gf::detail::ends_with;


template <class T>
void keep_first(std::vector<T>& v, int64_t limit) {
  if (limit > 0 && static_cast<size_t>(limit) < v.size()) v.resize(static_cast<size_t>(limit));
}

// The first `limit` rows (the table itself, not a copy, when it is no longer).
Table cut_table(Table t, int64_t limit) {
  if (limit <= 0 || static_cast<size_t>(limit) >= t.n_rows()) return t;
  Table out(t.source());
  for (Column c : t.columns()) {
    c.values.resize(static_cast<size_t>(limit));
    c.missing.resize(static_cast<size_t>(limit));
    out.add_column(std::move(c));
  }
  return out;
}

std::string wrong_kind_hint(DataKind wanted) {
  switch (wanted) {
    case DataKind::table:
    case DataKind::sequences: return "this model takes a table: give a .csv, .tsv, .json (records) or .npy file";
    case DataKind::images:
      return "this model takes images: fashion-mnist[:test], a folder of image files, an image file, an IDX file or "
             "a table";
    case DataKind::text: return "this model takes text: brown[:CATEGORIES], a text file or a folder of text files";
    case DataKind::documents:
      return "this model takes documents: brown[:CATEGORIES], a text file (one per line) or a folder of text files "
             "(one per file)";
    case DataKind::tagged_text: return "this model takes word/tag sentences: brown[:CATEGORIES] or a word/tag file";
  }
  return "";
}

}  // namespace

bool is_table_file(const std::string& path) {
  for (const char* ext : {".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".npy", ".csv.gz", ".tsv.gz", ".json.gz",
                          ".jsonl.gz", ".ndjson.gz"}) {
    if (ends_with(path, ext)) return true;
  }
  return false;
}

bool is_image_spec(const std::string& spec) {
  if (spec.rfind("fashion-mnist", 0) == 0) return true;
  if (is_image_file_name(spec) || spec.find("idx3-ubyte") != std::string::npos) return true;
  std::error_code ec;
  // A folder is image data when it holds an image file (in it or below it); else it is text files.
  return fs::is_directory(spec, ec) && detail::folder_holds(spec, is_image_file_name);
}

std::vector<uint8_t> class_flags(const std::vector<std::string>& class_names, int64_t n_classes,
                                 const std::vector<std::string>& classes) {
  n_classes = std::max<int64_t>(n_classes, static_cast<int64_t>(class_names.size()));
  std::vector<uint8_t> flags(static_cast<size_t>(n_classes), 0);
  for (const auto& name : classes) {
    const auto named = std::find(class_names.begin(), class_names.end(), name);
    int64_t index = named - class_names.begin();
    if (named == class_names.end()) {
      char* end = nullptr;
      const long v = std::strtol(name.c_str(), &end, 10);
      std::string known;
      for (size_t k = 0; k < class_names.size() && k < 20; ++k) known += (k ? ", " : "") + class_names[k];
      GF_CHECK_AS(InvalidArgument, !name.empty() && end && *end == 0 && v >= 0 && v < n_classes,
                  "give class names or indices 0.." + std::to_string(n_classes - 1) +
                      (known.empty() ? std::string() : " (" + known + (class_names.size() > 20 ? ", …)" : ")")),
                  "unknown class '", name, "'");
      index = v;
    }
    flags[static_cast<size_t>(index)] = 1;
  }
  return flags;
}

namespace {

// The first row of each run of equal values (missing cells equal each other).
std::vector<size_t> run_starts(const Column& column) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < column.size(); ++i) {
    const bool same = i > 0 && column.missing[i] == column.missing[i - 1] &&
                      (column.missing[i] || column.values[i] == column.values[i - 1]);
    if (!same) starts.push_back(i);
  }
  return starts;
}

}  // namespace

torch::Tensor sequence_lengths(const Column& column) {
  const auto starts = run_starts(column);
  std::vector<int64_t> lengths;
  std::map<std::string, size_t> seen;  // value -> runs
  std::string first_again;
  size_t again_row = 0, values_again = 0;
  for (size_t k = 0; k < starts.size(); ++k) {
    lengths.push_back(static_cast<int64_t>((k + 1 < starts.size() ? starts[k + 1] : column.size()) - starts[k]));
    const std::string value = detail::cell_text(column, starts[k]);
    if (++seen[value] == 2) {
      if (values_again++ == 0) {
        first_again = value;
        again_row = starts[k] + 1;
      }
    }
  }
  if (values_again > 0) {
    // Interleaved sequences (rows sorted by time, not by sequence) would silently become many short ones.
    log::warn(msg("column '", column.name, "' starts sequence '", first_again, "' again at row ", again_row,
                  " after other values", values_again > 1 ? msg(" (and ", values_again - 1, " more values do so)") : "",
                  ": each run of equal values is one sequence; sort the table by '", column.name,
                  "' (keeping each sequence's order) if the runs belong together"));
  }
  return torch::tensor(lengths, torch::kLong);
}

std::vector<std::string> sequence_ids(const Column& column) {
  std::vector<std::string> ids;
  for (size_t start : run_starts(column)) ids.push_back(detail::cell_text(column, start));
  return ids;
}

torch::Tensor scale_images(const torch::Tensor& images, double scale) {
  GF_CHECK(scale > 0, "the pixel scale must be positive, got ", scale);
  return images.to(torch::kFloat32) / scale;
}

int64_t Source::size() const {
  switch (form) {
    case DataKind::table:
    case DataKind::sequences: return static_cast<int64_t>(table.n_rows());
    case DataKind::images: return images.images.defined() ? images.images.size(0) : 0;
    case DataKind::text: {
      int64_t lines = 0;
      for (char c : text) lines += c == '\n';
      return lines + (!text.empty() && text.back() != '\n');
    }
    case DataKind::documents: return static_cast<int64_t>(documents.size());
    case DataKind::tagged_text: return static_cast<int64_t>(sentences.size());
  }
  return 0;
}

torch::Tensor Source::labels() const {
  if (form == DataKind::images) return images.labels;
  if (form == DataKind::documents && !documents.labels.empty()) return torch::tensor(documents.labels, torch::kLong);
  return {};
}

const std::vector<std::string>& Source::class_names() const {
  static const std::vector<std::string> none;
  return form == DataKind::images ? images.class_names : form == DataKind::documents ? documents.class_names : none;
}

const std::vector<std::string>& Source::item_files() const {
  static const std::vector<std::string> none;
  switch (form) {
    case DataKind::images: return images.files;
    case DataKind::documents: return documents.files;
    case DataKind::text: return text_line_files;
    default: return none;
  }
}

std::string Source::describe() const {
  std::ostringstream o;
  switch (form) {
    case DataKind::table:
    case DataKind::sequences: o << table.n_rows() << " rows x " << table.n_cols() << " columns"; break;
    case DataKind::images: o << size() << " examples"; break;
    case DataKind::text: o << text.size() << " characters in " << size() << " lines"; break;
    case DataKind::documents: o << documents.size() << " documents"; break;
    case DataKind::tagged_text: {
      size_t tokens = 0;
      for (const auto& s : sentences) tokens += s.words.size();
      o << sentences.size() << " sentences, " << tokens << " tokens";
      break;
    }
  }
  return o.str();
}

namespace {

// The examples of `source` whose flag in `keep` is 1, labels and file names with them.
void keep_items(Source& source, const std::vector<uint8_t>& keep) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i]) rows.push_back(static_cast<int64_t>(i));
  }
  auto pick = [&](auto& v) {
    if (v.empty()) return;
    std::remove_reference_t<decltype(v)> out;
    for (int64_t r : rows) out.push_back(std::move(v[static_cast<size_t>(r)]));
    v = std::move(out);
  };
  if (source.form == DataKind::images) {
    auto index = torch::tensor(rows, torch::kLong);
    source.images.images = source.images.images.index_select(0, index);
    if (source.images.labels.defined()) source.images.labels = source.images.labels.index_select(0, index);
    pick(source.images.files);
  } else {
    pick(source.documents.words);
    pick(source.documents.labels);
    pick(source.documents.files);
  }
}

void keep_classes(Source& source, const std::vector<std::string>& classes) {
  const auto labels = source.labels();
  GF_CHECK_AS(DataError, labels.defined(),
              "--classes needs labelled data (image or text files in class sub-folders, IDX labels, brown)", "'",
              source.spec, "' has no class labels to select by");
  const int64_t n_classes = labels.numel() ? labels.max().item<int64_t>() + 1 : 0;
  const auto selected = class_flags(source.class_names(), n_classes, classes);
  std::vector<uint8_t> keep(static_cast<size_t>(labels.numel()));
  const auto l = labels.to(torch::kLong).contiguous();
  for (int64_t i = 0; i < l.numel(); ++i) keep[static_cast<size_t>(i)] = selected[static_cast<size_t>(l.data_ptr<int64_t>()[i])];
  keep_items(source, keep);
}

void keep_first_items(Source& source, int64_t limit) {
  if (limit <= 0 || limit >= source.size()) return;
  std::vector<uint8_t> keep(static_cast<size_t>(source.size()), 0);
  std::fill(keep.begin(), keep.begin() + limit, 1);
  keep_items(source, keep);
}

}  // namespace

Source with_unlabelled(const Source& labelled, const Source& unlabelled) {
  GF_CHECK_AS(InvalidArgument, labelled.form == DataKind::images && labelled.images.labels.defined(),
              "give labelled images (class sub-folders, fashion-mnist) beside the unlabelled ones", "'",
              labelled.spec, "' has no labelled images");
  const auto& a = labelled.images.images;
  const auto& b = unlabelled.images.images;
  GF_CHECK_AS(InvalidArgument, unlabelled.form == DataKind::images && b.defined() && b.size(0) > 0,
              "give unlabelled images of the labelled set's kind", "'", unlabelled.spec, "' has no images");
  GF_CHECK_AS(InvalidArgument, b.sizes().slice(1) == a.sizes().slice(1),
              "give unlabelled images of the labelled ones' size (--image-size)", "unlabelled images are ",
              b.sizes().slice(1), ", the labelled ones ", a.sizes().slice(1));
  Source both = labelled;
  both.spec = labelled.spec + " + unlabelled " + unlabelled.spec;
  both.images.images = torch::cat({a, b.to(a.scalar_type())});
  both.images.labels = torch::cat({labelled.images.labels.to(torch::kLong).reshape({-1}),
                                   torch::full({b.size(0)}, -1, torch::kLong)});
  both.images.files.clear();  // names of the labelled images only: none for the whole
  return both;
}

Source load_source(const std::string& spec, DataKind wanted, const SourceOptions& options) {
  GF_CHECK_AS(InvalidArgument, options.limit >= 0, "give --limit N with N >= 1, or leave it out",
              "--limit must be >= 0, got ", options.limit);
  GF_CHECK_AS(InvalidArgument, !spec.empty(), "e.g. --data table.csv or --data fashion-mnist", "no data given");
  GF_CHECK_AS(InvalidArgument, options.classes.empty() || wanted == DataKind::images || wanted == DataKind::documents,
              "leave --classes out: it selects classes of labelled images or documents", "--classes was given for '",
              spec, "', read as ", to_string(wanted));
  GF_CHECK_AS(InvalidArgument,
              options.image_size.empty() || (wanted == DataKind::images && is_image_spec(spec) && !is_table_file(spec)),
              "leave --image-size out: it resizes image files and folders", "--image-size ",
              options.image_size.height, "x", options.image_size.width, " was given for '", spec, "', which is not ",
              wanted == DataKind::images ? "image files" : "read as images");
  log::ScopedTimer timer("read data");
  Source s;
  s.spec = spec;
  const bool brown = is_brown_spec(spec);
  // Sequence models read text as lines of symbols (InputPipeline::fit): Brown's sentences, a .txt file, a folder.
  std::error_code ec;
  const bool text_for_sequences =
      wanted == DataKind::sequences && !is_table_file(spec) && !is_image_spec(spec) &&
      (brown || ends_with(spec, ".txt") || ends_with(spec, ".txt.gz") || fs::is_directory(spec, ec));
  switch (text_for_sequences ? DataKind::text : wanted) {
    case DataKind::table:
    case DataKind::sequences:
      GF_CHECK_AS(DataError, !brown && !(is_image_spec(spec) && !is_table_file(spec)), wrong_kind_hint(wanted), "'",
                  spec, "' is ", brown ? "text" : "image data", ", not a table");
      s.form = DataKind::table;
      s.table = cut_table(read_table(spec, options.read), options.limit);
      break;
    case DataKind::images:
      GF_CHECK_AS(DataError, !brown, wrong_kind_hint(wanted), "'", spec, "' is text, not images");
      if (is_table_file(spec)) {
        s.form = DataKind::table;
        s.table = cut_table(read_table(spec, options.read), options.limit);
        if (!options.classes.empty()) keep_classes(s, options.classes);  // a table has none: says so
      } else {
        s.form = DataKind::images;
        s.images = load_images(spec, options.image_size);
        if (!options.classes.empty()) keep_classes(s, options.classes);
        keep_first_items(s, options.limit);
      }
      break;
    case DataKind::text: {
      GF_CHECK_AS(DataError, !is_image_spec(spec), wrong_kind_hint(wanted), "'", spec, "' is image data, not text");
      s.form = DataKind::text;
      s.text = load_text(spec, &s.text_line_files);
      if (options.limit > 0) {  // the first `limit` lines
        size_t pos = 0;
        for (int64_t line = 0; line < options.limit && pos != std::string::npos; ++line) {
          pos = s.text.find('\n', pos);
          if (pos != std::string::npos) ++pos;
        }
        if (pos != std::string::npos) s.text.resize(pos);
        if (static_cast<int64_t>(s.text_line_files.size()) > options.limit) s.text_line_files.resize(options.limit);
      }
      break;
    }
    case DataKind::documents:
      GF_CHECK_AS(DataError, !is_image_spec(spec), wrong_kind_hint(wanted), "'", spec,
                  "' is image data, not documents");
      if (is_table_file(spec)) {  // word ids
        s.form = DataKind::table;
        s.table = cut_table(read_table(spec, options.read), options.limit);
      } else {
        s.form = DataKind::documents;
        s.documents = load_documents(spec);
        if (!options.classes.empty()) keep_classes(s, options.classes);
        keep_first_items(s, options.limit);
      }
      break;
    case DataKind::tagged_text:
      GF_CHECK_AS(DataError, !is_table_file(spec) && !(is_image_spec(spec) && !fs::is_directory(spec)),
                  wrong_kind_hint(wanted), "'", spec, "' is not word/tag text");
      s.form = DataKind::tagged_text;
      s.sentences = load_tagged_sentences(spec);
      keep_first(s.sentences, options.limit);
      break;
  }
  return s;
}

}  // namespace gf::data
