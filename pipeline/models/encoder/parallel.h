// How the encoder's kernels spread work over threads, deterministically.
//
// The forward/backward products are linalg's: fixed output tiles, one BLAS thread each, over
// OpenMP threads. Elementwise and per-row work goes to OpenMP from kParallelMin elements on. The
// adapter and optimiser passes run as tasks on the same OpenMP team (run_tasks), each task running
// Eigen's kernels single-threaded.
//
// Determinism: which tasks exist, and how partial sums are chunked and added, never depends on
// the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "pipeline/core/parallel.h"

namespace v2c::encoder {

// Element count from which elementwise / per-row work is spread over OpenMP threads: [128 x 1024]
// (the GELU, LayerNorm and bias passes of a batch of 128 at latent 1024) and up. The team is hot
// from the product tiles just before, so a region costs a few µs a batch; at 2^20 those passes ran
// on one thread while the other spun, and at 2 threads, 20000 voxels x latent 1024, the forward
// outside X·W and the backward took 60-71 and 97-123 µs per sample, against 50-54 and 90-104
// at 2^17 (phase timers, 3 interleaved runs each).
constexpr int64_t kParallelMin = int64_t(1) << 17;
// Fixed chunk of the deterministic sums of squares and of the parallel AdamW pass.
constexpr int64_t kSumChunk = int64_t(1) << 16;

inline bool go_parallel(int64_t work) { return work >= kParallelMin && !omp_in_parallel(); }

// Workers run_tasks may use: omp_get_max_threads(), 1 inside an OpenMP region.
inline int max_workers() { return omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads()); }

// Runs fn(task, worker) for every task in [0, n_tasks) on up to max_workers() OpenMP threads
// (worker = the thread's number, 0 is the caller), each thread taking the next task in order when
// it is free: a core that the read-ahead thread or another process takes for a while does not hold
// the others up at the end. So a task's result must not depend on which worker runs it (scratch
// space per worker is fine; sums per worker are not). The same team as
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
  std::atomic<int64_t> next{0};
#pragma omp parallel num_threads(int(n_workers))
  {
    const int64_t w = omp_get_thread_num();
    omp_set_num_threads(1);
    errors.run([&] {
      for (int64_t k = next++; k < n_tasks; k = next++) fn(k, w);
    });
  }
  errors.rethrow();
}

// Σ x[i]² over n elements in double: fixed chunks, chunk sums added in order.
template <class S>
double sum_squares(const S* x, int64_t n);

}  // namespace v2c::encoder
