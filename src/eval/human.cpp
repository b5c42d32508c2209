// Human evaluation, part one: study items, drawing the questions of a blind study, and the statistics
// (Wilson interval, t interval, Bradley-Terry, Cohen's / Fleiss' kappa, Krippendorff's alpha). The summary of the
// raters' answers is in human_summary.cpp, the page in human_page.cpp.
#include "genforge/eval/human.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "data/column_builder.h"
#include "eval/human_page.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/readers.h"
#include "genforge/io/bytes.h"

namespace gf::eval {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string lowercase_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool is_png(const std::string& bytes) { return bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

const char* kSourceHint =
    "give a folder of .png files, a .png grid with --tile PX, a .csv file (one item per row) or a .txt file (one "
    "item per line)";

// The seeded generator of a study's design. Draws by modulo (the bias is below 2^-40 for any realistic count) and
// Fisher-Yates by hand, so a seed gives the same study with any standard library.
class DesignRandom {
 public:
  explicit DesignRandom(uint64_t seed) : engine_(seed) {}
  uint64_t below(uint64_t n) { return engine_() % n; }
  bool coin() { return below(2) == 1; }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
  }

 private:
  std::mt19937_64 engine_;
};

// Hands out a system's items in shuffled rounds, so every item is shown about equally often.
class ItemDeck {
 public:
  explicit ItemDeck(size_t n) : order_(n) {
    for (size_t i = 0; i < n; ++i) order_[i] = static_cast<int64_t>(i);
    next_ = n;
  }
  int64_t draw(DesignRandom& random) {
    if (next_ == order_.size()) random.shuffle(order_), next_ = 0;
    return order_[next_++];
  }

 private:
  std::vector<int64_t> order_;
  size_t next_;
};

struct DraftQuestion {
  bool attention = false;
  int left_system = -1, right_system = -1;  // likert: left_system only
  int64_t left_item = 0, right_item = 0;
  std::string expect_choice;  // attention, pairs: "left" | "right"
  int expect_rating = 0;      // attention, likert
};

std::string fresh_study_id() {
  std::random_device device;
  const uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

}  // namespace

// ---- items ----------------------------------------------------------------------------------------------------

std::string png_item_html(const std::string& png_bytes) {
  return "<img class=\"png\" alt=\"\" src=\"data:image/png;base64," + base64_encode(png_bytes) + "\">";
}

std::string text_item_html(const std::string& text) { return "<div class=\"text\">" + html_escape(text) + "</div>"; }

std::string record_item_html(const std::vector<std::string>& columns, const std::vector<std::string>& values) {
  std::string head, row;
  for (size_t c = 0; c < columns.size(); ++c) {
    head += "<th>" + html_escape(columns[c]) + "</th>";
    row += "<td>" + html_escape(c < values.size() ? values[c] : "") + "</td>";
  }
  return "<table class=\"record\"><tr>" + head + "</tr><tr>" + row + "</tr></table>";
}

std::vector<std::string> read_study_items(const std::string& path) {
  const fs::path p(path);
  GF_CHECK_AS(DataError, fs::exists(p), "check the path of --a … --h", "item source '", path, "' does not exist");
  std::vector<std::string> items;
  if (fs::is_directory(p)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(p)) {
      if (entry.is_regular_file() && lowercase_extension(entry.path()) == ".png") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const std::string bytes = read_file_bytes(file.string());
      GF_CHECK_AS(DataError, is_png(bytes), "remove it from the folder, or convert it to PNG", "'", file.string(),
                  "' is not a PNG file (its first bytes are not the PNG signature)");
      items.push_back(png_item_html(bytes));
    }
    GF_CHECK_AS(DataError, !items.empty(), "put the images of this system in the folder as .png files",
                "item source '", path, "' holds no .png files");
    return items;
  }
  const std::string ext = lowercase_extension(p);
  if (ext == ".png") {
    throw InvalidArgument(msg("item source '", path, "' is a single PNG file"),
                          "give --tile PX to cut a grid (as `genforge sample … --out grid.png` writes) into PX x PX "
                          "tiles, or give a folder of .png files, one item each");
  }
  if (ext == ".csv") {
    const Table table = read_csv(path);
    for (size_t r = 0; r < table.n_rows(); ++r) {
      std::vector<std::string> values;
      for (const auto& column : table.columns()) values.push_back(gf::detail::cell_text(column, r));
      items.push_back(record_item_html(table.names(), values));
    }
    GF_CHECK_AS(DataError, !items.empty(), "give a table with a header line and at least one row",
                "item source '", path, "' has no rows");
    return items;
  }
  if (ext == ".txt") {
    std::istringstream lines(read_file_bytes(path));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      items.push_back(text_item_html(line));
    }
    GF_CHECK_AS(DataError, !items.empty(), "write one item per line", "item source '", path,
                "' holds no items (no non-empty line)");
    return items;
  }
  throw InvalidArgument(msg("item source '", path, "' is of an unknown kind (", ext.empty() ? "no extension" : ext, ")"),
                        kSourceHint);
}

