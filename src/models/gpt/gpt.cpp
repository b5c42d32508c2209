#include "genforge/models/gpt.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

#include "nn/neural.h"
#include "net.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"

namespace gf {

GptOptions::GptOptions() {
  optimizer = "adamw";
  lr = 1e-3;
  beta2 = 0.99;
  weight_decay = 0.1;  // on matrices only (embeddings included), as nanoGPT
  clip_grad_norm = 1.0;
  batch_size = 32;
  max_steps = 2000;  // an epoch is every start offset of the text: far more than a run needs
  schedule = "cosine";
  warmup_steps = 100;
  min_lr_ratio = 0.1;
}

void GptOptions::validate() const {
  train::TrainOptions::validate();
  GF_CHECK(n_layer >= 1 && n_head >= 1 && n_embd >= 1 && block_size >= 2, "n_layer, n_head, n_embd must be >= 1 ",
           "and block_size >= 2, got ", n_layer, ", ", n_head, ", ", n_embd, ", ", block_size);
  GF_CHECK(n_embd % n_head == 0, "n_embd (", n_embd, ") must be divisible by n_head (", n_head, ")");
  GF_CHECK(vocab_size >= 0, "vocab_size must be 0 (from the data) or positive, got ", vocab_size);
  GF_CHECK(start_token >= -1, "start_token must be a token id (or -1: from the data), got ", start_token);
  GF_CHECK(lora_rank >= 0, "lora_rank must be >= 0 (0: no adapters), got ", lora_rank);
  GF_CHECK(lora_alpha > 0, "lora_alpha must be positive, got ", lora_alpha);
  if (lora_rank > 0) {
    bool any = false;
    for (const char* m : {"attn_c_attn", "attn_c_proj", "mlp_c_fc", "mlp_c_proj"}) any = any || lora_targets_matrix(lora_targets, m);
    GF_CHECK(any, "lora_targets '", lora_targets, "' names none of attn_c_attn, attn_c_proj, mlp_c_fc, mlp_c_proj");
  }
}

bool lora_targets_matrix(const std::string& targets, const std::string& matrix) {
  size_t start = 0;
  while (start <= targets.size()) {
    const size_t comma = targets.find(',', start);
    const std::string glob = targets.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!glob.empty() && fnmatch(glob.c_str(), matrix.c_str(), 0) == 0) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}



namespace {

torch::Tensor token_stream(const torch::Tensor& x, int64_t vocab, const char* what) {
  GF_CHECK(x.defined() && (x.dim() == 1 || (x.dim() == 2 && x.size(1) == 1)), "text for ", what,
           " is one column of token ids [N, 1], got shape ", x.defined() ? x.sizes() : at::IntArrayRef{});
  auto ids = x.reshape({-1});
  if (ids.is_floating_point()) {
    GF_CHECK_AS(DataError, (ids == ids.round()).all().item<bool>() && ids.isfinite().all().item<bool>(),
                "token ids are integers 0, 1, ...", "the text for ", what, " holds values that are not token ids");
  }
  ids = ids.to(torch::kLong).cpu();
  GF_CHECK_AS(DataError, ids.numel() > 0, "give some text", "the text for ", what, " is empty");
  if (vocab > 0) {
    auto bad = ((ids < 0) | (ids >= vocab)).nonzero();
    GF_CHECK_AS(DataError, bad.numel() == 0, "use the tokenizer the model was trained with",
                "token id ", bad.numel() ? ids[bad[0].item<int64_t>()].item<int64_t>() : 0, " at position ",
                bad.numel() ? bad[0].item<int64_t>() : 0, " is outside the model's vocabulary of ", vocab,
                " tokens");
  } else {
    GF_CHECK_AS(DataError, (ids >= 0).all().item<bool>(), "token ids are 0, 1, ...", "negative token id in ", what);
  }
  return ids;
}

// Windows of block + 1 tokens (inputs and their next-token targets) starting every `stride` tokens, as a view
// of the stream (no copy): with stride 1 every start offset is an example, as nanoGPT's random offsets. [W, block + 1]
torch::Tensor windows(const torch::Tensor& ids, int64_t block, int64_t stride, const char* what) {
  const int64_t n = ids.numel();
  GF_CHECK_AS(DataError, n >= block + 1, "give more text or lower block_size", "the text for ", what, " has ", n,
              " tokens; one training window needs block_size + 1 = ", block + 1);
  return ids.unfold(0, block + 1, stride);
}

class GptTrainable : public train::Trainable {
 public:
  explicit GptTrainable(Gpt::Net& net) : net_(net) {}
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> parameter_groups() override {
    return {{"model", net_.parameters()}};
  }
  nlohmann::json group_options(const std::string&) const override { return {{"decay_matrices_only", true}}; }
  std::vector<std::pair<std::string, torch::Tensor>> named_state() override { return neural::named_tensors(net_); }
  void set_training(bool on) override { net_.train(on); }
  torch::Tensor loss(const train::Batch& b) {
    auto x = b.x.to(net_.wte.device());  // windows stay on the CPU (a view of the text); batches travel
    auto input = x.slice(1, 0, x.size(1) - 1), target = x.slice(1, 1, x.size(1));
    auto logits = net_.logits(input);  // [B, T, V]
    return torch::cross_entropy_loss(logits.reshape({-1, net_.vocab}), target.reshape({-1}));
  }
  void train_step(const train::Batch& batch, train::StepContext& ctx) override {
    ctx.optimize("model", loss(batch));
  }
  double eval_loss(const train::Batch& batch, at::Generator&) override { return loss(batch).item<double>(); }

