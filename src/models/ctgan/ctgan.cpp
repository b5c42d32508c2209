#include "genforge/models/ctgan.h"

#include <torch/torch.h>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/gan.h"
#include "models/tvae/mode_transformer.h"
#include "nn/neural.h"

namespace gf {

namespace {

// CTGAN's residual layer: [x, ReLU(BN(W x))].
struct ResidualImpl : torch::nn::Module {
  ResidualImpl(int64_t in, int64_t out)
      : fc(register_module("fc", torch::nn::Linear(in, out))), bn(register_module("bn", torch::nn::BatchNorm1d(out))) {}
  torch::Tensor forward(const torch::Tensor& x) { return torch::cat({torch::relu(bn->forward(fc->forward(x))), x}, 1); }
  torch::nn::Linear fc;
  torch::nn::BatchNorm1d bn;
};
TORCH_MODULE(Residual);

// One categorical column as a condition: its one-hot in the data, its place in the condition vector, and how
// often each category occurs.
struct Condition {
  int64_t data_start = 0, width = 0, offset = 0;
  std::vector<double> counts;
};

}  // namespace

struct Ctgan::Net : torch::nn::Module {
  Net(const tvae::ModeTransformer& t, const CtganOptions& o) : transformer(t), pac(o.pac) {
    for (const auto& c : t.columns()) {
      if (!c.categorical) continue;
      Condition cond;
      cond.data_start = c.spans[0].start, cond.width = c.spans[0].width, cond.offset = cond_dim;
      cond.counts.assign(static_cast<size_t>(cond.width), 0.0);
      conditions.push_back(cond);
      cond_dim += cond.width;
    }
    int64_t in = o.embedding_dim + cond_dim;
    for (auto h : parse_int_list("generator_dim", o.generator_dim)) {
      generator->push_back(Residual(in, h));
      in += h;
    }
    generator->push_back(torch::nn::Linear(in, t.width()));
    register_module("generator", generator);
    in = (t.width() + cond_dim) * o.pac;
    for (auto h : parse_int_list("discriminator_dim", o.discriminator_dim)) {
      critic_layers->push_back(torch::nn::Linear(in, h));
      in = h;
    }
    critic_layers->push_back(torch::nn::Linear(in, 1));
    register_module("critic", critic_layers);
  }

  // Scalars through tanh, one-hots through a Gumbel softmax at temperature 0.2 (noise from `gen`).
  torch::Tensor activate(const torch::Tensor& raw, at::Generator& gen) const {
    std::vector<torch::Tensor> parts;
    for (const auto& c : transformer.columns()) {
      for (const auto& s : c.spans) {
        auto part = raw.slice(1, s.start, s.start + s.width);
        if (s.scalar) {
          parts.push_back(torch::tanh(part));
        } else {
          parts.push_back(torch::softmax((part + gumbel(part.sizes(), gen, part.device())) / 0.2, 1));
        }
      }
    }
    return torch::cat(parts, 1);
  }
  static torch::Tensor gumbel(at::IntArrayRef sizes, at::Generator& gen, const torch::Device& device) {
    auto u = torch::rand(sizes, gen, torch::kFloat32).clamp(1e-10, 1 - 1e-7);
    return (-torch::log(-torch::log(u))).to(device);
  }
  // Critic values of rows [B, width + cond] judged `pac` at a time, dropout 0.5 with masks from `gen`. [B / pac]
  torch::Tensor critic(const torch::Tensor& rows, at::Generator* gen) const {
    auto h = rows.reshape({rows.size(0) / pac, -1});
    const auto& layers = critic_layers->children();
    for (size_t i = 0; i + 1 < layers.size(); ++i) {
      h = torch::leaky_relu(layers[i]->as<torch::nn::Linear>()->forward(h), 0.2);
      if (gen) h = h * (torch::rand(h.sizes(), *gen, torch::kFloat32) >= 0.5).to(h.device(), h.scalar_type()) * 2;
    }
    return layers.back()->as<torch::nn::Linear>()->forward(h).squeeze(1);
  }

