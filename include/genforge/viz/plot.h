// Plots people look at, written as PNG: scatter or line plots of several labelled series with axes, ticks and a
// legend.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gf {
class Table;
}  // namespace gf

namespace gf::viz {

struct Series {
  std::vector<double> x, y;
  std::array<uint8_t, 3> color{31, 119, 180};
  std::string label;
  bool line = false;  // connect consecutive points (a curve) instead of drawing dots
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 720, height = 540;
};

// The colour of the i-th series of a plot (a fixed, distinguishable cycle).
std::array<uint8_t, 3> series_color(size_t i);

// Columns `x` and `y` of a table (numbers or datetimes; missing cells are NaN) as one series labelled `label`, or
// with `group_by` one series per value of that column (in order of first appearance; labelled by the value, after
// `label` when given), coloured from series_color(first_color) on. `lines` orders each series' points by x and joins
// them. An unknown or non-numeric column is a DataError naming it and `what` (the table's file).
std::vector<Series> table_series(const Table& t, const std::string& x, const std::string& y,
                                 const std::string& group_by = "", const std::string& label = "", bool lines = false,
                                 size_t first_color = 0, const std::string& what = "the table");

// Writes atomically. Non-finite points are skipped (and break a line).
void write_scatter_png(const std::string& path, const std::vector<Series>& series, const PlotOptions& options);

// A directed graph (a Bayesian network): nodes in layers by their longest path from a root, edges from parent to
// child (the child's end marked by a red dot). Written atomically.
void write_graph_png(const std::string& path, const std::vector<std::string>& names,
                     const std::vector<std::pair<int64_t, int64_t>>& edges, const std::string& title);

// A confusion matrix (rows: true class, columns: predicted; counts[i][j]) as a grid shaded by each row's share,
// with the counts written in the cells and the classes named (`names`, else their indices). Written atomically.
void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& counts,
                         const std::vector<std::string>& names, const std::string& title);

}  // namespace gf::viz
