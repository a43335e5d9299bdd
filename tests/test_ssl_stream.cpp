// The self-supervised stage on streamed windows (ssl/batches.h StreamedBatches, ssl/train.h's
// streamed train_ssl): from timeseries.h5 files and from memory the loss curve, the validation
// curve and the trained parameters are bitwise the same; the shuffle buffer's peak stays within
// pretrain.buffer_mib however many subjects there are; the AR(1) start and the validation read the
// same runs as the in-memory fit; what the streamed draws change (documented in ssl/batches.h):
// windows without replacement, every training window once per epoch.
#include <boost/test/unit_test.hpp>

#include "pipeline/models/encoder/ssl/train.h"
#include "tests/rest_series.h"
#include "tests/test_util.h"

using namespace v2c;
using namespace v2c::encoder;
using namespace v2c::encoder::ssl;
using v2c::test::TempDir;

namespace {

// Subject `id`: runs of the given lengths, every voxel an AR(1) around its own mean plus a shared
// fluctuation (so that the model has something to learn).
TimeSeries series(const std::string& id, int64_t n_voxels, const std::vector<int64_t>& lengths, uint64_t seed) {
  Rng rng(seed);
  return test::rest_series(id, n_voxels, lengths, [&](size_t, MatrixF& m) {
    double shared = 0;
    for (int64_t t = 0; t < m.rows(); ++t) {
      shared = 0.9 * shared + rng.normal();
      for (int64_t v = 0; v < n_voxels; ++v)
        m(t, v) = float((t > 0 ? 0.4 * double(m(t - 1, v)) : 0.0) + 0.05 * double(v) + 0.3 * shared + rng.normal());
    }
  });
}

// n subjects of 12-20 voxels, 3 runs each; the last run of each validates.
std::vector<TimeSeries> study(int n) {
  std::vector<TimeSeries> out;
  for (int i = 0; i < n; ++i)
    out.push_back(series(cat("sub-", i + 1), 12 + 4 * (i % 3), {40, 25 + i, 30}, 100 + uint64_t(i)));
  return out;
}

SslStreamRuns train_first_two_validate_last(size_t n) {
  SslStreamRuns r;
  r.train.assign(n, {0, 1});
  r.validation.assign(n, {2});
  return r;
}

SslTrainConfig small_config() {
  SslTrainConfig cfg;
  cfg.model.temporal.n_layers = 1;
  cfg.model.temporal.n_heads = 2;
  cfg.window = 4;
  cfg.batch_windows = 6;
  cfg.steps = 40;
  cfg.eval_every = 10;
  cfg.w_masked = 0.5;  // both objectives: masked prediction takes the first `window` volumes
  return cfg;
}

WindowStreamConfig small_buffer() {
  WindowStreamConfig s;
  s.chunk_windows = 8;
  s.buffer_mib = 40.0 * 20 * 4 / double(1 << 20);  // 40 volumes of the widest subject (20 voxels)
  return s;
}

struct Curve {
  std::vector<double> loss;
  SslTrainResult result;
  std::vector<Mat<float>> params;
};

Curve fit_streamed(WindowSource& source, const std::vector<TimeSeries>& ts, const SslTrainConfig& cfg) {
  SslModel<float> model(8, cfg.model, 5);
  for (size_t s = 0; s < ts.size(); ++s) model.add_subject(ts[s].subject, ts[s].n_voxels(), 6 + s);
  Curve c;
  c.result = train_ssl(model, source, train_first_two_validate_last(ts.size()), cfg, small_buffer(), 7,
                       [&](int64_t, double loss, double) { c.loss.push_back(loss); });
  for (const Param<float>* p : model.params().all()) c.params.push_back(p->value);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ssl_stream)

BOOST_AUTO_TEST_CASE(files_and_memory_give_the_same_loss_curve_and_parameters) {
  const auto ts = study(3);
  TempDir dir("v2c-ssl-stream");
  const auto paths = test::write_series_files(dir, ts);
  TimeSeriesMemorySource mem(ts);
  TimeSeriesFileSource files(paths);
  for (bool ar1 : {false, true}) {
    SslTrainConfig cfg = small_config();
    cfg.ar1_start = ar1;
    const Curve a = fit_streamed(mem, ts, cfg), b = fit_streamed(files, ts, cfg);
    BOOST_REQUIRE_EQUAL(a.loss.size(), size_t(cfg.steps));
    BOOST_CHECK(a.loss == b.loss);
    BOOST_CHECK(a.result.validation == b.result.validation);
    BOOST_CHECK_EQUAL(a.result.best_step, b.result.best_step);
    BOOST_CHECK(a.params == b.params);
    BOOST_CHECK_EQUAL(a.result.peak_buffer_volumes, b.result.peak_buffer_volumes);
    // 40 steps of 6 windows over 3 subjects' 2 training runs (36 + 21..23 windows of 5 volumes each,
    // 174 in all): into the second epoch; the validation curve going down (or the start kept)
    BOOST_CHECK_EQUAL(a.result.epochs, 2);
    BOOST_CHECK(a.result.validation.back() < a.result.validation.front() || a.result.best_step < 0);
    // the same (seed, config) again: the same curve
    BOOST_CHECK(fit_streamed(mem, ts, cfg).loss == a.loss);
  }
}

BOOST_AUTO_TEST_CASE(the_buffer_peak_does_not_grow_with_the_subjects) {
  // The buffer holds 40 volumes of 20 voxels (the stream counts every volume at the widest
  // subject's width): 2 subjects or 9, the peak stays within its bytes.
  SslTrainConfig cfg = small_config();
  cfg.steps = 60;
  for (int n : {2, 9}) {
    const auto ts = study(n);
    TimeSeriesMemorySource mem(ts);
    const Curve c = fit_streamed(mem, ts, cfg);
    BOOST_TEST_MESSAGE(n << " subjects: peak buffer " << c.result.peak_buffer_volumes << " volumes");
    int64_t widest = 0;
    for (const auto& s : ts) widest = std::max(widest, s.n_voxels());
    BOOST_CHECK_LE(double(c.result.peak_buffer_volumes * widest * 4), small_buffer().buffer_mib * double(1 << 20));
    BOOST_CHECK_GT(c.result.peak_buffer_volumes, 5);  // it held windows
  }
}

BOOST_AUTO_TEST_CASE(ar1_start_and_validation_read_the_runs_the_in_memory_fit_reads) {
  // The start's validation error (before any step) is the same streamed and in memory: both fit the
  // AR(1) on runs 0-1 and score run 2; the steps after differ (other draws, ssl/batches.h).
  const auto ts = study(2);
  SslTrainConfig cfg = small_config();
  cfg.ar1_start = true;
  TimeSeriesMemorySource mem(ts);
  const Curve streamed = fit_streamed(mem, ts, cfg);
  SslModel<float> model(8, cfg.model, 5);
  std::vector<SslSubjectRuns> data;
  for (size_t s = 0; s < ts.size(); ++s) {
    model.add_subject(ts[s].subject, ts[s].n_voxels(), 6 + s);
    data.push_back({ts[s].subject, {&ts[s].data[0], &ts[s].data[1]}, {&ts[s].data[2]}});
  }
  std::vector<double> pooled_loss;
  const SslTrainResult pooled =
      train_ssl(model, data, cfg, 7, [&](int64_t, double loss, double) { pooled_loss.push_back(loss); });
  BOOST_CHECK_EQUAL(streamed.result.validation[0], pooled.validation[0]);
  BOOST_CHECK(streamed.loss != pooled_loss);  // the documented change of draws
  BOOST_CHECK_EQUAL(pooled.epochs, 0);
}

BOOST_AUTO_TEST_CASE(refuses_a_batch_of_one_window_and_run_lists_that_do_not_match) {
  const auto ts = study(2);
  TimeSeriesMemorySource mem(ts);
  SslTrainConfig cfg = small_config();
  SslModel<float> model(8, cfg.model, 5);
  for (size_t s = 0; s < ts.size(); ++s) model.add_subject(ts[s].subject, ts[s].n_voxels(), 6 + s);
  cfg.batch_windows = 1;
  test::check_error([&] { train_ssl(model, mem, train_first_two_validate_last(2), cfg, small_buffer(), 7); },
                    ExitCode::usage, {"ssl.batch_windows = 1", ">= 2", "streamed"});
  cfg.batch_windows = 6;
  test::check_error([&] { train_ssl(model, mem, train_first_two_validate_last(3), cfg, small_buffer(), 7); },
                    ExitCode::usage, {"run lists for 3", "the source has 2"});
}

BOOST_AUTO_TEST_SUITE_END()
