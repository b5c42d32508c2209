// Augmentation by interpolation in a model's latent space (SMOTE on codes), library level; the sampling method and
// the verb end to end are in tests/cli/apps_cli_test.cpp.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "genforge/apps/augment.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/matrix.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

// f must throw E with exactly this message (and a hint).
template <class E, class F>
void expect_refused(F&& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const E& e) {
    EXPECT_EQ(std::string(e.what()), message);
    EXPECT_FALSE(e.hint().empty()) << message;
  }
}

// Indices of the k nearest rows of `targets` [P, L] to `code` [L], leaving out row `skip` (brute force).
std::vector<int64_t> nearest_rows(const torch::Tensor& targets, const torch::Tensor& code, int64_t skip, int64_t k) {
  const auto d = (targets - code).pow(2).sum(1);  // [P]
  std::vector<int64_t> order;
  for (int64_t j = 0; j < targets.size(0); ++j) {
    if (j != skip) order.push_back(j);
  }
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return d[a].item<double>() < d[b].item<double>(); });
  order.resize(static_cast<size_t>(k));
  return order;
}

// Whether `point` lies on a segment from `from` towards one of `ends`' rows `candidates`, at 0 <= t < 1.
bool on_a_segment(const torch::Tensor& point, const torch::Tensor& from, const torch::Tensor& ends,
                  const std::vector<int64_t>& candidates) {
  const auto offset = point - from;
  for (const int64_t j : candidates) {
    const auto direction = ends[j] - from;
    const double t = offset.dot(direction).item<double>() / direction.dot(direction).item<double>();
    if (t >= 0 && t < 1 && (offset - t * direction).abs().max().item<double>() < 1e-12) return true;
  }
  return false;
}

TEST(InterpolateCodes, EveryCodeLiesBetweenItsBaseAndOneOfItsNearestNeighbours) {
  auto gen = make_generator(3);
  const auto codes = torch::randn({30, 3}, gen, torch::kFloat64);
  const int64_t k = 3;
  auto draw = make_generator(11);
  const auto r = apps::interpolate_codes(codes, 200, k, draw);
  ASSERT_EQ(r.codes.sizes(), torch::IntArrayRef({200, 3}));
  ASSERT_EQ(r.base.sizes(), torch::IntArrayRef({200}));
  std::set<int64_t> bases;
  for (int64_t s = 0; s < 200; ++s) {
    const int64_t b = r.base[s].item<int64_t>();
    bases.insert(b);
    // codes[b] + t (codes[j] - codes[b]) for one of b's 3 nearest j, 0 <= t < 1
    EXPECT_TRUE(on_a_segment(r.codes[s], codes[b], codes, nearest_rows(codes, codes[b], b, k))) << s;
  }
  EXPECT_GT(bases.size(), 25u);  // bases drawn uniformly over the 30 codes
  // Seeded: the same generator seed gives the same codes.
  auto again = make_generator(11);
  EXPECT_TRUE(torch::equal(apps::interpolate_codes(codes, 200, k, again).codes, r.codes));
  // k beyond M - 1 uses every other code; two codes interpolate towards each other.
  const auto two = codes.slice(0, 0, 2);
  const auto pair = apps::interpolate_codes(two, 50, 5, draw);
  for (int64_t s = 0; s < 50; ++s) {
    const auto b = pair.base[s].item<int64_t>();
    const auto direction = two[1 - b] - two[b];
    const double t = (pair.codes[s] - two[b]).dot(direction).item<double>() / direction.dot(direction).item<double>();
    EXPECT_TRUE(t >= 0 && t < 1) << t;
  }
  expect_refused<InvalidArgument>([&] { apps::interpolate_codes(codes.slice(0, 0, 1), 5, 3, draw); },
                                      "interpolation needs codes [M >= 2, L], got [1, 3]");
}

