// Pieces of genforge's self-contained HTML pages (see the header).
#include "genforge/viz/html.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "genforge/io/bytes.h"

namespace gf::viz {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_number(double v, int digits) {
  if (!std::isfinite(v)) return "–";
  std::ostringstream s;
  s.precision(digits);
  s << std::fixed << v;
  return s.str();
}

std::string png_data_uri(const std::string& png) { return "data:image/png;base64," + base64_encode(png); }

std::string bars_svg(const std::vector<std::string>& labels, const std::vector<double>& real,
                     const std::vector<double>& model, bool numeric_axis, const std::string& second_name, int w) {
  const int h = 170, left = 8, bottom = 36;
  const double top = std::max(*std::max_element(real.begin(), real.end()), *std::max_element(model.begin(), model.end()));
  const double slot = static_cast<double>(w - 2 * left) / static_cast<double>(labels.size());
  std::ostringstream s;
  s << "<svg width='" << w << "' height='" << h << "' role='img'>";
  for (size_t k = 0; k < labels.size(); ++k) {
    const double x = left + slot * static_cast<double>(k);
    for (int side = 0; side < 2; ++side) {
      const double v = side == 0 ? real[k] : model[k];
      const double bh = top > 0 ? v / top * (h - bottom - 6) : 0;
      s << "<rect x='" << html_number(x + side * slot * 0.45 + slot * 0.05, 1) << "' y='"
        << html_number(h - bottom - bh, 1) << "' width='" << html_number(slot * 0.45, 1) << "' height='"
        << html_number(bh, 1) << "' fill='" << (side == 0 ? kRealColour : kModelColour) << "'><title>"
        << html_escape(labels[k]) << ": " << (side == 0 ? "real " : second_name + " ") << html_number(v * 100, 1)
        << "%</title></rect>";
    }
    const bool show = !numeric_axis || k == 0 || k + 1 == labels.size() || k == labels.size() / 2;
    if (show) {
      const std::string text = labels[k].size() > 10 ? labels[k].substr(0, 9) + "…" : labels[k];
      const std::string cx = html_number(x + slot / 2, 1);
      s << "<text x='" << cx << "' y='" << h - bottom + 14 << "' font-size='10' text-anchor='middle'"
        << (numeric_axis ? "" : " transform='rotate(25 " + cx + " " + std::to_string(h - bottom + 14) + ")'") << ">"
        << html_escape(text) << "</text>";
    }
  }
  s << "</svg>";
  return s.str();
}

namespace {

struct Frame {  // the plotting area and the data range mapped onto it
  int width, height, left = 56, right = 12, top = 10, bottom = 34;
  double x0, x1, y0, y1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }
};

void widen(double& lo, double& hi) {
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
}

void axes(std::ostringstream& s, const Frame& f, const std::string& x_label) {
  s << "<line x1='" << f.left << "' y1='" << f.height - f.bottom << "' x2='" << f.width - f.right << "' y2='"
    << f.height - f.bottom << "' stroke='#444'/><line x1='" << f.left << "' y1='" << f.top << "' x2='" << f.left
    << "' y2='" << f.height - f.bottom << "' stroke='#444'/>";
  auto label = [](double v) { return std::abs(v) >= 1e4 || (std::abs(v) < 1e-2 && v != 0) ? html_number(v, 4) : html_number(v, 2); };
  s << "<text x='" << f.left - 4 << "' y='" << f.top + 8 << "' font-size='10' text-anchor='end'>" << label(f.y1)
    << "</text><text x='" << f.left - 4 << "' y='" << f.height - f.bottom << "' font-size='10' text-anchor='end'>"
    << label(f.y0) << "</text><text x='" << f.left << "' y='" << f.height - f.bottom + 14
    << "' font-size='10' text-anchor='middle'>" << label(f.x0) << "</text><text x='" << f.width - f.right << "' y='"
    << f.height - f.bottom + 14 << "' font-size='10' text-anchor='end'>" << label(f.x1) << "</text><text x='"
    << (f.left + f.width - f.right) / 2 << "' y='" << f.height - 4 << "' font-size='11' text-anchor='middle'>"
    << html_escape(x_label) << "</text>";
}

void legend(std::ostringstream& s, const std::vector<SvgSeries>& series, const Frame& f) {
  int y = f.top + 4;
  for (const auto& line : series) {
    s << "<rect x='" << f.width - f.right - 150 << "' y='" << y << "' width='10' height='10' fill='" << line.colour
      << "'/><text x='" << f.width - f.right - 136 << "' y='" << y + 9 << "' font-size='11'>"
      << html_escape(line.label) << "</text>";
    y += 14;
  }
}

}  // namespace

