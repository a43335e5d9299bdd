// A shared nonlinear brain encoder (MindEye2-style "brain foundation model"), trained by hand-written
// forward/backward passes (no autograd), with its losses, AdamW optimiser and checkpoints.
//
// Model (Scotti et al. 2024, MindEye2 §2.1, without the diffusion prior):
//   per-subject adapter   h0 = X·W_s + b_s                X [B x p_s] -> [B x L]
//   n_blocks residual     h  <- h + Dropout(GELU(LN(h)·W_k + b_k))   W_k [L x L], exact erf GELU
//   head                  Y  = LN_f(h)·W_h + b_h          [B x L] -> [B x D]
// LayerNorm (Ba et al. 2016) has a learnable gain g and bias β, ε = 1e-5, biased variance (as PyTorch).
// All matrices are row-major, batch-major: row i is sample i. Weights are stored [in x out].
//
// Losses (weighted sum, LossConfig), over a batch of predictions P [B x D] and targets T [B x D]
// (the stimuli's CLIP vectors):
//   clip    symmetric InfoNCE (Radford et al. 2021) on L2-normalised rows, logits = e^s·P̂T̂ᵀ, learnable
//           log logit scale s (init log(1/0.07), clamped to [0, log 100] after every update as CLIP does)
//   siglip  sigmoid loss (Zhai et al. 2023): -1/B Σ_ij log σ(z_ij (e^t'·p̂_i·t̂_j + b)), learnable
//           t' (init log 10) and b (init -10); with soft labels q_ij ∈ [0,1] it is the binary
//           cross-entropy -1/B Σ_ij [q log σ(l) + (1-q) log σ(-l)] (q = I gives the paper's loss)
//   mse     mean over B·D of (P - T)²
//   cos     mean over rows of 1 - cos(p_i, t_i)
//   MixCo   (Kim et al. 2020, as in MindEye): during the first mixco_fraction of training, each sample
//           is mixed with probability mixco_prob with a random partner π(i): x_i <- λx_i + (1-λ)x_π(i),
//           λ ~ Beta(α, α); contrastive targets become soft (λ on i, 1-λ on π(i)); mse/cos use the
//           mixed target λt_i + (1-λ)t_π(i).
//
// Optimiser: AdamW (Loshchilov & Hutter 2019; PyTorch's update rule, per-parameter step counts),
// no weight decay on biases, LayerNorm parameters and loss scalars; learning rate: linear warm-up
// then cosine decay to min_lr; gradients clipped by their global L2 norm (as torch's
// clip_grad_norm_: scale = min(1, clip_norm / (norm + 1e-6))).
//
// Speed (Trainer::train_step): the adapter (20000 x 1024 for a real subject) dominates memory
// traffic, so its gradient is never materialised: its norm comes from ‖Xᵀ·G‖²_F = ⟨X·Xᵀ, G·Gᵀ⟩_F
// (two B x B Gram matrices), and the update computes the gradient one row block at a time
// (Xᵀ[rows]·G, cache-resident) and applies clipping + AdamW to that block in the same pass.
// Everything else is updated in one fused pass per buffer. The forward/backward products use BLAS
// (OpenBLAS's threads); the adapter and optimiser passes run on plain std::threads
// (omp_get_max_threads() of them), each running Eigen's kernel single-threaded: an OpenMP region
// there would leave libgomp's workers spinning on the cores OpenBLAS needs next. OpenMP is used only
// for elementwise/LayerNorm work above 2^20 elements (never at B = 128, L = 1024, where the
// serial pass is cheaper than the spin it would cause).
//
// Determinism: dropout masks come from a counter-based hash of (a key drawn from the trainer's Rng,
// row, column), MixCo draws from the same Rng, and every reduction uses fixed chunks summed in a
// fixed order, so with a given seed and batch order the weights are bitwise identical run to run and
// across checkpoint/resume with one thread. The fused adapter update uses fixed row blocks and is
// thread-count independent too; only the BLAS products (OpenBLAS may split a product differently
// with more threads) can round differently, so with more threads weights agree to float rounding
// (relative differences of order 1e-6 after a few steps; see the encoder tests), not bitwise.
//
// Kernels: no I/O, except save_checkpoint/load_checkpoint (HDF5 artifact "encoder_checkpoint",
// version 1: every parameter, AdamW moments and step counts, trainer step, configs, Rng state).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/stage.h"
#include "pipeline/math/linalg.h"

