// The temporal model: a pre-LN transformer encoder over the time points of each window (Vaswani et
// al. 2017; pre-LN residual form of Xiong et al. 2020, as GPT-2 and BrainLM), with a learned
// positional embedding. It mixes information across time points, so a time point's output depends
// on its context: on every other time point of its window (bidirectional), or on those before it
// and itself (causal). The same weights serve both; the caller chooses per forward pass.
//
// Input H [N·T x d]: N windows of T <= max_len time points, batch-major (row n·T + t).
//   X   = H + pos[t]                                   pos [max_len x d]
//   for each layer k:
//     X = X + Attn_k(LN1_k(X))                         (ssl/attention.h)
//     X = X + GELU(LN2_k(X)·W1_k + b1_k)·W2_k + b2_k   W1 [d x ff], W2 [ff x d], ff = ff_mult·d
//   Z   = LN_f(X)                                      [N·T x d]
// Parameters: <prefix>/pos (N(0, 0.02²) as BERT/GPT-2), <prefix>/layer<k>/ln1/{g,b},
// <prefix>/layer<k>/attn/{qkv,out}/{W,b}, <prefix>/layer<k>/ln2/{g,b}, <prefix>/layer<k>/mlp/fc1/{W,b},
// <prefix>/layer<k>/mlp/fc2/{W,b}, <prefix>/ln_f/{g,b}. No dropout (masking is the regulariser).
#pragma once

#include <memory>

#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/attention.h"

namespace v2c::encoder::ssl {

// TemporalConfig (n_layers, n_heads, ff_mult, max_len): encoder/settings.h.

template <class S>
class TemporalModel {
 public:
  TemporalModel(ParamSet<S>& ps, const std::string& prefix, int64_t d, const TemporalConfig& cfg, Rng& rng);
  TemporalModel(const TemporalModel&) = delete;
  TemporalModel& operator=(const TemporalModel&) = delete;

  // H [N·T x d] -> Z [N·T x d], T <= max_len. Caches what backward needs (H itself is not kept).
  const Mat<S>& forward(const Mat<S>& H, int64_t N, int64_t T, bool causal);
  // dZ [N·T x d] -> dH [N·T x d] (overwritten); parameter gradients added.
  void backward(const Mat<S>& dZ, Mat<S>& dH);

  int64_t dim() const { return d_; }
  const TemporalConfig& config() const { return cfg_; }
  const SelfAttention<S>& attention(int k) const { return layers_[size_t(k)]->attn; }

 private:
  struct Layer {
    LayerNorm<S> ln1, ln2;
    SelfAttention<S> attn;
    Linear<S> fc1, fc2;
    Mat<S> a_in, m_in, z1, g1;  // LN1 output, LN2 output, fc1 output, GELU output
  };
  int64_t d_, N_ = 0, T_ = 0;
  TemporalConfig cfg_;
  Param<S>* pos_;
  std::vector<std::unique_ptr<Layer>> layers_;
  LayerNorm<S> ln_f_;
  Mat<S> x_, z_, tmp_, dx_, dtmp_;
};

}  // namespace v2c::encoder::ssl
