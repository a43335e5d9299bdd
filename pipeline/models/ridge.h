// Multi-target ridge regression where every regularisation value comes from ONE symmetric
// eigendecomposition per training set (kernels: no I/O).
//
// Model, per target t: y_t ≈ (x - x̄) · w_t + ȳ_t, minimising ||Y_c - X_c w||² + α_t ||w||²
// with X_c, Y_c centred by the TRAINING means (as scikit-learn's Ridge(fit_intercept=True)).
//
// Kernel form (voxels p > samples n): K = X_c X_cᵀ = U diag(s) Uᵀ, and for test rows
//   P(α) = C U diag(1/(s+α)) Uᵀ Y_c + ȳ,   C = (X_test - x̄) X_cᵀ.
// Primal form (p <= n): Q = X_cᵀ X_c = V diag(s) Vᵀ, and
//   P(α) = (X_test - x̄) V diag(1/(s+α)) Vᵀ X_cᵀ Y_c + ȳ.
// Both are one Path: P(α) = A diag(1/(s+α)) B + ȳ, so all α (and a different α per target)
// cost one small GEMM each after the decomposition.
//
// Where many training sets come from one sample set (cross-validation folds), the kernel form
// reuses one uncentred Gram matrix G = X Xᵀ: each fold's K and C are sub-blocks of G, centred
// algebraically with that fold's training rows only (no statistic from test rows).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/math/linalg.h"

namespace v2c::ridge {

using linalg::Mat;
using linalg::RowVec;
using linalg::Vec;

template <class S>
struct Path {
  Mat<S> A;          // [n_test x r]   test rows in the eigenbasis
  Vec<S> s;          // [r]            eigenvalues; +inf for numerically null ones (<= r·eps·max), which
                     //                every 1/(s + α) leaves out
  Mat<S> B;          // [r x t]        targets in the eigenbasis
  RowVec<S> y_mean;  // [t]            training means of the targets
  bool kernel = true;

  // Predictions [n_test x t] with one α for every target, or alpha_per_target[t].
  Mat<S> predict(double alpha) const;
  Mat<S> predict(const std::vector<double>& alpha_per_target) const;
  // The same for a column range of targets [t0, t0 + count).
  Mat<S> predict_range(const std::vector<double>& alpha_per_target, int64_t t0, int64_t count) const;
};

// Kernel path from the uncentred Gram matrix G [N x N] of all samples, targets Y [N x t]
// (only the `train` rows are read), predicting the `test` rows.
template <class S>
Path<S> path_from_gram(const Mat<S>& G, const Mat<S>& Y, const std::vector<int64_t>& train,
                       const std::vector<int64_t>& test);

// Path from explicit matrices: X_train [n x p], Y_train [n x t], X_test [m x p]. Kernel form
// when p > n, primal otherwise (`force` = "kernel"/"primal" overrides, for tests).
template <class S>
Path<S> path_from_data(const Mat<S>& X_train, const Mat<S>& Y_train, const Mat<S>& X_test,
                       const std::string& force = "");

// Fitted weights for saving and for encoding maps: W [p x t] and intercept b [t] such that
// predictions = X W + b. One decomposition; alpha_per_target.size() == t.
template <class S>
void fit_weights(const Mat<S>& X, const Mat<S>& Y, const std::vector<double>& alpha_per_target, Mat<S>& W,
                 RowVec<S>& b);

// The same fit from the uncentred Gram matrix G = X Xᵀ of X's rows (kernel form, no second X·Xᵀ).
template <class S>
void fit_weights_from_gram(const Mat<S>& G, const Mat<S>& X, const Mat<S>& Y,
                           const std::vector<double>& alpha_per_target, Mat<S>& W, RowVec<S>& b);

// Per-target scores of predictions against truth [n x t]: "correlation" (Pearson, 0 when either
// side is constant) or "r2" (1 - SS_res / SS_tot around the truth's mean).
template <class S>
Vec<double> score_targets(const Mat<S>& pred, const Mat<S>& truth, const std::string& score);

}  // namespace v2c::ridge
