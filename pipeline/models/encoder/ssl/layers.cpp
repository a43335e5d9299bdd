#include "pipeline/models/encoder/ssl/layers.h"

#include <omp.h>

#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>

#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder::ssl {

template <class S>
void gelu_forward(const Mat<S>& Z, Mat<S>& A) {
  A.resize(Z.rows(), Z.cols());
#pragma omp parallel for schedule(static) if (go_parallel(Z.size()))
  for (int64_t i = 0; i < Z.rows(); ++i) {
    const auto z = Z.row(i).array();
    A.row(i).array() = S(0.5) * z * (S(1) + (z * S(M_SQRT1_2)).erf());
  }
}

template <class S>
void gelu_backward(const Mat<S>& Z, const Mat<S>& dA, Mat<S>& dZ) {
  const S inv_sqrt_2pi = S(0.3989422804014327);
  dZ.resize(Z.rows(), Z.cols());
#pragma omp parallel for schedule(static) if (go_parallel(Z.size()))
  for (int64_t i = 0; i < Z.rows(); ++i) {
    const auto z = Z.row(i).array();
    dZ.row(i).array() =
        dA.row(i).array() * (S(0.5) * (S(1) + (z * S(M_SQRT1_2)).erf()) + z * inv_sqrt_2pi * (S(-0.5) * z * z).exp());
  }
}

// ---- LayerNorm ---------------------------------------------------------------------------

template <class S>
void LayerNorm<S>::create(ParamSet<S>& ps, const std::string& prefix, int64_t d) {
  g = ps.add(prefix + "/g", 1, d, false);
  g->value.setOnes();
  b = ps.add(prefix + "/b", 1, d, false);
}

template <class S>
void LayerNorm<S>::forward(const Mat<S>& X, Mat<S>& Y) {
  V2C_ASSERT(X.cols() == g->value.cols(), "LayerNorm ", g->name, ": input has ", X.cols(), " columns");
  layer_norm_forward(X, g->value, b->value, xhat_, rstd_, Y);
}

template <class S>
void LayerNorm<S>::backward(const Mat<S>& dY, Mat<S>& dX) {
  V2C_ASSERT(dY.rows() == xhat_.rows() && dY.cols() == xhat_.cols(), "LayerNorm ", g->name, ": backward shape");
  // layer_norm_backward overwrites g's and b's grad: keep what earlier passes added, add it back.
  Mat<S> g_before, b_before;
  g_before.swap(g->grad);
  b_before.swap(b->grad);
  layer_norm_backward(dY, xhat_, rstd_, *g, *b, dX, false);
  if (g_before.size()) g->grad += g_before;
  if (b_before.size()) b->grad += b_before;
}

// ---- Linear ------------------------------------------------------------------------------

template <class S>
void Linear<S>::create(ParamSet<S>& ps, const std::string& prefix, int64_t in_dim, int64_t out_dim, Rng& rng,
                       double scale) {
  W = ps.add(prefix + "/W", in_dim, out_dim, true);
  b = ps.add(prefix + "/b", 1, out_dim, false);
  const double bound = scale / std::sqrt(double(in_dim));
  fill_uniform(W->value, bound, rng);
  fill_uniform(b->value, bound, rng);
}

template <class S>
void Linear<S>::forward(const Mat<S>& X, Mat<S>& Y) {
  V2C_ASSERT(X.cols() == in(), "Linear ", W->name, ": input has ", X.cols(), " columns; expected ", in());
  x_ = &X;
  linalg::gemm(X, false, W->value, false, Y);
  add_row_bias(Y, b->value);
}

template <class S>
void Linear<S>::backward(const Mat<S>& dY, Mat<S>* dX) {
  V2C_ASSERT(x_ && dY.rows() == x_->rows() && dY.cols() == out(), "Linear ", W->name, ": backward shape");
  if (W->trainable) {
    linalg::gemm(*x_, true, dY, false, tmp_);
    accumulate_grad(*W, tmp_);
  }
  if (b->trainable) {
    colsum(dY, static_cast<const Mat<S>*>(nullptr), tmp_);
    accumulate_grad(*b, tmp_);
  }
  if (dX) linalg::gemm(dY, false, W->value, true, *dX);
}

#define V2C_SSL_LAYERS_INSTANTIATE(S)                                    \
  template void gelu_forward<S>(const Mat<S>&, Mat<S>&);                 \
  template void gelu_backward<S>(const Mat<S>&, const Mat<S>&, Mat<S>&); \
  template class LayerNorm<S>;                                           \
  template class Linear<S>;

V2C_SSL_LAYERS_INSTANTIATE(float)
V2C_SSL_LAYERS_INSTANTIATE(double)

}  // namespace v2c::encoder::ssl
