// Exceptions inside OpenMP regions: one escaping a parallel loop's body terminates the process
// (the OpenMP runtime cannot carry it to the calling thread). A ParallelErrors object catches the
// first one, lets the remaining iterations skip their work, and rethrows it after the region:
//
//   ParallelErrors errors;
//   #pragma omp parallel for schedule(dynamic)
//   for (int64_t j = 0; j < n; ++j) errors.run([&] { work(j); });
//   errors.rethrow();
#pragma once

#include <atomic>
#include <exception>
#include <mutex>

namespace v2c {

class ParallelErrors {
 public:
  template <class Fn>
  void run(Fn&& fn) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      fn();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!first_) first_ = std::current_exception();
      failed_ = true;
    }
  }
  // Rethrows the first exception caught, if any (on the thread that owns the loop).
  void rethrow() {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr first_;
};

}  // namespace v2c
