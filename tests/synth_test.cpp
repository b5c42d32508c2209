// Synthetic tables: types kept end to end, conditions and constraints met by every row, ID columns regenerated,
// the utility metrics, and clear errors for rules that cannot hold.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "genforge/apps/constraints.h"
#include "genforge/apps/synth.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/readers.h"
#include "genforge/eval/table.h"
#include "genforge/eval/table_report.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// 300 rows: an ID, an integer, a two-decimal price, two date formats, a boolean, a category with gaps, and a
// derived column (total = price * qty).
std::string shop_csv() {
  std::ostringstream s;
  s << "order_id,qty,price,day,stamp,paid,region,total\n";
  auto gen = make_generator(1);
  auto u = torch::rand({300, 6}, gen, torch::kFloat64);
  const char* regions[] = {"north", "south", "east"};
  for (int i = 0; i < 300; ++i) {
    const int qty = 1 + static_cast<int>(u[i][0].item<double>() * 9);
    const double price = std::round((5 + 20 * u[i][1].item<double>() + qty) * 100) / 100;
    char day[16], stamp[24], price_text[16], total[16];
    std::snprintf(day, sizeof day, "2021/%02d/%02d", 1 + i % 12, 1 + i % 28);
    std::snprintf(stamp, sizeof stamp, "2022-03-%02d %02d:%02d", 1 + i % 28, i % 24, (7 * i) % 60);
    std::snprintf(price_text, sizeof price_text, "%.2f", price);
    std::snprintf(total, sizeof total, "%.2f", price * qty);
    const bool gap = u[i][2].item<double>() < 0.1;
    s << "ord-" << 1000 + i << "," << qty << "," << price_text << "," << day << "," << stamp << ","
      << (u[i][3].item<double>() < 0.7 ? "true" : "false") << "," << (gap ? "" : regions[i % 3]) << "," << total
      << "\n";
  }
  return s.str();
}

struct Shop {
  test::TempDir dir;
  data::Source source;
  Shop() {
    test::write_text(dir.file("shop.csv"), shop_csv());
    source = data::load_source(dir.file("shop.csv"), DataKind::table);
  }
};

std::vector<std::string> csv_lines(const std::string& path) {
  std::istringstream in(test::read_text(path));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream s(line);
  for (std::string c; std::getline(s, c, ',');) out.push_back(c);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

TEST(Synth, TypesFormatsMissingCellsAndIdsSurviveTheRoundTrip) {
  Shop shop;
  auto model = create_model("copula");
  apps::fit_synthesizer(*model, shop.source, quiet());
  EXPECT_EQ(pipeline_of(*model).input_columns().size(), 7u);  // order_id left out: an identifier
  apps::SynthOptions o;
  o.n = 400;
  const auto s = apps::synthesize(*model, shop.source.table, o);
  EXPECT_EQ(s.id_columns, std::vector<std::string>{"order_id"});
  write_csv(shop.dir.file("out.csv"), s.rows);
  const auto lines = csv_lines(shop.dir.file("out.csv"));
  ASSERT_EQ(lines.size(), 401u);
  EXPECT_EQ(lines[0], "order_id,qty,price,day,stamp,paid,region,total");
  std::set<std::string> real_ids;
  for (const auto& l : csv_lines(shop.dir.file("shop.csv"))) real_ids.insert(cells(l)[0]);
  int missing_region = 0;
  std::set<std::string> ids;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto c = cells(lines[i]);
    ASSERT_EQ(c.size(), 8u) << lines[i];
    EXPECT_TRUE(std::regex_match(c[0], std::regex("ord-[0-9]{4}"))) << c[0];
    EXPECT_EQ(real_ids.count(c[0]), 0u) << "a regenerated ID repeats a real one: " << c[0];
    ids.insert(c[0]);
    EXPECT_TRUE(std::regex_match(c[1], std::regex("[0-9]+"))) << c[1];
    EXPECT_TRUE(std::regex_match(c[2], std::regex("[0-9]+\\.[0-9]{2}"))) << c[2];
    EXPECT_TRUE(std::regex_match(c[3], std::regex("2021/[0-9]{2}/[0-9]{2}"))) << c[3];
    EXPECT_TRUE(std::regex_match(c[4], std::regex("2022-0[0-9]-[0-9]{2} [0-9]{2}:[0-9]{2}"))) << c[4];
    EXPECT_TRUE(c[5] == "true" || c[5] == "false") << c[5];
    missing_region += c[6].empty();
    const int qty = std::stoi(c[1]);
    EXPECT_GE(qty, 1);
    EXPECT_LE(qty, 9);
  }
  EXPECT_EQ(ids.size(), 400u);
  EXPECT_NEAR(missing_region / 400.0, 0.1, 0.05);
  const Table back = read_csv(shop.dir.file("out.csv"));
  for (const auto& c : shop.source.table.columns()) EXPECT_EQ(back.column(c.name).type, c.type) << c.name;
}

