// The report's encoder-vs-ridge verdict as data (pipeline/report/verdict.h), without the page:
// paired over shared subjects, "beats from" the smallest fraction above ridge at every larger one,
// the intervals' overlap with one shared subject, and models or studies without a comparison.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "pipeline/report/verdict.h"

using namespace v2c::report;

namespace {

MetricRow row(const std::string& subject, const std::string& model, double fraction, double value,
              double half_width = 0.05) {
  MetricRow r;
  r.subject = subject, r.model = model, r.metric = "top1_forward", r.candidate_set = "test";
  r.train_fraction = fraction, r.value = value;
  r.ci_low = value - half_width, r.ci_high = value + half_width;
  r.chance = 0.025, r.n_candidates = 40;
  return r;
}

// Ridge on three subjects; the encoder only on the held-out sub-03, where ridge is weak.
std::vector<MetricRow> study() {
  std::vector<MetricRow> rows;
  const double ridge[3][3] = {{0.30, 0.40, 0.50}, {0.32, 0.42, 0.52}, {0.06, 0.10, 0.175}};  // [subject][fraction]
  const double fractions[3] = {0.25, 0.5, 1.0};
  for (int s = 0; s < 3; ++s)
    for (int f = 0; f < 3; ++f)
      rows.push_back(row("sub-0" + std::to_string(s + 1), "ridge", fractions[f], ridge[s][f]));
  // Below ridge's sub-03 at 0.25, above it from 0.5 on (but below ridge's mean over all subjects).
  rows.push_back(row("sub-03", "encoder-adapter", 0.25, 0.05));
  rows.push_back(row("sub-03", "encoder-adapter", 0.5, 0.20));
  rows.push_back(row("sub-03", "encoder-adapter", 1.0, 0.30));
  // Never above ridge at the largest fraction; its interval overlaps ridge's there.
  rows.push_back(row("sub-03", "encoder-full", 0.5, 0.20));
  rows.push_back(row("sub-03", "encoder-full", 1.0, 0.15));
  // No subject in common with ridge: no verdict.
  rows.push_back(row("sub-09", "encoder-other", 1.0, 0.9));
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report_verdict)

BOOST_AUTO_TEST_CASE(paired_over_the_shared_subjects) {
  const std::vector<Verdict> v = judge_against_ridge(study(), "top1_forward");
  BOOST_REQUIRE_EQUAL(v.size(), 2u);
  const Verdict& adapter = v[0];
  BOOST_CHECK_EQUAL(adapter.model, "encoder-adapter");
  BOOST_CHECK((adapter.fractions == std::vector<double>{0.25, 0.5, 1.0}));
  BOOST_REQUIRE(adapter.beats_from.has_value());
  BOOST_CHECK_EQUAL(*adapter.beats_from, 0.5);
  BOOST_CHECK_EQUAL(adapter.n_subjects, 1u);
  BOOST_CHECK_EQUAL(adapter.model_mean, 0.30);
  BOOST_CHECK_EQUAL(adapter.ridge_mean, 0.175);  // sub-03's ridge, not ridge's mean over all subjects
  BOOST_REQUIRE(adapter.intervals_overlap.has_value());
  BOOST_CHECK(!*adapter.intervals_overlap);  // [0.25, 0.35] vs [0.125, 0.225]

  const Verdict& full = v[1];
  BOOST_CHECK_EQUAL(full.model, "encoder-full");
  BOOST_CHECK((full.fractions == std::vector<double>{0.5, 1.0}));
  BOOST_CHECK(!full.beats_from.has_value());
  BOOST_CHECK_EQUAL(full.largest_fraction(), 1.0);
  BOOST_REQUIRE(full.intervals_overlap.has_value());
  BOOST_CHECK(*full.intervals_overlap);  // [0.10, 0.20] vs [0.125, 0.225]
}

BOOST_AUTO_TEST_CASE(several_shared_subjects_average_and_give_no_interval_verdict) {
  std::vector<MetricRow> rows = study();
  rows.push_back(row("sub-01", "encoder-adapter", 1.0, 0.70));  // now two shared subjects at 1.0
  const std::vector<Verdict> v = judge_against_ridge(rows, "top1_forward");
  BOOST_REQUIRE(!v.empty());
  BOOST_CHECK_EQUAL(v[0].n_subjects, 2u);
  BOOST_CHECK_CLOSE_FRACTION(v[0].model_mean, (0.30 + 0.70) / 2, 1e-15);
  BOOST_CHECK_CLOSE_FRACTION(v[0].ridge_mean, (0.175 + 0.50) / 2, 1e-15);
  BOOST_CHECK(!v[0].intervals_overlap.has_value());
  BOOST_CHECK_EQUAL(*v[0].beats_from, 0.5);
}

// Across subjects "beats" needs the paired test: a higher mean that one subject carries is not it.
BOOST_AUTO_TEST_CASE(beating_needs_the_paired_test_across_subjects) {
  std::vector<MetricRow> rows;
  for (int s = 1; s <= 8; ++s) {
    const std::string sub = "sub-0" + std::to_string(s);
    for (double f : {0.5, 1.0}) {
      rows.push_back(row(sub, "ridge", f, 0.2));
      rows.push_back(row(sub, "encoder-adapter", f, 0.3));                                // higher in every subject
      rows.push_back(row(sub, "encoder-full", f, s == 1 ? 0.9 : (s % 2 ? 0.19 : 0.21)));  // one subject carries it
    }
  }
  const std::vector<Verdict> v = judge_against_ridge(rows, "top1_forward");
  BOOST_REQUIRE_EQUAL(v.size(), 2u);
  BOOST_CHECK_EQUAL(v[0].model, "encoder-adapter");
  BOOST_CHECK(v[0].beats_significantly);  // sign-flip p = 2/256 at both fractions
  BOOST_CHECK_EQUAL(v[1].model, "encoder-full");
  BOOST_REQUIRE(v[1].beats_from.has_value());  // the mean is higher ...
  BOOST_CHECK(!v[1].beats_significantly);      // ... but the test finds no difference
  BOOST_CHECK_EQUAL(v[1].tests.back().conclusion, "no evidence of a difference");
}

BOOST_AUTO_TEST_CASE(beating_everywhere_and_nothing_to_compare) {
  std::vector<MetricRow> rows;
  for (double f : {0.25, 0.5, 1.0}) {
    rows.push_back(row("sub-01", "ridge", f, 0.1));
    rows.push_back(row("sub-01", "encoder-adapter", f, 0.2));
  }
  const std::vector<Verdict> v = judge_against_ridge(rows, "top1_forward");
  BOOST_REQUIRE_EQUAL(v.size(), 1u);
  BOOST_CHECK_EQUAL(*v[0].beats_from, 0.25);                                  // the smallest fraction tested
  BOOST_CHECK(judge_against_ridge(rows, "pairwise_identification").empty());  // no rows of that metric

  std::vector<MetricRow> no_ridge;
  for (const auto& r : rows)
    if (r.model != "ridge") no_ridge.push_back(r);
  BOOST_CHECK(judge_against_ridge(no_ridge, "top1_forward").empty());
}

// Ridge and one model on n subjects at fraction 1: model = ridge + diff[i].
std::vector<MetricRow> paired_study(const std::vector<double>& diff) {
  std::vector<MetricRow> rows;
  for (size_t i = 0; i < diff.size(); ++i) {
    const std::string sub = "sub-" + std::to_string(10 + i);
    const double base = 0.2 + 0.01 * double(i);
    rows.push_back(row(sub, "ridge", 1.0, base));
    rows.push_back(row(sub, "encoder-adapter", 1.0, base + diff[i]));
  }
  return rows;
}

BOOST_AUTO_TEST_CASE(paired_test_across_subjects_with_its_wording) {
  // 8 subjects, every difference positive: the exact sign-flip p is 2 / 2^8 (only the observed
  // pattern and its mirror are as extreme).
  const std::vector<double> up{0.05, 0.02, 0.08, 0.03, 0.06, 0.01, 0.04, 0.07};
  auto v = judge_against_ridge(paired_study(up), "top1_forward");
  BOOST_REQUIRE_EQUAL(v.size(), 1u);
  BOOST_REQUIRE_EQUAL(v[0].tests.size(), 1u);
  const PairedTest& t = v[0].tests[0];
  BOOST_CHECK_EQUAL(t.n_subjects, 8u);
  BOOST_CHECK(t.sign_flip.exact);
  BOOST_CHECK_CLOSE_FRACTION(t.sign_flip.p_value, 2.0 / 256, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(t.sign_flip.mean_difference, 0.045, 1e-9);
  BOOST_CHECK_CLOSE_FRACTION(t.wilcoxon.p_value, 2.0 / 256, 1e-12);  // exact, all ranks on one side
  BOOST_CHECK_EQUAL(t.conclusion, "above ridge");
  const std::string text = describe(t, "encoder-adapter");
  BOOST_CHECK_MESSAGE(text.find("above ridge") != std::string::npos && text.find("8 subjects") != std::string::npos &&
                          text.find("exact sign-flip p = 0.00781") != std::string::npos &&
                          text.find("d_z") != std::string::npos,
                      text);
  BOOST_CHECK(text.find("smallest attainable") == std::string::npos);

  // Mixed signs of similar size: no evidence of a difference.
  const std::vector<double> mixed{0.05, -0.04, 0.03, -0.06, 0.02, -0.01, 0.04, -0.03};
  v = judge_against_ridge(paired_study(mixed), "top1_forward");
  BOOST_CHECK_GT(v[0].tests[0].sign_flip.p_value, 0.5);
  BOOST_CHECK_EQUAL(v[0].tests[0].conclusion, "no evidence of a difference");
  // All below: "below ridge".
  std::vector<double> down = up;
  for (double& d : down) d = -d;
  BOOST_CHECK_EQUAL(judge_against_ridge(paired_study(down), "top1_forward")[0].tests[0].conclusion, "below ridge");
}

BOOST_AUTO_TEST_CASE(too_few_subjects_say_so) {
  // 4 subjects all above: p = 2/16 = 0.125 at best, never significant; the wording says why.
  const auto v = judge_against_ridge(paired_study({0.1, 0.2, 0.15, 0.12}), "top1_forward");
  const PairedTest& t = v[0].tests[0];
  BOOST_CHECK_CLOSE_FRACTION(t.sign_flip.p_value, 0.125, 1e-12);
  BOOST_CHECK_EQUAL(t.conclusion, "no evidence of a difference");
  const std::string text = describe(t, "encoder-adapter");
  BOOST_CHECK_MESSAGE(text.find("smallest attainable p is 0.125") != std::string::npos, text);
  // One shared subject: no test at all (the held-out-subject study of study()).
  const auto one = judge_against_ridge(study(), "top1_forward");
  for (const auto& test : one[0].tests) BOOST_CHECK_EQUAL(test.conclusion, "one subject: no test across subjects");
  BOOST_CHECK_EQUAL(one[0].tests.size(), one[0].fractions.size());
}

BOOST_AUTO_TEST_SUITE_END()
