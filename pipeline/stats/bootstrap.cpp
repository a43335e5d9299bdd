#include "pipeline/stats/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "pipeline/core/error.h"
#include "pipeline/stats/quantile.h"

namespace v2c::stats {

UnitBootstrapResult bootstrap_units(const std::vector<double>& per_query, const std::vector<int64_t>& unit_of_query,
                                    const UnitBootstrapOptions& options) {
  V2C_ASSERT(per_query.size() == unit_of_query.size(), per_query.size(), " scores, ", unit_of_query.size(), " units");
  V2C_ASSERT(options.n_boot >= 1, "n_boot ", options.n_boot);
  V2C_ASSERT(options.level > 0 && options.level < 1, "level ", options.level);
  const double nan = std::nan("");
  UnitBootstrapResult r;

  // Per unit: the sum and the number of its finite scores.
  std::map<int64_t, std::pair<double, int64_t>> by_unit;
  for (size_t i = 0; i < per_query.size(); ++i) {
    if (!std::isfinite(per_query[i])) continue;
    auto& [sum, count] = by_unit[unit_of_query[i]];
    sum += per_query[i];
    ++count;
  }
  std::vector<double> sums;
  std::vector<int64_t> counts;
  double total = 0;
  for (const auto& [unit, sc] : by_unit) {
    sums.push_back(sc.first);
    counts.push_back(sc.second);
    total += sc.first;
    r.n_queries += sc.second;
  }
  const size_t k = sums.size();
  r.n_units = int64_t(k);
  r.value = k ? total / double(r.n_queries) : nan;
  if (k < 2) {
    r.ci_low = r.ci_high = r.bca_low = r.bca_high = r.bias_z0 = r.acceleration = nan;
    return r;
  }

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, k - 1);
  r.replicates.resize(size_t(options.n_boot));
  for (auto& theta : r.replicates) {
    double s = 0;
    int64_t c = 0;
    for (size_t j = 0; j < k; ++j) {
      const size_t u = pick(rng);
      s += sums[u];
      c += counts[u];
    }
    theta = s / double(c);
  }
  std::sort(r.replicates.begin(), r.replicates.end());
  const double lo = (1 - options.level) / 2, hi = 1 - lo;
  r.ci_low = quantile_sorted(r.replicates, lo);
  r.ci_high = quantile_sorted(r.replicates, hi);

  // BCa: bias from the share of replicates below θ, acceleration from the unit jackknife.
  const double tol = 1e-12 * std::max(1.0, std::abs(r.value));
  double below = 0;
  for (double t : r.replicates) below += t < r.value - tol ? 1.0 : std::abs(t - r.value) <= tol ? 0.5 : 0.0;
  const double share = below / double(r.replicates.size());
  r.jackknife.resize(k);
  double jack_mean = 0;
  for (size_t j = 0; j < k; ++j) {
    r.jackknife[j] = (total - sums[j]) / double(r.n_queries - counts[j]);
    jack_mean += r.jackknife[j];
  }
  jack_mean /= double(k);
  double num = 0, den = 0;
  for (double t : r.jackknife) {
    const double dev = jack_mean - t;
    num += dev * dev * dev;
    den += dev * dev;
  }
  r.acceleration = den > 0 ? num / (6 * std::pow(den, 1.5)) : 0.0;
  if (share <= 0 || share >= 1) {
    r.bias_z0 = share <= 0 ? -INFINITY : INFINITY;
    r.bca_low = r.bca_high = nan;
    return r;
  }
  r.bias_z0 = normal_quantile(share);
  auto adjusted = [&](double level) {
    const double z = r.bias_z0 + normal_quantile(level);
    return normal_cdf(r.bias_z0 + z / (1 - r.acceleration * z));
  };
  r.bca_low = quantile_sorted(r.replicates, adjusted(lo));
  r.bca_high = quantile_sorted(r.replicates, adjusted(hi));
  return r;
}

}  // namespace v2c::stats