 private:
  Gpt::Net& net_;
};

}  // namespace

const OptionTable<GptOptions>& Gpt::option_table() {
  static const OptionTable<GptOptions> table = [] {
    OptionTable<GptOptions> t("gpt");
    t.add("n_layer", &GptOptions::n_layer, "Transformer blocks")
        .add("n_head", &GptOptions::n_head, "attention heads")
        .add("n_embd", &GptOptions::n_embd, "width (divisible by n_head)")
        .add("block_size", &GptOptions::block_size, "context length in tokens")
        .add("vocab_size", &GptOptions::vocab_size, "tokens (0: from the data)")
        .add("start_token", &GptOptions::start_token, "token that starts sampling and scoring (-1: the data's, e.g. the tokenizer's line break; else 0)")
        .add("lora_rank", &GptOptions::lora_rank, "LoRA adapters of rank r on the lora_targets matrices (0: none)")
        .add("lora_alpha", &GptOptions::lora_alpha, "LoRA scale alpha (the adapter adds alpha / r B A)")
        .add("lora_targets", &GptOptions::lora_targets,
             "matrices with adapters: globs over attn_c_attn, attn_c_proj, mlp_c_fc, mlp_c_proj (comma-separated)");
    train::add_train_options(t);
    return t;
  }();
  return table;
}

Gpt::Gpt(GptOptions options) : options_(std::move(options)) {}
Gpt::~Gpt() = default;

Capabilities Gpt::capabilities() const {
  Capabilities c;
  c.data_kind = DataKind::text;
  c.likelihood = Likelihood::exact;
  return c;
}

nlohmann::json Gpt::options_json() const { return option_table().to_json(options_); }

int64_t Gpt::vocab_size() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet");
  return net_->vocab;
}

int64_t Gpt::n_parameters() const {
  int64_t n = 0;
  for (const auto& p : net_->parameters()) n += p.numel();
  return n;
}

FitReport Gpt::fit(const Dataset& train_set, const FitContext& ctx) {
  options_.validate();
  auto ids = token_stream(train_set.x, options_.vocab_size, "training");
  // Fine-tuning keeps the base model's vocabulary and start token (the new text may use fewer tokens).
  auto from_base = [&](const char* key) -> int64_t {
    if (!ctx.initial_state) return -1;
    auto it = ctx.initial_state->find(key);
    return it == ctx.initial_state->end() ? -1 : it->second.item<int64_t>();
  };
  const int64_t base_vocab = from_base("meta/vocab_size"), base_start = from_base("meta/start_token");
  const int64_t vocab = options_.vocab_size > 0 ? options_.vocab_size
                        : base_vocab > 0       ? base_vocab
                                               : std::max(train_set.n_symbols, ids.max().item<int64_t>() + 1);
  const int64_t start = options_.start_token >= 0 ? options_.start_token
                        : base_start >= 0        ? base_start
                                                 : std::max<int64_t>(train_set.start_symbol, 0);
  GF_CHECK(start < vocab, "start_token ", start, " is outside the vocabulary of ", vocab, " tokens");
  // A view of the text on the CPU: materialising every offset's window on a device would copy the text
  // block_size + 1 times.
  auto train_windows = windows(ids, options_.block_size, 1, "training");
  net_.reset();
  auto net = std::make_shared<Net>(options_, vocab);
  auto init_gen = make_generator(static_cast<uint64_t>(options_.seed));
  net->initialise(init_gen);
  net->to(ctx.device);
  GptTrainable trainable(*net);
  std::optional<train::TrainData> val;
  if (ctx.validation && ctx.validation->x.defined()) {
    auto vids = token_stream(ctx.validation->x, vocab, "validation");
    // Validation: non-overlapping windows, each token predicted once.
    val = train::TrainData{windows(vids, options_.block_size, options_.block_size, "validation"), {}};
  }
  start_ = start;
  report_ = train::run(trainable, {train_windows, {}}, val ? &*val : nullptr, options_, ctx);
  report_.objective_name = "cross-entropy per token (nats, last logged)";
  net_ = net;
  schema_ = {{"data_kind", "text"}, {"vocab_size", vocab}, {"n_parameters", n_parameters()}};
  return report_;
}

