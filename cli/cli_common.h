// Shared pieces of the verbs: common flags, --set parsing, data loading by column, output helpers.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "genforge/data/source.h"
#include "genforge/data/table.h"
#include "genforge/model.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"

namespace gf::cli {

struct CommonFlags {
  int verbose = 0;
  bool quiet = false;
  int threads = 0;  // 0: default
};
void add_common_flags(CLI::App& app, CommonFlags& flags);
void apply_common_flags(const CommonFlags& flags);

// Runs app.parse; --help prints and returns false (the verb then exits 0); parse errors become gf::InvalidArgument.
bool parse_or_help(CLI::App& app, int argc, char** argv);

// "key=value" texts -> pairs; a text without '=' is an error.
std::vector<std::pair<std::string, std::string>> parse_set_pairs(const std::vector<std::string>& items,
                                                                const std::string& flag = "--set");

struct TableFlags {
  std::vector<std::string> na;     // extra missing-value markers
  std::vector<std::string> types;  // column=type overrides
  std::string delimiter;           // table files: one character or "tab" (empty: sniffed)
  std::string thousands;           // table files: the digit-group separator (, . ' or "space"; empty: none)
  std::vector<std::string> classes;  // images: keep only these classes
  std::string image_size;            // images: resize to this size ("28", "32x48")
};
void add_table_flags(CLI::App& app, TableFlags& flags);
// The data-source options of --na, --type, --delimiter, --classes, --image-size and --limit.
data::SourceOptions source_options(const TableFlags& flags, int64_t limit = 0);
// --unlabelled SPEC: examples whose labels are not read (so --classes does not filter them).
data::Source load_unlabelled(const std::string& spec, DataKind kind, const TableFlags& flags);
// Reads a table with the reader chosen by extension, applying --na and --type.
Table load_table(const std::string& path, const TableFlags& flags);

// Flags the verb does not know, as option key=value pairs: `--min-df 5`, `--min-df=5` and a bare `--flag` (true)
// become min_df=5 and flag=true; `--set epochs=5` (train's spelling) becomes epochs=5. They are the model's and its
// input pipeline's options (train MODEL --help lists them); anything else is an error naming the flag.
OptionOverrides option_flags(const std::vector<std::string>& extras, const std::string& verb);

// The seed of a sampling verb: --seed when given; else 0, reproducible from call to call (the verb's output says
// which seed it used, so a user who expected fresh randomness knows how to get it).
uint64_t resolve_seed(const std::optional<uint64_t>& seed);

// True when `s` ends with `tail` (output formats chosen by extension).
inline bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Reads a JSON file (the --config of train).
nlohmann::json read_json_file(const std::string& path);

// The confusion matrix of a score on labelled data as a PNG (--confusion of score and finetune); NotSupported when the
// model made no class predictions.
void write_confusion(const std::string& path, const ScoreResult& r, const std::string& kind, const std::string& data);

}  // namespace gf::cli
