// The synth report page: one self-contained HTML file (inline SVG, no scripts), readable offline.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "genforge/apps/synth.h"
#include "genforge/core/atomic_file.h"
#include "genforge/viz/html.h"

namespace gf::apps {
namespace {

using viz::bars_svg;
using viz::html_escape;
using viz::html_number;

std::string cell_label(const Column& c, size_t i) {
  return c.missing[i] ? "(missing)" : c.categories[static_cast<size_t>(c.values[i])];
}

std::string column_plot(const Column& real, const Column& synthetic) {
  std::vector<std::string> labels;
  std::vector<double> a, b;
  if (real.type == ColumnType::categorical) {
    std::map<std::string, double> ra, sb;
    for (size_t i = 0; i < real.size(); ++i) ra[cell_label(real, i)] += 1.0 / static_cast<double>(real.size());
    for (size_t i = 0; i < synthetic.size(); ++i) {
      sb[cell_label(synthetic, i)] += 1.0 / static_cast<double>(synthetic.size());
    }
    std::vector<std::pair<double, std::string>> order;
    for (const auto& [label, p] : ra) order.emplace_back(-p, label);
    std::sort(order.begin(), order.end());
    for (size_t k = 0; k < order.size() && k < 20; ++k) {
      labels.push_back(order[k].second);
      a.push_back(-order[k].first);
      b.push_back(sb.count(order[k].second) ? sb[order[k].second] : 0.0);
    }
    return bars_svg(labels, a, b, false) +
           (order.size() > 20 ? "<div class='note'>the 20 most frequent of " + std::to_string(order.size()) +
                                    " categories</div>"
                              : "");
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const Column* c : {&real, &synthetic}) {
    for (size_t i = 0; i < c->size(); ++i) {
      if (!c->missing[i]) lo = std::min(lo, c->values[i]), hi = std::max(hi, c->values[i]);
    }
  }
  if (!std::isfinite(lo)) return "<div class='note'>no values</div>";
  const int bins = 30;
  const double width = hi > lo ? (hi - lo) / bins : 1.0;
  a.assign(bins, 0.0), b.assign(bins, 0.0);
  auto fill = [&](const Column& c, std::vector<double>& f) {
    double n = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      if (c.missing[i]) continue;
      f[static_cast<size_t>(std::min(bins - 1, static_cast<int>((c.values[i] - lo) / width)))] += 1, n += 1;
    }
    for (auto& v : f) v = n > 0 ? v / n : 0;
  };
  fill(real, a), fill(synthetic, b);
  for (int k = 0; k < bins; ++k) {
    const double centre = lo + width * (k + 0.5);
    if (real.type == ColumnType::datetime) {
      const auto secs = static_cast<time_t>(centre);
      struct tm t {};
      gmtime_r(&secs, &t);
      char buf[16];
      std::strftime(buf, sizeof buf, "%Y-%m-%d", &t);
      labels.emplace_back(buf);
    } else {
      std::ostringstream s;
      s.precision(4);
      s << centre;
      labels.push_back(s.str());
    }
  }
  return bars_svg(labels, a, b, true);
}

// Green (1) to red (0).
std::string score_colour(double v) {
  if (!std::isfinite(v)) return "#eeeeee";
  v = std::clamp(v, 0.0, 1.0);
  const int r = static_cast<int>(255 * std::min(1.0, 2 * (1 - v))), g = static_cast<int>(200 * std::min(1.0, 2 * v));
  std::ostringstream s;
  s << "rgb(" << r << "," << g << ",80)";
  return s.str();
}

std::string figure_row(const std::string& name, const nlohmann::json& report, const std::string& key,
                       const std::string& note) {
  if (!report.contains(key) || !report[key].is_number()) return "";
  return "<tr><td>" + html_escape(name) + "</td><td class='num'>" + html_number(report[key].get<double>()) + "</td><td>" +
         html_escape(note) + "</td></tr>";
}

}  // namespace

