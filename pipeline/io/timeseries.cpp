#include "pipeline/io/timeseries.h"

#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/io/h5.h"

namespace v2c {

namespace {

constexpr const char* kKind = "timeseries";

// "<group>/run-0007": zero-padded to 4 digits so that h5py lists runs in order.
std::string run_dataset(const char* group, int64_t r) {
  std::string digits = std::to_string(r);
  if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
  return cat(group, "/run-", digits);
}

// First non-finite value of m, as (row, col); {-1, -1} when all are finite.
std::pair<int64_t, int64_t> first_nonfinite(const MatrixF& m) {
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j))) return {i, j};
  return {-1, -1};
}

}  // namespace

int64_t TimeSeriesRun::labelled_volumes() const {
  int64_t n = 0;
  for (int32_t s : sample_row) n += s >= 0 ? 1 : 0;
  return n;
}

int64_t TimeSeries::n_volumes() const {
  int64_t n = 0;
  for (const auto& r : runs) n += r.n_volumes;
  return n;
}

// ---- writer ----

TimeSeriesWriter::TimeSeriesWriter(const std::string& path, const TimeSeries& header, const Provenance& prov,
                                   bool force, int64_t chunk_volumes)
    : n_voxels_(header.n_voxels()), chunk_volumes_(chunk_volumes) {
  V2C_ASSERT(chunk_volumes >= 1, "chunk_volumes = ", chunk_volumes);
  if (header.xyz.rows() != n_voxels_ || header.xyz.cols() != 3)
    throw input_error("time series of '", header.subject, "': voxel xyz is ", header.xyz.rows(), " x ",
                      header.xyz.cols(), "; expected ", n_voxels_, " x 3");
  if (n_voxels_ < 1) throw input_error("time series of '", header.subject, "': no voxels");
  w_ = std::make_unique<h5::ArtifactWriter>(path, kKind, kTimeSeriesFormatVersion, prov, force);
  w_->attr("/", "subject", header.subject);
  w_->attr("/", "chunk_volumes", chunk_volumes);
  w_->write("voxels/ijk", std::vector<int32_t>(header.ijk.data(), header.ijk.data() + header.ijk.size()), 3);
  w_->write("voxels/xyz", header.xyz);
  w_->attr("/voxels", "mask_voxels", header.mask_voxels);
  w_->attr("/voxels", "dropped_voxels", header.dropped_voxels);
  w_->write("grid/dims", std::vector<int64_t>(header.grid_dims.begin(), header.grid_dims.end()));
  w_->write("grid/affine", MatrixD(header.affine));
}

TimeSeriesWriter::~TimeSeriesWriter() = default;

void TimeSeriesWriter::add_run(const TimeSeriesRun& run, const MatrixF& volumes) {
  V2C_ASSERT(w_, "add_run after commit");
  const int64_t r = int64_t(runs_.size());
  with_context(cat("writing run ", r, " ('", run.source, "') of time series '", w_->path(), "'"), [&] {
    if (run.n_volumes < 1) throw input_error("the run has ", run.n_volumes, " volumes; need >= 1");
    if (volumes.rows() != run.n_volumes || volumes.cols() != n_voxels_)
      throw input_error("volumes are ", volumes.rows(), " x ", volumes.cols(), "; expected ", run.n_volumes, " x ",
                        n_voxels_, " (volumes x voxels)");
    if (int64_t(run.sample_row.size()) != run.n_volumes)
      throw input_error("sample_row has ", run.sample_row.size(), " entries; expected one per volume (", run.n_volumes,
                        ")");
    if (!(run.tr_s > 0 && std::isfinite(run.tr_s))) throw input_error("TR is ", run.tr_s, " s; must be > 0");
    if (run.samples_run < -1) throw input_error("samples_run is ", run.samples_run, "; must be >= -1");
    for (int32_t s : run.sample_row) {
      if (s < -1) throw input_error("sample_row holds ", s, "; must be >= -1");
      if (s >= 0 && run.samples_run < 0)
        throw input_error("volumes are labelled (sample_row ", s, ") but the run has no samples (samples_run -1)");
    }
    const auto bad = first_nonfinite(volumes);
    if (bad.first >= 0) throw input_error("non-finite value at volume ", bad.first, ", voxel ", bad.second);
    w_->write_chunked(run_dataset("data", r), volumes, chunk_volumes_);
    w_->write(run_dataset("sample_row", r), run.sample_row);
  });
  runs_.push_back(run);
}