  tvae::ModeTransformer transformer;
  int64_t pac, cond_dim = 0;
  std::vector<Condition> conditions;
  torch::nn::Sequential generator, critic_layers;
};

namespace {

// Conditions for `b` rows: a column uniformly, then a category by (log) frequency (training by sampling), or one
// (column, category) pair in proportion to the frequencies (`original`, for sampling). Returns the one-hot
// conditions [b, cond_dim] and each row's column and category.
struct Drawn {
  torch::Tensor vector;
  std::vector<int64_t> column, category;
};
Drawn draw_conditions(const Ctgan::Net& net, int64_t b, bool log_frequency, bool original, at::Generator& gen) {
  Drawn d;
  d.vector = torch::zeros({b, net.cond_dim}, torch::kFloat32);
  if (net.conditions.empty()) return d;
  auto u = torch::rand({b, 2}, gen, torch::kFloat64).contiguous();
  const double* pu = u.data_ptr<double>();
  const auto k = static_cast<int64_t>(net.conditions.size());
  auto pick = [](const std::vector<double>& w, double r) {
    double total = 0;
    for (double x : w) total += x;
    double acc = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      acc += w[i] / total;
      if (r < acc) return static_cast<int64_t>(i);
    }
    return static_cast<int64_t>(w.size()) - 1;
  };
  std::vector<double> all;  // original: every (column, category) by frequency
  if (original) {
    for (const auto& c : net.conditions) all.insert(all.end(), c.counts.begin(), c.counts.end());
  }
  for (int64_t i = 0; i < b; ++i) {
    int64_t col = 0, cat = 0;
    if (original) {
      int64_t flat = pick(all, pu[2 * i]);
      while (flat >= net.conditions[static_cast<size_t>(col)].width) flat -= net.conditions[static_cast<size_t>(col)].width, ++col;
      cat = flat;
    } else {
      col = std::min<int64_t>(k - 1, static_cast<int64_t>(pu[2 * i] * static_cast<double>(k)));
      std::vector<double> w = net.conditions[static_cast<size_t>(col)].counts;
      for (auto& x : w) x = log_frequency ? std::log(x + 1) : x;
      cat = pick(w, pu[2 * i + 1]);
    }
    d.column.push_back(col);
    d.category.push_back(cat);
    d.vector[i][net.conditions[static_cast<size_t>(col)].offset + cat] = 1;
  }
  return d;
}

class CtganTrainable : public train::Trainable {
 public:
  CtganTrainable(Ctgan::Net& net, const CtganOptions& o, torch::Tensor data) : net_(net), o_(o), data_(std::move(data)) {
    // Rows of each category of each categorical column, for drawing real rows that meet a condition.
    auto x = data_.cpu();
    for (const auto& c : net_.conditions) {
      auto codes = x.slice(1, c.data_start, c.data_start + c.width).argmax(1).contiguous();
      std::vector<std::vector<int64_t>> rows(static_cast<size_t>(c.width));
      const int64_t* pc = codes.data_ptr<int64_t>();
      for (int64_t i = 0; i < codes.size(0); ++i) rows[static_cast<size_t>(pc[i])].push_back(i);
      rows_.push_back(std::move(rows));
    }
  }
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"discriminator", net_.critic_layers->parameters()}, {"generator", net_.generator->parameters()}};
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }

  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    auto& gen = ctx.generator();
    const int64_t b = batch.x.size(0) / o_.pac * o_.pac;
    if (b == 0) return;  // fewer rows than pac in this batch
    const auto device = batch.x.device();
    // Critic step: fake rows under conditions c1, real rows drawn to meet a shuffled copy of them.
    auto c1 = draw_conditions(net_, b, o_.log_frequency, false, gen);
    auto perm = torch::randperm(b, gen, torch::kLong);
    torch::Tensor real;
    if (net_.conditions.empty()) {
      real = batch.x.slice(0, 0, b);
    } else {
      std::vector<int64_t> idx(static_cast<size_t>(b));
      auto u = torch::rand({b}, gen, torch::kFloat64);
      for (int64_t i = 0; i < b; ++i) {
        const int64_t p = perm[i].item<int64_t>();
        const auto& pool = rows_[static_cast<size_t>(c1.column[static_cast<size_t>(p)])][static_cast<size_t>(c1.category[static_cast<size_t>(p)])];
        idx[static_cast<size_t>(i)] = pool[std::min(pool.size() - 1, static_cast<size_t>(u[i].item<double>() * static_cast<double>(pool.size())))];
      }
      real = data_.index_select(0, torch::tensor(idx, torch::kLong).to(device));
    }
    auto cond1 = c1.vector.to(device), cond2 = c1.vector.index_select(0, perm).to(device);
    auto z = torch::randn({b, o_.embedding_dim}, gen, torch::kFloat32).to(device);
    auto fake = net_.activate(net_.generator->forward(torch::cat({z, cond1}, 1)), gen);
    auto real_rows = torch::cat({real, cond2}, 1), fake_rows = torch::cat({fake.detach(), cond1}, 1);
    auto d_real = net_.critic(real_rows, &gen), d_fake = net_.critic(fake_rows, &gen);
    auto alpha = torch::rand({b / o_.pac}, gen, torch::kFloat32).to(device);
    const int64_t packed = (fake_rows.size(1)) * o_.pac;
    auto penalty = gan::gradient_penalty(
        [&](const torch::Tensor& x) { return net_.critic(x.reshape({-1, fake_rows.size(1)}), &gen); },
        real_rows.reshape({-1, packed}), fake_rows.reshape({-1, packed}), alpha);
    auto distance = d_real.mean() - d_fake.mean();
    ctx.optimize("discriminator", -distance + o_.gp_weight * penalty);
    ctx.log("wasserstein_estimate", distance.item<double>());
    ctx.log("gradient_penalty", penalty.item<double>());
    // Generator step: new conditions and noise; the critic's verdict plus the conditions' cross-entropy.
    auto c3 = draw_conditions(net_, b, o_.log_frequency, false, gen);
    auto cond3 = c3.vector.to(device);
    auto raw = net_.generator->forward(torch::cat({torch::randn({b, o_.embedding_dim}, gen, torch::kFloat32).to(device), cond3}, 1));
    for (auto& p : net_.critic_layers->parameters()) p.requires_grad_(false);
    auto g_critic = net_.critic(torch::cat({net_.activate(raw, gen), cond3}, 1), &gen);
    for (auto& p : net_.critic_layers->parameters()) p.requires_grad_(true);
    auto loss = -g_critic.mean();
    if (!net_.conditions.empty()) {
      std::vector<torch::Tensor> ce;  // each row's chosen column, one cross-entropy call per column
      for (size_t j = 0; j < net_.conditions.size(); ++j) {
        std::vector<int64_t> rows, targets;
        for (int64_t i = 0; i < b; ++i) {
          if (c3.column[static_cast<size_t>(i)] == static_cast<int64_t>(j)) rows.push_back(i), targets.push_back(c3.category[static_cast<size_t>(i)]);
        }
        if (rows.empty()) continue;
        const auto& c = net_.conditions[j];
        auto logits = raw.index_select(0, torch::tensor(rows, torch::kLong).to(device)).slice(1, c.data_start, c.data_start + c.width);
        ce.push_back(torch::nn::functional::cross_entropy(
            logits, torch::tensor(targets, torch::kLong).to(device),
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)));
      }
      auto cond_loss = torch::stack(ce).sum() / static_cast<double>(b);
      loss = loss + cond_loss;
      ctx.log("condition_loss", cond_loss.item<double>());
    }
    ctx.optimize("generator", loss);
  }

  double eval_loss(const train::Batch& batch, at::Generator& gen) override {
    torch::NoGradGuard no_grad;
    const int64_t b = batch.x.size(0) / o_.pac * o_.pac;
    if (b == 0) return 0;
    auto c = draw_conditions(net_, b, o_.log_frequency, true, gen);
    return -net_.critic(torch::cat({batch.x.slice(0, 0, b), c.vector.to(batch.x.device())}, 1), nullptr).mean().item<double>();
  }

 private:
  Ctgan::Net& net_;
  const CtganOptions& o_;
  torch::Tensor data_;
  std::vector<std::vector<std::vector<int64_t>>> rows_;
};

}  // namespace

void CtganOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(embedding_dim >= 1, "embedding_dim must be at least 1, got ", embedding_dim);
  for (auto h : parse_int_list("generator_dim", generator_dim)) GF_CHECK(h >= 1, "generator_dim must be positive");
  for (auto h : parse_int_list("discriminator_dim", discriminator_dim)) GF_CHECK(h >= 1, "discriminator_dim must be positive");
  GF_CHECK(pac >= 1, "pac must be at least 1, got ", pac);
  GF_CHECK(batch_size % pac == 0, "batch_size must be a multiple of pac (", pac, "), got ", batch_size);
  GF_CHECK(gp_weight >= 0, "gp_weight must be >= 0, got ", gp_weight);
  GF_CHECK(max_modes >= 1, "max_modes must be at least 1, got ", max_modes);
}

const OptionTable<CtganOptions>& Ctgan::option_table() {
  static const OptionTable<CtganOptions> table = [] {
    OptionTable<CtganOptions> t("ctgan");
    t.add("embedding_dim", &CtganOptions::embedding_dim, "noise size")
        .add("generator_dim", &CtganOptions::generator_dim, "generator residual layers, e.g. 256,256")
        .add("discriminator_dim", &CtganOptions::discriminator_dim, "critic layers, e.g. 256,256")
        .add("pac", &CtganOptions::pac, "rows the critic judges together (PacGAN)")
        .add("gp_weight", &CtganOptions::gp_weight, "gradient penalty weight")
        .add("log_frequency", &CtganOptions::log_frequency, "training conditions by log frequency")
        .add("max_modes", &CtganOptions::max_modes, "mixture components per numeric column before pruning");
    train::add_train_options(t);
    return t;
  }();
  return table;
}

