// The self-supervised stage of v2c-pretrain (issue 11): the brain model (ssl/model.h) trained on
// every subject's time series (timeseries.h5: task, rest and unlabelled runs alike), then its
// per-subject adapters handed to the supervised encoder as their start, so that the CLIP stage
// (or fine-tuning, with pretrain.supervised: false) begins from self-supervised read-ins.
//
// Runs used: those whose samples.h5 run (TimeSeriesRun::samples_run) is not in
// pretrain.exclude_runs (runs without samples always count: rest, movies), with at least
// ssl_window + 1 volumes. The last ssl_val_runs of them validate (early stopping on next-time-point
// error); the rest train. So a held-out subject's test runs, excluded from pretraining, are never
// seen here either. The adapters have the encoder's shape and names: "adapter/<subject>/W"
// [voxels x pretrain.latent], ".../b" [1 x latent].
//
// Windows are streamed (ssl/batches.h StreamedBatches; ssl/train.h): through a shuffle buffer of
// pretrain.buffer_mib, read pretrain.chunk_rows window starts at a time, so that from timeseries.h5
// files the stage holds the buffer and one run, however many subjects it pretrains on. The draws
// are the stream's (every training window once per epoch, the stream choosing each step's subject),
// not the in-memory pool's of earlier versions; pretrain.ssl_batch_windows must be >= 2.
//
// The learning rate and the start are chosen by inner validation (ssl/select.h): the stage trains
// once per rate of pretrain.ssl_lr_grid from each start of pretrain.ssl_ar1_start (same seed), and
// keeps the run with the lowest next-time-point error on the validation runs above; the candidates
// go into the snapshot (the output's /ssl, docs/formats.md).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pipeline/core/provenance.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/sample_source.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/snapshot.h"
#include "pipeline/models/encoder/ssl/train.h"

namespace v2c::encoder::ssl {

struct SslPretrainResult {
  std::map<std::string, AdapterInit<float>> adapters;  // subject -> its trained adapter
  TemporalSnapshot temporal;                           // the trained temporal model (for new subjects)
  SslTrainResult fit;                                  // the chosen candidate's
  int64_t train_volumes = 0, validation_volumes = 0;
};

// Trains on the time series of `source` (one per subject, distinct subjects), leaving out the runs
// of pretrain.exclude_runs and, per subject s, the run indices left_out[s] (the stage's runs showing
// a tested stimulus; empty, or one set per subject); input_error naming the subject when it has no
// training run left. Logs the runs used and the progress.
SslPretrainResult pretrain_ssl(WindowSource& source, const std::vector<std::set<int64_t>>& left_out,
                               const PretrainConfig& cfg, uint64_t seed);
// The same on time series in memory (TimeSeriesMemorySource), nothing left out beyond exclude_runs.
SslPretrainResult pretrain_ssl(const std::vector<TimeSeries>& series, const PretrainConfig& cfg, uint64_t seed);

// pretrain.supervised: false: writes the encoder checkpoint of the subjects of `samples` (the
// source's feature dimension is the output dimension) with the self-supervised adapters and the
// temporal model, and the backbone and head at their seeded start; a subject without a
// self-supervised adapter is an input_error.
void write_self_supervised_encoder(const SampleSource& samples, const PretrainConfig& cfg, const SslPretrainResult& ssl,
                                   uint64_t seed, const std::string& out_path, const Provenance& prov, bool force);

}  // namespace v2c::encoder::ssl
