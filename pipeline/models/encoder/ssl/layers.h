// Building blocks of the self-supervised model, each with a hand-written forward and backward pass.
// Matrices are row-major and batch-major ([rows x features], one row per time point of a window),
// weights are stored [in x out]. Backward passes ADD parameter gradients (encoder/params.h).
//
// Threads and determinism: products go through linalg::gemm (OpenBLAS); row-wise work uses the
// encoder's row kernels (row_kernels.h) and thresholds (parallel.h), so results do not depend on
// the OpenMP thread count (BLAS aside, as in the encoder).
// Kernels: no I/O.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/models/encoder/params.h"
#include "pipeline/models/encoder/row_kernels.h"

namespace v2c::encoder::ssl {

// GELU with the exact erf (Hendrycks & Gimpel 2016): A = Z Φ(Z); dZ = dA ∘ (Φ(Z) + Z φ(Z)).
template <class S>
void gelu_forward(const Mat<S>& Z, Mat<S>& A);
template <class S>
void gelu_backward(const Mat<S>& Z, const Mat<S>& dA, Mat<S>& dZ);

// LayerNorm over each row (Ba et al. 2016): y = (x - mean)/sqrt(var + 1e-5) ∘ g + b, biased
// variance (as PyTorch; row_kernels.h). Parameters <prefix>/g [1 x d] (ones) and <prefix>/b [1 x d] (zeros).
template <class S>
class LayerNorm {
 public:
  void create(ParamSet<S>& ps, const std::string& prefix, int64_t d);
  void forward(const Mat<S>& X, Mat<S>& Y);     // X, Y [rows x d]; caches what backward needs
  void backward(const Mat<S>& dY, Mat<S>& dX);  // dX [rows x d] overwritten; g, b grads added
  Param<S>*g = nullptr, *b = nullptr;

 private:
  Mat<S> xhat_;
  std::vector<S> rstd_;
};

// Affine map Y = X·W + b. Parameters <prefix>/W [in x out] (weight decay) and <prefix>/b [1 x out],
// both U(±scale/√in) at creation (PyTorch's Linear default for scale = 1).
template <class S>
class Linear {
 public:
  void create(ParamSet<S>& ps, const std::string& prefix, int64_t in, int64_t out, Rng& rng, double scale = 1.0);
  // X [rows x in] -> Y [rows x out]. X is referenced, not copied: keep it alive and unchanged until
  // backward() returns.
  void forward(const Mat<S>& X, Mat<S>& Y);
  // Adds Xᵀ·dY to W's grad and the column sums of dY to b's; dX = dY·Wᵀ when dX is not null.
  void backward(const Mat<S>& dY, Mat<S>* dX);
  int64_t in() const { return W->value.rows(); }
  int64_t out() const { return W->value.cols(); }
  Param<S>*W = nullptr, *b = nullptr;

 private:
  const Mat<S>* x_ = nullptr;
  Mat<S> tmp_;
};

}  // namespace v2c::encoder::ssl
