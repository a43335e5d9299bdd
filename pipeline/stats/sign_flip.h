// Paired comparison of two models across subjects: the sign-flip permutation test of the mean
// difference, with its effect size and a confidence interval (kernel: no I/O).
//
// Unit of independence: the subject. Input: one score per subject for each model, in the same
// subject order — model[i] and baseline[i] must come from the same subject, folds and metric.
// d_i = model[i] - baseline[i]; pairs where either side is not finite are left out (n_dropped).
//
// Null hypothesis: each d_i is symmetric about 0 (exchangeability of the two models within a
// subject), so every pattern of signs (±d_1, ..., ±d_n) is equally likely. Statistic: the mean
// difference; two-sided p = share of sign patterns whose |mean| is >= the observed |mean|
// (Fisher 1935; Good, "Permutation, Parametric and Bootstrap Tests of Hypotheses", 2005;
// Nichols & Holmes 2002 for neuroimaging).
//   exact        n <= max_exact_n: all 2^n patterns (the observed one included), p = k / 2^n;
//                the smallest attainable p is 2 / 2^n (8 subjects: 0.0078; 5 subjects: 0.0625).
//   Monte Carlo  beyond: n_resamples patterns, each sign a fair coin from std::mt19937_64(seed);
//                p = (1 + k) / (1 + n_resamples) (Phipson & Smyth 2010: never 0).
// Ties: |sum| counts as >= the observed |sum| when it is within 1e-10 · Σ|d_i| of it, so sums
// that are equal in exact arithmetic but differ by rounding (0.1 + 0.2 vs 0.3) count as ties.
//
// Effect size: the mean difference (in the metric's units), the SD of the differences (n - 1),
// Cohen's d_z = mean / SD (undefined, NaN, when SD = 0), and the Student-t interval of the
// mean difference at `level` (mean ± t_{(1+level)/2, n-1} · SD / √n; NaN for n < 2). The t
// interval assumes roughly normal differences; the p-value assumes only symmetry.
#pragma once

#include <cstdint>
#include <vector>

namespace v2c::stats {

struct SignFlipOptions {
  int max_exact_n = 20;          // full enumeration up to this many subjects (at most 24)
  int64_t n_resamples = 100000;  // Monte Carlo sign patterns beyond max_exact_n
  uint64_t seed = 0;             // Monte Carlo generator seed
  double level = 0.95;           // confidence level of the interval
};

struct SignFlipResult {
  int64_t n = 0;                   // pairs used
  int64_t n_dropped = 0;           // pairs left out (a non-finite side)
  double mean_difference = 0;      // mean of d = model - baseline
  double sd_difference = 0;        // sample SD of d (n - 1 in the denominator; NaN for n < 2)
  double cohens_dz = 0;            // mean / SD
  double ci_low = 0, ci_high = 0;  // t interval of the mean difference
  double p_value = 0;              // two-sided; NaN for n = 0
  double p_min = 0;                // smallest p this test can give with these n and resamples
  bool exact = true;               // all 2^n patterns enumerated
  int64_t n_patterns = 0;          // 2^n, or n_resamples
  int64_t n_extreme = 0;           // patterns with |mean| >= observed (Monte Carlo: the observed one not included)
};

// d = model - baseline, subject by subject (model.size() == baseline.size(), asserted).
SignFlipResult sign_flip_test(const std::vector<double>& model, const std::vector<double>& baseline,
                              const SignFlipOptions& options = {});

}  // namespace v2c::stats
