// Baselines that next-time-point prediction must beat (issue 11, "Done when" 2), on the same
// targets as the model: volumes t >= first of held-out runs (first = the model's context length T,
// so every method predicts exactly the volumes the model predicts).
//   persistence  x̂[t] = x[t-1]
//   AR(1)        x̂_v[t] = a_v·x_v[t-1] + c_v per voxel v, least squares over every pair of
//                consecutive volumes WITHIN each training run (never across a run boundary)
// Runs are [n_volumes x n_voxels] (rows are time). Sums in double, runs and volumes in order.
// Kernels: no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::encoder::ssl {

struct Ar1 {
  VectorD a, c;  // [n_voxels] slope and intercept
};

// Fits every voxel's AR(1) on the pairs (x[t-1], x[t]) of each run. A voxel whose x[t-1] does not
// vary gets a = 0, c = mean of x[t]. input_error when the runs hold no pair or differ in voxels.
Ar1 fit_ar1(const std::vector<const MatrixF*>& runs);
// The same fit over runs handed out one at a time (for runs read on demand): each_run(visit) calls
// visit(run) for every run, in the same order each time; it is called twice (two passes).
using RunVisitor = std::function<void(const MatrixF&)>;
Ar1 fit_ar1_over(const std::function<void(const RunVisitor&)>& each_run);

// Each row of prev [rows x n_voxels] -> the AR(1) prediction of the volume after it.
MatrixF ar1_predict(const Ar1& model, const MatrixF& prev);

// Squared error of predictions of volumes [first, n_volumes) of a run (1 <= first).
struct NextStepError {
  double sse = 0;
  int64_t n_values = 0;  // volumes x voxels scored
  double mse() const { return n_values > 0 ? sse / double(n_values) : 0.0; }
  NextStepError& operator+=(const NextStepError& o) {
    sse += o.sse;
    n_values += o.n_values;
    return *this;
  }
};
NextStepError persistence_error(const MatrixF& run, int64_t first);
NextStepError ar1_error(const Ar1& model, const MatrixF& run, int64_t first);

}  // namespace v2c::encoder::ssl
