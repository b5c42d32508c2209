// Column ranges for differentially private fits: declared by the user (public knowledge, no ε spent) or estimated
// privately, so that no fit reads a column's exact minimum and maximum (each is one person's value).
#pragma once
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace gf::privacy {

struct Range {
  double lo = 0, hi = 0;
  std::string how;  // "declared" | "private" | "data (not private)"
};

// Ranges the user declares, "col:lo..hi,col2:lo..hi": numbers, or dates and datetimes as data files write them
// ("date:2020-01-01..2021-06-30"; the model's units are seconds since 1970). Empty text: none. "data": every range from the data, not private (returns an empty map; see
// ranges_from_data). A malformed entry or lo > hi is InvalidArgument.
std::map<std::string, Range> parse_declared_ranges(const std::string& text);
bool ranges_from_data(const std::string& text);

// ε-differentially private range of `values` (add/remove one row moves one count by one): a Laplace-noised
// histogram over data-independent bins — a zero bin |x| < 2^-32, then the octaves [2^k, 2^k+1) of each sign for
// k = -32..63 (larger magnitudes count in the last) — and the range spans the outermost bins whose noisy count
// passes ln(bins / 2β) / ε, so that an empty bin passes with probability at most β = 1e-3 in all (Google's
// ApproxBounds); when none passes, the fullest noisy bin. Then the range grows by each next bin whose noisy count
// is at least a quarter of the fullest's (small n·ε: a column's bulk often straddles an octave edge with both
// halves below the threshold). All of it reads only the noisy histogram, so the range is ε-DP. The bounds are
// octave edges: up to twice as wide as the data, and a handful of rows in an octave of their own are left
// outside (a fit clips them).
Range private_range(const std::vector<double>& values, double epsilon, at::Generator& gen);

// The ranges of a private fit's numeric columns (`names`, `values` their present cells): the declared ones
// (`declared`: dp_bounds' text) as given, the others private at epsilon / (their number) each, or all from the data
// when `declared` is "data". A declared name not among `names` is InvalidArgument.
struct RangePlan {
  std::map<std::string, Range> ranges;
  double epsilon = 0;             // spent in all (0 when every range is declared or from the data)
  double epsilon_per_column = 0;  // of each private range
  nlohmann::json to_json() const;
};
// Equal-width bins of a private histogram over a column's range, from the public row count and the ε of each
// count: factor · √(n ε), within [lo, hi]. Each bin's count carries Laplace noise of scale 1/ε whatever the bins,
// so fewer rows or less ε call for fewer, fuller bins (penguins at ε = 1: 8 or 9 where 16 were noise).
int64_t private_bins(double n, double epsilon, double factor, int64_t lo, int64_t hi);

// What a private synthesizer's fit treats as public, for its privacy report: the row count, the categories, the
// columns' formats, and the ranges too when `declared` is "data".
std::string public_facts(const std::string& declared);

RangePlan plan_ranges(const std::string& declared, const std::vector<std::string>& names,
                      const std::vector<std::vector<double>>& values, double epsilon, at::Generator& gen);

}  // namespace gf::privacy
