// The next-time-point predictor as "AR(1) + learned correction" (issue 11, "Done when" 2;
// SslTrainConfig::ar1_start, pretrain.ssl_ar1_start). Before any step, a subject's residual
// next-time-point prediction (ssl/next_step.h, NextStepConfig::residual)
//   x̂_v[t+1] = skip_v · x_v[t] + (z_t · R_s + r_s)_v
// is set to the per-voxel AR(1) least-squares fit of its TRAINING runs (ssl/baselines.h, fit_ar1):
//   skip "readout/<s>/skip" = a,   read-out bias r_s "readout/<s>/b" = c,   read-out weights R_s = 0
// so the untrained model predicts what the AR(1) baseline predicts (in double: bitwise, b + x·a is
// x·a + c; in float: a and c rounded to float once, a few ulps), and training learns only the
// correction that the shared latent adds. The zero read-out weights get the gradient zᵀ·dY in the
// first step; the adapter and temporal model get theirs once R_s is no longer zero (from the second
// step). The masked objective (ssl/masked.h) reads out through the same R_s and r_s: with this start
// its reconstruction of a hidden value starts at c_v.
//
// Which runs: the caller passes the fit of the runs the model trains on (train_ssl: each subject's
// SslSubjectRuns::runs), never validation or held-out runs. Kernel: no I/O.
#pragma once

#include <string>

#include "pipeline/models/encoder/ssl/baselines.h"
#include "pipeline/models/encoder/ssl/model.h"

namespace v2c::encoder::ssl {

// Sets `subject`'s skip weights, read-out bias and read-out weights as above. input_error when the
// fit has another number of voxels than the subject.
template <class S>
void start_at_ar1(SslModel<S>& model, const std::string& subject, const Ar1& fit);

}  // namespace v2c::encoder::ssl
