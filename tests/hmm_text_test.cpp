// An HMM on lines of text: each line a sequence of characters (or words), the classic unsupervised experiment
// (Cave & Neuwirth: two states split vowels from consonants), scored per line, sampled as text, and coding the same
// lines losslessly.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "genforge/apps/compress.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/pipeline.h"
#include "genforge/data/source.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

const std::string kVowels = "aeiou", kConsonants = "bcdfgklmnprst";

// 300 lines from a two-state chain: vowels after consonants mostly, consonants after vowels mostly.
std::string consonant_vowel_text() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::string text;
  for (int line = 0; line < 300; ++line) {
    bool vowel = u(rng) < 0.3;
    const int length = 10 + static_cast<int>(rng() % 20);
    for (int t = 0; t < length; ++t) {
      const std::string& from = vowel ? kVowels : kConsonants;
      text += from[rng() % from.size()];
      vowel = vowel ? u(rng) < 0.15 : u(rng) < 0.6;
    }
    text += line == 100 ? "\n\n" : "\n";  // one empty line: no sequence
  }
  return text;
}

TEST(Hmm, LinesOfTextAreSequencesOfCharactersAndTwoStatesSplitVowelsFromConsonants) {
  test::TempDir dir;
  const std::string text = consonant_vowel_text();
  test::write_text(dir.file("cv.txt"), text);
  const auto source = data::load_source(dir.file("cv.txt"), DataKind::sequences);
  EXPECT_EQ(source.form, DataKind::text);
  auto model = create_model("hmm", {}, {{"emission", "categorical"}, {"n_components", "2"}, {"max_iter", "200"}});
  fit_source(*model, source, test::quiet());
  const auto& p = pipeline_of(*model);
  EXPECT_EQ(p.options().sequence_column, "line");
  ASSERT_EQ(p.encoders().size(), 1u);
  EXPECT_EQ(p.encoders()[0].name, "symbol");
  EXPECT_EQ(p.encoders()[0].categories.size(), 18u);
  // Each state emits one class of letters.
  const auto emission = model->state().at("emissionprob");  // [2, 18]
  std::vector<double> vowel_mass(2, 0.0);
  for (size_t k = 0; k < p.encoders()[0].categories.size(); ++k) {
    if (kVowels.find(p.encoders()[0].categories[k]) == std::string::npos) continue;
    for (int s = 0; s < 2; ++s) vowel_mass[static_cast<size_t>(s)] += emission[s][static_cast<int64_t>(k)].item<double>();
  }
  EXPECT_GT(std::max(vowel_mass[0], vowel_mass[1]), 0.9);
  EXPECT_LT(std::min(vowel_mass[0], vowel_mass[1]), 0.1);
  // Scores per line, named by the line's number: the empty line 102 is no sequence.
  const auto scored = score_source(*model, source);
  ASSERT_EQ(scored.per_example.n_rows(), 300u);
  const Column& line = scored.per_example.column("line");
  EXPECT_EQ(line.categories[static_cast<size_t>(line.values[100])], "101");
  EXPECT_EQ(line.categories[static_cast<size_t>(line.values[101])], "103");
  // States per character, the character beside its state: vowels in one state, consonants in the other.
  const auto states = transform_source(*model, source).per_item;
  ASSERT_EQ(states.names(), (std::vector<std::string>{"item", "line", "symbol", "state", "p_state_0", "p_state_1"}));
  const Column& symbol = states.column("symbol");
  const Column& state = states.column("state");
  int vowel_state_agrees = 0, vowel_count = 0;
  const auto vowel_state = vowel_mass[0] > vowel_mass[1] ? 0.0 : 1.0;
  for (size_t i = 0; i < symbol.size(); ++i) {
    const bool v = kVowels.find(symbol.categories[static_cast<size_t>(symbol.values[i])]) != std::string::npos;
    vowel_count += v;
    vowel_state_agrees += v && state.values[i] == vowel_state;
  }
  EXPECT_GT(static_cast<double>(vowel_state_agrees) / vowel_count, 0.9);
  // Samples as text: consonant-vowel alternation, the letters of the training text.
  auto gen = make_generator(3);
  const std::string sampled = samples_text(*model, model->sample(400, gen));
  ASSERT_EQ(sampled.size(), 401u);
  EXPECT_EQ(sampled.back(), '\n');
  int vowel_after_vowel = 0, vowels = 0;
  for (size_t i = 0; i + 1 < 400; ++i) {
    const bool v = kVowels.find(sampled[i]) != std::string::npos;
    EXPECT_NE((kVowels + kConsonants).find(sampled[i]), std::string::npos) << sampled[i];
    vowels += v;
    vowel_after_vowel += v && kVowels.find(sampled[i + 1]) != std::string::npos;
  }
  EXPECT_LT(static_cast<double>(vowel_after_vowel) / vowels, 0.3);
  // The same model codes the lines losslessly (categories of one character each).
  apps::CompressOptions quiet;
  quiet.progress = false;
  const std::string packed = apps::compress_bytes(model.get(), "h", text, quiet);
  EXPECT_EQ(apps::decompress_bytes(model.get(), "h", packed, quiet), text);
  EXPECT_LT(packed.size(), text.size() * 6 / 10);  // about 4.5 of 8 bits per character
  // Category codes are symbols: Gaussian emissions are refused with the fix.
  auto gaussian = create_model("hmm", {}, {{"n_components", "2"}});
  test::expect_error_message([&] { fit_source(*gaussian, source, test::quiet()); },
                     "the data is category codes (column 'symbol', 18 categories), which gaussian emissions would read "
                     "as numbers");
  EXPECT_THROW(samples_text(*create_model("gmm"), torch::zeros({1, 1})), InvalidArgument);
}

TEST(Hmm, LinesOfWordsAreSequencesOfWords) {
  test::TempDir dir;
  test::write_text(dir.file("w.txt"), "the cat sat\r\nthe dog  sat\n   \nthe cat ran\n");
  const auto source = data::load_source(dir.file("w.txt"), DataKind::sequences);
  auto model = create_model("hmm", {}, {{"emission", "categorical"}, {"n_components", "2"}, {"symbols", "words"}});
  fit_source(*model, source, test::quiet());
  EXPECT_EQ(pipeline_of(*model).encoders()[0].categories,
            (std::vector<std::string>{"the", "cat", "sat", "dog", "ran"}));
  const Dataset d = prepare(*model, source);
  EXPECT_TRUE(torch::equal(d.lengths, torch::tensor({3, 3, 3}, torch::kLong))) << d.lengths;
  auto gen = make_generator(1);
  const std::string sampled = samples_text(*model, model->sample(5, gen));
  std::set<std::string> words;
  std::istringstream in(sampled);
  int n = 0;
  for (std::string w; in >> w; ++n) words.insert(w);
  EXPECT_EQ(n, 5) << sampled;
  for (const auto& w : words) EXPECT_TRUE(w == "the" || w == "cat" || w == "sat" || w == "dog" || w == "ran") << w;
  // A table file stays a table for sequence models.
  test::write_text(dir.file("t.csv"), "id,x\n1,0.5\n1,0.7\n");
  EXPECT_EQ(data::load_source(dir.file("t.csv"), DataKind::sequences).form, DataKind::table);
}

}  // namespace
}  // namespace gf
