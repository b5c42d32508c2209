// Token sequences decoded through the GPT's CPU kernels, each with its own window and key/value caches: the lockstep
// streams of lossless coding (SymbolStreams) and the sequences that join and leave between steps of the server's
// continuous batching (BatchDecoder). Both come from one set of sequences, so a sequence's predictions are the same
// whichever other sequences share its steps.
#include <map>
#include <memory>

#include "genforge/core/error.h"
#include "net.h"
#include "nn/neural.h"

namespace gf {

GptRawWeights raw_weights(const Gpt::Net& net) {
  torch::NoGradGuard no_grad;
  GptRawWeights raw{{net.wte.data_ptr<float>(), net.wpe.data_ptr<float>(), net.ln_f.data_ptr<float>(), {}, net.n_embd,
                     net.n_head, net.block, net.vocab},
                    {}};
  for (const auto& L : net.h) {
    const float* m[4];
    for (int k = 0; k < 4; ++k) {
      raw.matrices.push_back(net.merged(L, k).contiguous());
      m[k] = raw.matrices.back().data_ptr<float>();
    }
    raw.w.layers.push_back({L.ln_1.data_ptr<float>(), m[0], m[1], L.ln_2.data_ptr<float>(), m[2], m[3]});
  }
  return raw;
}

namespace {

// Each sequence keeps a window of at most block tokens, restarting from its last block / 2 tokens when full (as
// generate() does), so every prediction sees between block / 2 and block tokens of context once the sequence is that
// long.
class SequenceSet {
 public:
  explicit SequenceSet(std::shared_ptr<const Gpt::Net> net) : net_(std::move(net)), raw_(raw_weights(*net_)) {}

  int64_t open(std::vector<int64_t> tokens) {
    const Gpt::Net& n = *net_;
    const int64_t d = n.n_embd / n.n_head;
    Sequence s;
    s.tokens = std::move(tokens);
    for (int64_t l = 0; l < n.n_layer; ++l) {
      s.k_store.push_back(torch::zeros({n.n_head, n.block, d}, torch::kFloat32));
      s.v_store.push_back(torch::zeros({n.n_head, n.block, d}, torch::kFloat32));
      s.caches.k.push_back(s.k_store.back().data_ptr<float>());
      s.caches.v.push_back(s.v_store.back().data_ptr<float>());
    }
    const int64_t id = next_id_++;
    sequences_.emplace(id, std::move(s));
    return id;
  }
  void close(int64_t id) { sequences_.erase(id); }
  std::vector<int64_t>& tokens(int64_t id) { return find(id).tokens; }
  const std::vector<int64_t>& tokens(int64_t id) const { return find(id).tokens; }

  // The tokens of each sequence not yet in its caches go through the blocks in one call; the next-token logits of
  // sequence i are written to logits + i * vocab.
  void step(const std::vector<int64_t>& ids, float* logits) {
    const int64_t block = net_->block, vocab = net_->vocab;
    std::vector<gpt_cpu::Row> rows;
    for (size_t i = 0; i < ids.size(); ++i) {
      Sequence& s = find(ids[i]);
      const auto size = static_cast<int64_t>(s.tokens.size());
      GF_CHECK(size >= 1, "a sequence needs a token to continue from");
      if (size - s.window_start > block) {
        s.window_start = size - block / 2;
        s.cached = 0;
      }
      for (int64_t t = s.window_start + s.cached; t < size; ++t) {
        float* out = t + 1 == size ? logits + static_cast<int64_t>(i) * vocab : nullptr;
        rows.push_back({s.tokens[static_cast<size_t>(t)], t - s.window_start, &s.caches, out});
      }
      s.cached = size - s.window_start;
    }
    gpt_cpu::decode_rows(raw_.w, rows);
  }
  int64_t vocab() const { return net_->vocab; }

