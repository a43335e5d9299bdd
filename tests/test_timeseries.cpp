// Tests of the time-series artifact (pipeline/io/timeseries.h): round trip, window reads against
// slices of the full run, the chunk layout (also as h5py sees it), and malformed layouts.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <limits>

#include "pipeline/io/h5.h"
#include "pipeline/io/timeseries.h"
#include "tests/test_util.h"

using namespace v2c;
using v2c::test::check_error;
using v2c::test::TempDir;

namespace {

// A subject with three runs: a task run (some volumes labelled), a rest run, and a short run
// without events; values are a deterministic function of (run, volume, voxel).
TimeSeries make_series(int64_t n_voxels = 7) {
  TimeSeries ts;
  ts.subject = "sub-07";
  ts.ijk.resize(n_voxels, 3);
  ts.xyz.resize(n_voxels, 3);
  for (int64_t v = 0; v < n_voxels; ++v) {
    ts.ijk.row(v) << int32_t(v), int32_t(2 * v), 3;
    ts.xyz.row(v) << 2.0 * double(v) - 1.0, 4.0 * double(v), 6.5;
  }
  ts.grid_dims = {40, 48, 12};
  ts.affine(0, 0) = 2.0;
  ts.affine(0, 3) = -1.0;
  ts.mask_voxels = n_voxels + 2;
  ts.dropped_voxels = 2;
  const int64_t lengths[3] = {37, 20, 5};
  const char* tasks[3] = {"objectviewing", "rest", "movie"};
  for (int r = 0; r < 3; ++r) {
    TimeSeriesRun run;
    run.source = cat("sub-07_run-", r + 1, "_bold.nii.gz");
    run.events = r == 0 ? "sub-07_run-1_events.tsv" : "";
    run.task = tasks[r];
    run.tr_s = r == 1 ? 2.0 : 2.5;
    run.samples_run = r == 0 ? 0 : -1;
    run.n_volumes = lengths[r];
    run.sample_row.assign(size_t(run.n_volumes), -1);
    if (r == 0)
      for (int64_t t = 4; t < 30; t += 3) run.sample_row[size_t(t)] = int32_t(t / 3);
    MatrixF m(run.n_volumes, n_voxels);
    for (int64_t t = 0; t < m.rows(); ++t)
      for (int64_t v = 0; v < n_voxels; ++v) m(t, v) = float(std::sin(0.3 * double(t) + double(v) + 10.0 * r));
    ts.runs.push_back(run);
    ts.data.push_back(m);
  }
  return ts;
}

Provenance test_provenance() {
  Provenance prov;
  prov.stage = "test";
  prov.command_line = "v2c-tests";
  return prov;
}

// Writes a time-series file by hand, field by field, so that one field can be broken.
struct RawSeries {
  std::vector<std::pair<std::string, MatrixF>> data;
  std::vector<std::pair<std::string, std::vector<int32_t>>> ints;
  std::vector<int32_t> volumes{4, 3};
  std::vector<double> tr{2.0, 2.0};
  std::vector<std::string> task{"rest", "rest"};
  MatrixD affine = MatrixD::Identity(4, 4);
  std::string skip;  // a dataset left out

