// Pieces of the self-contained HTML pages genforge writes (synth, report, rate): escaping, numbers, and inline SVG
// charts that need no script and no network.
#pragma once
#include <string>
#include <vector>

namespace gf::viz {

// Text as HTML: < > & " ' escaped.
std::string html_escape(const std::string& text);
// A number with `digits` after the point; "–" when not finite.
std::string html_number(double value, int digits = 3);
// An inline image: "data:image/png;base64,...".
std::string png_data_uri(const std::string& png_bytes);

constexpr const char* kRealColour = "#1f77b4";
constexpr const char* kModelColour = "#ff7f0e";

// Side-by-side bars of two frequency lists (real, model; fractions), labels under the bars (rotated unless
// `numeric_axis`, when only the first, middle and last are written). `second_name` names the model's bars in the
// tooltips ("synthetic", "samples").
std::string bars_svg(const std::vector<std::string>& labels, const std::vector<double>& real,
                     const std::vector<double>& model, bool numeric_axis, const std::string& second_name = "synthetic",
                     int width = 360);

struct SvgSeries {
  std::string label;
  std::vector<double> x, y;
  std::string colour;
};
// A line chart with axes, min / max tick labels and a legend; non-finite points are skipped.
std::string line_chart_svg(const std::vector<SvgSeries>& series, const std::string& x_label, int width = 520,
                           int height = 220);
// Overlaid histograms (as step lines) of several samples on one shared range of `bins` bins, each normalised to
// its own total, with a dashed vertical marker at `marker` when finite.
std::string histogram_svg(const std::vector<SvgSeries>& samples_as_x, int bins, double marker, const std::string& x_label,
                          int width = 520, int height = 200);

}  // namespace gf::viz
