// The shuffle buffer of pretraining: walks one epoch's order (stream_order.h), reading each chunk's
// rows from a SampleSource when the order reads it and handing out every batch's voxels and targets;
// a row leaves the buffer when its batch is handed out. Memory: order.peak_rows slots of p_max
// floats (the widest subject's voxels), allocated once, plus one chunk being read.
//
// Starting at batch `first` of the epoch (a resumed run) gives the batches first, first + 1, ...
// of a stream started at 0: the chunks read before batch `first` are read again, keeping only
// the rows that batches >= first use.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "pipeline/models/encoder/sample_source.h"
#include "pipeline/models/encoder/stream_order.h"

namespace v2c::encoder {

class SampleStream {
 public:
  // `source` and `order` must outlive the stream. 0 <= first <= order.batches.size().
  SampleStream(SampleSource& source, const EpochOrder& order, int64_t first);

  bool done() const { return next_ == int64_t(order_.batches.size()); }
  int64_t batch_index() const { return next_; }  // of the batch next() returns
  // The next batch: its subject, X [B x p_subject], T [B x D].
  const Batch& next(MF& X, MF& T);
  int64_t rows_held() const { return int64_t(slot_of_.size()); }

 private:
  void read_chunk(size_t c, const std::vector<std::vector<bool>>* used);

  SampleSource& source_;
  const EpochOrder& order_;
  int64_t next_ = 0, chunks_read_ = 0, width_ = 0;
  std::vector<float> slots_;                               // [peak_rows x width_] buffered rows
  std::vector<int64_t> free_;                              // free slots
  std::map<std::pair<size_t, int64_t>, int64_t> slot_of_;  // (subject, row) -> slot
  MF chunk_;                                               // the chunk being read
};

}  // namespace v2c::encoder
