// A cap on the memory LibTorch allocates on the CPU on this thread while an AllocationLimit is alive: the loader's
// defence against a model file whose damaged or hostile sizes (an example shape, a width, a layer count) would build
// a network of tens of gigabytes. Every family builds its networks from sizes it reads from the file and then fills
// them from the file's tensors, so a model can never legitimately need much more than the file holds; the cap
// refuses the first allocation past it, before it happens, whatever the family (present or future).
#pragma once
#include <cstddef>
#include <string>

namespace gf {

class AllocationLimit {
 public:
  // Up to `bytes` in total (allocations are counted, frees are not: a bound, not an accounting); past it the
  // allocation throws ModelFileError naming `what` and `hint`. Limits nest: an inner one replaces the outer until
  // it ends.
  AllocationLimit(double bytes, std::string what, std::string hint);
  ~AllocationLimit();
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;

  // Called by the allocator: counts `n` bytes and throws when the total passes the limit.
  void count(std::size_t n);

 private:
  double limit_, used_ = 0;
  std::string what_, hint_;
  AllocationLimit* outer_;
};

}  // namespace gf