void write_synth_html(const std::string& path, const Table& real, const Table& synthetic, const nlohmann::json& report) {
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset='utf-8'><title>genforge synth report</title><style>"
       "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}"
       "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}td.num{text-align:right;font-family:monospace}"
       ".grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;padding:6px}.note{color:#666;font-size:12px}"
       ".heat td{width:26px;height:26px;padding:0}.heat th{font-size:11px;font-weight:normal;text-align:right}"
       "</style></head><body>";
  h << "<h1>Synthetic data report</h1><p>" << report.value("real_rows", 0) << " real rows, "
    << report.value("synthetic_rows", 0) << " synthetic rows, " << report.value("columns", 0) << " columns";
  if (report.contains("model")) h << "; model <b>" << html_escape(report["model"].get<std::string>()) << "</b>";
  if (report.contains("compared_with")) h << "; compared with " << html_escape(report["compared_with"].get<std::string>());
  h << ". <span style='color:" << viz::kRealColour << "'>■ real</span> <span style='color:" << viz::kModelColour
    << "'>■ synthetic</span></p>";

  h << "<h2>Fidelity and utility</h2><table><tr><th>figure</th><th>value</th><th>meaning</th></tr>";
  h << figure_row("quality (SDMetrics)", report, "quality_score", "mean of column shapes and pair trends; 1 = same")
    << figure_row("column shapes", report, "column_shapes", "KS / TV complement per column")
    << figure_row("column pair trends", report, "column_pair_trends", "correlation / contingency similarity")
    << figure_row("detection", report, "detection_score", "1 = a classifier cannot tell the tables apart")
    << figure_row("ML efficacy, trained on real", report, "ml_efficacy_real", "")
    << figure_row("ML efficacy, trained on synthetic", report, "ml_efficacy_synthetic",
                  "tested on real rows; target " + report.value("ml_efficacy_target", std::string()))
    << figure_row("pMSE", report, "pmse", "propensity mean squared error; 0 = indistinguishable")
    << figure_row("pMSE ratio", report, "pmse_ratio", "pMSE / its expectation under one distribution; ≈1 is ideal");
  h << "</table>";
  if (report.contains("details") && report["details"].contains("ml_efficacy")) {
    h << "<div class='note'>" << html_escape(report["details"]["ml_efficacy"].value("note", std::string())) << "</div>";
  }

  h << "<h2>Privacy (empirical checks, not guarantees)</h2><table><tr><th>figure</th><th>value</th><th>meaning</th></tr>"
    << figure_row("DCR baseline protection", report, "dcr_baseline_protection",
                  "median distance to the closest real row vs random data's; 1 = as far as random")
    << figure_row("DCR overfitting protection", report, "dcr_overfitting_protection",
                  "synthetic rows not closer to the training rows than to the holdout; 1 = no overfitting")
    << figure_row("new-row synthesis", report, "new_row_synthesis", "share of synthetic rows that copy no real row")
    << "</table>";
  if (report.contains("synthesis") && report["synthesis"].contains("rare_labels")) {
    h << "<p>" << html_escape(rare_label_summary(report["synthesis"]["rare_labels"])) << ".<br>"
      << html_escape(extremes_summary(report["synthesis"].value("extremes", nlohmann::json()))) << ".</p>";
  }
  if (report.contains("privacy")) {
    h << "<h3>Differential privacy of the fit</h3><ul>";
    for (const auto& line : privacy_summary(report["privacy"])) h << "<li>" << html_escape(line) << "</li>";
    h << "</ul><details><summary>accounting</summary><code>" << html_escape(report["privacy"].dump())
      << "</code></details>";
  } else {
    h << "<p class='note'>The model was fitted without differential privacy.</p>";
  }
  if (report.contains("synthesis")) {
    h << "<h2>Sampling</h2><p><code>" << html_escape(report["synthesis"].dump()) << "</code></p>";
  }

  h << "<h2>Columns</h2><div class='grid'>";
  for (const auto& c : real.columns()) {
    if (!synthetic.has_column(c.name)) continue;
    double score = NAN;
    if (report.contains("details") && report["details"].contains("column_shapes")) {
      for (const auto& s : report["details"]["column_shapes"]) {
        if (s.value("column", "") == c.name && s["score"].is_number()) score = s["score"].get<double>();
      }
    }
    h << "<div class='card'><b>" << html_escape(c.name) << "</b> <span class='note'>" << to_string(c.type)
      << ", shape score " << html_number(score) << "</span><br>" << column_plot(c, synthetic.column(c.name)) << "</div>";
  }
  h << "</div>";

  if (report.contains("details") && report["details"].contains("column_pair_trends")) {
    std::vector<std::string> names;
    for (const auto& c : real.columns()) {
      if (synthetic.has_column(c.name)) names.push_back(c.name);
    }
    std::map<std::pair<std::string, std::string>, nlohmann::json> pairs;
    for (const auto& p : report["details"]["column_pair_trends"]) {
      pairs[{p["column_1"].get<std::string>(), p["column_2"].get<std::string>()}] = p;
      pairs[{p["column_2"].get<std::string>(), p["column_1"].get<std::string>()}] = p;
    }
    h << "<h2>Column pair trends</h2><p class='note'>green = the synthetic table keeps the pair's trend, red = it "
         "loses it; outlined cells are the pairs with a real trend to keep (they count in the quality score)</p>"
         "<table class='heat'>";
    for (const auto& row : names) {
      h << "<tr><th>" << html_escape(row) << "</th>";
      for (const auto& col : names) {
        const auto it = pairs.find({row, col});
        if (row == col || it == pairs.end()) {
          h << "<td style='background:#fff'></td>";
          continue;
        }
        const auto& p = it->second;
        const double v = p["score"].is_number() ? p["score"].get<double>() : NAN;
        const bool counts = p.value("meets_threshold", false) && std::isfinite(v);
        h << "<td style='background:" << score_colour(v) << (counts ? ";outline:2px solid #000" : "")
          << "' title='" << html_escape(row + " × " + col + ": " + p.value("metric", "") + " " + html_number(v)) << "'></td>";
      }
      h << "</tr>";
    }
    h << "</table>";
  }
  h << "</body></html>\n";
  write_file_atomic(path, [&](std::ostream& out) { out << h.str(); });
}

}  // namespace gf::apps
