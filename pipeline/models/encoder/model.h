// A shared nonlinear brain encoder (MindEye2-style "brain foundation model"): its parameters and
// hand-written forward/backward passes (no autograd). Kernel: no I/O.
//
// Model (Scotti et al. 2024, MindEye2 §2.1, without the diffusion prior):
//   per-subject adapter   h0 = X·W_s + b_s                X [B x p_s] -> [B x L]
//   n_blocks residual     h  <- h + Dropout(GELU(LN(h)·W_k + b_k))   W_k [L x L], exact erf GELU
//   head                  Y  = LN_f(h)·W_h + b_h          [B x L] -> [B x D]
// LayerNorm (Ba et al. 2016) has a learnable gain g and bias β, ε = 1e-5, biased variance (as PyTorch).
// All matrices are row-major, batch-major: row i is sample i. Weights are stored [in x out].
// The loss scalars (losses.h) are parameters of the model too ("loss/logit_scale",
// "loss/siglip_t", "loss/siglip_b"), so they are trained and checkpointed with the weights.
//
// Determinism: dropout masks come from a counter-based hash of (a key drawn from the caller's Rng,
// row, column), and every reduction uses fixed chunks summed in a fixed order (parallel.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/rng.h"
#include "pipeline/math/linalg.h"
#include "pipeline/models/encoder/params.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::encoder {

// How an adapter starts: random (PyTorch Linear default: U(±1/√p) for W and b, times `scale`),
// or from given weights (e.g. a ridge solution), W [p x L] and b [L] (b empty = zeros).
template <class S>
struct AdapterInit {
  double scale = 1.0;
  Mat<S> W;
  Mat<S> b;
};

template <class S>
class Encoder {
 public:
  // Backbone, head and loss scalars initialised from `seed` (PyTorch's Linear/LayerNorm defaults).
  Encoder(const EncoderConfig& cfg, uint64_t seed);
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Adds parameters adapter/<id>/W [p x L] and adapter/<id>/b [1 x L]; random init from `seed`.
  void add_subject(const std::string& id, int64_t n_voxels, const AdapterInit<S>& init = {}, uint64_t seed = 0);
  bool has_subject(const std::string& id) const { return adapters_.count(id) > 0; }
  std::vector<std::string> subjects() const;
  int64_t n_voxels(const std::string& id) const;

  // Y [B x D] for X [B x p_subject]. train = dropout on, masks keyed from rng (may be null when
  // !train). Caches what backward needs; X is referenced, not copied: keep it alive and unchanged
  // until backward() returns. row_offset: X's rows are rows row_offset.. of a larger batch (one
  // rank's share in data-parallel training), whose dropout masks they take.
  const Mat<S>& forward(const std::string& subject, const Mat<S>& X, bool train, Rng* rng, int64_t row_offset = 0);

  // Gradients of a scalar loss given dY [B x D] = dloss/dY of the last forward(); overwrites (does
  // not accumulate) the grad of every trainable parameter on the path. With
  // materialize_adapter_grad = false the adapter's W gradient is left implicit as Xᵀ·adapter_grad()
  // (see Trainer::train_step).
  void backward(const Mat<S>& dY, bool materialize_adapter_grad = true);
  const Mat<S>& adapter_grad() const { return d_h0_; }  // dloss/dh0 [B x L] of the last backward
  const Mat<S>& last_input() const { return *x_; }
  const std::string& last_subject() const { return subject_; }

  Param<S>& param(const std::string& name);  // input_error naming it when absent
  const Param<S>& param(const std::string& name) const;
  bool has_param(const std::string& name) const { return params_.has(name); }
  std::vector<Param<S>*> params();  // creation order (backbone, head, loss, adapters as added)
  std::vector<const Param<S>*> params() const;
  // Sets trainable for every parameter whose name starts with `prefix` ("" = all); returns how many.
  // Freezing drops the gradient and AdamW moments of those parameters.
  int set_trainable(const std::string& prefix, bool trainable);

  // The parameters one batch of `subject` reaches: blocks, head, that subject's adapter.
  std::vector<Param<S>*> path_params(const std::string& subject);

  const EncoderConfig& config() const { return cfg_; }

 private:
  struct Block {
    Param<S>*ln_g, *ln_b, *W, *b;
    Mat<S> xhat, z;                   // LN output before gain/bias, pre-activation [B x L]
    std::vector<S> rstd;              // 1/σ per row
    uint64_t key = 0;                 // dropout mask key of the last forward
    std::vector<unsigned char> kept;  // [B x L] its dropout mask (1 = kept), reused by backward
  };
  struct Adapter {
    Param<S>*W, *b;
  };
  Param<S>* add_param(const std::string& name, int64_t rows, int64_t cols, bool decay);

  EncoderConfig cfg_;
  ParamSet<S> params_{"encoder"};
  std::map<std::string, Adapter> adapters_;
  std::vector<Block> blocks_;
  Param<S>*lnf_g_, *lnf_b_, *head_W_, *head_b_;

  // cache of the last forward
  const Mat<S>* x_ = nullptr;
  std::string subject_;
  bool train_ = false;
  int64_t row_offset_ = 0;
  Mat<S> h_, xhat_f_, y_, out_, d_h0_, dy_, dz_, ytmp_;
  std::vector<S> rstd_f_;
};

}  // namespace v2c::encoder
