// v2c-finetune's work: the pretrained encoder adapted to a new subject under the same outer folds
// as ridge.
//
// For every outer fold, a fresh copy of the pretrained backbone and a new adapter for the subject,
// trained on exactly the fold's training rows that ridge trained on (read from ridge's
// predictions file: after `exclusive`, `train_fraction` and any gap), either the adapter alone
// (backbone frozen) or everything (MindEye2); the fold's test
// samples are predicted. Tuned as ridge is: in each fold, the peak learning rate (from
// `lr_grid`) and the number of epochs (early stopping, at most `epochs`) with the best mean
// per-target Pearson correlation on an inner split of the fold's training runs (the last
// `inner_val_runs` validate; inner training drops rows of validation stimuli), then a fresh model
// is trained on all the fold's training rows with them. The test rows inform nothing. Without a pretrained model the encoder is trained from scratch per fold
// (a per-subject nonlinear model).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::encoder {

// The outer folds a predictions file defines: fold f trains on fold_train[f] and tests the samples
// whose fold is f. input_error when the file is of other samples (count or stimuli differ) or
// holds no training rows (version 1).
std::vector<cv::Fold> folds_of(const Samples& subject, const Predictions& fold_file);

// Out-of-fold predictions for one subject. pretrained: an encoder checkpoint, or "" (train from
// scratch). fold_file: a predictions file of the same samples (v2c-ridge's) whose folds and
// training rows are used as they are; the output records the same training rows and the file's
// train_fraction. references: samples of pretraining subjects;
// with adapter_init "ridge" the new adapter starts as a ridge map from the subject's voxels to the
// latent codes that the pretrained adapters give the same stimuli in those subjects (only the
// fold's training stimuli are looked up, so no test stimulus informs the start).
// ssl_adapter (adapter_init ssl): the new adapter's start fitted self-supervised on the subject's
// volumes of every run but the samples.h5 runs it is given (ssl/new_subject.h); it is called with a
// fold's test runs (its final fit) and with those plus the inner validation runs (the inner split's).
using SslAdapterFit = std::function<AdapterInit<float>(const std::set<int32_t>& excluded_runs, uint64_t seed)>;
Predictions finetune(const Samples& subject, const std::string& pretrained, const FinetuneConfig& cfg,
                     const Predictions& fold_file, uint64_t seed, const std::vector<Samples>& references = {},
                     const SslAdapterFit& ssl_adapter = {});

}  // namespace v2c::encoder
