// A reader for the WordNet 3.0 database files (Debian's wordnet-base: index.*, data.*, *.exc under
// /usr/share/wordnet) that answers what METEOR asks: the synsets of a word after nltk's morphy, and their lemma
// names. Lookups follow nltk 3.8's WordNetCorpusReader.synsets(word) exactly: the word lowercased, parts of speech
// n, v, a, r in that order, exception lists first, then the detachment rules applied until some form is in the
// index. The data files are read whole on first use and synsets parsed at their byte offsets.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gf::eval {

class WordNet {
 public:
  // Reads the index and exception files of `dir` (a missing or malformed file is a DataError naming it).
  explicit WordNet(const std::string& dir);
  ~WordNet();
  WordNet(const WordNet&) = delete;
  WordNet& operator=(const WordNet&) = delete;

  // $GENFORGE_WORDNET_DIR, else /usr/share/wordnet.
  static std::string default_dir();
  // One shared reader of default_dir(), loaded on first use.
  static const WordNet& system();

  struct Synset {
    char pos = 'n';      // n, v, a, r (satellite adjectives are read through 'a', as nltk does)
    int64_t offset = 0;  // byte offset in data.<pos>
    std::vector<std::string> lemmas;  // lemma names as stored (case kept, '_' for spaces, adjective markers removed)
  };

  // nltk's _morphy(form, pos): the base forms of `form` that the index holds for that part of speech.
  std::vector<std::string> morphy(std::string_view form, char pos) const;
  // nltk's wordnet.synsets(word) with pos=None.
  std::vector<Synset> synsets(std::string_view word) const;
  // Number of (lemma, part of speech) entries in the index, for diagnostics.
  int64_t index_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gf::eval
