// The report page: one self-contained HTML file (inline PNG and SVG, inline CSS, no script, no network).
#include <torch/types.h>

#include <cmath>
#include <sstream>

#include "genforge/data/images.h"
#include "data/column_builder.h"
#include "genforge/data/readers.h"
#include "genforge/io/provenance.h"
#include "internal.h"

namespace gf::apps::report {
namespace {

using viz::html_escape;
using viz::html_number;

std::string image_uri(const torch::Tensor& image) { return viz::png_data_uri(encode_png(image)); }

std::string json_rows(const nlohmann::json& object) {
  std::ostringstream h;
  for (const auto& [key, value] : object.items()) {
    h << "<tr><th>" << html_escape(key) << "</th><td>"
      << html_escape(value.is_string() ? value.get<std::string>()
                     : value.is_number_float() ? html_number(value.get<double>(), 4)
                                               : value.dump())
      << "</td></tr>";
  }
  return h.str();
}

std::string table_html(const Table& t, size_t rows, const std::vector<size_t>& only = {}) {
  std::ostringstream h;
  h << "<table class='data'><tr>";
  for (const auto& c : t.columns()) h << "<th>" << html_escape(c.name) << "</th>";
  h << "</tr>";
  std::vector<size_t> which = only;
  for (size_t r = 0; only.empty() && r < std::min(rows, t.n_rows()); ++r) which.push_back(r);
  for (size_t r : which) {
    h << "<tr>";
    for (const auto& c : t.columns()) h << "<td>" << html_escape(detail::cell_text(c, r)) << "</td>";
    h << "</tr>";
  }
  h << "</table>";
  return h.str();
}

std::string card_section(const Page& p) {
  const auto& c = p.card;
  std::ostringstream h;
  h << "<h2 id='card'>Model card</h2><table class='kv'>";
  h << "<tr><th>kind</th><td>" << html_escape(c["kind"].get<std::string>()) << "</td></tr>";
  h << "<tr><th>file</th><td>" << html_escape(c["file"].get<std::string>()) << " <code>sha256 "
    << c["sha256"].get<std::string>() << "</code></td></tr>";
  h << "<tr><th>written by</th><td>genforge " << html_escape(c["genforge_version"].get<std::string>()) << "</td></tr>";
  h << "<tr><th>parameters</th><td>" << c["parameters"].get<int64_t>() << "</td></tr>";
  h << "<tr><th>training time</th><td>" << html_number(c["training_seconds"].get<double>(), 1) << " s</td></tr>";
  const auto& fit = c["fit"];
  h << "<tr><th>fit</th><td>" << fit.value("n_iter", 0) << " iterations, "
    << (fit.value("converged", false) ? "converged" : "not converged") << "; "
    << html_escape(fit.value("objective_name", std::string("objective"))) << " "
    << (fit.contains("objective") && fit["objective"].is_number() ? html_number(fit["objective"].get<double>(), 4) : "–")
    << "</td></tr>";
  if (c.contains("parent")) {
    h << "<tr><th>parent model</th><td>" << html_escape(c["parent"].value("kind", std::string())) << " "
      << html_escape(c["parent"].value("path", std::string())) << " <code>sha256 "
      << html_escape(c["parent"].value("sha256", std::string())) << "</code></td></tr>";
  }
  h << "</table><details><summary>options</summary><table class='kv'>" << json_rows(c["options"])
    << "</table></details><details><summary>data schema</summary><pre>" << html_escape(c["schema"].dump(1))
    << "</pre></details><details><summary>capabilities</summary><pre>" << html_escape(c["capabilities"].dump(1))
    << "</pre></details>";
  if (c.contains("run_config")) {
    h << "<details><summary>run configuration</summary><pre>" << html_escape(c["run_config"].dump(1)) << "</pre></details>";
  }
  return h.str();
}

std::string curves_section(const Page& p) {
  std::ostringstream h;
  h << "<h2 id='training'>Training</h2>";
  if (p.objective.empty() && p.run_metrics.empty()) return h.str() + "<p>No training curve was recorded.</p>";
  if (!p.objective.empty()) h << "<h3>" << html_escape(p.objective[0].label) << "</h3>" << viz::line_chart_svg(p.objective, "iteration");
  for (size_t i = 0; i < p.run_metrics.size() && i < 6; ++i) {
    h << "<div class='chart'><h3>" << html_escape(p.run_metrics[i].label) << "</h3>"
      << viz::line_chart_svg({p.run_metrics[i]}, "step", 400, 180) << "</div>";
  }
  return h.str();
}

std::string samples_section(const Page& p) {
  const auto& s = p.samples;
  std::ostringstream h;
  h << "<h2 id='samples'>Samples</h2><p class='note'>" << html_escape(s.origin) << "</p>";
  switch (s.form) {
    case Samples::Form::images: {
      const int64_t n = std::min<int64_t>(64, s.images.size(0));
      const int64_t columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
      h << "<img class='grid' alt='samples' src='" << image_uri(image_grid(s.images.slice(0, 0, n), columns)) << "'>";
      break;
    }
    case Samples::Form::table:
      h << "<p>" << s.table.n_rows() << " rows; the first 15:</p>" << table_html(s.table, 15);
      break;
    case Samples::Form::texts:
      for (size_t i = 0; i < s.texts.size() && i < 8; ++i) h << "<pre class='text'>" << html_escape(s.texts[i]) << "</pre>";
      break;
    case Samples::Form::topics:
      h << "<ol>";
      for (const auto& words : s.topics) {
        std::string line;
        for (const auto& w : words) line += (line.empty() ? "" : ", ") + w;
        h << "<li>" << html_escape(line) << "</li>";
      }
      h << "</ol>";
      break;
  }
  return h.str();
}

std::string metrics_section(const Page& p) {
  if (p.metrics.empty()) return "";
  std::ostringstream h;
  h << "<h2 id='metrics'>Metrics</h2><table class='kv'>";
  for (const auto& [key, value] : p.metrics.items()) {
    if (value.is_object()) {
      h << "<tr><th>" << html_escape(key) << "</th><td><table class='kv'>" << json_rows(value) << "</table></td></tr>";
    } else {
      h << json_rows(nlohmann::json{{key, value}});
    }
  }
  h << "</table>";
  return h.str();
}

std::string pair_cells(const Page& p, const MemorisationCheck::Pair& pair) {
  const auto& s = p.samples;
  std::ostringstream h;
  switch (s.form) {
    case Samples::Form::images:
      h << "<td><img class='pix' src='" << image_uri(s.images[pair.sample]) << "'></td><td><img class='pix' src='"
        << image_uri(p.train.images[pair.train]) << "'></td>";
      break;
    case Samples::Form::table:
      h << "<td>" << table_html(s.table, 0, {static_cast<size_t>(pair.sample)}) << "</td><td>"
        << table_html(p.train.table, 0, {static_cast<size_t>(pair.train)}) << "</td>";
      break;
    default:
      h << "<td class='line'>" << html_escape(s.lines[static_cast<size_t>(pair.sample)]) << "</td><td class='line'>"
        << html_escape(p.train.texts[static_cast<size_t>(pair.train)]) << "</td>";
  }
  return h.str();
}

std::string memorisation_section(const Page& p) {
  if (!p.memorisation) return "";
  const auto& m = *p.memorisation;
  std::ostringstream h;
  h << "<h2 id='memorisation'>Memorisation check</h2><p>Distance of each sample to its nearest training item, in "
    << html_escape(p.feature_space) << ", against the same distance for " << html_escape(m.reference)
    << ". A model that generalises places samples as far from the training data as new real data lies (median ratio "
       "about 1, about 5 % of samples below the reference's 5th percentile); a sample below half the reference's "
       "1st percentile is flagged as a likely copy.</p>";
  h << "<p class='" << (m.flagged > 0 ? "bad" : "good") << "'><b>" << m.flagged << "</b> of " << m.sample_distances.size()
    << " samples flagged; median distance ratio " << html_number(m.median_ratio, 2) << "; "
    << html_number(100 * m.share_below_reference_p05, 1) << " % of samples below the reference's 5th percentile.</p>";
  h << viz::histogram_svg({{"samples", m.sample_distances, {}, viz::kModelColour},
                           {m.reference, m.reference_distances, {}, viz::kRealColour}},
                          30, m.threshold, "distance to the nearest training item");
  h << "<table class='pairs'><tr><th>#</th><th>sample</th><th>nearest training item</th><th>distance</th></tr>";
  for (const auto& pair : m.shown) {
    h << "<tr" << (pair.flagged ? " class='flagged'" : "") << "><td>" << pair.sample << "</td>" << pair_cells(p, pair)
      << "<td>" << html_number(pair.distance, 4) << (pair.flagged ? " <b>flagged</b>" : "") << "</td></tr>";
  }
  h << "</table>";
  return h.str();
}

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& n : list) out += (out.empty() ? "" : ", ") + n;
  return html_escape(out);
}

