// v2c-ridge's work: one subject's samples -> cross-validated ridge predictions, metrics and a
// final model refit on all samples, decoding (voxels -> features) or encoding (features ->
// voxels) with the same solver (pipeline/models/ridge.h, pipeline/models/cv.h).
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"

namespace v2c::ridge {

struct RidgeConfig {
  std::string mode = "decode";
  std::vector<double> alphas = default_alphas();
  bool alpha_per_target = true;
  std::string alpha_score = "correlation";
  std::string outer = "loro";
  int outer_folds = 6;
  std::vector<std::string> explicit_folds = {};
  int inner_folds = 5;
  bool exclusive = false;
  double train_fraction = 1.0;
  int select_voxels = 0;
  bool standardize_x = false;
  std::string precision = "float32";
  int target_batch = 1024;
  bool fit_final = true;

  static std::vector<double> default_alphas();  // 20 values, log-spaced 1e-2 .. 1e6

  void describe(config::Schema& s) {
    s.field("mode", mode, "decode: voxels -> stimulus features; encode: features -> voxels (writes a NIfTI map)")
        .one_of({"decode", "encode"});
    s.field("alphas", alphas, "the regularisation grid (ascending, > 0); every α comes from one decomposition")
        .check([](const std::vector<double>& a) {
          if (a.empty()) return false;
          for (size_t i = 0; i < a.size(); ++i)
            if (!(a[i] > 0) || (i && !(a[i] > a[i - 1]))) return false;
          return true;
        }, "a non-empty, strictly ascending list of numbers > 0");
    s.field("alpha_per_target", alpha_per_target, "choose α per target (else one α shared by all targets)");
    s.field("alpha_score", alpha_score, "inner-CV score that chooses α (mean over inner folds; ties -> larger α)")
        .one_of({"correlation", "r2"});
    s.field("outer", outer, "outer folds, grouped by run: loro (leave one run out), groups, explicit")
        .one_of({"loro", "groups", "explicit"});
    s.field("outer_folds", outer_folds, "outer: groups: number of folds of consecutive runs").range(2, 1000);
    s.field("explicit_folds", explicit_folds, "outer: explicit: one entry per fold, the run indices it tests (\"0 1\")");
    s.field("inner_folds", inner_folds, "inner CV inside each outer training set: folds of consecutive runs")
        .range(2, 1000);
    s.field("exclusive", exclusive, "drop from training every sample whose stimulus is in the test fold");
    s.field("train_fraction", train_fraction,
            "share of each outer fold's training runs used (its first runs), for learning curves")
        .check([](const double& f) { return f > 0 && f <= 1; }, "in (0, 1]");
    s.field("select_voxels", select_voxels,
            "decode: per target, keep the top-k voxels by |correlation| in the training fold (0 = all)")
        .min(0);
    s.field("standardize_x", standardize_x, "z-score the inputs with training-fold statistics");
    s.field("precision", precision, "arithmetic precision of the solver").one_of({"float32", "float64"});
    s.field("target_batch", target_batch, "targets predicted at once (bounds memory)").min(1);
    s.field("fit_final", fit_final, "refit on all samples (α by CV over all runs) and save the weights");
  }
};

using FoldProgress = std::function<void(int fold, int n_folds)>;

// Samples must carry features (v2c-prepare --features). Throws input_error otherwise.
Predictions run_ridge(const Samples& samples, const RidgeConfig& cfg, const FoldProgress& progress = {});

}  // namespace v2c::ridge
