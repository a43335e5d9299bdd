// v2c-prepare's time series (prep/timeseries_collect.h, --timeseries): every run's cleaned volumes,
// a run without events (--events none) among them, the volumes' sample rows, and the stage's
// outputs and refusals.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <random>

#include "pipeline/io/nifti.h"
#include "pipeline/io/samples.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/prep/prepare.h"
#include "pipeline/prep/timeseries_collect.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

// 3x3x2 grid (17 voxels in the mask), TR 2 s: a task run of 30 volumes with 4 s events every
// 10 s from 6 s, and a rest run of 25 volumes without events.
struct TaskAndRest {
  test::TempDir dir{"v2c-prep-ts"};
  std::vector<std::string> bold, events;
  std::string mask;
  static constexpr int nx = 3, ny = 3, nz = 2;
  std::vector<std::vector<float>> raw;  // per run, x fastest, then y, z, t

  TaskAndRest() {
    Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
    affine.diagonal() << 2.0, 2.0, 2.0, 1.0;
    std::mt19937_64 rng(11);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    const int nt[2] = {30, 25};
    const char* names[2] = {"sub-01_task-objects_run-1_bold.nii.gz", "sub-01_task-rest_run-1_bold.nii.gz"};
    for (int r = 0; r < 2; ++r) {
      std::vector<float> v(size_t(nx) * ny * nz * size_t(nt[r]));
      for (auto& x : v) x = 50.0f + noise(rng);
      raw.push_back(v);
      bold.push_back(dir.file(names[r]));
      nifti::write_series(bold.back(), {nx, ny, nz, nt[r]}, affine, 2.0, v, "float32");
    }
    std::string tsv = "onset\tduration\ttrial_type\n";
    for (int e = 0; e < 5; ++e)
      tsv += std::to_string(6 + 10 * e) + "\t4\t" + (e == 2 ? "rest" : "s" + std::to_string(e)) + "\n";
    events = {dir.write("sub-01_task-objects_run-1_events.tsv", tsv), prep::kNoEvents};
    std::vector<float> m(size_t(nx) * ny * nz, 1.0f);
    m[4] = 0.0f;
    mask = dir.file("mask.nii.gz");
    nifti::write_series(mask, {nx, ny, nz, 1}, affine, 0.0, m, "int16");
  }
  std::vector<std::string> args(const std::string& out, const std::string& series) const {
    std::vector<std::string> a = {"--bold", bold[0], bold[1], "--events", events[0], events[1],
                                  "--mask", mask,    "--out", out,        "--quiet"};
    if (!series.empty()) a.insert(a.end(), {"--timeseries", series});
    return a;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(prepare_timeseries)

BOOST_AUTO_TEST_CASE(cleaned_volumes_of_every_run_with_their_sample_rows) {
  TaskAndRest s;
  prep::PrepareConfig cfg;
  cfg.detrend_order = -1;
  cfg.scaling = "none";
  cfg.shift_s = 2.0;
  prep::TimeSeriesCollector collector;
  prep::PrepareInputs in{"sub-01", s.bold, s.events, "", s.mask, "", "", ""};
  in.on_cleaned_run = [&](const MatrixF& y, const nifti::Mask& m) { collector.add_run(y, m); };
  const Samples samples = prep::prepare_subject(in, cfg);
  BOOST_REQUIRE_EQUAL(samples.n_samples(), 4);  // the rest event and the rest run give none
  const TimeSeries ts = collector.finish(samples, cfg.shift_s);
  BOOST_REQUIRE_EQUAL(ts.n_runs(), 2);
  BOOST_CHECK_EQUAL(ts.n_voxels(), 17);
  BOOST_CHECK(ts.ijk == samples.ijk);
  BOOST_CHECK_EQUAL(ts.runs[0].task, "objects");
  BOOST_CHECK_EQUAL(ts.runs[1].task, "rest");
  BOOST_CHECK_EQUAL(ts.runs[1].events, "");
  BOOST_CHECK_EQUAL(ts.runs[1].samples_run, 1);
  BOOST_CHECK_EQUAL(samples.run_events[1], "");
  // No cleaning: the volumes are the raw masked values (voxel 5 = flat index 6: flat 4 is outside).
  const size_t nv = size_t(TaskAndRest::nx) * TaskAndRest::ny * TaskAndRest::nz;
  for (int r = 0; r < 2; ++r)
    for (int64_t t : {int64_t(0), int64_t(7), ts.runs[size_t(r)].n_volumes - 1})
      BOOST_CHECK_EQUAL(ts.data[size_t(r)](t, 5), s.raw[size_t(r)][size_t(t) * nv + 6]);
  // Event at 6 s (4 s, shift 2 s): volumes at 8 and 10 s = volumes 4, 5 -> row 0; the rest event at
  // 26 s labels nothing; the event at 36 s -> volumes 19, 20 -> row 2.
  std::vector<int32_t> expected(30, -1);
  for (int e : {0, 1, 3, 4}) {
    const int row = e < 2 ? e : e - 1;
    expected[size_t(4 + 5 * e)] = expected[size_t(5 + 5 * e)] = row;
  }
  BOOST_CHECK(ts.runs[0].sample_row == expected);
  BOOST_CHECK(ts.runs[1].sample_row == std::vector<int32_t>(25, -1));
  // Event mode: each sample is the mean of the volumes pointing at it.
  for (int64_t i = 0; i < samples.n_samples(); ++i) {
    Eigen::RowVectorXf sum = Eigen::RowVectorXf::Zero(ts.n_voxels());
    int n = 0;
    for (int64_t t = 0; t < ts.runs[0].n_volumes; ++t)
      if (ts.runs[0].sample_row[size_t(t)] == i) sum += ts.data[0].row(t), ++n;
    BOOST_REQUIRE_EQUAL(n, 2);
    BOOST_CHECK_SMALL(double((sum / float(n) - samples.data.row(i)).cwiseAbs().maxCoeff()), 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(stage_writes_the_time_series_beside_the_samples) {
  TaskAndRest s;
  const std::string out = s.dir.file("samples.h5"), series = s.dir.file("timeseries.h5");
  const test::StageRun r = test::run_stage("prepare", s.args(out, series));
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const TimeSeriesReader reader(series);
  BOOST_CHECK_EQUAL(reader.n_runs(), 2);
  BOOST_CHECK_EQUAL(reader.run_info(1).n_volumes, 25);
  BOOST_CHECK_EQUAL(reader.info().subject, "sub-01");
  const Samples samples = read_samples(out);
  BOOST_CHECK_EQUAL(reader.n_voxels(), samples.n_voxels());
  // Cleaned as the samples were (z-scored per run): every voxel of the rest run has mean 0.
  const MatrixF rest = reader.run(1);
  BOOST_CHECK_SMALL(double(rest.colwise().mean().cwiseAbs().maxCoeff()), 1e-4);
  BOOST_CHECK_CLOSE_FRACTION(double(rest.col(0).squaredNorm()) / 25.0, 1.0, 1e-4);

  // Without --force an existing time series is refused before any work, and both files stay.
  const auto stamp = fs::last_write_time(series);
  const test::StageRun again = test::run_stage("prepare", s.args(s.dir.file("other.h5"), series));
  BOOST_CHECK_EQUAL(again.exit_code, 2);
  BOOST_CHECK(again.output.find("--force") != std::string::npos);
  BOOST_CHECK(fs::last_write_time(series) == stamp);
  BOOST_CHECK(!fs::exists(s.dir.file("other.h5")));
}

BOOST_AUTO_TEST_CASE(a_subject_of_rest_runs_only_needs_the_time_series) {
  TaskAndRest s;
  const std::string out = s.dir.file("rest.h5"), series = s.dir.file("rest-ts.h5");
  const std::vector<std::string> rest_only = {"--bold", s.bold[1], "--events", prep::kNoEvents, "--mask",
                                              s.mask,   "--out",   out,        "--quiet"};
  test::check_stage_failure(test::run_stage("prepare", rest_only), 3, out, {"no samples"});
  std::vector<std::string> with_series = rest_only;
  with_series.insert(with_series.end(), {"--timeseries", series});
  const test::StageRun r = test::run_stage("prepare", with_series);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK_EQUAL(read_samples(out).n_samples(), 0);
  const TimeSeries ts = read_timeseries(series);
  BOOST_CHECK_EQUAL(ts.runs[0].labelled_volumes(), 0);
  BOOST_CHECK_EQUAL(ts.runs[0].task, "rest");
}

BOOST_AUTO_TEST_CASE(bids_task_entity) {
  BOOST_CHECK_EQUAL(prep::bids_task_of("/d/sub-01_ses-2_task-rest_run-3_bold.nii.gz"), "rest");
  BOOST_CHECK_EQUAL(prep::bids_task_of("task-movie_bold.nii"), "movie");
  BOOST_CHECK_EQUAL(prep::bids_task_of("/d/bold_25mm.nii.gz"), "");
  BOOST_CHECK_EQUAL(prep::bids_task_of("/d/sub-01_mytask-x_bold.nii.gz"), "");
}

BOOST_AUTO_TEST_SUITE_END()
