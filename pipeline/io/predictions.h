// predictions.h5 — one subject x one model: out-of-fold predictions for every sample, the
// truth they are judged against, the folds, per-fold regularisation and the metrics. Written
// by v2c-ridge (and later models in the same layout), read by retrieval and the report.
// Layout (format "predictions", version 1) in docs/formats.md.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/provenance.h"
#include "pipeline/core/types.h"

namespace v2c {

constexpr int kPredictionsFormatVersion = 1;

struct Predictions {
  std::string subject, model, mode;     // model "ridge"; mode "decode" | "encode"
  std::string samples_path;             // the samples.h5 they came from
  double train_fraction = 1.0;          // share of each training fold used
  MatrixF predictions;                  // [n_samples x n_targets] out-of-fold (NaN: never tested)
  MatrixF truth;                        // [n_samples x n_targets]
  std::vector<std::string> stimulus;    // [n_samples]
  std::vector<int32_t> run, fold;       // [n_samples] run index, outer fold that tested it (-1 none)
  std::vector<int32_t> feature_row;     // [n_samples] row in samples.h5's /features/values (-1 none)
  std::vector<double> alphas;           // the α grid
  MatrixD fold_alpha;                   // [n_folds x n_targets] α chosen
  MatrixD inner_score;                  // [n_folds x n_alphas] mean inner-CV score over targets
  std::vector<double> edge_low, edge_high;  // [n_folds] fraction of targets at the grid's ends
  std::vector<double> profile_corr, r2; // [n_targets]
  std::vector<double> pattern_corr;     // [n_samples]
  MatrixF weights;                      // [n_inputs x n_targets] final model refit on all samples
  std::vector<float> intercept;         // [n_targets]
  std::vector<double> final_alpha;      // [n_targets]
};

void write_predictions(const std::string& path, const Predictions& p, const Provenance& prov, bool force);
Predictions read_predictions(const std::string& path);

}  // namespace v2c
