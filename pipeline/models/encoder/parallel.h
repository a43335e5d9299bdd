// How the encoder's kernels spread work over threads, deterministically.
//
// The forward/backward products are linalg's: fixed output tiles, one BLAS thread each, over
// OpenMP threads. Elementwise and per-row work goes to OpenMP only above kParallelMin elements: a
// region costs more than a [128 x 1024] LayerNorm done serially. The adapter and optimiser passes
// run as tasks on the same OpenMP team (run_tasks), each task running Eigen's kernels
// single-threaded.
//
// Determinism: which tasks exist, and how partial sums are chunked and added, never depends on
// the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "pipeline/core/parallel.h"

namespace v2c::encoder {

// Element count above which elementwise / per-row work is spread over OpenMP threads.
constexpr int64_t kParallelMin = int64_t(1) << 20;
// Fixed chunk of the deterministic sums of squares and of the parallel AdamW pass.
constexpr int64_t kSumChunk = int64_t(1) << 16;

inline bool go_parallel(int64_t work) { return work >= kParallelMin && !omp_in_parallel(); }

// Workers run_tasks may use: omp_get_max_threads(), 1 inside an OpenMP region.
inline int max_workers() { return omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads()); }

// Runs fn(task, worker) for every task in [0, n_tasks), contiguous ranges of tasks on up to
// max_workers() OpenMP threads (worker = the thread's number; 0 is the caller). The same team as
// linalg's product tiles: a separate pool of threads would compete for the cores with that team's
// workers, which spin for a while after each region (a Gram matrix split over std::threads right
// after the backward products took 52-62 µs per sample at 2 threads, 35-44 with libgomp's spin off).
// The tasks run inside a region even on one thread, so a task sees the same linalg::in_parallel()
// whatever the thread count; still, tasks call BLAS through linalg's *_block functions, whose
// result never depends on it. Inside a task the OpenMP thread count is 1, so Eigen's kernels run
// on that thread alone. The first exception a task throws is rethrown here, after the region.
template <class F>
void run_tasks(int64_t n_tasks, F&& fn) {
  const int64_t n_workers = std::max<int64_t>(1, std::min<int64_t>(n_tasks, max_workers()));
  ParallelErrors errors;
#pragma omp parallel num_threads(int(n_workers))
  {
    const int64_t w = omp_get_thread_num(), n = omp_get_num_threads();
    omp_set_num_threads(1);
    errors.run([&] {
      for (int64_t k = w * n_tasks / n; k < (w + 1) * n_tasks / n; ++k) fn(k, w);
    });
  }
  errors.rethrow();
}

// Σ x[i]² over n elements in double: fixed chunks, chunk sums added in order.
template <class S>
double sum_squares(const S* x, int64_t n);

}  // namespace v2c::encoder
