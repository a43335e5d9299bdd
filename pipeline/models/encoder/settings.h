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
  bool mixco = false;                           // MixCo mixup during the first part of training
  double mixco_fraction = 1.0 / 3.0;            // share of AdamWConfig::total_steps with MixCo, [0, 1]
  double mixco_alpha = 0.15;                    // λ ~ Beta(α, α)
  double mixco_prob = 0.5;                      // probability that a sample is mixed
  double max_logit_scale = 4.605170185988092;   // clamp of the CLIP log logit scale (log 100)
  void validate() const;
};

// The optimiser and its learning-rate schedule (adamw.h).
struct AdamWConfig {
  double lr = 1e-3;                             // peak learning rate
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;                   // decoupled, weight matrices only
  int64_t warmup_steps = 0;                     // linear warm-up from lr/warmup_steps to lr
  int64_t total_steps = 1000;                   // cosine decay reaches min_lr here (and stays)
  double min_lr = 0.0;
  double clip_norm = 1.0;                       // global gradient-norm clip; 0 = off
  void validate() const;
};

// What both stages train with.
struct TrainSettings {
  EncoderConfig model;       // clip_dim is set from the features
  LossConfig loss;
  AdamWConfig optimizer;     // warmup_steps and total_steps are set by schedule()
  double warmup_fraction = 0.05;  // share of the steps with a linear warm-up
  int epochs = 40;
  int batch_size = 32;

  // The optimiser of a run of total_steps steps: warm-up over warmup_fraction of them.
  AdamWConfig schedule(int64_t total_steps) const;
  void describe_training(config::Schema& s);
};

struct PretrainConfig : TrainSettings {
  int val_runs = 1;
  int patience = 8;
  int checkpoint_every = 200;
  std::vector<int> exclude_runs = {};
  double buffer_mib = 1024;   // shuffle buffer of the streamed samples (stream_order.h)
  int chunk_rows = 64;        // rows read from a samples file at a time

  void describe(config::Schema& s);
};

struct FinetuneConfig : TrainSettings {
  std::string mode = "adapter";
  std::string adapter_init = "ridge";

  FinetuneConfig() { epochs = 60; }
  void describe(config::Schema& s);
};

}  // namespace v2c::encoder
