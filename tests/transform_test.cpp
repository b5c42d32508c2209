// genforge transform: each item's mixture component / hidden state / topic with probabilities, or its code, equal to
// the model's own predict / predict_proba / doc_topics / transform, items named as the data names them.
#include <gtest/gtest.h>

#include <filesystem>

#include "genforge/apps/anomaly.h"
#include "genforge/apps/drift.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/matrix.h"
#include "genforge/models/bgmm.h"
#include "genforge/models/gmm.h"
#include "genforge/models/hmm.h"
#include "genforge/models/lda.h"
#include "genforge/viz/plot.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

data::Source table_of(const torch::Tensor& x, const std::vector<std::string>& names) {
  data::Source s;
  s.spec = "planted";
  s.form = DataKind::table;
  s.table = table_from_matrix(x, names);
  return s;
}

torch::Tensor column_values(const Table& t, const std::string& name) {
  return torch::tensor(t.column(name).values, torch::kFloat64);
}

// Two well-separated clusters in 2-D.
torch::Tensor two_clusters(int64_t n) {
  auto gen = make_generator(3);
  auto x = torch::randn({n, 2}, gen, torch::kFloat64);
  x.slice(0, n / 2) += 6.0;
  return x;
}

TEST(Transform, MixtureComponentsAndProbabilitiesAreTheModelsOwn) {
  const auto source = table_of(two_clusters(60), {"a", "b"});
  auto model = create_model("gmm", {}, {{"n_components", "2"}, {"seed", "0"}});
  fit_source(*model, source, test::quiet());
  const auto r = transform_source(*model, source);
  ASSERT_EQ(r.per_item.names(),
            (std::vector<std::string>{"item", "component", "p_component_0", "p_component_1"}));
  const auto& gmm = dynamic_cast<const GaussianMixture&>(*model);
  const auto x = prepare(*model, source).x;
  EXPECT_TRUE(column_values(r.per_item, "component").equal(gmm.predict(x).to(torch::kFloat64)));
  const auto p = torch::stack({column_values(r.per_item, "p_component_0"), column_values(r.per_item, "p_component_1")}, 1);
  EXPECT_TRUE(test::all_close(p, gmm.predict_proba(x).to(torch::kFloat64), 0, 1e-12));
  EXPECT_TRUE(test::all_close(p.sum(1), torch::ones({60}, torch::kFloat64), 0, 1e-12));
  EXPECT_EQ(r.summary["items_per_part"], nlohmann::json::array({30, 30}));  // the planted halves
  EXPECT_TRUE(column_values(r.per_item, "item").equal(torch::arange(60, torch::kFloat64)));
}

TEST(Transform, HiddenStatesAreTheDecodersPathNamedByTheirSequence) {
  // Two sequences, each a block of low then high values: the states follow the blocks.
  std::vector<double> v;
  std::vector<std::string> ids;
  for (const char* id : {"run1", "run2"}) {
    for (int t = 0; t < 12; ++t) {
      v.push_back((t < 6 ? 0.0 : 5.0) + 0.1 * (t % 3));
      ids.push_back(id);
    }
  }
  data::Source source;
  source.spec = "runs";
  source.form = DataKind::table;
  source.table.add_column(text_column("run", ids));
  Column value{"value"};
  value.values = v;
  value.missing.assign(v.size(), 0);
  source.table.add_column(value);
  auto model = create_model("hmm", {}, {{"n_components", "2"}, {"sequence_column", "run"}, {"seed", "0"}});
  fit_source(*model, source, test::quiet());
  const auto r = transform_source(*model, source);
  ASSERT_EQ(r.per_item.names(), (std::vector<std::string>{"item", "run", "state", "p_state_0", "p_state_1"}));
  const Column& run = r.per_item.column("run");
  EXPECT_EQ(run.categories[static_cast<size_t>(run.values[11])], "run1");
  EXPECT_EQ(run.categories[static_cast<size_t>(run.values[12])], "run2");
  const auto ds = prepare(*model, source);
  const auto& hmm = dynamic_cast<const HiddenMarkovModel&>(*model);
  const auto states = column_values(r.per_item, "state");
  EXPECT_TRUE(states.equal(hmm.predict(ds.x, ds.lengths).to(torch::kFloat64)));
  EXPECT_NE(states[0].item<double>(), states[6].item<double>());
  EXPECT_EQ(states[0].item<double>(), states[12].item<double>());
}

