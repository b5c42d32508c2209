// Human evaluation, part two: the raters' answers against the study key. Reads and checks the files, applies the
// attention-check policy, and computes preferences, the Bradley-Terry ranking, Likert means and agreement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/eval/human.h"

namespace gf::eval {
namespace {

using ojson = nlohmann::ordered_json;

const char* kKeyType = "genforge study key";
const char* kAnswersType = "genforge study answers";
const char* kSummaryType = "genforge study summary";
const char* kFilesHint =
    "give the study's key.json (written by `genforge rate make`) and the answer files its raters exported";

struct KeyQuestion {
  int64_t id = 0;
  bool attention = false;
  int left = -1, right = -1;  // system indices (pairs)
  int system = -1;            // likert
  std::string expect_choice;  // attention, pairs
  int expect_rating = 0;      // attention, likert
};

struct StudyKey {
  std::string file, study_id;
  bool likert = false;
  int scale = 0;
  std::vector<std::string> systems, sources;
  std::vector<KeyQuestion> questions;
  std::map<int64_t, size_t> position;  // question id -> index in questions
};

struct Rater {
  std::string file, name;
  std::map<int64_t, double> value;  // question id -> choice code (0 left, 1 right, 2 tie) or rating
  int attention_answered = 0, attention_failed = 0;
  bool included = false;
};

constexpr double kLeft = 0, kRight = 1, kTie = 2;

ojson number_or_null(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

const nlohmann::json& field(const nlohmann::json& j, const char* name, const std::string& file, const char* what) {
  GF_CHECK_AS(DataError, j.is_object() && j.contains(name), kFilesHint, "'", file, "' is ", what, " without \"", name,
              "\"");
  return j.at(name);
}

std::string text_field(const nlohmann::json& j, const char* name, const std::string& file, const char* what) {
  const auto& v = field(j, name, file, what);
  GF_CHECK_AS(DataError, v.is_string() && !v.get<std::string>().empty(), kFilesHint, "'", file, "' is ", what,
              " whose \"", name, "\" is not a non-empty text");
  return v.get<std::string>();
}

int64_t integer_field(const nlohmann::json& j, const char* name, const std::string& file, const char* what) {
  const auto& v = field(j, name, file, what);
  GF_CHECK_AS(DataError, v.is_number_integer(), kFilesHint, "'", file, "' is ", what, " whose \"", name,
              "\" is not an integer");
  return v.get<int64_t>();
}

StudyKey parse_key(const nlohmann::json& j, const std::string& file) {
  const char* what = "a study key";
  StudyKey key;
  key.file = file;
  key.study_id = text_field(j, "study_id", file, what);
  const std::string mode = text_field(j, "mode", file, what);
  GF_CHECK_AS(DataError, mode == "pairs" || mode == "likert", kFilesHint, "'", file, "' is a study key of mode '", mode,
              "' (expected pairs or likert)");
  key.likert = mode == "likert";
  if (key.likert) key.scale = static_cast<int>(integer_field(j, "scale", file, what));
  std::map<std::string, int> system_index;
  for (const auto& s : field(j, "systems", file, what)) {
    system_index[text_field(s, "name", file, "a study key with a system")] = static_cast<int>(key.systems.size());
    key.systems.push_back(text_field(s, "name", file, what));
    key.sources.push_back(s.value("source", std::string()));
  }
  auto system_of = [&](const nlohmann::json& q, const char* name) {
    const std::string s = text_field(q, name, file, "a study key with a question");
    GF_CHECK_AS(DataError, system_index.count(s), kFilesHint, "'", file, "' names system '", s,
                "' in a question but not in \"systems\"");
    return system_index[s];
  };
  for (const auto& q : field(j, "questions", file, what)) {
    KeyQuestion k;
    k.id = integer_field(q, "id", file, "a study key with a question");
    k.attention = q.value("attention", false);
    if (k.attention) {
      const auto& expect = field(q, "expect", file, "a study key with an attention check");
      if (key.likert) {
        k.expect_rating = expect.is_number_integer() ? expect.get<int>() : 0;
      } else {
        k.expect_choice = expect.is_string() ? expect.get<std::string>() : "";
      }
    } else if (key.likert) {
      k.system = system_of(q, "system");
    } else {
      k.left = system_of(q, "left"), k.right = system_of(q, "right");
    }
    GF_CHECK_AS(DataError, key.position.emplace(k.id, key.questions.size()).second, kFilesHint, "'", file,
                "' holds question id ", k.id, " twice");
    key.questions.push_back(k);
  }
  GF_CHECK_AS(DataError, key.likert || key.systems.size() >= 2, kFilesHint, "'", file,
              "' is a pairs study with fewer than 2 systems");
  return key;
}

Rater parse_answers(const nlohmann::json& j, const std::string& file, const StudyKey& key) {
  const char* what = "an answer file";
  Rater r;
  r.file = file;
  const std::string study_id = text_field(j, "study_id", file, what);
  GF_CHECK_AS(DataError, study_id == key.study_id,
              "answers from another study (or from an earlier `genforge rate make` of this one) cannot be mixed in; "
              "give only this study's files",
              "'", file, "' answers study ", study_id, " but the key '", key.file, "' is of study ", key.study_id);
  r.name = text_field(j, "rater", file, what);
  const auto& list = field(j, "answers", file, what);
  GF_CHECK_AS(DataError, list.is_array(), kFilesHint, "'", file, "' is an answer file whose \"answers\" is not a list");
  for (const auto& a : list) {
    const int64_t id = integer_field(a, "id", file, "an answer file with an answer");
    const auto at = key.position.find(id);
    GF_CHECK_AS(DataError, at != key.position.end(),
                "the answers do not belong to this key: give the key.json made with the page the rater used",
                "'", file, "': question id ", id, " is not in the key '", key.file, "'");
    double value = 0;
    if (key.likert) {
      const int64_t rating = integer_field(a, "rating", file, "an answer file with an answer");
      GF_CHECK_AS(DataError, rating >= 1 && rating <= key.scale, kFilesHint, "'", file, "': question ", id,
                  " has rating ", rating, ", outside 1..", key.scale);
      value = static_cast<double>(rating);
    } else {
      const std::string choice = text_field(a, "choice", file, "an answer file with an answer");
      GF_CHECK_AS(DataError, choice == "left" || choice == "right" || choice == "tie", kFilesHint, "'", file,
                  "': question ", id, " has choice '", choice, "' (expected left, right or tie)");
      value = choice == "left" ? kLeft : choice == "right" ? kRight : kTie;
    }
    GF_CHECK_AS(DataError, r.value.emplace(id, value).second, kFilesHint, "'", file, "' answers question ", id,
                " twice");
    const KeyQuestion& q = key.questions[at->second];
    if (q.attention) {
      ++r.attention_answered;
      const bool right = key.likert ? value == q.expect_rating
                                    : value == (q.expect_choice == "left" ? kLeft : kRight);
      if (!right) ++r.attention_failed;
    }
  }
  return r;
}

std::string fixed(double v, int digits = 3) {
  if (!std::isfinite(v)) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string padded(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

}  // namespace

ojson summarize_study(const nlohmann::json& key_json, const std::string& key_file,
                      const std::vector<std::pair<std::string, nlohmann::json>>& answer_files,
                      const SummaryOptions& options) {
  const StudyKey key = parse_key(key_json, key_file);
  GF_CHECK_AS(DataError, !answer_files.empty(),
              "give the files the raters exported from index.html (Export answers) after the key, e.g. "
              "`genforge rate summarize study/key.json answers/*.json`",
              "no answer files: study ", key.study_id, " ('", key_file, "') has no raters' answers among the files given");
  std::vector<Rater> raters;
  std::map<std::string, std::string> file_of_rater;
  for (const auto& [file, j] : answer_files) {
    Rater r = parse_answers(j, file, key);
    const auto [it, fresh] = file_of_rater.emplace(r.name, file);
    GF_CHECK_AS(DataError, fresh, "each rater needs a name of their own: drop the duplicate file, or change the "
                "\"rater\" of one of them", "two answer files are from the rater '", r.name, "': '", it->second,
                "' and '", file, "'");
    r.included = r.attention_failed == 0 || options.include_failed;
    raters.push_back(std::move(r));
  }
  const int n_systems = static_cast<int>(key.systems.size());
  int attention_total = 0;
  for (const auto& q : key.questions) attention_total += q.attention ? 1 : 0;

  ojson s;
  s["type"] = kSummaryType;
  s["study_id"] = key.study_id;
  s["mode"] = key.likert ? "likert" : "pairs";
  if (key.likert) s["scale"] = key.scale;
  s["questions"] = key.questions.size() - static_cast<size_t>(attention_total);
  s["attention_checks"] = attention_total;
  s["include_failed"] = options.include_failed;
  s["systems"] = ojson::array();
  for (int i = 0; i < n_systems; ++i) s["systems"].push_back({{"name", key.systems[i]}, {"source", key.sources[i]}});
  s["raters"] = ojson::array();
  ojson failed = ojson::array();
  for (const auto& r : raters) {
    s["raters"].push_back({{"name", r.name}, {"file", r.file}, {"answered", r.value.size()},
                           {"attention_answered", r.attention_answered}, {"attention_failed", r.attention_failed},
                           {"passed", r.attention_failed == 0}, {"included", r.included}});
    if (r.attention_failed > 0) failed.push_back(r.name);
  }
  s["failed_attention"] = failed;

  std::vector<const Rater*> included;
  for (const auto& r : raters) {
    if (r.included) included.push_back(&r);
  }
  s["raters_included"] = included.size();

  if (!key.likert) {
    std::vector<std::vector<double>> wins(n_systems, std::vector<double>(n_systems, 0.0));
    std::vector<std::vector<double>> ties(n_systems, std::vector<double>(n_systems, 0.0));
    for (const Rater* r : included) {
      for (const auto& [id, value] : r->value) {
        const KeyQuestion& q = key.questions[key.position.at(id)];
        if (q.attention) continue;
        if (value == kTie) {
          ties[q.left][q.right] += 1, ties[q.right][q.left] += 1;
        } else {
          wins[value == kLeft ? q.left : q.right][value == kLeft ? q.right : q.left] += 1;
        }
      }
    }
    s["pairs"] = ojson::array();
    std::vector<std::vector<double>> bt_wins(n_systems, std::vector<double>(n_systems, 0.0));
    for (int a = 0; a < n_systems; ++a) {
      for (int b = 0; b < n_systems; ++b) bt_wins[a][b] = wins[a][b] + 0.5 * ties[a][b];
      for (int b = a + 1; b < n_systems; ++b) {
        const double n = wins[a][b] + wins[b][a] + ties[a][b];
        const double preferred = wins[a][b] + 0.5 * ties[a][b];
        const Interval ci = wilson_interval(preferred, n);
        s["pairs"].push_back({{"a", key.systems[a]}, {"b", key.systems[b]}, {"a_wins", static_cast<int64_t>(wins[a][b])},
                              {"b_wins", static_cast<int64_t>(wins[b][a])},
                              {"ties", static_cast<int64_t>(ties[a][b])}, {"n", static_cast<int64_t>(n)},
                              {"a_preferred", number_or_null(n > 0 ? preferred / n : NAN)},
                              {"ci_low", number_or_null(ci.low)}, {"ci_high", number_or_null(ci.high)}});
      }
    }
    const BradleyTerry bt = bradley_terry(bt_wins, options.bt_max_iterations, options.bt_tolerance);
    std::vector<int> order(n_systems);
    for (int i = 0; i < n_systems; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return bt.strengths[x] > bt.strengths[y]; });
    ojson ranking = ojson::array();
    for (size_t rank = 0; rank < order.size(); ++rank) {
      ranking.push_back({{"rank", rank + 1}, {"system", key.systems[order[rank]]},
                         {"strength", bt.strengths[order[rank]]}});
    }
    s["bradley_terry"] = {{"ranking", ranking}, {"iterations", bt.iterations}, {"converged", bt.converged},
                          {"strongly_connected", bt.strongly_connected}};
    if (!bt.strongly_connected) {
      s["bradley_terry"]["note"] =
          "some system never beat (even by a tie) a group of others: no finite maximum-likelihood strengths exist "
          "(Hunter 2004); only the order is meaningful";
    }
  } else {
    std::vector<std::vector<double>> ratings(n_systems);
    for (const Rater* r : included) {
      for (const auto& [id, value] : r->value) {
        const KeyQuestion& q = key.questions[key.position.at(id)];
        if (!q.attention) ratings[q.system].push_back(value);
      }
    }
    s["likert"] = ojson::array();
    for (int i = 0; i < n_systems; ++i) {
      double mean = 0;
      for (double v : ratings[i]) mean += v / static_cast<double>(ratings[i].size());
      const Interval ci = mean_interval(ratings[i]);
      s["likert"].push_back({{"system", key.systems[i]}, {"n", ratings[i].size()},
                             {"mean", number_or_null(ratings[i].empty() ? NAN : mean)},
                             {"ci_low", number_or_null(ci.low)}, {"ci_high", number_or_null(ci.high)}});
    }
  }

  // Agreement over the real questions (attention checks have a right answer, so they would inflate it).
  RatingMatrix matrix;
  for (const Rater* r : included) {
    std::vector<double> row;
    for (const auto& q : key.questions) {
      if (q.attention) continue;
      const auto it = r->value.find(q.id);
      row.push_back(it == r->value.end() ? NAN : it->second);
    }
    matrix.push_back(std::move(row));
  }
  ojson agreement = {{"raters", included.size()}};
  if (included.size() < 2) {
    agreement["note"] = "agreement needs at least 2 included raters";
  } else {
    int pairs = 0, complete_units = 0;
    agreement["cohen_kappa"] = number_or_null(mean_pairwise_cohen_kappa(matrix, &pairs));
    agreement["cohen_kappa_pairs"] = pairs;
    if (included.size() > 2) agreement["cohen_kappa_note"] = "the mean of Cohen's kappa over the pairs of raters";
    agreement["fleiss_kappa"] = number_or_null(fleiss_kappa(matrix, &complete_units));
    agreement["fleiss_units"] = complete_units;
    const AlphaLevel level = key.likert ? AlphaLevel::interval : AlphaLevel::nominal;
    agreement["krippendorff_alpha"] = number_or_null(krippendorff_alpha(matrix, level));
    agreement["krippendorff_level"] = key.likert ? "interval" : "nominal";
    if (key.likert) agreement["kappa_note"] = "the kappas treat ratings as unordered categories";
  }
  s["agreement"] = agreement;
  return s;
}

ojson summarize_study_files(const std::vector<std::string>& paths, const SummaryOptions& options) {
  std::vector<std::pair<std::string, nlohmann::json>> keys, answers;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    GF_CHECK_AS(DataError, in.good(), kFilesHint, "cannot read '", path, "'");
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
      throw DataError(msg("'", path, "' is not JSON (", e.what(), ")"), kFilesHint);
    }
    const std::string type = j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
    if (type == kKeyType) {
      keys.emplace_back(path, std::move(j));
    } else if (type == kAnswersType) {
      answers.emplace_back(path, std::move(j));
    } else if (type != kSummaryType) {  // an earlier --out in the same folder is not an error
      throw DataError(msg("'", path, "' is neither a study key nor a rater's answers (it lacks \"type\": \"",
                          kAnswersType, "\")"),
                      kFilesHint);
    }
  }
  GF_CHECK_AS(DataError, !keys.empty(),
              "give the key.json that `genforge rate make` wrote next to index.html, e.g. `genforge rate summarize "
              "study/key.json answers/*.json`",
              "no study key among the ", paths.size(), " files given (a file with \"type\": \"", kKeyType, "\")");
  GF_CHECK_AS(DataError, keys.size() == 1, "give the key of one study", "two study keys: '", keys[0].first, "' and '",
              keys[1].first, "'");
  return summarize_study(keys[0].second, keys[0].first, answers, options);
}

std::string study_summary_text(const ojson& s) {
  std::ostringstream out;
  const bool likert = s.at("mode") == "likert";
  out << "study " << s.at("study_id").get<std::string>() << " (" << (likert ? "likert 1.." : "pairs")
      << (likert ? std::to_string(s.at("scale").get<int>()) : "") << ", " << s.at("questions").get<int>()
      << " questions + " << s.at("attention_checks").get<int>() << " attention checks)\n\nraters\n";
  out << "  " << padded("name", 16) << padded("answered", 10) << padded("attention", 11) << "included\n";
  for (const auto& r : s.at("raters")) {
    const int answered = r.at("attention_answered").get<int>(), wrong = r.at("attention_failed").get<int>();
    out << "  " << padded(r.at("name").get<std::string>(), 16) << padded(std::to_string(r.at("answered").get<int>()), 10)
        << padded(std::to_string(answered - wrong) + "/" + std::to_string(answered), 11)
        << (r.at("included").get<bool>() ? "yes" : "no") << (r.at("passed").get<bool>() ? "" : "  FAILED an attention check")
        << "\n";
  }
  if (likert) {
    out << "\nmean rating (95 % t interval)\n";
    for (const auto& l : s.at("likert")) {
      out << "  " << padded(l.at("system").get<std::string>(), 6)
          << padded(fixed(l.at("mean").is_null() ? NAN : l.at("mean").get<double>(), 2), 7) << "["
          << fixed(l.at("ci_low").is_null() ? NAN : l.at("ci_low").get<double>(), 2) << ", "
          << fixed(l.at("ci_high").is_null() ? NAN : l.at("ci_high").get<double>(), 2) << "]  n "
          << l.at("n").get<int>() << "\n";
    }
  } else {
    out << "\npreferences (ties count half; Wilson 95 % interval)\n";
    for (const auto& p : s.at("pairs")) {
      const auto a = p.at("a").get<std::string>(), b = p.at("b").get<std::string>();
      auto num = [&](const char* k) { return p.at(k).is_null() ? NAN : p.at(k).get<double>(); };
      out << "  " << padded(a + " vs " + b, 10) << a << " preferred " << fixed(num("a_preferred")) << " ["
          << fixed(num("ci_low")) << ", " << fixed(num("ci_high")) << "]   " << a << " " << num("a_wins") << "  " << b
          << " " << num("b_wins") << "  ties " << num("ties") << "  (n " << num("n") << ")\n";
    }
    const auto& bt = s.at("bradley_terry");
    out << "\nBradley-Terry ranking (Hunter's MM; " << bt.at("iterations").get<int>() << " iterations, "
        << (bt.at("converged").get<bool>() ? "converged"
            : bt.at("strongly_connected").get<bool>() ? "NOT converged" : "no finite maximum")
        << "; geometric mean of strengths 1)\n";
    for (const auto& r : bt.at("ranking")) {
      out << "  " << r.at("rank").get<int>() << ". " << padded(r.at("system").get<std::string>(), 6) << "strength "
          << fixed(r.at("strength").get<double>()) << "\n";
    }
    if (bt.contains("note")) out << "  note: " << bt.at("note").get<std::string>() << "\n";
  }
  const auto& a = s.at("agreement");
  out << "\nagreement (" << a.at("raters").get<int>() << " included raters)\n";
  if (a.contains("note")) {
    out << "  " << a.at("note").get<std::string>() << "\n";
  } else {
    auto num = [&](const char* k) { return a.at(k).is_null() ? NAN : a.at(k).get<double>(); };
    out << "  Cohen's kappa         " << fixed(num("cohen_kappa"))
        << (a.contains("cohen_kappa_note") ? "  (mean over " + std::to_string(a.at("cohen_kappa_pairs").get<int>()) +
                                                 " rater pairs)"
                                           : "")
        << "\n  Fleiss' kappa         " << fixed(num("fleiss_kappa")) << "  (" << a.at("fleiss_units").get<int>()
        << " questions answered by every included rater)\n  Krippendorff's alpha  " << fixed(num("krippendorff_alpha"))
        << "  (" << a.at("krippendorff_level").get<std::string>() << ")\n";
  }
  if (!s.at("failed_attention").empty()) {
    out << "\nfailed an attention check" << (s.at("include_failed").get<bool>() ? " (included: --include-failed)" : " (excluded)")
        << ":";
    for (const auto& name : s.at("failed_attention")) out << " " << name.get<std::string>();
    out << "\n";
  }
  return out.str();
}

}  // namespace gf::eval
