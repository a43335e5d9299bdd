// Logging and progress, always on stderr (data goes to files or stdout).
//
//   log::info("read ", n, " runs");          shown unless --quiet
//   log::warn("dropped ", k, " voxels");     always shown, counted for the stage summary
//   log::debug(...)                           only with --verbose
//   Progress p("inflating runs", n_runs); for (...) { ...; p.tick(); }  p.done();
//
// Progress draws a live line on a terminal and plain lines (at most every few seconds) when
// stderr is a file or pipe; it stays silent for loops that finish within a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "pipeline/core/error.h"

namespace v2c::log {

enum class Level { quiet = 0, info = 1, verbose = 2 };

void set_level(Level level);
Level level();
void set_stage_name(const std::string& name);  // prefix of every line, e.g. "v2c-prepare"
int warning_count();
double peak_memory_mib();  // this process's peak resident memory so far

void write_line(const char* tag, const std::string& text);

template <class... Args>
void info(Args&&... args) {
  if (level() >= Level::info) write_line("", cat(std::forward<Args>(args)...));
}
template <class... Args>
void warn(Args&&... args) {
  write_line("warning: ", cat(std::forward<Args>(args)...));
}
template <class... Args>
void debug(Args&&... args) {
  if (level() >= Level::verbose) write_line("debug: ", cat(std::forward<Args>(args)...));
}

class Progress {
 public:
  Progress(std::string what, int64_t total);
  ~Progress();
  void tick(int64_t n = 1);
  void done();

 private:
  void draw(bool final_line);
  std::string what_;
  int64_t total_, count_ = 0, drawn_count_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false, finished_ = false, tty_;
};

}  // namespace v2c::log
