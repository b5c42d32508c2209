#include "train/data_parallel.h"

#include <algorithm>
#include <optional>
#include <set>

#include "genforge/core/error.h"
#include "genforge/core/log.h"

namespace gf::train {

DataParallel::~DataParallel() {
  for (auto& [p, handle] : hooks_) p.remove_hook(handle);
}

void DataParallel::start_from_rank0(const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  torch::NoGradGuard no_grad;
  double values = 0;
  for (const auto& [name, t] : state) values += static_cast<double>(t.numel());
  comm_.check_same("the model's tensors (count)", static_cast<double>(state.size()));
  comm_.check_same("the model's tensors (values)", values);
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, t] : state) tensors.push_back(t.detach().cpu().contiguous());
  comm_.broadcast(tensors, 0);
  for (size_t i = 0; i < state.size(); ++i) state[i].second.detach().copy_(tensors[i]);
}

void DataParallel::add_group(const std::vector<torch::Tensor>& params) {
  constexpr int64_t kBucketValues = int64_t{1} << 22;
  auto b = std::make_unique<Buckets>();
  std::set<const c10::TensorImpl*> seen;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    if (seen.insert(it->unsafeGetTensorImpl()).second) b->params.push_back(*it);
  }
  std::vector<int64_t> values;
  std::vector<torch::TensorOptions> kind;
  for (size_t i = 0; i < b->params.size(); ++i) {
    const auto& p = b->params[i];
    if (values.empty() || values.back() >= kBucketValues || b->params[i - 1].scalar_type() != p.scalar_type()) {
      values.push_back(0);
      b->members.push_back(0);
      kind.push_back(p.options().device(torch::kCPU));
    }
    b->bucket_of.push_back(values.size() - 1);
    b->offset_of.push_back(values.back());
    b->slot_of.push_back(b->members.back()++);
    values.back() += p.numel();
  }
  for (size_t k = 0; k < values.size(); ++k) b->flats.push_back(torch::zeros({values[k] + b->members[k]}, kind[k]));
  for (size_t i = 0; i < b->params.size(); ++i) {
    auto p = b->params[i];
    Buckets* owner = b.get();
    const unsigned handle = p.register_hook([this, owner, i](const torch::Tensor& grad) { on_gradient(*owner, i, grad); });
    hooks_.emplace_back(p, handle);
  }
  groups_.push_back(std::move(b));
}

// A parameter's gradient, as autograd produces it during the backward of the group being summed.
void DataParallel::on_gradient(Buckets& b, size_t i, const torch::Tensor& grad) {
  if (active_ != &b || !grad.defined()) return;
  torch::NoGradGuard no_grad;
  const size_t k = b.bucket_of[i];
  if (k < b.next_to_start) throw InternalError("a gradient arrived after its bucket was summed", "report this as a bug");
  auto& flat = b.flats[k];
  auto flag = flat[flat.numel() - b.members[k] + b.slot_of[i]];
  auto values = flat.slice(0, b.offset_of[i], b.offset_of[i] + b.params[i].numel());
  if (flag.item<double>() > 0) {  // a second gradient for the same parameter: accumulate
    values.add_(grad.reshape({-1}).to(flat.device(), flat.scalar_type()), share_);
    return;
  }
  values.copy_(grad.reshape({-1}));
  if (share_ != 1.0) values.mul_(share_);
  flag.fill_(1);
  if (--b.waiting[k] == 0) start_ready(b, /*all=*/false);
}

void DataParallel::start_ready(Buckets& b, bool all) {
  while (b.next_to_start < b.flats.size() && (all || b.waiting[b.next_to_start] == 0)) {
    b.started.push_back(comm_.start_all_reduce_sum(b.flats[b.next_to_start]));
    ++b.next_to_start;
  }
}

void DataParallel::backward_summed(size_t group, const torch::Tensor& loss, double share) {
  Buckets& b = *groups_.at(group);
  for (auto& f : b.flats) f.zero_();
  b.waiting = b.members;
  b.started.clear();
  b.next_to_start = 0;
  active_ = &b;
  share_ = share;
  std::optional<log::ScopedTimer> timer(std::in_place, "train.backward+sum");
  try {
    loss.backward();
  } catch (...) {
    active_ = nullptr;
    throw;
  }
  active_ = nullptr;
  timer.reset();
  log::ScopedTimer waiting("train.sum_wait");
  start_ready(b, /*all=*/true);  // buckets with parameters that got no gradient here
  for (auto& s : b.started) s->wait();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flags;
  for (size_t k = 0; k < b.flats.size(); ++k) {
    flags.push_back(b.flats[k].slice(0, b.flats[k].numel() - b.members[k]).to(torch::kFloat64).contiguous());
  }
  for (size_t i = 0; i < b.params.size(); ++i) {
    auto p = b.params[i];
    const size_t k = b.bucket_of[i];
    if (flags[k].data_ptr<double>()[b.slot_of[i]] > 0) {
      p.mutable_grad() = b.flats[k].slice(0, b.offset_of[i], b.offset_of[i] + p.numel()).view(p.sizes()).to(p.device());
    } else {
      p.mutable_grad() = torch::Tensor();
    }
  }
}

}  // namespace gf::train
