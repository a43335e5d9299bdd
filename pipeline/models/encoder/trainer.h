// One optimisation step of the encoder at a time (kernel: no I/O): MixCo, forward, losses,
// backward, global-norm clipping and AdamW.
//
// MixCo (Kim et al. 2020, as in MindEye): during the first mixco_fraction of training, each sample
// is mixed with probability mixco_prob with a random partner π(i): x_i <- λx_i + (1-λ)x_π(i),
// λ ~ Beta(α, α); contrastive targets become soft (λ on i, 1-λ on π(i)); mse/cos use the mixed
// target λt_i + (1-λ)t_π(i). Gradients are clipped by their global L2 norm as torch's
// clip_grad_norm_ does: scale = min(1, clip_norm / (norm + 1e-6)).
//
// Speed (train_step): the adapter (20000 x 1024 for a real subject) dominates the work. Its
// weight gradient Xᵀ·G (G = dloss/dh0 [B x L]) is computed in fixed row blocks of W, each one
// OpenBLAS call on one thread (linalg::gemm_block) spread over the threads (parallel.h). Clipping
// needs the global norm before any update, and the adapter's share of it comes one of two ways
// (AdapterNorm), chosen by L / B (measured, one thread, batch 128: the Gram way gained 5-10% at
// 20000 voxels x latent 1024, and lost 6-10% at 4000 voxels x latent 128):
//   - blocks (L < 8·B, e.g. latent 128, batch 128): the blocks go into one buffer of the
//     subject's p x L and their sums of squares give the norm; clipping + AdamW then run over
//     the buffer's blocks. The buffer's traffic is small next to two B x B Gram matrices.
//   - gram (L >= 8·B, e.g. latent 1024, batch 128): ‖XᵀG‖²_F = ⟨XXᵀ, GGᵀ⟩_F from the two Gram
//     matrices, which then cost at most 1/16 of Xᵀ·G (X·Xᵀ in fixed column chunks over the threads,
//     trainer.cpp); each block of the gradient is computed and
//     applied by AdamW while in cache, so the p x L gradient is never stored (82 MB at 20000 x
//     1024), nor written to memory and read back.
// Both compute every gradient block by the same call, so without clipping they give bitwise the
// same weights; with clipping their norms (and scales) differ in the last bits.
// Everything else is updated in one fused pass per buffer.
//
// Determinism: dropout keys and MixCo draw from the trainer's Rng, and every reduction has a fixed
// order, so with a given seed and batch order the weights are bitwise identical run to run and
// across checkpoint/resume. They do not depend on the thread count either: the adapter's gradient
// blocks and its update are fixed blocks, the other products fixed tiles (linalg::gemm), the sums
// of squares and AdamW fixed chunks (parallel.h); the encoder tests check 1 vs 2 threads bitwise.
//
// Data-parallel (set_communicator, pipeline/dist): every rank holds the same Trainer (same seed,
// so the same weights and Rng) and passes train_step the same whole batch. Rank r of N takes rows
// EvenSplit{B, N}.begin(r).. of it (after MixCo, which every rank draws identically):
//   - forward on its rows (dropout masks keyed by the row's place in the whole batch), all-gather
//     of the predictions, the loss and dloss/dY of the whole batch on every rank, backward on its
//     rows;
//   - the backbone, head, adapter-bias and loss-scalar gradients (sums over rows) are summed over
//     ranks in rank order (dist::sum_in_rank_order; the loss scalars' come from rank 0 alone, so
//     every rank applies bitwise the same AdamW update to them);
//   - the adapter's W gradient is computed by its owner only: dloss/dh0 rows are all-gathered into
//     G [B x L], and rank r owns a contiguous range of the fixed row blocks of W (voxels): it
//     computes those rows of Xᵀ·G, their squared norm (blocks, or the Gram matrix of its voxels'
//     columns of X with GGᵀ) joins the other squared norms in the same rank-order sum, and it
//     applies clipping + AdamW to its own blocks only; the updated rows of
//     W are then all-gathered, so every rank ends the step with the same weights. The AdamW
//     moments of W stay with their owner until gather_optimizer_state().
// Per rank: 1/N of the adapter products and update, 1/N of the backbone rows; traffic per step is
// the adapter W (all-gather) plus the backbone gradients (reduce-scatter + all-gather) and B rows
// of predictions and of dloss/dh0. Against one process with the same batch, only sums split
// across ranks round differently (relative weight differences of order 1e-6; tests/test_dist*).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/models/encoder/adamw.h"
#include "pipeline/models/encoder/losses.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::dist {
class Communicator;
}

