// Where each self-supervised step's subject and windows come from (ssl/train.h), two ways:
//
//   PooledBatches   in memory (ssl/windows.h): the subjects in turn, in an order drawn from `rng`
//                   and renewed every round; per step batch_windows windows of that subject's
//                   training runs drawn WITH replacement (a run with probability proportional to its
//                   windows, a start uniform within it); masked prediction draws its own windows of
//                   `window` volumes, then its mask, then next-time-point prediction its windows of
//                   window + 1. Everything from `rng`, in that order.
//   StreamedBatches through encoder/window_stream.h (memory or timeseries.h5 files, a shuffle buffer
//                   of bounded size whatever the number of subjects): epochs over every training
//                   window of every subject, each used once per epoch, one subject per batch (the
//                   stream's choice); windows of window + 1 volumes (window when next-time-point
//                   prediction is off), masked prediction taking the first `window` volumes of the
//                   same windows. The windows and subjects are a function of (runs, config, seed,
//                   epoch), as the stream's; only the masks come from `rng`. A batch at the end of
//                   an epoch may hold fewer windows (batch.N).
// Kernel: no I/O of its own (a file source reads through io/timeseries.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pipeline/models/encoder/ssl/objective.h"
#include "pipeline/models/encoder/ssl/windows.h"
#include "pipeline/models/encoder/window_stream.h"

namespace v2c::encoder::ssl {

class SslBatches {
 public:
  virtual ~SslBatches() = default;
  // Fills `batch` for the next step (N, and next / masked + mask as cfg's weights ask); returns the
  // index of its subject.
  virtual size_t next(const SslTrainConfig& cfg, Rng& rng, SslBatch<float>& batch) = 0;
};

class PooledBatches final : public SslBatches {
 public:
  // runs[s]: subject s's training runs (kept by pointer). input_error naming no subject when one
  // has no run of window + 1 volumes (the caller adds its context).
  PooledBatches(const std::vector<std::vector<const MatrixF*>>& runs, int64_t window);
  size_t next(const SslTrainConfig& cfg, Rng& rng, SslBatch<float>& batch) override;
  int64_t windows(size_t s) const { return next_pools_[s].total(); }

 private:
  std::vector<WindowPool> next_pools_, mask_pools_;
  std::vector<size_t> order_;
  int64_t step_ = 0;
};

class StreamedBatches final : public SslBatches {
 public:
  // train_runs[s]: run indices of source subject s that train. stream: chunk_windows and buffer_mib
  // (length and batch_windows are set from cfg). Errors as WindowStream's.
  StreamedBatches(WindowSource& source, std::vector<std::vector<int64_t>> train_runs, const SslTrainConfig& cfg,
                  WindowStreamConfig stream, uint64_t seed);
  size_t next(const SslTrainConfig& cfg, Rng& rng, SslBatch<float>& batch) override;
  int64_t epoch() const { return epoch_; }                                // of the last batch handed out
  int64_t peak_buffer_volumes() const { return stream_.peak_volumes(); }  // the stream's buffer

 private:
  WindowStream stream_;
  int64_t length_, epoch_ = -1;
  MF X_;
};

}  // namespace v2c::encoder::ssl