TEST(Synth, EveryRowMeetsConditionsAndConstraints) {
  Shop shop;
  for (const std::string name : {"copula", "gmm"}) {
    auto model = create_model(name, {}, {{"categorical", "ordinal"}});
    apps::fit_synthesizer(*model, shop.source, quiet());
    apps::SynthOptions o;
    o.n = 300;
    o.conditions = {"region=south", "qty in [3, 6]"};
    o.constraints = {"price > 12.5", "total <= price * qty + 0.01 and total >= price * qty - 0.01 or qty > 5",
                     "day >= '2021/03/01'"};
    o.min_acceptance = 1e-4;
    const auto s = apps::synthesize(*model, shop.source.table, o);
    ASSERT_EQ(s.rows.n_rows(), 300u) << name;
    const auto& region = s.rows.column("region");
    const auto& qty = s.rows.column("qty");
    const auto& price = s.rows.column("price");
    const auto& total = s.rows.column("total");
    const auto& day = s.rows.column("day");
    for (size_t i = 0; i < 300; ++i) {
      ASSERT_FALSE(region.missing[i]);
      EXPECT_EQ(region.categories[static_cast<size_t>(region.values[i])], "south");
      ASSERT_FALSE(qty.missing[i]);
      EXPECT_GE(qty.values[i], 3);
      EXPECT_LE(qty.values[i], 6);
      if (!price.missing[i]) {
        EXPECT_GT(price.values[i], 12.5);
      }
      if (!price.missing[i] && !total.missing[i] && qty.values[i] <= 5) {
        EXPECT_NEAR(total.values[i], price.values[i] * qty.values[i], 0.0100001);
      }
      if (!day.missing[i]) {
        EXPECT_GE(day.values[i], 1614556800.0);  // 2021-03-01
      }
    }
    if (name == "copula") {
      EXPECT_EQ(s.exact.size(), 4u);  // region, qty, price and day through the box sampler
    } else {
      EXPECT_EQ(s.exact, std::vector<std::string>{"region=south"});  // a fixed value: conditional sampling
    }
    EXPECT_GT(s.acceptance, 0);
    EXPECT_LE(s.acceptance, 1);
  }
}

TEST(Synth, FixedCombinationsKeepOnlyRealPairs) {
  Shop shop;
  auto model = create_model("copula");
  apps::fit_synthesizer(*model, shop.source, quiet());
  apps::SynthOptions o;
  o.n = 200;
  o.constraints = {"fixed(region, paid)"};
  const auto s = apps::synthesize(*model, shop.source.table, o);
  const auto rule = apps::Constraint::parse("fixed(region, paid)", shop.source.table);
  for (auto ok : rule.check(s.rows)) EXPECT_TRUE(ok);
  EXPECT_EQ(s.rejection, std::vector<std::string>{"fixed(region, paid)"});
}

TEST(Synth, BadRulesAreClearErrors) {
  Shop shop;
  const Table& t = shop.source.table;
  auto throws = [&](const std::function<void()>& f, const std::string& needle) {
    test::expect_error_message(f, needle);
  };
  throws([&] { apps::parse_condition("colour=red", t); }, "names column 'colour'");
  throws([&] { apps::parse_condition("region=west", t); }, "'west' is not a category of column 'region'");
  throws([&] { apps::parse_condition("region in [1, 2]", t); }, "is categorical, so it has no range");
  throws([&] { apps::parse_condition("qty in [5, 2]", t); }, "lower bound above its upper bound");
  throws([&] { apps::Constraint::parse("region > 3", t); }, "compares categories with a number");
  throws([&] { apps::Constraint::parse("qty > 'many'", t); }, "compares numbers with");
  throws([&] { apps::Constraint::parse("qty > ", t); }, "ends too early");
  throws([&] { apps::Constraint::parse("weight > 3", t); }, "names column 'weight'");
  throws([&] { apps::Constraint::parse("day > 'yesterday'", t); }, "is not a date");
  auto model = create_model("copula");
  apps::fit_synthesizer(*model, shop.source, quiet());
  apps::SynthOptions contradictory;
  contradictory.constraints = {"qty > 7", "qty < 3"};
  throws([&] { apps::synthesize(*model, t, contradictory); }, "contradictory rules: 'qty > 7' and 'qty < 3'");
  apps::SynthOptions impossible;
  impossible.constraints = {"total > price * qty + 1000"};
  throws([&] { apps::synthesize(*model, t, impossible); }, "accept 0 of the");
}

