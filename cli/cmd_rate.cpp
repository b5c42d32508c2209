// genforge rate: human evaluation. `make` writes a blind study page (index.html) and its secret key (key.json);
// `summarize` reads the key and the raters' exported answers. The study logic and statistics are in
// genforge/eval/human.h; this file reads the item sources (PNG grids need the image code) and prints.
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/images.h"
#include "genforge/eval/human.h"

namespace gf::cli {
namespace {

// A source's items: a .png file is a grid cut into tile x tile images (padding as write_png_grid lays them out);
// anything else is the library's (image folder, .csv, .txt).
std::vector<std::string> study_items(const std::string& path, int64_t tile) {
  const bool png_file = std::filesystem::is_regular_file(path) && ends_with(path, ".png");
  if (!png_file || tile <= 0) return eval::read_study_items(path);
  const ImageSet grid = read_png_grid(path, tile, tile);
  std::vector<std::string> items;
  for (int64_t i = 0; i < grid.images.size(0); ++i) items.push_back(eval::png_item_html(encode_png(grid.images[i])));
  GF_CHECK_AS(DataError, !items.empty(), "check --tile: the grid's tiles are PX x PX pixels, 2 pixels apart",
              "item source '", path, "' holds no tiles of ", tile, " x ", tile, " pixels");
  return items;
}

int run_rate_make(int argc, char** argv) {
  CLI::App app("a blind human-evaluation study: one offline page (index.html) showing randomised pairs of items "
               "from the systems --a, --b, … (or single items on a 1..K scale), and the key that unblinds the answers "
               "(key.json)",
               "rate make");
  const std::vector<std::string> letters = {"a", "b", "c", "d", "e", "f", "g", "h"};
  std::vector<std::string> sources(letters.size());
  for (size_t i = 0; i < letters.size(); ++i) {
    app.add_option("--" + letters[i], sources[i],
                   i == 0 ? "items of system a: a folder of .png files, a .png grid (with --tile), a .csv (one item "
                            "per row) or a .txt file (one item per line)"
                          : "items of system " + letters[i]);
  }
  eval::StudyOptions options;
  std::optional<uint64_t> seed;
  std::string out;
  int64_t tile = 0;
  bool force = false;
  CommonFlags common;
  app.add_option("--pairs", options.pairs, "questions besides attention checks: comparisons, or with --likert the "
                                           "items to rate (default 100)");
  app.add_option("--likert", options.likert, "rate single items from 1 to K (2..10) instead of comparing pairs");
  app.add_option("--attention", options.attention, "attention checks (default max(2, pairs / 10))");
  app.add_option("--seed", seed, "seed of the questions, sides and order (default 0)");
  app.add_option("--title", options.title, "the question shown (default \"Which one is better?\" / \"How good is this?\")");
  app.add_option("--tile", tile, "cut .png sources into PX x PX tiles (grids as `genforge sample` writes them)");
  app.add_option("--out,-o", out, "study folder: index.html for the raters, key.json to keep")->required();
  app.add_flag("--force", force, "replace an existing study in --out (its answers can no longer be summarised)");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  options.seed = resolve_seed(seed);
  options.validate();
  const std::string key_path = (std::filesystem::path(out) / "key.json").string();
  GF_CHECK_AS(InvalidArgument, force || !std::filesystem::exists(key_path),
              "give another --out, or --force to replace the study (answers given to its page then cannot be "
              "summarised)",
              "'", key_path, "' exists: a study is already there");
  std::vector<eval::StudySystem> systems;
  for (size_t i = 0; i < letters.size(); ++i) {
    if (sources[i].empty()) continue;
    systems.push_back({letters[i], sources[i], study_items(sources[i], tile)});
  }
  const eval::Study study = eval::make_study(systems, options);
  eval::write_study(out, study);
  const size_t total = study.key["questions"].size();
  std::cout << "wrote " << (std::filesystem::path(out) / "index.html").string() << " (" << total << " questions: "
            << options.pairs << (options.likert ? " items to rate 1.." + std::to_string(options.likert) : " comparisons")
            << " + " << options.attention_count() << " attention checks; " << systems.size() << " systems; seed "
            << options.seed << ")\nwrote " << key_path << " (the key: keep it from the raters)\nstudy id "
            << study.study_id << "\n";
  return 0;
}

int run_rate_summarize(int argc, char** argv) {
  CLI::App app("summarise a study: preferences with Wilson intervals, a Bradley-Terry ranking or Likert means, and "
               "inter-rater agreement (Cohen, Fleiss, Krippendorff) over the raters who passed the attention checks",
               "rate summarize");
  std::vector<std::string> files;
  std::string out;
  bool json = false;
  eval::SummaryOptions options;
  CommonFlags common;
  app.add_option("files", files, "the study's key.json and the raters' answer files (e.g. study/*.json)")->required();
  app.add_option("--out,-o", out, "also write the summary as JSON");
  app.add_flag("--json", json, "print the summary as JSON");
  app.add_flag("--include-failed", options.include_failed,
               "keep raters who failed an attention check in the statistics (they are flagged either way)");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  if (!out.empty()) check_writable(out);
  const auto summary = eval::summarize_study_files(files, options);
  if (!out.empty()) write_file_atomic(out, [&](std::ostream& s) { s << summary.dump(2) << "\n"; });
  if (json) {
    std::cout << summary.dump() << "\n";
  } else {
    std::cout << eval::study_summary_text(summary);
    if (!out.empty()) std::cout << "\nwrote " << out << "\n";
  }
  return 0;
}

}  // namespace

int run_rate(int argc, char** argv) {
  const std::string usage =
      "usage: genforge rate make --a DIR|G.png|T.csv|T.txt --b … [--c … up to --h] [--pairs 100] [--likert K]\n"
      "                          [--attention N] [--seed S] [--title T] [--tile PX] --out STUDY/\n"
      "       genforge rate summarize STUDY/key.json ANSWERS.json … [--json] [--out summary.json] [--include-failed]\n";
  GF_CHECK_AS(InvalidArgument, argc >= 2, "use `genforge rate make` (a study page) or `genforge rate summarize` "
              "(the answers); genforge rate --help shows both", "rate needs a command: make or summarize");
  if (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << usage;
    return 0;
  }
  const std::string what = argv[1];
  if (what == "make") return run_rate_make(argc - 1, argv + 1);
  if (what == "summarize" || what == "summarise") return run_rate_summarize(argc - 1, argv + 1);
  throw InvalidArgument(msg("unknown rate command '", what, "'"),
                        "use `genforge rate make` (a study page) or `genforge rate summarize` (the answers)");
}

}  // namespace gf::cli
