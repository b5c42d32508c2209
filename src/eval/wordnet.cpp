#include "genforge/eval/wordnet.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/unicode.h"
#include "genforge/core/error.h"

namespace gf::eval {

namespace {

constexpr std::array<char, 4> kPos = {'n', 'v', 'a', 'r'};  // nltk's POS_LIST order
constexpr std::array<const char*, 4> kFile = {"noun", "verb", "adj", "adv"};

int pos_slot(char pos) {
  for (int i = 0; i < 4; ++i)
    if (kPos[size_t(i)] == pos) return i;
  throw InvalidArgument(msg("unknown WordNet part of speech '", pos, "'"), "use n, v, a or r");
}

struct Substitution {
  const char* old_suffix;
  const char* new_suffix;
};

// nltk's MORPHOLOGICAL_SUBSTITUTIONS, in its order.
const std::vector<Substitution>& substitutions(char pos) {
  static const std::vector<Substitution> noun = {{"s", ""},     {"ses", "s"},   {"ves", "f"},
                                                 {"xes", "x"},  {"zes", "z"},   {"ches", "ch"},
                                                 {"shes", "sh"}, {"men", "man"}, {"ies", "y"}};
  static const std::vector<Substitution> verb = {{"s", ""},  {"ies", "y"}, {"es", "e"},  {"es", ""},
                                                 {"ed", "e"}, {"ed", ""},   {"ing", "e"}, {"ing", ""}};
  static const std::vector<Substitution> adj = {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}};
  static const std::vector<Substitution> adv = {};
  switch (pos) {
    case 'n': return noun;
    case 'v': return verb;
    case 'a': return adj;
    default: return adv;
  }
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::ifstream open_or_throw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw DataError(msg("cannot read WordNet file ", path),
                    "install Debian's wordnet-base (make setup does) or set GENFORGE_WORDNET_DIR");
  return in;
}

}  // namespace

struct WordNet::Impl {
  std::string dir;
  // lemma -> synset offsets per part of speech (n, v, a, r)
  std::unordered_map<std::string, std::array<std::vector<int64_t>, 4>> index;
  std::array<std::unordered_map<std::string, std::vector<std::string>>, 4> exceptions;

  bool has(const std::string& form, int slot) const {
    auto it = index.find(form);
    return it != index.end() && !it->second[size_t(slot)].empty();
  }

  void load_index(int slot) {
    const std::string path = dir + "/index." + kFile[size_t(slot)];
    auto in = open_or_throw(path);
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == ' ') continue;  // licence header
      std::istringstream fields(line);
      std::string lemma, pos, token;
      int64_t n_synsets = 0, n_pointers = 0, n_senses = 0;
      bool ok = bool(fields >> lemma >> pos >> n_synsets >> n_pointers) && n_synsets > 0;
      for (int64_t p = 0; ok && p < n_pointers; ++p) ok = bool(fields >> token);
      ok = ok && bool(fields >> n_senses >> token) && n_senses == n_synsets;
      std::vector<int64_t> offsets(size_t(std::max<int64_t>(n_synsets, 0)));
      for (auto& o : offsets) ok = ok && bool(fields >> o);
      if (!ok) throw DataError(msg("malformed WordNet index line ", line_no, " in ", path), "reinstall wordnet-base");
      index[lemma][size_t(slot)] = std::move(offsets);
    }
  }

  void load_exceptions(int slot) {
    const std::string path = dir + "/" + kFile[size_t(slot)] + ".exc";
    auto in = open_or_throw(path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string inflected, base;
      if (!(fields >> inflected)) continue;
      auto& bases = exceptions[size_t(slot)][inflected];
      bases.clear();  // a later line for the same form replaces the earlier one, as a Python dict assignment
      while (fields >> base) bases.push_back(base);
    }
  }

  // data.<pos> read whole on first use (28 MB for all four): synset lookups are then string parsing, safe to share
  // between threads.
  mutable std::array<std::once_flag, 4> data_once;
  mutable std::array<std::string, 4> data;

  const std::string& data_file(int slot) const {
    std::call_once(data_once[size_t(slot)], [&] {
      const std::string path = dir + "/data." + kFile[size_t(slot)];
      auto in = open_or_throw(path);
      std::ostringstream buffer;
      buffer << in.rdbuf();
      data[size_t(slot)] = buffer.str();
    });
    return data[size_t(slot)];
  }

  // Lemma names of the synset at `offset` in data.<pos>.
  std::vector<std::string> lemmas(int slot, int64_t offset) const {
    const std::string& text = data_file(slot);
    bool ok = offset >= 0 && size_t(offset) < text.size();
    std::vector<std::string> names;
    if (ok) {
      const size_t end = text.find_first_of("|\n", size_t(offset));
      std::istringstream fields(text.substr(size_t(offset), (end == std::string::npos ? text.size() : end) - size_t(offset)));
      int64_t line_offset = -1;
      std::string lexname, ss_type, count_hex;
      ok = bool(fields >> line_offset >> lexname >> ss_type >> count_hex) && line_offset == offset;
      const long count = ok ? std::strtol(count_hex.c_str(), nullptr, 16) : 0;
      for (long k = 0; ok && k < count; ++k) {
        std::string name, lex_id;
        ok = bool(fields >> name >> lex_id);
        // Adjective markers such as "(a)", "(p)", "(ip)" end some names; nltk strips a final parenthesised group.
        if (ok && !name.empty() && name.back() == ')') {
          const size_t open = name.find('(');
          if (open != std::string::npos) name.resize(open);
        }
        names.push_back(name);
      }
    }
    if (!ok)
      throw DataError(msg("WordNet data.", kFile[size_t(slot)], " has no synset at offset ", offset),
                      "the index and data files are from different WordNet versions; reinstall wordnet-base");
    return names;
  }
};

