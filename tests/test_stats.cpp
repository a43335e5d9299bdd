// Statistics kernels (pipeline/stats). Oracles: scipy.stats.wilcoxon; the sign-flip p-value by
// brute-force enumeration in exact integer arithmetic and by scipy.stats.permutation_test; the
// textbook BCa formulas in numpy. Planted properties: bootstrap spread and coverage over units,
// the size of the within-block permutation test, repeats averaged within folds.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "pipeline/stats/bootstrap.h"
#include "pipeline/stats/permutation.h"
#include "pipeline/stats/quantile.h"
#include "pipeline/stats/repeats.h"
#include "pipeline/stats/sign_flip.h"
#include "pipeline/stats/wilcoxon.h"
#include "tests/test_util.h"

using namespace v2c;
namespace utf = boost::unit_test;

namespace {

// Runs tests/oracle/<script> CASES OUTPUT on `cases`; returns the output's lines.
std::vector<std::string> run_oracle(const std::string& script, const std::string& cases) {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  test::TempDir dir("v2c-stats-oracle");
  const std::string in = dir.write("cases.txt", cases), out = dir.file("out.txt");
  test::run_python_ok("import runpy, sys\nsys.argv = ['oracle', '" + in + "', '" + out + "']\nrunpy.run_path('" +
                      (*root / "tests/oracle" / script).string() + "', run_name='__main__')\n");
  std::ifstream f(out);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

std::string full(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

// k / 10^digits as exact decimal text ("-0.125").
std::string decimal(int64_t k, int digits) {
  const int64_t scale = int64_t(std::llround(std::pow(10.0, digits)));
  const int64_t a = std::abs(k);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%lld.%0*lld", k < 0 ? "-" : "", static_cast<long long>(a / scale), digits,
                static_cast<long long>(a % scale));
  return buf;
}

bool close(double a, double b, double rel) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= rel * std::max(1.0, std::abs(b));
}

// One sign-flip case as decimal texts of model and baseline scores.
struct PairCase {
  std::vector<std::string> a, b;
};

std::vector<double> parse(const std::vector<std::string>& v) {
  std::vector<double> out;
  for (const auto& s : v) out.push_back(std::stod(s));
  return out;
}

// Accuracy of fixed predictions against labels relabelled by `source`.
double accuracy(const std::vector<int>& predicted, const std::vector<int>& label, const std::vector<int64_t>& source) {
  double hits = 0;
  for (size_t i = 0; i < label.size(); ++i) hits += predicted[i] == label[size_t(source[i])];
  return hits / double(label.size());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stats_paired)

BOOST_AUTO_TEST_CASE(sign_flip_equals_brute_force_and_scipy,
                     *utf::precondition(test::needs_python{{"numpy", "scipy"}})) {
  std::mt19937_64 rng(5);
  std::vector<PairCase> cases;
  auto zeros = [](size_t n) { return std::vector<std::string>(n, "0"); };
  // Random differences, 3 decimals, n = 1..16 and 20.
  for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20}) {
    std::uniform_int_distribution<int64_t> k(-400, 900);
    PairCase c{{}, zeros(size_t(n))};
    for (int i = 0; i < n; ++i) c.a.push_back(decimal(k(rng), 3));
    cases.push_back(c);
  }
  // Sums equal in exact arithmetic but not in floating point (0.1 + 0.2 vs 0.3).
  cases.push_back({{"0.1", "0.2", "0.3", "0.6", "-0.4", "0.5", "0.7", "-0.2"}, zeros(8)});
  cases.push_back({{"0.1", "0.2", "-0.3", "0.1", "0.2", "-0.3"}, zeros(6)});
  // Accuracies among 40 stimuli for two models over 8 and 12 subjects (many exact ties).
  for (int n : {8, 12}) {
    std::uniform_int_distribution<int64_t> k(2, 20);
    PairCase c;
    for (int i = 0; i < n; ++i) c.a.push_back(decimal(k(rng) * 25, 3)), c.b.push_back(decimal(k(rng) * 25, 3));
    cases.push_back(c);
  }
  // Zero differences, all equal differences, all zero.
  cases.push_back({{"0.05", "0.05", "0.05", "0.05", "0.05", "0.05", "0", "0"}, zeros(8)});
  cases.push_back({{"0.3", "0.3", "0.3", "0.3", "0.3"}, zeros(5)});
  cases.push_back({{"0.3", "0.3", "0.3"}, {"0.3", "0.3", "0.3"}});

  std::string text;
  for (const auto& c : cases) {
    text += std::to_string(c.a.size());
    for (const auto& s : c.a) text += " " + s;
    for (const auto& s : c.b) text += " " + s;
    text += "\n";
  }
  const auto lines = run_oracle("sign_flip_bruteforce.py", text);
  BOOST_REQUIRE_EQUAL(lines.size(), cases.size());
  double worst_p = 0, worst_scipy = 0, worst_ci = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    std::istringstream in(lines[c]);
    int64_t extreme = 0, patterns = 0;
    std::string scipy_p, mean, sd, lo, hi;
    in >> extreme >> patterns >> scipy_p >> mean >> sd >> lo >> hi;
    const auto r = stats::sign_flip_test(parse(cases[c].a), parse(cases[c].b));
    BOOST_TEST_CONTEXT("case " << c << ": " << lines[c]) {
      BOOST_CHECK(r.exact);
      BOOST_CHECK_EQUAL(r.n_patterns, patterns);
      BOOST_CHECK_EQUAL(r.n_extreme, extreme);
      const double p = double(extreme) / double(patterns);
      BOOST_CHECK(close(r.p_value, p, 1e-15));
      worst_p = std::max(worst_p, std::abs(r.p_value - p));
      if (std::stod(scipy_p) == std::stod(scipy_p)) {  // scipy ran (n <= 16)
        BOOST_CHECK(close(r.p_value, std::stod(scipy_p), 1e-12));
        worst_scipy = std::max(worst_scipy, std::abs(r.p_value - std::stod(scipy_p)));
      }
      BOOST_CHECK(close(r.mean_difference, std::stod(mean), 1e-12));
      BOOST_CHECK(close(r.sd_difference, std::stod(sd), 1e-12));
      BOOST_CHECK(close(r.ci_low, std::stod(lo), 1e-10));
      BOOST_CHECK(close(r.ci_high, std::stod(hi), 1e-10));
      if (std::isfinite(r.ci_low)) worst_ci = std::max(worst_ci, std::abs(r.ci_low - std::stod(lo)));
    }
  }
  BOOST_TEST_MESSAGE("sign flip: max |p - brute force| " << worst_p << ", max |p - scipy| " << worst_scipy
                                                         << ", max |CI - scipy t| " << worst_ci);
}