void TimeSeriesWriter::commit() {
  V2C_ASSERT(w_, "commit twice");
  if (runs_.empty()) throw input_error("time series '", w_->path(), "': no runs to write");
  std::vector<std::string> source, events, task;
  std::vector<int32_t> n_volumes, samples_run;
  std::vector<double> tr;
  for (const auto& r : runs_) {
    source.push_back(r.source);
    events.push_back(r.events);
    task.push_back(r.task);
    n_volumes.push_back(int32_t(r.n_volumes));
    samples_run.push_back(r.samples_run);
    tr.push_back(r.tr_s);
  }
  w_->write("runs/source", source);
  w_->write("runs/events", events);
  w_->write("runs/task", task);
  w_->write("runs/volumes", n_volumes);
  w_->write("runs/tr", tr);
  w_->write("runs/samples_run", samples_run);
  w_->commit();
  w_.reset();
}

void write_timeseries(const std::string& path, const TimeSeries& ts, const Provenance& prov, bool force,
                      int64_t chunk_volumes) {
  V2C_ASSERT(ts.data.size() == ts.runs.size(), "time series has ", ts.runs.size(), " runs and ", ts.data.size(),
             " data matrices");
  TimeSeriesWriter w(path, ts, prov, force, chunk_volumes);
  for (size_t r = 0; r < ts.runs.size(); ++r) w.add_run(ts.runs[r], ts.data[r]);
  w.commit();
}

// ---- reader ----

std::string TimeSeriesReader::data_name(int64_t r) { return run_dataset("data", r); }
std::string TimeSeriesReader::sample_row_name(int64_t r) { return run_dataset("sample_row", r); }

