// Tokenizers of the language models: characters, byte-level BPE and unigram (merges, exact round trips, the stored
// form), and SentencePiece's BPE and unigram models against Debian's python3-sentencepiece
// (tests/reference/make_sentencepiece_golden.py).
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "genforge/core/error.h"
#include "genforge/data/text.h"
#include "genforge/data/tokenizers.h"
#include "support/support.h"

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

TEST(Tokenizers, WordsKeepTheMostFrequentAndMapTheRestToUnk) {
  auto t = train_word_tokenizer("the cat sat\nthe  dog sat\nthe end\n", 5);
  ASSERT_EQ(t->size(), 5);  // the, sat, cat, <unk>, line break (ties broken alphabetically: cat before dog, end)
  EXPECT_EQ(t->encode("the cat\tsat\n"), (std::vector<int64_t>{0, 2, 1, 4}));
  EXPECT_EQ(t->encode("the bird"), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(t->decode({0, 2, 4, 3, 1, 4}), "the cat\n<unk> sat\n");
  EXPECT_EQ(t->newline_id(), 4);
  auto again = tokenizer_from_json(t->to_json());
  EXPECT_EQ(again->kind(), "word");
  EXPECT_EQ(again->encode("sat the dog\n"), t->encode("sat the dog\n"));
  EXPECT_THROW(train_word_tokenizer("a b\n", 2), InvalidArgument);
  EXPECT_THROW(train_word_tokenizer(" \n\n", 10), DataError);
  // A continuation of words starts with the space that joins it to the prompt ("the cat" + " sat", not "catsat");
  // after a line break, with none; byte-level tokens continue exactly.
  EXPECT_EQ(decode_continuation(*t, t->encode("the cat"), t->encode("sat the")), " sat the");
  EXPECT_EQ(decode_continuation(*t, t->encode("the cat\n"), t->encode("sat")), "sat");
  EXPECT_EQ(decode_continuation(*t, {}, t->encode("sat")), "sat");
  auto bytes = train_bpe_tokenizer("the cat sat\nthe dog sat\n", 260);
  EXPECT_EQ(decode_continuation(*bytes, bytes->encode("the ca"), bytes->encode("t sat")), "t sat");
}

TEST(Tokenizers, DocumentWordsLowerUnicodeAsPythonAndKeepOtherBytesApart) {
  // UTF-8: Python's "Über ÜBER\u00a0Straße ΣΟΦΟΣ".lower().split() (no-break space, final sigma).
  EXPECT_EQ(document_words("\xc3\x9c" "ber \xc3\x9c" "BER\xc2\xa0Stra\xc3\x9f" "e \xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3"),
            (std::vector<std::string>{"\xc3\xbc" "ber", "\xc3\xbc" "ber", "stra\xc3\x9f" "e",
                                      "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82"}));
  // Latin-1 bytes (not UTF-8): ASCII spaces and A-Z only; é (0xe9) and É (0xc9) stay two words.
  EXPECT_EQ(document_words("Caf\xe9 CAF\xc9\tTea"), (std::vector<std::string>{"caf\xe9", "caf\xc9", "tea"}));
  EXPECT_EQ(document_words("  The CAT  sat \r"), (std::vector<std::string>{"the", "cat", "sat"}));
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

// Merges by recounting every pair after each merge (ties: the smaller pair), on pieces as the tokenizer cuts them.
std::vector<std::pair<int64_t, int64_t>> naive_bpe_merges(const std::vector<std::string>& pieces, int64_t merges) {
  std::vector<std::vector<int64_t>> words;
  for (const auto& p : pieces) {
    words.emplace_back();
    for (unsigned char c : p) words.back().push_back(c);
  }
  std::vector<std::pair<int64_t, int64_t>> out;
  while (static_cast<int64_t>(out.size()) < merges) {
    std::map<std::pair<int64_t, int64_t>, int64_t> counts;
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.size(); ++i) counts[{w[i], w[i + 1]}] += 1;
    if (counts.empty()) break;
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it)
      if (it->second > best->second) best = it;
    out.push_back(best->first);
    for (auto& w : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == best->first.first && w[i + 1] == best->first.second) {
          w[i] = 255 + static_cast<int64_t>(out.size());
          w.erase(w.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        }
      }
    }
  }
  return out;
}

