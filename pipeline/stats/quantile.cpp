#include "pipeline/stats/quantile.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

#include "pipeline/core/error.h"

namespace v2c::stats {

double quantile_sorted(const std::vector<double>& sorted, double p) {
  V2C_ASSERT(p >= 0 && p <= 1, "quantile level ", p);
  if (sorted.empty()) return std::nan("");
  const double pos = p * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double normal_quantile(double p) {
  V2C_ASSERT(p > 0 && p < 1, "normal quantile of ", p);
  return boost::math::quantile(boost::math::normal_distribution<double>(), p);
}

double student_t_quantile(double p, double dof) {
  V2C_ASSERT(p > 0 && p < 1 && dof > 0, "t quantile of ", p, " with ", dof, " degrees of freedom");
  return boost::math::quantile(boost::math::students_t_distribution<double>(dof), p);
}

}  // namespace v2c::stats
