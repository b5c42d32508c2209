// A progress bar on stderr with rate and ETA. On a terminal it redraws one line; when stderr is not a terminal
// (logs, CI) it prints a plain line at most every few seconds, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace gf {

class Progress {
 public:
  // total <= 0 means unknown (no ETA). unit names what is counted ("iter", "step").
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets the number of completed units and an optional status text (e.g. "ll -11.61").
  void update(int64_t done, const std::string& status = "");
  void finish(const std::string& status = "");

  // Global switch (the CLI's --quiet and the tests turn bars off).
  static void set_enabled(bool enabled);
  static bool enabled();

 private:
  void draw(bool final_line);
  std::string label_, unit_, status_;
  int64_t total_, done_ = 0;
  bool finished_ = false, tty_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace gf
