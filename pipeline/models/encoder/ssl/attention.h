// Multi-head scaled dot-product self-attention across the time points of each window (Vaswani et
// al. 2017), causal or bidirectional, with a hand-written backward pass.
//
// Input Y [N·T x d]: N windows of T time points, batch-major (row n·T + t is time t of window n).
//   [Q | K | V] = Y·W_qkv + b_qkv          W_qkv [d x 3d]; head h uses columns h·d_k .. (h+1)·d_k - 1
//                                          of each of the Q, K and V blocks (d_k = d / n_heads)
//   P_nh = softmax(Q_nh K_nhᵀ / √d_k)      [T x T] per window n and head h; causal: P(t, s) = 0 for s > t
//   C_nh = P_nh V_nh                       heads concatenated back into C [N·T x d]
//   out  = C·W_o + b_o                     W_o [d x d]
// Windows never attend to each other. Parameters: <prefix>/qkv/W, <prefix>/qkv/b [1 x 3d],
// <prefix>/out/W, <prefix>/out/b [1 x d] (PyTorch Linear init).
//
// Per (window, head) work uses coefficient-wise Eigen products on one thread (no nested
// threading), tasks spread over OpenMP from kParallelMin (parallel.h) multiply-adds on; each task
// writes its own blocks, so results do not depend on the thread count.
#pragma once

#include "pipeline/models/encoder/ssl/layers.h"

namespace v2c::encoder::ssl {

template <class S>
class SelfAttention {
 public:
  void create(ParamSet<S>& ps, const std::string& prefix, int64_t d, int64_t n_heads, Rng& rng);
  // Y [N·T x d] -> out [N·T x d]. Y is referenced until backward() returns.
  void forward(const Mat<S>& Y, int64_t N, int64_t T, bool causal, Mat<S>& out);
  // dOut [N·T x d] -> dY [N·T x d] (overwritten); parameter gradients added.
  void backward(const Mat<S>& dOut, Mat<S>& dY);
  // Attention weights of the last forward: [N·n_heads·T x T], rows (n·n_heads + h)·T + t.
  const Mat<S>& weights() const { return P_; }
  int64_t n_heads() const { return heads_; }

 private:
  // Block `part` (0 = Q, 1 = K, 2 = V) of head h of window n in a [N·T x 3d] matrix: [T x d_k].
  template <class M>  // Mat<S> or const Mat<S>
  auto head(M& qkv, int64_t part, int64_t n, int64_t h) const {
    const int64_t dk = d_ / heads_;
    return qkv.block(n * T_, part * d_ + h * dk, T_, dk);
  }
  Linear<S> qkv_, out_;
  int64_t d_ = 0, heads_ = 0, N_ = 0, T_ = 0;
  bool causal_ = false;
  Mat<S> qkv_val_, P_, ctx_, dctx_, dqkv_;
};

}  // namespace v2c::encoder::ssl
