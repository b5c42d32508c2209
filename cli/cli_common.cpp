#include "cli_common.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "genforge/io/provenance.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/core/progress.h"
#include "genforge/core/runtime.h"
#include "genforge/data/readers.h"
#include "genforge/viz/plot.h"

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

void add_table_flags(CLI::App& app, TableFlags& flags) {
  app.add_option("--na", flags.na, "extra text that marks a missing cell (repeatable)");
  app.add_option("--type", flags.types, "column type override, e.g. --type age=continuous (repeatable)");
  app.add_option("--delimiter", flags.delimiter,
                 "table files: the field delimiter, one character or 'tab' (default: tab for .tsv, else sniffed from "
                 "the first lines among , ; tab |)");
  app.add_option("--thousands", flags.thousands,
                 "table files: the digit-group separator of numbers, , . ' or space (\"1,234.5\"; with '.', "
                 "\"1.234,5\"); default none");
  app.add_option("--classes", flags.classes, "labelled images or documents (class sub-folders, IDX labels, brown genres): keep only these classes, by name or index (e.g. --classes 0,7)")
      ->delimiter(',');
  app.add_option("--image-size", flags.image_size,
                 "images: resize every image to this size, 28 or HxW (antialiased bilinear, as torchvision's Resize)");
}

data::SourceOptions source_options(const TableFlags& flags, int64_t limit) {
  data::SourceOptions o;
  o.limit = limit;
  o.classes = flags.classes;
  if (!flags.image_size.empty()) o.image_size = parse_image_size(flags.image_size);
  for (const auto& na : flags.na) o.read.na_tokens.push_back(na);
  if (!flags.delimiter.empty()) {
    const std::string& d = flags.delimiter;
    GF_CHECK_AS(InvalidArgument, (d.size() == 1 && d != "\"" && d != "\n" && d != "\r") || d == "tab" || d == "\\t",
                "give one character, e.g. --delimiter ';' or --delimiter tab", "--delimiter '", d,
                "' is not one character");
    o.read.delimiter = d.size() == 1 ? d[0] : '\t';
  }
  if (!flags.thousands.empty()) {
    const std::string& t = flags.thousands;
    GF_CHECK_AS(InvalidArgument, t == "," || t == "." || t == "'" || t == " " || t == "space",
                "give , . ' or space, e.g. --thousands ,", "--thousands '", t, "' is not a digit-group separator");
    o.read.thousands = t == "space" ? ' ' : t[0];
  }
  for (const auto& kv : parse_set_pairs(flags.types, "--type")) {
    o.read.column_types[kv.first] = column_type_from_string(kv.second);
  }
  return o;
}

data::Source load_unlabelled(const std::string& spec, DataKind kind, const TableFlags& flags) {
  auto options = source_options(flags);
  options.classes.clear();
  return data::load_source(spec, kind, options);
}

Table load_table(const std::string& path, const TableFlags& flags) {
  log::ScopedTimer timer("read data");
  return read_table(path, source_options(flags).read);
}

OptionOverrides option_flags(const std::vector<std::string>& extras, const std::string& verb) {
  OptionOverrides out;
  for (size_t i = 0; i < extras.size(); ++i) {
    const std::string& a = extras[i];
    GF_CHECK_AS(InvalidArgument, a.size() > 2 && a.compare(0, 2, "--") == 0,
                "see `genforge " + verb + " --help`", "unexpected argument '", a, "'");
    std::string key = a.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < extras.size() && extras[i + 1].compare(0, 2, "--") != 0) {
      value = extras[++i];
    } else {
      value = "true";
    }
    if (key == "set") {  // --set KEY=VALUE, as `train` writes it, on every verb that takes model settings
      const auto kv = value.find('=');
      GF_CHECK_AS(InvalidArgument, kv != std::string::npos && kv > 0, "write --set key=value, e.g. --set epochs=5",
                  "--set '", value, "' is not key=value");
      key = value.substr(0, kv);
      value = value.substr(kv + 1);
    }
    std::replace(key.begin(), key.end(), '-', '_');
    out.emplace_back(key, value);
  }
  return out;
}

uint64_t resolve_seed(const std::optional<uint64_t>& seed) {
  record_provenance_seed(seed ? *seed : 0);
  return seed ? *seed : 0;
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

void write_confusion(const std::string& path, const ScoreResult& r, const std::string& kind, const std::string& data) {
  GF_CHECK_AS(NotSupported, r.classification.has_value(),
              "give labelled data to a model that classifies (finetune --new-head classes=K, a dbn with "
              "fine_tune_epochs > 0)",
              "the ", kind, " model made no class predictions on '", data, "', so there is no confusion matrix");
  char figures[64];
  std::snprintf(figures, sizeof figures, "accuracy %.3f, macro F1 %.3f", r.classification->accuracy,
                r.classification->macro_f1);
  viz::write_confusion_png(path, r.classification->confusion_rows(), r.class_names, kind + " on " + data + ": " + figures);
}

}  // namespace gf::cli
