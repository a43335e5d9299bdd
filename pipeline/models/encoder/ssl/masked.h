// Masked prediction (BERT-like masked brain modelling: MinD-Vis, Chen et al. 2023; BrainLM, Ortega
// Caro et al. 2024): hide part of each window, reconstruct it through the subject's read-out, and
// score only the hidden part.
//
// Two ways to hide (MaskConfig::kind):
//   time   k = round(ratio·T) time points of each window (clamped to [1, T-1], so each window keeps
//          context) are hidden in the LATENT: their adapter output is replaced by the learned mask
//          token ("ssl/mask_token"). Not by zeroed input: the volumes are z-scored per run, so a zero
//          volume is the run mean, a value real data take, and after the adapter's bias it would be
//          indistinguishable from an ordinary time point; the token tells the model which positions
//          to fill (as BERT and MAE). The hidden volumes never enter the adapter, so nothing of
//          them can leak. The temporal model runs bidirectionally; the read-out runs on the hidden
//          rows only.
//   voxel  k = round(ratio·p) voxels of each window (clamped to [1, p-1]), the same voxels at all T
//          time points, are ZEROED in the input (there is no latent position that holds one voxel,
//          so zero, the run mean, is the only neutral stand-in); the model must infer them from the
//          other voxels through the shared latent and the temporal context, not copy them from a
//          neighbouring time point.
// Loss: mean squared error over the hidden values only,
//   time:  Σ_{hidden (n,t)} ‖x̂_nt - x_nt‖² / (M·p),  M hidden time points in the batch
//   voxel: Σ_{n,t, hidden v of window n} (x̂_ntv - x_ntv)² / (T·Σ_n k_n)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/models/encoder/ssl/model.h"

namespace v2c::encoder::ssl {

// MaskKind and MaskConfig (what is hidden, and how much): encoder/settings.h.
MaskKind parse_mask_kind(const std::string& s);  // "time" | "voxel"; usage_error otherwise
const char* mask_kind_name(MaskKind k);

// Which entries of a batch of N windows are hidden.
struct Mask {
  MaskKind kind = MaskKind::time;
  int64_t N = 0, T = 0, p = 0;
  std::vector<uint8_t> hidden;  // time: [N x T] (1 = time point hidden); voxel: [N x p] (1 = voxel hidden)
  bool time_hidden(int64_t n, int64_t t) const { return hidden[size_t(n * T + t)] != 0; }
  bool voxel_hidden(int64_t n, int64_t v) const { return hidden[size_t(n * p + v)] != 0; }
};

// Exactly k entries hidden per window, drawn without replacement from rng (the only draws made,
// so the mask is a function of the rng state). T >= 2 for time masking, p >= 2 for voxels.
Mask draw_mask(const MaskConfig& cfg, int64_t N, int64_t T, int64_t p, Rng& rng);

// X [N·T x p_s] windows of `subject` (batch-major). Forward, loss, and when with_grad the backward
// pass adding every reached parameter's gradient (adapter, mask token when time-masking, temporal
// model, read-out). X is read only. reconstruction (optional) [N·T x p_s]: the model's values at
// the hidden entries, X elsewhere.
template <class S>
SslLoss masked_prediction(SslModel<S>& model, const std::string& subject, const Mat<S>& X, int64_t N, int64_t T,
                          const Mask& mask, bool with_grad, Mat<S>* reconstruction = nullptr);

}  // namespace v2c::encoder::ssl
