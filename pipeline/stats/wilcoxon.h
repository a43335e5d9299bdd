// Wilcoxon signed-rank test of paired scores across subjects (kernel: no I/O), reported beside
// the sign-flip test (sign_flip.h): the same pairs, a rank statistic instead of the mean.
//
// Unit of independence: the subject. d_i = model[i] - baseline[i]; pairs where either side is
// not finite are left out. Ranks are midranks of |d_i| (ties share their mean rank; "tie" means
// exactly equal |d|, as scipy.stats.rankdata). W+ / W- = sum of the ranks of the positive /
// negative differences; the statistic is T = min(W+, W-) (Wilcoxon 1945).
//
// Zero differences (scipy.stats.wilcoxon's zero_method):
//   wilcox  zeros are dropped before ranking (Wilcoxon 1945);
//   pratt   zeros are ranked with the others, then their ranks are dropped; the null mean and
//           variance leave the zeros' ranks out (Pratt 1959; Cureton 1967). The default: a
//           zero is evidence of "no difference" and keeps the other ranks honest;
//   zsplit  zeros are ranked and half of their rank sum goes to W+, half to W-.
//
// p-value, two-sided:
//   exact   when there is no zero, no tie and n <= max_exact_n: the null distribution of W+
//           over all 2^n sign patterns of the ranks 1..n (counted by dynamic programming);
//           p = 1 when W+ is the distribution's centre, else min(1, 2 · min(P(W+ <= w), P(W+ >= w)));
//   normal  otherwise: z = (T - μ - c) / σ with μ = m(m+1)/4 and
//           σ² = [m(m+1)(2m+1) - ½ Σ_ties t(t² - 1)] / 24, m = the number of ranked values
//           (pratt: μ and σ² less the zeros' share, z₀(z₀+1)/4 and z₀(z₀+1)(2z₀+1)/24, and the
//           tie sum over non-zero values only; zsplit: the zeros form one tie group);
//           c = ½ sign(T - μ) with the continuity correction, else 0; p = 2 (1 - Φ(|z|)).
//           With no non-zero difference: p = 1.
// These are scipy.stats.wilcoxon's conventions (method "exact" / "approx", same zero_method and
// correction), which tests/test_stats.cpp checks against scipy; unlike scipy 1.10, ties never
// use the exact distribution (it assumes distinct integer ranks).
//
// Effect size: the matched-pairs rank-biserial correlation r = (W+ - W-) / (W+ + W-) (Kerby 2014),
// in [-1, 1], positive when the model scores higher; 0 without non-zero differences.
#pragma once

#include <cstdint>
#include <vector>

namespace v2c::stats {

enum class ZeroMethod { wilcox, pratt, zsplit };

struct WilcoxonOptions {
  ZeroMethod zero_method = ZeroMethod::pratt;
  bool continuity = false;  // continuity correction of the normal approximation
  int max_exact_n = 50;     // exact null distribution up to this many pairs (at most 50: exact counts)
};

struct WilcoxonResult {
  int64_t n = 0;          // pairs used (finite on both sides), zeros included
  int64_t n_dropped = 0;  // pairs left out (a non-finite side)
  int64_t n_zero = 0;     // zero differences
  bool ties = false;      // some non-zero |d| occur more than once
  double w_plus = 0, w_minus = 0;
  double statistic = 0;      // T = min(W+, W-)
  bool exact = false;        // exact null distribution (else the normal approximation)
  double z = 0;              // normal approximation's z (NaN when exact)
  double p_value = 0;        // two-sided; NaN for n = 0
  double rank_biserial = 0;  // (W+ - W-) / (W+ + W-)
};

const char* zero_method_name(ZeroMethod method);

// d = model - baseline, subject by subject (sizes must agree, asserted).
WilcoxonResult wilcoxon_signed_rank(const std::vector<double>& model, const std::vector<double>& baseline,
                                    const WilcoxonOptions& options = {});

}  // namespace v2c::stats