Ctgan::Ctgan(CtganOptions options) : options_(std::move(options)) {}
Ctgan::~Ctgan() = default;

Capabilities Ctgan::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::table;
  c.likelihood = Likelihood::none;
  c.missing_values = true;
  return c;
}

nlohmann::json Ctgan::options_json() const { return option_table().to_json(options_); }

FitReport Ctgan::fit(const Dataset& train, const FitContext& ctx) {
  options_.validate();
  GF_CHECK_AS(DataError, train.x.defined() && train.x.dim() == 2 && train.x.size(0) >= options_.pac,
              "give a table with at least pac rows", "CTGAN fits tables [N, D] with N >= pac (", options_.pac, ")");
  net_.reset();
  tvae::ModeTransformer transformer;
  transformer.fit(train.x, train.features, train.columns, options_.max_modes, options_.seed);
  auto gen = make_generator(static_cast<uint64_t>(options_.seed));
  auto x = transformer.transform(train.x, gen);  // [N, width]
  auto net = std::make_shared<Net>(transformer, options_);
  for (auto& c : net->conditions) {
    auto codes = x.slice(1, c.data_start, c.data_start + c.width).sum(0).to(torch::kFloat64).contiguous();
    c.counts.assign(codes.data_ptr<double>(), codes.data_ptr<double>() + c.width);
  }
  neural::init_like_pytorch(*net, gen);
  net->to(ctx.device);
  x = x.to(ctx.device);
  CtganTrainable trainable(*net, options_, x);
  report_ = train::run(trainable, {x, {}}, nullptr, options_, ctx);
  report_.objective_name = "generator loss (last logged)";
  report_.extra["width"] = transformer.width();
  if (report_.extra.contains("privacy")) {
    report_.extra["privacy"]["public"] = std::string(tvae::kModeTransformerPublicFacts) +
                                         ", and each category's frequency (training-by-sampling's conditions)";
  }
  net->eval();
  net_ = net;
  schema_ = {{"columns", train.columns}, {"dim", train.x.size(1)}};
  return report_;
}

torch::Tensor Ctgan::sample(int64_t n, at::Generator& gen) const { return generate(n, -1, -1, gen); }

