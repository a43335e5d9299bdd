// Paired samples for the paired tests (sign_flip.h, wilcoxon.h; no I/O): the differences
// model[i] - baseline[i] over the pairs whose two sides are both finite.
#pragma once

#include <cstdint>
#include <vector>

namespace v2c::stats {

struct PairedDifferences {
  std::vector<double> d;  // model[i] - baseline[i], in the pairs' order
  int64_t n_dropped = 0;  // pairs left out (a non-finite side)
};

// model and baseline must have the same length (asserted).
PairedDifferences paired_differences(const std::vector<double>& model, const std::vector<double>& baseline);

}  // namespace v2c::stats
