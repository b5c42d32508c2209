// The input pipeline and data sources: encoders fitted on training data and undone on samples, the same
// transform for later data, clear errors, the saved form, and files written before the pipeline existed.
#include <gtest/gtest.h>

#include "genforge/core/error.h"
#include "genforge/data/pipeline.h"
#include "genforge/data/readers.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

data::Source pipeline_table_source(const std::string& path) { return data::load_source(path, DataKind::table); }

TEST(Pipeline, EncodersFitTransformAndDecode) {
  test::TempDir dir;
  test::write_text(dir.file("t.csv"), "x,c,w\n1,a,1\n3,b,2\n5,a,1\n,c,1\n");
  data::PipelineOptions o;
  o.categorical = "onehot";
  o.standardize = true;
  o.weights = "w";
  data::InputPipeline p(DataKind::table, o);
  const Dataset ds = p.fit_transform(pipeline_table_source(dir.file("t.csv")));
  EXPECT_EQ(ds.columns, (std::vector<std::string>{"x", "c=a", "c=b", "c=c"}));
  ASSERT_EQ(ds.x.sizes(), (std::vector<int64_t>{4, 4}));
  const double sd = std::sqrt(8.0 / 3.0);  // population std of 1, 3, 5
  EXPECT_NEAR(ds.x[0][0].item<double>(), -2.0 / sd, 1e-12);
  EXPECT_TRUE(std::isnan(ds.x[3][0].item<double>()));  // missing stays missing
  EXPECT_TRUE(torch::equal(ds.x[1].slice(0, 1), torch::tensor({0.0, 1.0, 0.0}, torch::kFloat64)));
  EXPECT_TRUE(torch::equal(ds.sample_weight, torch::tensor({1.0, 2.0, 1.0, 1.0}, torch::kFloat64)));
  const Table back = p.decode_rows(ds.x);
  EXPECT_EQ(back.names(), (std::vector<std::string>{"x", "c"}));
  EXPECT_NEAR(back.column("x").values[2], 5.0, 1e-12);
  EXPECT_EQ(back.column("c").categories[static_cast<size_t>(back.column("c").values[1])], "b");
  // Saved and restored, the pipeline transforms new data identically; an unseen category is an error.
  const auto restored = data::InputPipeline::from_json(p.to_json());
  test::write_text(dir.file("new.csv"), "c,x,w\nb,2,1\n");
  EXPECT_TRUE(torch::equal(restored.transform(pipeline_table_source(dir.file("new.csv"))).x,
                           p.transform(pipeline_table_source(dir.file("new.csv"))).x));
  test::write_text(dir.file("unseen.csv"), "c,x,w\nz,2,1\n");
  try {
    p.transform(pipeline_table_source(dir.file("unseen.csv")));
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("column 'c': category 'z' was not seen in training"), std::string::npos)
        << e.what();
  }
}

TEST(Pipeline, CategoricalColumnsAreRefusedByDefaultWithAHint) {
  test::TempDir dir;
  test::write_text(dir.file("t.csv"), "x,c\n1,a\n2,b\n");
  data::InputPipeline p(DataKind::table, {});
  try {
    p.fit(pipeline_table_source(dir.file("t.csv")));
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'c' (categorical)"), std::string::npos);
    EXPECT_NE(e.hint().find("--set categorical=onehot"), std::string::npos) << e.hint();
  }
}

// Names, codes and identifiers (nearly a distinct value per row) are refused for one-hot encoding, all of them named
// with the columns to keep (airports.csv's 'iata', 'name' and 'city' made 9,300 one-hot columns); ordinal codes and
// a short table's categories pass.
TEST(Pipeline, NameLikeColumnsAreRefusedForOneHotEncoding) {
  test::TempDir dir;
  std::string csv = "code,size,name,kind\n";
  for (int i = 0; i < 30; ++i) {
    csv += "c" + std::to_string(i) + "," + std::to_string(i % 7) + ",n" + std::to_string(i % 20) + "," +
           (i % 3 ? "a" : "b") + "\n";
  }
  test::write_text(dir.file("t.csv"), csv);
  data::PipelineOptions onehot;
  onehot.categorical = "onehot";
  try {
    data::InputPipeline(DataKind::table, onehot).fit(pipeline_table_source(dir.file("t.csv")));
    FAIL() << "one-hot columns for a name per row";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "'" + dir.file("t.csv") + "' has categorical columns with nearly a distinct "
              "value per row, which one-hot would turn into about a feature per row: 'code' (30 values in 30 rows), "
              "'name' (20 values in 30 rows)");
    EXPECT_EQ(e.hint(), "leave them out with --columns size,kind");
  }
  onehot.columns = "size,kind";
  data::InputPipeline kept(DataKind::table, onehot);
  EXPECT_EQ(kept.fit_transform(pipeline_table_source(dir.file("t.csv"))).x.size(1), 3);  // size, kind=a, kind=b
  data::PipelineOptions ordinal;
  ordinal.categorical = "ordinal";
  data::InputPipeline codes(DataKind::table, ordinal);
  EXPECT_EQ(codes.fit_transform(pipeline_table_source(dir.file("t.csv"))).x.size(1), 4);
  test::write_text(dir.file("short.csv"), "code,size\nx,1\ny,2\nz,3\n");
  data::PipelineOptions short_onehot;
  short_onehot.categorical = "onehot";
  EXPECT_EQ(data::InputPipeline(DataKind::table, short_onehot).fit_transform(
                pipeline_table_source(dir.file("short.csv"))).x.size(1), 4);  // code=x, y, z, size
}

