// The shuffle buffer of pretraining: walks one epoch's order (stream_order.h), reading each chunk's
// rows from a SampleSource when the order reads it and handing out every batch's voxels and targets;
// a row leaves the buffer when its batch is handed out. Memory: order.peak_rows slots of p_max
// floats (the widest subject's voxels), allocated once, plus one chunk being read.
//
// Starting at batch `first` of the epoch (a resumed run) gives the batches first, first + 1, ...
// of a stream started at 0: the chunks read before batch `first` are read again, keeping only
// the rows that batches >= first use.
//
// Data-parallel (a communicator of N ranks, every rank walking the same order): rank r reads and
// buffers only its rows of each batch, rows EvenSplit{B, N}.begin(r).. of it (the rows trainer.h
// gives rank r), so reads and buffer memory are split N ways; next() then all-gathers the rows
// (dist::allgather_rows, collective) so that every rank returns the whole batch, bitwise what one
// process reads.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "pipeline/models/encoder/sample_source.h"
#include "pipeline/models/encoder/stream_order.h"

namespace v2c::dist {
class Communicator;
}

namespace v2c::encoder {

class SampleStream {
 public:
  // `source` and `order` (and `comm`) must outlive the stream. 0 <= first <= order.batches.size().
  // comm: null = one process.
  SampleStream(SampleSource& source, const EpochOrder& order, int64_t first, dist::Communicator* comm = nullptr);

  bool done() const { return next_ == int64_t(order_.batches.size()); }
  int64_t batch_index() const { return next_; }  // of the batch next() returns
  // The next batch: its subject, X [B x p_subject], T [B x D]. Collective with a communicator.
  const Batch& next(MF& X, MF& T);
  int64_t rows_held() const { return int64_t(slot_of_.size()); }
  int64_t rows_read() const { return rows_read_; }  // by this rank, since construction

 private:
  void read_chunk(size_t c);

  SampleSource& source_;
  const EpochOrder& order_;
  dist::Communicator* comm_;
  int64_t next_ = 0, chunks_read_ = 0, width_ = 0, rows_read_ = 0;
  std::vector<std::vector<bool>> wanted_;                  // [subject][row]: rows this rank reads
  std::vector<float> slots_;                               // [peak_rows x width_] buffered rows
  std::vector<int64_t> free_;                              // free slots
  std::map<std::pair<size_t, int64_t>, int64_t> slot_of_;  // (subject, row) -> slot
  MF chunk_;                                               // the chunk being read
  std::vector<int64_t> chunk_rows_;                        // its rows this rank reads
  MF own_;                                                 // data-parallel: this rank's rows of a batch
};

}  // namespace v2c::encoder
