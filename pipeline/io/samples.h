// samples.h5 — one subject's prepared data: one row per sample (stimulus presentation or
// volume), one column per kept voxel. Written by v2c-prepare, read by every later stage.
// Layout (format "samples", version 1) in docs/formats.md.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pipeline/core/provenance.h"
#include "pipeline/core/types.h"

namespace v2c {

constexpr int kSamplesFormatVersion = 1;

struct Samples {
  std::string subject;
  MatrixF data;  // [n_samples x n_voxels] float32
  // The sample table, one entry per row of `data`.
  std::vector<std::string> stimulus;  // stimulus id (as in the events, before aliasing)
  std::vector<int32_t> run;           // run index 0..n_runs-1 (order of the runs table)
  std::vector<double> onset_s;        // event onset within its run (s)
  std::vector<double> duration_s;     // event duration (s); TR for per-volume samples
  std::vector<int32_t> volumes;       // volumes averaged into the sample
  std::vector<int32_t> group;         // CV group (stretch of consecutive events, prepare.group_column),
                                      // 0..k-1 unique across runs; empty in files without one
  // The voxel table, one entry per column of `data`.
  Eigen::Matrix<int32_t, Eigen::Dynamic, 3, Eigen::RowMajor> ijk;  // [n_voxels x 3] grid indices
  MatrixD xyz;  // [n_voxels x 3] world coordinates (mm), affine * ijk
  // The grid the voxels live on.
  std::array<int64_t, 3> grid_dims{};
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  // The runs table.
  std::vector<std::string> run_source;  // NIfTI file of each run
  std::vector<std::string> run_events;  // events/labels file of each run
  std::vector<int32_t> run_volumes;     // volumes in each run
  std::vector<double> run_tr_s;         // TR used for each run (s)
  // Optional stimulus features: one row per distinct stimulus of the samples.
  std::vector<std::string> feature_ids;  // [n_stimuli] feature-table id (after aliasing)
  MatrixF features;                      // [n_stimuli x dim]
  std::vector<int32_t> feature_row;      // [n_samples] row of `features` for each sample
  std::string feature_source;            // file the features came from
  // Events that gave no sample (the reason is also in the log), one entry each.
  std::vector<std::string> dropped_stimulus;
  std::vector<int32_t> dropped_run;
  std::vector<double> dropped_onset_s;
  std::vector<std::string> dropped_reason;
  // Bookkeeping.
  int64_t mask_voxels = 0, dropped_voxels = 0;
  std::string sample_mode;  // event | volume | glm-lsa | glm-lss (what a row is)
  std::string mask_source;  // the mask file read, or the automatic mask written
  std::string mask_method;  // "file", or "auto" with the method's settings and threshold

  int64_t n_samples() const { return data.rows(); }
  int64_t n_voxels() const { return data.cols(); }
  bool has_features() const { return features.rows() > 0; }
};

// Keeps the samples `rows` (ascending indices into the sample table), in every per-sample field.
void keep_samples(Samples& s, const std::vector<int64_t>& rows);

void write_samples(const std::string& path, const Samples& s, const Provenance& prov, bool force);
// with_data = false: everything but the data, which is left [n_samples x 0] (nothing read; the
// voxel count is ijk.rows()), for readers of the data in row ranges (h5::ArtifactReader::read_rows_f
// on "data", as pipeline/models/encoder/sample_source.h does).
Samples read_samples(const std::string& path, bool with_data = true);

}  // namespace v2c