// A label seen in fewer than 5 rows names its rows: copula and bayesnet pool such labels into _RARE_ (as `synth` does
// for any model), so no synthetic cell carries one, the pool keeps their share, and the report counts what was
// copied; with rare_labels 0 the same fit copies dozens of them, and the count says so.
TEST(Synth, RareLabelsAreNeverCopied) {
  test::TempDir dir;
  std::ostringstream csv;
  csv << "city,income\n";
  auto gen = make_generator(3);
  const auto u = torch::rand({300}, gen, torch::kFloat64);
  const char* common[] = {"Lyon", "Paris", "Nice"};
  for (int i = 0; i < 300; ++i) {
    const std::string city = i < 240 ? common[i % 3] : "town" + std::to_string(i);
    csv << city << "," << static_cast<int>(20000 + 40000 * u[i].item<double>()) << "\n";
  }
  test::write_text(dir.file("people.csv"), csv.str());
  const auto source = data::load_source(dir.file("people.csv"), DataKind::table);
  apps::SynthOptions o;
  o.n = 2000;
  for (const std::string kind : {"copula", "bayesnet", "gmm"}) {
    auto model = create_model(kind, {}, kind == "gmm" ? OptionOverrides{{"categorical", "onehot"}} : OptionOverrides{});
    apps::fit_synthesizer(*model, source, quiet());
    const auto s = apps::synthesize(*model, source.table, o);
    const auto& rare = s.rare_labels;
    EXPECT_EQ(rare["min_rows"], 5) << kind;
    EXPECT_EQ(rare["pooled"]["city"]["labels"], 60) << kind;
    EXPECT_EQ(rare["pooled"]["city"]["rows"], 60) << kind;
    EXPECT_EQ(rare["copied"]["cells"], 0) << kind;
    const Column& city = s.rows.column("city");
    int64_t pooled = 0;
    for (size_t i = 0; i < city.size(); ++i) pooled += city.categories[static_cast<size_t>(city.values[i])] == "_RARE_";
    EXPECT_NEAR(static_cast<double>(pooled) / 2000.0, 0.2, 0.05) << kind;
    EXPECT_EQ(apps::rare_label_summary(rare),
              "rare labels: 60 seen in fewer than 5 rows pooled into _RARE_ (city 60); no synthetic cell carries a "
              "label seen in fewer than 5 real rows");
    // A condition on a pooled label says so (the samplers could never meet it).
    apps::SynthOptions town = o;
    town.conditions = {"city=town250"};
    test::expect_error_message([&] { apps::synthesize(*model, source.table, town); },
                               kind == "gmm" ? "column 'city' has no category 'town250'"
                                             : "'town250' is seen in too few rows of column 'city' to be reproduced");
  }
  // A column of names each seen once or twice would pool into one constant label: it is left out of the model and
  // written as _RARE_ (missing at the real rate), and out of the evaluation, like an identifier.
  std::ostringstream named;
  named << "name,city,income\n";
  for (int i = 0; i < 300; ++i) {
    named << (i % 10 == 0 ? std::string() : "person" + std::to_string(i / 2)) << "," << common[i % 3] << ","
          << 20000 + 100 * i << "\n";
  }
  test::write_text(dir.file("named.csv"), named.str());
  const auto named_source = data::load_source(dir.file("named.csv"), DataKind::table);
  auto copula = create_model("copula");
  apps::fit_synthesizer(*copula, named_source, quiet());
  EXPECT_EQ(pipeline_of(*copula).input_columns(), (std::vector<std::string>{"city", "income"}));
  const auto with_names = apps::synthesize(*copula, named_source.table, o);
  EXPECT_EQ(with_names.rows.names(), (std::vector<std::string>{"name", "city", "income"}));
  EXPECT_EQ(with_names.rare_columns, std::vector<std::string>{"name"});
  EXPECT_EQ(with_names.evaluated_columns(), (std::vector<std::string>{"city", "income"}));
  const Column& name = with_names.rows.column("name");
  EXPECT_EQ(name.categories, std::vector<std::string>{"_RARE_"});
  EXPECT_NEAR(static_cast<double>(name.n_missing()) / 2000.0, 0.1, 0.03);
  EXPECT_EQ(with_names.rare_labels["pooled"]["name"]["rows"], 270);
  EXPECT_EQ(with_names.rare_labels["copied"]["cells"], 0);
  EXPECT_EQ(apps::rare_label_summary(with_names.rare_labels),
            "rare labels: 150 seen in fewer than 5 rows pooled into _RARE_ (name 150: the whole column); no synthetic "
            "cell carries a label seen in fewer than 5 real rows");
  // Numbers stay between the 5th smallest and 5th largest real value: the one large income is not approached.
  {
    std::ostringstream rich;
    rich << "income\n";
    for (int i = 0; i < 299; ++i) rich << 20000 + 100 * i << "\n";
    rich << 10000000 << "\n";
    test::write_text(dir.file("rich.csv"), rich.str());
    const auto rich_source = data::load_source(dir.file("rich.csv"), DataKind::table);
    auto model = create_model("copula");
    apps::fit_synthesizer(*model, rich_source, quiet());
    apps::SynthOptions protect = o;
    protect.protect_extremes = 5;
    const auto clipped = apps::synthesize(*model, rich_source.table, protect);
    const auto& v = clipped.rows.column("income").values;
    EXPECT_EQ(*std::max_element(v.begin(), v.end()), 20000 + 100 * 295);  // the 5th largest real value
    EXPECT_EQ(*std::min_element(v.begin(), v.end()), 20000 + 100 * 4);  // the 5th smallest
    EXPECT_GT(clipped.extremes["columns"]["income"]["clipped"].get<int64_t>(), 0);
    EXPECT_EQ(apps::extremes_summary(clipped.extremes).substr(0, 84),
              "extremes: numbers kept between each column's 5th smallest and 5th largest real value");
    const auto unclipped = apps::synthesize(*model, rich_source.table, o);  // off by default
    EXPECT_EQ(apps::extremes_summary(unclipped.extremes), "extremes: not protected (protect_extremes 0)");
    const auto& w = unclipped.rows.column("income").values;
    EXPECT_GT(*std::max_element(w.begin(), w.end()), 20000 + 100 * 295);
  }
  auto every = create_model("copula", {}, {{"rare_labels", "0"}});
  apps::fit_synthesizer(*every, source, quiet());
  const auto s = apps::synthesize(*every, source.table, o);
  EXPECT_GT(s.rare_labels["copied"]["labels"].get<int64_t>(), 30);
  EXPECT_NEAR(s.rare_labels["copied"]["cells"].get<double>() / 2000.0, 0.2, 0.05);
  EXPECT_EQ(apps::rare_label_summary(s.rare_labels).find("rare labels: every label kept (rare_labels 0); "), 0u)
      << apps::rare_label_summary(s.rare_labels);
}