namespace v2c::encoder {

template <class S>
using Mat = linalg::Mat<S>;

// xoshiro256** (Blackman & Vigna): small, fast, and its whole state (4 words) goes into checkpoints.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next();
  double uniform();                  // [0, 1)
  double normal();                   // N(0, 1), Box-Muller
  double gamma(double shape);        // Gamma(shape, 1), Marsaglia-Tsang
  double beta(double a, double b);   // Beta(a, b)
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_;
};

struct EncoderConfig {
  int latent = 1024;                    // L, width of the shared latent space
  int n_blocks = 2;                     // residual blocks
  double dropout = 0.15;                // dropout probability inside each block, [0, 1)
  int clip_dim = 512;                   // D, output (CLIP) dimension
  double init_logit_scale = 2.659260036932778;  // CLIP loss log logit scale at start (log 1/0.07)
  double siglip_init_t = 2.302585092994046;     // SigLIP t' = log t at start (log 10)
  double siglip_init_b = -10.0;                 // SigLIP bias at start
  void validate() const;                // usage_error naming the field, value and rule
};

// One learnable tensor. Vectors are stored as [1 x n].
template <class S>
struct Param {
  std::string name;       // "adapter/<subject>/W", "block0/ln/g", "head/W", "loss/logit_scale", ...
  Mat<S> value;
  Mat<S> grad;            // same shape after backward(); left empty while frozen
  Mat<S> m, v;            // AdamW moments; empty until the first update (never for frozen ones)
  int64_t steps = 0;      // AdamW updates applied to this parameter (bias correction)
  bool decay = false;     // weight decay applies (weight matrices only)
  bool trainable = true;
};

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
  // until backward() returns.
  const Mat<S>& forward(const std::string& subject, const Mat<S>& X, bool train, Rng* rng);

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
  bool has_param(const std::string& name) const { return by_name_.count(name) > 0; }
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
    Mat<S> xhat, z;      // LN output before gain/bias, pre-activation [B x L]
    std::vector<S> rstd;  // 1/σ per row
    uint64_t key = 0;     // dropout mask key of the last forward
  };
  struct Adapter {
    Param<S>*W, *b;
  };
  Param<S>* add_param(const std::string& name, int64_t rows, int64_t cols, bool decay);

  EncoderConfig cfg_;
  std::vector<std::unique_ptr<Param<S>>> params_;
  std::map<std::string, Param<S>*> by_name_;
  std::map<std::string, Adapter> adapters_;
  std::vector<Block> blocks_;
  Param<S>*lnf_g_, *lnf_b_, *head_W_, *head_b_;

  // cache of the last forward
  const Mat<S>* x_ = nullptr;
  std::string subject_;
  bool train_ = false;
  Mat<S> h_, xhat_f_, y_, out_, d_h0_, dy_, dz_, ytmp_;
  std::vector<S> rstd_f_;
};

struct LossConfig {
  double w_clip = 1.0, w_siglip = 0.0, w_mse = 0.0, w_cos = 0.0;  // weights of the losses, >= 0
  bool mixco = false;           // MixCo mixup during the first part of training
  double mixco_fraction = 1.0 / 3.0;  // share of AdamWConfig::total_steps with MixCo, [0, 1]
  double mixco_alpha = 0.15;    // λ ~ Beta(α, α)
  double mixco_prob = 0.5;      // probability that a sample is mixed
  double max_logit_scale = 4.605170185988092;  // clamp of the CLIP log logit scale (log 100)
  void validate() const;
};

struct LossParts {
  double total = 0, clip = 0, siglip = 0, mse = 0, cos = 0;  // unweighted parts, weighted total
};

