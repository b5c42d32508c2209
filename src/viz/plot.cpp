#include "genforge/viz/plot.h"

#include "genforge/data/images.h"

#include <stb/stb_easy_font.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "genforge/core/error.h"
#include "data/column_builder.h"
#include "genforge/data/table.h"

namespace gf::viz {
namespace {

struct Canvas {
  int w, h;
  std::vector<uint8_t> rgb;
  Canvas(int width, int height) : w(width), h(height), rgb(static_cast<size_t>(width * height * 3), 255) {}
  void blend(int x, int y, const std::array<uint8_t, 3>& c, double alpha) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &rgb[static_cast<size_t>((y * w + x) * 3)];
    for (int i = 0; i < 3; ++i) p[i] = static_cast<uint8_t>(p[i] * (1 - alpha) + c[i] * alpha);
  }
  void rect(int x0, int y0, int x1, int y1, const std::array<uint8_t, 3>& c, double alpha = 1.0) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) blend(x, y, c, alpha);
  }
  void dot(double cx, double cy, double r, const std::array<uint8_t, 3>& c, double alpha) {
    for (int y = static_cast<int>(cy - r); y <= static_cast<int>(cy + r); ++y)
      for (int x = static_cast<int>(cx - r); x <= static_cast<int>(cx + r); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) blend(x, y, c, alpha);
  }
  // Text through stb_easy_font's quads, scaled by an integer factor.
  void text(int x, int y, const std::string& s, const std::array<uint8_t, 3>& c, int scale = 1) {
    static char buffer[99999];
    int quads = stb_easy_font_print(0, 0, const_cast<char*>(s.c_str()), nullptr, buffer, sizeof buffer);
    for (int q = 0; q < quads; ++q) {
      const float* v = reinterpret_cast<const float*>(buffer + q * 64);
      int x0 = static_cast<int>(v[0]), y0 = static_cast<int>(v[1]), x1 = static_cast<int>(v[8]), y1 = static_cast<int>(v[9]);
      rect(x + x0 * scale, y + y0 * scale, x + x1 * scale, y + y1 * scale, c);
    }
  }
  int text_width(const std::string& s, int scale = 1) { return stb_easy_font_width(const_cast<char*>(s.c_str())) * scale; }
  // A segment as dots one pixel apart.
  void line(double x0, double y0, double x1, double y1, const std::array<uint8_t, 3>& c, double width, double alpha) {
    const int n = 1 + static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0)));
    for (int k = 0; k <= n; ++k) {
      const double t = static_cast<double>(k) / n;
      dot(x0 + t * (x1 - x0), y0 + t * (y1 - y0), width, c, alpha);
    }
  }
};

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// "Nice" tick positions covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  double span = hi - lo, raw = span / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push_back(t);
  return out;
}

}  // namespace

std::array<uint8_t, 3> series_color(size_t i) {
  // matplotlib's tab10 colours (the first four in the order genforge's plots have always used).
  static const std::array<std::array<uint8_t, 3>, 10> palette = {
      {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}, {255, 127, 14}, {140, 86, 75},
       {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}}};
  return palette[i % palette.size()];
}

void write_scatter_png(const std::string& path, const std::vector<Series>& series, const PlotOptions& o) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : series) {
    GF_CHECK(s.x.size() == s.y.size(), "series '", s.label, "' has ", s.x.size(), " x and ", s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }
  }
  GF_CHECK(std::isfinite(xmin), "nothing to plot: no finite points");
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1;
  double px = 0.05 * (xmax - xmin), py = 0.05 * (ymax - ymin);
  xmin -= px, xmax += px, ymin -= py, ymax += py;
  Canvas c(o.width, o.height);
  const int left = 80, right = o.width - 20, top = 40, bottom = o.height - 60;
  auto sx = [&](double x) { return left + (x - xmin) / (xmax - xmin) * (right - left); };
  auto sy = [&](double y) { return bottom - (y - ymin) / (ymax - ymin) * (bottom - top); };
  const std::array<uint8_t, 3> grey{220, 220, 220}, black{0, 0, 0};
  for (double t : ticks(xmin, xmax)) {
    int x = static_cast<int>(sx(t));
    c.rect(x, top, x + 1, bottom, grey);
    auto label = tick_label(t);
    c.text(x - c.text_width(label) / 2, bottom + 8, label, black);
  }
  for (double t : ticks(ymin, ymax)) {
    int y = static_cast<int>(sy(t));
    c.rect(left, y, right, y + 1, grey);
    auto label = tick_label(t);
    c.text(left - 8 - c.text_width(label), y - 3, label, black);
  }
  c.rect(left, top, right, top + 1, black), c.rect(left, bottom, right, bottom + 1, black);
  c.rect(left, top, left + 1, bottom, black), c.rect(right, top, right + 1, bottom, black);
  auto finite = [](const Series& s, size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); };
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite(s, i)) continue;
      if (!s.line) {
        c.dot(sx(s.x[i]), sy(s.y[i]), 2.5, s.color, 0.55);
      } else if (i > 0 && finite(s, i - 1)) {
        c.line(sx(s.x[i - 1]), sy(s.y[i - 1]), sx(s.x[i]), sy(s.y[i]), s.color, 1.3, 0.9);
      }
    }
  }
  c.text((o.width - c.text_width(o.title, 2)) / 2, 10, o.title, black, 2);
  c.text((left + right - c.text_width(o.x_label)) / 2, bottom + 30, o.x_label, black);
  c.text(8, top - 16, o.y_label, black);
  int ly = top + 10, legend_width = 0;
  for (const auto& s : series) legend_width = std::max(legend_width, c.text_width(s.label));
  const std::array<uint8_t, 3> white{255, 255, 255};
  for (int y = ly - 5; y < ly + 16 * static_cast<int>(series.size()) + 1; ++y) {  // points behind stay faintly seen
    for (int x = right - 156; x < right - 128 + legend_width; ++x) c.blend(x, y, white, 0.8);
  }
  for (const auto& s : series) {
    c.rect(right - 150, ly, right - 140, ly + 10, s.color);
    c.text(right - 134, ly + 1, s.label, black);
    ly += 16;
  }
  write_png_pixels(path, c.w, c.h, 3, c.rgb.data());
}

