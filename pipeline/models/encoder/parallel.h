// How the encoder's kernels spread work over threads, deterministically.
//
// The forward/backward products use BLAS (OpenBLAS's threads). Elementwise and per-row work goes
// to OpenMP only above kParallelMin elements: an OpenMP region just before a BLAS call leaves
// libgomp's workers spinning on the cores OpenBLAS's threads need, which costs far more than a
// [128 x 1024] LayerNorm done serially. The adapter and optimiser passes run on plain std::threads
// (run_tasks), each running Eigen's kernel single-threaded.
//
// Determinism: which tasks exist, and how partial sums are chunked and added, never depends on
// the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace v2c::encoder {

// Element count above which elementwise / per-row work is spread over OpenMP threads.
constexpr int64_t kParallelMin = int64_t(1) << 20;
// Fixed chunk of the deterministic sums of squares and of the parallel AdamW pass.
constexpr int64_t kSumChunk = int64_t(1) << 16;

inline bool go_parallel(int64_t work) { return work >= kParallelMin && !omp_in_parallel(); }

// Workers run_tasks may use: omp_get_max_threads(), 1 inside an OpenMP region.
inline int max_workers() { return omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads()); }

// Runs fn(task, worker) for every task in [0, n_tasks), contiguous ranges of tasks on up to
// max_workers() std::threads (worker 0 is the caller). Not OpenMP on purpose: libgomp's idle
// workers keep spinning after a region and would take the cores from the OpenBLAS calls of the
// next forward pass.
template <class F>
void run_tasks(int64_t n_tasks, F&& fn) {
  const int64_t n_workers = std::min<int64_t>(n_tasks, max_workers());
  if (n_workers <= 1) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t k = 0; k < n_tasks; ++k) fn(k, 0);
    omp_set_num_threads(saved);
    return;
  }
  // Each worker is one thread: Eigen must not start OpenMP teams of its own inside (its parallel
  // GEMM spin-waits), so the OpenMP thread count of every worker is 1 while it runs.
  auto work = [&](int64_t w) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t k = w * n_tasks / n_workers; k < (w + 1) * n_tasks / n_workers; ++k) fn(k, w);
    omp_set_num_threads(saved);
  };
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < n_workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
}

// Σ x[i]² over n elements in double: fixed chunks, chunk sums added in order.
template <class S>
double sum_squares(const S* x, int64_t n);

}  // namespace v2c::encoder
