// Every setting of the shared encoder, with its only default: the kernels' configs (architecture,
// losses, AdamW) and the two stages' configs built from them (v2c-pretrain, v2c-finetune).
//
// A stage's config holds the kernel configs themselves (TrainSettings::model, ::loss,
// ::optimizer), and describe() binds the YAML keys users see to their fields: a value goes from
// the config file to the kernel with no copy in between. Only the optimiser's schedule (total and
// warm-up steps) is set from the data, by TrainSettings::schedule().
//
// Every rule is stated once. A field a stage exposes has its rule in describe_training(), which
// also gives --help and the YAML loader; a kernel config's validate() applies those same rules
// (naming the field "encoder.*", "loss.*" or "optimizer.*") and the rules of the fields no stage
// exposes. usage_error names the field, the value and the rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace v2c::config {
class Schema;
}

namespace v2c::encoder {

// The model (model.h).
struct EncoderConfig {
  int latent = 256;                             // L, width of the shared latent space
  int n_blocks = 2;                             // residual blocks
  double dropout = 0.15;                        // dropout probability inside each block, [0, 1)
  int clip_dim = 512;                           // D, output (CLIP) dimension (stages: the features')
  double init_logit_scale = 2.659260036932778;  // CLIP loss log logit scale at start (log 1/0.07)
  double siglip_init_t = 2.302585092994046;     // SigLIP t' = log t at start (log 10)
  double siglip_init_b = -10.0;                 // SigLIP bias at start
  void validate() const;
};

// The weighted loss (losses.h).
struct LossConfig {
  double w_clip = 1.0, w_siglip = 0.0, w_mse = 1.0, w_cos = 0.0;  // weights of the losses, >= 0, not all 0
  bool mixco = false;                                             // MixCo mixup during the first part of training
  double mixco_fraction = 1.0 / 3.0;           // share of AdamWConfig::total_steps with MixCo, [0, 1]
  double mixco_alpha = 0.15;                   // λ ~ Beta(α, α)
  double mixco_prob = 0.5;                     // probability that a sample is mixed
  double max_logit_scale = 4.605170185988092;  // clamp of the CLIP log logit scale (log 100)
  void validate() const;
};

// The optimiser and its learning-rate schedule (adamw.h).
struct AdamWConfig {
  double lr = 1e-3;  // peak learning rate
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;  // decoupled, weight matrices only
  int64_t warmup_steps = 0;    // linear warm-up from lr/warmup_steps to lr
  int64_t total_steps = 1000;  // cosine decay reaches min_lr here (and stays)
  double min_lr = 0.0;
  double clip_norm = 1.0;  // global gradient-norm clip; 0 = off
  void validate() const;
};

// ---- the self-supervised model and its training (ssl/) ----
namespace ssl {

// The temporal model (ssl/temporal.h).
struct TemporalConfig {
  int n_layers = 2;                // transformer layers
  int n_heads = 4;                 // attention heads; must divide the latent width
  int ff_mult = 4;                 // MLP hidden width = ff_mult x latent width
  int max_len = 32;                // longest window (time points) the positional embedding covers
  void validate(int64_t d) const;  // usage_error naming the field, value and rule
};

// The self-supervised model (ssl/model.h).
struct SslConfig {
  TemporalConfig temporal;
  double mask_token_std = 0.02;  // mask token init N(0, std²) (BERT's)
  void validate(int64_t latent) const;
};

// Masked prediction (ssl/masked.h).
enum class MaskKind { time, voxel };
struct MaskConfig {
  MaskKind kind = MaskKind::time;  // what is hidden: time points (mask token) or voxels (zeroed)
  double ratio = 0.5;              // share hidden per window, (0, 1)
  void validate() const;
};

// Next-time-point prediction (ssl/next_step.h).
struct NextStepConfig {
  bool all_positions = false;  // score every position's successor, not only the last one's
  bool residual = false;       // predict from a per-voxel weight of the previous volume plus the read-out
};

// Which starts the selection tries (ssl/select.h): the random start, the AR(1) start
// (ssl/ar1_start.h), or both (printed false, true, auto).
enum class Ar1Start { off, on, both };

// What the selection of a self-supervised fit tries (ssl/select.h: v2c-pretrain's stage and a new
// subject's fit): every learning rate of lr_grid from every start of ar1_start, each a full run with
// the same seed; the lowest validation next-time-point error is kept.
struct SslSearch {
  std::vector<double> lr_grid = {1e-4, 3e-4, 1e-3, 3e-3};  // peak learning rates (AdamW) tried; one: no choice
  Ar1Start ar1_start = Ar1Start::both;                     // starts tried
  size_t size() const;                                     // candidates: lr_grid.size() x (1 or 2 starts)
};

// Self-supervised training (ssl/train.h).
struct SslTrainConfig {
  SslConfig model;                                               // temporal model and mask token
  NextStepConfig next{.all_positions = true, .residual = true};  // every position scored, skip learnt
  MaskConfig mask;                                               // what is hidden, and how much
  double w_next_step = 1.0;                                      // weight of next-time-point prediction (0 = off)
  double w_masked = 0.0;                                         // weight of masked prediction (0 = off)
  int window = 8;                 // context length T (volumes); <= model.temporal.max_len
  int64_t steps = 1500;           // optimisation steps
  int batch_windows = 16;         // windows per step (one subject)
  AdamWConfig optimizer;          // lr (one run's; the stages choose it from search.lr_grid), betas, decay,
                                  // clip; the schedule is set from steps
  double warmup_fraction = 0.05;  // share of the steps with a linear warm-up
  int eval_every = 50;            // steps between validation evaluations
  int val_runs = 1;               // v2c-pretrain: last usable runs of each subject validating
  bool ar1_start = false;         // one run's start: each subject's next-time-point predictor at the AR(1)
                                  // fit of its training runs (ssl/ar1_start.h; needs next.residual); early
                                  // stopping then scores that start too (the stages choose it: search)
  SslSearch search;               // the stages: the candidates select_ssl tries (train_ssl reads none of it)
  void validate() const;          // usage_error naming the field ("ssl.*"), the value and the rule
};

}  // namespace ssl

// What both stages train with.
struct TrainSettings {
  EncoderConfig model;  // clip_dim is set from the features
  LossConfig loss;
  AdamWConfig optimizer;          // warmup_steps and total_steps are set by schedule()
  double warmup_fraction = 0.05;  // share of the steps with a linear warm-up
  int epochs = 40;
  int batch_size = 32;

