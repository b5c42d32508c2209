#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/viz/plot.h"

namespace gf::cli {

int run_plot(int argc, char** argv) {
  CLI::App app("scatter plot of two columns from one or more tables (PNG)", "plot");
  std::vector<std::string> tables;
  std::string x, y, out, title, color;
  bool lines = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("tables", tables, "tables to overlay; label each with FILE:LABEL")->required();
  app.add_option("--x", x, "column on the horizontal axis")->required();
  app.add_option("--y", y, "column on the vertical axis")->required();
  app.add_option("--out,-o", out, "PNG file to write")->required();
  app.add_option("--title", title, "plot title");
  app.add_flag("--lines", lines, "join each table's points in the order of x (curves) instead of dots");
  app.add_option("--color", color, "a column whose values colour the points, one series each (e.g. the class "
                                   "or component column of `genforge transform`)");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  std::vector<viz::Series> series;
  for (const auto& spec : tables) {
    std::string path = spec, label = tables.size() > 1 || color.empty() ? spec : "";
    auto colon = path.rfind(':');
    if (colon != std::string::npos && colon > 0) label = path.substr(colon + 1), path = path.substr(0, colon);
    for (auto& s : viz::table_series(load_table(path, table_flags), x, y, color, label, lines, series.size(), path)) {
      series.push_back(std::move(s));
    }
  }
  viz::write_scatter_png(out, series, {title, x, y});
  std::cout << "wrote " << out << "\n";
  return 0;
}

}  // namespace gf::cli
