// METEOR as nltk 3.8's nltk.translate.meteor_score: words lowercased; exact matches, then Porter-stem matches of
// what is left, then WordNet-synonym matches of what is left (each stage walks hypothesis and reference from the
// end and takes the last reference word that matches, as nltk does); the stem stage replaces the remaining words by
// their stems, so the synonym stage looks up stems, exactly like nltk. Score = (1 - gamma * (chunks/m)^beta) * Fmean
// with Fmean = P R / (alpha P + (1 - alpha) R); the best reference counts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <exception>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <string>
#include <unordered_set>
#include <utility>

#include "core/unicode.h"
#include "genforge/core/error.h"
#include "genforge/eval/text.h"
#include "genforge/eval/wordnet.h"

namespace gf::eval {

namespace {

struct Enumerated {
  int64_t index;
  std::string word;
};
using Enum = std::vector<Enumerated>;
using Matches = std::vector<std::pair<int64_t, int64_t>>;  // (hypothesis index, reference index)

// nltk's _match_enums and _enum_wordnetsyn_match share this walk; `same` decides whether two words match.
template <class Same>
void match_stage(Enum& hyp, Enum& ref, Matches& matches, Same same) {
  for (int64_t i = int64_t(hyp.size()) - 1; i >= 0; --i) {
    auto accepts = same(hyp[size_t(i)].word);
    for (int64_t j = int64_t(ref.size()) - 1; j >= 0; --j) {
      if (accepts(ref[size_t(j)].word)) {
        matches.emplace_back(hyp[size_t(i)].index, ref[size_t(j)].index);
        hyp.erase(hyp.begin() + i);
        ref.erase(ref.begin() + j);
        break;
      }
    }
  }
}

int64_t count_chunks(const Matches& m) {
  int64_t chunks = 1;
  for (size_t i = 0; i + 1 < m.size(); ++i)
    if (!(m[i + 1].first == m[i].first + 1 && m[i + 1].second == m[i].second + 1)) ++chunks;
  return chunks;
}

// WordNet synonyms (lemma names without '_') of each word asked for, shared by the segments of a corpus.
class SynonymCache {
 public:
  explicit SynonymCache(const WordNet& wordnet) : wordnet_(wordnet) {}
  std::shared_ptr<const std::unordered_set<std::string>> get(const std::string& word) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = cache_.find(word); it != cache_.end()) return it->second;
    }
    auto synonyms = std::make_shared<std::unordered_set<std::string>>();
    for (const auto& synset : wordnet_.synsets(word))
      for (const auto& name : synset.lemmas)
        if (name.find('_') == std::string::npos) synonyms->insert(name);
    synonyms->insert(word);
    std::lock_guard<std::mutex> lock(mutex_);
    return cache_.emplace(word, std::move(synonyms)).first->second;
  }

 private:
  const WordNet& wordnet_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const std::unordered_set<std::string>>> cache_;
};

Enum enumerate_lowered(const Tokens& words, bool lowercase) {
  Enum out;
  out.reserve(words.size());
  for (size_t i = 0; i < words.size(); ++i) out.push_back({int64_t(i), lowercase ? unicode::lower(words[i]) : words[i]});
  return out;
}

double score_segment(const Tokens& reference, const Tokens& hypothesis, const MeteorOptions& options,
                     SynonymCache& synonyms) {
  Enum hyp = enumerate_lowered(hypothesis, options.lowercase);
  Enum ref = enumerate_lowered(reference, options.lowercase);
  const double hyp_len = double(hyp.size()), ref_len = double(ref.size());

  Matches matches;
  match_stage(hyp, ref, matches, [](const std::string& h) { return [&h](const std::string& r) { return r == h; }; });
  for (auto* list : {&hyp, &ref})
    for (auto& e : *list) e.word = porter_stem(e.word);
  match_stage(hyp, ref, matches, [](const std::string& h) { return [&h](const std::string& r) { return r == h; }; });
  match_stage(hyp, ref, matches, [&synonyms](const std::string& h) {
    auto of_h = synonyms.get(h);
    return [of_h](const std::string& r) { return of_h->count(r) > 0; };
  });
  std::sort(matches.begin(), matches.end());

  const double m = double(matches.size());
  if (hyp_len == 0 || ref_len == 0 || m == 0) return 0.0;  // nltk's ZeroDivisionError branch
  const double precision = m / hyp_len;
  const double recall = m / ref_len;
  const double denominator = options.alpha * precision + (1 - options.alpha) * recall;
  if (denominator == 0) return 0.0;
  const double fmean = precision * recall / denominator;
  const double fragmentation = double(count_chunks(matches)) / m;
  const double penalty = options.gamma * std::pow(fragmentation, options.beta);
  return (1 - penalty) * fmean;
}

double best_over_references(const std::vector<Tokens>& references, const Tokens& hypothesis,
                            const MeteorOptions& options, SynonymCache& synonyms) {
  GF_CHECK_AS(InvalidArgument, !references.empty(), "give at least one reference", "METEOR: no references");
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& r : references) best = std::max(best, score_segment(r, hypothesis, options, synonyms));
  return best;
}

const WordNet& wordnet_of(const MeteorOptions& options) {
  return options.wordnet ? *options.wordnet : WordNet::system();
}

}  // namespace

Tokens split_words(std::string_view text) { return unicode::split(text); }

double single_meteor_score(const Tokens& reference, const Tokens& hypothesis, const MeteorOptions& options) {
  SynonymCache synonyms(wordnet_of(options));
  return score_segment(reference, hypothesis, options, synonyms);
}

double meteor_score(const std::vector<Tokens>& references, const Tokens& hypothesis, const MeteorOptions& options) {
  SynonymCache synonyms(wordnet_of(options));
  return best_over_references(references, hypothesis, options, synonyms);
}

double corpus_meteor(const std::vector<std::vector<Tokens>>& list_of_references, const std::vector<Tokens>& hypotheses,
                     const MeteorOptions& options) {
  GF_CHECK_AS(InvalidArgument, !hypotheses.empty(), "give at least one hypothesis", "METEOR: no hypotheses");
  GF_CHECK(list_of_references.size() == hypotheses.size(), "METEOR: ", hypotheses.size(), " hypotheses but ",
           list_of_references.size(), " reference lists");
  SynonymCache synonyms(wordnet_of(options));
  const int64_t n = int64_t(hypotheses.size());
  std::vector<double> scores(static_cast<size_t>(n));
  std::exception_ptr failure;
  std::mutex failure_mutex;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    try {
      scores[size_t(i)] = best_over_references(list_of_references[size_t(i)], hypotheses[size_t(i)], options, synonyms);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  double sum = 0;  // in segment order, so the mean does not depend on the thread count
  for (double s : scores) sum += s;
  return sum / double(n);
}

}  // namespace gf::eval
