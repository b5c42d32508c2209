// Human evaluation: a blind study page that raters open offline, and the statistics of their answers.
//
//   make_study writes nothing itself: it draws the questions (balanced pairs of systems, random items, random sides
//   and order, instructed-response attention checks) and returns the page (self-contained HTML) and the secret key
//   (which system is on which side). write_study puts them in a folder; `genforge rate make` is the CLI.
//
//   summarize_study reads the key and the raters' exported answer files and reports per pair of systems the
//   preference rate with a Wilson interval, a Bradley-Terry ranking (Hunter 2004's MM algorithm), Likert means with
//   t intervals, and inter-rater agreement (Cohen's kappa, Fleiss' kappa, Krippendorff's alpha) over the raters who
//   passed every attention check. docs/human-evaluation.md gives the formulas.
//
// No torch here: items are HTML fragments (PNG bytes as base64 data URIs, text escaped, CSV rows as small tables).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gf::eval {

// ---- items ----------------------------------------------------------------------------------------------------

// One item of a study as an HTML fragment.
std::string png_item_html(const std::string& png_bytes);          // <img> with a base64 data URI
std::string text_item_html(const std::string& text);              // escaped, line breaks kept
std::string record_item_html(const std::vector<std::string>& columns, const std::vector<std::string>& values);
// The items of one source: a folder of .png files (sorted by name), a .csv file (one item per row) or a .txt file
// (one item per non-empty line). A single .png file is a grid the caller cuts (genforge rate make --tile); here it is
// an InvalidArgument saying so. No items, or an unknown kind of source: an error naming the path.
std::vector<std::string> read_study_items(const std::string& path);

// ---- making a study -------------------------------------------------------------------------------------------

struct StudySystem {
  std::string name;                // "a" .. "h": in the key only, never on the page
  std::string source;              // where the items came from (recorded in the key)
  std::vector<std::string> items;  // HTML fragments
};

struct StudyOptions {
  int64_t pairs = 100;     // questions besides attention checks: comparisons, or with likert the items to rate
  int likert = 0;          // 0: blind pairs (left / right / no preference); K >= 2: single items rated 1..K
  int64_t attention = -1;  // instructed-response questions; -1: max(2, pairs / 10)
  uint64_t seed = 0;       // fixes the questions, sides and order (not the study id, which is fresh each time)
  std::string title;       // empty: "Which one is better?" (pairs) or "How good is this?" (likert)
  std::string study_id;    // empty: 16 random hex digits
  int64_t attention_count() const;
  void validate() const;   // InvalidArgument naming the bad value
};

struct Study {
  std::string study_id;
  nlohmann::ordered_json key;  // {"type": "genforge study key", ...}: keep it from the raters
  std::string html;            // index.html
};

// Draws the questions. Pairs need >= 2 systems; every system needs >= 1 item (errors name the system).
Study make_study(const std::vector<StudySystem>& systems, const StudyOptions& options);
// Creates `dir` when missing and writes dir/index.html and dir/key.json, each atomically.
void write_study(const std::string& dir, const Study& study);

// ---- statistics -----------------------------------------------------------------------------------------------

constexpr double kZ95 = 1.959963984540054;  // the standard normal's 97.5 % quantile

struct Interval {
  double low = 0, high = 0;
};
// Wilson's score interval of a proportion p = successes / n (successes may be fractional: ties count half).
Interval wilson_interval(double successes, double n, double z = kZ95);
// Mean +- t(0.975, n - 1) * sd / sqrt(n); NaN bounds for n < 2.
Interval mean_interval(const std::vector<double>& values);

struct BradleyTerry {
  std::vector<double> strengths;  // normalised to geometric mean 1 (over the positive ones)
  int iterations = 0;
  bool converged = false;  // the updates settled below the tolerance and a finite maximum exists
  // Hunter 2004's condition for a finite maximum: every system beat, directly or through others, every other.
  bool strongly_connected = false;
};
// wins[i][j]: how often i beat j (a tie adds 0.5 to both). MM updates pi_i <- W_i / sum_j n_ij / (pi_i + pi_j)
// until the largest change of log pi is below `tolerance`.
BradleyTerry bradley_terry(const std::vector<std::vector<double>>& wins, int max_iterations = 10000,
                           double tolerance = 1e-10);

// Ratings as a rater x unit matrix of category codes or numbers; NaN = not rated.
using RatingMatrix = std::vector<std::vector<double>>;
// Cohen's kappa of two raters over the units both rated (NaN when undefined: no such unit, or chance agreement 1).
double cohen_kappa(const std::vector<double>& a, const std::vector<double>& b);
// The mean of Cohen's kappa over all pairs of raters (nltk's AnnotationTask.kappa()); `pairs` gets how many.
double mean_pairwise_cohen_kappa(const RatingMatrix& ratings, int* pairs = nullptr);
// Fleiss' kappa over the units every rater rated; `units` gets how many.
double fleiss_kappa(const RatingMatrix& ratings, int* units = nullptr);
// Fleiss' kappa from counts[unit][category] (raters per unit putting it in the category; equal row sums).
double fleiss_kappa_counts(const std::vector<std::vector<double>>& counts);
// Krippendorff's alpha (nominal or interval metric) from the coincidence matrix of the units with >= 2 values;
// missing values allowed. NaN when fewer than two values are pairable or all values are equal.
enum class AlphaLevel { nominal, interval };
double krippendorff_alpha(const RatingMatrix& ratings, AlphaLevel level);

// ---- summarising the answers ----------------------------------------------------------------------------------

struct SummaryOptions {
  bool include_failed = false;  // keep raters who failed an attention check in the statistics (still flagged)
  int bt_max_iterations = 10000;
  double bt_tolerance = 1e-10;
};

// Reads the key and the answer files among `paths` (recognised by their "type"; summaries written by --out are
// skipped) and summarises them. DataError for: no key, no answer files, answers of another study, a file that is not
// JSON or lacks fields, a question id not in the key, two files of one rater.
nlohmann::ordered_json summarize_study_files(const std::vector<std::string>& paths, const SummaryOptions& options = {});
// The same from parsed documents: `answers` pairs a file name (for errors) with its JSON.
nlohmann::ordered_json summarize_study(const nlohmann::json& key, const std::string& key_file,
                                       const std::vector<std::pair<std::string, nlohmann::json>>& answers,
                                       const SummaryOptions& options = {});
// The summary as the tables `genforge rate summarize` prints.
std::string study_summary_text(const nlohmann::ordered_json& summary);

}  // namespace gf::eval
