// Tokenizers of the language models: characters and byte-level BPE (merges, exact round trips, the stored form).
#include <gtest/gtest.h>

#include "genforge/core/error.h"
#include "genforge/data/tokenizers.h"

namespace gf {
namespace {

TEST(Tokenizers, CharactersAreTheSortedBytesOfTheText) {
  auto t = train_char_tokenizer("hello world\n");
  EXPECT_EQ(t->size(), 9);  // '\n', ' ', d, e, h, l, o, r, w
  EXPECT_EQ(t->encode("hello"), (std::vector<int64_t>{4, 3, 5, 5, 6}));
  EXPECT_EQ(t->decode(t->encode("world hello\n")), "world hello\n");
  EXPECT_EQ(t->newline_id(), 0);
  try {
    t->encode("help", "the prompt");
    FAIL() << "encoded a character outside the vocabulary";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "character 'p' (byte 112) at offset 3 of the prompt is not in the model's vocabulary of 9 characters");
  }
}

TEST(Tokenizers, BytePairEncodingLearnsTheMostFrequentPairsFirstAndRoundTrips) {
  // "ab" is the most frequent pair inside words, then "abab" pieces join further.
  std::string text;
  for (int i = 0; i < 50; ++i) text += "abab abx cd\n";
  auto t = train_bpe_tokenizer(text, 260);
  ASSERT_EQ(t->size(), 260);
  auto j = t->to_json();
  ASSERT_EQ(j["merges"].size(), 4u);
  EXPECT_EQ(j["merges"][0], nlohmann::json::array({'a', 'b'}));  // 150 occurrences
  EXPECT_EQ(t->decode({256}), "ab");
  // Pieces: no merge crosses a space or a line break except a word's own leading space.
  for (int64_t id = 256; id < t->size(); ++id) {
    const std::string s = t->decode({id});
    EXPECT_EQ(s.find('\n'), std::string::npos) << s;
    EXPECT_EQ(s.find(' ', 1), std::string::npos) << s;
  }
  // Any text round-trips, unseen bytes, runs of spaces and UTF-8 included, and BPE needs fewer tokens.
  const std::string other = "abab  cd\n\n  x\xc3\xa9 zz\tab ";
  EXPECT_EQ(t->decode(t->encode(other)), other);
  EXPECT_LT(t->encode(text).size(), text.size());
  // The stored form gives the same tokenizer.
  auto again = tokenizer_from_json(j);
  EXPECT_EQ(again->encode(other), t->encode(other));
  EXPECT_EQ(t->newline_id(), '\n');
  EXPECT_THROW(train_bpe_tokenizer(text, 100), InvalidArgument);
  EXPECT_THROW(tokenizer_from_json({{"kind", "bpe"}, {"merges", {{999, 1}}}}), ModelFileError);
  EXPECT_THROW(tokenizer_from_json({{"kind", "wordpiece"}}), ModelFileError);
}

TEST(Tokenizers, UnigramLanguageModelKeepsTheLikelyPiecesAndRoundTrips) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the cat and the dog and the bird sat on the mat\n";
  auto t = train_unigram_tokenizer(text, 270);
  EXPECT_EQ(t->size(), 270);
  // Frequent words are single tokens.
  EXPECT_EQ(t->encode(" the").size(), 1u);
  EXPECT_EQ(t->encode("the cat and the dog\n").size(), 6u);  // the, ' cat', ' and', ' the', ' dog', '\n'
  const std::string other = "a cow\n\n  on\xc3\xa9 the  mat\t";
  EXPECT_EQ(t->decode(t->encode(other)), other);
  auto again = tokenizer_from_json(t->to_json());
  EXPECT_EQ(again->encode(other), t->encode(other));
  EXPECT_EQ(again->kind(), "unigram");
  EXPECT_THROW(train_unigram_tokenizer(text, 10), InvalidArgument);
}

}  // namespace
}  // namespace gf