// ---- making a study -------------------------------------------------------------------------------------------

int64_t StudyOptions::attention_count() const { return attention >= 0 ? attention : std::max<int64_t>(2, pairs / 10); }

void StudyOptions::validate() const {
  GF_CHECK_AS(InvalidArgument, pairs >= 1, "give --pairs 1 or more (default 100)", "--pairs must be at least 1; got ",
              pairs);
  GF_CHECK_AS(InvalidArgument, likert == 0 || (likert >= 2 && likert <= 10),
              "give --likert K with K from 2 to 10 (e.g. 5), or leave it out for pairs", "--likert must be from 2 to 10; got ",
              likert);
  GF_CHECK_AS(InvalidArgument, attention >= -1, "give --attention 0 or more (default max(2, pairs / 10))",
              "--attention must be 0 or more; got ", attention);
}

Study make_study(const std::vector<StudySystem>& systems, const StudyOptions& options) {
  options.validate();
  const bool likert = options.likert > 0;
  GF_CHECK_AS(InvalidArgument, likert || systems.size() >= 2,
              "give a second system with --b (up to --h), or rate single items with --likert K",
              "pairs need at least 2 systems; got ", systems.size());
  GF_CHECK_AS(InvalidArgument, !systems.empty(), "give the items of a system with --a", "a study needs a system");
  std::set<std::string> names;
  for (const auto& s : systems) {
    GF_CHECK_AS(InvalidArgument, names.insert(s.name).second, "give each system once", "system '", s.name,
                "' is given twice");
    GF_CHECK_AS(DataError, !s.items.empty(), kSourceHint, "system '", s.name, "' (", s.source, ") has no items");
  }
  DesignRandom random(options.seed);
  std::vector<ItemDeck> decks;
  for (const auto& s : systems) decks.emplace_back(s.items.size());
  const int n_systems = static_cast<int>(systems.size());

  std::vector<DraftQuestion> drafts;
  if (likert) {
    // Round robin over the systems in a fresh random order each round: counts differ by at most one.
    std::vector<int> order(systems.size());
    for (int s = 0; s < n_systems; ++s) order[static_cast<size_t>(s)] = s;
    for (int64_t q = 0; q < options.pairs; ++q) {
      if (q % n_systems == 0) random.shuffle(order);
      DraftQuestion d;
      d.left_system = order[static_cast<size_t>(q % n_systems)];
      d.left_item = decks[static_cast<size_t>(d.left_system)].draw(random);
      drafts.push_back(d);
    }
  } else {
    std::vector<std::pair<int, int>> system_pairs;
    for (int s = 0; s < n_systems; ++s) {
      for (int t = s + 1; t < n_systems; ++t) system_pairs.emplace_back(s, t);
    }
    const auto n_pairs = static_cast<int64_t>(system_pairs.size());
    for (int64_t q = 0; q < options.pairs; ++q) {
      if (q % n_pairs == 0) random.shuffle(system_pairs);
      auto [s, t] = system_pairs[static_cast<size_t>(q % n_pairs)];
      if (random.coin()) std::swap(s, t);
      DraftQuestion d;
      d.left_system = s, d.right_system = t;
      d.left_item = decks[static_cast<size_t>(s)].draw(random);
      d.right_item = decks[static_cast<size_t>(t)].draw(random);
      drafts.push_back(d);
    }
  }
  // Instructed-response checks show real items, so they look like the other questions until read.
  for (int64_t a = 0; a < options.attention_count(); ++a) {
    DraftQuestion d;
    d.attention = true;
    d.left_system = static_cast<int>(random.below(static_cast<uint64_t>(n_systems)));
    d.left_item = static_cast<int64_t>(random.below(systems[static_cast<size_t>(d.left_system)].items.size()));
    if (likert) {
      d.expect_rating = 1 + static_cast<int>(random.below(static_cast<uint64_t>(options.likert)));
    } else {
      d.right_system = static_cast<int>(random.below(static_cast<uint64_t>(n_systems)));
      d.right_item = static_cast<int64_t>(random.below(systems[static_cast<size_t>(d.right_system)].items.size()));
      d.expect_choice = random.coin() ? "right" : "left";
    }
    drafts.push_back(d);
  }
  random.shuffle(drafts);

  // The page's item table holds each shown item once, in random order: an index says nothing about the system.
  std::map<std::pair<int, int64_t>, int64_t> page_index;
  std::vector<std::pair<int, int64_t>> shown;
  for (const auto& d : drafts) {
    for (const auto& si : {std::make_pair(d.left_system, d.left_item), std::make_pair(d.right_system, d.right_item)}) {
      if (si.first >= 0 && page_index.emplace(si, 0).second) shown.push_back(si);
    }
  }
  random.shuffle(shown);
  nlohmann::ordered_json page_items = nlohmann::ordered_json::array();
  for (size_t i = 0; i < shown.size(); ++i) {
    page_index[shown[i]] = static_cast<int64_t>(i);
    page_items.push_back(systems[static_cast<size_t>(shown[i].first)].items[static_cast<size_t>(shown[i].second)]);
  }

  Study study;
  study.study_id = options.study_id.empty() ? fresh_study_id() : options.study_id;
  const std::string title =
      !options.title.empty() ? options.title : likert ? "How good is this?" : "Which one is better?";
  auto& key = study.key;
  key["type"] = "genforge study key";
  key["study_id"] = study.study_id;
  key["mode"] = likert ? "likert" : "pairs";
  if (likert) key["scale"] = options.likert;
  key["title"] = title;
  key["seed"] = options.seed;
  key["systems"] = nlohmann::ordered_json::array();
  for (const auto& s : systems) {
    key["systems"].push_back({{"name", s.name}, {"source", s.source}, {"items", s.items.size()}});
  }
  nlohmann::ordered_json key_questions = nlohmann::ordered_json::array();
  nlohmann::ordered_json page_questions = nlohmann::ordered_json::array();
  for (size_t q = 0; q < drafts.size(); ++q) {
    const auto& d = drafts[q];
    const auto id = static_cast<int64_t>(q + 1);
    nlohmann::ordered_json kq = {{"id", id}};
    nlohmann::ordered_json pq = {{"id", id}, {"items", {page_index[{d.left_system, d.left_item}]}}};
    if (!likert) pq["items"].push_back(page_index[{d.right_system, d.right_item}]);
    if (d.attention) {
      kq["attention"] = true;
      if (likert) {
        kq["expect"] = d.expect_rating;
        pq["instruction"] = msg("Attention check: choose ", d.expect_rating);
      } else {
        kq["expect"] = d.expect_choice;
        pq["instruction"] = d.expect_choice == "left" ? "Attention check: choose the LEFT item"
                                                      : "Attention check: choose the RIGHT item";
      }
    } else if (likert) {
      kq["system"] = systems[static_cast<size_t>(d.left_system)].name;
      kq["item"] = d.left_item;
    } else {
      kq["left"] = systems[static_cast<size_t>(d.left_system)].name;
      kq["right"] = systems[static_cast<size_t>(d.right_system)].name;
      kq["left_item"] = d.left_item;
      kq["right_item"] = d.right_item;
    }
    key_questions.push_back(std::move(kq));
    page_questions.push_back(std::move(pq));
  }
  key["questions"] = std::move(key_questions);

  nlohmann::ordered_json page;
  page["study_id"] = study.study_id;
  page["mode"] = key["mode"];
  page["scale"] = likert ? options.likert : 0;
  page["title"] = title;
  page["items"] = std::move(page_items);
  page["questions"] = std::move(page_questions);
  study.html = study_page_html(page);
  return study;
}

