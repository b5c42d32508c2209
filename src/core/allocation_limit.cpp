#include "core/allocation_limit.h"

#include <c10/core/Allocator.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "genforge/core/error.h"

namespace gf {
namespace {

thread_local AllocationLimit* active_limit = nullptr;

// LibTorch's CPU allocator with the thread's limit in front. Memory comes from (and goes back to) the allocator it
// replaces: the data pointers are the inner allocator's own, deleter included.
// The interface moved between releases: `allocate` is const in 1.13 and not in 2.x, and 2.x adds a pure `copy_data`.
// Both forms of `allocate` are defined and none is marked `override`, so that the one the installed LibTorch declares
// is overridden whichever it is (the other is a plain overload), without version macros to get wrong.
struct LimitedCpuAllocator final : c10::Allocator {
  explicit LimitedCpuAllocator(c10::Allocator* inner_) : inner(inner_) {}
  c10::DataPtr allocate(size_t n) const {
    if (active_limit != nullptr) active_limit->count(n);
    return inner->allocate(n);
  }
  c10::DataPtr allocate(size_t n) { return static_cast<const LimitedCpuAllocator*>(this)->allocate(n); }
  c10::DeleterFnPtr raw_deleter() const { return inner->raw_deleter(); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  c10::Allocator* inner;
};

// Installed once, the first time a limit is set (before that, allocations take LibTorch's path unchanged).
void install_limited_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    static LimitedCpuAllocator limited(c10::GetAllocator(c10::DeviceType::CPU));
    c10::SetAllocator(c10::DeviceType::CPU, &limited, /*priority=*/1);  // above LibTorch's default registration
  });
}

std::string megabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f MB", bytes / 1e6);
  return text;
}

}  // namespace

AllocationLimit::AllocationLimit(double bytes, std::string what, std::string hint)
    : limit_(bytes), what_(std::move(what)), hint_(std::move(hint)), outer_(active_limit) {
  install_limited_allocator();
  active_limit = this;
}

AllocationLimit::~AllocationLimit() { active_limit = outer_; }

void AllocationLimit::count(std::size_t n) {
  used_ += static_cast<double>(n);
  if (used_ <= limit_) return;
  // Released before throwing: whatever LibTorch allocates while unwinding (an error message's tensors) is not ours.
  active_limit = outer_;
  throw ModelFileError(msg(what_, " allocates more than ", megabytes(limit_), " (", megabytes(used_),
                           " asked so far)"),
                       hint_);
}

}  // namespace gf