BOOST_AUTO_TEST_CASE(sign_flip_monte_carlo_agrees_with_enumeration,
                     *utf::precondition(test::needs_python{{"numpy", "scipy"}})) {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int64_t> k(-500, 700);
  PairCase c{{}, std::vector<std::string>(22, "0")};
  for (int i = 0; i < 22; ++i) c.a.push_back(decimal(k(rng), 3));
  std::string text = "22";
  for (const auto& s : c.a) text += " " + s;
  for (const auto& s : c.b) text += " " + s;
  const auto lines = run_oracle("sign_flip_bruteforce.py", text + "\n");
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  int64_t extreme = 0, patterns = 0;
  std::istringstream(lines[0]) >> extreme >> patterns;
  const double p_exact = double(extreme) / double(patterns);

  stats::SignFlipOptions exact;
  exact.max_exact_n = 22;
  const auto e = stats::sign_flip_test(parse(c.a), parse(c.b), exact);
  BOOST_CHECK(e.exact);
  BOOST_CHECK_EQUAL(e.n_extreme, extreme);

  stats::SignFlipOptions mc;  // default: exact up to 20, so Monte Carlo here
  mc.seed = 3;
  const auto m = stats::sign_flip_test(parse(c.a), parse(c.b), mc);
  BOOST_CHECK(!m.exact);
  BOOST_CHECK_EQUAL(m.n_patterns, mc.n_resamples);
  const double se = std::sqrt(p_exact * (1 - p_exact) / double(mc.n_resamples));
  BOOST_TEST_MESSAGE("sign flip n=22: exact p " << p_exact << ", Monte Carlo p " << m.p_value << " (SE " << se << ")");
  BOOST_CHECK_MESSAGE(std::abs(m.p_value - p_exact) < 4.5 * se + 2.0 / double(mc.n_resamples),
                      "Monte Carlo p " << m.p_value << " vs exact " << p_exact);
  BOOST_CHECK(p_exact > 0.001 && p_exact < 0.5);  // the check above has power: p is not at an extreme
  // Same seed, same answer; another seed, another sample.
  BOOST_CHECK_EQUAL(stats::sign_flip_test(parse(c.a), parse(c.b), mc).n_extreme, m.n_extreme);
  mc.seed = 4;
  BOOST_CHECK_NE(stats::sign_flip_test(parse(c.a), parse(c.b), mc).n_extreme, m.n_extreme);
}

