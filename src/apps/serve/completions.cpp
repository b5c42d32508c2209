// POST /v1/completions and the continuous batching behind it.
#include <ctime>
#include <iostream>

#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/workflow.h"
#include "internal.h"

namespace gf::serve::detail {
namespace {

// Bytes at the end of `text` that start a UTF-8 character not yet complete.
size_t partial_utf8_tail(const std::string& text) {
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    const auto c = static_cast<unsigned char>(text[text.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

// The longest end of `text` that is the beginning of a stop text (it may still become one).
size_t partial_stop_tail(const std::string& text, const std::vector<std::string>& stops) {
  size_t longest = 0;
  for (const auto& s : stops) {
    for (size_t k = std::min(s.size() - 1, text.size()); k > longest; --k) {
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

}  // namespace

Batcher::Batcher(const TextGenerator& generator, const Tokenizer& tokenizer, std::string model_name,
                 const ServeOptions& options, Metrics& metrics)
    : generator_(generator), tokenizer_(tokenizer), name_(std::move(model_name)), options_(options),
      metrics_(metrics), decoder_(generator.open_decoder()) {
  thread_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() { shutdown(); }

void Batcher::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Batcher::submit(const std::shared_ptr<Completion>& job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) fail(503, "the server is shutting down", "retry on another instance");
    if (static_cast<int64_t>(pending_.size()) >= options_.max_queue) {
      fail(429, msg("the server is busy (", pending_.size(), " completions waiting)"),
           "retry later, or start it with a larger --queue");
    }
    pending_.push_back(job);
    ++metrics_.waiting;
  }
  work_.notify_one();
}

void Batcher::finish(Completion& job, const std::string& reason) {
  job.done = true;
  job.finish_reason = reason;
  job.stable = job.text.size();
}

bool Batcher::advance(Completion& job, int64_t token) {
  std::lock_guard<std::mutex> lock(job.mutex);
  job.generated.push_back(token);
  job.text = decode_continuation(tokenizer_, job.prompt, job.generated);
  for (const auto& s : job.stops) {
    const size_t at = job.text.find(s);
    if (at != std::string::npos) {
      job.text.resize(at);
      finish(job, "stop");
      return true;
    }
  }
  if (static_cast<int64_t>(job.generated.size()) >= job.options.max_tokens) {
    finish(job, "length");
    return true;
  }
  const size_t hold = std::max(partial_stop_tail(job.text, job.stops), partial_utf8_tail(job.text));
  job.stable = job.text.size() - hold;
  return job.cancelled;
}

void Batcher::run_one(const std::shared_ptr<Completion>& job) {
  auto gen = make_generator(job->seed);
  const auto prompt = torch::tensor(job->prompt, torch::kLong);
  const auto ids = generator_.generate(prompt, job->options, gen).contiguous();
  const int64_t* p = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    metrics_.add_tokens(name_, 1);
    if (advance(*job, p[i])) break;
  }
  std::lock_guard<std::mutex> lock(job->mutex);
  if (!job->done) finish(*job, "length");
}

void Batcher::loop() {
  struct Active {
    std::shared_ptr<Completion> job;
    int64_t sequence;
    at::Generator gen;
  };
  std::vector<Active> active;
  auto fail_job = [](Completion& job, int status, const std::string& error) {
    std::lock_guard<std::mutex> lock(job.mutex);
    job.error_status = status;
    job.error = error;
    job.done = true;
  };
  for (;;) {
    std::vector<std::shared_ptr<Completion>> admitted;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !pending_.empty() || !active.empty(); });
      if (stopping_ && pending_.empty() && active.empty()) break;
      const auto room = decoder_ ? options_.max_batch - static_cast<int64_t>(active.size()) : (active.empty() ? 1 : 0);
      while (!pending_.empty() && static_cast<int64_t>(admitted.size()) < room) {
        admitted.push_back(pending_.front());
        pending_.pop_front();
        --metrics_.waiting;
      }
    }
    for (auto& job : admitted) {
      {
        std::lock_guard<std::mutex> lock(job->mutex);
        if (job->cancelled) continue;
        if (Clock::now() > job->deadline) {
          job->error_status = 503;
          job->error = "the request timed out waiting for a decoding slot";
          job->done = true;
          job->changed.notify_all();
          continue;
        }
      }
      if (!decoder_) {
        ++metrics_.active_sequences;
        try {
          run_one(job);
        } catch (const std::exception& e) {
          fail_job(*job, 500, e.what());
        }
        --metrics_.active_sequences;
        job->changed.notify_all();
        continue;
      }
      try {
        active.push_back({job, decoder_->open(job->prompt), make_generator(job->seed)});
        ++metrics_.active_sequences;
      } catch (const Error& e) {
        fail_job(*job, 400, e.what());
        job->changed.notify_all();
      }
    }
    if (active.empty()) continue;
    std::vector<int64_t> sequences;
    for (const auto& a : active) sequences.push_back(a.sequence);
    torch::Tensor logits;
    try {
      logits = decoder_->step(sequences);  // [S, V]
    } catch (const std::exception& e) {
      for (auto& a : active) {
        fail_job(*a.job, 500, e.what());
        a.job->changed.notify_all();
        decoder_->close(a.sequence);
      }
      metrics_.active_sequences -= static_cast<int64_t>(active.size());
      active.clear();
      continue;
    }
    metrics_.add_decode_step(static_cast<int64_t>(active.size()));
    metrics_.add_tokens(name_, static_cast<int64_t>(active.size()));
    std::vector<Active> still;
    for (size_t i = 0; i < active.size(); ++i) {
      Active& a = active[i];
      const int64_t token =
          choose_token(logits[static_cast<int64_t>(i)], decoder_->tokens(a.sequence), a.job->options, a.gen);
      decoder_->append(a.sequence, token);
      const bool finished = advance(*a.job, token);
      a.job->changed.notify_all();
      if (finished) {
        decoder_->close(a.sequence);
        --metrics_.active_sequences;
      } else {
        still.push_back(std::move(a));
      }
    }
    active.swap(still);
  }
}

Response completions(Context& ctx, const Request& request) {
  const Body body(request.body, {"model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p",
                                 "repetition_penalty", "stop", "seed", "stream", "stream_options", "echo", "n",
                                 "best_of", "logprobs", "presence_penalty", "frequency_penalty", "user", "suffix"});
  Entry& entry = find_model(ctx, body);
  if (!entry.batcher) {
    fail(400, msg("model '", entry.served.name, "' (", entry.served.model->kind(), ") does not generate text"),
         "completions come from language models (gpt trained on text)");
  }
  // OpenAI's fields this server takes only at their defaults.
  body.integer("n", 1, 1, 1);
  body.integer("best_of", 1, 1, 1);
  if (body.has("logprobs") && !(body.at("logprobs").is_number_integer() && body.at("logprobs").get<int64_t>() == 0)) {
    fail(400, "'logprobs' is not supported", "leave it out");
  }
  body.number("presence_penalty", 0, 0, 0);
  body.number("frequency_penalty", 0, 0, 0);
  if (body.has("suffix")) fail(400, "'suffix' (insertion) is not supported", "leave it out");
  if (body.has("user")) body.text("user", "");
  bool include_usage = false;
  if (body.has("stream_options")) {
    const json& so = body.at("stream_options");
    const bool only_usage = so.is_object() && (so.empty() || (so.size() == 1 && so.contains("include_usage") &&
                                                               so.at("include_usage").is_boolean()));
    if (!only_usage) {
      fail(400, "'stream_options' takes only {\"include_usage\": true|false}", "e.g. {\"include_usage\": true}");
    }
    include_usage = so.value("include_usage", false);
  }
  const std::string prompt = body.text("prompt", "");
  const Tokenizer& tokenizer = *pipeline_of(*entry.served.model).tokenizer();
  auto job = std::make_shared<Completion>();
  try {
    if (!prompt.empty()) job->prompt = tokenizer.encode(prompt, "the prompt");
  } catch (const Error& e) {
    fail(400, e.what(), e.hint());
  }
  const auto* generator = dynamic_cast<const TextGenerator*>(entry.served.model.get());
  const auto keep = static_cast<size_t>(generator->context_length());
  if (job->prompt.size() > keep) job->prompt.erase(job->prompt.begin(), job->prompt.end() - static_cast<std::ptrdiff_t>(keep));
  const auto prompt_tokens = static_cast<int64_t>(job->prompt.size());
  job->options.max_tokens = body.integer("max_tokens", 16, 1, ctx.options.max_tokens);
  job->options.temperature = body.number("temperature", 1.0, 0, 100);
  job->options.top_p = body.number("top_p", 1.0, 1e-9, 1);
  job->options.top_k = body.integer("top_k", 0, 0, 1 << 30);
  job->options.min_p = body.number("min_p", 0, 0, 0.999999);
  job->options.repetition_penalty = body.number("repetition_penalty", 1.0, 1e-3, 100);
  job->stops = body.texts("stop", 4);
  job->seed = static_cast<uint64_t>(body.integer("seed", 0, 0, INT64_MAX));
  job->deadline = deadline_of(ctx.options);
  const bool stream = body.flag("stream", false), echo = body.flag("echo", false);
  static std::atomic<uint64_t> counter{0};
  char id[40];
  std::snprintf(id, sizeof id, "cmpl-%016llx", static_cast<unsigned long long>(++counter));
  const auto created = static_cast<int64_t>(std::time(nullptr));
  const std::string name = entry.served.name;
  entry.batcher->submit(job);
  auto chunk = [=](const std::string& text, const json& finish) {
    return json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", name},
                {"choices", json::array({json{{"text", text}, {"index", 0}, {"logprobs", nullptr},
                                              {"finish_reason", finish}}})}};
  };
  auto usage = [=](const Completion& j) {
    const auto n = static_cast<int64_t>(j.generated.size());
    return json{{"prompt_tokens", prompt_tokens}, {"completion_tokens", n}, {"total_tokens", prompt_tokens + n}};
  };
  if (!stream) {
    std::unique_lock<std::mutex> lock(job->mutex);
    job->changed.wait(lock, [&] { return job->done; });
    if (job->error_status) fail(job->error_status, job->error, "see the server's log");
    json out = chunk((echo ? prompt : "") + job->text, job->finish_reason);
    out["usage"] = usage(*job);
    return json_response(out);
  }
  Response r;
  r.content_type = "text/event-stream";
  r.stream = [job, chunk, usage, echo, prompt, include_usage](const std::function<bool(const std::string&)>& sink) {
    auto event = [&](const json& j) { return sink("data: " + dump(j) + "\n\n"); };
    if (echo && !prompt.empty() && !event(chunk(prompt, nullptr))) {
      std::lock_guard<std::mutex> lock(job->mutex);
      job->cancelled = true;
      return;
    }
    size_t sent = 0;
    for (;;) {
      std::string delta;
      bool done = false;
      std::string finish;
      json usage_json;
      {
        std::unique_lock<std::mutex> lock(job->mutex);
        job->changed.wait(lock, [&] { return job->done || job->stable > sent; });
        if (job->error_status) {
          sink("data: " + dump(json{{"error", job->error}, {"hint", "see the server's log"}}) + "\n\n");
          return;
        }
        if (job->stable > sent) delta = job->text.substr(sent, job->stable - sent);
        sent = std::max(sent, job->stable);
        done = job->done;
        finish = job->finish_reason;
        if (done) usage_json = usage(*job);
      }
      if ((!delta.empty() || done) && !event(chunk(delta, done ? json(finish) : json(nullptr)))) {
        std::lock_guard<std::mutex> lock(job->mutex);
        job->cancelled = true;
        return;
      }
      if (done) {
        if (include_usage) {
          json u = chunk("", nullptr);
          u["choices"] = json::array();
          u["usage"] = usage_json;
          event(u);
        }
        sink("data: [DONE]\n\n");
        return;
      }
    }
  };
  return r;
}

}  // namespace gf::serve::detail
