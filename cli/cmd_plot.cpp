#include <algorithm>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/viz/plot.h"

namespace gf::cli {

int run_plot(int argc, char** argv) {
  CLI::App app("scatter plot of two columns from one or more tables (PNG)", "plot");
  std::vector<std::string> tables;
  std::string x, y, out, title;
  bool lines = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("tables", tables, "tables to overlay; label each with FILE:LABEL")->required();
  app.add_option("--x", x, "column on the horizontal axis")->required();
  app.add_option("--y", y, "column on the vertical axis")->required();
  app.add_option("--out,-o", out, "PNG file to write")->required();
  app.add_option("--title", title, "plot title");
  app.add_flag("--lines", lines, "join each table's points in the order of x (curves) instead of dots");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  std::vector<viz::Series> series;
  for (size_t i = 0; i < tables.size(); ++i) {
    std::string path = tables[i], label = tables[i];
    auto colon = path.rfind(':');
    if (colon != std::string::npos && colon > 0) label = path.substr(colon + 1), path = path.substr(0, colon);
    Table t = load_table(path, table_flags);
    viz::Series s;
    for (const auto* name : {&x, &y}) {
      const Column& c = t.column(*name);
      GF_CHECK_AS(DataError, c.is_numeric() || c.type == ColumnType::datetime, "plot numeric columns",
                  "column '", *name, "' of '", path, "' is ", to_string(c.type));
      auto& dest = name == &x ? s.x : s.y;
      for (size_t r = 0; r < c.size(); ++r) dest.push_back(c.missing[r] ? NAN : c.values[r]);
    }
    if (lines) {  // a curve: points in the order of x
      std::vector<size_t> order(s.x.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
      viz::Series sorted;
      for (size_t k : order) sorted.x.push_back(s.x[k]), sorted.y.push_back(s.y[k]);
      s.x = std::move(sorted.x), s.y = std::move(sorted.y);
      s.line = true;
    }
    s.color = viz::series_color(i);
    s.label = label;
    series.push_back(std::move(s));
  }
  viz::write_scatter_png(out, series, {title, x, y});
  std::cout << "wrote " << out << "\n";
  return 0;
}

}  // namespace gf::cli