void write_graph_png(const std::string& path, const std::vector<std::string>& names,
                     const std::vector<std::pair<int64_t, int64_t>>& edges, const std::string& title) {
  const auto n = static_cast<int64_t>(names.size());
  GF_CHECK(n > 0, "a graph needs at least one node");
  // Layers by the longest path from a root; nodes of a layer side by side.
  std::vector<int64_t> layer(static_cast<size_t>(n), 0);
  for (int64_t pass = 0; pass < n; ++pass) {
    for (const auto& [from, to] : edges) {
      layer[static_cast<size_t>(to)] = std::max(layer[static_cast<size_t>(to)], layer[static_cast<size_t>(from)] + 1);
    }
  }
  const int64_t layers = 1 + *std::max_element(layer.begin(), layer.end());
  std::vector<std::vector<int64_t>> rows(static_cast<size_t>(layers));
  for (int64_t v = 0; v < n; ++v) rows[static_cast<size_t>(layer[static_cast<size_t>(v)])].push_back(v);
  size_t widest = 1;
  for (const auto& r : rows) widest = std::max(widest, r.size());
  const int box_w = 150, box_h = 26, gap_x = 30, gap_y = 70, margin = 30;
  Canvas c(std::max(400, static_cast<int>(widest) * (box_w + gap_x) + 2 * margin),
           static_cast<int>(layers) * (box_h + gap_y) + 2 * margin + 20);
  std::vector<double> cx(static_cast<size_t>(n)), cy(static_cast<size_t>(n));
  for (size_t l = 0; l < rows.size(); ++l) {
    const double row_w = static_cast<double>(rows[l].size()) * (box_w + gap_x) - gap_x;
    for (size_t k = 0; k < rows[l].size(); ++k) {
      const auto v = static_cast<size_t>(rows[l][k]);
      cx[v] = (c.w - row_w) / 2 + static_cast<double>(k) * (box_w + gap_x) + box_w / 2.0;
      cy[v] = margin + 30 + static_cast<double>(l) * (box_h + gap_y) + box_h / 2.0;
    }
  }
  const std::array<uint8_t, 3> black{0, 0, 0}, edge{90, 90, 90}, fill{222, 235, 247}, head{214, 39, 40};
  for (const auto& [from, to] : edges) {
    const auto a = static_cast<size_t>(from), b = static_cast<size_t>(to);
    const double y0 = cy[a] + box_h / 2.0, y1 = cy[b] - box_h / 2.0;
    c.line(cx[a], y0, cx[b], y1, edge, 1.0, 0.8);
    c.dot(cx[b], y1, 4, head, 1.0);  // the arrow's end: the child
  }
  for (int64_t v = 0; v < n; ++v) {
    const auto i = static_cast<size_t>(v);
    const int x0 = static_cast<int>(cx[i] - box_w / 2.0), y0 = static_cast<int>(cy[i] - box_h / 2.0);
    c.rect(x0, y0, x0 + box_w, y0 + box_h, black);
    c.rect(x0 + 1, y0 + 1, x0 + box_w - 1, y0 + box_h - 1, fill);
    std::string label = names[i];
    while (c.text_width(label) > box_w - 8 && label.size() > 4) label = label.substr(0, label.size() - 4) + "...";
    c.text(static_cast<int>(cx[i]) - c.text_width(label) / 2, static_cast<int>(cy[i]) - 4, label, black);
  }
  c.text((c.w - c.text_width(title, 2)) / 2, 10, title, black, 2);
  write_png_pixels(path, c.w, c.h, 3, c.rgb.data());
}

