// timeseries.h5 — one subject's cleaned, masked volumes of every run (task, rest and runs without
// events alike), in acquisition order: the data of self-supervised pretraining (issue 11), which
// reads windows of W consecutive volumes of one run. Written by v2c-prepare beside samples.h5,
// with the same per-run detrending/scaling and the same voxel table. Layout (format "timeseries",
// version 1) in docs/formats.md.
//
// Each run is its own float32 dataset [n_volumes x n_voxels], chunked by volumes
// ([chunk_volumes x n_voxels]), so TimeSeriesReader::window(r, t0, W) reads only the chunks that
// hold volumes [t0, t0 + W) of run r; a run is never loaded whole for a window.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pipeline/core/provenance.h"
#include "pipeline/core/types.h"

namespace v2c {

namespace h5 {
class ArtifactWriter;
class ArtifactReader;
}  // namespace h5

constexpr int kTimeSeriesFormatVersion = 1;
// Volumes per HDF5 chunk unless the writer is told otherwise (20,000 voxels: 1.3 MB chunks; a
// window of 16 volumes touches 1-2 chunks).
constexpr int64_t kTimeSeriesChunkVolumes = 16;

// One run of the run table.
struct TimeSeriesRun {
  std::string source;               // NIfTI file of the run
  std::string events;               // its events/labels file; "" = none (rest, movie without events)
  std::string task;                 // task label (BIDS `task-` entity: "rest", "objectviewing"); "" = unknown
  double tr_s = 0;                  // repetition time (s), > 0
  int32_t samples_run = -1;         // index into samples.h5's /runs/* (-1: the run has no samples)
  int64_t n_volumes = 0;            // volumes in the run, >= 1
  std::vector<int32_t> sample_row;  // [n_volumes] row of samples.h5 /data the volume entered
                                    // (lowest row when shifted events overlap); -1 = unlabelled
  int64_t labelled_volumes() const;
};

struct TimeSeries {
  std::string subject;
  // The voxel table (as in samples.h5): one entry per column of every run's volumes.
  Eigen::Matrix<int32_t, Eigen::Dynamic, 3, Eigen::RowMajor> ijk;  // [n_voxels x 3] grid indices
  MatrixD xyz;                                                     // [n_voxels x 3] world coordinates (mm)
  std::array<int64_t, 3> grid_dims{};
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  int64_t mask_voxels = 0, dropped_voxels = 0;
  std::vector<TimeSeriesRun> runs;
  std::vector<MatrixF> data;  // [n_runs] of [n_volumes x n_voxels] float32; empty = table only

  int64_t n_voxels() const { return ijk.rows(); }
  int64_t n_runs() const { return int64_t(runs.size()); }
  int64_t n_volumes() const;  // over all runs
};

// Writes one run at a time (v2c-prepare holds one run in memory). The header's voxel table and
// subject are written at construction; `header.runs` and `header.data` are ignored.
class TimeSeriesWriter {
 public:
  TimeSeriesWriter(const std::string& path, const TimeSeries& header, const Provenance& prov, bool force,
                   int64_t chunk_volumes = kTimeSeriesChunkVolumes);
  ~TimeSeriesWriter();
  TimeSeriesWriter(const TimeSeriesWriter&) = delete;
  TimeSeriesWriter& operator=(const TimeSeriesWriter&) = delete;

  // volumes [run.n_volumes x n_voxels], finite; run.sample_row has n_volumes entries.
  // input_error naming the run when shapes or values do not fit.
  void add_run(const TimeSeriesRun& run, const MatrixF& volumes);
  void commit();  // run table, then rename into place; at least one run

 private:
  std::unique_ptr<h5::ArtifactWriter> w_;
  int64_t n_voxels_, chunk_volumes_;
  std::vector<TimeSeriesRun> runs_;
};

// All of `ts` (runs and data) in one go.
void write_timeseries(const std::string& path, const TimeSeries& ts, const Provenance& prov, bool force,
                      int64_t chunk_volumes = kTimeSeriesChunkVolumes);

// Opens a time-series artifact and checks its whole layout (voxel table, run table, every run's
// dataset shape, sample_row lengths and ranges) without reading volumes; input_error naming the
// file and the dataset otherwise. Volumes are checked to be finite as they are read.
// Not thread-safe (HDF5): use one reader per thread.
class TimeSeriesReader {
 public:
  explicit TimeSeriesReader(const std::string& path);
  ~TimeSeriesReader();
  TimeSeriesReader(const TimeSeriesReader&) = delete;
  TimeSeriesReader& operator=(const TimeSeriesReader&) = delete;

  const TimeSeries& info() const { return info_; }  // everything but the volumes (data empty)
  int64_t n_runs() const { return info_.n_runs(); }
  int64_t n_voxels() const { return info_.n_voxels(); }
  const TimeSeriesRun& run_info(int64_t r) const;
  MatrixF run(int64_t r) const;  // [n_volumes x n_voxels]
  // Volumes [t0, t0 + W) of run r, [W x n_voxels]; requires 0 <= t0, W >= 1, t0 + W <= n_volumes
  // (a caller's bug otherwise).
  MatrixF window(int64_t r, int64_t t0, int64_t W) const;
  std::vector<int64_t> chunk_shape(int64_t r) const;  // HDF5 chunk of run r's dataset
  const std::string& path() const { return path_; }

  static std::string data_name(int64_t r);        // "data/run-0000"
  static std::string sample_row_name(int64_t r);  // "sample_row/run-0000"

 private:
  std::string path_;
  std::unique_ptr<h5::ArtifactReader> r_;
  TimeSeries info_;
};

TimeSeries read_timeseries(const std::string& path);

}  // namespace v2c
