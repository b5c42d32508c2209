#include "cli_common.h"

#include "genforge/data/images.h"
#include "genforge/data/matrix.h"

#include <fstream>
#include <iostream>

#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/runtime.h"
#include "genforge/data/readers.h"

namespace gf::cli {

void add_common_flags(CLI::App& app, CommonFlags& flags) {
  app.add_flag("-v,--verbose", flags.verbose, "more output: phase timers and details");
  app.add_flag("-q,--quiet", flags.quiet, "no progress bars");
  app.add_option("--threads", flags.threads,
                 "threads for LibTorch and OpenBLAS (default: GENFORGE_THREADS or all cores)");
}

void apply_common_flags(const CommonFlags& flags) {
  log::set_verbosity(flags.verbose > 0 ? 1 + flags.verbose : (flags.quiet ? 0 : 1));
  Progress::set_enabled(!flags.quiet);
  GF_CHECK(flags.threads >= 0, "--threads must be positive, got ", flags.threads);
  set_threads(flags.threads > 0 ? flags.threads : default_threads());
}

bool parse_or_help(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return false;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return false;
  } catch (const CLI::ParseError& e) {
    throw InvalidArgument(e.what(), "see `genforge " + app.get_name() + " --help`");
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_set_pairs(const std::vector<std::string>& items,
                                                                const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : items) {
    auto eq = item.find('=');
    GF_CHECK_AS(InvalidArgument, eq != std::string::npos && eq > 0,
                flag == "--set" ? "write --set key=value, e.g. --set n_components=5" : "write " + flag + " key=value",
                flag, " '", item, "' is not of the form key=value");
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string part = text.substr(start, comma - start);
    if (!part.empty()) out.push_back(part);
    start = comma + 1;
  }
  return out;
}

void add_table_flags(CLI::App& app, TableFlags& flags) {
  app.add_option("--na", flags.na, "extra text that marks a missing cell (repeatable)");
  app.add_option("--type", flags.types, "column type override, e.g. --type age=continuous (repeatable)");
}

Table load_table(const std::string& path, const TableFlags& flags) {
  ReadOptions options;
  for (const auto& na : flags.na) options.na_tokens.push_back(na);
  for (const auto& kv : parse_set_pairs(flags.types, "--type")) options.column_types[kv.first] = column_type_from_string(kv.second);
  log::ScopedTimer timer("read data");
  return read_table(path, options);
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

bool is_table_file(const std::string& path) {
  for (const char* ext : {".csv", ".tsv", ".json", ".npy"}) {
    const std::string e(ext);
    if (path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

Dataset load_image_data(const std::string& spec, int64_t limit, const TableFlags& flags) {
  GF_CHECK_AS(InvalidArgument, limit >= 0, "give --limit N with N >= 1, or leave it out", "--limit must be >= 0, got ",
              limit);
  Dataset ds;
  if (is_table_file(spec)) {
    Table t = load_table(spec, flags);
    ds.x = numeric_matrix(t);
    ds.columns = t.names();
  } else {
    ImageSet images = load_images(spec);
    ds.x = images.images.to(torch::kFloat32) / 255.0;  // [N, C, H, W]
    ds.labels = images.labels;
  }
  if (limit > 0 && limit < ds.x.size(0)) {
    ds.x = ds.x.slice(0, 0, limit);
    if (ds.labels.defined()) ds.labels = ds.labels.slice(0, 0, limit);
  }
  return ds;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  GF_CHECK_AS(DataError, in.good(), "check the path", "cannot open '", path, "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(msg("'", path, "' is not valid JSON (byte ", e.byte, ")"), "fix the JSON syntax");
  }
}

}  // namespace gf::cli
