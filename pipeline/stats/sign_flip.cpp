#include "pipeline/stats/sign_flip.h"

#include <cmath>
#include <random>

#include "pipeline/core/error.h"
#include "pipeline/stats/paired.h"
#include "pipeline/stats/quantile.h"

namespace v2c::stats {

namespace {

constexpr double kTieTolerance = 1e-10;  // relative to Σ|d_i|

// Σ ±d_i with the sign of d_i flipped where bit i of `flips` is set.
double flipped_sum(const std::vector<double>& d, uint64_t flips) {
  double s = 0;
  for (size_t i = 0; i < d.size(); ++i) s += (flips >> i) & 1u ? -d[i] : d[i];
  return s;
}

}  // namespace

SignFlipResult sign_flip_test(const std::vector<double>& model, const std::vector<double>& baseline,
                              const SignFlipOptions& options) {
  V2C_ASSERT(options.max_exact_n >= 0 && options.max_exact_n <= 24, "max_exact_n ", options.max_exact_n);
  V2C_ASSERT(options.n_resamples >= 1, "n_resamples ", options.n_resamples);
  V2C_ASSERT(options.level > 0 && options.level < 1, "level ", options.level);
  SignFlipResult r;
  PairedDifferences paired = paired_differences(model, baseline);
  std::vector<double>& d = paired.d;
  r.n_dropped = paired.n_dropped;
  const int64_t n = int64_t(d.size());
  r.n = n;
  const double nan = std::nan("");
  if (n == 0) {
    r.mean_difference = r.sd_difference = r.cohens_dz = r.ci_low = r.ci_high = r.p_value = r.p_min = nan;
    r.n_patterns = 0;
    return r;
  }

  double sum = 0, abs_sum = 0;
  for (double x : d) sum += x, abs_sum += std::abs(x);
  r.mean_difference = sum / double(n);
  if (n >= 2) {
    double ss = 0;
    for (double x : d) ss += (x - r.mean_difference) * (x - r.mean_difference);
    r.sd_difference = std::sqrt(ss / double(n - 1));
    // Differences equal up to rounding (top-1 values are multiples of 1/n_queries, their
    // differences carry ~1e-17 of error): SD 0, not a d_z of 1e15.
    if (r.sd_difference <= kTieTolerance * abs_sum / double(n)) r.sd_difference = 0;
    r.cohens_dz = r.sd_difference > 0 ? r.mean_difference / r.sd_difference : nan;
    const double half =
        student_t_quantile(0.5 + options.level / 2, double(n - 1)) * r.sd_difference / std::sqrt(double(n));
    r.ci_low = r.mean_difference - half;
    r.ci_high = r.mean_difference + half;
  } else {
    r.sd_difference = r.cohens_dz = r.ci_low = r.ci_high = nan;
  }

  // Observed statistic as a sum computed like every pattern's (flips = 0), minus the tie margin.
  const double threshold = std::abs(flipped_sum(d, 0)) - kTieTolerance * abs_sum;
  if (n <= options.max_exact_n) {
    // A pattern and its complement have opposite sums: enumerate those that keep d_0's sign.
    const uint64_t half = uint64_t(1) << (n - 1);
    int64_t extreme = 0;
    for (uint64_t flips = 0; flips < half; ++flips)
      if (std::abs(flipped_sum(d, flips << 1)) >= threshold) ++extreme;
    r.exact = true;
    r.n_patterns = int64_t(half) * 2;
    r.n_extreme = extreme * 2;
    r.p_value = double(r.n_extreme) / double(r.n_patterns);
    r.p_min = 2.0 / double(r.n_patterns);
  } else {
    std::mt19937_64 rng(options.seed);
    int64_t extreme = 0;
    for (int64_t b = 0; b < options.n_resamples; ++b) {
      double s = 0;
      uint64_t bits = 0;
      for (size_t i = 0; i < d.size(); ++i) {
        if (i % 64 == 0) bits = rng();
        s += bits & 1u ? -d[i] : d[i];
        bits >>= 1;
      }
      if (std::abs(s) >= threshold) ++extreme;
    }
    r.exact = false;
    r.n_patterns = options.n_resamples;
    r.n_extreme = extreme;
    r.p_value = double(1 + extreme) / double(1 + options.n_resamples);
    r.p_min = 1.0 / double(1 + options.n_resamples);
  }
  return r;
}

}  // namespace v2c::stats
