// Table readers and writers: typing, quoting, missing values, and every data error naming file, line and column.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/data/matrix.h"
#include "genforge/data/npy.h"
#include "genforge/data/readers.h"
#include "support/support.h"

namespace gf {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Csv, ReadsQuotedFieldsMissingCellsAndInfersTypes) {
  test::TempDir dir;
  auto path = dir.file("t.csv");
  test::write_text(path,
                   "\xEF\xBB\xBFname,age,height,when,note\r\n"
                   "ann,31,1.62,2020-01-02,\"likes \"\"tea\"\", and cake\"\r\n"
                   "bob,NA,1.80,2021-06-30 12:30,\"two\nlines\"\n"
                   "cy,45,,2022-12-31T23:59:59Z,\n");
  Table t = read_csv(path);
  ASSERT_EQ(t.n_rows(), 3u);
  ASSERT_EQ(t.names(), (std::vector<std::string>{"name", "age", "height", "when", "note"}));
  EXPECT_EQ(t.column("name").type, ColumnType::categorical);
  EXPECT_EQ(t.column("age").type, ColumnType::integer);
  EXPECT_EQ(t.column("height").type, ColumnType::continuous);
  EXPECT_EQ(t.column("when").type, ColumnType::datetime);
  EXPECT_EQ(t.column("age").missing, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(t.column("height").missing, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(t.column("note").categories[0], "likes \"tea\", and cake");
  EXPECT_EQ(t.column("note").categories[1], "two\nlines");
  EXPECT_DOUBLE_EQ(t.column("when").values[0], 1577923200.0);  // 2020-01-02T00:00:00Z
  EXPECT_DOUBLE_EQ(t.column("when").values[1], 1625056200.0);  // 2021-06-30T12:30:00Z
  // Seconds that are not digits (the fuzzer's "nan", which strtod takes) or out of range make a cell text, not a
  // date: no NaN date reaches the writer (fuzz/regressions/csv/datetime_nan_seconds).
  for (const char* bad : {"2020-01-01T04:09:nan", "2020-01-01T04:09:inf", "2020-01-01T04:09:-1", "2020-01-01T04:09:75",
                          "2020-01-01T04:09:0x1p3", "2020-01-01T-4:09:00"}) {
    Table d = parse_csv(std::string("when\n2020-01-02T01:00:00\n") + bad + "\n", "t.csv");
    EXPECT_NE(d.column("when").type, ColumnType::datetime) << bad;
  }
  EXPECT_EQ(parse_csv("when\n2020-01-02T01:00:59.5\n", "t.csv").column("when").type, ColumnType::datetime);
  // Round trip through the writer.
  write_csv(dir.file("u.csv"), t);
  Table u = read_csv(dir.file("u.csv"));
  EXPECT_EQ(u.column("note").categories, t.column("note").categories);
  EXPECT_EQ(u.column("when").values, t.column("when").values);
  EXPECT_EQ(u.column("age").missing, t.column("age").missing);
}

// Dates with English month names (vega's sp500 and stocks write "Jan 1 2000", movies "Aug 07 1998"; they were read as
// categories): read as dates, written back in their own form, padded days kept padded; not-quite dates stay text.
TEST(Csv, MonthNameDatesAreDatesAndRoundTripInTheirForm) {
  test::TempDir dir;
  const Table t = parse_csv("sp500,movies,long\nJan 1 2000,Jun 12 1998,\"January 1, 2000\"\n"
                            "Feb 29 2000,Aug 07 1998,\"december 31, 1999\"\n",
                            "t.csv");
  for (const char* name : {"sp500", "movies", "long"}) EXPECT_EQ(t.column(name).type, ColumnType::datetime) << name;
  EXPECT_DOUBLE_EQ(t.column("sp500").values[0], 946684800.0);   // 2000-01-01T00:00:00Z
  EXPECT_DOUBLE_EQ(t.column("sp500").values[1], 951782400.0);   // 2000-02-29
  EXPECT_DOUBLE_EQ(t.column("movies").values[1], 902448000.0);  // 1998-08-07
  EXPECT_DOUBLE_EQ(t.column("long").values[1], 946598400.0);    // 1999-12-31
  write_csv(dir.file("u.csv"), t);
  EXPECT_EQ(test::read_text(dir.file("u.csv")),
            "sp500,movies,long\nJan 1 2000,Jun 12 1998,\"January 1, 2000\"\nFeb 29 2000,Aug 07 1998,\"December 31, "
            "1999\"\n");
  EXPECT_EQ(parse_csv("d\nJan 1 2000 12:30\n", "t.csv").column("d").values[0], 946729800.0);  // with a time of day
  for (const char* text : {"Jam 1 2000", "Jan 1 00", "Jan 123 2000", "Jan 32 2000", "Jan1 2000", "Jan 1 2000x"}) {
    EXPECT_NE(parse_csv(std::string("d\nJan 2 2000\n") + text + "\n", "t.csv").column("d").type,
              ColumnType::datetime)
        << text;
  }
}

TEST(Csv, TheDelimiterIsSniffedAndDecimalCommasAreNumbers) {
  test::TempDir dir;
  // Excel in a locale with a decimal comma: `;` between fields, "3,25" in them; a quoted field holding both.
  test::write_text(dir.file("semi.csv"),
                   "city;temp;count;code;note\n\"Graz\";3,25;4;1,2,3;\"a; b, c\"\nLinz;-0,5;12;A-7;x\n"
                   "Wien;1,5e2;;B-9;y\nWels;NA;3;C-4;z\n");
  const Table semi = read_table(dir.file("semi.csv"));
  ASSERT_EQ(semi.n_cols(), 5u);
  EXPECT_EQ(semi.column("temp").type, ColumnType::continuous);
  EXPECT_DOUBLE_EQ(semi.column("temp").values[0], 3.25);
  EXPECT_DOUBLE_EQ(semi.column("temp").values[1], -0.5);
  EXPECT_DOUBLE_EQ(semi.column("temp").values[2], 150.0);
  EXPECT_TRUE(semi.column("temp").missing[3]);
  EXPECT_EQ(semi.column("count").type, ColumnType::integer);
  EXPECT_EQ(semi.column("code").type, ColumnType::categorical);  // "1,2,3" is not a number: the column stays text
  EXPECT_EQ(semi.column("note").categories.at(static_cast<size_t>(semi.column("note").values[0])), "a; b, c");
  // Tabs in a .txt file, pipes; a one-column file and a comma file keep the comma (decimal points only).
  test::write_text(dir.file("tabs.txt"), "a\tb\n1\t2,5\n3\t4\n");
  EXPECT_EQ(read_table(dir.file("tabs.txt")).n_cols(), 2u);
  EXPECT_DOUBLE_EQ(read_table(dir.file("tabs.txt")).column("b").values[0], 2.5);
  test::write_text(dir.file("pipes.csv"), "a|b|c\n1|2|3\n4|5|6\n");
  EXPECT_EQ(read_table(dir.file("pipes.csv")).n_cols(), 3u);
  test::write_text(dir.file("one.csv"), "x;y\n1;2\n3\n");  // inconsistent under ';': one column of text
  EXPECT_EQ(read_table(dir.file("one.csv")).n_cols(), 1u);
  test::write_text(dir.file("comma.csv"), "a,b\n\"1,5\",2\n3,4\n");
  const Table comma = read_table(dir.file("comma.csv"));
  EXPECT_EQ(comma.column("a").type, ColumnType::categorical);
  // An explicit delimiter wins over the sniffing.
  ReadOptions semicolon;
  semicolon.delimiter = ';';
  EXPECT_EQ(read_table(dir.file("pipes.csv"), semicolon).n_cols(), 1u);
}

TEST(Csv, ThousandsSeparatorsWhenNamed) {
  test::TempDir dir;
  // A US export (grouped numbers quoted in a comma file), a European one (';', '.' groups, ',' decimals).
  test::write_text(dir.file("us.csv"), "name,revenue,code\na,\"1,234,567.5\",\"1,2\"\nb,987,\"3,4\"\nc,NA,\"5,6\"\n"
                                       "d,-12.25,\"7,8\"\n");
  test::write_text(dir.file("eu.csv"), "name;revenue\na;1.234.567,5\nb;987\nc;-2.000\nd;3,5\n");
  try {  // not told of the separator: the grouped number is a bad cell, and the hint names --thousands
    read_table(dir.file("us.csv"));
    ADD_FAILURE() << "a grouped number was read without --thousands";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'1,234,567.5' is not a number"), std::string::npos) << e.what();
    EXPECT_EQ(e.hint(), "if it groups digits, name the separator: --thousands , (or . ' space)");
  }
  ReadOptions comma;
  comma.thousands = ',';
  const Table us = read_table(dir.file("us.csv"), comma);
  const Column& revenue = us.column("revenue");
  EXPECT_EQ(revenue.type, ColumnType::continuous);
  EXPECT_DOUBLE_EQ(revenue.values[0], 1234567.5);
  EXPECT_DOUBLE_EQ(revenue.values[1], 987);
  EXPECT_TRUE(revenue.missing[2]);
  EXPECT_DOUBLE_EQ(revenue.values[3], -12.25);
  EXPECT_EQ(us.column("code").type, ColumnType::categorical);  // "1,2" is not grouped by three: the column stays text
  ReadOptions point;
  point.thousands = '.';
  const Table eu = read_table(dir.file("eu.csv"), point);
  EXPECT_DOUBLE_EQ(eu.column("revenue").values[0], 1234567.5);
  EXPECT_DOUBLE_EQ(eu.column("revenue").values[2], -2000);
  EXPECT_DOUBLE_EQ(eu.column("revenue").values[3], 3.5);
  // The CLI flag, and a separator that is not one.
  auto r = test::run_cli({"info", "--data", dir.file("eu.csv"), "--thousands", "."});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["columns"][1]["type"], "continuous");
  test::expect_cli_error({"info", "--data", dir.file("eu.csv"), "--thousands", "x"},
                         "--thousands 'x' is not a digit-group separator");
}

TEST(Csv, TypeOverrideAndExtraMissingMarkers) {
  test::TempDir dir;
  auto path = dir.file("t.csv");
  test::write_text(path, "zip,v\n01234,1\n99999,-\n");
  ReadOptions o;
  o.column_types["zip"] = ColumnType::categorical;
  o.na_tokens.push_back("-");
  Table t = read_csv(path, o);
  EXPECT_EQ(t.column("zip").categories, (std::vector<std::string>{"01234", "99999"}));
  EXPECT_EQ(t.column("v").missing, (std::vector<uint8_t>{0, 1}));
}

TEST(Csv, BadFilesGiveErrorsWithFileLineAndColumn) {
  test::TempDir dir;
  auto f = [&](const std::string& name, const std::string& text) {
    test::write_text(dir.file(name), text);
    return error_of([&] { read_csv(dir.file(name)); });
  };
  EXPECT_EQ(error_of([&] { read_csv(dir.file("nope.csv")); }),
            "cannot open '" + dir.file("nope.csv") + "': no such file or not readable");
  EXPECT_EQ(f("empty.csv", ""), "'" + dir.file("empty.csv") + "' is empty");
  EXPECT_EQ(f("header.csv", "a,b\n"), "'" + dir.file("header.csv") + "' has a header but no data rows");
  EXPECT_EQ(f("ragged.csv", "a,b\n1,2\n3\n"),
            "'" + dir.file("ragged.csv") + "' line 3: 1 fields, expected 2 (as in the header)");
  EXPECT_EQ(f("text.csv", "a,b\n1,2\n3,4\nabc,5\n6,7\n"),
            "'" + dir.file("text.csv") + "' line 4, column 'a': 'abc' is not a number");
  EXPECT_EQ(f("inf.csv", "a,b\n1,2\ninf,4\n"),
            "'" + dir.file("inf.csv") + "' line 3, column 'a': 'inf' is not a finite number");
  EXPECT_EQ(f("dup.csv", "a,a\n1,2\n"), "'" + dir.file("dup.csv") + "': duplicate column name 'a'");
  EXPECT_EQ(f("quote.csv", "a,b\n\"1,2\n"), "'" + dir.file("quote.csv") + "' line 2: quoted field is never closed");
}

TEST(JsonRecords, ReadsVegaStyleRecordsWithNullsInFileOrder) {
  test::TempDir dir;
  auto path = dir.file("r.json");
  test::write_text(path, R"([{"Species": "Adelie", "Mass": 3750, "Beak": 39.1},
                             {"Species": "Gentoo", "Mass": null, "Beak": 46.5},
                             {"Species": "Adelie", "Beak": 40.0}])");
  Table t = read_json_records(path);
  EXPECT_EQ(t.names(), (std::vector<std::string>{"Species", "Mass", "Beak"}));
  EXPECT_EQ(t.column("Mass").type, ColumnType::integer);
  EXPECT_EQ(t.column("Mass").missing, (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_EQ(t.column("Species").categories, (std::vector<std::string>{"Adelie", "Gentoo"}));
  test::write_text(dir.file("bad.json"), "{\"a\": 1}");
  EXPECT_EQ(error_of([&] { read_json_records(dir.file("bad.json")); }),
            "'" + dir.file("bad.json") + "' is not an array of records (its top level is object)");
}

TEST(JsonRecords, JsonLinesAndGzippedTablesReadAsTheirPlainForms) {
  test::TempDir dir;
  test::write_text(dir.file("r.jsonl"), "{\"a\": 1, \"b\": \"x\"}\n\n{\"a\": 2.5, \"c\": null}\r\n{\"b\": \"y\"}");
  const Table lines = read_table(dir.file("r.jsonl"));
  ASSERT_EQ(lines.n_rows(), 3u);
  EXPECT_EQ(lines.column("a").type, ColumnType::continuous);
  EXPECT_TRUE(lines.column("a").missing[2]);
  EXPECT_EQ(lines.column("b").categories.at(static_cast<size_t>(lines.column("b").values[2])), "y");
  test::write_text(dir.file("bad.ndjson"), "{\"a\": 1}\n[1, 2]\n");
  EXPECT_EQ(error_of([&] { read_table(dir.file("bad.ndjson")); }),
            "'" + dir.file("bad.ndjson") + "' line 2 is array, not an object");
  test::write_text(dir.file("broken.jsonl"), "{\"a\": 1}\n{\"a\": \n");
  EXPECT_EQ(error_of([&] { read_table(dir.file("broken.jsonl")); }),
            "'" + dir.file("broken.jsonl") + "' line 2 is not valid JSON (byte 7)");
  // gzip: the same tables as the plain files (a .tsv.gz keeps its tab).
  auto gzip = [&](const std::string& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  };
  const std::string csv = "a,b\n1,x\n2.5,y\n";
  gzip(dir.file("t.csv.gz"), csv);
  test::write_text(dir.file("t.csv"), csv);
  gzip(dir.file("t.tsv.gz"), "a\tb\n1\tx,z\n2.5\ty\n");
  gzip(dir.file("t.json.gz"), "[{\"a\": 1, \"b\": \"x\"}, {\"a\": 2.5, \"b\": \"y\"}]");
  gzip(dir.file("t.jsonl.gz"), "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2.5, \"b\": \"y\"}\n");
  const Table plain = read_table(dir.file("t.csv"));
  for (const char* name : {"t.csv.gz", "t.json.gz", "t.jsonl.gz"}) {
    const Table t = read_table(dir.file(name));
    EXPECT_EQ(t.column("a").values, plain.column("a").values) << name;
    EXPECT_EQ(t.column("b").categories, plain.column("b").categories) << name;
  }
  EXPECT_EQ(read_table(dir.file("t.tsv.gz")).column("b").categories, (std::vector<std::string>{"x,z", "y"}));
}

TEST(JsonRecords, ReadsThePackagedPenguins) {
  auto path = test::source_path("data/vega-datasets/data/penguins.json");
  if (!test::exists(path)) GTEST_SKIP() << "run scripts/setup.sh to fetch vega-datasets";
  Table t = read_json_records(path);
  EXPECT_EQ(t.n_rows(), 344u);
  EXPECT_EQ(t.column("Body Mass (g)").n_missing(), 2u);
  EXPECT_EQ(t.column("Species").categories.size(), 3u);
}

TEST(Npy, RoundTripsEveryDtypeAndRejectsOthers) {
  test::TempDir dir;
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt32, torch::kInt64}) {
    auto t = (torch::arange(12) * 3 - 7).reshape({4, 3}).to(dtype);
    write_npy(dir.file("a.npy"), t);
    auto back = read_npy(dir.file("a.npy"));
    EXPECT_EQ(back.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(back, t));
  }
  auto table = read_npy_table(dir.file("a.npy"));
  EXPECT_EQ(table.names(), (std::vector<std::string>{"x0", "x1", "x2"}));
  EXPECT_EQ(table.column("x1").type, ColumnType::integer);
  // A uint8 array written by hand: clear error naming the dtype.
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }";
  header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + char(0) + header + "ab";
  test::write_text(dir.file("u8.npy"), bytes);
  EXPECT_EQ(error_of([&] { read_npy(dir.file("u8.npy")); }),
            "'" + dir.file("u8.npy") + "' has dtype '|u1'; supported are <f4, <f8, <i4, <i8");
  write_npy(dir.file("f8.npy"), torch::ones({3, 2}, torch::kFloat64));
  std::string f8 = test::read_text(dir.file("f8.npy"));
  test::write_text(dir.file("trunc.npy"), f8.substr(0, f8.size() - 4));
  EXPECT_NE(error_of([&] { read_npy(dir.file("trunc.npy")); }).find("truncated"), std::string::npos);
}

TEST(Matrix, CategoricalColumnsAreNamedWithAColumnsHint) {
  Table t("p.csv");
  Column a{"a", ColumnType::continuous, {1, 2}, {}, {0, 1}};
  Column s{"species", ColumnType::categorical, {0, 1}, {"x", "y"}, {0, 0}};
  t.add_column(a);
  t.add_column(s);
  try {
    numeric_matrix(t);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "'p.csv' has non-numeric columns this model cannot use: 'species' (categorical)");
    EXPECT_EQ(e.hint(), "choose numeric columns with --columns a");
  }
  auto x = numeric_matrix(t.select({"a"}));
  EXPECT_EQ(x[0][0].item<double>(), 1.0);
  EXPECT_TRUE(std::isnan(x[1][0].item<double>()));
}

}  // namespace
}  // namespace gf
