#include "pipeline/models/ridge_config.h"

#include <cmath>

#include "pipeline/core/config.h"

namespace v2c::ridge {

std::vector<double> RidgeConfig::default_alphas() {
  std::vector<double> a;
  for (int i = 0; i < 20; ++i) a.push_back(std::pow(10.0, -2.0 + 8.0 * i / 19.0));
  return a;
}

void RidgeConfig::describe(config::Schema& s) {
  s.field("mode", mode, "decode: voxels -> stimulus features; encode: features -> voxels (writes a NIfTI map)")
      .one_of({"decode", "encode"});
  s.field("alphas", alphas, "the regularisation grid (ascending, > 0); every α comes from one decomposition")
      .check(
          [](const std::vector<double>& a) {
            if (a.empty()) return false;
            for (size_t i = 0; i < a.size(); ++i)
              if (!(a[i] > 0) || (i && !(a[i] > a[i - 1]))) return false;
            return true;
          },
          "a non-empty, strictly ascending list of numbers > 0");
  s.field("alpha_per_target", alpha_per_target,
          "choose α per target (else one α shared by all targets: steadier with few samples or block designs, "
          "docs/retrieval.md)");
  s.field("alpha_score", alpha_score,
          "inner-CV score that chooses α (mean over inner folds; ties -> the middle tied α, cv.h)")
      .one_of({"correlation", "r2"});
  s.field("outer", outer,
          "outer folds: loro (leave one run out), groups (k folds of consecutive runs), explicit (run lists), or "
          "event_groups (k folds of consecutive CV event groups of samples.h5, prepare.group_column: CV within runs)")
      .one_of({"loro", "groups", "explicit", "event_groups"});
  s.field("outer_folds", outer_folds,
          "outer: groups / event_groups: number of folds of consecutive runs / event groups")
      .range(2, 1000);
  s.field("explicit_folds", explicit_folds, "outer: explicit: one entry per fold, the run indices it tests (\"0 1\")");
  s.field("inner_folds", inner_folds,
          "inner CV inside each outer training set: folds of consecutive runs (event groups with outer: event_groups)")
      .range(2, 1000);
  s.field("gap_s", gap_s,
          "outer and inner CV: training samples of a run within this many seconds of a test sample of that run "
          "are dropped (BOLD autocorrelation); 0 = none")
      .range(0.0, 100000.0);
  s.field("exclusive", exclusive, "drop from training every sample whose stimulus is in the test fold");
  s.field("train_fraction", train_fraction,
          "share of each outer fold's training runs (event groups with outer: event_groups) used, its first ones, "
          "for learning curves")
      .check([](const double& f) { return f > 0 && f <= 1; }, "in (0, 1]");
  s.field("select_voxels", select_voxels,
          "decode: per target, keep the top-k voxels by |correlation| in the training fold (0 = all)")
      .min(0);
  s.field("standardize_x", standardize_x, "z-score the inputs with training-fold statistics");
  s.field("precision", precision, "arithmetic precision of the solver").one_of({"float32", "float64"});
  s.field("target_batch", target_batch, "targets predicted at once (bounds memory)").min(1);
  s.field("fit_final", fit_final, "refit on all samples (α by CV over all runs) and save the weights");
}

void RidgeConfig::validate() const {
  RidgeConfig c = *this;
  config::Schema s("ridge");
  c.describe(s);
  s.validate();
}

}  // namespace v2c::ridge
