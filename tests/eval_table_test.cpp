// Tabular metrics against SDMetrics: its own unit-test vectors (tests/reference/vectors/sdmetrics.json) and values
// SDMetrics 0.29 computed on penguins tables (tests/reference/make_sdmetrics_golden.py -> sdmetrics_golden.json,
// tables in tests/reference/tabular/).
#include <gtest/gtest.h>

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/readers.h"
#include "genforge/eval/table.h"
#include "genforge/eval/table_report.h"
#include "support/support.h"

namespace gf {
namespace {

nlohmann::json table_metric_golden() { return test::read_json(test::source_path("tests/reference/sdmetrics_golden.json")); }

nlohmann::json vector_case(const std::string& id) {
  const auto v = test::read_json(test::source_path("tests/reference/vectors/sdmetrics.json"));
  for (const auto& c : v["cases"])
    if (c["id"] == id) return c;
  ADD_FAILURE() << "no case " << id;
  return {};
}

Table tabular(const std::string& name) {
  return read_csv(test::source_path("tests/reference/tabular/" + name + ".csv"));
}

// A table from JSON columns {name: [values...]} (null = missing) via a CSV file, with the given column kinds.
Table table_from_json(const nlohmann::json& columns, const std::map<std::string, ColumnType>& types,
                      const test::TempDir& dir, const std::string& name) {
  std::string csv;
  std::vector<std::string> names;
  for (const auto& [k, v] : types) names.push_back(k);
  for (size_t j = 0; j < names.size(); ++j) csv += (j ? "," : "") + names[j];
  csv += "\n";
  const size_t rows = columns[names[0]].size();
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < names.size(); ++j) {
      const auto& v = columns[names[j]][i];
      csv += j ? "," : "";
      if (v.is_string()) csv += v.get<std::string>();
      else if (v.is_boolean()) csv += v.get<bool>() ? "True" : "False";
      else if (!v.is_null()) csv += v.dump();
    }
    csv += "\n";
  }
  const std::string path = dir.file(name + ".csv");
  test::write_text(path, csv);
  ReadOptions o;
  o.column_types = types;
  return read_csv(path, o);
}

Column categorical_column(const std::string& name, const nlohmann::json& values) {
  Column c;
  c.name = name;
  c.type = ColumnType::categorical;
  for (const auto& v : values) {
    if (v.is_null()) {
      c.values.push_back(0);
      c.missing.push_back(1);
      continue;
    }
    const std::string label = v.is_string() ? v.get<std::string>() : v.dump();
    auto it = std::find(c.categories.begin(), c.categories.end(), label);
    if (it == c.categories.end()) {
      c.categories.push_back(label);
      it = c.categories.end() - 1;
    }
    c.values.push_back(double(it - c.categories.begin()));
    c.missing.push_back(0);
  }
  return c;
}

void expect_same(double got, const nlohmann::json& expected, double tol, const std::string& what) {
  if (expected.is_null()) {
    EXPECT_TRUE(std::isnan(got)) << what << ": expected NaN, got " << got;
  } else {
    EXPECT_NEAR(got, expected.get<double>(), tol) << what;
  }
}

TEST(TableMetrics, SdmetricsUnitTestVectors) {
  auto tv = vector_case("TVComplement_basic");
  EXPECT_NEAR(eval::tv_complement(categorical_column("x", tv["real"]), categorical_column("x", tv["synthetic"])),
              tv["expected"].get<double>(), 1e-15);
  tv = vector_case("TVComplement_nan_mostly");
  EXPECT_NEAR(eval::tv_complement(categorical_column("x", tv["real"]), categorical_column("x", tv["synthetic"])),
              tv["expected"].get<double>(), 1e-15);
  tv = vector_case("TVComplement_all_nan_synthetic");
  EXPECT_THROW(eval::tv_complement(categorical_column("x", tv["real"]), categorical_column("x", tv["synthetic"])),
               DataError);

  // Values treated as categories (no continuous column names), SDMetrics' breakdown test.
  const auto cs = vector_case("ContingencySimilarity_breakdown");
  const auto r = eval::contingency_similarity(
      categorical_column("col1", cs["real"]["col1"]), categorical_column("col2", cs["real"]["col2"]),
      categorical_column("col1", cs["synthetic"]["col1"]), categorical_column("col2", cs["synthetic"]["col2"]));
  EXPECT_NEAR(r.score, cs["expected"].get<double>(), 1e-15);

  test::TempDir dir;
  const auto nr = vector_case("NewRowSynthesis_compute");
  // pk and col1 are ids in the metadata, which the metric skips.
  const std::map<std::string, ColumnType> nr_types = {{"col2", ColumnType::continuous},
                                                      {"col3", ColumnType::categorical},
                                                      {"col4", ColumnType::continuous},
                                                      {"col5", ColumnType::categorical},
                                                      {"col6", ColumnType::datetime}};
  const auto nrs = eval::new_row_synthesis(table_from_json(nr["real"], nr_types, dir, "nr_real"),
                                           table_from_json(nr["synthetic"], nr_types, dir, "nr_syn"));
  EXPECT_DOUBLE_EQ(nrs.score, nr["expected"].get<double>());

  const auto dcr = vector_case("calculate_dcr");
  const std::map<std::string, ColumnType> dcr_types = {
      {"num_col", ColumnType::continuous},       {"cat_col", ColumnType::categorical},
      {"cat_int_col", ColumnType::categorical},  {"bool_col", ColumnType::categorical},
      {"datetime_str_col", ColumnType::datetime}, {"datetime_col", ColumnType::datetime}};
  const auto real = table_from_json(dcr["real"], dcr_types, dir, "dcr_real");
  const auto synthetic = table_from_json(dcr["synthetic"], dcr_types, dir, "dcr_syn");
  const auto d = eval::distance_to_closest_record(synthetic, real);
  const auto expected = dcr["expected"].get<std::vector<double>>();
  ASSERT_EQ(d.size(), expected.size());
  for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], expected[i], 1e-5 * std::fabs(expected[i]) + 1e-6) << i;
  for (double v : eval::distance_to_closest_record(real, real)) EXPECT_EQ(v, 0.0);
}