BOOST_AUTO_TEST_CASE(sign_flip_edge_cases) {
  // Non-finite pairs are left out and counted.
  const double nan = std::nan("");
  auto r = stats::sign_flip_test({0.5, nan, 0.7, 0.6}, {0.4, 0.3, INFINITY, 0.5});
  BOOST_CHECK_EQUAL(r.n, 2);
  BOOST_CHECK_EQUAL(r.n_dropped, 2);
  BOOST_CHECK_CLOSE_FRACTION(r.mean_difference, 0.1, 1e-12);
  BOOST_CHECK_EQUAL(r.p_value, 0.5);  // 2 of the 4 sign patterns reach |d_1 + d_2|
  BOOST_CHECK_EQUAL(r.p_min, 0.5);
  // Nothing left: NaN, not a p-value.
  r = stats::sign_flip_test({nan}, {1.0});
  BOOST_CHECK_EQUAL(r.n, 0);
  BOOST_CHECK(std::isnan(r.p_value));
  // Five subjects all better: the smallest two-sided p of 5 subjects, 2/32.
  r = stats::sign_flip_test({0.3, 0.4, 0.5, 0.35, 0.45}, {0.1, 0.1, 0.1, 0.1, 0.1});
  BOOST_CHECK_CLOSE_FRACTION(r.p_value, 2.0 / 32, 1e-15);
  BOOST_CHECK_CLOSE_FRACTION(r.p_min, 2.0 / 32, 1e-15);
  BOOST_CHECK_CLOSE_FRACTION(r.cohens_dz, r.mean_difference / r.sd_difference, 1e-15);
  // Equal differences: SD 0, d_z undefined.
  r = stats::sign_flip_test({0.3, 0.3}, {0.1, 0.1});
  BOOST_CHECK(std::isnan(r.cohens_dz));
  // Equal up to rounding (0 - 0.025 and 0.05 - 0.075 differ in the last bit): the same.
  r = stats::sign_flip_test({0.0, 0.05}, {0.025, 0.07500000000000001});
  BOOST_CHECK_EQUAL(r.sd_difference, 0.0);
  BOOST_CHECK(std::isnan(r.cohens_dz));
}

