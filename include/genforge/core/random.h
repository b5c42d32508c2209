// Seeded random generators. Every random draw in genforge takes an explicit generator, so the same seed gives
// the same fits and samples; nothing reads a hidden global state.
#pragma once
#include <ATen/core/Generator.h>

#include <cstdint>

namespace gf {

// A CPU generator (Philox/MT19937 as LibTorch's CPU generator) started from `seed`.
at::Generator make_generator(uint64_t seed);

// Draws a fresh 63-bit seed from `gen` (used to give each restart or sub-task its own stream).
uint64_t next_seed(at::Generator& gen);

}  // namespace gf