namespace v2c::encoder {

// How train_step gets the adapter's share of the gradient norm (see Speed above).
enum class AdapterNorm {
  automatic,  // gram when L >= 8·B, else blocks
  blocks,     // the whole gradient in a p x L buffer, its blocks' sums of squares
  gram,       // ⟨XXᵀ, GGᵀ⟩, each gradient block applied while in cache
};

template <class S>
class Trainer {
 public:
  Trainer(Encoder<S>& enc, const LossConfig& loss, const AdamWConfig& opt, uint64_t seed);

  // One optimisation step on a batch of one subject: forward (dropout, MixCo while
  // step < mixco_fraction·total_steps), loss, backward, global-norm clipping, AdamW, logit-scale clamp.
  // X [B x p_subject], T [B x D]. Returns the loss of this batch (before the update).
  LossParts train_step(const std::string& subject, const Mat<S>& X, const Mat<S>& T);

  // Forward + loss (+ backward when with_grad, materialising every gradient), drawing dropout and
  // MixCo from rng() exactly as train_step does; no update. For gradient checks (one process).
  LossParts loss(const std::string& subject, const Mat<S>& X, const Mat<S>& T, bool with_grad);

  // Trains data-parallel over `comm`'s ranks from now on (see the header); every rank must call
  // train_step with the same batches. The communicator must outlive the trainer.
  void set_communicator(dist::Communicator& comm);
  // Completes every rank's AdamW moments of the adapters (each rank updated its own rows only):
  // collective, before a checkpoint is written. Nothing to do in one process.
  void gather_optimizer_state();

  int64_t step() const { return step_; }
  Rng& rng() { return rng_; }
  const Rng& rng() const { return rng_; }
  void set_step(int64_t step) { step_ = step; }         // schedule position (checkpoint restore)
  double last_grad_norm() const { return grad_norm_; }  // before clipping
  double last_lr() const { return lr_; }
  Encoder<S>& encoder() { return enc_; }
  const Encoder<S>& encoder() const { return enc_; }
  const LossConfig& loss_config() const { return loss_; }
  const AdamW<S>& optimizer() const { return opt_; }
  // Forces one way of computing the adapter's gradient norm (tests, benchmarks); automatic by default.
  void set_adapter_norm(AdapterNorm how) { adapter_norm_ = how; }

 private:
  LossParts run(const std::string& subject, const Mat<S>& X, const Mat<S>& T, bool with_grad, bool materialize);
  // Rows [begin, end) of an adapter W [p x L] that `rank` updates: whole blocks of the fused pass.
  std::pair<int64_t, int64_t> adapter_rows(int64_t p, int64_t L, int rank) const;
  // Every rank's rows of W (or its moments) [p x L] from their owner.
  void allgather_adapter_rows(Mat<S>& M);

  Encoder<S>& enc_;
  dist::Communicator* comm_;
  LossConfig loss_;
  AdamW<S> opt_;
  Rng rng_;
  int64_t step_ = 0;
  double grad_norm_ = 0, lr_ = 0;
  Mat<S> x_mix_, t_mix_, soft_, dY_;
  LossWorkspace<S> loss_ws_;                 // the loss's scratch, reused every step
  const Mat<S>* x_batch_ = nullptr;          // the whole (mixed) batch of the last run()
  Mat<S> x_rows_, y_all_, dy_rows_, g_all_;  // data-parallel: this rank's rows, gathered rows
  std::vector<S> flat_;                      // data-parallel: the explicit gradients, summed
  std::vector<S> adapter_grad_;              // blocks: this rank's rows of the adapter's W gradient
  std::vector<Mat<S>> g_blocks_;             // gram: one gradient block per worker
  AdapterNorm adapter_norm_ = AdapterNorm::automatic;
};

}  // namespace v2c::encoder