// A private fit keeps every promise of its report: no column's range comes from one person's value (the richest
// income never shows), the real quantiles of --protect-extremes are refused, and a column of names is written
// without its real missing rate.
TEST(Synth, PrivateFitsReadNoRangeOrRateOffTheData) {
  test::TempDir dir;
  std::ostringstream csv;
  csv << "name,city,income\n";
  const char* common[] = {"Lyon", "Paris", "Nice"};
  for (int i = 0; i < 300; ++i) {
    csv << (i % 10 == 0 ? std::string() : "person" + std::to_string(i)) << "," << common[i % 3] << ","
        << (i == 7 ? 10000000 : 20000 + 100 * i) << "\n";
  }
  test::write_text(dir.file("rich.csv"), csv.str());
  const auto source = data::load_source(dir.file("rich.csv"), DataKind::table);
  apps::SynthOptions o;
  o.n = 2000;
  EXPECT_EQ(apps::privacy_summary(nlohmann::json()), std::vector<std::string>{"fitted without differential privacy"});
  for (const std::string kind : {"copula", "bayesnet"}) {
    auto model = create_model(kind, {}, {{"dp_epsilon", "1"}});
    apps::fit_synthesizer(*model, source, quiet());
    const auto s = apps::synthesize(*model, source.table, o);
    const Column& income = s.rows.column("income");
    double top = 0;
    for (size_t i = 0; i < income.size(); ++i) {
      if (!income.missing[i]) top = std::max(top, income.values[i]);
    }
    EXPECT_LE(top, 65536) << kind;  // the octave above 49,900; the data's max is 10,000,000
    const auto& ranges = model->fit_report().extra["privacy"]["ranges"]["columns"];
    EXPECT_EQ(ranges["income"]["how"], "private") << kind;
    EXPECT_EQ(ranges["income"]["hi"].get<double>(), 65536) << kind;
    EXPECT_EQ(apps::private_ranges_summary(model->fit_report().extra["privacy"]),
              "ranges private (ε 0.2 each): income 16384..65536") << kind;
    const auto lines = apps::privacy_summary(model->fit_report().extra["privacy"]);
    ASSERT_EQ(lines.size(), 3u) << kind;
    EXPECT_EQ(lines[0], kind == "copula" ? "differential privacy: ε 1, δ 1e-05" : "differential privacy: ε 1 (pure ε)");
    EXPECT_EQ(lines[2].rfind("treated as public: the number of rows, the categories", 0), 0u) << lines[2];
    const Column& name = s.rows.column("name");
    EXPECT_EQ(name.categories, std::vector<std::string>{"_RARE_"}) << kind;
    EXPECT_EQ(name.n_missing(), 0u) << kind;  // the real column misses 10 %
    apps::SynthOptions protect = o;
    protect.protect_extremes = 5;
    test::expect_error_message([&] { apps::synthesize(*model, source.table, protect); },
                               "protect_extremes clips to each column's 5th smallest and largest real values, which "
                               "are not private, and the " + kind + " model is fitted with differential privacy");
  }
}

