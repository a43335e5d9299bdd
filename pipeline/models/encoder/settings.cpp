#include "pipeline/models/encoder/settings.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "pipeline/core/config.h"
#include "pipeline/core/error.h"
#include "pipeline/models/encoder/ssl/masked.h"
#include "pipeline/models/encoder/ssl/select.h"

// pretrain.ssl_mask_kind: the config reads and prints MaskKind by its name ("time", "voxel").
namespace v2c::config {
using encoder::ssl::MaskKind;
template <>
const char* type_name<MaskKind>() {
  return "string";
}
template <>
MaskKind convert_node<MaskKind>(const YAML::Node& node, const std::string& what) {
  const std::string name = convert_node<std::string>(node, what);
  if (name == "time") return MaskKind::time;
  if (name == "voxel") return MaskKind::voxel;
  throw usage_error("config field '", what, "' = ", excerpt(name), ": must be one of 'time' 'voxel'");
}
template <>
YAML::Node to_node<MaskKind>(const MaskKind& kind) {
  return YAML::Node(std::string(encoder::ssl::mask_kind_name(kind)));
}
template <>
std::string to_text<MaskKind>(const MaskKind& kind) {
  return encoder::ssl::mask_kind_name(kind);
}

// pretrain.ssl_ar1_start, finetune.ssl_ar1_start: true, false or auto (both starts tried).
using encoder::ssl::Ar1Start;
template <>
const char* type_name<Ar1Start>() {
  return "bool or auto";
}
template <>
Ar1Start convert_node<Ar1Start>(const YAML::Node& node, const std::string& what) {
  const std::string name = convert_node<std::string>(node, what);
  if (name == "auto") return Ar1Start::both;
  if (name == "true") return Ar1Start::on;
  if (name == "false") return Ar1Start::off;
  throw usage_error("config field '", what, "' = ", excerpt(name), ": must be one of 'true' 'false' 'auto'");
}
template <>
YAML::Node to_node<Ar1Start>(const Ar1Start& s) {
  if (s == Ar1Start::both) return YAML::Node(std::string("auto"));
  return YAML::Node(s == Ar1Start::on);
}
template <>
std::string to_text<Ar1Start>(const Ar1Start& s) {
  return encoder::ssl::ar1_start_name(s);
}
}  // namespace v2c::config

