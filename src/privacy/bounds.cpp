// Declared and private column ranges (bounds.h).
#include "genforge/privacy/bounds.h"

#include <algorithm>
#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/options.h"
#include "core/trim.h"
#include "data/column_builder.h"
#include "privacy/noise.h"

namespace gf::privacy {

namespace {

constexpr int kLowestOctave = -32, kHighestOctave = 63;
constexpr int kOctaves = kHighestOctave - kLowestOctave + 1;
constexpr int kBins = 2 * kOctaves + 1;  // negative octaves (largest magnitude first), the zero bin, positive ones
constexpr double kFalsePositive = 1e-3;  // β: the chance that any empty bin passes the threshold
constexpr double kNeighbourShare = 0.25;  // a bin next to the range joins it with this share of the fullest's count

int bin_of(double x) {
  const double a = std::fabs(x);
  if (a < std::ldexp(1.0, kLowestOctave)) return kOctaves;
  const int k = std::clamp(std::ilogb(a), kLowestOctave, kHighestOctave) - kLowestOctave;
  return x > 0 ? kOctaves + 1 + k : kOctaves - 1 - k;
}

double lower_edge(int b) {
  if (b == kOctaves) return -std::ldexp(1.0, kLowestOctave);
  if (b > kOctaves) return std::ldexp(1.0, b - kOctaves - 1 + kLowestOctave);
  return -std::ldexp(1.0, kOctaves - 1 - b + kLowestOctave + 1);
}

double upper_edge(int b) {
  if (b == kOctaves) return std::ldexp(1.0, kLowestOctave);
  if (b > kOctaves) return std::ldexp(1.0, b - kOctaves - 1 + kLowestOctave + 1);
  return -std::ldexp(1.0, kOctaves - 1 - b + kLowestOctave);
}

// A bound: a number, or a date or datetime as data files write them (then in the model's units: seconds since 1970).
bool parse_bound(const std::string& text, double& value) {
  size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (!text.empty() && used == text.size() && std::isfinite(value)) return true;
  return detail::parse_datetime(text, value);
}

double checked_bound(const std::string& text, const std::string& entry) {
  double v = 0;
  GF_CHECK_AS(InvalidArgument, parse_bound(text, v),
              "write each range as column:lo..hi, e.g. age:0..120 or date:2020-01-01..2021-01-01", "dp_bounds: '",
              text, "' in '", entry, "' is not a number or a date");
  return v;
}

// The colon that ends the column's name: the first one after which lo..hi parse (column names and times may hold
// colons too: "t:2000-01-01T00:00..2000-01-02 12:30", "a:b:1..2"); else the last one, for the error messages.
size_t name_end(const std::string& entry) {
  for (size_t p = entry.find(':', 1); p != std::string::npos; p = entry.find(':', p + 1)) {
    const auto dots = entry.find("..", p);
    double lo = 0, hi = 0;
    if (dots != std::string::npos && parse_bound(trim_blanks(entry.substr(p + 1, dots - p - 1)), lo) &&
        parse_bound(trim_blanks(entry.substr(dots + 2)), hi)) {
      return p;
    }
  }
  return entry.rfind(':');
}

}  // namespace

bool ranges_from_data(const std::string& text) { return trim_blanks(text) == "data"; }

std::map<std::string, Range> parse_declared_ranges(const std::string& text) {
  std::map<std::string, Range> out;
  if (trim_blanks(text).empty() || ranges_from_data(text)) return out;
  for (const auto& raw : split_list(text)) {
    const std::string entry = trim_blanks(raw);
    const auto eq = name_end(entry);
    const auto dots = entry.find("..", eq == std::string::npos ? 0 : eq);
    GF_CHECK_AS(InvalidArgument, eq != std::string::npos && eq > 0 && dots != std::string::npos,
                "write each range as column:lo..hi, e.g. age:0..120 (or dp_bounds=data: the data's own ranges, "
                "not private)",
                "dp_bounds: '", entry, "' is not column:lo..hi");
    const std::string name = trim_blanks(entry.substr(0, eq));
    Range r;
    r.lo = checked_bound(trim_blanks(entry.substr(eq + 1, dots - eq - 1)), entry);
    r.hi = checked_bound(trim_blanks(entry.substr(dots + 2)), entry);
    r.how = "declared";
    GF_CHECK_AS(InvalidArgument, r.lo <= r.hi, "give the lower bound first", "dp_bounds: '", entry,
                "' has its lower bound above its upper bound");
    GF_CHECK_AS(InvalidArgument, out.count(name) == 0, "declare each column once", "dp_bounds declares '", name,
                "' twice");
    out[name] = r;
  }
  return out;
}

Range private_range(const std::vector<double>& values, double epsilon, at::Generator& gen) {
  GF_CHECK(epsilon > 0, "a private range needs epsilon > 0, got ", epsilon);
  std::vector<double> counts(kBins, 0.0);
  for (double v : values) {
    if (!std::isnan(v)) counts[static_cast<size_t>(bin_of(v))] += 1;
  }
  const auto noise = laplace_noise(kBins, 1.0 / epsilon, gen);
  const double* pn = noise.data_ptr<double>();
  for (int b = 0; b < kBins; ++b) counts[static_cast<size_t>(b)] += pn[b];
  const double threshold = std::log(kBins / (2 * kFalsePositive)) / epsilon;
  int first = -1, last = -1;
  for (int b = 0; b < kBins; ++b) {
    if (counts[static_cast<size_t>(b)] > threshold) {
      if (first < 0) first = b;
      last = b;
    }
  }
  const auto fullest = std::max_element(counts.begin(), counts.end());
  if (first < 0) first = last = static_cast<int>(fullest - counts.begin());
  // Neighbours holding a fair share of the fullest bin join too, as long as they run on: at small n·ε the bulk of
  // a column often straddles an octave edge with both halves below the threshold.
  const double share = *fullest * kNeighbourShare;
  while (first > 0 && counts[static_cast<size_t>(first - 1)] >= share) --first;
  while (last + 1 < kBins && counts[static_cast<size_t>(last + 1)] >= share) ++last;
  return {lower_edge(first), upper_edge(last), "private"};
}

RangePlan plan_ranges(const std::string& declared, const std::vector<std::string>& names,
                      const std::vector<std::vector<double>>& values, double epsilon, at::Generator& gen) {
  GF_CHECK(names.size() == values.size(), "plan_ranges: ", names.size(), " names for ", values.size(), " columns");
  RangePlan plan;
  const auto given = parse_declared_ranges(declared);
  for (const auto& named : given) {
    GF_CHECK_AS(InvalidArgument, std::find(names.begin(), names.end(), named.first) != names.end(),
                "declare ranges of numeric columns of the data", "dp_bounds names column '", named.first,
                "', which is not a numeric column of the data");
  }
  const bool from_data = ranges_from_data(declared);
  size_t to_estimate = 0;
  for (const auto& name : names) to_estimate += given.count(name) == 0 && !from_data;
  if (to_estimate > 0) plan.epsilon = epsilon, plan.epsilon_per_column = epsilon / static_cast<double>(to_estimate);
  for (size_t k = 0; k < names.size(); ++k) {
    const auto it = given.find(names[k]);
    if (it != given.end()) {
      plan.ranges[names[k]] = it->second;
    } else if (from_data) {
      const auto& v = values[k];
      Range r{0, 0, "data (not private)"};
      if (!v.empty()) r.lo = *std::min_element(v.begin(), v.end()), r.hi = *std::max_element(v.begin(), v.end());
      plan.ranges[names[k]] = r;
    } else {
      plan.ranges[names[k]] = private_range(values[k], plan.epsilon_per_column, gen);
    }
  }
  return plan;
}

int64_t private_bins(double n, double epsilon, double factor, int64_t lo, int64_t hi) {
  return std::clamp<int64_t>(static_cast<int64_t>(std::llround(factor * std::sqrt(n * epsilon))), lo, hi);
}

std::string public_facts(const std::string& declared) {
  return std::string("the number of rows, the categories (labels seen in at least rare_labels rows), the columns' ") +
         "formats (integers, decimals)" + (ranges_from_data(declared) ? ", and the column ranges (dp_bounds=data)" : "");
}

nlohmann::json RangePlan::to_json() const {
  nlohmann::json columns = nlohmann::json::object();
  for (const auto& [name, r] : ranges) columns[name] = {{"lo", r.lo}, {"hi", r.hi}, {"how", r.how}};
  return {{"columns", columns}, {"epsilon", epsilon}, {"epsilon_per_column", epsilon_per_column}};
}

}  // namespace gf::privacy