TEST(Synth, UtilityMetricsSeparateACopyFromAShiftedTable) {
  Shop shop;
  const Table& real = shop.source.table;
  const auto same = eval::propensity_mse(real, real);
  EXPECT_LT(same.ratio, 0.1);  // identical tables: every propensity is the synthetic share
  Table shifted = real;
  Table moved("moved");
  for (Column c : real.columns()) {
    if (c.name == "price") {
      for (auto& v : c.values) v += 10;
    }
    moved.add_column(c);
  }
  EXPECT_GT(eval::propensity_mse(real, moved).ratio, 10.0);
  const auto e = eval::ml_efficacy(real, real, real, "region");
  EXPECT_EQ(e.task, "classification");
  EXPECT_DOUBLE_EQ(e.real_score, e.synthetic_score);
  const auto r = eval::ml_efficacy(real, real, real, "total");
  EXPECT_EQ(r.task, "regression");
  EXPECT_GT(r.real_score, 0.8);  // total is nearly linear in price and qty
}

// An identifier as the target (vega's us-state-capitals, whose last column names a city per row): every test value is
// new to the training rows. Named by the caller it is the caller's error; as the report's default target (the last
// column) the efficacy is left out with the reason and the other figures stand (synth used to fail on such tables).
TEST(Synth, AnIdentifierTargetLeavesTheEfficacyOutOfTheDefaultReport) {
  Shop shop;
  Table ids_last("ids_last");
  for (const auto& name : shop.source.table.names()) {
    if (name != "order_id") ids_last.add_column(shop.source.table.column(name));
  }
  ids_last.add_column(shop.source.table.column("order_id"));
  std::vector<int64_t> first, last;
  for (int64_t i = 0; i < 300; ++i) (i < 200 ? first : last).push_back(i);
  const Table train = take_rows(ids_last, first), test = take_rows(ids_last, last);
  try {
    eval::ml_efficacy(train, train, test, "order_id");
    FAIL() << "an identifier target was scored";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "machine-learning efficacy: none of the 100 test values of 'order_id' occurs in "
                                     "the training rows");
  }
  eval::TableReportOptions options;
  options.metrics = {"efficacy", "newrows"};
  // The default target passes over a last column of too many labels (the identifier) to one a model can learn.
  const auto measured = eval::table_report(ids_last, ids_last, nullptr, options);
  EXPECT_NE(measured["ml_efficacy_target"], "order_id");
  EXPECT_TRUE(measured.contains("ml_efficacy_synthetic"));
  // When every column has too many labels, the last one is tried, and a target no model can learn is left out.
  Table ids_only("ids");
  std::vector<std::string> refs;
  for (int64_t i = 0; i < 300; ++i) refs.push_back("ref" + std::to_string(i));
  ids_only.add_column(text_column("ref", refs));
  ids_only.add_column(shop.source.table.column("order_id"));
  const auto report = eval::table_report(ids_only, ids_only, nullptr, options);
  EXPECT_FALSE(report.contains("ml_efficacy_synthetic"));
  EXPECT_TRUE(report["details"]["ml_efficacy"]["skipped"].get<bool>());
  EXPECT_EQ(report["details"]["ml_efficacy"]["note"].get<std::string>(),
            "not measured: machine-learning efficacy: none of the 90 test values of 'order_id' occurs in the training "
            "rows");
  EXPECT_DOUBLE_EQ(report["new_row_synthesis"].get<double>(), 0.0);  // a copy: no new row
  options.target = "order_id";
  EXPECT_THROW(eval::table_report(ids_last, ids_last, nullptr, options), DataError);
}

}  // namespace
}  // namespace gf
