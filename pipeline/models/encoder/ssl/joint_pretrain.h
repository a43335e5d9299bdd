// pretrain.ssl_joint: the CLIP stage of v2c-pretrain with the self-supervised objectives in the
// same step (ssl/joint.h), instead of a self-supervised stage before it (ssl/pretrain_ssl.h).
//
// A self-supervised model (temporal model, mask token, one read-out per subject; seeded) is trained
// alongside the encoder: every supervised batch of a subject that has a time series is joined by
// pretrain.ssl_batch_windows windows of that subject's usable runs (not in pretrain.exclude_runs,
// at least ssl_window + 1 volumes; the caller has already left out runs showing held-out test
// stimuli), drawn as ssl/windows.h says from an Rng of their own, and one step of
// L_sup + w_next_step·L_next + w_masked·L_masked is taken with the adapter shared. Batches of a
// subject without a time series take the plain Trainer::train_step. Subjects with a time series
// but no samples (unlabelled) have no supervised batch, so they take no part here (logged).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/io/timeseries.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/joint.h"
#include "pipeline/models/encoder/ssl/snapshot.h"
#include "pipeline/models/encoder/ssl/windows.h"

namespace v2c::encoder::ssl {

class JointPretraining {
 public:
  // series: kept by reference (alive while training). subjects: the labelled subjects (id -> voxels).
  JointPretraining(const std::vector<TimeSeries>& series, const std::map<std::string, int64_t>& subjects,
                   const PretrainConfig& cfg, uint64_t seed);
  // One step on a supervised batch of `subject` (pretrain.h's SslHooks::step).
  LossParts step(Trainer<float>& tr, const std::string& subject, const Mat<float>& X, const Mat<float>& T);
  // The temporal model as it is now (the output records it).
  TemporalSnapshot temporal() const { return snapshot_shared(*model_, cfg_); }

 private:
  SslTrainConfig cfg_;
  std::unique_ptr<SslModel<float>> model_;
  std::map<std::string, std::pair<WindowPool, WindowPool>> pools_;  // subject -> (next-step, masked)
  Rng rng_;
  SslBatch<float> batch_;
};

}  // namespace v2c::encoder::ssl
