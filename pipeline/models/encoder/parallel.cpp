#include "pipeline/models/encoder/parallel.h"

#include <vector>

namespace v2c::encoder {

template <class S>
double sum_squares(const S* x, int64_t n) {
  const int64_t n_chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> part(static_cast<size_t>(n_chunks), 0.0);
  auto chunk = [&](int64_t c, int64_t) {
    const int64_t i0 = c * kSumChunk, i1 = std::min(n, i0 + kSumChunk);
    // Eight running sums (element i into sum i mod 8), added in order: a fixed order the
    // compiler can vectorise.
    constexpr int kLanes = 8;
    double lane[kLanes] = {};
    int64_t i = i0;
    for (; i + kLanes <= i1; i += kLanes)
      for (int k = 0; k < kLanes; ++k) lane[k] += double(x[i + k]) * double(x[i + k]);
    double acc = 0;
    for (int k = 0; k < kLanes; ++k) acc += lane[k];
    for (; i < i1; ++i) acc += double(x[i]) * double(x[i]);
    part[size_t(c)] = acc;
  };
  if (n >= kParallelMin)
    run_tasks(n_chunks, chunk);
  else
    for (int64_t c = 0; c < n_chunks; ++c) chunk(c, 0);
  double total = 0;
  for (double v : part) total += v;
  return total;
}

template double sum_squares<float>(const float*, int64_t);
template double sum_squares<double>(const double*, int64_t);

}  // namespace v2c::encoder