  // The optimiser of a run of total_steps steps: warm-up over warmup_fraction of them.
  AdamWConfig schedule(int64_t total_steps) const;
  // with_lr = false: the learning rate is not a key (fine-tuning tunes it from a grid).
  void describe_training(config::Schema& s, bool with_lr = true);
};

struct PretrainConfig : TrainSettings {
  int val_runs = 1;
  int patience = 8;
  int checkpoint_every = 200;
  std::vector<int> exclude_runs = {};
  bool exclude_test_stimuli = true;
  double buffer_mib = 1024;  // shuffle buffer of the streamed samples (stream_order.h) and windows (ssl/batches.h)
  int chunk_rows = 64;       // rows (window starts) read from a samples (timeseries) file at a time
  bool supervised = true;    // false: self-supervised only (--timeseries), the backbone left at its start
  bool ssl_joint = false;    // the self-supervised objectives in the CLIP stage's steps (ssl/joint_pretrain.h)
  ssl::SslTrainConfig ssl;   // the self-supervised stage (with --timeseries)

  void describe(config::Schema& s);
};

// adapter_init ridge needs this many training rows with reference stimuli, in this many runs; a fit
// with fewer (in its inner split or its fold's training rows) starts random (finetune.cpp).
constexpr size_t kRidgeStartRows = 4, kRidgeStartRuns = 2;

struct FinetuneConfig : TrainSettings {
  std::string mode = "adapter";
  std::string adapter_init = "ridge";                // ridge | random | ssl (ssl/new_subject.h)
  std::vector<double> lr_grid = {1e-3, 3e-3, 1e-2};  // peak learning rates tried by the inner split
  int inner_val_runs = 1;                            // last training runs of a fold that validate
  int patience = 10;                                 // epochs without a better inner score before stopping
  ssl::SslTrainConfig ssl;                           // adapter_init ssl: steps, lr, batch of the new subject's fit
  bool ssl_transductive = false;                     // adapter_init ssl: also the fold's test runs' volumes

  FinetuneConfig() {
    epochs = 60;
    ssl.steps = 300;  // one subject's adapter and read-out, the temporal model frozen
  }
  void describe(config::Schema& s);
};

}  // namespace v2c::encoder
