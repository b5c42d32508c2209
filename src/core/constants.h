// Numerical constants shared by the models' log-densities.
#pragma once

namespace gf {

inline constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi): a Gaussian's log-density has -d/2 of it

}  // namespace gf