// Labels seen in fewer than rare_labels rows become one label, _RARE_, which also takes labels the model never saw;
// it survives save and load; rare_labels 0 keeps every label; the synthesizers pool by default, other models not.
TEST(Pipeline, RareLabelsArePooledAndUnseenLabelsReadAsThem) {
  test::TempDir dir;
  std::string csv = "x,c\n";
  for (int i = 0; i < 10; ++i) csv += std::to_string(i) + ",a\n";
  for (int i = 0; i < 6; ++i) csv += std::to_string(i) + ",b\n";
  csv += "1,r1\n2,r1\n3,r2\n4,\n";
  test::write_text(dir.file("t.csv"), csv);
  data::PipelineOptions o;
  o.categorical = "ordinal";
  o.rare_labels = 5;
  data::InputPipeline p(DataKind::table, o);
  const Dataset ds = p.fit_transform(pipeline_table_source(dir.file("t.csv")));
  ASSERT_EQ(p.encoders().size(), 2u);
  const auto& c = p.encoders()[1];
  EXPECT_EQ(c.categories, (std::vector<std::string>{"a", "b", "_RARE_"}));
  EXPECT_EQ(c.pooled_labels, 2);
  EXPECT_EQ(c.pooled_rows, 3);
  EXPECT_EQ(ds.x[16][1].item<double>(), 2.0);  // r1
  EXPECT_EQ(ds.x[18][1].item<double>(), 2.0);  // r2
  EXPECT_TRUE(std::isnan(ds.x[19][1].item<double>()));
  const Column back = p.decode_rows(ds.x.slice(0, 18, 19)).column("c");
  EXPECT_EQ(back.categories.at(static_cast<size_t>(back.values.at(0))), "_RARE_");
  test::write_text(dir.file("new.csv"), "x,c\n1,zz\n2,b\n3,r2\n");
  const auto restored = data::InputPipeline::from_json(p.to_json());
  EXPECT_EQ(restored.encoders()[1].pooled_rows, 3);
  const auto x = restored.transform(pipeline_table_source(dir.file("new.csv"))).x;
  EXPECT_TRUE(torch::equal(x.select(1, 1), torch::tensor({2.0, 1.0, 2.0}, torch::kFloat64))) << x;
  const Table as_seen = restored.with_rare_labels_pooled(pipeline_table_source(dir.file("new.csv")).table);
  const Column& seen = as_seen.column("c");
  std::vector<std::string> labels;
  for (double v : seen.values) labels.push_back(seen.categories.at(static_cast<size_t>(v)));
  EXPECT_EQ(labels, (std::vector<std::string>{"_RARE_", "b", "_RARE_"}));
  EXPECT_EQ(seen.categories, (std::vector<std::string>{"_RARE_", "b"}));
  EXPECT_EQ(as_seen.column("x").values, (std::vector<double>{1, 2, 3}));
  try {
    restored.encode_given({{"c", "r1"}});
    FAIL() << "a pooled label given as a condition";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.hint(), "its categories: a,b,_RARE_ (2 rare labels pooled into _RARE_: rare_labels 5)");
  }
  o.rare_labels = 0;
  data::InputPipeline every(DataKind::table, o);
  every.fit(pipeline_table_source(dir.file("t.csv")));
  EXPECT_EQ(every.encoders()[1].categories, (std::vector<std::string>{"a", "b", "r1", "r2"}));
  EXPECT_THROW(every.transform(pipeline_table_source(dir.file("new.csv"))), DataError);
  o.rare_labels = -2;
  EXPECT_THROW(o.validate(), InvalidArgument);
  // One-hot: a column of names pooled to a few labels is no longer a feature per row.
  std::string names = "name,size\n";
  for (int i = 0; i < 40; ++i) names += (i < 30 ? "n" + std::to_string(i) : std::string("common")) + ",1\n";
  test::write_text(dir.file("names.csv"), names);
  data::PipelineOptions onehot;
  onehot.categorical = "onehot";
  EXPECT_THROW(data::InputPipeline(DataKind::table, onehot).fit(pipeline_table_source(dir.file("names.csv"))),
               DataError);
  onehot.rare_labels = 5;
  data::InputPipeline pooled(DataKind::table, onehot);
  EXPECT_EQ(pooled.fit_transform(pipeline_table_source(dir.file("names.csv"))).columns,
            (std::vector<std::string>{"name=common", "name=_RARE_", "size"}));
  EXPECT_EQ(create_model("copula")->pipeline_options().rare_labels, data::kSynthesizerRareLabels);
  EXPECT_EQ(create_model("ctgan")->pipeline_options().rare_labels, data::kSynthesizerRareLabels);
  EXPECT_EQ(create_model("gmm")->pipeline_options().rare_labels, -1);
  auto gmm = create_model("gmm", {}, {{"categorical", "onehot"}});
  fit_source(*gmm, pipeline_table_source(dir.file("t.csv")), test::quiet());
  EXPECT_EQ(pipeline_of(*gmm).encoders()[1].categories.size(), 4u);  // auto, outside `synth`: every label
}

