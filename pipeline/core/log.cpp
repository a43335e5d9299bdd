#include "pipeline/core/log.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace v2c::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::atomic<int> g_warnings{0};
std::string g_stage = "vox2clip";
std::mutex g_mutex;
bool g_line_open = false;  // a live progress line is on the terminal

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

void set_level(Level lv) { g_level = lv; }
Level level() { return g_level; }
void set_stage_name(const std::string& name) { g_stage = name; }
int warning_count() { return g_warnings; }

double peak_memory_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // KiB on Linux
}

void write_line(const char* tag, const std::string& text) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (tag[0] == 'w') ++g_warnings;
  if (g_line_open) std::fputc('\n', stderr), g_line_open = false;
  std::fprintf(stderr, "%s: %s%s\n", g_stage.c_str(), tag, text.c_str());
  std::fflush(stderr);
}

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      tty_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { done(); }

void Progress::tick(int64_t n) {
  count_ += n;
  if (level() < Level::info) return;
  const double since_start = seconds_since(start_), since_draw = seconds_since(last_draw_);
  // Silent for the first second; then live (terminal) or every 5 s (log file).
  if (since_start < 1.0) return;
  if (since_draw < (tty_ ? 0.2 : 5.0) && drawn_) return;
  draw(false);
}

void Progress::done() {
  if (finished_) return;
  finished_ = true;
  if (drawn_ && level() >= Level::info && drawn_count_ != count_) draw(true);
}

void Progress::draw(bool final_line) {
  std::lock_guard<std::mutex> lock(g_mutex);
  last_draw_ = std::chrono::steady_clock::now();
  drawn_ = true;
  drawn_count_ = count_;
  const double elapsed = seconds_since(start_);
  const double frac = total_ > 0 ? double(count_) / double(total_) : 0.0;
  std::string eta;
  if (!final_line && frac > 0.0 && frac < 1.0) eta = cat(", ~", int(elapsed * (1.0 - frac) / frac + 0.5), " s left");
  const std::string text = cat(g_stage, ": ", what_, ": ", count_, "/", total_, " (", int(100.0 * frac + 0.5), "%) ",
                               int(elapsed + 0.5), " s", eta);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final_line ? "\n" : "");
    g_line_open = !final_line;
  } else {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  std::fflush(stderr);
}

}  // namespace v2c::log
