// Quantiles shared by the statistics kernels (no I/O): empirical quantiles of a sorted sample,
// and the distribution functions of the standard normal and Student's t (Boost.Math).
#pragma once

#include <vector>

namespace v2c::stats {

// The p-quantile (p in [0, 1]) of an ascending sample by linear interpolation between order
// statistics: position p (n - 1), numpy's default ("linear", Hyndman & Fan 1996 type 7).
// NaN for an empty sample.
double quantile_sorted(const std::vector<double>& sorted, double p);

// Standard normal: Φ(z), its upper tail 1 - Φ(z) (accurate far in the tail) and Φ⁻¹(p), p in (0, 1).
double normal_cdf(double z);
double normal_sf(double z);
double normal_quantile(double p);

// Student's t with `dof` degrees of freedom: the p-quantile, p in (0, 1).
double student_t_quantile(double p, double dof);

}  // namespace v2c::stats