namespace v2c::encoder {

namespace {

// describe_training's rules applied to `t`, the fields named `section`.key.
void check_stage_rules(TrainSettings t, const char* section) {
  config::Schema s(section);
  t.describe_training(s);
  s.validate();
}

// A learning-rate grid's rule.
bool positive_list(const std::vector<double>& v) {
  if (v.empty()) return false;
  for (double x : v)
    if (!(x > 0 && std::isfinite(x))) return false;
  return true;
}
constexpr const char* kPositiveList = "a non-empty list of finite numbers > 0";

}  // namespace

size_t ssl::SslSearch::size() const { return lr_grid.size() * (ar1_start == Ar1Start::both ? 2 : 1); }

void EncoderConfig::validate() const {
  TrainSettings t;
  t.model = *this;
  check_stage_rules(t, "encoder");
  if (clip_dim < 1) throw usage_error("encoder.clip_dim = ", clip_dim, ": must be >= 1");
}

void LossConfig::validate() const {
  TrainSettings t;
  t.loss = *this;
  check_stage_rules(t, "loss");
  for (auto [name, w] : {std::pair{"w_clip", w_clip}, {"w_siglip", w_siglip}, {"w_mse", w_mse}, {"w_cos", w_cos}})
    if (!std::isfinite(w)) throw usage_error("loss.", name, " = ", w, ": must be finite");
  if (w_clip + w_siglip + w_mse + w_cos <= 0) throw usage_error("loss: every weight is 0; give at least one > 0");
  if (!(mixco_fraction >= 0 && mixco_fraction <= 1))
    throw usage_error("loss.mixco_fraction = ", mixco_fraction, ": must be in [0, 1]");
  if (!(mixco_alpha > 0)) throw usage_error("loss.mixco_alpha = ", mixco_alpha, ": must be > 0");
  if (!(mixco_prob >= 0 && mixco_prob <= 1)) throw usage_error("loss.mixco_prob = ", mixco_prob, ": must be in [0, 1]");
}

void AdamWConfig::validate() const {
  TrainSettings t;
  t.optimizer = *this;
  check_stage_rules(t, "optimizer");
  if (!(beta1 >= 0 && beta1 < 1)) throw usage_error("optimizer.beta1 = ", beta1, ": must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) throw usage_error("optimizer.beta2 = ", beta2, ": must be in [0, 1)");
  if (!(eps > 0)) throw usage_error("optimizer.eps = ", eps, ": must be > 0");
  if (warmup_steps < 0) throw usage_error("optimizer.warmup_steps = ", warmup_steps, ": must be >= 0");
  if (total_steps < 1) throw usage_error("optimizer.total_steps = ", total_steps, ": must be >= 1");
  if (!(min_lr >= 0 && min_lr <= lr)) throw usage_error("optimizer.min_lr = ", min_lr, ": must be in [0, lr]");
}

AdamWConfig TrainSettings::schedule(int64_t total_steps) const {
  AdamWConfig o = optimizer;
  o.total_steps = std::max<int64_t>(1, total_steps);
  o.warmup_steps = int64_t(warmup_fraction * double(o.total_steps));
  return o;
}

void TrainSettings::describe_training(config::Schema& s, bool with_lr) {
  s.field("latent", model.latent, "width of the shared latent space").range(2, 16384);
  s.field("n_blocks", model.n_blocks, "residual MLP blocks of the shared backbone").range(0, 64);
  s.field("dropout", model.dropout, "dropout probability inside each block")
      .check([](const double& d) { return d >= 0 && d < 1; }, "in [0, 1)");
  s.field("w_clip", loss.w_clip, "weight of the symmetric contrastive CLIP loss (learnable temperature)").min(0.0);
  s.field("w_siglip", loss.w_siglip, "weight of SigLIP's sigmoid loss").min(0.0);
  s.field("w_mse", loss.w_mse, "weight of the MSE to the target vector").min(0.0);
  s.field("w_cos", loss.w_cos, "weight of the cosine loss 1 - cos(prediction, target)").min(0.0);
  s.field("mixco", loss.mixco, "MixCo mixup of brain samples during the first third of training");
  if (with_lr)
    s.field("lr", optimizer.lr, "peak learning rate (AdamW)").check([](const double& v) { return v > 0; }, "> 0");
  s.field("weight_decay", optimizer.weight_decay, "AdamW decoupled weight decay (weight matrices only)").min(0.0);
  s.field("warmup_fraction", warmup_fraction, "share of the steps with a linear warm-up, then cosine decay")
      .range(0.0, 1.0);
  s.field("clip_norm", optimizer.clip_norm, "gradient clipping by global norm (0 = off)").min(0.0);
  s.field("epochs", epochs,
          with_lr ? "passes over the training samples"
                  : "most passes over the training samples (the inner split chooses how many)")
      .range(1, 100000);
  s.field("batch_size", batch_size, "samples per batch (one subject per batch)").range(2, 65536);
}

void PretrainConfig::describe(config::Schema& s) {
  describe_training(s);
  s.field("val_runs", val_runs, "last training runs of every subject held out for validation and early stopping")
      .range(0, 1000);
  s.field("patience", patience, "stop after this many epochs without a better validation top-1").range(1, 100000);
  s.field("checkpoint_every", checkpoint_every, "steps between checkpoints (<out>.ckpt; also on SIGINT/SIGTERM)")
      .range(1, 100000000);
  s.field("exclude_runs", exclude_runs,
          "run indices (0-based) left out of pretraining in every subject: the held-out subject's test runs, so the "
          "backbone never sees the novel test stimuli");
  s.field("exclude_test_stimuli", exclude_test_stimuli,
          "leave out of pretraining (training and validation) every sample showing a stimulus that a held-out "
          "subject's outer folds test (--heldout-samples/--heldout-folds; same stimulus id or identical feature "
          "vector)");
  s.field("buffer_mib", buffer_mib,
          "shuffle buffer (MiB of voxel data) the samples stream through from their files: batches are drawn from "
          "the rows buffered; when every training row fits, the order is a full shuffle (the self-supervised "
          "stage's windows stream through a buffer of the same size)")
      .check([](const double& v) { return v > 0 && v <= 1e9; }, "in (0, 1e9]");
  s.field("chunk_rows", chunk_rows,
          "consecutive samples (self-supervised stage: window starts) read from a subject's file at a time into the "
          "buffer")
      .range(1, 1000000);
  s.field("supervised", supervised,
          "train on the labelled samples (CLIP/SigLIP/MSE losses); false: only the self-supervised stage on "
          "--timeseries, whose adapters go into the output beside an untrained backbone");
  s.field("ssl_joint", ssl_joint,
          "with --timeseries: one weighted loss, the CLIP/SigLIP/MSE loss of each supervised batch plus the "
          "self-supervised objectives on pretrain.ssl_batch_windows windows of the same subject, the adapter shared, "
          "in every step of the CLIP stage (no self-supervised stage before it; one process, no --resume)");
  s.field("ssl_steps", ssl.steps,
          "self-supervised stage (with --timeseries, before the supervised one; not with ssl_joint): "
          "optimisation steps")
      .range(int64_t(1), int64_t(100000000));
  s.field("ssl_w_next_step", ssl.w_next_step, "weight of next-time-point prediction (GPT-like; 0 = off)").min(0.0);
  s.field("ssl_w_masked", ssl.w_masked,
          "weight of masked prediction of hidden time points or voxels (BERT-like; 0 = off)")
      .min(0.0);
  s.field("ssl_mask_kind", ssl.mask.kind,
          "what masked prediction hides: time (whole time points, replaced by a learned token in the latent) or "
          "voxel (the same voxels at every time point of a window, zeroed in the input)");
  s.field("ssl_mask_ratio", ssl.mask.ratio,
          "share of each window's time points (or voxels) hidden by masked prediction")
      .check([](const double& r) { return r > 0 && r < 1; }, "in (0, 1)");
  s.field("ssl_window", ssl.window, "context window W of the temporal model (volumes)").range(2, 1024);
  s.field("ssl_layers", ssl.model.temporal.n_layers, "transformer layers of the temporal model").range(0, 64);
  s.field("ssl_heads", ssl.model.temporal.n_heads, "attention heads (must divide pretrain.latent)").range(1, 1024);
  s.field("ssl_batch_windows", ssl.batch_windows, "windows of one subject per step").range(1, 65536);
  s.field("ssl_lr_grid", ssl.search.lr_grid,
          "peak learning rates (AdamW) of the self-supervised stage, each tried from each start of ssl_ar1_start "
          "with the same seed; the one with the lowest next-time-point error on the validation runs (ssl_val_runs) "
          "is kept (one rate: no choice)")
      .check(positive_list, kPositiveList);
  s.field("ssl_eval_every", ssl.eval_every,
          "steps between early-stopping evaluations (next-time-point error on "
          "the validation runs)")
      .range(1, 100000000);
  s.field("ssl_val_runs", ssl.val_runs,
          "last usable time-series runs of every subject held out for the "
          "self-supervised stage's early stopping")
      .range(0, 1000);
  s.field("ssl_ar1_start", ssl.search.ar1_start,
          "self-supervised stage (not ssl_joint): true: each subject's next-time-point predictor starts at the "
          "per-voxel AR(1) least-squares fit of its training runs (skip weight = slope, read-out bias = intercept, "
          "read-out weights 0), then learns a correction, early stopping also scoring that start; false: the "
          "random start; auto: both tried, like the rates of ssl_lr_grid, the lower validation error kept");
}

void FinetuneConfig::describe(config::Schema& s) {
  s.field("mode", mode, "adapter: train the new subject's adapter only (backbone frozen); full: everything (MindEye2)")
      .one_of({"adapter", "full"});
  s.field("adapter_init", adapter_init,
          cat("new adapter's start: ridge (voxels -> the pretrained latents of the same training stimuli in the "
              "--reference subjects; random for every fit of a fold whose inner split or training rows show them in "
              "fewer than ",
              kRidgeStartRows, " rows of ", kRidgeStartRuns,
              " runs), random, or ssl (fitted self-supervised on the subject's unlabelled volumes, --timeseries, "
              "against the pretrained temporal model; never the fold's test runs unless finetune.ssl_transductive)"))
      .one_of({"ridge", "random", "ssl"});
  s.field("ssl_steps", ssl.steps, "adapter_init ssl: optimisation steps of the new subject's self-supervised fit")
      .range(int64_t(1), int64_t(100000000));
  s.field("ssl_lr_grid", ssl.search.lr_grid,
          "adapter_init ssl: peak learning rates (AdamW) of that fit, each tried from each start of ssl_ar1_start; "
          "the lowest next-time-point error on the subject's last usable runs (ssl_val_runs) is kept")
      .check(positive_list, kPositiveList);
  s.field("ssl_ar1_start", ssl.search.ar1_start,
          "adapter_init ssl: that fit's start (as pretrain.ssl_ar1_start; the pretrained model must have been "
          "trained with residual next-time-point prediction, as the stage does)");
  s.field("ssl_transductive", ssl_transductive,
          "adapter_init ssl: also fit on the volumes of the fold's test runs (transductive: their volumes, never "
          "their labels); false: a fold's test runs are never read");
  s.field("lr_grid", lr_grid,
          "peak learning rates tried in each outer fold; the rate and the number of epochs (early stopping) with "
          "the best mean per-target correlation on the inner split are used to train on the fold's training rows")
      .check(positive_list, kPositiveList);
  s.field("inner_val_runs", inner_val_runs,
          "the inner split: the last training runs of each outer fold that validate the learning rate and epochs")
      .range(1, 1000);
  s.field("patience", patience, "inner split: stop after this many epochs without a better score").range(1, 100000);
  describe_training(s, false);
}

}  // namespace v2c::encoder
