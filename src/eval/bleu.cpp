// BLEU as sacreBLEU 2.x (tokenizers, smoothing, signature) and as nltk 3.8 (smoothing methods 0-7).
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <set>

#include "eval/ngram.h"
#include "core/unicode.h"
#include "genforge/core/error.h"
#include "genforge/eval/text.h"

namespace gf::eval {

using detail::Ids;
using detail::MatchStats;
using detail::Vocabulary;

BleuTokenizer parse_bleu_tokenizer(const std::string& name) {
  if (name == "13a") return BleuTokenizer::v13a;
  if (name == "intl") return BleuTokenizer::intl;
  if (name == "char") return BleuTokenizer::chars;
  if (name == "none") return BleuTokenizer::none;
  throw InvalidArgument(msg("unknown BLEU tokenizer '", name, "'"), "choose one of 13a, intl, char, none");
}

BleuSmoothing parse_bleu_smoothing(const std::string& name) {
  if (name == "exp") return BleuSmoothing::exp;
  if (name == "floor") return BleuSmoothing::floor;
  if (name == "add-k") return BleuSmoothing::add_k;
  if (name == "none") return BleuSmoothing::none;
  throw InvalidArgument(msg("unknown BLEU smoothing '", name, "'"), "choose one of exp, floor, add-k, none");
}

BleuConvention parse_bleu_convention(const std::string& name) {
  if (name == "sacrebleu") return BleuConvention::sacrebleu;
  if (name == "nltk") return BleuConvention::nltk;
  throw InvalidArgument(msg("unknown BLEU convention '", name, "'"), "choose sacrebleu or nltk");
}

std::string to_string(BleuTokenizer t) {
  switch (t) {
    case BleuTokenizer::v13a: return "13a";
    case BleuTokenizer::intl: return "intl";
    case BleuTokenizer::chars: return "char";
    case BleuTokenizer::none: return "none";
  }
  return "?";
}

std::string to_string(BleuSmoothing s) {
  switch (s) {
    case BleuSmoothing::exp: return "exp";
    case BleuSmoothing::floor: return "floor";
    case BleuSmoothing::add_k: return "add-k";
    case BleuSmoothing::none: return "none";
  }
  return "?";
}

namespace {

// ---- tokenizers ----

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

// Python re.sub for a two-character pattern (first)(second), scanning left to right without overlaps, with the
// replacement `[space]\1[space]\2[space]` where each space is optional.
template <class Text, class First, class Second>
Text substitute_pair(const Text& s, First first, Second second, bool before, bool between, bool after) {
  Text out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      if (before) out.push_back(' ');
      out.push_back(s[i]);
      if (between) out.push_back(' ');
      out.push_back(s[i + 1]);
      if (after) out.push_back(' ');
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

template <class Text, class Class>
Text pad_each(const Text& s, Class cls) {
  Text out;
  out.reserve(s.size() + s.size() / 4);
  for (auto c : s) {
    if (cls(c)) {
      out.push_back(' ');
      out.push_back(c);
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out.push_back(' ');
    out += tokens[i];
  }
  return out;
}

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// mteval-v13a: the classes below are ASCII, so running them over UTF-8 bytes gives the same string as over code
// points (a multi-byte character is never a digit, a period or a comma).
std::string tokenize_13a(std::string line) {
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  line = " " + line + " ";
  auto punct = [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
           (c >= ':' && c <= '@') || c == '/';
  };
  line = pad_each(line, punct);
  auto non_digit = [](char c) { return !is_digit(static_cast<unsigned char>(c)); };
  auto period_comma = [](char c) { return c == '.' || c == ','; };
  auto digit = [](char c) { return is_digit(static_cast<unsigned char>(c)); };
  auto dash = [](char c) { return c == '-'; };
  line = substitute_pair(line, non_digit, period_comma, false, true, true);
  line = substitute_pair(line, period_comma, non_digit, true, true, false);
  line = substitute_pair(line, digit, dash, false, true, true);
  return join_tokens(unicode::split(line));
}

// mteval-v14 international tokenization on code points with Unicode categories.
std::string tokenize_intl(const std::string& line) {
  auto text = unicode::decode(line);
  auto not_number = [](char32_t c) { return !unicode::is_number(c); };
  auto punct = [](char32_t c) { return unicode::is_punctuation(c); };
  text = substitute_pair(text, not_number, punct, false, true, true);
  text = substitute_pair(text, punct, not_number, true, true, false);
  text = pad_each(text, [](char32_t c) { return unicode::is_symbol(c); });
  return join_tokens(unicode::split(unicode::encode(text)));
}

std::string tokenize_chars(const std::string& line) {
  auto text = unicode::decode(line);
  std::u32string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i) out.push_back(' ');
    out.push_back(text[i]);
  }
  return unicode::encode(out);
}

double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

double default_smooth_value(BleuSmoothing s) {
  return s == BleuSmoothing::floor ? 0.1 : s == BleuSmoothing::add_k ? 1.0 : 0.0;
}

std::string signature(const std::string& nrefs, const BleuOptions& o) {
  std::string smooth = to_string(o.smooth);
  if (o.smooth == BleuSmoothing::floor || o.smooth == BleuSmoothing::add_k) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%.2f]", o.smooth_value.value_or(default_smooth_value(o.smooth)));
    smooth += buf;
  }
  // sacreBLEU's own signature; the nltk convention says so at the end (sacreBLEU has no such key).
  return "nrefs:" + nrefs + "|case:" + (o.lowercase ? "lc" : "mixed") + "|eff:" + (o.effective_order ? "yes" : "no") +
         "|tok:" + to_string(o.tokenize) + "|smooth:" + smooth +
         (o.convention == BleuConvention::nltk ? "|conv:nltk" : "");
}

