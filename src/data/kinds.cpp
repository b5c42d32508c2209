#include "genforge/data/kinds.h"

#include "genforge/core/error.h"

namespace gf {

const std::vector<DataKind>& all_data_kinds() {
  static const std::vector<DataKind> kinds = {DataKind::table,     DataKind::images,    DataKind::sequences,
                                              DataKind::text,      DataKind::documents, DataKind::tagged_text};
  return kinds;
}

const char* to_string(DataKind kind) {
  switch (kind) {
    case DataKind::table: return "table";
    case DataKind::images: return "images";
    case DataKind::sequences: return "sequences";
    case DataKind::text: return "text";
    case DataKind::documents: return "documents";
    case DataKind::tagged_text: return "tagged-text";
  }
  return "?";
}

DataKind data_kind_from_string(const std::string& text) {
  std::string names;
  for (DataKind k : all_data_kinds()) {
    if (text == to_string(k)) return k;
    names += (names.empty() ? "" : ", ") + std::string(to_string(k));
  }
  throw InvalidArgument(msg("unknown data kind '", text, "'"), "data kinds are: " + names);
}

}  // namespace gf
