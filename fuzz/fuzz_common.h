// What every fuzz target shares: the input as bytes, one thread, and the rule that decides a finding. A gf::Error
// (other than InternalError) is genforge's answer to bad input and ends the run normally; anything else — a
// c10::Error or std::exception escaping, an InternalError (a genforge bug by definition), a sanitizer report, a
// crash, a leak, a timeout or an allocation over the limit — is a finding (libFuzzer aborts on the uncaught
// exception). docs/reliability.md.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/core/runtime.h"

namespace gf::fuzz {

inline void init_once() {
  static const bool done = [] {
    set_threads(1);
    Progress::set_enabled(false);
    return true;
  }();
  (void)done;
}

template <class Body>
int run_one(const uint8_t* data, size_t size, Body&& body) {
  init_once();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    body(bytes);
  } catch (const InternalError&) {
    throw;
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace gf::fuzz