BOOST_AUTO_TEST_CASE(wilcoxon_equals_scipy, *utf::precondition(test::needs_python{{"numpy", "scipy"}})) {
  struct Case {
    stats::ZeroMethod zero;
    bool correction;
    std::vector<double> d;
  };
  std::vector<Case> cases;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> g(0.3, 1.0);
  auto normal = [&](int n) {
    std::vector<double> d(static_cast<size_t>(n));
    for (auto& x : d) x = g(rng);
    return d;
  };
  const stats::ZeroMethod zms[] = {stats::ZeroMethod::wilcox, stats::ZeroMethod::pratt, stats::ZeroMethod::zsplit};
  for (int n = 1; n <= 25; ++n) cases.push_back({stats::ZeroMethod::pratt, false, normal(n)});  // exact
  cases.push_back({stats::ZeroMethod::pratt, false, normal(50)});                               // exact, largest
  for (int n : {51, 80})                                                                        // normal, no ties
    for (auto zm : zms)
      for (bool cc : {false, true}) cases.push_back({zm, cc, normal(n)});
  std::uniform_int_distribution<int> k(-3, 4);  // ties and zeros
  for (int n : {6, 12, 25, 40})
    for (auto zm : zms)
      for (bool cc : {false, true}) {
        std::vector<double> d(static_cast<size_t>(n));
        for (auto& x : d) x = double(k(rng)) * 0.5;
        cases.push_back({zm, cc, d});
      }
  for (auto zm : zms) cases.push_back({zm, false, {0.25, 0.25, 0.5, -0.25, 0.75, 1.0, 0.5, 1.25}});  // ties, no zero

  std::string text;
  std::vector<bool> expect_exact;
  for (const auto& c : cases) {
    std::set<double> mags;
    bool zero = false;
    for (double x : c.d) zero |= x == 0, mags.insert(std::abs(x));
    const bool exact = !zero && mags.size() == c.d.size() && c.d.size() <= 50;
    expect_exact.push_back(exact);
    text +=
        std::string(stats::zero_method_name(c.zero)) + (c.correction ? " 1 " : " 0 ") + (exact ? "exact" : "approx");
    for (double x : c.d) text += " " + full(x);
    text += "\n";
  }
  const auto lines = run_oracle("wilcoxon_scipy.py", text);
  BOOST_REQUIRE_EQUAL(lines.size(), cases.size());
  double worst_exact = 0, worst_approx = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    std::istringstream in(lines[c]);
    double statistic = 0, p = 0;
    in >> statistic >> p;
    stats::WilcoxonOptions o;
    o.zero_method = cases[c].zero;
    o.continuity = cases[c].correction;
    const auto r = stats::wilcoxon_signed_rank(cases[c].d, std::vector<double>(cases[c].d.size(), 0.0), o);
    BOOST_TEST_CONTEXT("case " << c << " (" << stats::zero_method_name(o.zero_method) << ", correction " << o.continuity
                               << ", n " << cases[c].d.size() << ")") {
      BOOST_CHECK_EQUAL(r.exact, bool(expect_exact[c]));
      BOOST_CHECK_SMALL(r.statistic - statistic, 1e-9);
      BOOST_CHECK(close(r.p_value, p, 1e-12));
      (r.exact ? worst_exact : worst_approx) = std::max(r.exact ? worst_exact : worst_approx, std::abs(r.p_value - p));
    }
  }
  BOOST_TEST_MESSAGE("wilcoxon vs scipy: max |p| diff exact " << worst_exact << ", normal approximation "
                                                              << worst_approx);
}

