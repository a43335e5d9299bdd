#include "pipeline/stats/paired.h"

#include <cmath>

#include "pipeline/core/error.h"

namespace v2c::stats {

PairedDifferences paired_differences(const std::vector<double>& model, const std::vector<double>& baseline) {
  V2C_ASSERT(model.size() == baseline.size(), model.size(), " model scores, ", baseline.size(), " baseline scores");
  PairedDifferences out;
  for (size_t i = 0; i < model.size(); ++i) {
    if (std::isfinite(model[i]) && std::isfinite(baseline[i]))
      out.d.push_back(model[i] - baseline[i]);
    else
      ++out.n_dropped;
  }
  return out;
}

}  // namespace v2c::stats
