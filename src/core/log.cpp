#include "genforge/core/log.h"

#include <iostream>
#include <map>
#include <mutex>
#include <set>

namespace gf::log {
namespace {
int g_verbosity = 1;
std::mutex g_mutex;
// The same warning twice (one input read by two steps of a verb) says nothing new: printed once per process.
WarningSink g_sink = [](const std::string& m) {
  static std::set<std::string> shown;
  if (shown.insert(m).second) std::cerr << "warning: " << m << "\n";
};
std::map<std::string, PhaseTime>& phases() {
  static std::map<std::string, PhaseTime> table;
  return table;
}
}  // namespace

void set_verbosity(int level) { g_verbosity = level; }
int verbosity() { return g_verbosity; }

WarningSink set_warning_sink(WarningSink sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::swap(g_sink, sink);
  return sink;
}

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) g_sink(message);
}

void info(const std::string& message) {
  if (g_verbosity >= 2) std::cerr << message << "\n";
}

void add_phase_time(const std::string& name, double seconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto& entry = phases()[name];
  entry.name = name;
  entry.seconds += seconds;
  entry.calls += 1;
}

std::vector<PhaseTime> phase_times() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<PhaseTime> out;
  for (const auto& kv : phases()) out.push_back(kv.second);
  return out;
}

void reset_phase_times() {
  std::lock_guard<std::mutex> lock(g_mutex);
  phases().clear();
}

}  // namespace gf::log
