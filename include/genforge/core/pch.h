// Precompiled header: the heavy third-party headers that nearly every translation unit needs.
#pragma once
#include <ATen/ATen.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