WordNet::WordNet(const std::string& dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = dir;
  for (int slot = 0; slot < 4; ++slot) {
    impl_->load_index(slot);
    impl_->load_exceptions(slot);
  }
}

WordNet::~WordNet() = default;

std::string WordNet::default_dir() {
  const char* env = std::getenv("GENFORGE_WORDNET_DIR");
  return env && *env ? env : "/usr/share/wordnet";
}

const WordNet& WordNet::system() {
  static const WordNet* shared = new WordNet(default_dir());
  return *shared;
}

int64_t WordNet::index_size() const {
  int64_t n = 0;
  for (const auto& kv : impl_->index)
    for (const auto& offsets : kv.second) n += offsets.empty() ? 0 : 1;
  return n;
}

std::vector<std::string> WordNet::morphy(std::string_view form_view, char pos) const {
  const int slot = pos_slot(pos);
  const std::string form(form_view);
  auto filter = [&](const std::vector<std::string>& forms) {
    std::vector<std::string> out;
    for (const auto& f : forms)
      if (impl_->has(f, slot) && std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    return out;
  };
  const auto& exc = impl_->exceptions[size_t(slot)];
  if (auto it = exc.find(form); it != exc.end()) {
    std::vector<std::string> forms = {form};
    forms.insert(forms.end(), it->second.begin(), it->second.end());
    return filter(forms);
  }
  const auto& subs = substitutions(pos);
  auto apply_rules = [&](const std::vector<std::string>& forms) {
    // nltk keeps duplicates here; dropping them changes no result (filter deduplicates) and bounds the work.
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    for (const auto& f : forms)
      for (const auto& s : subs)
        if (ends_with(f, s.old_suffix)) {
          std::string g = f.substr(0, f.size() - std::char_traits<char>::length(s.old_suffix)) + s.new_suffix;
          if (seen.insert(g).second) out.push_back(std::move(g));
        }
    return out;
  };
  std::vector<std::string> forms = apply_rules({form});
  std::vector<std::string> first = {form};
  first.insert(first.end(), forms.begin(), forms.end());
  if (auto results = filter(first); !results.empty()) return results;
  while (!forms.empty()) {
    forms = apply_rules(forms);
    if (auto results = filter(forms); !results.empty()) return results;
  }
  return {};
}

std::vector<WordNet::Synset> WordNet::synsets(std::string_view word) const {
  const std::string lowered = unicode::lower(word);
  std::vector<Synset> out;
  for (int slot = 0; slot < 4; ++slot) {
    const char pos = kPos[size_t(slot)];
    for (const auto& form : morphy(lowered, pos)) {
      for (int64_t offset : impl_->index.at(form)[size_t(slot)]) {
        Synset s;
        s.pos = pos;
        s.offset = offset;
        s.lemmas = impl_->lemmas(slot, offset);
        out.push_back(std::move(s));
      }
    }
  }
  return out;
}

}  // namespace gf::eval
