// The study page of `genforge rate make`: one offline HTML file. The data (items and question ids, never the
// systems) sit in a JSON script element; the script shows one question at a time, keeps every answer in localStorage
// the moment it is given (a reload resumes), and exports the answers as a download and in a text box.
#include <sstream>

#include "eval/human_page.h"

namespace gf::eval {
namespace {

constexpr const char* kStyle = R"CSS(
[hidden]{display:none !important}
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f6f4}
main{max-width:1000px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0 12px}
button{font-size:15px;padding:8px 14px;margin:4px;border:1px solid #888;border-radius:6px;background:#fff;cursor:pointer}
button:hover{background:#eef}button.chosen{background:#cde;border-color:#347}button:disabled{opacity:.4;cursor:default}
input{font-size:15px;padding:6px}
#bar-frame{height:6px;background:#ddd;border-radius:3px;margin:6px 0 12px}#bar{height:6px;background:#47a;border-radius:3px;width:0}
#status{display:flex;justify-content:space-between;color:#555;font-size:14px}
#prompt{font-size:20px;font-weight:600;margin:10px 0}#prompt.instruction{color:#a40}
#items{display:flex;gap:16px;justify-content:center;align-items:flex-start}
.item{flex:1 1 0;max-width:460px;background:#fff;border:1px solid #ccc;border-radius:8px;padding:12px;overflow:auto}
.single .item{max-width:560px}
img.png{display:block;margin:0 auto;width:100%;max-width:360px;height:auto;image-rendering:pixelated}
.text{white-space:pre-wrap;font-size:16px;line-height:1.45}
table.record{border-collapse:collapse;font-size:13px}table.record th,table.record td{border:1px solid #ccc;padding:3px 6px}
table.record th{background:#f0f0f0;font-weight:600}
#buttons{text-align:center;margin:14px 0}#nav{text-align:center}
.note{color:#666;font-size:13px}kbd{border:1px solid #aaa;border-radius:3px;padding:0 4px;font-size:12px;background:#fff}
#export{width:100%;height:140px;font-family:monospace;font-size:12px}
)CSS";

constexpr const char* kScript = R"JS(
(function () {
  "use strict";
  var study = JSON.parse(document.getElementById("study-data").textContent);
  var questions = study.questions;
  var likert = study.mode === "likert";
  var prefix = "genforge-study-" + study.study_id + ":";
  var rater = "";
  var answers = {};  // question id -> "left" | "right" | "tie", or a rating
  var times = {};    // question id -> milliseconds from showing the question to the answer
  var current = 0;
  var shownAt = 0;

  function byId(id) { return document.getElementById(id); }
  // localStorage can be switched off (private windows, some file:// settings): then answers live until the tab
  // closes, and Export still works.
  function load(key) {
    try {
      var text = window.localStorage.getItem(prefix + key);
      return text ? JSON.parse(text) : null;
    } catch (e) {
      return null;
    }
  }
  function store(key, value) {
    try {
      window.localStorage.setItem(prefix + key, JSON.stringify(value));
    } catch (e) {
      byId("storage-note").hidden = false;
    }
  }
  function answered(q) { return Object.prototype.hasOwnProperty.call(answers, String(q.id)); }
  function answeredCount() { return questions.filter(answered).length; }
  function firstUnanswered(from) {
    for (var step = 0; step < questions.length; step++) {
      var i = (from + step) % questions.length;
      if (!answered(questions[i])) return i;
    }
    return questions.length;
  }
  function choiceButtons() { return Array.prototype.slice.call(document.querySelectorAll("#buttons button")); }

  function show() {
    var done = answeredCount();
    byId("progress").textContent = done + " / " + questions.length;
    byId("bar").style.width = (100 * done / questions.length) + "%";
    var finished = current >= questions.length;
    byId("question").hidden = finished;
    byId("done").hidden = !finished;
    if (finished) return;
    var q = questions[current];
    byId("number").textContent = "question " + (current + 1) + " of " + questions.length;
    var prompt = byId("prompt");
    prompt.textContent = q.instruction || study.title;
    prompt.className = q.instruction ? "instruction" : "";
    byId("left-item").innerHTML = study.items[q.items[0]];
    if (!likert) byId("right-item").innerHTML = study.items[q.items[1]];
    var given = answered(q) ? String(answers[String(q.id)]) : null;
    choiceButtons().forEach(function (b) { b.classList.toggle("chosen", given === b.getAttribute("data-value")); });
    byId("back").disabled = current === 0;
    shownAt = Date.now();
  }

  function answer(value) {
    if (current >= questions.length) return;
    var id = String(questions[current].id);
    answers[id] = value;
    times[id] = Date.now() - shownAt;
    store("rater:" + rater, { answers: answers, ms: times });
    current = firstUnanswered(current + 1);
    show();
  }

  function start() {
    var name = byId("rater").value.trim();
    if (!name) {
      byId("intro-note").textContent = "Please type your name first.";
      byId("rater").focus();
      return;
    }
    rater = name;
    var saved = load("rater:" + rater);
    answers = saved && saved.answers ? saved.answers : {};
    times = saved && saved.ms ? saved.ms : {};
    store("last-rater", rater);
    byId("who").textContent = rater;
    byId("intro").hidden = true;
    byId("task").hidden = false;
    byId("export-panel").hidden = false;
    current = firstUnanswered(0);
    show();
  }

  function exportAnswers() {
    var list = [], ms = [];
    questions.forEach(function (q) {
      if (!answered(q)) return;
      var entry = { id: q.id };
      if (likert) entry.rating = answers[String(q.id)]; else entry.choice = answers[String(q.id)];
      list.push(entry);
      ms.push(Object.prototype.hasOwnProperty.call(times, String(q.id)) ? times[String(q.id)] : null);
    });
    var result = { type: "genforge study answers", study_id: study.study_id, rater: rater, answers: list, ms: ms };
    var text = JSON.stringify(result, null, 1);
    byId("export").value = text;
    byId("export").hidden = false;
    byId("export-note").textContent = list.length + " of " + questions.length + " questions answered. " +
        "Send the downloaded file (or this text) to the organiser of the study.";
    try {
      var url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = study.study_id + "-" + rater.replace(/[^A-Za-z0-9_.-]+/g, "_") + ".json";
      document.body.appendChild(link);
      link.click();
      document.body.removeChild(link);
      setTimeout(function () { URL.revokeObjectURL(url); }, 2000);
    } catch (e) {
      byId("export-note").textContent += " (The download failed here: copy the text.)";
    }
  }

  byId("start").addEventListener("click", start);
  byId("rater").addEventListener("keydown", function (e) { if (e.key === "Enter") start(); });
  byId("back").addEventListener("click", function () {
    current = Math.max(0, Math.min(current, questions.length) - 1);
    show();
  });
  byId("export-button").addEventListener("click", exportAnswers);
  choiceButtons().forEach(function (b) {
    b.addEventListener("click", function () {
      var value = b.getAttribute("data-value");
      answer(likert ? Number(value) : value);
    });
  });
  document.addEventListener("keydown", function (e) {
    if (byId("task").hidden || e.altKey || e.ctrlKey || e.metaKey) return;
    var tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA") return;
    var value = null;
    if (likert) {
      if (/^[0-9]$/.test(e.key)) value = e.key === "0" ? 10 : Number(e.key);
      if (value !== null && value > study.scale) value = null;
    } else if (e.key === "ArrowLeft" || e.key === "a") {
      value = "left";
    } else if (e.key === "ArrowRight" || e.key === "l") {
      value = "right";
    } else if (e.key === "ArrowDown" || e.key === "t") {
      value = "tie";
    }
    if (e.key === "Backspace") {
      byId("back").click();
      e.preventDefault();
    } else if (value !== null) {
      answer(value);
      e.preventDefault();
    }
  });
  var last = load("last-rater");
  if (typeof last === "string") byId("rater").value = last;
})();
)JS";

// JSON inside <script>: '<' only occurs in strings, where \u003c is the same character and "</script>" cannot end
// the element early.
std::string script_safe_json(const nlohmann::ordered_json& data) {
  std::string out;
  for (char c : data.dump()) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace


std::string study_page_html(const nlohmann::ordered_json& page) {
  const bool likert = page.at("mode") == "likert";
  const int scale = page.value("scale", 0);
  const std::string title = html_escape(page.at("title").get<std::string>());
  const size_t n = page.at("questions").size();
  std::ostringstream h;
  h << "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
       "<meta name='viewport' content='width=device-width,initial-scale=1'>"
       "<link rel='icon' href='data:,'><title>"
    << title << "</title><style>" << kStyle << "</style></head><body><main>\n";
  h << "<section id='intro'><h1>" << title << "</h1><p>You will see " << n << " questions, one at a time. ";
  if (likert) {
    h << "Rate each item from 1 (worst) to " << scale << " (best) with the buttons or the keys <kbd>1</kbd> to <kbd>"
      << (scale == 10 ? 0 : scale) << "</kbd>.";
  } else {
    h << "Each shows two items: choose the one you prefer, or <i>No preference</i> (keys <kbd>←</kbd> "
         "<kbd>→</kbd> <kbd>↓</kbd>). The sides are random.";
  }
  h << " A few questions are attention checks that tell you what to answer. Each answer is kept in this browser "
       "as you give it: you can close the page and come back. When you are done press <i>Export answers</i> and "
       "send the file to the organiser.</p>"
       "<p><label>Your name <input id='rater' autocomplete='off'></label> <button id='start'>Start</button> "
       "<span id='intro-note' class='note'></span></p></section>\n";
  h << "<section id='task' hidden><div id='status'><span>rater <b id='who'></b> · <span id='number'></span></span>"
       "<span>answered <span id='progress'>0 / "
    << n << "</span></span></div><div id='bar-frame'><div id='bar'></div></div>"
    << "<div id='question'><p id='prompt'></p>";
  if (likert) {
    h << "<div id='items' class='single'><div class='item' id='left-item'></div></div><div id='buttons'>";
    for (int k = 1; k <= scale; ++k) h << "<button id='rate-" << k << "' data-value='" << k << "'>" << k << "</button>";
    h << "<div class='note'>1 = worst, " << scale << " = best</div></div>";
  } else {
    h << "<div id='items'><div class='item' id='left-item'></div><div class='item' id='right-item'></div></div>"
         "<div id='buttons'><button id='choose-left' data-value='left'>◀ Left</button>"
         "<button id='choose-tie' data-value='tie'>No preference</button>"
         "<button id='choose-right' data-value='right'>Right ▶</button></div>";
  }
  h << "<div id='nav'><button id='back'>Previous question</button> <span class='note'>(<kbd>Backspace</kbd>; "
       "answering again replaces an answer)</span></div></div>"
       "<div id='done' hidden><p><b>All questions are answered — thank you.</b> Press <i>Export answers</i> and send "
       "the file to the organiser.</p></div></section>\n"
       "<section id='export-panel' hidden><p><button id='export-button'>Export answers</button> "
       "<span id='export-note' class='note'></span> <span id='storage-note' class='note' hidden>This browser does "
       "not keep answers across reloads here: export before closing the page.</span></p>"
       "<textarea id='export' readonly spellcheck='false' hidden></textarea></section>\n"
       "<p class='note'>study "
    << html_escape(page.at("study_id").get<std::string>())
    << " · made by genforge rate make · works offline</p></main>\n<script type='application/json' id='study-data'>"
    << script_safe_json(page) << "</script>\n<script>" << kScript << "</script>\n</body></html>\n";
  return h.str();
}

}  // namespace gf::eval