  RawSeries() {
    data.push_back({"data/run-0000", MatrixF::Zero(4, 2)});
    data.push_back({"data/run-0001", MatrixF::Zero(3, 2)});
    ints.push_back({"sample_row/run-0000", {-1, -1, -1, -1}});
    ints.push_back({"sample_row/run-0001", {-1, -1, -1}});
  }
  std::string write(const TempDir& dir) const {
    const std::string path = dir.file("raw.h5");
    h5::ArtifactWriter w(path, "timeseries", kTimeSeriesFormatVersion, test_provenance(), true);
    w.attr("/", "subject", std::string("sub-01"));
    w.write("voxels/ijk", std::vector<int32_t>{0, 0, 0, 1, 0, 0}, 3);
    w.write("voxels/xyz", MatrixD(MatrixD::Zero(2, 3)));
    w.attr("/voxels", "mask_voxels", int64_t(2));
    w.attr("/voxels", "dropped_voxels", int64_t(0));
    w.write("grid/dims", std::vector<int64_t>{2, 1, 1});
    w.write("grid/affine", affine);
    for (const auto& [name, m] : data)
      if (name != skip) w.write(name, m);
    for (const auto& [name, v] : ints)
      if (name != skip) w.write(name, v);
    w.write("runs/source", std::vector<std::string>{"a.nii", "b.nii"});
    w.write("runs/events", std::vector<std::string>{"", ""});
    if (skip != "runs/task") w.write("runs/task", task);
    w.write("runs/volumes", volumes);
    w.write("runs/tr", tr);
    w.write("runs/samples_run", std::vector<int32_t>{-1, -1});
    w.commit();
    return path;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(timeseries)

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_field) {
  TempDir dir;
  const TimeSeries ts = make_series();
  const std::string path = dir.file("timeseries.h5");
  write_timeseries(path, ts, test_provenance(), false, 8);
  const TimeSeries back = read_timeseries(path);
  BOOST_CHECK_EQUAL(back.subject, ts.subject);
  BOOST_CHECK(back.ijk == ts.ijk);
  BOOST_CHECK(back.xyz == ts.xyz);
  BOOST_CHECK(back.grid_dims == ts.grid_dims);
  BOOST_CHECK(back.affine == ts.affine);
  BOOST_CHECK_EQUAL(back.mask_voxels, ts.mask_voxels);
  BOOST_CHECK_EQUAL(back.dropped_voxels, ts.dropped_voxels);
  BOOST_REQUIRE_EQUAL(back.n_runs(), 3);
  BOOST_CHECK_EQUAL(back.n_volumes(), 37 + 20 + 5);
  for (size_t r = 0; r < 3; ++r) {
    const TimeSeriesRun &a = ts.runs[r], &b = back.runs[r];
    BOOST_CHECK_EQUAL(b.source, a.source);
    BOOST_CHECK_EQUAL(b.events, a.events);
    BOOST_CHECK_EQUAL(b.task, a.task);
    BOOST_CHECK_EQUAL(b.tr_s, a.tr_s);
    BOOST_CHECK_EQUAL(b.samples_run, a.samples_run);
    BOOST_CHECK_EQUAL(b.n_volumes, a.n_volumes);
    BOOST_CHECK(b.sample_row == a.sample_row);
    BOOST_CHECK(back.data[r] == ts.data[r]);  // float32 stored as float32: bitwise
  }
  BOOST_CHECK_EQUAL(back.runs[0].labelled_volumes(), 9);
  BOOST_CHECK_EQUAL(back.runs[1].labelled_volumes(), 0);
}

BOOST_AUTO_TEST_CASE(windows_equal_slices_of_the_run_and_runs_are_chunked_by_volumes) {
  TempDir dir;
  const TimeSeries ts = make_series(11);
  const std::string path = dir.file("timeseries.h5");
  write_timeseries(path, ts, test_provenance(), false, 6);
  TimeSeriesReader reader(path);
  BOOST_CHECK_EQUAL(reader.n_voxels(), 11);
  for (int64_t r = 0; r < reader.n_runs(); ++r) {
    const int64_t n = reader.run_info(r).n_volumes;
    // chunks of 6 volumes x every voxel (clamped to the run's length)
    const auto chunk = reader.chunk_shape(r);
    BOOST_REQUIRE_EQUAL(chunk.size(), 2u);
    BOOST_CHECK_EQUAL(chunk[0], std::min<int64_t>(6, n));
    BOOST_CHECK_EQUAL(chunk[1], 11);
    for (int64_t W : {int64_t(1), int64_t(4), int64_t(7), n})
      for (int64_t t0 = 0; t0 + W <= n; t0 += 3) {
        const MatrixF w = reader.window(r, t0, W);
        BOOST_REQUIRE_EQUAL(w.rows(), W);
        BOOST_CHECK_MESSAGE(w == ts.data[size_t(r)].middleRows(t0, W),
                            "run " << r << " window [" << t0 << ", " << t0 + W << ")");
      }
    BOOST_CHECK(reader.run(r) == ts.data[size_t(r)]);
  }
}

BOOST_AUTO_TEST_CASE(h5py_sees_the_documented_layout,
                     *boost::unit_test::precondition(test::needs_python{{"h5py", "numpy"}})) {
  TempDir dir;
  const TimeSeries ts = make_series(5);
  const std::string path = dir.file("timeseries.h5");
  write_timeseries(path, ts, test_provenance(), false);
  const std::string out = test::run_python_ok(
      "import h5py, numpy as np\n"
      "f = h5py.File('" +
      path +
      "', 'r')\n"
      "assert f.attrs['vox2clip_format'] == 'timeseries', f.attrs['vox2clip_format']\n"
      "n = f['runs/volumes'][:]\n"
      "for r in range(len(n)):\n"
      "    d = f['data/run-%04d' % r]\n"
      "    assert d.shape == (n[r], 5) and d.dtype == np.float32, (d.shape, d.dtype)\n"
      "    assert d.chunks == (min(16, n[r]), 5), d.chunks\n"
      "    assert f['sample_row/run-%04d' % r].shape == (n[r],)\n"
      "print(list(f['runs/task'].asstr()[:]), int(f['sample_row/run-0000'][4]), float(f['data/run-0001'][2, "
      "3]).hex())\n");
  char hex[64];
  std::snprintf(hex, sizeof hex, "%.13a", double(ts.data[1](2, 3)));
  BOOST_CHECK_EQUAL(out, cat("['objectviewing', 'rest', 'movie'] 1 ", hex, "\n"));
}

BOOST_AUTO_TEST_CASE(writer_refuses_runs_that_do_not_fit) {
  TempDir dir;
  const TimeSeries ts = make_series();
  TimeSeriesWriter w(dir.file("ts.h5"), ts, test_provenance(), false);
  TimeSeriesRun run = ts.runs[1];
  check_error([&] { w.add_run(run, MatrixF::Zero(run.n_volumes, 6)); }, ExitCode::input,
              {"run 0", "volumes are 20 x 6; expected 20 x 7"});
  run.sample_row.pop_back();
  check_error([&] { w.add_run(run, ts.data[1]); }, ExitCode::input, {"sample_row has 19 entries"});
  run = ts.runs[1];
  run.sample_row[3] = 2;  // labelled volume in a run without samples
  check_error([&] { w.add_run(run, ts.data[1]); }, ExitCode::input, {"samples_run -1"});
  run = ts.runs[1];
  MatrixF bad = ts.data[1];
  bad(5, 2) = std::numeric_limits<float>::quiet_NaN();
  check_error([&] { w.add_run(run, bad); }, ExitCode::input, {"non-finite value at volume 5, voxel 2"});
  check_error([&] { w.commit(); }, ExitCode::input, {"no runs"});
  BOOST_CHECK(!std::filesystem::exists(dir.file("ts.h5")));
}

BOOST_AUTO_TEST_CASE(bad_layouts_are_input_errors_naming_file_and_dataset) {
  TempDir dir;
  {
    const std::string path = RawSeries().write(dir);
    BOOST_CHECK_EQUAL(TimeSeriesReader(path).n_runs(), 2);  // the hand-written file is valid as is
  }
  {
    RawSeries raw;
    raw.data[1].second = MatrixF::Zero(3, 4);
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input,
                {path, "data/run-0001", "shape 3 x 4; expected 3 x 2"});
  }
  {
    RawSeries raw;
    raw.volumes[0] = 5;
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "data/run-0000", "expected 5 x 2"});
  }
  {
    RawSeries raw;
    raw.ints[1].second = {-1, -1};
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "sample_row/run-0001", "has 2 entries"});
  }
  {
    RawSeries raw;
    raw.ints[0].second = {-1, 3, -1, -1};
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "sample_row/run-0000", "no samples"});
  }
  {
    RawSeries raw;
    raw.skip = "data/run-0001";
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "data/run-0001"});
  }
  {
    RawSeries raw;
    raw.skip = "runs/task";
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "runs/task"});
  }
  {
    RawSeries raw;
    raw.task = {"rest"};
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "runs/task", "has 1 entries"});
  }
  {
    RawSeries raw;
    raw.tr = {2.0, 0.0};
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "runs/tr", "run 1 has TR 0"});
  }
  {
    RawSeries raw;
    raw.affine = MatrixD::Identity(3, 3);
    const std::string path = raw.write(dir);
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "grid/affine", "3 x 3"});
  }
  {
    RawSeries raw;
    raw.data[0].second(2, 1) = std::numeric_limits<float>::infinity();
    const std::string path = raw.write(dir);
    TimeSeriesReader reader(path);  // the layout is fine; the value is caught when read
    BOOST_CHECK_EQUAL(reader.window(0, 0, 2).rows(), 2);
    check_error([&] { reader.window(0, 1, 3); }, ExitCode::input,
                {path, "data/run-0000", "non-finite value at volume 2, voxel 1"});
  }
  {
    const std::string path = dir.file("not_timeseries.h5");  // another artifact kind
    h5::ArtifactWriter w(path, "samples", 1, test_provenance(), false);
    w.commit();
    check_error([&] { TimeSeriesReader{path}; }, ExitCode::input, {path, "'samples' file; expected a 'timeseries'"});
  }
}

BOOST_AUTO_TEST_SUITE_END()