TEST(TableMetrics, QualityReportMatchesSdmetrics) {
  const auto g = table_metric_golden();
  const auto real = tabular("real"), synthetic = tabular("synthetic");
  const auto q = eval::quality_report(real, synthetic);
  EXPECT_NEAR(q.score, g["quality_score"].get<double>(), 1e-12);
  EXPECT_NEAR(q.column_shapes, g["properties"]["Column Shapes"].get<double>(), 1e-12);
  EXPECT_NEAR(q.column_pair_trends, g["properties"]["Column Pair Trends"].get<double>(), 1e-12);
  ASSERT_EQ(q.shapes.size(), g["column_shapes"].size());
  for (size_t i = 0; i < q.shapes.size(); ++i) {
    const auto& e = g["column_shapes"][i];
    EXPECT_EQ(q.shapes[i].column, e["column"].get<std::string>());
    EXPECT_EQ(q.shapes[i].metric, e["metric"].get<std::string>());
    expect_same(q.shapes[i].score, e["score"], 1e-12, q.shapes[i].column);
  }
  ASSERT_EQ(q.pairs.size(), g["column_pair_trends"].size());
  int contributing = 0;
  for (size_t i = 0; i < q.pairs.size(); ++i) {
    const auto& e = g["column_pair_trends"][i];
    const auto& p = q.pairs[i];
    const std::string what = p.column_1 + " / " + p.column_2;
    EXPECT_EQ(p.column_1, e["column_1"].get<std::string>());
    EXPECT_EQ(p.column_2, e["column_2"].get<std::string>());
    EXPECT_EQ(p.metric, e["metric"].get<std::string>()) << what;
    expect_same(p.score, e["score"], 1e-12, what + " score");
    expect_same(p.real_correlation, e["real_correlation"], 1e-12, what + " real correlation");
    expect_same(p.synthetic_correlation, e["synthetic_correlation"], 1e-12, what + " synthetic correlation");
    expect_same(p.real_association, e["real_association"], 1e-12, what + " real association");
    EXPECT_EQ(p.meets_threshold, e["meets_threshold"].get<bool>()) << what;
    contributing += p.meets_threshold;
  }
  EXPECT_GT(contributing, 5);  // both kinds of pair take part

  EXPECT_NEAR(eval::ks_complement(real.column("Body Mass (g)"), synthetic.column("Body Mass (g)")),
              g["ks_complement_body_mass"].get<double>(), 1e-15);
  EXPECT_NEAR(eval::tv_complement(real.column("Island"), synthetic.column("Island")),
              g["tv_complement_island"].get<double>(), 1e-15);
  EXPECT_EQ(eval::quality_report(real, real).column_shapes, 1.0);
}