TEST(DataSource, WrongKindsAreNamed) {
  try {
    data::load_source("fashion-mnist:test", DataKind::table);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "'fashion-mnist:test' is image data, not a table");
  }
  EXPECT_THROW(data::load_source("table.csv", DataKind::table, {-1}), InvalidArgument);
}

TEST(Pipeline, FilesOfFormatVersionOneLoadWithTheirColumns) {
  test::TempDir dir;
  test::write_text(dir.file("t.csv"), "a,b\n1,2\n2,4\n3,5\n4,9\n");
  auto gmm = create_model("gmm");
  fit_source(*gmm, pipeline_table_source(dir.file("t.csv")), test::quiet());
  // A version 1 file: no pipeline, the columns in the schema.
  ModelFileContents c;
  c.kind = "gmm";
  c.options = gmm->options_json();
  c.schema = gmm->schema();
  c.fit_report = gmm->fit_report().to_json();
  c.tensors = gmm->state();
  write_model_file(dir.file("v1.gf"), c);
  std::string bytes = test::read_text(dir.file("v1.gf"));
  const auto pos = bytes.find("\"format_version\":\"2\"");
  ASSERT_NE(pos, std::string::npos);
  bytes[pos + 18] = '1';
  test::write_text(dir.file("v1.gf"), bytes);
  const auto old = load_model(dir.file("v1.gf"));
  ASSERT_NE(old->pipeline(), nullptr);
  EXPECT_EQ(old->pipeline()->input_columns(), (std::vector<std::string>{"a", "b"}));
  const auto source = pipeline_table_source(dir.file("t.csv"));
  EXPECT_TRUE(torch::equal(prepare(*old, source).x, prepare(*gmm, source).x));
  EXPECT_EQ(score_source(*old, source).per_example.column("log_likelihood").values,
            score_source(*gmm, source).per_example.column("log_likelihood").values);
  EXPECT_EQ(read_model_file(dir.file("v1.gf")).format_version, 1);
}

TEST(Workflow, RowsWithEveryCellMissingScoreAsMissing) {
  test::TempDir dir;
  test::write_text(dir.file("t.csv"), "a,b\n1,2\n2,4\n3,5\n4,9\n");
  test::write_text(dir.file("holes.csv"), "a,b\n1,2\n,\n");
  auto gmm = create_model("gmm");
  fit_source(*gmm, pipeline_table_source(dir.file("t.csv")), test::quiet());
  const auto r = score_source(*gmm, pipeline_table_source(dir.file("holes.csv")));
  EXPECT_EQ(r.summary["missing_rows"], 1);
  EXPECT_EQ(r.per_example.column("log_likelihood").missing, (std::vector<uint8_t>{0, 1}));
  EXPECT_NEAR(r.summary["mean_log_likelihood"].get<double>(), r.per_example.column("log_likelihood").values[0], 1e-12);
}

}  // namespace
}  // namespace gf
