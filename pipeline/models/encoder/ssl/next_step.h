// Next-time-point prediction (GPT-like): from volumes t .. t+T-1 of a run, predict volume t+T.
//
//   H = adapter_s(x_t .. x_{t+T-1});  Z = Temporal(H, causal) + H;  x̂_{t+T} = readout_s(z_{t+T-1})
// (+ H: a residual around the temporal model, whose final LayerNorm normalises each time point's
// latent and would hide the amplitude of the shared latent from the read-out.)
// The temporal model runs causally, so z_{t+T-1} sees the whole context and nothing after it.
// Options (NextStepConfig):
//   all_positions  also score every earlier position: x̂_{t+j+1} = readout_s(z_{t+j}) for
//                  j = 0..T-1 (teacher forcing, as GPT trains; causality keeps each prediction
//                  blind to its target). T times the training signal per window; the prediction
//                  returned is still that of the last position.
//   residual       x̂_{t+j+1} = a_s ∘ x_{t+j} + readout_s(z_{t+j}), a_s the subject's per-voxel skip
//                  weights ("readout/<s>/skip", ones at start): an untrained model starts near
//                  persistence (x̂_{t+1} = x_t), and a_s can learn each voxel's own autoregression
//                  (the AR(1) baseline) while the temporal model adds what the shared latent
//                  predicts beyond it.
// Loss: mean squared error over the scored volumes' voxels.
#pragma once

#include <string>

#include "pipeline/models/encoder/ssl/model.h"

namespace v2c::encoder::ssl {

// NextStepConfig (all_positions, residual): encoder/settings.h.

// Xw [N·(T+1) x p_s]: N windows of T+1 consecutive volumes of `subject` (batch-major: row
// n·(T+1) + j is volume j of window n), the first T the context, the last the target. Forward,
// loss, and when with_grad the backward pass adding every reached parameter's gradient (adapter,
// temporal model, read-out). prediction (optional) [N x p_s]: x̂ of each window's last volume.
template <class S>
SslLoss next_step_prediction(SslModel<S>& model, const std::string& subject, const Mat<S>& Xw, int64_t N, int64_t T,
                             const NextStepConfig& cfg, bool with_grad, Mat<S>* prediction = nullptr);

}  // namespace v2c::encoder::ssl