void write_study(const std::string& dir, const Study& study) {
  std::error_code error;
  fs::create_directories(dir, error);
  GF_CHECK_AS(InvalidArgument, !error && fs::is_directory(dir), "give --out a folder that can be created",
              "cannot create the study folder '", dir, "'", error ? ": " + error.message() : "");
  write_file_atomic((fs::path(dir) / "index.html").string(), [&](std::ostream& out) { out << study.html; });
  write_file_atomic((fs::path(dir) / "key.json").string(), [&](std::ostream& out) { out << study.key.dump(2) << "\n"; });
}

// ---- statistics -----------------------------------------------------------------------------------------------

Interval wilson_interval(double successes, double n, double z) {
  if (!(n > 0)) return {kNaN, kNaN};
  const double p = successes / n, z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double centre = (p + z2 / (2 * n)) / denominator;
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Interval mean_interval(const std::vector<double>& values) {
  const auto n = static_cast<double>(values.size());
  if (values.size() < 2) return {kNaN, kNaN};
  double mean = 0, squares = 0;
  for (double v : values) mean += v / n;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double se = std::sqrt(squares / (n - 1) / n);
  const double t = boost::math::quantile(boost::math::students_t(n - 1), 0.975);
  return {mean - t * se, mean + t * se};
}

BradleyTerry bradley_terry(const std::vector<std::vector<double>>& wins, int max_iterations, double tolerance) {
  const size_t m = wins.size();
  BradleyTerry result;
  std::vector<double> total_wins(m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < m; ++j) total_wins[i] += i == j ? 0.0 : wins[i][j];
  }
  // Strong connectivity of "i beat j" (transitive closure; m <= a handful of systems).
  std::vector<std::vector<bool>> reach(m, std::vector<bool>(m, false));
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < m; ++j) reach[i][j] = i == j || wins[i][j] > 0;
  }
  for (size_t k = 0; k < m; ++k) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < m; ++j) reach[i][j] = reach[i][j] || (reach[i][k] && reach[k][j]);
    }
  }
  result.strongly_connected = true;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < m; ++j) result.strongly_connected = result.strongly_connected && reach[i][j];
  }

  std::vector<double> pi(m, 1.0), next(m, 1.0);
  for (int it = 1; it <= max_iterations; ++it) {
    for (size_t i = 0; i < m; ++i) {
      double denominator = 0;
      for (size_t j = 0; j < m; ++j) {
        const double n_ij = i == j ? 0.0 : wins[i][j] + wins[j][i];
        if (n_ij > 0 && pi[i] + pi[j] > 0) denominator += n_ij / (pi[i] + pi[j]);
      }
      next[i] = denominator > 0 ? total_wins[i] / denominator : pi[i];  // never compared: stays where it is
    }
    double log_sum = 0;
    int positive = 0;
    for (double v : next) {
      if (v > 0) log_sum += std::log(v), ++positive;
    }
    const double scale = positive > 0 ? std::exp(-log_sum / positive) : 1.0;
    double change = 0;
    for (size_t i = 0; i < m; ++i) {
      next[i] *= scale;
      if (next[i] > 0 && pi[i] > 0) change = std::max(change, std::fabs(std::log(next[i] / pi[i])));
    }
    pi.swap(next);
    result.iterations = it;
    if (change < tolerance) {
      result.converged = true;
      break;
    }
  }
  // Without a finite maximum the iterates run off to 0 for the never-winning side: not a converged estimate.
  result.converged = result.converged && result.strongly_connected;
  result.strengths = pi;
  return result;
}