std::string line_chart_svg(const std::vector<SvgSeries>& series, const std::string& x_label, int width, int height) {
  Frame f{width, height};
  f.x0 = f.y0 = std::numeric_limits<double>::infinity();
  f.x1 = f.y1 = -std::numeric_limits<double>::infinity();
  for (const auto& line : series) {
    for (size_t i = 0; i < line.x.size() && i < line.y.size(); ++i) {
      if (!std::isfinite(line.x[i]) || !std::isfinite(line.y[i])) continue;
      f.x0 = std::min(f.x0, line.x[i]), f.x1 = std::max(f.x1, line.x[i]);
      f.y0 = std::min(f.y0, line.y[i]), f.y1 = std::max(f.y1, line.y[i]);
    }
  }
  if (!std::isfinite(f.x0)) return "<p>(no finite values to plot)</p>";
  widen(f.x0, f.x1);
  widen(f.y0, f.y1);
  std::ostringstream s;
  s << "<svg width='" << width << "' height='" << height << "' role='img'>";
  axes(s, f, x_label);
  for (const auto& line : series) {
    s << "<polyline fill='none' stroke-width='1.5' stroke='" << line.colour << "' points='";
    for (size_t i = 0; i < line.x.size() && i < line.y.size(); ++i) {
      if (std::isfinite(line.x[i]) && std::isfinite(line.y[i])) {
        s << html_number(f.px(line.x[i]), 1) << "," << html_number(f.py(line.y[i]), 1) << " ";
      }
    }
    s << "'><title>" << html_escape(line.label) << "</title></polyline>";
  }
  if (series.size() > 1) legend(s, series, f);  // one series: the chart's heading names it
  s << "</svg>";
  return s.str();
}

std::string histogram_svg(const std::vector<SvgSeries>& samples, int bins, double marker, const std::string& x_label,
                          int width, int height) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : samples) {
    for (double v : s.x) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo)) return "<p>(no finite values to plot)</p>";
  widen(lo, hi);
  std::vector<SvgSeries> steps;
  double top = 0;
  for (const auto& s : samples) {
    std::vector<double> count(static_cast<size_t>(bins), 0.0);
    double total = 0;
    for (double v : s.x) {
      if (!std::isfinite(v)) continue;
      const int b = std::min(bins - 1, static_cast<int>((v - lo) / (hi - lo) * bins));
      count[static_cast<size_t>(b)] += 1, total += 1;
    }
    SvgSeries step{s.label, {}, {}, s.colour};
    for (int b = 0; b < bins; ++b) {
      const double share = total > 0 ? count[static_cast<size_t>(b)] / total : 0;
      top = std::max(top, share);
      step.x.push_back(lo + (hi - lo) * b / bins);
      step.y.push_back(share);
      step.x.push_back(lo + (hi - lo) * (b + 1) / bins);
      step.y.push_back(share);
    }
    steps.push_back(step);
  }
  std::string svg = line_chart_svg(steps, x_label, width, height);
  if (std::isfinite(marker) && marker >= lo && marker <= hi) {
    Frame f{width, height};
    f.x0 = lo, f.x1 = hi;
    const std::string x = html_number(f.px(marker), 1);
    svg.insert(svg.size() - 6, "<line x1='" + x + "' y1='" + std::to_string(f.top) + "' x2='" + x + "' y2='" +
                                   std::to_string(height - f.bottom) +
                                   "' stroke='#c00' stroke-dasharray='4 3'><title>flag threshold</title></line>");
  }
  return svg;
}

}  // namespace gf::viz