TEST(Transform, DocumentTopicsAndCodes) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("docs/a"));
  std::filesystem::create_directories(dir.file("docs/b"));
  for (int i = 0; i < 4; ++i) {
    test::write_text(dir.file("docs/a/" + std::to_string(i) + ".txt"), "goal team match goal win team");
    test::write_text(dir.file("docs/b/" + std::to_string(i) + ".txt"), "chip cache core chip clock core");
  }
  const auto docs = data::load_source(dir.file("docs"), DataKind::documents);
  auto lda = create_model("lda", {}, {{"n_components", "2"}, {"seed", "0"}, {"passes", "20"}});
  fit_source(*lda, docs, test::quiet());
  const auto topics = transform_source(*lda, docs);
  ASSERT_EQ(topics.per_item.names(),
            (std::vector<std::string>{"item", "file", "class", "topic", "p_topic_0", "p_topic_1"}));
  const Column& folder = topics.per_item.column("class");
  EXPECT_EQ(folder.categories[static_cast<size_t>(folder.values[7])], "b");
  const auto ds = prepare(*lda, docs);
  const auto theta = dynamic_cast<const LatentDirichletAllocation&>(*lda).doc_topics(ds.x, ds.lengths);
  EXPECT_TRUE(test::all_close(column_values(topics.per_item, "p_topic_0"), theta.select(1, 0).to(torch::kFloat64), 0, 0));
  const auto topic = column_values(topics.per_item, "topic");
  EXPECT_NE(topic[0].item<double>(), topic[4].item<double>());  // the two folders, two topics
  EXPECT_EQ(topics.per_item.column("file").categories[0], "a/0.txt");

  // A model with an encoder: its transform, one column per code dimension.
  const auto source = table_of(two_clusters(40), {"a", "b"});
  auto rbm = create_model("rbm", {}, {{"n_components", "3"}, {"visible", "gaussian"}, {"n_iter", "2"}, {"seed", "0"}});
  fit_source(*rbm, source, test::quiet());
  const auto codes = transform_source(*rbm, source);
  ASSERT_EQ(codes.per_item.names(), (std::vector<std::string>{"item", "z0", "z1", "z2"}));
  const auto h = rbm->transform(prepare(*rbm, source).x).to(torch::kFloat64);
  EXPECT_TRUE(test::all_close(column_values(codes.per_item, "z2"), h.select(1, 2), 0, 1e-12));

  test::expect_error_message([&] { transform_source(*test::small_language_model(), docs); },
                             "a gpt model has no parts (components, states, topics) or encoder to describe items by");
}

TEST(Transform, RowsWithAMissingCellAreLeftEmptyByModelsThatCannotTakeThem) {
  // A bgmm takes no missing cell: scores, parts, anomaly scores and drift scores cover the complete rows (the
  // model's own figures for them) and leave the others empty instead of refusing the whole table.
  auto x = two_clusters(60);
  auto model = create_model("bgmm", {}, {{"n_components", "2"}, {"seed", "0"}});
  fit_source(*model, table_of(x, {"a", "b"}), test::quiet());
  auto holes = x.clone();
  holes[3][0] = NAN, holes[40][1] = NAN, holes[41][0] = NAN, holes[41][1] = NAN;
  const auto source = table_of(holes, {"a", "b"});
  const std::vector<int64_t> incomplete = {3, 40, 41};
  auto complete = torch::ones({60}, torch::kBool);
  for (int64_t i : incomplete) complete[i] = false;
  const auto& bgmm = dynamic_cast<const BayesianGaussianMixture&>(*model);
  const auto kept = x.index_select(0, complete.nonzero().squeeze(1));

  const auto scored = score_source(*model, source);
  const Column& ll = scored.per_example.column("log_likelihood");
  EXPECT_EQ(scored.summary["missing_rows"], 3);
  const auto own = bgmm.score_samples(kept).contiguous();
  for (int64_t i = 0, k = 0; i < 60; ++i) {
    const bool hole = std::find(incomplete.begin(), incomplete.end(), i) != incomplete.end();
    EXPECT_EQ(ll.missing[static_cast<size_t>(i)] != 0, hole) << "row " << i;
    if (!hole) {
      EXPECT_DOUBLE_EQ(ll.values[static_cast<size_t>(i)], own[k++].item<double>()) << "row " << i;
    }
  }
  EXPECT_NEAR(scored.summary["mean_log_likelihood"].get<double>(), own.mean().item<double>(), 1e-12);

  const auto parts = transform_source(*model, source).per_item;
  const Column& component = parts.column("component");
  const auto predicted = bgmm.predict(kept).contiguous();
  for (int64_t i = 0, k = 0; i < 60; ++i) {
    const bool hole = !complete[i].item<bool>();
    EXPECT_EQ(component.missing[static_cast<size_t>(i)] != 0, hole) << "row " << i;
    if (!hole) {
      EXPECT_EQ(component.values[static_cast<size_t>(i)], predicted[k++].item<int64_t>()) << "row " << i;
    }
  }

  const auto item = apps::item_scores(*model, source);
  EXPECT_TRUE(item.isnan().equal(complete.logical_not()));  // NaN, not 0, for the rows not scored
  const auto anomalies = apps::detect_anomalies_self_calibrated(*model, source, {});
  const auto table = apps::anomaly_table(anomalies);
  for (int64_t i : incomplete) {
    EXPECT_TRUE(table.column("flag").missing[static_cast<size_t>(i)]) << "row " << i;
    EXPECT_TRUE(table.column("anomaly_score").missing[static_cast<size_t>(i)]) << "row " << i;
  }
  EXPECT_FALSE(table.column("flag").missing[0]);
  std::vector<int> outliers(60, 0);
  outliers[59] = 1;
  int64_t unscored = -1;
  const auto report = apps::evaluate_anomalies(anomalies, outliers, &unscored);
  EXPECT_EQ(unscored, 3);  // the evaluation leaves the unscored rows out
  EXPECT_EQ(report.outliers, 1);

  // Every row incomplete: nothing to score, said once.
  auto all = x.clone();
  all.select(1, 0).fill_(NAN);
  test::expect_error_message([&] { score_source(*model, table_of(all, {"a", "b"})); },
                                "every one of the 60 rows has a missing cell, which a bgmm model cannot take");
  // A model with no likelihood or score is refused by name.
  test::expect_error_message([&] { require_likelihood(*create_model("ctgan", {}, {})); },
                                   "a ctgan model has no likelihood or score to score data with");
}

