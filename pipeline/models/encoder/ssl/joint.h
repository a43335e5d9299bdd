// The CLIP stage and the self-supervised objectives as ONE weighted loss in the same step
// (issue 11; pretrain.ssl_joint), on one subject at a time:
//   L = L_sup(encoder; labelled batch X [B x p_s], T [B x D])   the trainer's weighted
//                                                               CLIP/SigLIP/MSE/cosine loss (losses.h)
//     + L_ssl(self-supervised model; windows of the SAME subject) ssl/objective.h: w_next_step·next-
//                                                               time-point + w_masked·masked
// with the subject's adapter SHARED: the self-supervised model reads the encoder's adapter/<s>/W and
// /b (copied into its own adapter before the forward pass), and the gradient of L_ssl with respect
// to them is added to the encoder's. The encoder's backbone and head get L_sup's gradient alone;
// the temporal model, mask token and the subject's read-out L_ssl's alone.
// One process only (Trainer::loss materialises the adapter's gradient). Kernel: no I/O.
#pragma once

#include <string>

#include "pipeline/models/encoder/ssl/objective.h"
#include "pipeline/models/encoder/trainer.h"

namespace v2c::encoder::ssl {

struct JointParts {
  LossParts supervised;  // L_sup and its parts
  SslParts ssl;          // L_ssl and its parts
  double total = 0;      // supervised.total + ssl.total
};

// Forward, loss and (with_grad) the gradients of L: the encoder's path parameters and loss
// scalars (as Trainer::loss leaves them, the shared adapter's plus L_ssl's part), and the
// self-supervised model's (zeroed first; its copy of the subject's adapter gets none). Dropout and
// MixCo draw from the trainer's Rng as Trainer::loss does. `subject` must be in both models with
// the same voxels and latent width.
template <class S>
JointParts joint_loss(Trainer<S>& tr, SslModel<S>& ssl, const std::string& subject, const Mat<S>& X, const Mat<S>& T,
                      const SslBatch<S>& windows, const SslTrainConfig& cfg, bool with_grad);

// One optimisation step of L: joint_loss with gradients; the global gradient norm over both
// models' reached parameters clipped by the trainer's clip_norm; AdamW with the trainer's optimiser
// and schedule (learning rate of the trainer's step) on each of them; the CLIP logit scale clamped
// as Trainer::train_step does; the trainer's step advanced.
template <class S>
JointParts joint_step(Trainer<S>& tr, SslModel<S>& ssl, const std::string& subject, const Mat<S>& X, const Mat<S>& T,
                      const SslBatch<S>& windows, const SslTrainConfig& cfg);

}  // namespace v2c::encoder::ssl