TimeSeriesReader::TimeSeriesReader(const std::string& path) : path_(path) {
  with_context("reading time series '" + path + "'", [&] {
    r_ = std::make_unique<h5::ArtifactReader>(path, kKind, kTimeSeriesFormatVersion);
    const h5::ArtifactReader& r = *r_;
    auto bad = [&](const std::string& dataset, const auto&... what) {
      return input_error("'", path, "' dataset '", dataset, "': ", what...);
    };
    TimeSeries& ts = info_;
    ts.subject = r.attr_string("/", "subject");
    const auto ijk_shape = r.shape("voxels/ijk");
    if (ijk_shape.size() != 2 || ijk_shape[1] != 3 || ijk_shape[0] < 1)
      throw bad("voxels/ijk", "expected [n_voxels x 3] with n_voxels >= 1");
    const int64_t p = ijk_shape[0];
    const auto ijk = r.read_int32s("voxels/ijk");
    ts.ijk.resize(p, 3);
    for (size_t i = 0; i < ijk.size(); ++i) ts.ijk.data()[i] = ijk[i];
    ts.xyz = r.read_matrix_d("voxels/xyz");
    if (ts.xyz.rows() != p || ts.xyz.cols() != 3)
      throw bad("voxels/xyz", "is ", ts.xyz.rows(), " x ", ts.xyz.cols(), "; expected ", p, " x 3 (as voxels/ijk)");
    ts.mask_voxels = int64_t(r.attr_double("/voxels", "mask_voxels"));
    ts.dropped_voxels = int64_t(r.attr_double("/voxels", "dropped_voxels"));
    const auto dims = r.read_ints("grid/dims");
    if (dims.size() != 3) throw bad("grid/dims", "has ", dims.size(), " values; expected 3");
    for (int k = 0; k < 3; ++k) ts.grid_dims[size_t(k)] = dims[size_t(k)];
    const MatrixD aff = r.read_matrix_d("grid/affine");
    if (aff.rows() != 4 || aff.cols() != 4)
      throw bad("grid/affine", "is ", aff.rows(), " x ", aff.cols(), "; expected 4 x 4");
    ts.affine = aff;

    const auto source = r.read_strings("runs/source");
    const size_t n_runs = source.size();
    if (n_runs == 0) throw bad("runs/source", "no runs");
    auto same_length = [&](const std::string& name, size_t n) {
      if (n != n_runs) throw bad(name, "has ", n, " entries; runs/source has ", n_runs);
    };
    const auto events = r.read_strings("runs/events");
    same_length("runs/events", events.size());
    const auto task = r.read_strings("runs/task");
    same_length("runs/task", task.size());
    const auto n_volumes = r.read_int32s("runs/volumes");
    same_length("runs/volumes", n_volumes.size());
    const auto tr = r.read_doubles("runs/tr");
    same_length("runs/tr", tr.size());
    const auto samples_run = r.read_int32s("runs/samples_run");
    same_length("runs/samples_run", samples_run.size());
    for (size_t k = 0; k < n_runs; ++k) {
      TimeSeriesRun run;
      run.source = source[k];
      run.events = events[k];
      run.task = task[k];
      run.n_volumes = n_volumes[k];
      run.tr_s = tr[k];
      run.samples_run = samples_run[k];
      if (run.n_volumes < 1) throw bad("runs/volumes", "run ", k, " has ", run.n_volumes, " volumes; need >= 1");
      if (!(run.tr_s > 0 && std::isfinite(run.tr_s)))
        throw bad("runs/tr", "run ", k, " has TR ", run.tr_s, "; must be > 0");
      if (run.samples_run < -1) throw bad("runs/samples_run", "run ", k, " has ", run.samples_run, "; must be >= -1");
      const std::string data = data_name(int64_t(k)), rows = sample_row_name(int64_t(k));
      const auto shape = r.shape(data);
      if (shape.size() != 2 || shape[0] != run.n_volumes || shape[1] != p)
        throw bad(data, "shape ", shape.size() == 2 ? cat(shape[0], " x ", shape[1]) : cat(shape.size(), " dims"),
                  "; expected ", run.n_volumes, " x ", p, " (runs/volumes x voxels)");
      run.sample_row = r.read_int32s(rows);
      if (int64_t(run.sample_row.size()) != run.n_volumes)
        throw bad(rows, "has ", run.sample_row.size(), " entries; expected ", run.n_volumes, " (one per volume)");
      for (int32_t s : run.sample_row) {
        if (s < -1) throw bad(rows, "holds ", s, "; must be >= -1");
        if (s >= 0 && run.samples_run < 0)
          throw bad(rows, "labels a volume (sample row ", s, ") of run ", k, ", which has no samples (samples_run -1)");
      }
      ts.runs.push_back(std::move(run));
    }
  });
}

TimeSeriesReader::~TimeSeriesReader() = default;

const TimeSeriesRun& TimeSeriesReader::run_info(int64_t r) const {
  V2C_ASSERT(r >= 0 && r < n_runs(), "run ", r, " of ", n_runs());
  return info_.runs[size_t(r)];
}

MatrixF TimeSeriesReader::window(int64_t r, int64_t t0, int64_t W) const {
  const TimeSeriesRun& run = run_info(r);
  V2C_ASSERT(t0 >= 0 && W >= 1 && t0 + W <= run.n_volumes, "window [", t0, ", ", t0 + W, ") of run ", r, " with ",
             run.n_volumes, " volumes");
  const std::string name = data_name(r);
  MatrixF m = r_->read_rows_f(name, t0, W);
  const auto bad = first_nonfinite(m);
  if (bad.first >= 0)
    throw input_error("'", path_, "' dataset '", name, "': non-finite value at volume ", t0 + bad.first, ", voxel ",
                      bad.second);
  return m;
}

MatrixF TimeSeriesReader::run(int64_t r) const { return window(r, 0, run_info(r).n_volumes); }

std::vector<int64_t> TimeSeriesReader::chunk_shape(int64_t r) const {
  run_info(r);
  return r_->chunk_shape(data_name(r));
}

TimeSeries read_timeseries(const std::string& path) {
  TimeSeriesReader reader(path);
  TimeSeries ts = reader.info();
  for (int64_t r = 0; r < reader.n_runs(); ++r) ts.data.push_back(reader.run(r));
  return ts;
}

}  // namespace v2c
