// The Porter stemmer as nltk 3.8's nltk.stem.porter.PorterStemmer, in its three modes. rouge-score and nltk's METEOR
// both use the default NLTK_EXTENSIONS mode, so the stems must agree with it letter for letter, including nltk's
// irregular forms (looked up on the word as given, before lowercasing, as nltk does). Works on code points so that
// lengths and the consonant test see what Python sees.
#include <array>
#include <functional>
#include <string>
#include <unordered_map>

#include "core/unicode.h"
#include "genforge/core/error.h"
#include "genforge/eval/text.h"

namespace gf::eval {

namespace {

using Word = std::u32string;

class Stemmer {
 public:
  explicit Stemmer(PorterMode mode) : mode_(mode) {}

  Word stem(Word w) const {
    if (mode_ != PorterMode::original && w.size() <= 2) return w;
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    return step5b(w);
  }

 private:
  using Condition = std::function<bool(const Word&)>;
  struct Rule {
    const char* suffix;  // "*d" = any double consonant
    Word replacement;
    Condition condition;  // empty = always
  };

  PorterMode mode_;
  bool nltk() const { return mode_ == PorterMode::nltk; }

  static bool is_vowel_letter(char32_t c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

  // y is a consonant at the start of a word or after a vowel (the paper's self-referential definition).
  static bool consonant(const Word& w, size_t i) {
    if (is_vowel_letter(w[i])) return false;
    if (w[i] == 'y') return i == 0 || !consonant(w, i - 1);
    return true;
  }

  static int measure(const Word& stem) {
    int m = 0;
    bool prev_vowel = false;
    for (size_t i = 0; i < stem.size(); ++i) {
      const bool c = consonant(stem, i);
      if (c && prev_vowel) ++m;
      prev_vowel = !c;
    }
    return m;
  }
  static bool positive_measure(const Word& stem) { return measure(stem) > 0; }
  static bool contains_vowel(const Word& stem) {
    for (size_t i = 0; i < stem.size(); ++i)
      if (!consonant(stem, i)) return true;
    return false;
  }
  static bool ends_double_consonant(const Word& w) {
    return w.size() >= 2 && w[w.size() - 1] == w[w.size() - 2] && consonant(w, w.size() - 1);
  }
  bool ends_cvc(const Word& w) const {
    const size_t n = w.size();
    if (n >= 3 && consonant(w, n - 3) && !consonant(w, n - 2) && consonant(w, n - 1) && w[n - 1] != 'w' &&
        w[n - 1] != 'x' && w[n - 1] != 'y')
      return true;
    return nltk() && n == 2 && !consonant(w, 0) && consonant(w, 1);
  }

  static bool ends_with(const Word& w, const char* suffix) {
    const size_t n = std::char_traits<char>::length(suffix);
    if (n > w.size()) return false;
    for (size_t i = 0; i < n; ++i)
      if (w[w.size() - n + i] != char32_t(static_cast<unsigned char>(suffix[i]))) return false;
    return true;
  }
  static Word cut(const Word& w, size_t n) { return w.substr(0, w.size() - n); }
  static Word ascii(const char* s) { return Word(s, s + std::char_traits<char>::length(s)); }

  // The first rule whose suffix matches decides: its replacement if the condition holds, else the word unchanged.
  static Word apply(const Word& w, const std::vector<Rule>& rules) {
    for (const auto& r : rules) {
      const std::string suffix = r.suffix;
      if (suffix == "*d" && ends_double_consonant(w)) {
        Word stem = cut(w, 2);
        return (!r.condition || r.condition(stem)) ? stem + r.replacement : w;
      }
      if (ends_with(w, r.suffix)) {
        Word stem = cut(w, suffix.size());
        return (!r.condition || r.condition(stem)) ? stem + r.replacement : w;
      }
    }
    return w;
  }

  Word step1a(const Word& w) const {
    if (nltk() && ends_with(w, "ies") && w.size() == 4) return cut(w, 3) + U"ie";
    return apply(w, {{"sses", U"ss", {}}, {"ies", U"i", {}}, {"ss", U"ss", {}}, {"s", U"", {}}});
  }

  Word step1b(const Word& w) const {
    if (nltk() && ends_with(w, "ied")) return cut(w, 3) + (w.size() == 4 ? U"ie" : U"i");
    if (ends_with(w, "eed")) {
      Word stem = cut(w, 3);
      return measure(stem) > 0 ? stem + U"ee" : w;
    }
    Word stem;
    bool stripped = false;
    for (const char* suffix : {"ed", "ing"}) {
      if (ends_with(w, suffix)) {
        stem = cut(w, std::char_traits<char>::length(suffix));
        if (contains_vowel(stem)) {
          stripped = true;
          break;
        }
      }
    }
    if (!stripped) return w;
    const char32_t last = stem.back();
    return apply(stem, {{"at", U"ate", {}},
                        {"bl", U"ble", {}},
                        {"iz", U"ize", {}},
                        {"*d", Word(1, last), [last](const Word&) { return last != 'l' && last != 's' && last != 'z'; }},
                        {"", U"e", [this](const Word& s) { return measure(s) == 1 && ends_cvc(s); }}});
  }

  Word step1c(const Word& w) const {
    Condition c = nltk() ? Condition([](const Word& s) { return s.size() > 1 && consonant(s, s.size() - 1); })
                         : Condition(contains_vowel);
    return apply(w, {{"y", U"i", c}});
  }

  Word step2(const Word& w) const {
    if (nltk() && ends_with(w, "alli") && positive_measure(cut(w, 4))) return step2(cut(w, 4) + U"al");
    std::vector<Rule> rules = {
        {"ational", U"ate", positive_measure}, {"tional", U"tion", positive_measure},
        {"enci", U"ence", positive_measure},   {"anci", U"ance", positive_measure},
        {"izer", U"ize", positive_measure},
        mode_ == PorterMode::original ? Rule{"abli", U"able", positive_measure} : Rule{"bli", U"ble", positive_measure},
        {"alli", U"al", positive_measure},     {"entli", U"ent", positive_measure},
        {"eli", U"e", positive_measure},       {"ousli", U"ous", positive_measure},
        {"ization", U"ize", positive_measure}, {"ation", U"ate", positive_measure},
        {"ator", U"ate", positive_measure},    {"alism", U"al", positive_measure},
        {"iveness", U"ive", positive_measure}, {"fulness", U"ful", positive_measure},
        {"ousness", U"ous", positive_measure}, {"aliti", U"al", positive_measure},
        {"iviti", U"ive", positive_measure},   {"biliti", U"ble", positive_measure}};
    if (nltk()) {
      rules.push_back({"fulli", U"ful", positive_measure});
      // nltk tests the word minus three letters here, not the stem minus "logi".
      rules.push_back({"logi", U"log", [w](const Word&) { return positive_measure(cut(w, 3)); }});
    } else if (mode_ == PorterMode::martin) {
      rules.push_back({"logi", U"log", positive_measure});
    }
    return apply(w, rules);
  }

  Word step3(const Word& w) const {
    return apply(w, {{"icate", U"ic", positive_measure},
                     {"ative", U"", positive_measure},
                     {"alize", U"al", positive_measure},
                     {"iciti", U"ic", positive_measure},
                     {"ical", U"ic", positive_measure},
                     {"ful", U"", positive_measure},
                     {"ness", U"", positive_measure}});
  }

  Word step4(const Word& w) const {
    const Condition gt1 = [](const Word& s) { return measure(s) > 1; };
    return apply(w, {{"al", U"", gt1},
                     {"ance", U"", gt1},
                     {"ence", U"", gt1},
                     {"er", U"", gt1},
                     {"ic", U"", gt1},
                     {"able", U"", gt1},
                     {"ible", U"", gt1},
                     {"ant", U"", gt1},
                     {"ement", U"", gt1},
                     {"ment", U"", gt1},
                     {"ent", U"", gt1},
                     {"ion", U"", [](const Word& s) { return measure(s) > 1 && !s.empty() && (s.back() == 's' || s.back() == 't'); }},
                     {"ou", U"", gt1},
                     {"ism", U"", gt1},
                     {"ate", U"", gt1},
                     {"iti", U"", gt1},
                     {"ous", U"", gt1},
                     {"ive", U"", gt1},
                     {"ize", U"", gt1}});
  }

  Word step5a(const Word& w) const {
    if (ends_with(w, "e")) {
      Word stem = cut(w, 1);
      const int m = measure(stem);
      if (m > 1 || (m == 1 && !ends_cvc(stem))) return stem;
    }
    return w;
  }

  Word step5b(const Word& w) const {
    return apply(w, {{"ll", U"l", [w](const Word&) { return measure(cut(w, 1)) > 1; }}});
  }
};

const std::unordered_map<std::string, std::string>& irregular_forms() {
  static const auto* forms = new std::unordered_map<std::string, std::string>{
      {"sky", "sky"},         {"skies", "sky"},        {"dying", "die"},       {"lying", "lie"},
      {"tying", "tie"},       {"news", "news"},        {"innings", "inning"},  {"inning", "inning"},
      {"outings", "outing"},  {"outing", "outing"},    {"cannings", "canning"}, {"canning", "canning"},
      {"howe", "howe"},       {"proceed", "proceed"},  {"exceed", "exceed"},   {"succeed", "succeed"}};
  return *forms;
}

}  // namespace

PorterMode parse_porter_mode(const std::string& name) {
  if (name == "nltk") return PorterMode::nltk;
  if (name == "martin") return PorterMode::martin;
  if (name == "original") return PorterMode::original;
  GF_CHECK_AS(InvalidArgument, false, "choose nltk, martin or original", "unknown Porter stemmer mode '", name, "'");
  return PorterMode::nltk;
}

std::string porter_stem(std::string_view word, PorterMode mode) {
  const std::string lowered = unicode::lower(word);
  if (mode == PorterMode::nltk) {
    const auto& forms = irregular_forms();
    if (auto it = forms.find(std::string(word)); it != forms.end()) return it->second;
  }
  return unicode::encode(Stemmer(mode).stem(unicode::decode(lowered)));
}

}  // namespace gf::eval
