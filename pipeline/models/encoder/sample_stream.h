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
//
// Read-ahead (read_ahead = true): next() returns a batch and starts, on a thread of its own, the
// work of the following one: reading the chunks that the order reads before it, into the same
// slots, and copying its rows out of the buffer into a staged batch; the next call to next() waits
// for it and hands the staged batch over (a swap). The reads, the slots they take and the batches
// are exactly those of a stream without read-ahead (test_dist_stream); the memory held is one
// batch more (the staged one, B x p floats). Only the overlap with the caller's work is new. HDF5 is
// not thread-safe: the caller must call settle() before it touches any HDF5 file itself while a
// read-ahead may be in flight (a checkpoint write), and a source shared with other readers must
// not use read-ahead.
#pragma once

#include <cstdint>
#include <future>
#include <unordered_map>
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
  SampleStream(SampleSource& source, const EpochOrder& order, int64_t first, dist::Communicator* comm = nullptr,
               bool read_ahead = false);
  ~SampleStream();  // waits for a read-ahead in flight
  SampleStream(const SampleStream&) = delete;
  SampleStream& operator=(const SampleStream&) = delete;

  bool done() const { return next_ == int64_t(order_.batches.size()); }
  int64_t batch_index() const { return next_; }  // of the batch next() returns
  // The next batch: its subject, X [B x p_subject], T [B x D]. Collective with a communicator.
  // With read-ahead, a read error of the background reads is thrown here (or by settle()).
  const Batch& next(MF& X, MF& T);
  // Waits until no read-ahead is in flight (rethrowing its error, if any).
  void settle();
  int64_t rows_held() {  // rows in the buffer now, read-ahead included
    settle();
    return int64_t(slot_of_.size());
  }
  int64_t rows_read() {  // by this rank, since construction
    settle();
    return rows_read_;
  }

 private:
  void read_chunk(size_t c);
  static uint64_t key(size_t subject, int64_t row) { return (uint64_t(subject) << 40) | uint64_t(row); }
  // Reads the chunks before batch b and moves this rank's rows of it out of the buffer into
  // staged_X_ (and its targets into staged_T_).
  void stage(int64_t b);

  SampleSource& source_;
  const EpochOrder& order_;
  dist::Communicator* comm_;
  int64_t next_ = 0, chunks_read_ = 0, width_ = 0, rows_read_ = 0;
  std::vector<std::vector<bool>> wanted_;                  // [subject][row]: rows this rank reads
  std::vector<float> slots_;                               // [peak_rows x width_] buffered rows
  std::vector<int64_t> free_;                              // free slots
  std::unordered_map<uint64_t, int64_t> slot_of_;          // key(subject, row) -> slot
  MF chunk_;                                               // the chunk being read
  std::vector<int64_t> chunk_rows_;                        // its rows this rank reads
  std::vector<int64_t> from_;                              // slots of the batch being staged
  MF staged_X_, staged_T_;                                 // batch staged_ (this rank's rows of X)
  int64_t staged_ = -1;
  bool read_ahead_;
  std::future<void> ahead_;  // the read-ahead in flight (last member: it ends before the buffers)
};

}  // namespace v2c::encoder
