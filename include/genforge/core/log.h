// Diagnostics: warnings (always shown unless silenced), info lines (-v) and named phase timers.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace gf::log {

// 0 = quiet (warnings only), 1 = normal, 2 = verbose (-v: phase timers and details).
void set_verbosity(int level);
int verbosity();

// Where warnings go; the default prints `warning: …` to stderr, each distinct message once per process. Tests install
// a sink to capture them.
using WarningSink = std::function<void(const std::string&)>;
WarningSink set_warning_sink(WarningSink sink);  // returns the previous sink
void warn(const std::string& message);
void info(const std::string& message);  // shown at verbosity >= 2

// Accumulated wall time per named phase ("kmeans", "em") for `-v` reports.
struct PhaseTime {
  std::string name;
  double seconds;
  long calls;
};
std::vector<PhaseTime> phase_times();
void reset_phase_times();
void add_phase_time(const std::string& name, double seconds);

// Adds the lifetime of this object to the named phase.
class ScopedTimer {
 public:
  explicit ScopedTimer(std::string name) : name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    add_phase_time(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace gf::log