// sacreBLEU's _preprocess_segment followed by the whitespace split of extract_all_word_ngrams.
std::vector<std::string> segment_tokens(const std::string& segment, const BleuOptions& o) {
  return unicode::split(bleu_tokenize(unicode::rstrip(o.lowercase ? unicode::lower(segment) : segment), o.tokenize));
}

}  // namespace

std::string bleu_tokenize(const std::string& segment, BleuTokenizer tokenizer) {
  switch (tokenizer) {
    case BleuTokenizer::none: return segment;
    case BleuTokenizer::v13a: return tokenize_13a(segment);
    case BleuTokenizer::intl: return tokenize_intl(segment);
    case BleuTokenizer::chars: return tokenize_chars(segment);
  }
  return segment;
}

BleuScore bleu_from_statistics(std::vector<double> correct, std::vector<double> total, int64_t sys_len,
                               int64_t ref_len, const BleuOptions& o) {
  const int order = o.max_order;
  GF_CHECK(order >= 1 && int(correct.size()) == order && int(total.size()) == order,
           "BLEU statistics need ", order, " orders, got ", correct.size(), " and ", total.size());
  const double smooth_value = o.smooth_value.value_or(default_smooth_value(o.smooth));
  BleuScore r;
  r.sys_len = sys_len;
  r.ref_len = ref_len;
  r.bp = 1.0;
  if (sys_len < ref_len) r.bp = sys_len > 0 ? std::exp(1.0 - double(ref_len) / double(sys_len)) : 0.0;
  r.precisions.assign(size_t(order), 0.0);
  bool any = false;
  for (double c : correct) any = any || c != 0;
  if (!any) {
    r.counts = correct;
    r.totals = total;
    return r;
  }
  double smooth_mteval = 1.0;
  int effective = order;
  for (int n = 1; n <= order; ++n) {
    const size_t i = size_t(n - 1);
    if (o.smooth == BleuSmoothing::add_k && n > 1) {
      correct[i] += smooth_value;
      total[i] += smooth_value;
    }
    if (total[i] == 0) break;
    if (o.effective_order) effective = n;
    if (correct[i] == 0) {
      if (o.smooth == BleuSmoothing::exp) {
        smooth_mteval *= 2;
        r.precisions[i] = 100.0 / (smooth_mteval * total[i]);
      } else if (o.smooth == BleuSmoothing::floor) {
        r.precisions[i] = 100.0 * smooth_value / total[i];
      }
    } else {
      r.precisions[i] = 100.0 * correct[i] / total[i];
    }
  }
  double log_sum = 0;
  for (int i = 0; i < effective; ++i) log_sum += my_log(r.precisions[size_t(i)]);
  r.score = r.bp * std::exp(log_sum / effective);
  r.counts = correct;
  r.totals = total;
  return r;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::optional<std::string>>>& references,
                      const BleuOptions& o) {
  detail::check_streams(hypotheses.size(), references);
  GF_CHECK(o.max_order >= 1, "max n-gram order must be >= 1, got ", o.max_order);
  const size_t n = hypotheses.size();
  std::vector<Tokens> hyp_tokens(n);
  std::vector<std::vector<Tokens>> ref_tokens(n);
  std::vector<const Tokens*> hyp_ptrs(n);
  std::vector<std::vector<const Tokens*>> ref_ptrs(n);
  std::set<size_t> ref_counts;
  for (size_t i = 0; i < n; ++i) {
    hyp_tokens[i] = segment_tokens(hypotheses[i], o);
    for (const auto& stream : references)
      if (stream[i]) ref_tokens[i].push_back(segment_tokens(*stream[i], o));
    ref_counts.insert(ref_tokens[i].size());
    hyp_ptrs[i] = &hyp_tokens[i];
    for (const auto& r : ref_tokens[i]) ref_ptrs[i].push_back(&r);
  }
  std::vector<double> correct(size_t(o.max_order), 0), total(size_t(o.max_order), 0);
  int64_t sys_len = 0, ref_len = 0;
  for (const MatchStats& m : detail::match_corpus(hyp_ptrs, ref_ptrs, o.max_order)) {
    sys_len += m.hyp_len;
    ref_len += m.ref_len;
    for (int k = 0; k < o.max_order; ++k) {
      correct[size_t(k)] += double(m.correct[size_t(k)]);
      const int64_t segment_total = o.convention == BleuConvention::nltk ? std::max<int64_t>(1, m.total[size_t(k)])
                                                                          : m.total[size_t(k)];
      total[size_t(k)] += double(segment_total);
    }
  }
  auto r = bleu_from_statistics(correct, total, sys_len, ref_len, o);
  r.signature = signature(ref_counts.size() == 1 ? std::to_string(*ref_counts.begin()) : "var", o);
  return r;
}

