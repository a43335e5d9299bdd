// This process's CPU time (every thread's), in seconds, for the benchmarks that set CPU seconds
// against CPU seconds (a busy machine stretches wall time, not CPU time).
#pragma once

#include <ctime>

inline double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