BOOST_AUTO_TEST_CASE(wilcoxon_effect_size_and_edge_cases) {
  // All positive, distinct: r = 1, W- = 0; exact p = 2 / 2^n.
  auto r = stats::wilcoxon_signed_rank({0.2, 0.5, 0.1, 0.7, 0.3, 0.9}, std::vector<double>(6, 0.0));
  BOOST_CHECK(r.exact);
  BOOST_CHECK_EQUAL(r.w_minus, 0.0);
  BOOST_CHECK_EQUAL(r.w_plus, 21.0);
  BOOST_CHECK_EQUAL(r.rank_biserial, 1.0);
  BOOST_CHECK_CLOSE_FRACTION(r.p_value, 2.0 / 64, 1e-15);
  // Only zeros: no evidence, p = 1 (scipy raises for wilcox and pratt).
  for (auto zm : {stats::ZeroMethod::wilcox, stats::ZeroMethod::pratt, stats::ZeroMethod::zsplit}) {
    stats::WilcoxonOptions o;
    o.zero_method = zm;
    r = stats::wilcoxon_signed_rank({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, o);
    BOOST_CHECK_EQUAL(r.n_zero, 3);
    BOOST_CHECK_EQUAL(r.p_value, 1.0);
    BOOST_CHECK_EQUAL(r.rank_biserial, 0.0);
  }
  // Non-finite pairs are left out.
  r = stats::wilcoxon_signed_rank({0.5, std::nan(""), 0.7}, {0.4, 0.3, 0.5});
  BOOST_CHECK_EQUAL(r.n, 2);
  BOOST_CHECK_EQUAL(r.n_dropped, 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stats_bootstrap)

BOOST_AUTO_TEST_CASE(intervals_equal_textbook_formulas, *utf::precondition(test::needs_python{{"numpy", "scipy"}})) {
  // 9 runs of uneven size, a run effect, and a skewed per-query score (the BCa matters).
  std::mt19937_64 rng(21);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> values;
  std::vector<int64_t> units;
  for (int u = 0; u < 9; ++u) {
    const double effect = 0.3 * g(rng);
    for (int q = 0; q < 5 + 2 * u; ++q) {
      values.push_back(std::exp(effect + 0.5 * g(rng)));
      units.push_back(100 + 7 * u);
    }
  }
  values.push_back(std::nan(""));  // left out
  units.push_back(100);
  stats::UnitBootstrapOptions o;
  o.n_boot = 3000;
  o.seed = 4;
  o.level = 0.9;
  const auto r = stats::bootstrap_units(values, units, o);
  BOOST_CHECK_EQUAL(r.n_units, 9);
  BOOST_CHECK_EQUAL(r.n_queries, int64_t(values.size()) - 1);
  BOOST_REQUIRE_EQUAL(r.replicates.size(), 3000u);

  std::string text = "values";
  for (size_t i = 0; i + 1 < values.size(); ++i) text += " " + full(values[i]);
  text += "\nunits";
  for (size_t i = 0; i + 1 < units.size(); ++i) text += " " + std::to_string(units[i]);
  text += "\nreplicates";
  for (double t : r.replicates) text += " " + full(t);
  text += "\nlevel " + full(o.level) + "\n";
  const auto lines = run_oracle("bca_formula.py", text);
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  std::istringstream in(lines[0]);
  double value, lo, hi, z0, a, bca_lo, bca_hi;
  in >> value >> lo >> hi >> z0 >> a >> bca_lo >> bca_hi;
  BOOST_CHECK(close(r.value, value, 1e-13));
  BOOST_CHECK(close(r.ci_low, lo, 1e-13));
  BOOST_CHECK(close(r.ci_high, hi, 1e-13));
  BOOST_CHECK(close(r.bias_z0, z0, 1e-10));
  BOOST_CHECK(close(r.acceleration, a, 1e-10));
  BOOST_CHECK(close(r.bca_low, bca_lo, 1e-10));
  BOOST_CHECK(close(r.bca_high, bca_hi, 1e-10));
  BOOST_TEST_MESSAGE("unit bootstrap: theta " << r.value << ", percentile [" << r.ci_low << ", " << r.ci_high
                                              << "], BCa [" << r.bca_low << ", " << r.bca_high << "], z0 " << r.bias_z0
                                              << ", a " << r.acceleration << "; numpy BCa [" << bca_lo << ", " << bca_hi
                                              << "]");
}

BOOST_AUTO_TEST_CASE(spread_is_that_of_the_unit_means) {
  // Equal unit sizes: θ* is the mean of k unit means drawn with replacement, whose SD is
  // sqrt(Σ(ū_j - θ)² / k) / sqrt(k) exactly in expectation.
  std::mt19937_64 rng(2);
  std::normal_distribution<double> g(0.0, 1.0);
  const int k = 10, per = 8;
  std::vector<double> values;
  std::vector<int64_t> units;
  std::vector<double> unit_mean(k, 0.0);
  for (int u = 0; u < k; ++u) {
    const double effect = g(rng);
    for (int q = 0; q < per; ++q) {
      values.push_back(effect + g(rng));
      units.push_back(u);
      unit_mean[size_t(u)] += values.back() / per;
    }
  }
  stats::UnitBootstrapOptions o;
  o.n_boot = 4000;
  const auto r = stats::bootstrap_units(values, units, o);
  double var = 0;
  for (double m : unit_mean) var += (m - r.value) * (m - r.value);
  const double expected_sd = std::sqrt(var / k / k);
  double mean = 0, ss = 0;
  for (double t : r.replicates) mean += t;
  mean /= double(r.replicates.size());
  for (double t : r.replicates) ss += (t - mean) * (t - mean);
  const double sd = std::sqrt(ss / double(r.replicates.size() - 1));
  BOOST_TEST_MESSAGE("unit bootstrap SD " << sd << ", expected " << expected_sd);
  BOOST_CHECK_CLOSE_FRACTION(sd, expected_sd, 0.05);  // SE of an SD over 4000 draws: ~1.1%
  BOOST_CHECK_SMALL(mean - r.value, 4 * expected_sd / std::sqrt(4000.0));
}

BOOST_AUTO_TEST_CASE(units_cover_where_queries_do_not) {
  // Clustered scores (12 runs of 10 queries, run effect SD = noise SD): the interval over runs
  // covers the true mean about as often as it claims; the interval over queries, far less.
  std::mt19937_64 rng(8);
  std::normal_distribution<double> g(0.0, 1.0);
  const int datasets = 300, k = 12, per = 10;
  int unit_cover = 0, query_cover = 0;
  for (int s = 0; s < datasets; ++s) {
    std::vector<double> values;
    std::vector<int64_t> units, each;
    for (int u = 0; u < k; ++u) {
      const double effect = g(rng);
      for (int q = 0; q < per; ++q) {
        values.push_back(effect + g(rng));
        units.push_back(u);
        each.push_back(int64_t(each.size()));
      }
    }
    stats::UnitBootstrapOptions o;
    o.n_boot = 1000;
    o.seed = uint64_t(s);
    const auto by_unit = stats::bootstrap_units(values, units, o);
    const auto by_query = stats::bootstrap_units(values, each, o);
    unit_cover += by_unit.ci_low <= 0 && 0 <= by_unit.ci_high;
    query_cover += by_query.ci_low <= 0 && 0 <= by_query.ci_high;
  }
  const double unit_rate = double(unit_cover) / datasets, query_rate = double(query_cover) / datasets;
  BOOST_TEST_MESSAGE("95% interval coverage over " << datasets << " clustered data sets: units " << unit_rate
                                                   << ", queries " << query_rate);
  BOOST_CHECK_GE(unit_rate, 0.86);   // percentile over 12 units: a little under 0.95
  BOOST_CHECK_LE(query_rate, 0.75);  // design effect 1 + 9 · 0.5: the query interval is ~2.3x too narrow
}

BOOST_AUTO_TEST_CASE(too_few_units_give_no_interval) {
  auto r = stats::bootstrap_units({0.5, 0.7, 0.6}, {3, 3, 3});
  BOOST_CHECK_EQUAL(r.n_units, 1);
  BOOST_CHECK_CLOSE_FRACTION(r.value, 0.6, 1e-12);
  BOOST_CHECK(std::isnan(r.ci_low) && std::isnan(r.ci_high) && std::isnan(r.bca_low));
  r = stats::bootstrap_units({std::nan("")}, {1});
  BOOST_CHECK_EQUAL(r.n_units, 0);
  BOOST_CHECK(std::isnan(r.value));
  // Two units with identical means: every replicate equals θ; z0 = 0, the interval collapses.
  r = stats::bootstrap_units({0.5, 0.5, 0.5, 0.5}, {1, 1, 2, 2});
  BOOST_CHECK_EQUAL(r.ci_low, 0.5);
  BOOST_CHECK_EQUAL(r.ci_high, 0.5);
  BOOST_CHECK_EQUAL(r.bias_z0, 0.0);
  BOOST_CHECK_EQUAL(r.bca_low, 0.5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stats_permutation)

BOOST_AUTO_TEST_CASE(permutations_stay_within_blocks) {
  const std::vector<int64_t> block = {2, 0, 2, 1, -1, 0, 2, 1, 1, 0, -1, 2};
  std::set<std::vector<int64_t>> distinct;
  for (int64_t b = 0; b < 50; ++b) {
    const auto src = stats::within_block_permutation(block, 17, b);
    BOOST_REQUIRE_EQUAL(src.size(), block.size());
    std::vector<int64_t> sorted = src;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < src.size(); ++i) {
      BOOST_CHECK_EQUAL(sorted[i], int64_t(i));                 // a permutation
      BOOST_CHECK_EQUAL(block[size_t(src[i])], block[i]);       // within the block
      if (block[i] < 0) BOOST_CHECK_EQUAL(src[i], int64_t(i));  // no block: stays
    }
    BOOST_CHECK(src == stats::within_block_permutation(block, 17, b));  // regenerable
    distinct.insert(src);
  }
  BOOST_CHECK_GT(distinct.size(), 45u);
}

BOOST_AUTO_TEST_CASE(every_order_of_a_block_is_equally_likely) {
  const std::vector<int64_t> block = {0, 0, 0};
  std::map<std::vector<int64_t>, int> count;
  const int draws = 6000;
  for (int b = 0; b < draws; ++b) ++count[stats::within_block_permutation(block, 1, b)];
  BOOST_CHECK_EQUAL(count.size(), 6u);
  for (const auto& [perm, c] : count) BOOST_CHECK_SMALL(double(c - draws / 6), 5 * std::sqrt(draws / 6.0 * 5 / 6));
}

BOOST_AUTO_TEST_CASE(p_value_definition_and_size_under_the_null) {
  // Perfect predictions: no permutation of 40 items in 4 classes within 4 runs reaches 1.0 in 199
  // tries (bar a negligible chance), so p = 1 / 200.
  std::vector<int> label, predicted;
  std::vector<int64_t> run;
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 10; ++i) label.push_back(i % 4), run.push_back(r);
  predicted = label;
  stats::PermutationOptions o;
  o.n_perm = 199;
  const auto perfect = stats::permutation_test(
      run, [&](const auto& s) { return accuracy(predicted, label, s); }, o);
  BOOST_CHECK_EQUAL(perfect.observed, 1.0);
  BOOST_CHECK_EQUAL(perfect.null.size(), 199u);
  BOOST_CHECK_EQUAL(perfect.n_at_least, 0);
  BOOST_CHECK_CLOSE_FRACTION(perfect.p_value, 1.0 / 200, 1e-15);

  // Predictions unrelated to the labels: the test rejects at 5% about 5% of the time.
  std::mt19937_64 rng(31);
  std::uniform_int_distribution<int> cls(0, 3);
  const int datasets = 300;
  int rejected = 0;
  for (int s = 0; s < datasets; ++s) {
    for (auto& p : predicted) p = cls(rng);
    o.seed = uint64_t(1000 + s);
    const auto r = stats::permutation_test(
        run, [&](const auto& src) { return accuracy(predicted, label, src); }, o);
    BOOST_REQUIRE_CLOSE_FRACTION(r.p_value, double(1 + r.n_at_least) / 200, 1e-15);
    rejected += r.p_value <= 0.05;
  }
  const double rate = double(rejected) / datasets;
  BOOST_TEST_MESSAGE("within-run permutation test: rejection rate under the null " << rate);
  BOOST_CHECK_LE(rate, 0.05 + 3 * std::sqrt(0.05 * 0.95 / datasets));
  BOOST_CHECK_GE(rate, 0.01);  // not vacuous
}

BOOST_AUTO_TEST_CASE(blocks_keep_a_run_confound_out_of_the_p_value) {
  // Runs 0-1 show mostly class 0, runs 2-3 mostly class 1; a "decoder" that only knows the run
  // predicts its majority class: 80% correct without any brain information.
  std::vector<int> label, predicted;
  std::vector<int64_t> run, one_block;
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 10; ++i) {
      const int majority = r < 2 ? 0 : 1;
      label.push_back(i < 8 ? majority : 1 - majority);
      predicted.push_back(majority);
      run.push_back(r);
      one_block.push_back(0);
    }
  auto score = [&](const std::vector<int64_t>& s) { return accuracy(predicted, label, s); };
  stats::PermutationOptions o;
  o.n_perm = 500;
  const auto within = stats::permutation_test(run, score, o);
  const auto global = stats::permutation_test(one_block, score, o);
  BOOST_CHECK_CLOSE_FRACTION(within.observed, 0.8, 1e-12);
  BOOST_TEST_MESSAGE("run-confounded decoder: p within runs " << within.p_value << ", p across runs "
                                                              << global.p_value);
  BOOST_CHECK_EQUAL(within.p_value, 1.0);  // every within-run relabelling keeps 80%
  BOOST_CHECK_LT(global.p_value, 0.01);    // permuting across runs calls the confound "decoding"
}

