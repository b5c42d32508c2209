// Shared pieces of the verbs: common flags, --set parsing, data loading by column, output helpers.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "genforge/data/table.h"
#include "genforge/data/text.h"
#include "genforge/data/tokenizers.h"
#include "genforge/model.h"

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
// "a,b,c" -> {"a","b","c"} (empty parts dropped).
std::vector<std::string> split_list(const std::string& text);

struct TableFlags {
  std::vector<std::string> na;     // extra missing-value markers
  std::vector<std::string> types;  // column=type overrides
};
void add_table_flags(CLI::App& app, TableFlags& flags);
// Reads a table with the reader chosen by extension, applying --na and --type.
Table load_table(const std::string& path, const TableFlags& flags);

// Data for a model of data kind "images": "fashion-mnist[:test]", a PNG folder or an IDX file become images
// [N, C, H, W] scaled to [0, 1] with their labels; a table file (.csv .tsv .json) becomes rows [N, D]. `limit` > 0
// keeps the first `limit` examples.
Dataset load_image_data(const std::string& spec, int64_t limit, const TableFlags& flags);
bool is_table_file(const std::string& path);

// Sequence models: consecutive rows with the same value of `column` form one sequence. [S] int64 lengths
torch::Tensor sequence_lengths(const Column& column);

// The tokenizer a language model keeps in its schema (a clear error when it has none).
std::unique_ptr<Tokenizer> model_tokenizer(const Model& model, const std::string& path);

// Reads a JSON file (the --config of train).
nlohmann::json read_json_file(const std::string& path);

}  // namespace gf::cli