TEST(TableMetrics, PrivacyMatchesSdmetrics) {
  const auto g = table_metric_golden();
  const auto real = tabular("real"), synthetic = tabular("synthetic"), holdout = tabular("holdout");
  const auto d = eval::distance_to_closest_record(synthetic, real);
  const auto expected = g["dcr_synthetic_to_real"].get<std::vector<double>>();
  ASSERT_EQ(d.size(), expected.size());
  for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], expected[i], 1e-12) << i;

  const auto o = eval::dcr_overfitting_protection(real, synthetic, holdout);
  EXPECT_NEAR(o.score, g["dcr_overfitting"]["score"].get<double>(), 1e-15);
  EXPECT_NEAR(o.closer_to_training, g["dcr_overfitting"]["synthetic_data_percentages"]["closer_to_training"].get<double>(),
              1e-15);

  const auto n = eval::new_row_synthesis(real, synthetic);
  EXPECT_NEAR(n.score, g["new_row_synthesis"]["score"].get<double>(), 1e-15);
  EXPECT_EQ(n.matched_rows, int64_t(g["new_row_synthesis"]["num_matched_rows"].get<double>()));

  // Random data sits farther from the real rows than these noisy copies; a copy of the real table scores 0.
  auto gen = make_generator(3);
  const auto b = eval::dcr_baseline_protection(real, synthetic, gen);
  EXPECT_GT(b.median_random, b.median_synthetic);
  EXPECT_GT(b.score, 0.05);
  EXPECT_LT(b.score, 1.0);
  EXPECT_EQ(eval::dcr_baseline_protection(real, real, gen).score, 0.0);
}

TEST(TableMetrics, RocAucAndDetection) {
  const auto g = table_metric_golden()["roc_auc"];
  EXPECT_NEAR(eval::roc_auc(g["labels"].get<std::vector<int>>(), g["scores"].get<std::vector<double>>()),
              g["expected"].get<double>(), 1e-15);
  EXPECT_THROW(eval::roc_auc({1, 1}, {0.1, 0.2}), InvalidArgument);

  const auto real = tabular("real"), holdout = tabular("holdout"), synthetic = tabular("synthetic");
  auto gen = make_generator(0);
  // Real against itself: the classifier cannot tell (AUC <= ~0.5 on every fold), score ~1.
  const auto same = eval::logistic_detection(real, real, gen);
  ASSERT_EQ(same.auc.size(), 3u);
  EXPECT_GT(same.score, 0.85);
  // Holdout penguins come from other islands and years: easy to tell apart from rows 0-199.
  const auto other = eval::logistic_detection(real, holdout, gen);
  EXPECT_LT(other.score, same.score);
  // A table made only of the first species is separable by the one-hot Species column.
  Table shifted("shifted");
  for (const auto& c : real.columns()) {
    Column copy = c;
    if (c.is_numeric())
      for (auto& v : copy.values) v += 1000;
    shifted.add_column(copy);
  }
  EXPECT_LT(eval::logistic_detection(real, shifted, gen).score, 0.05);
  // Same seed, same folds, same score.
  auto g1 = make_generator(5), g2 = make_generator(5);
  EXPECT_EQ(eval::logistic_detection(real, synthetic, g1).score, eval::logistic_detection(real, synthetic, g2).score);
}

// A column of thousands of labels (a city, a name): detection pools the rare ones and stays a quick, working
// classifier; machine-learning efficacy's default target passes over a class of too many labels.
TEST(TableMetrics, ColumnsOfManyLabelsStayTractable) {
  auto gen = make_generator(1);
  auto make = [&](const std::string& name, double shift) {
    Table t(name);
    std::vector<std::string> cities, regions;
    Column x{"x"};
    for (int i = 0; i < 600; ++i) {
      cities.push_back("city" + std::to_string(i % 300));  // 300 labels, each twice
      regions.push_back("r" + std::to_string(i % 70));     // 70 labels
      x.values.push_back(shift + torch::randn({1}, gen, torch::kFloat64).item<double>());
    }
    x.missing.assign(600, 0);
    t.add_column(x);
    t.add_column(text_column("city", cities));
    t.add_column(text_column("region", regions));
    return t;
  };
  const Table real = make("real", 0), far = make("far", 5);
  eval::DetectionOptions pooled;
  pooled.max_levels = 50;
  const auto d = eval::logistic_detection(real, far, gen, pooled);
  EXPECT_EQ(d.pooled_columns, (std::vector<std::string>{"city", "region"}));
  EXPECT_LT(d.score, 0.05);  // x alone separates them
  EXPECT_EQ(eval::logistic_detection(real, far, gen).pooled_columns, (std::vector<std::string>{"city"}));  // 250

  eval::TableReportOptions options;
  options.metrics = {"efficacy"};
  const auto report = eval::table_report(real, make("synthetic", 0), nullptr, options);
  EXPECT_EQ(report["ml_efficacy_target"], "x");  // region (70 labels) and city passed over
}

TEST(TableMetrics, BadInput) {
  const auto real = tabular("real");
  Table other("other");
  Column c;
  c.name = "Species";
  c.type = ColumnType::continuous;
  c.values = {1, 2};
  c.missing = {0, 0};
  other.add_column(c);
  EXPECT_THROW(eval::quality_report(real, other), DataError);  // missing columns / wrong kinds
  EXPECT_THROW(eval::ks_complement(real.column("Species"), real.column("Species")), DataError);
  Table empty("empty");
  EXPECT_THROW(eval::distance_to_closest_record(real, empty), DataError);
}

}  // namespace
}  // namespace gf