BleuScore sentence_bleu(const std::string& hypothesis, const std::vector<std::string>& references,
                        BleuOptions options) {
  options.effective_order = true;
  std::vector<std::vector<std::optional<std::string>>> streams;
  for (const auto& r : references) streams.push_back({r});
  return corpus_bleu({hypothesis}, streams, options);
}

// ---- nltk ----

namespace {

struct Precision {  // one entry of nltk's p_n: a Fraction until a smoothing method turns it into a float
  double value = 0;
  int64_t numerator = 0, denominator = 1;
};

std::vector<double> smoothed(std::vector<Precision> p, const NltkBleuOptions& o, int64_t hyp_len,
                             const std::vector<Tokens>& last_refs, const Tokens& last_hyp) {
  const size_t orders = p.size();
  auto method4 = [&](std::vector<Precision>& q) {
    int incvnt = 1;
    for (auto& pi : q) {
      if (pi.numerator == 0 && hyp_len > 1) {
        const double numerator = 1.0 / (std::pow(2.0, incvnt) * o.k / std::log(double(hyp_len)));
        pi.value = numerator / double(pi.denominator);
        ++incvnt;
      }
    }
  };
  auto method5 = [&](std::vector<Precision>& q) {
    std::vector<double> plus1;
    for (const auto& pi : q) plus1.push_back(pi.value);
    plus1.push_back(nltk_modified_precision(last_refs, last_hyp, 5).value());
    double previous = q[0].value + 1;
    for (size_t i = 0; i < q.size(); ++i) {
      q[i].value = (previous + q[i].value + plus1[i + 1]) / 3;
      previous = q[i].value;
    }
  };
  switch (o.smoothing) {
    case 0:
      for (auto& pi : p) pi.value = pi.numerator != 0 ? pi.value : DBL_MIN;
      break;
    case 1:
      for (auto& pi : p)
        if (pi.numerator == 0) pi.value = (double(pi.numerator) + o.epsilon) / double(pi.denominator);
      break;
    case 2:
      for (size_t i = 1; i < orders; ++i) p[i].value = double(p[i].numerator + 1) / double(p[i].denominator + 1);
      break;
    case 3: {
      int incvnt = 1;
      for (auto& pi : p)
        if (pi.numerator == 0) pi.value = 1.0 / (std::pow(2.0, incvnt++) * double(pi.denominator));
      break;
    }
    case 4: method4(p); break;
    case 5: method5(p); break;
    case 6: {
      GF_CHECK_AS(InvalidArgument, orders >= 3 && p[2].value != 0, "use another smoothing method for this text",
                  "nltk smoothing method 6 requires a non-zero trigram precision");
      for (size_t i = 2; i < orders; ++i) {
        const double pi0 = p[i - 2].value == 0 ? 0.0 : p[i - 1].value * p[i - 1].value / p[i - 2].value;
        const double l = double(std::max<int64_t>(0, int64_t(last_hyp.size()) - int64_t(i)));
        p[i].value = (double(p[i].numerator) + o.alpha * pi0) / (l + o.alpha);
      }
      break;
    }
    case 7:
      method4(p);
      method5(p);
      break;
    default:
      throw InvalidArgument(msg("unknown nltk smoothing method ", o.smoothing), "choose a method from 0 to 7");
  }
  std::vector<double> out;
  for (const auto& pi : p) out.push_back(pi.value);
  return out;
}

}  // namespace

