// The encoder's training losses (kernel: no I/O): a weighted sum (LossConfig, settings.h) over a
// batch of predictions P [B x D] and targets T [B x D] (the stimuli's CLIP vectors):
//   clip    symmetric InfoNCE (Radford et al. 2021) on L2-normalised rows, logits = e^s·P̂T̂ᵀ, learnable
//           log logit scale s (init log(1/0.07), clamped to [0, log 100] after every update as CLIP does)
//   siglip  sigmoid loss (Zhai et al. 2023): -1/B Σ_ij log σ(z_ij (e^t'·p̂_i·t̂_j + b)), learnable
//           t' (init log 10) and b (init -10); with soft labels q_ij ∈ [0,1] it is the binary
//           cross-entropy -1/B Σ_ij [q log σ(l) + (1-q) log σ(-l)] (q = I gives the paper's loss)
//   mse     mean over B·D of (P - T)²
//   cos     mean over rows of 1 - cos(p_i, t_i)
// MixCo (Kim et al. 2020, as in MindEye) mixes the inputs in the trainer (trainer.h); here it only
// shows as soft contrastive labels and mixed mse/cos targets.
// Identical contrastive targets in one batch (repeats of a stimulus) are never negatives of each
// other's predictions: clip masks the pair (prediction i, another copy j of its target) out of
// both softmaxes (else a prediction that matches the shared target well is pushed away from it
// by the other copy's column); siglip labels every such pair 1.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/math/linalg.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::encoder {

struct LossParts {
  double total = 0, clip = 0, siglip = 0, mse = 0, cos = 0;  // unweighted parts, weighted total
};

template <class S>
struct LossScalars {
  S logit_scale = 0, siglip_t = 0, siglip_b = 0;
};

// Scratch buffers of loss_and_grad, kept from call to call by a caller that computes many losses
// (the trainer: one per step), so that a step allocates no B x B or B x D temporaries. Their
// contents between calls mean nothing.
template <class S>
struct LossWorkspace {
  linalg::Mat<S> Pn, Tn, sim, dsim_s, dPn, diff;            // [B x D], [B x B]
  linalg::Mat<double> dsim, logits, dl, dl_cols, logits_t;  // [B x B]
  std::vector<uint64_t> row_hash;                           // [B]
  std::vector<unsigned char> same;                          // [B x B]
  std::vector<double> pnorm;                                // [B]
};

// The weighted loss of predictions P [B x D]. `clip_target` [B x D] are the contrastive targets,
// `soft` [B x B] their soft labels (row i: weights over targets for prediction i; empty = identity),
// `mse_target` [B x D] the targets of mse/cos (empty = clip_target). When dP is not null it receives
// dloss/dP and *dscalars the loss scalars' gradients (zero for a clamped logit scale). `workspace`:
// scratch reused across calls (null = temporaries of this call); the results do not depend on it.
template <class S>
LossParts loss_and_grad(const LossConfig& cfg, const linalg::Mat<S>& P, const linalg::Mat<S>& clip_target,
                        const linalg::Mat<S>& soft, const linalg::Mat<S>& mse_target, const LossScalars<S>& scalars,
                        linalg::Mat<S>* dP, LossScalars<S>* dscalars, LossWorkspace<S>* workspace = nullptr);

}  // namespace v2c::encoder
