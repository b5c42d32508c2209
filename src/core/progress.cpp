#include "genforge/core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace gf {
namespace {
bool g_enabled = true;

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
  }
  return buf;
}
}  // namespace

void Progress::set_enabled(bool enabled) { g_enabled = enabled; }
bool Progress::enabled() { return g_enabled; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  tty_ = isatty(STDERR_FILENO) != 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::update(int64_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (!status.empty()) status_ = status;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (!g_enabled) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  std::string bar;
  if (total_ > 0) {
    const int width = 24;
    int filled = static_cast<int>(width * std::min<int64_t>(done_, total_) / total_);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  char line[256];
  std::string eta;
  if (total_ > 0 && rate > 0 && !final_line) eta = " eta " + format_seconds((total_ - done_) / rate);
  if (total_ > 0) {
    std::snprintf(line, sizeof line, "%s %s%lld/%lld %s, %.1f %s/s, %s%s", label_.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(), rate, unit_.c_str(),
                  format_seconds(elapsed).c_str(), eta.c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld %s, %.1f %s/s, %s", label_.c_str(), static_cast<long long>(done_),
                  unit_.c_str(), rate, unit_.c_str(), format_seconds(elapsed).c_str());
  }
  std::string text = line;
  if (!status_.empty()) text += "  " + status_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  std::fflush(stderr);
}

}  // namespace gf
