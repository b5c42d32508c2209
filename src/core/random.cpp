#include "genforge/core/random.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ATen.h>

#include <mutex>

namespace gf {

at::Generator make_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

uint64_t next_seed(at::Generator& gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64() >> 1;
}

}  // namespace gf
