// Prediction metrics (kernels: no I/O). pred and truth are [n_samples x n_targets].
//   profile correlation: per target, across samples (how well each feature/voxel is tracked)
//   pattern correlation: per sample, across targets (how well each whole vector is recovered)
//   R²: per target, 1 - SS_res / SS_tot around the truth's mean (can be negative)
// Rows containing NaN (samples never tested) are skipped.
#pragma once

#include <vector>

#include "pipeline/core/types.h"

namespace v2c::metrics {

std::vector<double> profile_correlation(const MatrixF& pred, const MatrixF& truth);
std::vector<double> pattern_correlation(const MatrixF& pred, const MatrixF& truth);
std::vector<double> r2(const MatrixF& pred, const MatrixF& truth);

// Cosine similarity of each query row with each candidate row: [n_queries x n_candidates].
MatrixF cosine_similarity(const MatrixF& queries, const MatrixF& candidates);
// For each query, the index of the most similar candidate (ties: the lower index).
std::vector<int64_t> nearest(const MatrixF& queries, const MatrixF& candidates);

double mean_finite(const std::vector<double>& v);

}  // namespace v2c::metrics
