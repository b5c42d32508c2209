#include "genforge/data/source.h"

#include <filesystem>
#include <sstream>

#include "column_builder.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"

namespace gf::data {
namespace fs = std::filesystem;
namespace {

using gf::detail::ends_with;

bool is_brown_spec(const std::string& spec) { return spec == "brown" || spec.rfind("brown:", 0) == 0; }

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
    case DataKind::text: return "this model takes text: brown[:CATEGORIES] or a text file";
    case DataKind::documents: return "this model takes documents: brown[:CATEGORIES] or a text file, one per line";
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
  return fs::is_directory(spec, ec) && !fs::exists(fs::path(spec) / "package.json", ec);
}

torch::Tensor sequence_lengths(const Column& column) {
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < column.size(); ++i) {
    const bool same = i > 0 && column.missing[i] == column.missing[i - 1] &&
                      (column.missing[i] || column.values[i] == column.values[i - 1]);
    if (same) {
      ++lengths.back();
    } else {
      lengths.push_back(1);
    }
  }
  return torch::tensor(lengths, torch::kLong);
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

ImageSet keep_classes(ImageSet set, const std::vector<std::string>& classes, const std::string& spec) {
  GF_CHECK_AS(DataError, set.labels.defined(), "--classes needs labelled images (class sub-folders, IDX labels)",
              "'", spec, "' has no class labels to select by");
  const auto selected = class_flags(set, classes);
  auto keep = torch::tensor(std::vector<int64_t>(selected.begin(), selected.end()), torch::kLong).to(torch::kBool);
  auto rows = keep.index_select(0, set.labels.to(torch::kLong)).nonzero().reshape({-1});
  set.images = set.images.index_select(0, rows);
  set.labels = set.labels.index_select(0, rows);
  return set;
}

}  // namespace

Source load_source(const std::string& spec, DataKind wanted, const SourceOptions& options) {
  GF_CHECK_AS(InvalidArgument, options.limit >= 0, "give --limit N with N >= 1, or leave it out",
              "--limit must be >= 0, got ", options.limit);
  GF_CHECK_AS(InvalidArgument, !spec.empty(), "e.g. --data table.csv or --data fashion-mnist", "no data given");
  GF_CHECK_AS(InvalidArgument,
              options.image_size.empty() || (wanted == DataKind::images && is_image_spec(spec) && !is_table_file(spec)),
              "leave --image-size out: it resizes image files and folders", "--image-size ",
              options.image_size.height, "x", options.image_size.width, " was given for '", spec, "', which is not ",
              wanted == DataKind::images ? "image files" : "read as images");
  log::ScopedTimer timer("read data");
  Source s;
  s.spec = spec;
  const bool brown = is_brown_spec(spec);
  switch (wanted) {
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
      } else {
        s.form = DataKind::images;
        s.images = load_images(spec, options.image_size);
        if (!options.classes.empty()) s.images = keep_classes(std::move(s.images), options.classes, spec);
        if (options.limit > 0 && options.limit < s.images.images.size(0)) {
          s.images.images = s.images.images.slice(0, 0, options.limit);
          if (s.images.labels.defined()) s.images.labels = s.images.labels.slice(0, 0, options.limit);
        }
      }
      break;
    case DataKind::text: {
      GF_CHECK_AS(DataError, !is_image_spec(spec), wrong_kind_hint(wanted), "'", spec, "' is image data, not text");
      s.form = DataKind::text;
      s.text = load_text(spec);
      if (options.limit > 0) {  // the first `limit` lines
        size_t pos = 0;
        for (int64_t line = 0; line < options.limit && pos != std::string::npos; ++line) {
          pos = s.text.find('\n', pos);
          if (pos != std::string::npos) ++pos;
        }
        if (pos != std::string::npos) s.text.resize(pos);
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
        keep_first(s.documents, options.limit);
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