std::string coverage_section(const Page& p) {
  if (p.coverage.empty()) return "";
  std::ostringstream h;
  h << "<h2 id='coverage'>Bias and coverage</h2><p>How often each class or category appears in the samples "
       "(<span style='color:"
    << viz::kModelColour << "'>■</span>) against the training data (<span style='color:" << viz::kRealColour
    << "'>■</span>); Pearson's chi-square test of the sample counts against the training shares.</p>";
  for (const auto& c : p.coverage) {
    h << "<div class='coverage'><h3>" << html_escape(c.what) << "</h3>"
      << viz::bars_svg(c.categories, c.real_share, c.sample_share, false, "samples", 560) << "<p>χ² = "
      << html_number(c.chi_square, 2) << " on " << c.degrees_of_freedom << " degrees of freedom, p = "
      << (c.p_value < 1e-4 ? "<b>" + html_number(c.p_value, 8) + "</b>" : html_number(c.p_value, 4)) << ".</p>";
    if (!c.under.empty()) h << "<p class='bad'>Under-produced: " << names(c.under) << "</p>";
    if (!c.over.empty()) h << "<p class='bad'>Over-produced: " << names(c.over) << "</p>";
    if (!c.unseen.empty()) h << "<p class='bad'>Not in the training data: " << names(c.unseen) << "</p>";
    if (c.under.empty() && c.over.empty() && c.unseen.empty()) h << "<p class='good'>No class is under- or over-produced.</p>";
    h << "</div>";
  }
  return h.str();
}

}  // namespace

