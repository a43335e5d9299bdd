// predictions.h5 — one subject x one model: out-of-fold predictions for every sample, the
// truth they are judged against, the folds, per-fold regularisation and the metrics. Written
// by v2c-ridge and every other model in the same layout, read by retrieval and the report.
// Layout (format "predictions", version 2) in docs/formats.md.
//
// The one fold definition: `fold_train` holds each outer fold's exact training rows (after
// `exclusive`, `train_fraction` and any gap), as the model that wrote the file trained on them.
// v2c-ridge writes them first; every other model reads them from ridge's file (--folds-from)
// instead of rebuilding folds, and writes back the rows it trained on.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/output.h"
#include "pipeline/core/provenance.h"
#include "pipeline/core/types.h"

namespace v2c {

// Version 2 added /folds/train_rows and /folds/train_offsets; version 1 files are read with
// fold_train empty.
constexpr int kPredictionsFormatVersion = 2;

struct Predictions {
  std::string subject, model, mode;              // model "ridge"; mode "decode" | "encode"
  std::string samples_path;                      // the samples.h5 they came from
  double train_fraction = 1.0;                   // share of each training fold used
  MatrixF predictions;                           // [n_samples x n_targets] out-of-fold (NaN: never tested)
  MatrixF truth;                                 // [n_samples x n_targets]
  std::vector<std::string> stimulus;             // [n_samples]
  std::vector<int32_t> run, fold;                // [n_samples] run index, outer fold that tested it (-1 none)
  std::vector<int32_t> feature_row;              // [n_samples] row in samples.h5's /features/values (-1 none)
  std::vector<std::vector<int64_t>> fold_train;  // [n_folds] each outer fold's training rows, ascending
  std::vector<double> alphas;                    // the α grid
  MatrixD fold_alpha;                            // [n_folds x n_targets] α chosen
  MatrixD inner_score;                           // [n_folds x n_alphas] mean inner-CV score over targets
  std::vector<double> edge_low, edge_high;       // [n_folds] fraction of targets at the grid's ends
  std::vector<double> profile_corr, r2;          // [n_targets]
  std::vector<double> pattern_corr;              // [n_samples]
  // Trained models (fine-tuning): the learning-rate grid, the best inner-split score of each rate
  // per fold, and the rate and number of epochs each fold chose (all empty for ridge).
  std::vector<double> lr_grid;                 // [n_lr]
  MatrixD tuning_score;                        // [n_folds x n_lr] best mean per-target correlation (NaN: untested)
  std::vector<double> tuned_lr, tuned_epochs;  // [n_folds]
  MatrixF weights;                             // [n_inputs x n_targets] final model refit on all samples
  std::vector<float> intercept;                // [n_targets]
  std::vector<double> final_alpha;             // [n_targets]
};

// input_error (naming the fold) when a fold's training rows are out of range, unsorted, or
// include a row the fold tests. `commit_with`: other outputs of the stage, complete under their
// temporary names, committed together with this file once it is complete (core/output.h
// commit_together).
void write_predictions(const std::string& path, const Predictions& p, const Provenance& prov, bool force,
                       const std::vector<AtomicOutput*>& commit_with = {});
Predictions read_predictions(const std::string& path);

// Outer fold f's test rows: the samples whose `fold` is f, ascending.
std::vector<int64_t> fold_test_rows(const Predictions& p, int f);

}  // namespace v2c
