// Bootstrap over independent units (kernel: no I/O): the interval of a subject's mean metric
// when its per-query scores are not independent.
//
// Unit of independence: the unit the caller names for each query — a run, or a CV group of
// runs (blocks of one session, ...) — never the query itself: queries from one run share its
// noise, drift and (under block designs) its class, so resampling queries treats 71 queries from
// 10 blocks as 71 independent draws and gives intervals that are too narrow (the cluster
// bootstrap: Davison & Hinkley 1997, §3.8; Field & Welsh 2007).
//
// Statistic: the mean over queries, θ = Σ_u sum_u / Σ_u count_u (so θ is exactly the mean the
// retrieval metrics report; with equal unit sizes it is also the mean of the unit means).
// Queries whose value is not finite are left out (their unit keeps its other queries).
// Resampling: n_boot times, draw as many units as there are, uniformly with replacement
// (std::mt19937_64(seed), std::uniform_int_distribution), and keep every query of each drawn
// unit; θ* is the resample's mean over queries.
// Intervals at `level` (both NaN with fewer than 2 units: one unit carries no information on
// the variability between units):
//   percentile  the (1-level)/2 and (1+level)/2 quantiles of θ* (linear interpolation,
//               quantile.h) (Efron & Tibshirani 1993, ch. 13);
//   BCa         the quantiles at Φ(z₀ + (z₀ + z_α) / (1 - a (z₀ + z_α))) for z_α = Φ⁻¹ of those
//               two levels (Efron 1987; Efron & Tibshirani 1993, ch. 14), with the bias
//               correction z₀ = Φ⁻¹((#{θ* < θ} + ½ #{θ* = θ}) / n_boot) and the acceleration
//               a = Σ (θ̄₍.₎ - θ₍ⱼ₎)³ / (6 [Σ (θ̄₍.₎ - θ₍ⱼ₎)²]^{3/2}) from the leave-one-UNIT-out jackknife
//               θ₍ⱼ₎; NaN when every θ* lies on one side of θ (z₀ infinite). θ* within
//               1e-12 · max(1, |θ|) of θ counts as equal.
#pragma once

#include <cstdint>
#include <vector>

namespace v2c::stats {

struct UnitBootstrapOptions {
  int64_t n_boot = 2000;  // resamples
  uint64_t seed = 0;
  double level = 0.95;
};

struct UnitBootstrapResult {
  double value = 0;                  // θ, the mean over the finite queries
  double ci_low = 0, ci_high = 0;    // percentile interval
  double bca_low = 0, bca_high = 0;  // BCa interval
  double bias_z0 = 0, acceleration = 0;
  int64_t n_queries = 0, n_units = 0;  // finite queries used, and their distinct units
  std::vector<double> replicates;      // [n_boot] θ*, ascending
  std::vector<double> jackknife;       // [n_units] θ₍ⱼ₎, units in ascending id order
};

// per_query [n] scores; unit_of_query [n] the independent unit of each (any integer ids).
UnitBootstrapResult bootstrap_units(const std::vector<double>& per_query, const std::vector<int64_t>& unit_of_query,
                                    const UnitBootstrapOptions& options = {});

}  // namespace v2c::stats