std::string page_html(const Page& p) {
  std::ostringstream h;
  const auto provenance = current_provenance();
  h << "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>" << html_escape(p.title)
    << "</title><meta name='generator' content='genforge " << GF_VERSION << "'><style>"
    << "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}"
    << "h2{border-bottom:1px solid #ccc;margin-top:1.6em}table{border-collapse:collapse}"
    << "table.kv th{text-align:left;padding:2px 10px 2px 0;vertical-align:top}table.kv td{padding:2px 6px}"
    << "table.data td,table.data th{border:1px solid #ddd;padding:2px 6px;font-size:12px}"
    << "table.pairs td{border-bottom:1px solid #eee;padding:4px;vertical-align:middle}"
    << "tr.flagged{background:#fde2e2}img.pix{width:84px;image-rendering:pixelated}img.grid{image-rendering:"
       "pixelated;width:480px}"
    << "pre.text{background:#f6f6f6;padding:6px;white-space:pre-wrap}td.line{font-family:monospace;max-width:420px}"
    << ".note{color:#666}.bad{color:#b00}.good{color:#070}.chart{display:inline-block;margin-right:1em}"
    << "nav a{margin-right:1em}</style></head><body>";
  h << "<h1>" << html_escape(p.title) << "</h1><nav><a href='#card'>model card</a><a href='#training'>training</a>"
    << "<a href='#samples'>samples</a><a href='#metrics'>metrics</a><a href='#memorisation'>memorisation</a>"
    << "<a href='#coverage'>coverage</a></nav>";
  if (provenance) h << "<p class='note'>" << html_escape(provenance_line(*provenance)) << "</p>";
  h << card_section(p) << curves_section(p) << samples_section(p) << metrics_section(p) << memorisation_section(p)
    << coverage_section(p);
  if (!p.notes.empty()) {
    h << "<h2>Notes</h2><ul>";
    for (const auto& n : p.notes) h << "<li>" << html_escape(n) << "</li>";
    h << "</ul>";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace gf::apps::report
