#include "pipeline/stats/wilcoxon.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "pipeline/core/error.h"
#include "pipeline/stats/paired.h"
#include "pipeline/stats/quantile.h"

namespace v2c::stats {

namespace {

// Midranks (1-based) of v, and Σ t(t² - 1) over its groups of equal values.
std::vector<double> midranks(const std::vector<double>& v, double& tie_term) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  tie_term = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double t = double(j - i + 1), mid = double(i + j) / 2 + 1;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = mid;
    tie_term += t * (t * t - 1);
    i = j + 1;
  }
  return rank;
}

// Two-sided exact p of W+ = w for distinct ranks 1..n: counts of every subset sum.
double exact_p(int64_t n, double w) {
  const int64_t top = n * (n + 1) / 2;
  std::vector<double> count(size_t(top + 1), 0.0);  // up to 2^n, exact in double for n <= 53
  count[0] = 1;
  for (int64_t r = 1; r <= n; ++r)
    for (int64_t s = r * (r + 1) / 2; s >= r; --s) count[size_t(s)] += count[size_t(s - r)];
  const auto k = int64_t(std::llround(w));
  if (2 * k == top) return 1.0;
  double below = 0, above = 0;
  for (int64_t s = 0; s <= top; ++s) {
    if (s <= k) below += count[size_t(s)];
    if (s >= k) above += count[size_t(s)];
  }
  const double total = std::ldexp(1.0, int(n));
  return std::min(1.0, 2 * std::min(below, above) / total);
}

}  // namespace

const char* zero_method_name(ZeroMethod method) {
  switch (method) {
    case ZeroMethod::wilcox:
      return "wilcox";
    case ZeroMethod::pratt:
      return "pratt";
    case ZeroMethod::zsplit:
      return "zsplit";
  }
  return "?";
}

WilcoxonResult wilcoxon_signed_rank(const std::vector<double>& model, const std::vector<double>& baseline,
                                    const WilcoxonOptions& options) {
  V2C_ASSERT(options.max_exact_n >= 0 && options.max_exact_n <= 50, "max_exact_n ", options.max_exact_n);
  WilcoxonResult r;
  PairedDifferences paired = paired_differences(model, baseline);
  std::vector<double>& d = paired.d;
  r.n_dropped = paired.n_dropped;
  r.n = int64_t(d.size());
  if (r.n == 0) {
    r.w_plus = r.w_minus = r.statistic = r.z = r.p_value = r.rank_biserial = std::nan("");
    return r;
  }
  for (double x : d) r.n_zero += x == 0;

  // The values that take part in the ranking.
  std::vector<double> ranked;
  for (double x : d)
    if (options.zero_method != ZeroMethod::wilcox || x != 0) ranked.push_back(x);
  std::vector<double> magnitude(ranked.size());
  for (size_t i = 0; i < ranked.size(); ++i) magnitude[i] = std::abs(ranked[i]);
  double tie_all = 0;
  const std::vector<double> rank = midranks(magnitude, tie_all);
  double zero_rank_sum = 0;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (ranked[i] > 0)
      r.w_plus += rank[i];
    else if (ranked[i] < 0)
      r.w_minus += rank[i];
    else
      zero_rank_sum += rank[i];
  }
  if (options.zero_method == ZeroMethod::zsplit) r.w_plus += zero_rank_sum / 2, r.w_minus += zero_rank_sum / 2;
  r.statistic = std::min(r.w_plus, r.w_minus);
  r.rank_biserial = r.w_plus + r.w_minus > 0 ? (r.w_plus - r.w_minus) / (r.w_plus + r.w_minus) : 0.0;

  // Ties among the non-zero magnitudes (the zeros are one group of their own when ranked).
  std::vector<double> nonzero;
  for (double x : d)
    if (x != 0) nonzero.push_back(std::abs(x));
  double tie_nonzero = 0;
  midranks(nonzero, tie_nonzero);
  r.ties = tie_nonzero > 0;

  const auto m = double(ranked.size());
  if (r.n_zero == 0 && !r.ties && r.n <= options.max_exact_n) {
    r.exact = true;
    r.z = std::nan("");
    r.p_value = exact_p(r.n, r.w_plus);
    return r;
  }
  r.exact = false;
  if (nonzero.empty()) {  // nothing but zeros: no evidence either way
    r.z = 0;
    r.p_value = 1;
    return r;
  }
  double mean = m * (m + 1) / 4, var24 = m * (m + 1) * (2 * m + 1);
  double tie_term = tie_all;
  if (options.zero_method == ZeroMethod::pratt) {
    const auto z0 = double(r.n_zero);
    mean -= z0 * (z0 + 1) / 4;
    var24 -= z0 * (z0 + 1) * (2 * z0 + 1);
    tie_term = tie_nonzero;
  }
  var24 -= tie_term / 2;
  const double se = std::sqrt(var24 / 24);
  const double dev = r.statistic - mean;
  const double correction = options.continuity ? 0.5 * double((dev > 0) - (dev < 0)) : 0.0;
  r.z = (dev - correction) / se;
  r.p_value = std::min(1.0, 2 * normal_sf(std::abs(r.z)));
  return r;
}

}  // namespace v2c::stats