torch::Tensor Ctgan::sample_within(int64_t n, const torch::Tensor& lo_in, const torch::Tensor& hi_in,
                                   at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train ctgan ...`)", "the CTGAN is not fitted");
  const auto& cols = net_->transformer.columns();
  const auto d = static_cast<int64_t>(cols.size());
  GF_CHECK(lo_in.numel() == d && hi_in.numel() == d, "conditions need ", d, " bounds per side");
  const auto lo = lo_in.to(torch::kFloat64).contiguous(), hi = hi_in.to(torch::kFloat64).contiguous();
  // The first fixed category becomes the generator's condition.
  int64_t condition = -1, category = -1, k = 0;
  for (int64_t j = 0; j < d; ++j) {
    if (!cols[static_cast<size_t>(j)].categorical) continue;
    const double l = lo[j].item<double>();
    if (condition < 0 && l == hi[j].item<double>()) condition = k, category = static_cast<int64_t>(l);
    ++k;
  }
  auto meets = [&](const torch::Tensor& rows) {
    auto ok = torch::ones({rows.size(0)}, torch::kBool);
    for (int64_t j = 0; j < d; ++j) {
      const double l = lo[j].item<double>(), h = hi[j].item<double>();
      if (std::isinf(l) && std::isinf(h) && l < 0 && h > 0) continue;
      auto v = rows.select(1, j);
      ok &= ~torch::isnan(v) & (v >= l) & (v <= h);
    }
    return ok;
  };
  std::vector<torch::Tensor> kept;
  int64_t have = 0, drawn = 0;
  while (have < n) {
    const int64_t batch = std::min<int64_t>(100000, 2 * (n - have) + 100);
    auto rows = generate(batch, condition, category, gen);
    auto ok = meets(rows);
    auto good = rows.index({ok});
    drawn += batch;
    if (good.size(0) > 0) kept.push_back(good.slice(0, 0, std::min(good.size(0), n - have))), have += kept.back().size(0);
    GF_CHECK(have >= n || drawn < 10000 || static_cast<double>(have) / static_cast<double>(drawn) >= 1e-4,
             "the conditions have (almost) no probability under the CTGAN model: ", have, " of ", drawn,
             " generated rows meet them");
  }
  return n == 0 ? torch::empty({0, d}, torch::kFloat64) : torch::cat(kept);
}

torch::Tensor Ctgan::generate(int64_t n, int64_t condition, int64_t category, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train ctgan ...`)", "the CTGAN is not fitted");
  GF_CHECK(n >= 0, "number of samples must be >= 0, got ", n);
  torch::NoGradGuard no_grad;
  const auto device = neural::device_of(*net_);
  auto c = draw_conditions(*net_, n, options_.log_frequency, true, gen);
  if (condition >= 0) {  // every row under the one condition asked for
    const auto& cond = net_->conditions[static_cast<size_t>(condition)];
    c.vector.zero_();
    c.vector.select(1, cond.offset + category).fill_(1);
  }
  auto z = torch::randn({n, options_.embedding_dim}, gen, torch::kFloat32).to(device);
  auto raw = net_->generator->forward(torch::cat({z, c.vector.to(device)}, 1));
  return net_->transformer.inverse(raw, {}, gen, /*draw_one_hots=*/true);  // as CTGAN's Gumbel softmax draws them
}

torch::Tensor Ctgan::score_samples(const torch::Tensor&) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first (`genforge train ctgan ...`)", "the CTGAN is not fitted");
  throw NotSupported("CTGAN gives no likelihood of table rows", "score tables with copula, bayesnet, gmm or flow");
}

TensorMap Ctgan::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "the CTGAN is not fitted");
  TensorMap out;
  neural::save_module(*net_, "", out);
  return out;
}

nlohmann::json Ctgan::state_json() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "the CTGAN is not fitted");
  nlohmann::json counts = nlohmann::json::array();
  for (const auto& c : net_->conditions) counts.push_back(c.counts);
  return {{"transformer", net_->transformer.to_json()}, {"condition_counts", counts}};
}

void Ctgan::load_state_json(const nlohmann::json& state) { saved_json_ = state; }

void Ctgan::load_state(const TensorMap& tensors) {
  GF_CHECK_AS(ModelFileError, saved_json_.contains("transformer"), "re-create the file with `genforge train ctgan`",
              "the CTGAN's data transformer is missing from the model file");
  auto net = std::make_shared<Net>(tvae::ModeTransformer::from_json(saved_json_["transformer"]), options_);
  const auto& counts = saved_json_.at("condition_counts");
  for (size_t j = 0; j < net->conditions.size(); ++j) net->conditions[j].counts = counts.at(j).get<std::vector<double>>();
  neural::load_module(*net, "", tensors);
  net->eval();
  net_ = net;
}

}  // namespace gf