TEST(Transform, TheVerbWritesTheTable) {
  test::TempDir dir;
  std::string csv = "x,y\n";
  const auto x = two_clusters(20);
  for (int64_t i = 0; i < 20; ++i) {
    csv += std::to_string(x[i][0].item<double>()) + "," + std::to_string(x[i][1].item<double>()) + "\n";
  }
  test::write_text(dir.file("t.csv"), csv);
  auto r = test::run_cli({"train", "gmm", "--data", dir.file("t.csv"), "--set", "n_components=2", "--out",
                          dir.file("m.gf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = test::run_cli({"transform", dir.file("m.gf"), "--data", dir.file("t.csv"), "--out", dir.file("c.csv")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("20 items: the component of each (of 2) and each component's probability"), std::string::npos);
  EXPECT_NE(test::read_text(dir.file("c.csv")).find("\nitem,component,p_component_0,p_component_1\n0,"),
            std::string::npos);
  test::expect_cli_error({"transform", dir.file("m.gf"), "--data", dir.file("t.csv")}, "--out is required");
  // Settings written as `train` writes them (--set KEY=VALUE) reach the model on every verb.
  r = test::run_cli({"transform", dir.file("m.gf"), "--data", dir.file("t.csv"), "--out", dir.file("c2.csv"), "--set",
                     "columns=x,y"});
  EXPECT_EQ(r.rc, 0) << r.err;
  test::expect_cli_error({"transform", dir.file("m.gf"), "--data", dir.file("t.csv"), "--out", dir.file("c3.csv"),
                          "--set", "columns"},
                         "--set 'columns' is not key=value");
  test::expect_cli_error({"transform", dir.file("m.gf"), "--data", dir.file("t.csv"), "--out", dir.file("c3.csv"),
                          "--set", "no_such_option=1"},
                         "no_such_option");
}

// A latent space coloured by class: transform's class column splits the points into one series per class.
TEST(Transform, PlotSeriesPerValueOfAColumn) {
  Table t("codes");
  Column z0{"z0"}, z1{"z1"};
  z0.values = {0, 1, 2, 3, 4};
  z1.values = {5, 6, 7, 8, 9};
  z0.missing = z1.missing = std::vector<uint8_t>(5, 0);
  t.add_column(z0);
  t.add_column(z1);
  t.add_column(text_column("class", {"Coat", "Bag", "Coat", "Bag", "Sandal"}));
  const auto series = viz::table_series(t, "z0", "z1", "class");
  ASSERT_EQ(series.size(), 3u);
  EXPECT_EQ(series[0].label, "Coat");
  EXPECT_EQ(series[0].x, (std::vector<double>{0, 2}));
  EXPECT_EQ(series[1].y, (std::vector<double>{6, 8}));
  EXPECT_EQ(series[2].label, "Sandal");
  EXPECT_NE(series[0].color, series[1].color);
  EXPECT_EQ(viz::table_series(t, "z0", "z1", "class", "run 1")[1].label, "run 1: Bag");
  EXPECT_EQ(viz::table_series(t, "z0", "z1").size(), 1u);
  test::expect_error_message([&] { viz::table_series(t, "class", "z1", "", "", false, 0, "codes.csv"); },
                             "column 'class' of 'codes.csv' is categorical");
}

}  // namespace
}  // namespace gf
