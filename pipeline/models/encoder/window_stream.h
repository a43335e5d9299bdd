// Windows of consecutive volumes of timeseries.h5 (io/timeseries.h) streamed through a shuffle
// buffer, for the self-supervised stage (ssl/train.h): the windows' counterpart of
// sample_stream.h. Memory holds the buffer and the run tables, not the time series.
//
// A window is `length` consecutive volumes of one run, named by its first volume (its start). The
// starts of a subject's training runs, enumerated run by run, play the part of a subject's sample
// rows in stream_order.h: cut into chunks of `chunk_windows` consecutive starts, the chunks of all
// subjects shuffled together by (seed, epoch), read into a buffer of at most `buffer_mib` MiB, and
// each batch is `batch_windows` windows of one subject drawn from the buffered ones (the subject
// that of a window drawn uniformly among the subjects with a batch's worth buffered). Every window
// of every training run is used once per epoch; a last batch of one window is dropped. The order is
// a function of (the runs, length, batch_windows, chunk_windows, buffer_mib, seed, epoch) only, so
// reruns and resumed runs (`first_batch`) reproduce it; when the buffer holds every window the
// order is exactly epoch_batches' over the starts (a global shuffle).
//
// Reads: a chunk is read as one hyperslab per run it touches, volumes [first start, last start +
// length), held once however many of its windows overlap; it leaves the buffer when its last window
// has been handed out. Buffer accounting counts those volumes (p floats each, the widest subject's
// p), so peak memory is the buffer (plus one batch X), whatever the number of subjects and runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/models/encoder/training_data.h"
#include "pipeline/models/encoder/window_source.h"

namespace v2c::encoder {

// How the windows stream. No defaults here: the stage passes its settings (pretrain.chunk_rows,
// pretrain.buffer_mib, ssl.window, ssl.batch_windows; encoder/settings.h).
struct WindowStreamConfig {
  int64_t length = 0;         // volumes per window, >= 1 (ssl: window + 1 for next-step prediction)
  int batch_windows = 0;      // windows per batch, >= 2
  int64_t chunk_windows = 0;  // consecutive starts read together, >= 1
  double buffer_mib = 0;      // shuffle buffer, > 0; must hold max(batch, chunk) windows' volumes
};

// One batch: `batch_windows` windows (fewer at the end of an epoch) of one subject.
struct WindowBatch {
  size_t subject;
  struct Window {
    int64_t run, t0;  // run index in the subject's table, first volume
  };
  std::vector<Window> windows;
};

class WindowStream {
 public:
  // runs[s]: the runs of subject s to train on (indices into source.table(s).runs, ascending);
  // runs shorter than cfg.length contribute no window. `source` must outlive the stream.
  // usage_error when the buffer cannot hold max(batch, chunk) windows' volumes of the widest
  // subject; input_error naming the subject when it has no window at all.
  WindowStream(WindowSource& source, std::vector<std::vector<int64_t>> runs, const WindowStreamConfig& cfg,
               uint64_t seed);
  ~WindowStream();

  int64_t windows_per_epoch() const;              // every training window once
  int64_t batches_in_epoch(int64_t epoch) const;  // the order's batch count
  // Starts epoch `epoch` at batch `first_batch` (0 <= first_batch <= batches_in_epoch(epoch)): the
  // batches handed out are those of a stream started at 0 from first_batch on.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  bool done() const;            // the epoch's batches all handed out
  int64_t batch_index() const;  // of the batch next() returns
  // The next batch of the epoch: X [windows.size() · length x p_subject], window k in rows
  // [k·length, (k+1)·length), time ascending (the layout ssl/next_step.h and masked.h take).
  const WindowBatch& next(MF& X);
  int64_t peak_volumes() const;  // most volumes the buffer held so far (memory: x p x 4 bytes)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v2c::encoder