torch::Tensor Gpt::logits(const torch::Tensor& idx) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet");
  GF_CHECK(idx.dim() == 2 && idx.size(1) >= 1 && idx.size(1) <= net_->block, "logits take [B, T] token ids with ",
           "1 <= T <= block_size (", net_->block, "), got ", idx.sizes());
  torch::NoGradGuard no_grad;
  const auto device = neural::device_of(*net_);
  return net_->logits(idx.to(device, torch::kLong)).cpu();
}

torch::Tensor Gpt::score_samples(const torch::Tensor& x) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet, so it cannot score");
  auto ids = token_stream(x, net_->vocab, "scoring");
  const int64_t n = ids.numel(), block = net_->block, half = block / 2;
  auto s = torch::cat({torch::full({1}, start_, torch::kLong), ids});  // [N + 1]
  auto out = torch::empty({n}, torch::kFloat64);
  torch::NoGradGuard no_grad;
  const auto device = neural::device_of(*net_);
  // Target positions [first, last) of s, predicted from inputs s[in0 .. last - 1].
  auto score_window = [&](int64_t in0, int64_t first, int64_t last) {
    auto input = s.slice(0, in0, last).unsqueeze(0).to(device);             // [1, L]
    auto logp = torch::log_softmax(net_->logits(input)[0].to(torch::kFloat64), -1).cpu();  // [L, V]
    auto targets = s.slice(0, first + 1, last + 1);
    auto rows = logp.slice(0, first - in0, last - in0);
    out.slice(0, first, last).copy_(rows.gather(1, targets.unsqueeze(1)).squeeze(1));
  };
  score_window(0, 0, std::min(n, block));
  for (int64_t first = block; first < n; first += half) score_window(first - half, first, std::min(n, first + half));
  return out;
}


torch::Tensor Gpt::generate(const torch::Tensor& prompt, const GenerateOptions& g, at::Generator& gen) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet, so it cannot generate");
  g.validate();
  const Net& net = *net_;
  const int64_t block = net.block, half = block / 2, c = net.n_embd, heads = net.n_head, d = c / heads;
  std::vector<int64_t> context;
  if (prompt.defined() && prompt.numel() > 0) {
    auto p = token_stream(prompt, net.vocab, "the prompt");
    GF_CHECK_AS(DataError, p.numel() <= block, "shorten the prompt or train with a longer block_size",
                "the prompt has ", p.numel(), " tokens, longer than the model's context of ", block);
    context.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
  } else {
    context.push_back(start_);
  }
  for (const auto& s : g.stop) {
    for (int64_t t : s) GF_CHECK(t >= 0 && t < net.vocab, "stop sequence token ", t, " is outside the vocabulary");
  }
  torch::NoGradGuard no_grad;
  std::vector<int64_t> out;
  // On the CPU the cached path is the decoder of the server's batching (the same tokens for the same seed).
  if (g.use_cache) {
    if (auto decoder = open_decoder()) {
      const int64_t sequence = decoder->open(context);
      for (int64_t step = 0; step < g.max_tokens; ++step) {
        const int64_t token = choose_token(decoder->step({sequence})[0], decoder->tokens(sequence), g, gen);
        out.push_back(token);
        decoder->append(sequence, token);
        if (ends_with_stop(out, g.stop)) break;
      }
      return torch::tensor(out, torch::kLong);
    }
  }
  const auto device = neural::device_of(net);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  // The window the model sees: context[window_start ..]; it restarts from the last `half` tokens when full.
  int64_t window_start = 0;
  std::vector<torch::Tensor> k_cache, v_cache;  // per layer [H, block, D]
  int64_t cached = 0;                           // positions of the current window in the caches
  // Runs the tokens context[window_start + cached ..] through the blocks, extending the caches; returns the last
  // position's logits [V].
  auto extend = [&]() {
    const int64_t t0 = cached, t1 = static_cast<int64_t>(context.size()) - window_start;
    auto idx = torch::tensor(std::vector<int64_t>(context.begin() + window_start + t0, context.end()), torch::kLong)
                   .to(device)
                   .unsqueeze(0);  // [1, t1 - t0]
    auto x = torch::embedding(net.wte, idx) + net.wpe.slice(0, t0, t1);  // [1, L, C]
    const int64_t len = t1 - t0;
    for (int64_t l = 0; l < net.n_layer; ++l) {
      const auto& L = net.h[static_cast<size_t>(l)];
      auto qkv = net.project(Net::norm(x, L.ln_1), L, 0).view({len, 3, heads, d}).permute({1, 2, 0, 3});
      k_cache[static_cast<size_t>(l)].slice(1, t0, t1).copy_(qkv[1]);
      v_cache[static_cast<size_t>(l)].slice(1, t0, t1).copy_(qkv[2]);
      auto keys = k_cache[static_cast<size_t>(l)].slice(1, 0, t1), values = v_cache[static_cast<size_t>(l)].slice(1, 0, t1);
      auto att = torch::matmul(qkv[0] * (1.0 / std::sqrt(static_cast<double>(d))), keys.transpose(1, 2));  // [H, L, t1]
      att = att + net.causal.slice(0, t0, t1).slice(1, 0, t1);
      auto y = torch::matmul(torch::softmax(att, -1), values).transpose(0, 1).reshape({1, len, c});
      x = x + net.project(y, L, 1);
      x = x + net.project(torch::gelu(net.project(Net::norm(x, L.ln_2), L, 2)), L, 3);
    }
    cached = t1;
    return torch::matmul(Net::norm(x[0][len - 1], net.ln_f), net.wte.t());
  };
  if (g.use_cache) {
    for (int64_t l = 0; l < net.n_layer; ++l) {
      k_cache.push_back(torch::zeros({heads, block, d}, fopt));
      v_cache.push_back(torch::zeros({heads, block, d}, fopt));
    }
  }
  for (int64_t step = 0; step < g.max_tokens; ++step) {
    if (static_cast<int64_t>(context.size()) - window_start > block) {
      window_start = static_cast<int64_t>(context.size()) - half;
      cached = 0;
    }
    torch::Tensor next_logits;
    if (g.use_cache) {
      next_logits = extend();
    } else {
      auto idx = torch::tensor(std::vector<int64_t>(context.begin() + window_start, context.end()), torch::kLong);
      next_logits = net.logits(idx.to(device).unsqueeze(0))[0][idx.numel() - 1];
    }
    const int64_t token = choose_token(next_logits, context, g, gen);
    out.push_back(token);
    context.push_back(token);
    if (ends_with_stop(out, g.stop)) break;
  }
  return torch::tensor(out, torch::kLong);
}