Fraction nltk_modified_precision(const std::vector<Tokens>& references, const Tokens& hypothesis, int n) {
  GF_CHECK(n >= 1, "n-gram order must be >= 1, got ", n);
  Vocabulary vocab;
  const Ids hyp = vocab.ids(hypothesis);
  std::vector<Ids> refs;
  for (const auto& r : references) refs.push_back(vocab.ids(r));
  std::vector<const Ids*> ptrs;
  for (const auto& r : refs) ptrs.push_back(&r);
  const MatchStats m = detail::match_ngrams(hyp, ptrs, n);
  return {m.correct[size_t(n - 1)], std::max<int64_t>(1, m.total[size_t(n - 1)])};
}

int64_t nltk_closest_ref_length(const std::vector<Tokens>& references, int64_t hyp_len) {
  std::vector<int64_t> lens;
  for (const auto& r : references) lens.push_back(int64_t(r.size()));
  GF_CHECK(!lens.empty(), "closest reference length: no references");
  return detail::closest_length(hyp_len, lens);
}

double nltk_brevity_penalty(int64_t closest_ref_len, int64_t hyp_len) {
  if (hyp_len > closest_ref_len) return 1.0;
  if (hyp_len == 0) return 0.0;
  return std::exp(1.0 - double(closest_ref_len) / double(hyp_len));
}

double nltk_corpus_bleu(const std::vector<std::vector<Tokens>>& list_of_references,
                        const std::vector<Tokens>& hypotheses, const NltkBleuOptions& o) {
  GF_CHECK(list_of_references.size() == hypotheses.size(), "The number of hypotheses (", hypotheses.size(),
           ") and their reference lists (", list_of_references.size(), ") should be the same");
  GF_CHECK(!o.weights.empty(), "BLEU weights are empty");
  const int orders = static_cast<int>(o.weights.size());
  const size_t n = hypotheses.size();
  GF_CHECK(n > 0, "there are no hypotheses");
  std::vector<const Tokens*> hyp_ptrs(n);
  std::vector<std::vector<const Tokens*>> ref_ptrs(n);
  for (size_t i = 0; i < n; ++i) {
    GF_CHECK(!list_of_references[i].empty(), "hypothesis ", i + 1, " has no references");
    hyp_ptrs[i] = &hypotheses[i];
    for (const auto& r : list_of_references[i]) ref_ptrs[i].push_back(&r);
  }
  const std::vector<MatchStats> stats = detail::match_corpus(hyp_ptrs, ref_ptrs, orders);
  std::vector<Precision> p(static_cast<size_t>(orders), Precision{0.0, 0, 0});
  int64_t hyp_lengths = 0, ref_lengths = 0;
  for (const auto& m : stats) {
    for (int k = 0; k < orders; ++k) {
      p[size_t(k)].numerator += m.correct[size_t(k)];
      p[size_t(k)].denominator += std::max<int64_t>(1, m.total[size_t(k)]);
    }
    hyp_lengths += m.hyp_len;
    ref_lengths += m.ref_len;
  }
  const double bp = nltk_brevity_penalty(ref_lengths, hyp_lengths);
  if (p[0].numerator == 0) return 0.0;
  for (auto& pi : p) pi.value = double(pi.numerator) / double(pi.denominator);
  const auto values = smoothed(p, o, hyp_lengths, list_of_references.back(), hypotheses.back());
  std::vector<double> weights = o.weights;
  if (o.auto_reweigh && hyp_lengths < 4 && weights == std::vector<double>{0.25, 0.25, 0.25, 0.25})
    weights.assign(size_t(hyp_lengths), 1.0 / double(hyp_lengths));
  std::vector<double> terms;
  for (size_t i = 0; i < std::min(weights.size(), values.size()); ++i)
    if (values[i] > 0) terms.push_back(weights[i] * std::log(values[i]));
  return bp * std::exp(detail::exact_sum(terms));
}

double nltk_sentence_bleu(const std::vector<Tokens>& references, const Tokens& hypothesis,
                          const NltkBleuOptions& options) {
  return nltk_corpus_bleu({references}, {hypothesis}, options);
}

Perplexity perplexity(const std::vector<double>& token_log_likelihoods, int64_t characters) {
  GF_CHECK_AS(InvalidArgument, !token_log_likelihoods.empty(), "score at least one token",
              "perplexity of an empty text");
  GF_CHECK(characters >= 0, "character count must be >= 0, got ", characters);
  Perplexity p;
  p.tokens = int64_t(token_log_likelihoods.size());
  double total = 0;
  for (double l : token_log_likelihoods) {
    GF_CHECK_AS(DataError, std::isfinite(l), "check the model's scores", "a token log-likelihood is ", l);
    total -= l;
  }
  p.nats_per_token = total / double(p.tokens);
  p.perplexity = std::exp(p.nats_per_token);
  p.bits_per_token = p.nats_per_token / std::log(2.0);
  p.bits_per_character = characters > 0 ? total / std::log(2.0) / double(characters) : 0.0;
  return p;
}

}  // namespace gf::eval
