#include "pipeline/models/encoder/ssl/attention.h"

#include <cmath>

#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder::ssl {

template <class S>
void SelfAttention<S>::create(ParamSet<S>& ps, const std::string& prefix, int64_t d, int64_t n_heads, Rng& rng) {
  V2C_ASSERT(n_heads >= 1 && d % n_heads == 0, "attention ", prefix, ": d = ", d, " is not a multiple of ", n_heads,
             " heads");
  d_ = d;
  heads_ = n_heads;
  qkv_.create(ps, prefix + "/qkv", d, 3 * d, rng);
  out_.create(ps, prefix + "/out", d, d, rng);
}

template <class S>
void SelfAttention<S>::forward(const Mat<S>& Y, int64_t N, int64_t T, bool causal, Mat<S>& out) {
  V2C_ASSERT(N >= 1 && T >= 1 && Y.rows() == N * T && Y.cols() == d_, "attention input ", Y.rows(), " x ", Y.cols(),
             " for N = ", N, ", T = ", T, ", d = ", d_);
  N_ = N;
  T_ = T;
  causal_ = causal;
  const int64_t dk = d_ / heads_;
  const S scale = S(1.0 / std::sqrt(double(dk)));
  qkv_.forward(Y, qkv_val_);
  P_.setZero(N * heads_ * T, T);
  ctx_.resize(N * T, d_);
#pragma omp parallel for schedule(static) if (go_parallel(N * heads_ * T * T * dk))
  for (int64_t task = 0; task < N * heads_; ++task) {
    const int64_t n = task / heads_, h = task % heads_;
    const auto Q = head(qkv_val_, 0, n, h), K = head(qkv_val_, 1, n, h), V = head(qkv_val_, 2, n, h);
    auto P = P_.block(task * T, 0, T, T);
    const Mat<S> scores = Q.lazyProduct(K.transpose()) * scale;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t visible = causal ? t + 1 : T;
      const S mx = scores.row(t).head(visible).maxCoeff();
      double sum = 0;
      for (int64_t s = 0; s < visible; ++s) {
        const S e = std::exp(scores(t, s) - mx);
        P(t, s) = e;
        sum += double(e);
      }
      P.row(t).head(visible) /= S(sum);
    }
    ctx_.block(n * T, h * dk, T, dk) = P.lazyProduct(V);
  }
  out_.forward(ctx_, out);
}

template <class S>
void SelfAttention<S>::backward(const Mat<S>& dOut, Mat<S>& dY) {
  V2C_ASSERT(dOut.rows() == N_ * T_ && dOut.cols() == d_, "attention backward shape");
  const int64_t N = N_, T = T_, dk = d_ / heads_;
  const S scale = S(1.0 / std::sqrt(double(dk)));
  out_.backward(dOut, &dctx_);
  dqkv_.resize(N * T, 3 * d_);
#pragma omp parallel for schedule(static) if (go_parallel(N * heads_ * T * T * dk))
  for (int64_t task = 0; task < N * heads_; ++task) {
    const int64_t n = task / heads_, h = task % heads_;
    const auto Q = head(qkv_val_, 0, n, h), K = head(qkv_val_, 1, n, h), V = head(qkv_val_, 2, n, h);
    const auto P = P_.block(task * T, 0, T, T);
    const auto dC = dctx_.block(n * T, h * dk, T, dk);
    head(dqkv_, 2, n, h) = P.transpose().lazyProduct(dC);  // dV = Pᵀ dC
    Mat<S> dS = dC.lazyProduct(V.transpose());             // dP = dC Vᵀ
    // softmax backward, row by row: dS = P ∘ (dP - Σ_s P dP); masked entries have P = 0.
    for (int64_t t = 0; t < T; ++t) {
      double dot = 0;
      for (int64_t s = 0; s < T; ++s) dot += double(P(t, s)) * double(dS(t, s));
      for (int64_t s = 0; s < T; ++s) dS(t, s) = P(t, s) * (dS(t, s) - S(dot)) * scale;
    }
    head(dqkv_, 0, n, h) = dS.lazyProduct(K);              // dQ
    head(dqkv_, 1, n, h) = dS.transpose().lazyProduct(Q);  // dK
  }
  qkv_.backward(dqkv_, &dY);
}

template class SelfAttention<float>;
template class SelfAttention<double>;

}  // namespace v2c::encoder::ssl
