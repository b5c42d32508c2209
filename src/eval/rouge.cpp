// ROUGE-N, ROUGE-L and ROUGE-Lsum as Google's rouge-score (0.1.2): Python-lowercased text, tokens = runs of
// [a-z0-9], optional nltk Porter stemming of tokens longer than 3 characters; n-gram overlap by clipped counts;
// ROUGE-L from one LCS table; ROUGE-Lsum as the summary-level union LCS over newline-separated sentences with
// ROUGE-1.5.5's guard against counting a token more often than it occurs. F is the harmonic mean (beta 1).
#include "eval/rouge.h"

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <unordered_map>

#include "core/unicode.h"
#include "genforge/core/error.h"
#include "genforge/eval/text.h"

namespace gf::eval {

namespace detail {

namespace {
// [len(ref)+1][len(can)+1] table of LCS lengths of prefixes, row-major.
std::vector<int32_t> lcs_table(const std::vector<int32_t>& ref, const std::vector<int32_t>& can) {
  const size_t cols = can.size() + 1;
  std::vector<int32_t> t((ref.size() + 1) * cols, 0);
  for (size_t i = 1; i <= ref.size(); ++i)
    for (size_t j = 1; j <= can.size(); ++j)
      t[i * cols + j] = ref[i - 1] == can[j - 1] ? t[(i - 1) * cols + j - 1] + 1
                                                 : std::max(t[(i - 1) * cols + j], t[i * cols + j - 1]);
  return t;
}
}  // namespace

int64_t lcs_length(const std::vector<int32_t>& ref, const std::vector<int32_t>& can) {
  // Two rows suffice for the length.
  std::vector<int32_t> prev(can.size() + 1, 0), cur(can.size() + 1, 0);
  for (size_t i = 1; i <= ref.size(); ++i) {
    for (size_t j = 1; j <= can.size(); ++j)
      cur[j] = ref[i - 1] == can[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[can.size()];
}

std::vector<int64_t> lcs_indices(const std::vector<int32_t>& ref, const std::vector<int32_t>& can) {
  const auto t = lcs_table(ref, can);
  const size_t cols = can.size() + 1;
  std::vector<int64_t> out;
  size_t i = ref.size(), j = can.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      out.push_back(int64_t(i - 1));
      --i;
      --j;
    } else if (t[i * cols + j - 1] > t[(i - 1) * cols + j]) {
      --j;
    } else {
      --i;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<int32_t> union_lcs(const std::vector<int32_t>& ref, const std::vector<std::vector<int32_t>>& candidates) {
  std::vector<char> in_union(ref.size(), 0);
  for (const auto& c : candidates)
    for (int64_t i : lcs_indices(ref, c)) in_union[size_t(i)] = 1;
  std::vector<int32_t> out;
  for (size_t i = 0; i < ref.size(); ++i)
    if (in_union[i]) out.push_back(ref[i]);
  return out;
}

}  // namespace detail

namespace {

RougeScore make_score(double precision, double recall) {
  RougeScore s;
  s.precision = precision;
  s.recall = recall;
  s.fmeasure = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
  return s;
}

// Interns tokens so that comparisons inside the LCS tables are integer compares.
class Interner {
 public:
  std::vector<int32_t> ids(const std::vector<std::string>& tokens) {
    std::vector<int32_t> out;
    out.reserve(tokens.size());
    for (const auto& t : tokens) out.push_back(map_.emplace(t, int32_t(map_.size())).first->second);
    return out;
  }

 private:
  std::unordered_map<std::string, int32_t> map_;
};

RougeScore score_ngrams(const std::vector<int32_t>& target, const std::vector<int32_t>& prediction, int n) {
  auto count = [n](const std::vector<int32_t>& tokens) {
    std::map<std::vector<int32_t>, int64_t> c;
    for (size_t i = 0; i + size_t(n) <= tokens.size(); ++i)
      ++c[std::vector<int32_t>(tokens.begin() + int64_t(i), tokens.begin() + int64_t(i) + n)];
    return c;
  };
  const auto t = count(target), p = count(prediction);
  int64_t overlap = 0, t_total = 0, p_total = 0;
  for (const auto& [g, k] : t) {
    t_total += k;
    if (auto it = p.find(g); it != p.end()) overlap += std::min(k, it->second);
  }
  for (const auto& kv : p) p_total += kv.second;
  return make_score(double(overlap) / double(std::max<int64_t>(p_total, 1)),
                    double(overlap) / double(std::max<int64_t>(t_total, 1)));
}

RougeScore score_lcs(const std::vector<int32_t>& target, const std::vector<int32_t>& prediction) {
  if (target.empty() || prediction.empty()) return {};
  const double lcs = double(detail::lcs_length(target, prediction));
  return make_score(lcs / double(prediction.size()), lcs / double(target.size()));
}

RougeScore summary_level_lcs(const std::vector<std::vector<int32_t>>& ref_sents,
                             const std::vector<std::vector<int32_t>>& can_sents) {
  if (ref_sents.empty() || can_sents.empty()) return {};
  int64_t m = 0, n = 0;
  std::unordered_map<int32_t, int64_t> ref_counts, can_counts;
  for (const auto& s : ref_sents) {
    m += int64_t(s.size());
    for (int32_t t : s) ++ref_counts[t];
  }
  for (const auto& s : can_sents) {
    n += int64_t(s.size());
    for (int32_t t : s) ++can_counts[t];
  }
  if (m == 0 || n == 0) return {};
  int64_t hits = 0;
  for (const auto& r : ref_sents) {
    for (int32_t t : detail::union_lcs(r, can_sents)) {
      auto& c = can_counts[t];
      auto& rc = ref_counts[t];
      if (c > 0 && rc > 0) {
        ++hits;
        --c;
        --rc;
      }
    }
  }
  return make_score(double(hits) / double(n), double(hits) / double(m));
}

// rouge-score's get_sents: split on "\n", drop empty strings (a line of spaces stays and tokenizes to nothing).
std::vector<std::string> newline_sentences(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int rouge_n_order(const std::string& type) {
  if (type.size() == 6 && type.compare(0, 5, "rouge") == 0 && type[5] >= '0' && type[5] <= '9') return type[5] - '0';
  return -1;
}

void check_types(const std::vector<std::string>& types) {
  GF_CHECK_AS(InvalidArgument, !types.empty(), "ask for rouge1, rouge2, ..., rougeL or rougeLsum",
              "no ROUGE types given");
  for (const auto& t : types) {
    const int n = rouge_n_order(t);
    GF_CHECK_AS(InvalidArgument, n != 0, "n must be positive", "ROUGE-N requires positive n: ", t);
    GF_CHECK_AS(InvalidArgument, n > 0 || t == "rougeL" || t == "rougeLsum",
                "valid types are rouge1 ... rouge9, rougeL, rougeLsum", "invalid ROUGE type '", t, "'");
  }
}

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view text, bool use_stemmer) {
  const std::string lowered = unicode::lower(text);
  std::vector<std::string> tokens;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    tokens.push_back(use_stemmer && cur.size() > 3 ? porter_stem(cur) : cur);
    cur.clear();
  };
  for (char ch : lowered) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
      cur += ch;
    else
      flush();
  }
  flush();
  return tokens;
}

RougeScores rouge_score(std::string_view target, std::string_view prediction, const RougeOptions& options) {
  check_types(options.types);
  Interner interner;
  const auto target_ids = interner.ids(rouge_tokenize(target, options.use_stemmer));
  const auto prediction_ids = interner.ids(rouge_tokenize(prediction, options.use_stemmer));
  RougeScores out;
  for (const auto& type : options.types) {
    if (type == "rougeL") {
      out[type] = score_lcs(target_ids, prediction_ids);
    } else if (type == "rougeLsum") {
      std::vector<std::vector<int32_t>> refs, cans;
      for (const auto& s : newline_sentences(target)) refs.push_back(interner.ids(rouge_tokenize(s, options.use_stemmer)));
      for (const auto& s : newline_sentences(prediction))
        cans.push_back(interner.ids(rouge_tokenize(s, options.use_stemmer)));
      out[type] = summary_level_lcs(refs, cans);
    } else {
      out[type] = score_ngrams(target_ids, prediction_ids, rouge_n_order(type));
    }
  }
  return out;
}

RougeScores rouge_score_multi(const std::vector<std::string>& targets, std::string_view prediction,
                              const RougeOptions& options) {
  GF_CHECK_AS(InvalidArgument, !targets.empty(), "give at least one reference", "ROUGE: no targets");
  RougeScores best;
  for (const auto& t : targets) {
    for (const auto& [type, s] : rouge_score(t, prediction, options)) {
      auto it = best.find(type);
      if (it == best.end() || s.fmeasure > it->second.fmeasure) best[type] = s;  // first target wins ties
    }
  }
  return best;
}

RougeScores corpus_rouge(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& targets, const RougeOptions& options) {
  GF_CHECK_AS(InvalidArgument, !predictions.empty(), "give at least one prediction", "ROUGE: no predictions");
  GF_CHECK(targets.size() == predictions.size(), "ROUGE: ", predictions.size(), " predictions but ", targets.size(),
           " target lists");
  RougeScores sum;
  for (size_t i = 0; i < predictions.size(); ++i) {
    for (const auto& [type, s] : rouge_score_multi(targets[i], predictions[i], options)) {
      auto& acc = sum[type];
      acc.precision += s.precision;
      acc.recall += s.recall;
      acc.fmeasure += s.fmeasure;
    }
  }
  const double n = double(predictions.size());
  for (auto& kv : sum) {
    kv.second.precision /= n;
    kv.second.recall /= n;
    kv.second.fmeasure /= n;
  }
  return sum;
}

}  // namespace gf::eval
