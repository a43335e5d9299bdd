// Per-run signal preparation and sample extraction (kernels: no I/O).
//
// A run is a matrix Y [n_volumes x n_voxels] (float32, row t = volume t, masked voxels as
// columns). Everything here is computed from that run's own data: detrending and scaling use no
// statistics from other runs, so later cross-validation by run cannot leak through them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::prep {

enum class Scaling { zscore, psc, none };
Scaling parse_scaling(const std::string& name);  // "zscore" | "psc" | "none"

// Voxel health in one run, column by column.
struct VoxelHealth {
  std::vector<uint8_t> all_nonfinite;   // every value non-finite (e.g. outside this run's brain)
  std::vector<uint8_t> some_nonfinite;  // a mix of finite and non-finite values
  std::vector<uint8_t> constant;        // zero variance after detrending (or zero mean for psc)
  int64_t first_bad_volume = -1;        // for messages: a volume holding a non-finite value
  int64_t first_bad_voxel = -1;         //   ... and its column
};

// Finds non-finite columns, sets them to 0 so the linear algebra below stays finite.
VoxelHealth scan_nonfinite(MatrixF& y);

// Removes from every column its least-squares fit on the columns of `basis` [n_volumes x p]
// (y -= Q Q^T y with Q an orthonormal basis of their span; linearly dependent columns count once).
// p = 0: nothing. `y` is modified in place.
void regress_out(MatrixF& y, const MatrixD& basis);

// regress_out with polynomial_basis(n_volumes, order) (drift.h): order -1 = nothing, 0 = the
// mean, 1 = linear, ... Needs n_volumes > order.
void detrend(MatrixF& y, int order);

// Scales every column in place: zscore (mean 0, SD 1 with ddof 0), psc (100 * (y - mean) /
// `baseline`, the column means of the raw run taken before detrending), or none. Columns with
// (near-)zero SD, or zero baseline for psc, are flagged in health.constant and set to 0.
void scale_columns(MatrixF& y, Scaling scaling, const Eigen::VectorXd& baseline, VoxelHealth& health);

Eigen::VectorXd column_means(const MatrixF& y);

// The whole per-run cleaning, column block by column block in parallel (each voxel is
// independent): scan_nonfinite, regress_out(nuisance), scale_columns. Same result as calling them
// in turn. `nuisance` [n_volumes x p]: the run's drift terms and confounds (p may be 0).
VoxelHealth clean_run(MatrixF& y, const MatrixD& nuisance, Scaling scaling);

// Volumes averaged into one sample: every volume t whose acquisition time t*TR lies in
// [onset + shift, onset + shift + max(duration, TR)) (half-open). The window is at least one TR
// long, so it holds at least one volume (the nearest one after onset + shift) unless it starts
// after the run's last volume; it is cut at the end of the run. count 0: no volume.
struct VolumeWindow {
  int64_t first = 0, count = 0;
};
VolumeWindow event_window(double onset_s, double duration_s, double shift_s, double tr_s, int64_t n_volumes);

// Mean of rows [w.first, w.first + w.count) of y, as a row vector of length n_voxels.
Eigen::RowVectorXf window_mean(const MatrixF& y, const VolumeWindow& w);

}  // namespace v2c::prep
