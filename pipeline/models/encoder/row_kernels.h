// Row-wise kernels shared by the encoder's layers and the self-supervised layers (ssl/): column
// sums (bias and LayerNorm gradients), adding a bias row, LayerNorm forward and backward.
// Matrices are row-major, one row per sample (or time point). Rows go to OpenMP threads only above
// kParallelMin elements (parallel.h); every row is computed by one thread and columns are summed
// over rows in order, so results do not depend on the thread count. Kernels: no I/O.
//
// LayerNorm (Ba et al. 2016): y = (x - mean)/sqrt(var + 1e-5) ∘ g + β per row, biased variance
// (as PyTorch); the mean and variance are accumulated in double.
#pragma once

#include <vector>

#include "pipeline/models/encoder/params.h"

namespace v2c::encoder {

// out [1 x cols] = Σ_i A(i, :) (∘ B(i, :) when B is given), rows summed in order.
template <class S>
void colsum(const Mat<S>& A, const Mat<S>* B, Mat<S>& out);

// M.row(i) += b for every row; b [1 x cols].
template <class S>
void add_row_bias(Mat<S>& M, const Mat<S>& b);

// h [rows x d] -> y [rows x d]; caches xhat = (h - μ)/σ [rows x d] and rstd = 1/σ per row.
template <class S>
void layer_norm_forward(const Mat<S>& h, const Mat<S>& g, const Mat<S>& beta, Mat<S>& xhat, std::vector<S>& rstd,
                        Mat<S>& y);

// dx = rstd ∘ (dx̂ - mean(dx̂) - x̂ ∘ mean(dx̂ ∘ x̂)) with dx̂ = dy ∘ g; the gradients of g and β are
// written (overwritten) into their grad when trainable. accumulate: dx += ... instead of dx = ...
template <class S>
void layer_norm_backward(const Mat<S>& dy, const Mat<S>& xhat, const std::vector<S>& rstd, Param<S>& g, Param<S>& beta,
                         Mat<S>& dx, bool accumulate);

}  // namespace v2c::encoder
