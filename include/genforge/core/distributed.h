// Several processes working as one job (docs/distributed.md): LibTorch's c10d process group (Gloo over TCP), set up
// from torchrun's environment — RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT — so `torchrun`, a cluster
// scheduler's launcher or `genforge launch --nproc N` start genforge jobs the way PyTorch jobs are started.
//
// Every rank runs the same command on the same data; the Trainer splits each global batch across the ranks and
// sums their gradients, the EM fitters split rows / sequences / documents and sum sufficient statistics. Without
// WORLD_SIZE (or with WORLD_SIZE=1) the world is this one process and every collective is a no-op.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gf::dist {

struct Environment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_seconds = 300;  // GENFORGE_DIST_TIMEOUT: how long a collective waits for a silent peer
};

// The environment torchrun sets (absent variables: a world of one). A malformed value is InvalidArgument.
Environment environment_from_variables();

// A collective under way; wait() returns when its result is in place (or throws DistributedError).
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool distributed() const { return size() > 1; }
  // Rank 0 writes the job's files (model, checkpoints, metrics) and prints its results.
  bool writer() const { return rank() == 0; }
  // Sums each tensor across ranks, in place. Every rank passes tensors of the same shapes and dtypes, in the same
  // order; the results are bitwise equal on every rank. Dense contiguous CPU tensors.
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
  // The same for one tensor, started now and finished by the handle's wait() (the tensor must stay alive and
  // untouched until then). Every rank starts its collectives in the same order.
  virtual std::unique_ptr<Pending> start_all_reduce_sum(at::Tensor& tensor) = 0;
  // Replaces each tensor by rank `root`'s.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;

  void all_reduce_sum(at::Tensor& t);
  double sum(double value);
  // Throws DistributedError unless every rank passes the same value (its name says what disagrees).
  void check_same(const std::string& what, double value);
  // Rank root's bytes on every rank (e.g. a checkpoint read by rank 0).
  std::string broadcast_bytes(const std::string& bytes, int root);
};

// The world this process belongs to, set up on first use from environment_from_variables(). Ranks other than 0
// stop drawing progress bars.
Communicator& world();

// Contiguous share of `count` items for `rank` of `world` ranks: [begin, end), sizes differing by at most one.
std::pair<int64_t, int64_t> shard(int64_t count, int rank, int world);

}  // namespace gf::dist
