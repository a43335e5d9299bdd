// v2c-ridge's work: one subject's samples -> cross-validated ridge predictions, metrics and a
// final model refit on all samples, decoding (voxels -> features) or encoding (features ->
// voxels) with the same solver (pipeline/models/ridge.h, pipeline/models/cv.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/ridge_config.h"

namespace v2c::ridge {

using FoldProgress = std::function<void(int fold, int n_folds)>;

// Samples must carry features (v2c-prepare --features). Throws input_error otherwise.
Predictions run_ridge(const Samples& samples, const RidgeConfig& cfg, const FoldProgress& progress = {});

}  // namespace v2c::ridge