TEST(Tokenizers, BpeTrainingEqualsRecountingAfterEveryMerge) {
  // Words over a 4-letter alphabet (many ties, repeated letters as in "aaaa"), one per piece with a leading space.
  uint64_t state = 12345;
  auto next = [&] { return (state = state * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  std::string text;
  std::vector<std::string> pieces;
  for (int w = 0; w < 400; ++w) {
    std::string word = " ";
    for (uint64_t n = 1 + next() % 7, i = 0; i < n; ++i) word += static_cast<char>('a' + next() % 4);
    text += word;
    pieces.push_back(word);
  }
  auto t = train_bpe_tokenizer(text, 256 + 120);
  const auto merges = t->to_json()["merges"].get<std::vector<std::pair<int64_t, int64_t>>>();
  ASSERT_EQ(merges.size(), 120u);
  EXPECT_EQ(merges, naive_bpe_merges(pieces, 120));
  EXPECT_EQ(t->decode(t->encode(text)), text);
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

// Sanitizer builds cannot open the SentencePiece module (docs/models/gpt.md); every other build must.
bool sentencepiece_unavailable_here() {
  std::string why;
  return !sentencepiece_available(&why) && why.find("sanitizer") != std::string::npos;
}

void expect_same_as_python_sentencepiece(const std::string& model_type) {
  const auto g = test::read_json(test::source_path("tests/reference/sentencepiece_golden.json"));
  SentencePieceOptions o;
  o.model_type = model_type;
  o.vocab_size = g["vocab_size"].get<int64_t>();
  o.threads = 1;
  auto t = train_sentencepiece_tokenizer(g["text"].get<std::string>(), o);
  ASSERT_EQ(t->kind(), "sentencepiece");
  ASSERT_EQ(t->size(), o.vocab_size);
  const auto pieces = g[model_type]["pieces"].get<std::vector<std::string>>();
  ASSERT_EQ(static_cast<int64_t>(pieces.size()), o.vocab_size - 1);
  for (size_t i = 0; i < pieces.size(); ++i) EXPECT_EQ(sentencepiece_piece(*t, static_cast<int64_t>(i)), pieces[i]) << i;
  EXPECT_EQ(t->newline_id(), o.vocab_size - 1);
  const auto held_out = g["held_out"].get<std::vector<std::string>>();
  const auto ids = g[model_type]["held_out_ids"].get<std::vector<std::vector<int64_t>>>();
  std::string two_lines;
  std::vector<int64_t> two_lines_ids;
  for (size_t i = 0; i < held_out.size(); ++i) {
    EXPECT_EQ(t->encode(held_out[i]), ids[i]) << held_out[i];
    EXPECT_EQ(t->decode(ids[i]), held_out[i]);
  }
  // Lines are encoded one at a time and joined by the line-break token.
  two_lines = held_out[0] + "\n" + held_out[1] + "\n";
  two_lines_ids = ids[0];
  two_lines_ids.push_back(t->newline_id());
  two_lines_ids.insert(two_lines_ids.end(), ids[1].begin(), ids[1].end());
  two_lines_ids.push_back(t->newline_id());
  EXPECT_EQ(t->encode(two_lines), two_lines_ids);
  // Any text round-trips: byte fallback for unseen characters, spaces and empty lines kept.
  const std::string other = "  Zo\xc3\xab's caf\xc3\xa9 \xe2\x82\xac" "12\n\n\tjury  said ~ \xf0\x9f\x99\x82\n";
  EXPECT_EQ(t->decode(t->encode(other)), other);
  auto again = tokenizer_from_json(nlohmann::json::parse(t->to_json().dump()));
  EXPECT_EQ(again->encode(other), t->encode(other));
  EXPECT_EQ(again->size(), t->size());
}

TEST(SentencePiece, BpeEqualsPythonSentencePiece) {
  if (sentencepiece_unavailable_here()) GTEST_SKIP();
  expect_same_as_python_sentencepiece("bpe");
}
TEST(SentencePiece, UnigramEqualsPythonSentencePiece) {
  if (sentencepiece_unavailable_here()) GTEST_SKIP();
  expect_same_as_python_sentencepiece("unigram");
}

TEST(SentencePiece, ReadsModelFilesAndReportsBadInput) {
  if (sentencepiece_unavailable_here()) GTEST_SKIP();
  const auto g = test::read_json(test::source_path("tests/reference/sentencepiece_golden.json"));
  auto t = make_tokenizer(test::source_path("tests/reference/sentencepiece_bpe.model"), "", 0);
  EXPECT_EQ(t->size(), g["vocab_size"].get<int64_t>());
  EXPECT_EQ(t->encode(g["held_out"][3].get<std::string>()), g["bpe"]["held_out_ids"][3].get<std::vector<int64_t>>());
  EXPECT_EQ(sentencepiece_piece(*t, 259), g["bpe"]["pieces"][259].get<std::string>());

  test::TempDir dir;
  std::ofstream(dir.file("bad.model")) << "not a model";
  EXPECT_THROW(load_sentencepiece_tokenizer(dir.file("bad.model")), ModelFileError);
  EXPECT_THROW(load_sentencepiece_tokenizer(dir.file("missing.model")), DataError);
  SentencePieceOptions o;
  o.vocab_size = 100;
  EXPECT_THROW(train_sentencepiece_tokenizer("some text\n", o), InvalidArgument);
  o.vocab_size = 400;
  EXPECT_THROW(train_sentencepiece_tokenizer("\n\n", o), DataError);
  o.model_type = "word";
  EXPECT_THROW(train_sentencepiece_tokenizer("some text\n", o), InvalidArgument);
  // BPE cannot make 999 pieces out of a dozen words: SentencePiece's reason is passed on.
  o.model_type = "bpe";
  o.vocab_size = 1000;
  try {
    train_sentencepiece_tokenizer("the cat sat on the mat\n", o);
    FAIL() << "trained an impossible vocabulary";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("SentencePiece training failed"), std::string::npos) << e.what();
  }
  auto damaged = t->to_json();
  damaged["model"] = "abc";
  EXPECT_THROW(tokenizer_from_json(damaged), ModelFileError);
  EXPECT_THROW(make_tokenizer("wordpiece", "text", 300), InvalidArgument);
}

}  // namespace
}  // namespace gf
