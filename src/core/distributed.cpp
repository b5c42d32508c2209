#include "genforge/core/distributed.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "genforge/core/error.h"
#include "genforge/core/progress.h"

#ifdef GF_HAVE_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace gf::dist {
namespace {

int int_variable(const char* name, int fallback, int lowest) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  GF_CHECK_AS(InvalidArgument, *end == '\0' && value >= lowest && value <= 1 << 20,
              "launchers set it to a whole number (genforge launch, torchrun)", "the environment variable ", name,
              "='", text, "' is not a whole number >= ", lowest);
  return static_cast<int>(value);
}

struct Done final : Pending {
  void wait() override {}
};

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(std::vector<at::Tensor>&) override {}
  std::unique_ptr<Pending> start_all_reduce_sum(at::Tensor&) override { return std::make_unique<Done>(); }
  void broadcast(std::vector<at::Tensor>&, int) override {}
  void barrier() override {}
};

#ifdef GF_HAVE_GLOO
// What a failed collective means to the user: almost always that another rank died or never arrived.
[[noreturn]] void rethrow_as_distributed(const Environment& env, const char* what, const std::exception& e) {
  std::string detail = e.what();
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) detail = c10->what_without_backtrace();
  const auto cut = detail.find('\n');
  if (cut != std::string::npos) detail = detail.substr(0, cut);
  throw DistributedError(
      msg("rank ", env.rank, " of ", env.world_size, ": ", what, " failed: ", detail),
      "another rank stopped or is not running the same command (look at its own error above); every rank must "
      "start within GENFORGE_DIST_TIMEOUT=" + std::to_string(static_cast<int>(env.timeout_seconds)) + " s");
}

class Gloo final : public Communicator {
 public:
  explicit Gloo(const Environment& env) : env_(env) {
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(env.timeout_seconds * 1000));
    try {
      c10d::TCPStoreOptions store_options;
      store_options.port = static_cast<std::uint16_t>(env.master_port);
      store_options.isServer = env.rank == 0;
      store_options.numWorkers = static_cast<std::size_t>(env.world_size);
      store_options.waitWorkers = true;
      store_options.timeout = timeout;
      auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // GLOO_SOCKET_IFNAME names the interface, as in PyTorch; a loopback master means one machine.
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      if (interface != nullptr && *interface != '\0') {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
    } catch (const std::exception& e) {
      rethrow_as_distributed(env_, msg("joining the job at ", env.master_addr, ":", env.master_port).c_str(), e);
    }
  }
  int rank() const override { return env_.rank; }
  int size() const override { return env_.world_size; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    try {
      // Issued together, waited together: Gloo works on them while the next is queued.
      std::vector<c10::intrusive_ptr<c10d::Work>> pending;
      for (auto& t : tensors) {
        check_tensor(t);
        std::vector<at::Tensor> one{t};
        pending.push_back(group_->allreduce(one));
      }
      for (auto& w : pending) w->wait();
    } catch (const gf::Error&) {
      throw;
    } catch (const std::exception& e) {
      rethrow_as_distributed(env_, "summing across ranks", e);
    }
  }
  std::unique_ptr<Pending> start_all_reduce_sum(at::Tensor& tensor) override {
    struct Running final : Pending {
      Running(const Environment& env, c10::intrusive_ptr<c10d::Work> work) : env(env), work(std::move(work)) {}
      void wait() override {
        try {
          work->wait();
        } catch (const std::exception& e) {
          rethrow_as_distributed(env, "summing across ranks", e);
        }
      }
      const Environment& env;
      c10::intrusive_ptr<c10d::Work> work;
    };
    check_tensor(tensor);
    try {
      std::vector<at::Tensor> one{tensor};
      return std::make_unique<Running>(env_, group_->allreduce(one));
    } catch (const std::exception& e) {
      rethrow_as_distributed(env_, "summing across ranks", e);
    }
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    try {
      for (auto& t : tensors) {
        check_tensor(t);
        std::vector<at::Tensor> one{t};
        c10d::BroadcastOptions o;
        o.rootRank = root;
        group_->broadcast(one, o)->wait();
      }
    } catch (const gf::Error&) {
      throw;
    } catch (const std::exception& e) {
      rethrow_as_distributed(env_, "receiving rank 0's tensors", e);
    }
  }
  void barrier() override {
    try {
      group_->barrier()->wait();
    } catch (const std::exception& e) {
      rethrow_as_distributed(env_, "waiting for every rank", e);
    }
  }

