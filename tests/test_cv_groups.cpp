// Cross-validation inside runs: CV groups of consecutive events (prep/cv_groups.h) written by
// v2c-prepare, folds of event groups and the gap_s rule (models/cv.h), and a single-run block study
// that decodes its categories with group CV and stays at chance with labels permuted within the run.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "pipeline/io/nifti.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/ridge_run.h"
#include "pipeline/prep/cv_groups.h"
#include "pipeline/prep/hrf.h"
#include "tests/test_util.h"

using namespace v2c;
using test::run_stage;
using test::StageRun;

namespace {

events::Event ev(double onset, const std::string& stimulus, const std::string& block = "") {
  return {onset, 1.0, stimulus, {block}, 0};
}

std::vector<int32_t> groups_of(const std::vector<events::Event>& e) {
  std::vector<int32_t> g;
  for (const auto& x : e) g.push_back(x.group);
  return g;
}

// One run of a category localizer: `order` gives the category of each block; a block is 16 events
// of 0.9 s every 1 s, then 12 s of rest; TR 2 s. Voxel j responds to category c with amplitude
// 5 * P(c, j) (P ~ N(0, 1)) on a baseline of 1000, plus a slow drift and AR(1) noise of SD 3.
struct BlockRun {
  std::string bold, events, mask;
  int n_events = 0;
};
BlockRun write_block_run(const test::TempDir& dir, const std::vector<int>& order, uint64_t seed) {
  constexpr int nx = 6, ny = 6, nz = 3, nv = nx * ny * nz, per_block = 16;
  const double tr = 2.0, rest = 12.0;
  std::vector<prep::EventTiming> timing;
  std::vector<int> category;
  std::ostringstream tsv;
  tsv << "onset\tduration\ttrial_type\tblock\n";
  double t = 10.0;
  for (size_t b = 0; b < order.size(); ++b) {
    for (int i = 0; i < per_block; ++i) {
      timing.push_back({t + i, 0.9});
      category.push_back(order[b]);
      tsv << t + i << "\t0.9\tcat" << order[b] << "\tblock" << b << "\n";
    }
    t += per_block + rest;
  }
  const int nt = int(std::ceil(t / tr));
  const MatrixD x = prep::event_regressors(timing, tr, nt);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  MatrixD pattern(6, nv);
  for (int64_t i = 0; i < pattern.size(); ++i) pattern.data()[i] = g(rng);
  std::vector<float> v(size_t(nv) * size_t(nt));
  std::vector<double> noise(nv, 0.0);
  for (int k = 0; k < nt; ++k)
    for (int j = 0; j < nv; ++j) {
      noise[size_t(j)] = 0.4 * noise[size_t(j)] + 3.0 * g(rng);
      double val = 1000.0 + 10.0 * std::sin(double(k) / 30.0 + j) + noise[size_t(j)];
      for (size_t e = 0; e < timing.size(); ++e) val += 5.0 * pattern(category[e], j) * x(k, int64_t(e));
      v[size_t(k) * nv + size_t(j)] = float(val);
    }
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  affine.diagonal() << 3.0, 3.0, 3.0, 1.0;
  BlockRun r;
  r.bold = dir.file("sub-01_task-loc_bold.nii.gz");
  nifti::write_series(r.bold, {nx, ny, nz, nt}, affine, tr, v, "float32");
  r.mask = dir.file("mask.nii.gz");
  nifti::write_series(r.mask, {nx, ny, nz, 1}, affine, 0.0, std::vector<float>(nv, 1.0f), "int16");
  r.events = dir.write("sub-01_task-loc_events.tsv", tsv.str());
  r.n_events = int(timing.size());
  return r;
}

// Top-1 category accuracy of out-of-fold one-hot decoding: argmax of the prediction = argmax of
// the target.
double top1(const Predictions& p) {
  int64_t hit = 0, n = 0;
  for (int64_t i = 0; i < p.predictions.rows(); ++i) {
    if (!std::isfinite(p.predictions(i, 0))) continue;
    Eigen::Index a = 0, b = 0;
    p.predictions.row(i).maxCoeff(&a);
    p.truth.row(i).maxCoeff(&b);
    hit += a == b, ++n;
  }
  return n ? double(hit) / double(n) : 0.0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cv_groups)

BOOST_AUTO_TEST_CASE(groups_are_stretches_of_one_value_and_rest_separates_them) {
  std::vector<events::Event> e = {ev(0, "a"), ev(1, "a"), ev(2, "b"), ev(3, "rest"),
                                  ev(4, "b"), ev(5, "b"), ev(6, "a")};
  BOOST_CHECK_EQUAL(prep::assign_cv_groups(e, -1, 10), 5);
  BOOST_CHECK((groups_of(e) == std::vector<int32_t>{10, 10, 11, 12, 13, 13, 14}));
  // By a block column: equal stimuli of different blocks are different groups, one block is one.
  std::vector<events::Event> b = {ev(0, "a", "x"), ev(1, "a", "y"), ev(2, "b", "y"), ev(3, "c", "z")};
  BOOST_CHECK_EQUAL(prep::assign_cv_groups(b, 0, 0), 3);
  BOOST_CHECK((groups_of(b) == std::vector<int32_t>{0, 1, 1, 2}));
  std::vector<int32_t> ids = {7, 7, 3, 9, 3};
  prep::renumber_groups(ids);
  BOOST_CHECK((ids == std::vector<int32_t>{0, 0, 1, 2, 1}));
}

BOOST_AUTO_TEST_CASE(folds_of_event_groups_and_the_gap) {
  // One run, 6 groups of 2 samples, a sample every 2 s.
  const std::vector<int32_t> group = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
  auto folds = cv::run_folds(group, {}, "event_groups", 3);
  BOOST_REQUIRE_EQUAL(folds.size(), 3u);
  BOOST_CHECK((folds[1].test == std::vector<int64_t>{4, 5, 6, 7}));
  BOOST_CHECK((folds[1].train == std::vector<int64_t>{0, 1, 2, 3, 8, 9, 10, 11}));
  test::check_error([&] { cv::run_folds(group, {}, "event_groups", 7); }, ExitCode::input,
                    {"7 folds of consecutive event groups", "found 6"});
  // A single run under run-grouped CV says what to do instead.
  test::check_error([&] { cv::run_folds(std::vector<int32_t>(12, 0), {}, "loro", 0); }, ExitCode::input,
                    {"at least 2 runs; found 1", "ridge.outer: event_groups", "prepare.group_column"});

  cv::SampleTimes times;
  for (int i = 0; i < 12; ++i) {
    times.run.push_back(i < 10 ? 0 : 1);  // the last two samples in another run
    times.onset_s.push_back(2.0 * (i < 10 ? i : i - 10));
    times.end_s.push_back(times.onset_s.back() + 1.0);
  }
  // Test [8, 15] s; at gap 3 s sample 3 ([6, 7] s, 1 s away) and 8 ([16, 17] s, 1 s away) go,
  // 2 ([4, 5] s, 3 s away) and 9 stay; 10 and 11 are in another run and stay, whatever their times.
  cv::drop_near_test(folds, times, 3.0);
  BOOST_CHECK((folds[1].train == std::vector<int64_t>{0, 1, 2, 9, 10, 11}));
  cv::drop_near_test(folds, times, 3.5);  // now 2 and 9 are within the gap too
  BOOST_CHECK((folds[1].train == std::vector<int64_t>{0, 1, 10, 11}));
}

BOOST_AUTO_TEST_CASE(cross_validation_with_groups_and_gap) {
  const int64_t n = 60, p = 8;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(0, 1);
  linalg::Mat<double> X(n, p), Y(n, 2);
  for (int64_t i = 0; i < X.size(); ++i) X.data()[i] = g(rng);
  Y.col(0) = X.col(0) + 0.1 * X.col(1);
  Y.col(1) = X.col(2);
  std::vector<int32_t> group(static_cast<size_t>(n));
  cv::SampleTimes times;
  for (int64_t i = 0; i < n; ++i) {
    group[size_t(i)] = int32_t(i / 5);  // 12 groups of 5 samples, one run, one sample per 2 s
    times.run.push_back(0);
    times.onset_s.push_back(2.0 * double(i));
    times.end_s.push_back(2.0 * double(i) + 1.0);
  }
  const std::vector<std::string> stim(size_t(n), "s");
  cv::RidgeCvSettings s;
  s.outer = "event_groups";
  s.outer_folds = 4;
  s.gap_s = 4.5;
  const auto res = cv::cross_validate<double>(X, Y, group, stim, s, {}, &times);
  BOOST_REQUIRE_EQUAL(res.folds.size(), 4u);
  for (const auto& f : res.folds) {
    BOOST_CHECK_EQUAL(f.test.size(), 15u);
    for (int64_t tr : f.train)
      for (int64_t te : f.test) BOOST_CHECK_GE(std::abs(tr - te), 3);  // onsets 2 s apart, each 1 s long
  }
  BOOST_CHECK_EQUAL(res.folds[0].train.size(), 60u - 15u - 2u);  // a test fold at the start loses 2
  BOOST_CHECK_EQUAL(res.folds[1].train.size(), 60u - 15u - 4u);
  for (int64_t i = 0; i < n; ++i) BOOST_CHECK_GE(res.fold_of_sample[size_t(i)], 0);
  // gap_s needs times; a gap that empties the inner folds is named.
  test::check_error([&] { cv::cross_validate<double>(X, Y, group, stim, s); }, ExitCode::usage, {"ridge.gap_s"});
  s.gap_s = 1000;
  test::check_error([&] { cv::cross_validate<double>(X, Y, group, stim, s, {}, &times); }, ExitCode::input,
                    {"fold 0", "training samples"});
}

BOOST_AUTO_TEST_CASE(prepare_writes_groups_and_an_average_merges_them) {
  test::TempDir dir("v2c-cvgroups");
  const BlockRun run = write_block_run(dir, {0, 1, 2, 3, 4, 5, 2, 0, 4, 1, 5, 3}, 5);
  const std::string out = dir.file("samples.h5");
  StageRun r = run_stage("prepare", {"--bold", run.bold, "--events", run.events, "--mask", run.mask, "--out", out});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  Samples s = read_samples(out);
  BOOST_REQUIRE_EQUAL(s.n_samples(), run.n_events);
  BOOST_REQUIRE_EQUAL(s.group.size(), size_t(run.n_events));
  for (int i = 0; i < run.n_events; ++i) BOOST_CHECK_EQUAL(s.group[size_t(i)], i / 16);  // groups = blocks
  const std::string py = test::run_python_ok("import h5py\nf = h5py.File('" + out +
                                             "', 'r')\n"
                                             "g = f['samples/group'][:]\nprint(g.dtype, len(set(g)))\n");
  BOOST_CHECK_EQUAL(py, "int32 12\n");
  // By an explicit block column, the same; averaged by stimulus, the two blocks of a category
  // become one sample and their groups one group.
  const std::string by_block = dir.file("by_block.h5"), averaged = dir.file("averaged.h5");
  r = run_stage("prepare", {"--bold", run.bold, "--events", run.events, "--mask", run.mask, "--out", by_block, "--set",
                            "prepare.group_column=block"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(read_samples(by_block).group == s.group);
  r = run_stage("prepare", {"--bold", run.bold, "--events", run.events, "--mask", run.mask, "--out", averaged, "--set",
                            "prepare.group_column=block", "--set", "prepare.average_by=trial_type"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  s = read_samples(averaged);
  BOOST_REQUIRE_EQUAL(s.n_samples(), 6);
  BOOST_CHECK((s.group == std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  test::check_stage_failure(run_stage("prepare", {"--bold", run.bold, "--events", run.events, "--mask", run.mask,
                                                  "--out", dir.file("x.h5"), "--set", "prepare.group_column=blok"}),
                            3, dir.file("x.h5"), {"events.tsv", "blok"});
}

BOOST_AUTO_TEST_CASE(single_run_of_12_blocks_decodes_with_group_cv_and_permuted_labels_stay_at_chance) {
  // Done-when 3 of issue 9: one run, 6 categories in 12 blocks of 16 images of 0.9 s at TR 2 s,
  // one-hot category targets, two outer folds of 6 consecutive blocks (event groups from the
  // category column; each half shows every category once, so every training set is balanced),
  // inner CV over the training blocks, gap_s 4. Then the block labels permuted within each half
  // (a block keeps one label; exchangeable under the null, and the balance kept): the same
  // pipeline stays at chance. (Leave-one-block-out would not be balanced: the test block's
  // category has one block in training, the others two, and the intercept alone then scores
  // below chance, down to 0 when the signal is weak.)
  test::TempDir dir("v2c-cvgroups");
  const std::vector<int> order = {0, 1, 2, 3, 4, 5, 2, 0, 4, 1, 5, 3};
  const BlockRun run = write_block_run(dir, order, 11);
  const std::string out = dir.file("samples.h5");
  const StageRun prep = run_stage("prepare", {"--bold", run.bold, "--events", run.events, "--mask", run.mask,
                                              "--features", "onehot", "--out", out});
  BOOST_REQUIRE_MESSAGE(prep.exit_code == 0, prep.output);
  Samples s = read_samples(out);
  BOOST_REQUIRE_EQUAL(s.n_samples(), 192);
  BOOST_REQUIRE_EQUAL(s.features.rows(), 6);

  // Through the stage, as a user would run it; the one-run study is refused under run CV.
  const std::string pred = dir.file("ridge.h5");
  test::check_stage_failure(run_stage("ridge", {"--samples", out, "--out", pred}), 3, pred,
                            {"at least 2 runs; found 1", "event_groups"});
  const StageRun ridge = run_stage("ridge", {"--samples", out, "--out", pred, "--set", "ridge.outer=event_groups",
                                             "--set", "ridge.outer_folds=2", "--set", "ridge.gap_s=4"});
  BOOST_REQUIRE_MESSAGE(ridge.exit_code == 0, ridge.output);

  ridge::RidgeConfig cfg;
  cfg.outer = "event_groups";
  cfg.outer_folds = 2;
  cfg.gap_s = 4;
  const double observed = top1(ridge::run_ridge(s, cfg, {}));

  // Permutations of the 12 block labels (category of each block), applied to every sample of the
  // block: the samples' data and groups are untouched.
  cfg.fit_final = false;  // only the out-of-fold predictions count
  const std::vector<int32_t> true_row = s.feature_row;
  std::mt19937_64 rng(2026);
  std::vector<double> null;
  const int n_perm = 39;
  for (int k = 0; k < n_perm; ++k) {
    std::vector<int> labels = order;
    std::shuffle(labels.begin(), labels.begin() + 6, rng);
    std::shuffle(labels.begin() + 6, labels.end(), rng);
    for (int64_t i = 0; i < s.n_samples(); ++i) s.feature_row[size_t(i)] = labels[size_t(s.group[size_t(i)])];
    null.push_back(top1(ridge::run_ridge(s, cfg, {})));
  }
  s.feature_row = true_row;
  std::sort(null.begin(), null.end());
  const double mean = std::accumulate(null.begin(), null.end(), 0.0) / double(null.size());
  const double lo = null[size_t(std::floor(0.025 * (n_perm - 1)))], hi = null[size_t(std::ceil(0.975 * (n_perm - 1)))];
  const int64_t as_high = std::count_if(null.begin(), null.end(), [&](double a) { return a >= observed; });
  const double p = double(1 + as_high) / double(1 + n_perm);
  BOOST_TEST_MESSAGE("single run, 12 blocks, 6 categories, 2 folds of 6 blocks: top-1 "
                     << observed << " (chance 1/6); block labels permuted (" << n_perm << "x): mean " << mean
                     << ", 95% range [" << lo << ", " << hi << "], max " << null.back() << "; p = " << p);
  BOOST_CHECK_GT(observed, 0.5);
  BOOST_CHECK_LT(p, 0.05);
  // Chance is 1/6; the mean over 39 permutations has a standard error of about 0.02 here.
  BOOST_CHECK_LT(mean, 1.0 / 6.0 + 0.08);
  BOOST_CHECK_GT(mean, 1.0 / 6.0 - 0.15);
}

BOOST_AUTO_TEST_SUITE_END()
