// Bayesian network: planted structures and conditional tables recovered, point masses kept, conditioning agrees with
// the planted conditionals, PrivBayes runs under its budget, and clear errors.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <functional>
#include <set>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"
#include "genforge/models/bayesnet.h"
#include "support/support.h"

namespace gf {
namespace {

using test::quiet;

// A -> B -> C over categories (3, 3, 2 levels), D = 0 with probability 0.6 else exponential (independent), and
// E = B + noise (numeric, many values).
Dataset planted_chain(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto u = torch::rand({n, 5}, gen, torch::kFloat64);
  auto a = (u.select(1, 0) > 0.5).to(torch::kFloat64) + (u.select(1, 0) > 0.8).to(torch::kFloat64);  // 0.5/0.3/0.2
  // B copies A with probability 0.8, else uniform.
  auto b = torch::where(u.select(1, 1) < 0.8, a, torch::floor(u.select(1, 2) * 3));
  // C = 1 with probability 0.9 when B = 2, else 0.1.
  auto c = (u.select(1, 3) < torch::where(b == 2, torch::full_like(b, 0.9), torch::full_like(b, 0.1))).to(torch::kFloat64);
  auto d = torch::where(u.select(1, 4) < 0.6, torch::zeros_like(b), -torch::log(torch::rand({n}, gen, torch::kFloat64)));
  auto e = b * 10 + torch::randn({n}, gen, torch::kFloat64);
  Dataset ds{torch::stack({a, b, c, d, e}, 1), {}, {"A", "B", "C", "D", "E"}};
  ds.features = {{"A", ColumnType::categorical, "ordinal", 3}, {"B", ColumnType::categorical, "ordinal", 3},
                 {"C", ColumnType::categorical, "ordinal", 2}, {"D"}, {"E"}};
  return ds;
}

std::set<std::pair<int64_t, int64_t>> skeleton(const BayesianNetwork& net) {
  std::set<std::pair<int64_t, int64_t>> out;
  for (auto [p, c] : net.edges()) out.insert({std::min(p, c), std::max(p, c)});
  return out;
}

TEST(BayesNet, HillClimbingAndChowLiuRecoverThePlantedSkeleton) {
  const auto d = planted_chain(20000, 1);
  const std::set<std::pair<int64_t, int64_t>> chain = {{0, 1}, {1, 2}, {1, 4}};
  BayesianNetwork k2;
  k2.fit(d, quiet());
  EXPECT_EQ(skeleton(k2), chain);
  BayesNetOptions tree;
  tree.structure = "chow_liu";
  BayesianNetwork cl(tree);
  cl.fit(d, quiet());
  auto s = skeleton(cl);
  for (const auto& e : chain) EXPECT_TRUE(s.count(e)) << e.first << "-" << e.second;
  EXPECT_EQ(s.size(), 4u);  // a spanning tree over 5 columns: D joins somewhere
  const auto dot = k2.graphviz();
  EXPECT_NE(dot.find("digraph"), std::string::npos);
  EXPECT_NE(dot.find("\"B\""), std::string::npos);
}

TEST(BayesNet, SamplesReproduceConditionalsPointMassesAndConditioning) {
  BayesianNetwork net;
  net.fit(planted_chain(20000, 2), quiet());
  auto gen = make_generator(3);
  auto s = net.sample(40000, gen);
  auto b = s.select(1, 1), c = s.select(1, 2);
  EXPECT_NEAR((c.index({b == 2}) == 1).to(torch::kFloat64).mean().item<double>(), 0.9, 0.02);
  EXPECT_NEAR((c.index({b == 0}) == 1).to(torch::kFloat64).mean().item<double>(), 0.1, 0.02);
  EXPECT_NEAR((s.select(1, 3) == 0).to(torch::kFloat64).mean().item<double>(), 0.6, 0.015);  // the point mass at 0
  EXPECT_GT((s.select(1, 3) > 0).to(torch::kFloat64).mean().item<double>(), 0.35);
  // Fixed category of B: C follows P(C | B = 2); a range on E (which follows B) pushes B up.
  const double inf = INFINITY;
  auto lo = torch::tensor({-inf, 2.0, -inf, -inf, -inf}, torch::kFloat64);
  auto hi = torch::tensor({inf, 2.0, inf, inf, inf}, torch::kFloat64);
  auto given = net.sample_within(5000, lo, hi, gen);
  EXPECT_TRUE((given.select(1, 1) == 2).all().item<bool>());
  EXPECT_NEAR((given.select(1, 2) == 1).to(torch::kFloat64).mean().item<double>(), 0.9, 0.03);
  auto range_lo = torch::tensor({-inf, -inf, -inf, -inf, 15.0}, torch::kFloat64);
  auto range_hi = torch::tensor({inf, inf, inf, inf, inf}, torch::kFloat64);
  auto high = net.sample_within(3000, range_lo, range_hi, gen);
  EXPECT_TRUE((high.select(1, 4) >= 15.0).all().item<bool>());
  // (Exactly 1 in the data; a quantile bin that straddles 15 mixes B = 1 and B = 2 rows, weighted by its share.)
  EXPECT_GT((high.select(1, 1) == 2).to(torch::kFloat64).mean().item<double>(), 0.9);
  // Missing cells filled given the others: B from A = 2 (and E), C from B.
  auto query = torch::tensor({2.0, std::nan(""), std::nan(""), 0.0, std::nan("")}, torch::kFloat64).reshape({1, 5}).repeat({2000, 1});
  auto filled = net.conditional_sample(query, gen);
  EXPECT_TRUE((filled.select(1, 0) == 2).all().item<bool>());
  EXPECT_FALSE(torch::isnan(filled).any().item<bool>());
  // P(B = 2 | A = 2) = 0.8 + 0.2 / 3.
  EXPECT_NEAR((filled.select(1, 1) == 2).to(torch::kFloat64).mean().item<double>(), 0.8 + 0.2 / 3, 0.03);
}

TEST(BayesNet, PrivBayesStatesItsBudgetAndApproachesTheDataAtLargeEpsilon) {
  const auto d = planted_chain(5000, 4);
  BayesNetOptions o;
  o.dp_epsilon = 1.0;
  BayesianNetwork net(o);
  const auto r = net.fit(d, quiet());
  ASSERT_TRUE(r.extra.contains("privacy"));
  EXPECT_DOUBLE_EQ(r.extra["privacy"]["epsilon"].get<double>(), 1.0);
  o.dp_epsilon = 1e5;
  BayesianNetwork loose(o);
  loose.fit(d, quiet());
  auto gen = make_generator(5);
  auto s = loose.sample(20000, gen);
  auto b = s.select(1, 1), c = s.select(1, 2);
  EXPECT_NEAR((c.index({b == 2}) == 1).to(torch::kFloat64).mean().item<double>(), 0.9, 0.05);
}

// PrivBayes' equal-width bins span a private range, so one extreme row neither stretches the bins nor shows in
// the samples; a declared range is cut as given.
TEST(BayesNet, PrivBayesBinsAPrivateRangeThatAnExtremeRowDoesNotMove) {
  auto d = planted_chain(3000, 7);
  d.x = d.x.clone();
  d.x[0][4] = 1e7;  // "E": 10 B + noise elsewhere, in [-4, 25]
  BayesNetOptions o;
  o.dp_epsilon = 2.0;
  BayesianNetwork net(o);
  const auto r = net.fit(d, quiet());
  const auto& e = r.extra["privacy"]["ranges"]["columns"]["E"];
  EXPECT_EQ(e["how"], "private");
  EXPECT_LE(e["hi"].get<double>(), 64);
  EXPECT_GE(e["lo"].get<double>(), -8);
  auto gen = make_generator(2);
  const auto e_samples = net.sample(5000, gen).select(1, 4);
  EXPECT_LE(e_samples.masked_select(~torch::isnan(e_samples)).max().item<double>(), 64);
  o.dp_bounds = "E:-5..30,D:0..10";
  BayesianNetwork declared(o);
  const auto rd = declared.fit(d, quiet());
  EXPECT_EQ(rd.extra["privacy"]["ranges"]["epsilon"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(rd.extra["privacy"]["structure_epsilon"].get<double>(), 2.0 * o.dp_structure_share);
  const auto s = declared.sample(5000, gen).select(1, 4);
  EXPECT_GE(s.masked_select(~torch::isnan(s)).min().item<double>(), -5);
  EXPECT_LE(s.masked_select(~torch::isnan(s)).max().item<double>(), 30);
}

TEST(BayesNet, RefusesConstantCategoriesEmptyColumnsAndOneHot) {
  auto d = planted_chain(300, 6);
  auto single = d;
  single.x = d.x.clone();
  single.x.select(1, 2).fill_(0);
  single.features[2].n_categories = 1;
  EXPECT_THROW(BayesianNetwork().fit(single, quiet()), DataError);
  // One level with missing cells is a flag (set or not): fitted, its missing rate kept.
  auto flag = single;
  flag.x = single.x.clone();
  flag.x.select(1, 2).slice(0, 0, 75).fill_(NAN);  // 75 of 300 unset
  BayesianNetwork flagged;
  flagged.fit(flag, quiet());
  auto flag_gen = make_generator(2);
  const auto drawn = flagged.sample(4000, flag_gen).select(1, 2);
  EXPECT_NEAR(drawn.isnan().to(torch::kFloat64).mean().item<double>(), 0.25, 0.03);
  EXPECT_TRUE((drawn.masked_select(drawn.isnan().logical_not()) == 0).all().item<bool>());
  auto empty = d;
  empty.x = d.x.clone();
  empty.x.select(1, 4).fill_(NAN);
  EXPECT_THROW(BayesianNetwork().fit(empty, quiet()), DataError);
  auto onehot = d;
  onehot.features[0].encoding = "onehot";
  EXPECT_THROW(BayesianNetwork().fit(onehot, quiet()), DataError);
  BayesianNetwork net;
  net.fit(d, quiet());
  auto gen = make_generator(0);
  const double inf = INFINITY;
  EXPECT_THROW(net.sample_within(5, torch::tensor({-inf, -inf, -inf, -inf, 1e6}, torch::kFloat64),
                                 torch::tensor({inf, inf, inf, inf, inf}, torch::kFloat64), gen),
               InvalidArgument);
}

// A damaged file is refused on load with the part named, not at the first draw: a sampling order that repeats a
// variable, a parent that is no variable, a binned column whose states and edges disagree, a table of another shape.
TEST(BayesNet, DamagedStructureOrTablesAreRefusedOnLoad) {
  BayesianNetwork net;
  net.fit(planted_chain(300, 7), quiet());
  test::TempDir dir;
  save_model(net, dir.file("m.gf"));
  const auto whole = read_model_file(dir.file("m.gf"));
  const auto refused = [&](const std::function<void(ModelFileContents&)>& damage, const std::string& message) {
    auto c = whole;
    damage(c);
    write_model_file(dir.file("bad.gf"), c);
    try {
      load_model(dir.file("bad.gf"));
      ADD_FAILURE() << "loaded; expected: " << message;
    } catch (const ModelFileError& e) {
      EXPECT_EQ(std::string(e.what()), "'" + dir.file("bad.gf") + "': stored model is inconsistent: " + message);
    }
  };
  refused([](ModelFileContents& c) { c.extra["order"] = {0, 0, 1, 2, 3}; },
          "the sampling order is not a permutation of the 5 variables (0 at position 1)");
  refused([](ModelFileContents& c) { c.extra["variables"][2]["parents"] = {7}; },
          "variable 2 has parent 7, which is not a variable sampled before it");
  refused([](ModelFileContents& c) { c.extra["variables"][4]["n_values"] = 1000; },
          "variable 'E' has 1000 states for " + std::to_string(whole.extra["variables"][4]["masses"].size()) +
              " point masses, " + std::to_string(whole.extra["variables"][4]["edges"].size()) + " bin edges and " +
              std::to_string(whole.extra["variables"][4]["knots"].size()) + " bins' knots");
  refused([](ModelFileContents& c) { c.tensors["cpt.0.fallback"] = torch::full({5}, 0.2, torch::kFloat64); },
          "tensor 'cpt.0.fallback' has shape [5], expected [3]");
  refused([](ModelFileContents& c) { c.tensors.erase("cpt.2.probs"); }, "tensor 'cpt.2.probs' is missing");
  // The fuzzer's (session 24): a kind outside the enumerators, refused before it becomes one (UBSan: invalid load).
  refused([](ModelFileContents& c) { c.extra["variables"][1]["kind"] = 5; }, "variable 'B' has an unknown kind 5");
}

}  // namespace
}  // namespace gf
