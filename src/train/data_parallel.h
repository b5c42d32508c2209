// Data-parallel training's side of the Trainer (docs/distributed.md): every rank starts from rank 0's tensors, and
// each optimizer group's backward pass ends with the global batch's gradient on every rank.
//
// Each rank's gradient (of its mean loss) is weighted by its share of the global batch and summed across ranks in
// buckets of one dtype and up to 4 M values, as PyTorch's DistributedDataParallel does: buckets follow the
// parameters in reverse (the order backward produces their gradients), a hook copies each gradient into its bucket
// as soon as autograd has it, and a full bucket is summed while backward goes on. Buckets start in bucket order on
// every rank (Gloo pairs collectives by order). A parameter without a gradient here but with one elsewhere counts
// as zero here; one with a gradient nowhere keeps none, as in one process.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "genforge/core/distributed.h"

namespace gf::train {

class DataParallel {
 public:
  explicit DataParallel(dist::Communicator& comm) : comm_(comm) {}
  ~DataParallel();  // removes the hooks
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Rank 0's values of the model's tensors on every rank (equal anyway with one seed; this makes it certain). Ranks
  // whose models differ in tensor count or size stop with DistributedError.
  void start_from_rank0(const std::vector<std::pair<std::string, torch::Tensor>>& state);
  // The next optimizer group's trainable parameters (groups are numbered in the order they are added).
  void add_group(const std::vector<torch::Tensor>& params);
  // loss.backward() with group `group`'s gradients weighted by `share` and summed across ranks as they appear; on
  // return each of its parameters holds the global batch's gradient (a view into its bucket).
  void backward_summed(size_t group, const torch::Tensor& loss, double share);

 private:
  struct Buckets {
    std::vector<torch::Tensor> params;        // the group's distinct parameters, in bucket order
    std::vector<size_t> bucket_of;            // per parameter
    std::vector<int64_t> offset_of, slot_of;  // its values' offset and its flag's index in the bucket
    std::vector<torch::Tensor> flats;         // per bucket: [values..., one flag per member] (CPU)
    std::vector<int64_t> members;             // per bucket
    std::vector<int64_t> waiting;             // per bucket: members whose gradient has not arrived yet
    std::vector<std::unique_ptr<dist::Pending>> started;
    size_t next_to_start = 0;
  };
  void on_gradient(Buckets& b, size_t i, const torch::Tensor& grad);
  void start_ready(Buckets& b, bool all);

  dist::Communicator& comm_;
  std::vector<std::unique_ptr<Buckets>> groups_;
  Buckets* active_ = nullptr;  // the group whose backward is running
  double share_ = 1.0;
  std::vector<std::pair<torch::Tensor, unsigned>> hooks_;
};

}  // namespace gf::train
