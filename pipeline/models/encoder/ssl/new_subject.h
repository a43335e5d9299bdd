// A NEW subject's adapter fitted self-supervised before fine-tuning (issue 11;
// finetune.adapter_init: ssl): the pretrained temporal model and mask token (the checkpoint's
// /ssl, ssl/snapshot.h) stay frozen, and the subject's own adapter, read-out and skip weights are
// trained by the objectives that temporal model was trained with, on the subject's unlabelled
// volumes (ssl/train.h: same windows, weights, early stopping on its last usable runs). The
// adapter, now reading the subject's voxels into the latent space the temporal model knows,
// starts fine-tuning.
//
// Which runs (SubjectRunPicker): every time-series run whose samples.h5 run is not excluded — a
// fold's test runs are excluded, and for its inner split also the inner validation runs — and runs
// without samples (rest, movies) always. Excluded runs' volumes are never read. transductive (a
// user's explicit choice, finetune.ssl_transductive, recorded in the output's provenance): nothing
// is excluded, the test runs' volumes included (never their labels).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pipeline/io/samples.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/ssl/select.h"
#include "pipeline/models/encoder/ssl/snapshot.h"
#include "pipeline/models/encoder/ssl/train.h"

namespace v2c::encoder::ssl {

struct NewSubjectFit {
  AdapterInit<float> adapter;            // W [p x L], b [1 x L]
  SslTrainResult fit;                    // the chosen candidate's
  std::vector<SslCandidate> candidates;  // ssl/select.h, in the order tried
  size_t chosen = 0;
  int64_t train_volumes = 0, validation_volumes = 0;
};

// Kernel (no I/O). runs: the subject's usable runs [n_volumes x p] in acquisition order; the last
// training.val_runs validate, and also choose the learning rate and start among training.search's
// candidates (ssl/select.h, finetune.ssl_lr_grid and finetune.ssl_ar1_start). training: steps,
// optimizer, batch_windows, eval_every, val_runs, warmup_fraction, search (finetune.ssl_*);
// window, objectives and architecture come from `pretrained`.
// input_error naming the subject when too few runs are long enough.
NewSubjectFit fit_new_subject(const TemporalSnapshot& pretrained, const SslTrainConfig& training,
                              const std::string& subject, const std::vector<const MatrixF*>& runs, uint64_t seed);

// Refuses, naming the file and what differs, a new subject whose time series does not fit: no
// temporal model in the checkpoint, a latent width other than the encoder's, another subject, or
// other voxels than its samples (prepare both in one v2c-prepare call).
void check_new_subject(const TemporalSnapshot& temporal, const EncoderConfig& encoder, const TimeSeriesReader& series,
                       const Samples& samples, const std::string& checkpoint_path);

// The runs of one subject's timeseries.h5 a fit may read, each read once (on first use) and kept.
class SubjectRunPicker {
 public:
  // reader: the subject's time series (kept by reference). transductive: exclude nothing.
  SubjectRunPicker(const TimeSeriesReader& reader, bool transductive) : reader_(reader), transductive_(transductive) {}
  // The runs not excluded (samples.h5 run indices), in acquisition order.
  std::vector<const MatrixF*> runs_except(const std::set<int32_t>& excluded_sample_runs);
  // Time-series runs whose volumes were read so far.
  std::vector<int64_t> runs_read() const;

 private:
  const TimeSeriesReader& reader_;
  bool transductive_;
  std::map<int64_t, MatrixF> cache_;
};

}  // namespace v2c::encoder::ssl