torch::Tensor Gpt::sample(int64_t n, at::Generator& gen) const {
  GF_CHECK(n >= 1, "number of samples must be at least 1, got ", n);
  GenerateOptions g;
  g.max_tokens = n;
  return generate({}, g, gen).unsqueeze(1);
}

int64_t Gpt::adapter_parameters() const {
  int64_t n = 0;
  for (const auto& L : net_ ? net_->h : std::vector<Net::Layer>{}) {
    for (int m = 0; m < 4; ++m) {
      if (L.lora_a[m].defined()) n += L.lora_a[m].numel() + L.lora_b[m].numel();
    }
  }
  return n;
}

void Gpt::merge_adapters() {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet");
  if (adapter_parameters() == 0) return;
  torch::NoGradGuard no_grad;
  TensorMap t = state();
  for (size_t l = 0; l < net_->h.size(); ++l) {
    for (int m = 0; m < 4; ++m) {
      if (!net_->h[l].lora_a[m].defined()) continue;
      const std::string name = "h" + std::to_string(l) + "_" + Net::kMatrices[m];
      t[name] = net_->merged(net_->h[l], m).clone();
      t.erase(name + "_lora_A");
      t.erase(name + "_lora_B");
    }
  }
  options_.lora_rank = 0;
  load_state(t);
}

TensorMap Gpt::state() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet");
  TensorMap out;
  neural::save_module(*net_, "", out);
  out["meta/vocab_size"] = torch::tensor({net_->vocab}, torch::kLong);
  out["meta/start_token"] = torch::tensor({start_}, torch::kLong);
  return out;
}

void Gpt::load_state(const TensorMap& t) {
  auto it = t.find("meta/vocab_size");
  GF_CHECK_AS(ModelFileError, it != t.end(), "the model file is incomplete; train again",
              "the gpt model file has no meta/vocab_size");
  auto net = std::make_shared<Net>(options_, it->second.item<int64_t>());
  // Files written before meta/start_token kept the resolved start token in the options.
  auto start = t.find("meta/start_token");
  start_ = start != t.end() ? start->second.item<int64_t>() : std::max<int64_t>(options_.start_token, 0);
  neural::load_module(*net, "", t);
  net_ = net;
}

}  // namespace gf
