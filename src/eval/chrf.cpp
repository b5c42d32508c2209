// chrF and chrF++ as sacreBLEU 2.x: character n-grams over code points (whitespace removed unless asked), word
// n-grams after splitting one leading or trailing ASCII punctuation mark off each word, the best reference per
// segment by its own F-score, corpus statistics summed before the final F-beta.
#include <map>
#include <string>
#include <unordered_map>

#include "eval/ngram.h"
#include "core/unicode.h"
#include "genforge/core/error.h"
#include "genforge/eval/text.h"

namespace gf::eval {

namespace {

template <class Key>
using Counts = std::unordered_map<Key, int64_t>;

struct SegmentNgrams {
  std::vector<Counts<std::u32string>> chars;  // [char_order]
  std::vector<Counts<std::u32string>> words;  // [word_order], words joined by spaces
};

bool is_ascii_punct(char32_t c) {
  return c < 0x80 && ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
                      (c >= '{' && c <= '~'));
}

std::vector<std::u32string> words_without_edge_punctuation(const std::u32string& sent) {
  std::vector<std::u32string> out;
  for (const auto& w : unicode::split(std::u32string_view(sent))) {
    if (w.size() == 1) {
      out.push_back(w);
    } else if (is_ascii_punct(w.back())) {
      out.push_back(w.substr(0, w.size() - 1));
      out.push_back(w.substr(w.size() - 1));
    } else if (is_ascii_punct(w.front())) {
      out.push_back(w.substr(0, 1));
      out.push_back(w.substr(1));
    } else {
      out.push_back(w);
    }
  }
  return out;
}

SegmentNgrams extract(const std::u32string& sent, const ChrfOptions& o) {
  SegmentNgrams g;
  std::u32string line = sent;
  if (!o.whitespace) {
    line.clear();
    for (const auto& w : unicode::split(std::u32string_view(sent))) line += w;
  }
  for (int n = 1; n <= o.char_order; ++n) {
    Counts<std::u32string> c;
    for (size_t i = 0; i + size_t(n) <= line.size(); ++i) ++c[line.substr(i, size_t(n))];
    g.chars.push_back(std::move(c));
  }
  if (o.word_order > 0) {
    const auto words = words_without_edge_punctuation(sent);
    for (int n = 1; n <= o.word_order; ++n) {
      Counts<std::u32string> c;
      for (size_t i = 0; i + size_t(n) <= words.size(); ++i) {
        std::u32string key = words[i];
        for (size_t k = 1; k < size_t(n); ++k) key += U" " + words[i + k];
        ++c[key];
      }
      g.words.push_back(std::move(c));
    }
  }
  return g;
}

void add_match_statistics(const Counts<std::u32string>& hyp, const Counts<std::u32string>& ref,
                          std::vector<double>& stats) {
  int64_t match = 0, hyp_count = 0, ref_count = 0;
  for (const auto& [gram, count] : hyp) {
    hyp_count += count;
    auto it = ref.find(gram);
    if (it != ref.end()) match += std::min(count, it->second);
  }
  for (const auto& kv : ref) ref_count += kv.second;
  stats.push_back(ref.empty() ? 0.0 : double(hyp_count));
  stats.push_back(double(ref_count));
  stats.push_back(double(match));
}

double f_score(const std::vector<double>& stats, const ChrfOptions& o) {
  const double eps = 1e-16, factor = o.beta * o.beta;
  const int order = o.char_order + o.word_order;
  double score = 0, avg_prec = 0, avg_rec = 0;
  int effective = 0;
  for (int i = 0; i < order; ++i) {
    const double n_hyp = stats[size_t(3 * i)], n_ref = stats[size_t(3 * i + 1)], n_match = stats[size_t(3 * i + 2)];
    const double prec = n_hyp > 0 ? n_match / n_hyp : eps;
    const double rec = n_ref > 0 ? n_match / n_ref : eps;
    const double denom = factor * prec + rec;
    score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective;
    }
  }
  if (o.eps_smoothing) return 100 * score / order;
  if (effective == 0) {
    avg_prec = avg_rec = 0;
  } else {
    avg_prec /= effective;
    avg_rec /= effective;
  }
  if (avg_prec + avg_rec != 0) return 100 * (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec);
  return 0.0;
}

std::u32string preprocess(const std::string& s, const ChrfOptions& o) {
  return unicode::decode(o.lowercase ? unicode::lower(s) : s);
}

std::string chrf_signature(const std::string& nrefs, const ChrfOptions& o) {
  return "nrefs:" + nrefs + "|case:" + (o.lowercase ? "lc" : "mixed") + "|eff:" + (o.eps_smoothing ? "no" : "yes") +
         "|nc:" + std::to_string(o.char_order) + "|nw:" + std::to_string(o.word_order) +
         "|space:" + (o.whitespace ? "yes" : "no");
}

}  // namespace

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::optional<std::string>>>& references,
                      const ChrfOptions& o) {
  GF_CHECK(o.char_order >= 0 && o.word_order >= 0 && o.char_order + o.word_order >= 1,
           "chrF needs a positive character or word order, got ", o.char_order, " and ", o.word_order);
  GF_CHECK(o.beta > 0, "chrF beta must be > 0, got ", o.beta);
  detail::check_streams(hypotheses.size(), references);
  const int order = o.char_order + o.word_order;
  std::vector<double> total(size_t(3 * order), 0.0);
  std::map<size_t, int> ref_counts;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto hyp = extract(preprocess(hypotheses[i], o), o);
    std::vector<double> best_stats;
    double best_f = -1;
    size_t nrefs = 0;
    for (const auto& stream : references) {
      if (!stream[i]) continue;
      ++nrefs;
      const auto ref = extract(preprocess(*stream[i], o), o);
      std::vector<double> stats;
      for (int n = 0; n < o.char_order; ++n) add_match_statistics(hyp.chars[size_t(n)], ref.chars[size_t(n)], stats);
      for (int n = 0; n < o.word_order; ++n) add_match_statistics(hyp.words[size_t(n)], ref.words[size_t(n)], stats);
      const double f = f_score(stats, o);
      if (f > best_f) best_f = f, best_stats = stats;
    }
    ++ref_counts[nrefs];
    for (size_t k = 0; k < best_stats.size(); ++k) total[k] += best_stats[k];
  }
  ChrfScore s;
  s.score = f_score(total, o);
  s.signature = chrf_signature(ref_counts.size() == 1 ? std::to_string(ref_counts.begin()->first) : "var", o);
  return s;
}

ChrfScore sentence_chrf(const std::string& hypothesis, const std::vector<std::string>& references,
                        const ChrfOptions& options) {
  std::vector<std::vector<std::optional<std::string>>> streams;
  for (const auto& r : references) streams.push_back({r});
  return corpus_chrf({hypothesis}, streams, options);
}

}  // namespace gf::eval