double cohen_kappa(const std::vector<double>& a, const std::vector<double>& b) {
  std::map<double, double> count_a, count_b;
  double n = 0, agree = 0;
  for (size_t u = 0; u < std::min(a.size(), b.size()); ++u) {
    if (std::isnan(a[u]) || std::isnan(b[u])) continue;
    count_a[a[u]] += 1, count_b[b[u]] += 1, n += 1;
    agree += a[u] == b[u] ? 1 : 0;
  }
  if (n == 0) return kNaN;
  double chance = 0;
  for (const auto& [category, count] : count_a) {
    const auto it = count_b.find(category);
    if (it != count_b.end()) chance += count / n * it->second / n;
  }
  if (chance >= 1) return kNaN;
  return (agree / n - chance) / (1 - chance);
}

double mean_pairwise_cohen_kappa(const RatingMatrix& ratings, int* pairs) {
  double sum = 0;
  int count = 0;
  for (size_t r = 0; r < ratings.size(); ++r) {
    for (size_t s = r + 1; s < ratings.size(); ++s) {
      const double kappa = cohen_kappa(ratings[r], ratings[s]);
      if (!std::isnan(kappa)) sum += kappa, ++count;
    }
  }
  if (pairs) *pairs = count;
  return count > 0 ? sum / count : kNaN;
}