TEST(InterpolateCodes, TowardsOtherCodesSkipsTheCodeItself) {
  // Targets: 20 other codes, and a copy of each code as another batch may compute it (off in the 8th digit).
  auto gen = make_generator(4);
  const auto codes = torch::randn({5, 2}, gen, torch::kFloat64);
  const auto targets = torch::cat({torch::randn({20, 2}, gen, torch::kFloat64), codes + 1e-8});
  auto draw = make_generator(1);
  const auto r = apps::interpolate_codes(codes, 100, 2, draw, targets);
  for (int64_t s = 0; s < 100; ++s) {
    const int64_t b = r.base[s].item<int64_t>();
    EXPECT_TRUE(on_a_segment(r.codes[s], codes[b], targets, nearest_rows(targets, codes[b], 20 + b, 2))) << s;
  }
  // One labelled code is enough when the neighbours come from elsewhere.
  EXPECT_EQ(apps::interpolate_codes(codes.slice(0, 0, 1), 3, 2, draw, targets).codes.size(0), 3);
  expect_refused<InvalidArgument>([&] { apps::interpolate_codes(codes, 3, 2, draw, torch::zeros({4, 3})); },
                                  "codes [5, 2] and targets [4, 3]");
}

// Two classes of rows: "low" around (0, 0) along a line, "high" around (6, 6).
data::Source two_clusters(int64_t per_class) {
  auto gen = make_generator(5);
  const auto t = torch::rand({2 * per_class, 1}, gen, torch::kFloat64);
  auto x = torch::cat({t * 2, t * 2 + 0.1 * torch::randn({2 * per_class, 1}, gen, torch::kFloat64)}, 1);
  x.slice(0, per_class).add_(6.0);
  data::Source s;
  s.spec = "clusters";
  s.form = DataKind::table;
  s.table = table_from_matrix(x, {"a", "b"});
  Column kind{"kind"};
  kind.type = ColumnType::categorical;
  kind.categories = {"low", "high"};
  for (int64_t i = 0; i < 2 * per_class; ++i) {
    kind.values.push_back(i < per_class ? 0 : 1);
    kind.missing.push_back(0);
  }
  s.table.add_column(std::move(kind));
  return s;
}

TEST(AugmentInterpolate, TableRowsStayInTheirClassAndFlowsNeedNoDetailKept) {
  const auto data = two_clusters(40);
  apps::AugmentOptions o;
  o.method = "interpolate";
  o.model = "flow";
  o.sets = {{"epochs", "30"}, {"layers", "2"}, {"hidden", "16"}};
  o.label_column = "kind";
  o.per_class = 25;
  o.seed = 2;
  const auto a = apps::augment(data, o, test::quiet());
  EXPECT_EQ(a.method, "SMOTE in a flow's latent space");
  const Table& t = a.synthetic.table;
  ASSERT_EQ(t.n_rows(), 50u);
  EXPECT_EQ(t.names(), (std::vector<std::string>{"a", "b", "kind", "origin"}));
  for (size_t i = 0; i < t.n_rows(); ++i) {
    const bool high = t.column("kind").values[i] == 1;
    // A flow decodes its codes exactly, so points between two same-class codes stay near that class's rows.
    EXPECT_NEAR(t.column("a").values[i], high ? 7.0 : 1.0, 1.6) << i;
    EXPECT_NEAR(t.column("b").values[i], high ? 7.0 : 1.0, 1.6) << i;
  }
  // A flow decodes each code back to its example, so keeping the example's detail changes nothing.
  auto flow = create_model("flow", {}, {{"epochs", "30"}, {"layers", "2"}, {"hidden", "16"}, {"columns", "a,b"}});
  fit_source(*flow, data, test::quiet());
  o.trained = flow.get();
  const auto plain = apps::augment(data, o, test::quiet());
  o.keep_detail = true;
  const auto kept = apps::augment(data, o, test::quiet());
  for (const char* column : {"a", "b"}) {
    for (size_t i = 0; i < 50; ++i) {
      EXPECT_NEAR(plain.synthetic.table.column(column).values[i], kept.synthetic.table.column(column).values[i], 1e-4);
    }
  }
  // Towards an unlabelled row at (3.5, 3.5), between the classes: each class's new rows leave the class's own range
  // in its direction (the flow bends the segment, not its ends).
  data::Source pool;
  pool.spec = "pool";
  pool.form = DataKind::table;
  pool.table = table_from_matrix(torch::full({1, 2}, 3.5, torch::kFloat64), {"a", "b"});
  o.keep_detail = false;
  o.towards = &pool;
  const auto toward = apps::augment(data, o, test::quiet()).synthetic.table;
  int low_beyond = 0, high_beyond = 0;
  for (size_t i = 0; i < toward.n_rows(); ++i) {
    const double a = toward.column("a").values[i];
    const bool high = toward.column("kind").values[i] == 1;
    EXPECT_TRUE(high ? (a > 3.0 && a < 8.5) : (a > -0.5 && a < 4.0)) << i << " " << a;
    (high ? high_beyond : low_beyond) += high ? a < 5.9 : a > 2.1;
  }
  EXPECT_GE(low_beyond, 6);
  EXPECT_GE(high_beyond, 6);
  o.towards = nullptr;
  // A model that reads the class column, a class of one row, a model without an encoder, an unknown method.
  auto reads_kind = create_model("flow", {}, {{"epochs", "1"}, {"categorical", "onehot"}});
  fit_source(*reads_kind, data, test::quiet());
  o.trained = reads_kind.get();
  expect_refused<InvalidArgument>([&] { apps::augment(data, o, test::quiet()); },
                                      "the flow model reads the class column 'kind' as an input");
  auto one_high = data;
  one_high.table = take_rows(data.table, [] {
    std::vector<int64_t> rows(41);
    std::iota(rows.begin(), rows.end(), 0);
    return rows;
  }());
  o.trained = flow.get();
  expect_refused<InvalidArgument>([&] { apps::augment(one_high, o, test::quiet()); },
                                      "class 'high' has 1 complete example: interpolation needs two");
  o.trained = nullptr;
  o.model = "gmm";
  o.sets = {};
  expect_refused<NotSupported>([&] { apps::augment(data, o, test::quiet()); },
                                   "a gmm model has no encoder and decoder to interpolate codes with");
  o.method = "mix";
  expect_refused<InvalidArgument>([&] { apps::augment(data, o, test::quiet()); },
                                      "unknown augmentation method 'mix'");
}

