// v2c-pretrain and v2c-finetune's work: the shared encoder (pipeline/models/encoder.h) trained
// on many subjects' samples, then adapted to a new subject under the same outer folds as ridge.
//
// Pretraining: batches of one subject at a time (its adapter + the shared backbone), subjects'
// batches interleaved in a seeded order; the last `val_runs` training runs of every subject are
// the validation split (by run); early stopping on the validation top-1 retrieval among the
// validation stimuli; checkpoints every `checkpoint_every` steps and on SIGINT/SIGTERM, resumable
// bitwise (one thread) because the batch order is a function of (seed, epoch) and the trainer's
// state (weights, AdamW moments, RNG, step) is in the checkpoint.
//
// Fine-tuning: for every outer fold, a fresh copy of the pretrained backbone and a new adapter
// for the subject, trained on a share of the fold's training runs (`train_fraction`, the same
// first runs ridge uses), either the adapter alone (backbone frozen) or everything (MindEye2);
// the fold's test samples are predicted. Without a pretrained model the encoder is trained from
// scratch per fold (a per-subject nonlinear model).
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"

namespace v2c::encoder {

// The architecture, losses and optimiser shared by both stages' configs.
struct TrainSettings {
  int latent = 256;
  int n_blocks = 2;
  double dropout = 0.15;
  double w_clip = 1.0, w_siglip = 0.0, w_mse = 1.0, w_cos = 0.0;
  bool mixco = false;
  double lr = 1e-3;
  double weight_decay = 0.01;
  double warmup_fraction = 0.05;
  double clip_norm = 1.0;
  int epochs = 40;
  int batch_size = 32;

  void describe_training(config::Schema& s, bool architecture);
};

struct PretrainConfig : TrainSettings {
  int val_runs = 1;
  int patience = 8;
  int checkpoint_every = 200;
  std::vector<int> exclude_runs = {};

  void describe(config::Schema& s);
};

struct FinetuneConfig : TrainSettings {
  std::string mode = "adapter";
  std::string adapter_init = "ridge";
  double train_fraction = 1.0;
  std::string outer = "loro";
  int outer_folds = 6;
  std::vector<std::string> explicit_folds = {};

  FinetuneConfig() { epochs = 60; }
  void describe(config::Schema& s);
};

// Trains on every subject's samples; writes the best (validation) model to out_path as an
// encoder checkpoint. resume: continue from out_path + ".ckpt" when it exists.
void pretrain(const std::vector<Samples>& subjects, const PretrainConfig& cfg, uint64_t seed,
              const std::string& out_path, const Provenance& prov, bool force, bool resume);

// Out-of-fold predictions for one subject. pretrained: an encoder checkpoint, or "" (train from
// scratch). fold_of_sample: the outer fold of every sample (-1: never tested), e.g. from a ridge
// predictions file; empty = computed from cfg.outer. references: samples of pretraining subjects;
// with adapter_init "ridge" the new adapter starts as a ridge map from the subject's voxels to the
// latent codes that the pretrained adapters give the same stimuli in those subjects (only the
// fold's training stimuli are looked up, so no test stimulus informs the start).
Predictions finetune(const Samples& subject, const std::string& pretrained, const FinetuneConfig& cfg,
                     std::vector<int32_t> fold_of_sample, uint64_t seed,
                     const std::vector<Samples>& references = {});

}  // namespace v2c::encoder
