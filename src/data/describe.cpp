// describe_source: how genforge read a data source (genforge info --data), so a user can check the types, missing
// cells, sizes and classes before training on it.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "column_builder.h"
#include "genforge/data/source.h"

namespace gf::data {
namespace {

nlohmann::json describe_column(const Column& c, bool identifier) {
  nlohmann::json j = {{"name", c.name}, {"type", to_string(c.type)}, {"missing", c.n_missing()}};
  if (identifier) j["identifier"] = true;
  size_t lo = c.size(), hi = c.size();  // rows of the smallest and largest present value
  double sum = 0;
  size_t present = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c.missing[i]) continue;
    if (lo == c.size() || c.values[i] < c.values[lo]) lo = i;
    if (hi == c.size() || c.values[i] > c.values[hi]) hi = i;
    sum += c.values[i];
    ++present;
  }
  if (c.type == ColumnType::categorical) {
    std::vector<size_t> counts(c.categories.size(), 0);
    for (size_t i = 0; i < c.size(); ++i) {
      if (!c.missing[i]) ++counts[static_cast<size_t>(c.values[i])];
    }
    std::vector<size_t> order(counts.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return counts[a] > counts[b]; });
    j["categories"] = c.categories.size();
    j["most_frequent"] = nlohmann::json::array();
    for (size_t k = 0; k < std::min<size_t>(5, order.size()); ++k) {
      j["most_frequent"].push_back({{"value", c.categories[order[k]]}, {"count", counts[order[k]]}});
    }
    return j;
  }
  if (present == 0) return j;
  j["min"] = detail::cell_text(c, lo);  // written as the file writes them (decimals, date format)
  j["max"] = detail::cell_text(c, hi);
  if (c.is_numeric()) j["mean"] = sum / static_cast<double>(present);
  if (c.type == ColumnType::continuous && c.decimals >= 0) j["decimals"] = c.decimals;
  if (c.type == ColumnType::datetime) j["format"] = c.format.empty() ? "ISO 8601" : c.format;
  return j;
}

// "classes": examples per class, for labelled images and documents (classes with none left out).
void add_class_counts(nlohmann::json& j, const Source& source) {
  const auto labels = source.labels();
  if (!labels.defined() || labels.numel() == 0) return;
  const auto& names = source.class_names();
  nlohmann::json classes = nlohmann::json::object();
  const auto counts = labels.bincount();
  for (int64_t k = 0; k < counts.size(0); ++k) {
    if (counts[k].item<int64_t>() == 0) continue;
    const std::string name = k < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(k)] : std::to_string(k);
    classes[name] = counts[k].item<int64_t>();
  }
  j["classes"] = classes;
}

}  // namespace

nlohmann::json describe_source(const Source& source) {
  nlohmann::json j = {{"data", source.spec}, {"read_as", to_string(source.form)}, {"size", source.describe()}};
  switch (source.form) {
    case DataKind::table:
    case DataKind::sequences: {
      const auto ids = identifier_columns(source.table);
      j["rows"] = source.table.n_rows();
      j["columns"] = nlohmann::json::array();
      for (const auto& c : source.table.columns()) {
        j["columns"].push_back(describe_column(c, std::find(ids.begin(), ids.end(), c.name) != ids.end()));
      }
      break;
    }
    case DataKind::images: {
      const auto& set = source.images;
      j["images"] = set.images.size(0);
      j["channels"] = set.images.size(1);
      j["height"] = set.images.size(2);
      j["width"] = set.images.size(3);
      add_class_counts(j, source);
      break;
    }
    case DataKind::text: {
      std::set<unsigned char> bytes(source.text.begin(), source.text.end());
      j["characters"] = source.text.size();
      j["lines"] = source.size();
      j["distinct_bytes"] = bytes.size();
      break;
    }
    case DataKind::documents: {
      std::set<std::string> words;
      size_t tokens = 0;
      for (const auto& d : source.documents.words) {
        tokens += d.size();
        words.insert(d.begin(), d.end());
      }
      j["documents"] = source.documents.size();
      j["tokens"] = tokens;
      j["distinct_words"] = words.size();
      add_class_counts(j, source);
      break;
    }
    case DataKind::tagged_text: {
      std::map<std::string, size_t> tags;
      size_t tokens = 0;
      for (const auto& s : source.sentences) {
        tokens += s.words.size();
        for (const auto& t : s.tags) ++tags[t];
      }
      j["sentences"] = source.sentences.size();
      j["tokens"] = tokens;
      j["tags"] = tags.size();
      break;
    }
  }
  return j;
}

}  // namespace gf::data