double fleiss_kappa_counts(const std::vector<std::vector<double>>& counts) {
  if (counts.empty()) return kNaN;
  const double raters = std::accumulate(counts[0].begin(), counts[0].end(), 0.0);
  for (const auto& row : counts) {
    GF_CHECK(std::fabs(std::accumulate(row.begin(), row.end(), 0.0) - raters) < 1e-9,
             "Fleiss' kappa needs the same number of ratings for every unit");
  }
  if (raters < 2) return kNaN;
  const auto units = static_cast<double>(counts.size());
  std::vector<double> category_share(counts[0].size(), 0.0);
  double mean_agreement = 0;
  for (const auto& row : counts) {
    double squares = 0;
    for (size_t c = 0; c < row.size(); ++c) category_share[c] += row[c] / (units * raters), squares += row[c] * row[c];
    mean_agreement += (squares - raters) / (raters * (raters - 1)) / units;
  }
  double chance = 0;
  for (double p : category_share) chance += p * p;
  if (chance >= 1) return kNaN;
  return (mean_agreement - chance) / (1 - chance);
}

double fleiss_kappa(const RatingMatrix& ratings, int* units) {
  if (units) *units = 0;
  if (ratings.size() < 2) return kNaN;
  std::map<double, size_t> category;
  std::vector<size_t> complete;
  for (size_t u = 0; u < ratings[0].size(); ++u) {
    bool all = true;
    for (const auto& rater : ratings) all = all && u < rater.size() && !std::isnan(rater[u]);
    if (!all) continue;
    complete.push_back(u);
    for (const auto& rater : ratings) category.emplace(rater[u], 0);
  }
  size_t next = 0;
  for (auto& [value, index] : category) index = next++;
  std::vector<std::vector<double>> counts;
  for (size_t u : complete) {
    std::vector<double> row(category.size(), 0.0);
    for (const auto& rater : ratings) row[category[rater[u]]] += 1;
    counts.push_back(std::move(row));
  }
  if (units) *units = static_cast<int>(counts.size());
  return fleiss_kappa_counts(counts);
}

double krippendorff_alpha(const RatingMatrix& ratings, AlphaLevel level) {
  std::map<double, size_t> index;
  for (const auto& rater : ratings) {
    for (double v : rater) {
      if (!std::isnan(v)) index.emplace(v, 0);
    }
  }
  std::vector<double> values;
  for (auto& [value, i] : index) i = values.size(), values.push_back(value);
  const size_t k = values.size();
  // Coincidences: each unit with m >= 2 values adds its ordered pairs of values, weighted 1 / (m - 1).
  std::vector<std::vector<double>> coincidence(k, std::vector<double>(k, 0.0));
  const size_t n_units = ratings.empty() ? 0 : ratings[0].size();
  for (size_t u = 0; u < n_units; ++u) {
    std::vector<double> count(k, 0.0);
    double m = 0;
    for (const auto& rater : ratings) {
      if (u < rater.size() && !std::isnan(rater[u])) count[index[rater[u]]] += 1, m += 1;
    }
    if (m < 2) continue;
    for (size_t c = 0; c < k; ++c) {
      for (size_t d = 0; d < k; ++d) coincidence[c][d] += count[c] * (count[d] - (c == d ? 1 : 0)) / (m - 1);
    }
  }
  std::vector<double> marginal(k, 0.0);
  double n = 0;
  for (size_t c = 0; c < k; ++c) {
    for (size_t d = 0; d < k; ++d) marginal[c] += coincidence[c][d];
    n += marginal[c];
  }
  if (n < 2) return kNaN;
  auto distance = [&](size_t c, size_t d) {
    if (level == AlphaLevel::nominal) return c == d ? 0.0 : 1.0;
    return (values[c] - values[d]) * (values[c] - values[d]);
  };
  double observed = 0, expected = 0;
  for (size_t c = 0; c < k; ++c) {
    for (size_t d = 0; d < k; ++d) {
      observed += coincidence[c][d] * distance(c, d) / n;
      expected += marginal[c] * marginal[d] * distance(c, d) / (n * (n - 1));
    }
  }
  if (!(expected > 0)) return kNaN;
  return 1 - observed / expected;
}

}  // namespace gf::eval