TEST(AugmentInterpolate, KeepingDetailGivesBackAClassOfIdenticalImagesExactly) {
  // Class 0: eight copies of one image; class 1: eight different images. An autoencoder of 60 steps decodes
  // blurred means, but the decoded change between equal codes is zero, so keep_detail returns the image itself.
  data::SourceOptions so;
  so.limit = 9;
  auto data = data::load_source("fashion-mnist:test", DataKind::images, so);
  auto& set = data.images;
  const auto copies = set.images[0].unsqueeze(0).repeat({8, 1, 1, 1});
  set.images = torch::cat({copies, set.images.slice(0, 1, 9)});
  set.labels = torch::cat({torch::zeros({8}, torch::kLong), torch::ones({8}, torch::kLong)});
  set.class_names = {"copied", "varied"};
  auto ae = create_model("autoencoder", {}, {{"epochs", "60"}, {"hidden", "32"}, {"latent", "4"}});
  fit_source(*ae, data, test::quiet());
  apps::AugmentOptions o;
  o.method = "interpolate";
  o.trained = ae.get();
  o.per_class = 6;
  const auto blurred = apps::augment(data, o, test::quiet());
  o.keep_detail = true;
  const auto kept = apps::augment(data, o, test::quiet());
  const auto& b = blurred.synthetic.images;
  const auto& k = kept.synthetic.images;
  ASSERT_EQ(k.images.sizes(), torch::IntArrayRef({12, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(k.labels, torch::cat({torch::zeros({6}, torch::kLong), torch::ones({6}, torch::kLong)})));
  const auto original = set.images[0].to(torch::kInt32);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_LE((k.images[i].to(torch::kInt32) - original).abs().max().item<int>(), 1) << i;  // rounding only
    EXPECT_GT((b.images[i].to(torch::kInt32) - original).abs().to(torch::kFloat64).mean().item<double>(), 5.0) << i;
  }
  // The varied class gets new images, not copies of its examples (one drawn near its start may come close).
  int64_t new_images = 0;
  for (int64_t i = 6; i < 12; ++i) {
    double closest = 1e9;
    for (int64_t j = 8; j < 16; ++j) {
      const auto diff = k.images[i].to(torch::kFloat64) - set.images[j].to(torch::kFloat64);
      closest = std::min(closest, diff.abs().mean().item<double>());
    }
    new_images += closest > 1.0;
  }
  EXPECT_GE(new_images, 4);
  // A given model samples images by class only when it is class-conditional.
  o.method = "sample";
  expect_refused<InvalidArgument>([&] { apps::augment(data, o, test::quiet()); },
                                      "the given autoencoder model draws 0 classes; the data has 2");
}

TEST(AugmentSemiSupervised, UnlabelledImagesTrainTheModelThatDrawsEachClass) {
  // Trousers (class 0) and bags (class 1): two labelled images each, and 150-odd unlabelled ones of both. The
  // semi-supervised VAE trained on them together draws each class looking like that class's mean image (15 of
  // the 16 drawn here; a faint bag may sit nearer the trousers' mean).
  data::SourceOptions so;
  so.limit = 400;
  auto all = data::load_source("fashion-mnist:test", DataKind::images, so);
  const auto y = all.images.labels.to(torch::kLong);
  const auto trousers = (y == 1).nonzero().reshape({-1}), bags = (y == 8).nonzero().reshape({-1});
  auto pick = [&](const torch::Tensor& rows) { return all.images.images.index_select(0, rows); };
  data::Source labelled = all;
  labelled.images.images = torch::cat({pick(trousers.slice(0, 0, 2)), pick(bags.slice(0, 0, 2))});
  labelled.images.labels = torch::tensor({0, 0, 1, 1}, torch::kLong);
  labelled.images.class_names = {"trouser", "bag"};
  labelled.images.files.clear();
  data::Source unlabelled = all;
  unlabelled.images.images = torch::cat({pick(trousers.slice(0, 2)), pick(bags.slice(0, 2))});
  unlabelled.images.labels = torch::Tensor();
  unlabelled.images.files.clear();
  apps::AugmentOptions o;
  o.model = "vae";
  o.sets = {{"hidden", "64"}, {"latent", "4"}, {"max_steps", "150"}, {"batch_size", "32"}, {"lr", "3e-3"}};
  o.unlabelled = &unlabelled;
  o.per_class = 8;
  const auto a = apps::augment(labelled, o, test::quiet());
  EXPECT_EQ(a.method, "semi-supervised vae");
  const auto& s = a.synthetic.images;
  ASSERT_EQ(s.images.sizes(), torch::IntArrayRef({16, 1, 28, 28}));
  const auto mean_of = [](const torch::Tensor& x) { return x.to(torch::kFloat64).mean(0); };
  const auto trouser_mean = mean_of(pick(trousers)), bag_mean = mean_of(pick(bags));
  int64_t like_their_class = 0;  // nearer their class's mean image than the other's
  for (int64_t i = 0; i < 16; ++i) {
    const auto image = s.images[i].to(torch::kFloat64);
    const double to_trouser = (image - trouser_mean).pow(2).mean().item<double>();
    const double to_bag = (image - bag_mean).pow(2).mean().item<double>();
    like_their_class += (to_trouser < to_bag) == (s.labels[i].item<int64_t>() == 0);
  }
  EXPECT_GE(like_their_class, 14);
  // Refusals: a model that does not learn from unlabelled images, interpolation, another image size.
  o.model = "autoencoder";
  o.sets = {};
  expect_refused<NotSupported>([&] { apps::augment(labelled, o, test::quiet()); },
                               "model kind 'autoencoder' does not learn from unlabelled examples");
  o.model = "vae";
  o.method = "interpolate";
  expect_refused<InvalidArgument>([&] { apps::augment(labelled, o, test::quiet()); },
                                  "--unlabelled applies to a model trained here by --method sample");
  o.method = "sample";
  unlabelled.images.images = torch::zeros({3, 1, 14, 14}, torch::kByte);
  expect_refused<InvalidArgument>([&] { apps::augment(labelled, o, test::quiet()); },
                                  "unlabelled images are [1, 14, 14], the labelled ones [1, 28, 28]");
}

}  // namespace
}  // namespace gf