 private:
  static void check_tensor(const at::Tensor& t) {
    if (!t.is_contiguous() || t.is_sparse()) {
      throw InternalError("a collective was given a non-contiguous or sparse tensor", "report this as a bug");
    }
  }
  Environment env_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};
#endif

}  // namespace

Environment environment_from_variables() {
  Environment env;
  env.world_size = int_variable("WORLD_SIZE", 1, 1);
  env.rank = int_variable("RANK", 0, 0);
  env.local_rank = int_variable("LOCAL_RANK", env.rank, 0);
  GF_CHECK_AS(InvalidArgument, env.rank < env.world_size, "RANK counts from 0 to WORLD_SIZE - 1",
              "RANK=", env.rank, " is not below WORLD_SIZE=", env.world_size);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') env.master_addr = addr;
  env.master_port = int_variable("MASTER_PORT", env.master_port, 1);
  GF_CHECK_AS(InvalidArgument, env.master_port <= 65535, "a TCP port is at most 65535", "MASTER_PORT=",
              env.master_port, " is not a port number");
  if (const char* t = std::getenv("GENFORGE_DIST_TIMEOUT"); t != nullptr && *t != '\0') {
    char* end = nullptr;
    env.timeout_seconds = std::strtod(t, &end);
    GF_CHECK_AS(InvalidArgument, *end == '\0' && env.timeout_seconds > 0 && std::isfinite(env.timeout_seconds),
                "give seconds, e.g. GENFORGE_DIST_TIMEOUT=300", "GENFORGE_DIST_TIMEOUT='", t,
                "' is not a positive number of seconds");
  }
  return env;
}

Communicator& world() {
  static std::once_flag once;
  static std::unique_ptr<Communicator> instance;
  std::call_once(once, [] {
    const Environment env = environment_from_variables();
    if (env.world_size == 1) {
      instance = std::make_unique<SingleProcess>();
      return;
    }
#ifdef GF_HAVE_GLOO
    instance = std::make_unique<Gloo>(env);
    if (env.rank != 0) Progress::set_enabled(false);
#else
    throw NotSupported(msg("WORLD_SIZE=", env.world_size, " asks for a distributed job, but this genforge was built "
                           "without Gloo"),
                       "install libgloo-dev (scripts/setup.sh does) and rebuild");
#endif
  });
  if (!instance) throw DistributedError("the distributed world could not be set up earlier in this process", "");
  return *instance;
}

void Communicator::all_reduce_sum(at::Tensor& t) {
  std::vector<at::Tensor> one{t};
  all_reduce_sum(one);
}

double Communicator::sum(double value) {
  if (!distributed()) return value;
  auto t = at::full({1}, value, at::kDouble);
  all_reduce_sum(t);
  return t.item<double>();
}

void Communicator::check_same(const std::string& what, double value) {
  if (!distributed()) return;
  // Equal on every rank exactly when sum(v) = W v and sum(v^2) = W v^2 on every rank (Cauchy–Schwarz); the
  // flag makes a disagreement seen on any rank an error on all of them.
  auto t = at::tensor({value, value * value}, at::kDouble);
  all_reduce_sum(t);
  const double w = size();
  const bool same = t[0].item<double>() == w * value && t[1].item<double>() == w * value * value;
  auto disagree = at::full({1}, same ? 0.0 : 1.0, at::kDouble);
  all_reduce_sum(disagree);
  if (disagree.item<double>() > 0) {
    throw DistributedError(msg("the ranks disagree on ", what, " (rank ", rank(), " has ", value, ")"),
                           "start every rank with the same command, options and data");
  }
}

std::string Communicator::broadcast_bytes(const std::string& bytes, int root) {
  if (!distributed()) return bytes;
  std::vector<at::Tensor> length{at::full({1}, static_cast<int64_t>(bytes.size()), at::kLong)};
  broadcast(length, root);
  const int64_t n = length[0].item<int64_t>();
  std::vector<at::Tensor> data{at::empty({std::max<int64_t>(n, 1)}, at::kByte)};
  if (rank() == root && n > 0) std::memcpy(data[0].data_ptr(), bytes.data(), static_cast<size_t>(n));
  broadcast(data, root);
  return std::string(static_cast<const char*>(data[0].data_ptr()), static_cast<size_t>(n));
}

std::pair<int64_t, int64_t> shard(int64_t count, int rank, int world) {
  return {count * rank / world, count * (rank + 1) / world};
}

}  // namespace gf::dist