void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& counts,
                         const std::vector<std::string>& names, const std::string& title) {
  const int k = static_cast<int>(counts.size());
  GF_CHECK(k >= 1 && k <= 200, "a confusion matrix needs 1 to 200 classes, got ", k);
  auto name_of = [&](int i) {
    std::string s = std::to_string(i);
    if (i < static_cast<int>(names.size()) && names[static_cast<size_t>(i)] != s) s += " " + names[static_cast<size_t>(i)];
    return s;
  };
  Canvas probe(1, 1);
  int label_w = 0;
  for (int i = 0; i < k; ++i) label_w = std::max(label_w, probe.text_width(name_of(i)));
  const int cell = k <= 12 ? 44 : k <= 40 ? 22 : 10, left = label_w + 24, top = 70, margin = 20;
  Canvas c(std::max({420, left + k * cell + margin, probe.text_width(title, 2) + 4 * margin}), top + k * cell + margin);
  const std::array<uint8_t, 3> black{0, 0, 0}, white{255, 255, 255}, blue{31, 119, 180}, grid{200, 200, 200};
  for (int i = 0; i < k; ++i) {
    int64_t row_total = 0;
    for (int64_t v : counts[static_cast<size_t>(i)]) row_total += v;
    for (int j = 0; j < k; ++j) {
      const int64_t v = counts[static_cast<size_t>(i)][static_cast<size_t>(j)];
      // Shaded by the share of the true class (each row sums to 1), so rare classes read as well as common ones.
      const double share = row_total > 0 ? static_cast<double>(v) / static_cast<double>(row_total) : 0.0;
      const int x0 = left + j * cell, y0 = top + i * cell;
      c.rect(x0, y0, x0 + cell, y0 + cell, grid);
      c.rect(x0 + 1, y0 + 1, x0 + cell, y0 + cell, white);
      c.rect(x0 + 1, y0 + 1, x0 + cell, y0 + cell, blue, std::sqrt(share));
      const std::string text = std::to_string(v);
      if (cell >= 22 && c.text_width(text) < cell - 2) {
        c.text(x0 + (cell - c.text_width(text)) / 2, y0 + cell / 2 - 3, text, share > 0.35 ? white : black);
      }
    }
    c.text(left - 8 - c.text_width(name_of(i)), top + i * cell + cell / 2 - 3, name_of(i), black);
    const std::string column = std::to_string(i);
    c.text(left + i * cell + (cell - c.text_width(column)) / 2, top - 14, column, black);
  }
  c.text(left, top - 30, "predicted class (columns); true class (rows)", black);
  c.text((c.w - c.text_width(title, 2)) / 2, 10, title, black, 2);
  write_png_pixels(path, c.w, c.h, 3, c.rgb.data());
}

namespace {

// A cell as a legend shows it: as the table writes it.
std::string legend_text(const Column& c, size_t row) { return c.missing[row] ? "(missing)" : detail::cell_text(c, row); }

}  // namespace

std::vector<Series> table_series(const Table& t, const std::string& x, const std::string& y,
                                 const std::string& group_by, const std::string& label, bool lines,
                                 size_t first_color, const std::string& what) {
  std::vector<const Column*> axes;
  for (const auto* name : {&x, &y}) {
    const Column& c = t.column(*name);
    GF_CHECK_AS(DataError, c.is_numeric() || c.type == ColumnType::datetime, "plot numeric columns", "column '",
                *name, "' of '", what, "' is ", to_string(c.type));
    axes.push_back(&c);
  }
  std::vector<Series> out;
  std::vector<std::string> groups;  // series index -> group value
  const Column* group = group_by.empty() ? nullptr : &t.column(group_by);
  for (size_t r = 0; r < t.n_rows(); ++r) {
    const std::string value = group ? legend_text(*group, r) : std::string();
    size_t k = std::find(groups.begin(), groups.end(), value) - groups.begin();
    if (k == groups.size()) {
      groups.push_back(value);
      Series s;
      s.label = !group ? label : label.empty() ? value : label + ": " + value;
      s.color = series_color(first_color + k);
      out.push_back(std::move(s));
    }
    out[k].x.push_back(axes[0]->missing[r] ? NAN : axes[0]->values[r]);
    out[k].y.push_back(axes[1]->missing[r] ? NAN : axes[1]->values[r]);
  }
  if (out.empty()) out.push_back({{}, {}, series_color(first_color), label, false});
  if (lines) {  // a curve: points in the order of x
    for (auto& s : out) {
      std::vector<size_t> order(s.x.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
      Series sorted;
      for (size_t k : order) sorted.x.push_back(s.x[k]), sorted.y.push_back(s.y[k]);
      s.x = std::move(sorted.x), s.y = std::move(sorted.y);
      s.line = true;
    }
  }
  return out;
}

}  // namespace gf::viz