template <class S>
struct LossScalars {
  S logit_scale = 0, siglip_t = 0, siglip_b = 0;
};

// The weighted loss of predictions P [B x D]. `clip_target` [B x D] are the contrastive targets,
// `soft` [B x B] their soft labels (row i: weights over targets for prediction i; empty = identity),
// `mse_target` [B x D] the targets of mse/cos (empty = clip_target). When dP is not null it receives
// dloss/dP and *dscalars the loss scalars' gradients (zero for a clamped logit scale).
template <class S>
LossParts loss_and_grad(const LossConfig& cfg, const Mat<S>& P, const Mat<S>& clip_target, const Mat<S>& soft,
                        const Mat<S>& mse_target, const LossScalars<S>& scalars, Mat<S>* dP,
                        LossScalars<S>* dscalars);

struct AdamWConfig {
  double lr = 3e-4;             // peak learning rate
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;   // decoupled, weight matrices only
  int64_t warmup_steps = 0;     // linear warm-up from lr/warmup_steps to lr
  int64_t total_steps = 1000;   // cosine decay reaches min_lr here (and stays)
  double min_lr = 0.0;
  double clip_norm = 1.0;       // global gradient-norm clip; 0 = off
  void validate() const;
};

// AdamW on Param buffers; each update is one pass over value, grad, m and v.
template <class S>
class AdamW {
 public:
  explicit AdamW(const AdamWConfig& cfg) : cfg_(cfg) {}
  // Learning rate of update number `step` (0-based): step < warmup: lr·(step+1)/warmup, then cosine
  // from lr to min_lr over the remaining total_steps - warmup steps.
  double lr_at(int64_t step) const;
  // Full update from p.grad scaled by grad_scale.
  void update(Param<S>& p, double lr, double grad_scale) const;
  // Split update: begin() allocates the moments and counts the step, then update_range() applies
  // elements [offset, offset+count) of the flattened buffer from grad[0..count) (same step).
  void begin(Param<S>& p) const;
  void update_range(Param<S>& p, int64_t offset, int64_t count, const S* grad, double lr, double grad_scale) const;
  const AdamWConfig& config() const { return cfg_; }

 private:
  AdamWConfig cfg_;
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
  // MixCo from rng() exactly as train_step does; no update. For gradient checks.
  LossParts loss(const std::string& subject, const Mat<S>& X, const Mat<S>& T, bool with_grad);

  int64_t step() const { return step_; }
  Rng& rng() { return rng_; }
  void set_step(int64_t step) { step_ = step; }  // schedule position (checkpoint restore)
  double last_grad_norm() const { return grad_norm_; }  // before clipping
  double last_lr() const { return lr_; }
  Encoder<S>& encoder() { return enc_; }
  const Encoder<S>& encoder() const { return enc_; }
  const LossConfig& loss_config() const { return loss_; }
  const AdamW<S>& optimizer() const { return opt_; }

 private:
  LossParts run(const std::string& subject, const Mat<S>& X, const Mat<S>& T, bool with_grad, bool materialize);

  Encoder<S>& enc_;
  LossConfig loss_;
  AdamW<S> opt_;
  Rng rng_;
  int64_t step_ = 0;
  double grad_norm_ = 0, lr_ = 0;
  Mat<S> x_mix_, t_mix_, soft_, dY_;
  std::vector<Mat<S>> g_blocks_;  // per-worker adapter gradient block
};

// Writes every parameter (value, trainable flag, AdamW m/v/steps), the trainer's step and Rng state,
// and the three configs as an "encoder_checkpoint" v1 artifact (temp + rename; refuses to overwrite
// unless force).
template <class S>
void save_checkpoint(const std::string& path, const Trainer<S>& tr, const Provenance& prov, bool force);

// Restores a checkpoint into a trainer whose encoder has the same architecture and subjects (as
// after the same constructor and add_subject calls). input_error when the kind, version,
// architecture, a parameter or a shape does not match.
template <class S>
void load_checkpoint(const std::string& path, Trainer<S>& tr);

}  // namespace v2c::encoder
