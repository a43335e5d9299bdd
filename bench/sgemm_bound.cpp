// The matrix-product bound of encoder training: each SGEMM one training sample's step needs, timed
// at its own shape with the BLAS the trainer uses (linalg::gemm, OpenBLAS), in this run and with
// this process's threads. FLOPs per sample (B = batch, p voxels, L latent, D output, n blocks):
//   adapter   X·W forward, Xᵀ·G weight gradient                  4·p·L
//   blocks    h·W forward, dH·Wᵀ input and hᵀ·dH weight gradient  6·n·L²
//   head      the same for W_h [L x D]                            6·L·D
//   loss      logits Y·Tᵀ [B x B] forward, dS·T backward             4·B·D
//             (the targets T are data: no product for their gradient)
// Each product is timed twice over, in wall seconds and in this process's CPU seconds (every
// thread's), each the best of REPEATS runs, with the process's BLAS threads and with one: the
// faster counts (any product can run on one thread; OpenBLAS's two threads sometimes take Xᵀ·G
// at a seventh of its one-thread rate here, for minutes at a time). The CPU-second bound is the one to set against a
// one-thread run's samples per CPU second: a busy machine lengthens wall time, not CPU time.
//   bench-sgemm_bound B P L D BLOCKS [REPEATS]
// Prints one line: bound_samples_per_s flops_per_sample gflops_overall bound_samples_per_cpu_s
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bench/cpu_seconds.h"
#include "pipeline/math/linalg.h"

using namespace v2c;
using MF = linalg::Mat<float>;

namespace {

struct Seconds {
  double wall = 1e30, cpu = 1e30;
};

// Best wall and best CPU seconds of `repeats` runs of C = op(A)·op(B), A [m x k] (or [k x m]),
// B [k x n] (or [n x k]).
Seconds time_gemm(int64_t m, int64_t k, int64_t n, bool ta, bool tb, int repeats) {
  const MF A = MF::Random(ta ? k : m, ta ? m : k), B = MF::Random(tb ? n : k, tb ? k : n);
  MF C(m, n);
  linalg::gemm(A, ta, B, tb, C);  // warm-up
  Seconds best;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    linalg::gemm(A, ta, B, tb, C);
    best.cpu = std::min(best.cpu, cpu_seconds() - c0);
    best.wall = std::min(best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: bench-sgemm_bound B P L D BLOCKS [REPEATS]\n");
    return 2;
  }
  const int64_t B = std::atol(argv[1]), p = std::atol(argv[2]), L = std::atol(argv[3]), D = std::atol(argv[4]),
                blocks = std::atol(argv[5]);
  const int repeats = argc > 6 ? std::atoi(argv[6]) : 5;
  struct Product {
    const char* what;
    int64_t m, k, n;
    bool ta, tb;
    int64_t count;
  };
  const Product products[] = {
      {"adapter forward X.W", B, p, L, false, false, 1},       {"adapter gradient Xt.G", p, B, L, true, false, 1},
      {"block forward", B, L, L, false, false, blocks},        {"block input gradient", B, L, L, false, true, blocks},
      {"block weight gradient", L, B, L, true, false, blocks}, {"head forward", B, L, D, false, false, 1},
      {"head input gradient", B, D, L, false, true, 1},        {"head weight gradient", L, B, D, true, false, 1},
      {"loss logits Y.Tt", B, D, B, false, true, 1},           {"loss gradient dS.T", B, B, D, false, false, 1}};
  double secs = 0, cpu_secs = 0, flops = 0;
  for (const Product& pr : products) {
    Seconds s = time_gemm(pr.m, pr.k, pr.n, pr.ta, pr.tb, repeats);
    {
      const linalg::BlasThreads one(1);
      const Seconds s1 = time_gemm(pr.m, pr.k, pr.n, pr.ta, pr.tb, repeats);
      s.wall = std::min(s.wall, s1.wall), s.cpu = std::min(s.cpu, s1.cpu);
    }
    const double f = 2.0 * double(pr.m * pr.k * pr.n);
    std::fprintf(stderr, "bench-sgemm_bound: %-24s [%ld x %ld]·[%ld x %ld] x%ld: %.1f GFLOP/s (%.1f per CPU s)\n",
                 pr.what, long(pr.m), long(pr.k), long(pr.k), long(pr.n), long(pr.count), f / s.wall * 1e-9,
                 f / s.cpu * 1e-9);
    secs += s.wall * double(pr.count), cpu_secs += s.cpu * double(pr.count), flops += f * double(pr.count);
  }
  std::printf("%.1f %.0f %.2f %.1f\n", double(B) / secs, flops / double(B), flops / secs * 1e-9,
              double(B) / cpu_secs);
  return 0;
}
