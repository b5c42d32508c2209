// Filling in given the class, on the two kinds of test images (a bright left half, a bright top half): with every
// pixel hidden but the top-left quarter -- bright in both kinds -- only the class can say whether the bottom-left
// (left kind) or the top-right (top kind) should be bright.
#pragma once
#include <torch/types.h>

#include <cmath>

namespace gf::test {

// images [N, C, H, W] with every pixel outside the top-left quarter set to NaN (in the images' dtype).
inline torch::Tensor keep_top_left_quarter(const torch::Tensor& images) {
  auto out = images.clone();
  const int64_t h = images.size(2), w = images.size(3);
  out.slice(2, h / 2, h).fill_(NAN);
  out.slice(2, 0, h / 2).slice(3, w / 2, w).fill_(NAN);
  return out;
}

// The mean of the bottom-left and of the top-right quarter of images [..., H, W].
inline double bottom_left_mean(const torch::Tensor& s) {
  const int64_t h = s.size(-2), w = s.size(-1);
  return s.slice(-2, h / 2, h).slice(-1, 0, w / 2).mean().item<double>();
}
inline double top_right_mean(const torch::Tensor& s) {
  const int64_t h = s.size(-2), w = s.size(-1);
  return s.slice(-2, 0, h / 2).slice(-1, w / 2, w).mean().item<double>();
}

}  // namespace gf::test
