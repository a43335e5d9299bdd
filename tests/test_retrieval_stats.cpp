// Retrieval statistics: units of independence (runs joined by averaged queries), the
// per-subject permutation test of identification against a direct replay of the same
// permutations, and the stage's intervals equal to the bootstrap over runs.
#include <boost/test/unit_test.hpp>

#include <random>

#include "pipeline/eval/label_permutation.h"
#include "pipeline/eval/retrieve_run.h"
#include "pipeline/eval/units.h"
#include "pipeline/stats/bootstrap.h"
#include "pipeline/stats/permutation.h"
#include "tests/decode_study.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

MatrixF gaussian(int64_t rows, int64_t cols, uint64_t seed) { return test::gaussian_matrix(rows, cols, seed); }

const retrieve::Metric& metric(const retrieve::RetrievalReport& r, const std::string& name) {
  for (const auto& m : r.metrics)
    if (m.name == name) return m;
  BOOST_FAIL("no metric " << name);
  return r.metrics.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retrieval_stats)

BOOST_AUTO_TEST_CASE(units_join_the_runs_an_averaged_query_spans) {
  // Queries from runs 5, 2, 7, 3; a query averaging runs 3 and 7; run 9 alone.
  const std::vector<std::vector<int32_t>> runs{{5}, {2}, {7}, {3}, {3, 7}, {9}, {2}};
  const std::vector<int64_t> unit = eval::independent_units(runs);
  // Components by smallest run: {2} -> 0, {3, 7} -> 1, {5} -> 2, {9} -> 3.
  BOOST_CHECK((unit == std::vector<int64_t>{2, 0, 1, 1, 1, 3, 0}));
  BOOST_CHECK((eval::independent_units({{1, 2}, {2, 3}, {4}}) == std::vector<int64_t>{0, 0, 1}));
}

BOOST_AUTO_TEST_CASE(permutation_p_values_equal_a_direct_replay) {
  // Random similarities with planted ties, two units; the oracle replays the same permutations
  // (stats::within_block_permutation) and counts n_ge by a direct loop.
  const int64_t nq = 9, N = 5, n_perm = 200;
  MatrixD s = gaussian(nq, N, 3).cast<double>();
  s(0, 1) = s(0, 2);
  s(4, 0) = s(4, 3);
  const std::vector<int64_t> truth{0, 1, 2, 3, 4, 0, 1, 2, 3}, unit{0, 0, 0, 0, 1, 1, 1, 1, 1};
  const auto pv = eval::identification_permutation_test(s, truth, unit, n_perm, 17);
  auto metric_of = [&](const std::vector<int64_t>& source, int which) {
    double sum = 0;
    for (int64_t i = 0; i < nq; ++i) {
      const int64_t t = truth[size_t(source[size_t(i)])];
      int64_t ge = 0;
      for (int64_t c = 0; c < N; ++c) ge += c != t && s(i, c) >= s(i, t);
      sum += which == 0 ? double(ge < 1) : which == 1 ? double(ge < 5) : double(N - 1 - ge) / double(N - 1);
    }
    return sum / double(nq);
  };
  std::vector<int64_t> identity(static_cast<size_t>(nq));
  for (int64_t i = 0; i < nq; ++i) identity[size_t(i)] = i;
  const double expected_p[3] = {pv.top1_all, pv.top5_all, pv.pairwise};
  for (int which = 0; which < 3; ++which) {
    const double observed = metric_of(identity, which);
    int64_t at_least = 0;
    for (int64_t b = 0; b < n_perm; ++b)
      at_least += metric_of(stats::within_block_permutation(unit, 17, b), which) >=
                  observed - 1e-12 * std::max(1.0, std::abs(observed));
    BOOST_CHECK_CLOSE_FRACTION(expected_p[which], double(1 + at_least) / double(1 + n_perm), 1e-12);
  }
  BOOST_CHECK_EQUAL(pv.top5_all, 1.0);  // 5 candidates: every query is in the top 5, always
}

BOOST_AUTO_TEST_CASE(decoding_is_significant_with_signal_and_not_without) {
  retrieve::RetrieveConfig cfg;
  cfg.permutations = 400;
  const test::DecodeStudy signal(10, 4, 16, 1.0f, 1.0f, 0.0f, 31), noise(10, 4, 16, 0.0f, 1.0f, 0.0f, 31);
  const auto r = retrieve::run_retrieval({signal.p, signal.s, {}, {}}, cfg, 2);
  BOOST_CHECK_CLOSE_FRACTION(metric(r, "pairwise_identification").p_permutation, 1.0 / 401, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(metric(r, "top1_all_forward").p_permutation, 1.0 / 401, 1e-12);
  const auto r0 = retrieve::run_retrieval({noise.p, noise.s, {}, {}}, cfg, 2);
  BOOST_CHECK_GT(metric(r0, "pairwise_identification").p_permutation, 0.05);
  BOOST_CHECK(std::isnan(metric(r0, "mean_rank").p_permutation));  // not tested
  cfg.permutations = 0;
  BOOST_CHECK(std::isnan(
      metric(retrieve::run_retrieval({signal.p, signal.s, {}, {}}, cfg, 2), "top1_all_forward").p_permutation));
}

BOOST_AUTO_TEST_CASE(intervals_resample_runs_not_queries) {
  const test::DecodeStudy st(10, 4, 16, 0.5f, 1.0f, 0.0f, 41);
  retrieve::RetrieveConfig cfg;
  const auto r = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 5);
  BOOST_REQUIRE_EQUAL(r.query_unit.size(), 40u);
  for (size_t i = 0; i < 40; ++i) BOOST_CHECK_EQUAL(r.query_unit[i], st.p.run[i]);  // one run per query
  const auto& pw = metric(r, "pairwise_identification");
  BOOST_CHECK_EQUAL(pw.n_units, 4);
  // The stage's interval is the unit bootstrap of the per-query values (seed + 5 for this metric).
  const auto b = stats::bootstrap_units(r.query_pairwise, r.query_unit, {cfg.bootstrap, 5 + 5, 0.95});
  BOOST_CHECK_EQUAL(pw.ci_low, b.ci_low);
  BOOST_CHECK_EQUAL(pw.ci_high, b.ci_high);
  // Averaging all queries of a stimulus in one fold across its 4 runs: one unit, no interval.
  test::DecodeStudy one = st;
  for (auto& f : one.p.fold) f = 0;
  cfg.average_repeats = true;
  cfg.centre = "none";  // one fold testing every row has no training rows to centre on
  const auto r1 = retrieve::run_retrieval({one.p, one.s, {}, {}}, cfg, 5);
  BOOST_CHECK_EQUAL(metric(r1, "pairwise_identification").n_units, 1);
  BOOST_CHECK(std::isnan(metric(r1, "pairwise_identification").ci_low));
}

BOOST_AUTO_TEST_SUITE_END()
