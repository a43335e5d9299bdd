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

// Removes a polynomial of degree `order` in time from every column (least squares, Legendre
// basis on [-1, 1], orthonormalised): order -1 = nothing, 0 = the mean, 1 = linear, ...
// Returns nothing; `y` is modified in place. Needs n_volumes > order.
void detrend(MatrixF& y, int order);

// Scales every column in place: zscore (mean 0, SD 1 with ddof 0), psc (100 * (y - mean) /
// `baseline`, the column means of the raw run taken before detrending), or none. Columns with
// (near-)zero SD, or zero baseline for psc, are flagged in health.constant and set to 0.
void scale_columns(MatrixF& y, Scaling scaling, const Eigen::VectorXd& baseline, VoxelHealth& health);

Eigen::VectorXd column_means(const MatrixF& y);

// The whole per-run cleaning, column block by column block in parallel (each voxel is
// independent): scan_nonfinite, detrend, scale_columns. Same result as calling them in turn.
VoxelHealth clean_run(MatrixF& y, int detrend_order, Scaling scaling);

// Volumes averaged into one sample: every volume t with acquisition time t*TR inside
// [onset + shift, onset + duration + shift) (half-open). Empty when none falls inside.
struct VolumeWindow {
  int64_t first = 0, count = 0;
};
VolumeWindow event_window(double onset_s, double duration_s, double shift_s, double tr_s, int64_t n_volumes);

// Mean of rows [w.first, w.first + w.count) of y, as a row vector of length n_voxels.
Eigen::RowVectorXf window_mean(const MatrixF& y, const VolumeWindow& w);

}  // namespace v2c::prep
