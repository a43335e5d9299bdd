// v2c-finetune's work: the pretrained encoder adapted to a new subject under the same outer folds
// as ridge.
//
// For every outer fold, a fresh copy of the pretrained backbone and a new adapter for the subject,
// trained on a share of the fold's training runs (`train_fraction`, the same first runs ridge
// uses), either the adapter alone (backbone frozen) or everything (MindEye2); the fold's test
// samples are predicted. Without a pretrained model the encoder is trained from scratch per fold
// (a per-subject nonlinear model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::encoder {

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
