// Self-supervised training of the brain model (ssl/model.h) on unlabelled time series, and its
// next-time-point error on held-out runs (issue 11). Kernel: no I/O (the caller logs from on_step).
//
// Each step takes one subject and batch_windows windows of its TRAINING runs (ssl/batches.h): in
// memory, subjects in turn in a seeded order renewed every round, windows drawn with replacement
// (PooledBatches); streamed, epochs over every training window through a bounded shuffle buffer, the
// stream choosing each batch's subject (StreamedBatches). The objectives are summed with their weights:
//   w_next_step · next-time-point MSE (ssl/next_step.h: windows of window+1 volumes, the first
//                 `window` the context)
//   w_masked    · masked-prediction MSE (ssl/masked.h: windows of `window` volumes)
// then the global gradient norm is clipped (clip_norm) and AdamW (adamw.h) updates every reached
// parameter; learning rate: warm-up over warmup_fraction of the steps, then cosine decay.
// Early stopping: every eval_every steps the next-time-point error on each subject's VALIDATION
// runs (runs of its own, apart from the training runs and the held-out ones) is measured; the
// parameters of the best evaluation are restored at the end (no validation runs: the last step's).
// ar1_start (ssl/ar1_start.h): before the first step each subject's predictor is set to the AR(1)
// fit of its training runs (`runs`, never `validation`), and that start is evaluated first, so early
// stopping keeps it when no step beats it on the validation runs. Without ar1_start the random start
// is not evaluated (it is never worth keeping).
// In memory the draws (subject order, windows, masks) come from one Rng seeded by `seed`; streamed,
// the subjects and windows are the stream's function of (runs, config, seed + 1, epoch) and the masks
// come from that Rng. Either way a run is a function of (data, config, seed) (and of BLAS's thread
// count, as the encoder).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/baselines.h"
#include "pipeline/models/encoder/ssl/masked.h"
#include "pipeline/models/encoder/ssl/next_step.h"
#include "pipeline/models/encoder/window_source.h"
#include "pipeline/models/encoder/window_stream.h"

namespace v2c::encoder::ssl {

// SslTrainConfig (objectives and their weights, window, steps, optimiser, early stopping):
// encoder/settings.h.

// One subject's training runs, each [n_volumes x n_voxels] (rows are time), in the subject's
// voxel order; held-out runs must not be among them.
struct SslSubjectRuns {
  std::string subject;
  std::vector<const MatrixF*> runs;
  std::vector<const MatrixF*> validation;  // early stopping only; may be empty
};

struct SslTrainResult {
  int64_t best_step = -1;           // step after which the kept parameters were taken; -1: the start
                                    // (ar1_start, no step better), or the last step without validation runs
  double best_validation = 0;       // their validation next-time-point MSE (0 without validation runs)
  std::vector<double> validation;   // every evaluation's MSE, in order (with ar1_start the start's first)
  int64_t epochs = 0;               // streamed: epochs of the stream begun (in memory: 0)
  int64_t peak_buffer_volumes = 0;  // streamed: most volumes the shuffle buffer held (x p x 4 bytes)
};

// Trains `model` (every subject of `data` already added with its voxel count). on_step (optional)
// receives (step, total loss of the step, learning rate). input_error when a subject has no run of
// at least window + 1 volumes or its runs' widths differ from the model's.
SslTrainResult train_ssl(SslModel<float>& model, const std::vector<SslSubjectRuns>& data, const SslTrainConfig& cfg,
                         uint64_t seed, const std::function<void(int64_t, double, double)>& on_step = {});

// Streamed (ssl/batches.h StreamedBatches): subject s of `source` (source.table(s).subject, already
// added to the model) trains on runs train[s] and validates on runs validation[s] (indices into its
// run table; no run in both). Training windows come through the stream (stream: chunk_windows and
// buffer_mib; window length and batch from cfg); the AR(1) start and each evaluation read one run at a
// time, so memory holds the buffer, one run and the model, whatever the number of subjects.
// usage_error when cfg.batch_windows < 2 or the run lists do not match the source; input_error
// naming the subject when its voxels differ from the model's; the stream's errors.
struct SslStreamRuns {
  std::vector<std::vector<int64_t>> train, validation;  // [n_subjects of the source] run indices
};
SslTrainResult train_ssl(SslModel<float>& model, WindowSource& source, const SslStreamRuns& runs,
                         const SslTrainConfig& cfg, const WindowStreamConfig& stream, uint64_t seed,
                         const std::function<void(int64_t, double, double)>& on_step = {});

// The model's next-time-point error on volumes [T, n) of `run` (T = window): the window of the T
// volumes before each predicts it (the same targets persistence_error/ar1_error(run, T) score).
NextStepError next_step_error(SslModel<float>& model, const std::string& subject, const MatrixF& run, int window,
                              const NextStepConfig& next, int64_t batch = 64);

}  // namespace v2c::encoder::ssl
