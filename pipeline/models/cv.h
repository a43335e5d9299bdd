// Leak-free cross-validation for ridge (kernels: no I/O).
//
// Outer folds are grouped by a unit: the run (leave-one-run-out, k groups of consecutive runs, or
// explicit run lists), or the CV event group of samples.h5 (`event_groups`: k folds of consecutive
// groups, for CV inside runs, even with a single run); inside each outer training set an inner CV,
// grouped by the same unit, chooses α per target (best mean inner score) or one shared α (best
// mean over targets of the mean inner score). Ties — scores within 1e-12 · max(1, |best|) — go to
// the middle of the tied α (the lower middle), for the shared α and per target alike; a target on
// which every α ties (no information on α, e.g. a target constant in every inner test fold) takes
// the shared α. Every statistic — means, SDs, voxel selection — is computed from the training rows
// of the fold at hand only. With `exclusive`, training rows whose stimulus occurs in the test fold
// are dropped; with `gap_s`, training rows close in time to a test row of the same run (outer and
// inner folds alike).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/models/ridge.h"
#include "pipeline/models/ridge_config.h"

namespace v2c::cv {

struct Fold {
  std::vector<int64_t> train, test;  // sample (row) indices
};

// Folds over the samples `rows` (all samples when empty), grouped by run_of_sample (the unit):
//   scheme "loro": one fold per run; "groups": k folds of consecutive runs (sorted run values);
//   "event_groups": the same over event groups (run_of_sample then holds each sample's group);
//   "explicit": explicit_runs[f] lists the run values tested in fold f (one fold = a plain
//   train/test split, e.g. novel-stimulus test runs).
std::vector<Fold> run_folds(const std::vector<int32_t>& run_of_sample, const std::vector<int64_t>& rows,
                            const std::string& scheme, int k, const std::vector<std::vector<int>>& explicit_runs = {});

// Explicit folds as written in a config: one string of run indices per fold ("8 9" or "8,9");
// `field` names the config field in the error for anything else.
std::vector<std::vector<int>> parse_run_lists(const std::vector<std::string>& folds, const std::string& field);

// Drops from each fold's training rows the samples whose stimulus appears in its test rows.
void make_exclusive(std::vector<Fold>& folds, const std::vector<std::string>& stimulus_of_sample);

// When each sample happened, for gap_s: [n] run, onset and end (onset + duration), seconds.
struct SampleTimes {
  std::vector<int32_t> run;
  std::vector<double> onset_s, end_s;
};

// Drops from each fold's training rows the samples whose interval [onset, end] comes within gap_s
// seconds of the interval of a test sample of the same run (gap_s 0: only overlapping ones).
void drop_near_test(std::vector<Fold>& folds, const SampleTimes& times, double gap_s);

// Learning curves: keeps in each fold's training rows only the first k of its training runs
// (in run order), k = max(1, round(fraction x n_training_runs)). fraction 1 keeps everything.
// Every model restricted with the same fraction sees the same training runs.
void restrict_training_runs(std::vector<Fold>& folds, const std::vector<int32_t>& run_of_sample, double fraction);

// The solver's settings are v2c-ridge's config as it is (ridge_config.h: defaults and rules);
// it reads alphas, alpha_per_target, alpha_score, outer, outer_folds, explicit_folds,
// inner_folds, gap_s, exclusive, train_fraction, select_voxels, standardize_x and target_batch,
// and applies validate() at every entry. Below, `run` is the fold unit of each sample: its run,
// or its event group when settings.outer is event_groups; `times` is needed when gap_s > 0.
using RidgeCvSettings = ridge::RidgeConfig;

template <class S>
struct RidgeCvResult {
  linalg::Mat<S> predictions;           // [n x t] out-of-fold predictions (rows never tested: NaN)
  std::vector<int32_t> fold_of_sample;  // [n] outer fold that tested each sample, -1 if none
  std::vector<Fold> folds;
  MatrixD alpha;                            // [n_folds x t] α chosen per fold and target
  MatrixD inner_score;                      // [n_folds x n_alphas] mean inner score over targets
  std::vector<double> edge_low, edge_high;  // [n_folds] fraction of targets at the grid's ends
};

using FoldCallback = std::function<void(int fold, int n_folds)>;

// X [n x p] (voxels, or features when encoding), Y [n x t]; run and stimulus per sample.
template <class S>
RidgeCvResult<S> cross_validate(const linalg::Mat<S>& X, const linalg::Mat<S>& Y, const std::vector<int32_t>& run,
                                const std::vector<std::string>& stimulus, const RidgeCvSettings& settings,
                                const FoldCallback& on_fold = {}, const SampleTimes* times = nullptr);

// α per target chosen by an inner CV over `rows` (the whole training set), as cross_validate
// does inside each outer fold; mean_score [n_alphas x t] receives the mean inner scores.
template <class S>
std::vector<double> select_alphas(const linalg::Mat<S>& X, const linalg::Mat<S>& Y, const std::vector<int32_t>& run,
                                  const std::vector<int64_t>& rows, const RidgeCvSettings& settings,
                                  MatrixD* mean_score = nullptr, const SampleTimes* times = nullptr);

// select_alphas over all samples, then the refit on all samples with those α (what
// scikit-learn's RidgeCV.fit does), sharing one Gram matrix between the two. W [p x t], b [t].
template <class S>
std::vector<double> select_and_fit(const linalg::Mat<S>& X, const linalg::Mat<S>& Y, const std::vector<int32_t>& run,
                                   const RidgeCvSettings& settings, linalg::Mat<S>& W, linalg::RowVec<S>& b,
                                   const SampleTimes* times = nullptr);

}  // namespace v2c::cv
