// The memory floor of AdamW on one subject's adapter, on one thread, in this run: a pretraining
// step updates every weight of the batch's adapter W [P x L] and both its moments, and with many
// subjects that state (12·P·L bytes) is cold, so each step must read and write W, m and v at least
// once: 24 bytes per weight, whatever the arithmetic. This times exactly that traffic (w, m, v read
// and written in one pass, trivial arithmetic), rotating through enough copies of the state that
// none is in cache when its turn comes, as in training. Per training sample: the pass / B.
// Set beside the SGEMM bound (bench-sgemm_bound), it says how close to that bound any
// implementation that updates the adapter densely every step can come on this machine.
//   bench-optimizer_traffic B P L [PASSES]
// Prints one line: floor_us_per_sample bytes_per_sample GB_per_cpu_s
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/cpu_seconds.h"

namespace {

struct State {
  std::vector<float> w, m, v;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench-optimizer_traffic B P L [PASSES]\n");
    return 2;
  }
  const int64_t B = std::atol(argv[1]), P = std::atol(argv[2]), L = std::atol(argv[3]);
  const int passes = argc > 4 ? std::atoi(argv[4]) : 64;
  if (B < 1 || P < 1 || L < 1 || passes < 1) {
    std::fprintf(stderr, "bench-optimizer_traffic: B, P, L and PASSES must be positive\n");
    return 2;
  }
  const int64_t n = P * L;
  // Copies: at least 8, and at least 512 MiB in all (well past any last-level cache).
  const int64_t bytes = 12 * n;
  const int copies = int(std::max<int64_t>(8, (int64_t(512) << 20) / bytes + 1));
  std::vector<State> states(static_cast<size_t>(copies));
  for (State& s : states) s.w.assign(size_t(n), 0.5f), s.m.assign(size_t(n), 0.f), s.v.assign(size_t(n), 0.f);
  const float g = 1e-3f;
  double cpu = 0;
  for (int k = -copies; k < passes; ++k) {  // the first round only touches every copy once
    State& s = states[size_t((k + copies) % copies)];
    float* __restrict w = s.w.data();
    float* __restrict m = s.m.data();
    float* __restrict v = s.v.data();
    const double t0 = cpu_seconds();
    // Vectorised (GCC's -O2 leaves this loop scalar, and then it measures the core, not the memory).
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      m[i] = 0.9f * m[i] + g;
      v[i] = 0.999f * v[i] + g * g;
      w[i] -= m[i] * v[i];
    }
    if (k >= 0) cpu += cpu_seconds() - t0;
  }
  double check = 0;
  for (const State& s : states) check += double(s.w[0]);
  const double per_pass = cpu / passes;
  std::fprintf(stderr, "bench-optimizer_traffic: %d passes over %d copies of %.1f MiB, checksum %.3f\n", passes, copies,
               double(bytes) / double(1 << 20), check);
  std::printf("%.3f %.0f %.2f\n", per_pass / double(B) * 1e6, 24.0 * double(n) / double(B),
              24.0 * double(n) / per_pass * 1e-9);
  return 0;
}