BOOST_AUTO_TEST_CASE(non_finite_scores) {
  const std::vector<int64_t> block = {0, 0, 1, 1};
  int calls = 0;
  auto r = stats::permutation_test(block, [&](const auto&) { return ++calls == 1 ? 0.9 : std::nan(""); });
  BOOST_CHECK_EQUAL(r.n_nonfinite, 1000);
  BOOST_CHECK_EQUAL(r.p_value, 1.0);  // counted as extreme
  r = stats::permutation_test(block, [](const auto&) { return std::nan(""); });
  BOOST_CHECK(std::isnan(r.p_value));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stats_repeats)

BOOST_AUTO_TEST_CASE(repeats_averaged_within_folds_only) {
  // 8 decoded rows: stimulus "a" shown 3 times in fold 0 and once in fold 1; "b" twice in fold 1;
  // "c" once in fold 0; row 7 ("a", fold 0) is not requested.
  MatrixF decoded(8, 2);
  decoded << 1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60, 7, 70, 100, 100;
  const std::vector<std::string> stim = {"b", "a", "c", "a", "b", "a", "a", "a"};
  const std::vector<int32_t> fold = {1, 0, 0, 0, 1, 1, 0, 0};
  const auto q = stats::average_repeats(decoded, stim, fold, {4, 1, 2, 3, 0, 5, 6});
  BOOST_REQUIRE_EQUAL(q.values.rows(), 4);
  // Order of first appearance in `rows`: (1,b) from row 4, (0,a) row 1, (0,c) row 2, (1,a) row 5.
  BOOST_CHECK((q.stimulus == std::vector<std::string>{"b", "a", "c", "a"}));
  BOOST_CHECK((q.fold == std::vector<int32_t>{1, 0, 0, 1}));
  BOOST_CHECK((q.members[0] == std::vector<int64_t>{0, 4}));
  BOOST_CHECK((q.members[1] == std::vector<int64_t>{1, 3, 6}));
  BOOST_CHECK((q.members[2] == std::vector<int64_t>{2}));
  BOOST_CHECK((q.members[3] == std::vector<int64_t>{5}));
  BOOST_CHECK_CLOSE_FRACTION(q.values(0, 0), 3.0f, 1e-6);        // (1 + 5) / 2
  BOOST_CHECK_CLOSE_FRACTION(q.values(1, 1), 130.0f / 3, 1e-6);  // (20 + 40 + 70) / 3, not row 7's 100
  BOOST_CHECK_EQUAL(q.values(2, 0), 3.0f);
  BOOST_CHECK_EQUAL(q.values(3, 1), 60.0f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stats_quantile)

BOOST_AUTO_TEST_CASE(quantiles) {
  const std::vector<double> v = {1, 2, 4, 8};
  BOOST_CHECK_EQUAL(stats::quantile_sorted(v, 0), 1.0);
  BOOST_CHECK_EQUAL(stats::quantile_sorted(v, 1), 8.0);
  BOOST_CHECK_CLOSE_FRACTION(stats::quantile_sorted(v, 0.5), 3.0, 1e-15);  // numpy.percentile(v, 50)
  BOOST_CHECK_CLOSE_FRACTION(stats::quantile_sorted(v, 0.9), 6.8, 1e-14);  // pos 2.7: 4 + 0.7 · 4
  BOOST_CHECK_CLOSE_FRACTION(stats::normal_quantile(0.975), 1.959963984540054, 1e-14);
  BOOST_CHECK_CLOSE_FRACTION(stats::normal_cdf(stats::normal_quantile(0.3)), 0.3, 1e-14);
  BOOST_CHECK_CLOSE_FRACTION(stats::normal_sf(8.0), 6.22096057427174e-16, 1e-12);  // scipy.stats.norm.sf(8)
  // Closed forms: 1 degree of freedom, tan(π (p - ½)); 2, (2p - 1) sqrt(2 / (4p(1 - p))).
  BOOST_CHECK_CLOSE_FRACTION(stats::student_t_quantile(0.975, 1), std::tan(0.475 * M_PI), 1e-14);
  BOOST_CHECK_CLOSE_FRACTION(stats::student_t_quantile(0.975, 2), 0.95 * std::sqrt(2 / 0.0975), 1e-14);
}

BOOST_AUTO_TEST_SUITE_END()