 private:
  struct Sequence {
    std::vector<int64_t> tokens;
    int64_t window_start = 0, cached = 0;
    std::vector<torch::Tensor> k_store, v_store;  // per layer [H, block, D]
    gpt_cpu::Caches caches;
  };
  Sequence& find(int64_t id) { return const_cast<Sequence&>(static_cast<const SequenceSet&>(*this).find(id)); }
  const Sequence& find(int64_t id) const {
    auto it = sequences_.find(id);
    GF_CHECK(it != sequences_.end(), "no open sequence ", id);
    return it->second;
  }
  std::shared_ptr<const Gpt::Net> net_;
  GptRawWeights raw_;
  std::map<int64_t, Sequence> sequences_;
  int64_t next_id_ = 0;
};

// B token streams for lossless coding, in lockstep, each starting from the start token.
class GptStreams : public SymbolStreams {
 public:
  GptStreams(std::shared_ptr<const Gpt::Net> net, int64_t batch, int64_t start) : set_(std::move(net)) {
    for (int64_t b = 0; b < batch; ++b) ids_.push_back(set_.open({start}));
    logits_ = torch::empty({batch, 1, set_.vocab()}, torch::kFloat32);
  }
  torch::Tensor next_scores() override {
    set_.step(ids_, logits_.data_ptr<float>());
    return logits_;
  }
  void push(const torch::Tensor& symbols) override {
    auto ids = symbols.to(torch::kLong).contiguous();
    GF_CHECK(ids.numel() == static_cast<int64_t>(ids_.size()), "push takes one token per stream");
    for (size_t b = 0; b < ids_.size(); ++b) set_.tokens(ids_[b]).push_back(ids.data_ptr<int64_t>()[b]);
  }

 private:
  SequenceSet set_;
  std::vector<int64_t> ids_;
  torch::Tensor logits_;  // [B, 1, V]
};

class GptDecoder : public BatchDecoder {
 public:
  GptDecoder(std::shared_ptr<const Gpt::Net> net, int64_t start) : set_(std::move(net)), start_(start) {}
  int64_t open(const std::vector<int64_t>& prompt) override {
    for (int64_t t : prompt) {
      GF_CHECK_AS(DataError, t >= 0 && t < set_.vocab(), "use the tokenizer the model was trained with", "token id ",
                  t, " is outside the model's vocabulary of ", set_.vocab(), " tokens");
    }
    return set_.open(prompt.empty() ? std::vector<int64_t>{start_} : prompt);
  }
  void close(int64_t sequence) override { set_.close(sequence); }
  torch::Tensor step(const std::vector<int64_t>& sequences) override {
    auto logits = torch::empty({static_cast<int64_t>(sequences.size()), set_.vocab()}, torch::kFloat32);
    set_.step(sequences, logits.data_ptr<float>());
    return logits;
  }
  void append(int64_t sequence, int64_t token) override {
    GF_CHECK(token >= 0 && token < set_.vocab(), "token ", token, " is outside the vocabulary");
    set_.tokens(sequence).push_back(token);
  }
  const std::vector<int64_t>& tokens(int64_t sequence) const override {
    return set_.tokens(sequence);
  }

 private:
  SequenceSet set_;
  int64_t start_;
};

bool runs_cpu_kernels(const Gpt::Net& net) {
  return neural::device_of(net).is_cpu() && net.wte.scalar_type() == torch::kFloat32;
}

}  // namespace

std::unique_ptr<SymbolStreams> Gpt::open_streams(int64_t batch) const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet, so it cannot code text");
  GF_CHECK(batch >= 1, "batch must be at least 1, got ", batch);
  GF_CHECK_AS(NotSupported, runs_cpu_kernels(*net_), "load the model on the CPU",
              "lossless coding runs the GPT's float32 CPU kernels");
  return std::make_unique<GptStreams>(net_, batch, start_);
}

std::unique_ptr<BatchDecoder> Gpt::open_decoder() const {
  GF_CHECK_AS(NotFitted, fitted(), "fit the model first", "this GPT is not fitted yet, so it cannot generate");
  if (!runs_cpu_kernels(*net_)) return nullptr;  // elsewhere: one sequence at a time through LibTorch operators
  return std::make_unique<GptDecoder>(net_, start_);
}

}  // namespace gf
