// The study page of genforge rate make (internal to the human evaluation code).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "genforge/viz/html.h"

namespace gf::eval {

using viz::html_escape;

// index.html of a study: one self-contained file (inline CSS, JS and data; no network) that works from file://.
// `page` is {"study_id", "mode": "pairs"|"likert", "scale", "title", "items": [HTML fragments],
// "questions": [{"id", "items": [page item indices], "instruction"?}]} -- never the system names.
std::string study_page_html(const nlohmann::ordered_json& page);

}  // namespace gf::eval
