// Tests of the windows stream (pipeline/models/encoder/window_stream.h, window_source.h): every
// window of the training runs once per epoch, with the volumes of its run; the order a function of
// (seed, epoch), reproduced from any batch; the buffer's peak within pretrain.buffer_mib; files and
// memory give the same batches; everything-fits is epoch_batches' global shuffle.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <set>
#include <tuple>

#include "pipeline/models/encoder/window_stream.h"
#include "tests/rest_series.h"
#include "tests/test_util.h"

using namespace v2c;
using namespace v2c::encoder;
using v2c::test::check_error;
using v2c::test::TempDir;

namespace {

// Subject `id` with runs of the given lengths; volume t of run r, voxel v: a function of all four.
TimeSeries series(const std::string& id, int64_t n_voxels, const std::vector<int64_t>& lengths, int salt) {
  return test::rest_series(id, n_voxels, lengths, [&](size_t r, MatrixF& m) {
    for (int64_t t = 0; t < m.rows(); ++t)
      for (int64_t v = 0; v < n_voxels; ++v) m(t, v) = float(1000 * salt + 100 * int64_t(r) + t) + 0.001f * float(v);
  });
}

std::vector<TimeSeries> study() {
  return {series("sub-01", 50, {40, 9, 23}, 1), series("sub-02", 30, {31, 2, 50}, 2), series("sub-03", 50, {17}, 3)};
}

// Every run of every subject trains.
std::vector<std::vector<int64_t>> all_runs(const std::vector<TimeSeries>& s) {
  std::vector<std::vector<int64_t>> runs(s.size());
  for (size_t i = 0; i < s.size(); ++i)
    for (int64_t r = 0; r < s[i].n_runs(); ++r) runs[i].push_back(r);
  return runs;
}

WindowStreamConfig small_buffer(int64_t length) {
  WindowStreamConfig c;
  c.length = length;
  c.batch_windows = 6;
  c.chunk_windows = 8;
  c.buffer_mib = 60.0 * 50 * 4 / double(1 << 20);  // 60 volumes of the widest subject (50 voxels)
  return c;
}

using Key = std::tuple<size_t, int64_t, int64_t>;  // subject, run, first volume

// All batches of one epoch from `first`, their windows checked against the volumes of `ts`.
std::vector<Key> epoch(WindowStream& st, const std::vector<TimeSeries>& ts, int64_t length, int64_t e,
                       int64_t first = 0) {
  std::vector<Key> keys;
  st.start_epoch(e, first);
  MF X;
  while (!st.done()) {
    const WindowBatch& b = st.next(X);
    BOOST_REQUIRE_EQUAL(X.rows(), int64_t(b.windows.size()) * length);
    BOOST_REQUIRE_EQUAL(X.cols(), ts[b.subject].n_voxels());
    for (size_t k = 0; k < b.windows.size(); ++k) {
      const auto& w = b.windows[k];
      const MatrixF expected = ts[b.subject].data[size_t(w.run)].middleRows(w.t0, length);
      BOOST_REQUIRE(X.middleRows(int64_t(k) * length, length) == expected);
      keys.emplace_back(b.subject, w.run, w.t0);
    }
  }
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(window_stream)

BOOST_AUTO_TEST_CASE(every_window_once_with_its_volumes_and_memory_within_the_buffer) {
  const auto ts = study();
  TimeSeriesMemorySource src(ts);
  const int64_t length = 5;
  WindowStream st(src, all_runs(ts), small_buffer(length), 7);
  int64_t total = 0;
  for (const auto& s : ts)
    for (const auto& r : s.runs) total += std::max<int64_t>(0, r.n_volumes - length + 1);
  BOOST_CHECK_EQUAL(st.windows_per_epoch(), total);
  const auto keys = epoch(st, ts, length, 0);
  const std::set<Key> distinct(keys.begin(), keys.end());
  BOOST_CHECK_EQUAL(distinct.size(), keys.size());  // no window twice
  // Only windows left alone at the end of a subject's buffer may be dropped.
  BOOST_CHECK_GE(int64_t(keys.size()), total - 3);
  BOOST_CHECK_LE(st.peak_volumes(), 60);
  BOOST_CHECK_GT(st.peak_volumes(), 20);  // it streamed: more than one chunk held at once
  // Not simply in reading order: some batch's windows are not consecutive starts.
  bool shuffled = false;
  for (size_t i = 1; i < keys.size(); ++i) shuffled = shuffled || std::get<2>(keys[i]) != std::get<2>(keys[i - 1]) + 1;
  BOOST_CHECK(shuffled);
}

BOOST_AUTO_TEST_CASE(order_is_a_function_of_seed_and_epoch_and_resumes_at_any_batch) {
  const auto ts = study();
  TimeSeriesMemorySource src(ts);
  WindowStream a(src, all_runs(ts), small_buffer(4), 11), b(src, all_runs(ts), small_buffer(4), 11),
      c(src, all_runs(ts), small_buffer(4), 12);
  const auto e0 = epoch(a, ts, 4, 0);
  BOOST_CHECK(epoch(b, ts, 4, 0) == e0);
  BOOST_CHECK(epoch(a, ts, 4, 1) != e0);
  BOOST_CHECK(epoch(c, ts, 4, 0) != e0);
  // From batch k on: the same windows as the tail of the whole epoch.
  const int64_t n = a.batches_in_epoch(0);
  BOOST_REQUIRE_GT(n, 4);
  for (int64_t first : {int64_t(1), n / 2, n - 1, n}) {
    a.start_epoch(0, 0);
    MF X;
    int64_t skipped = 0;
    for (int64_t k = 0; k < first; ++k) skipped += int64_t(a.next(X).windows.size());
    const auto tail = epoch(b, ts, 4, 0, first);
    BOOST_CHECK(std::vector<Key>(e0.begin() + skipped, e0.end()) == tail);
  }
}

BOOST_AUTO_TEST_CASE(files_stream_the_same_batches_as_memory) {
  const auto ts = study();
  TempDir dir("v2c-windows");
  const auto paths = test::write_series_files(dir, ts);
  TimeSeriesMemorySource mem(ts);
  TimeSeriesFileSource files(paths);
  WindowStream a(mem, all_runs(ts), small_buffer(6), 3), b(files, all_runs(ts), small_buffer(6), 3);
  BOOST_CHECK(epoch(a, ts, 6, 2) == epoch(b, ts, 6, 2));
  BOOST_CHECK_EQUAL(a.peak_volumes(), b.peak_volumes());
}

BOOST_AUTO_TEST_CASE(a_buffer_holding_everything_gives_epoch_batches_over_the_starts) {
  const auto ts = study();
  TimeSeriesMemorySource src(ts);
  WindowStreamConfig cfg = small_buffer(3);
  cfg.buffer_mib = 64;
  // Only the first and last runs of each subject train.
  std::vector<std::vector<int64_t>> runs = {{0, 2}, {0, 2}, {0}};
  WindowStream st(src, runs, cfg, 5);
  std::vector<std::vector<int64_t>> starts(ts.size());
  std::vector<std::vector<std::pair<int64_t, int64_t>>> window_of(ts.size());
  for (size_t s = 0; s < ts.size(); ++s)
    for (int64_t r : runs[s])
      for (int64_t t = 0; t + 3 <= ts[s].runs[size_t(r)].n_volumes; ++t) {
        starts[s].push_back(int64_t(window_of[s].size()));
        window_of[s].emplace_back(r, t);
      }
  std::vector<Key> expected;
  for (const Batch& b : epoch_batches(starts, cfg.batch_windows, 5, 1))
    for (int64_t g : b.rows)
      expected.emplace_back(b.subject, window_of[b.subject][size_t(g)].first, window_of[b.subject][size_t(g)].second);
  BOOST_CHECK(epoch(st, ts, 3, 1) == expected);
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused_naming_the_field) {
  const auto ts = study();
  TimeSeriesMemorySource src(ts);
  WindowStreamConfig cfg = small_buffer(5);
  cfg.buffer_mib = 5.0 * 50 * 4 / double(1 << 20);  // 5 volumes: less than one chunk's
  check_error([&] { WindowStream st(src, all_runs(ts), cfg, 1); }, ExitCode::usage,
              {"pretrain.buffer_mib", "holds 5 volumes", "pretrain.chunk_rows = 8", "needs up to"});
  cfg = small_buffer(41);  // longer than every run of sub-01 (40, 9, 23 volumes)
  check_error([&] { WindowStream st(src, all_runs(ts), cfg, 1); }, ExitCode::input,
              {"sub-01", "no training run has 41 volumes"});
  cfg = small_buffer(5);
  cfg.batch_windows = 1;
  check_error([&] { WindowStream st(src, all_runs(ts), cfg, 1); }, ExitCode::usage, {"1 windows per batch"});
}

BOOST_AUTO_TEST_SUITE_END()
