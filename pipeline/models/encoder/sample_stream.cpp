#include "pipeline/models/encoder/sample_stream.h"

#include "pipeline/core/error.h"
#include "pipeline/dist/collectives.h"

namespace v2c::encoder {

SampleStream::SampleStream(SampleSource& source, const EpochOrder& order, int64_t first, dist::Communicator* comm,
                           bool read_ahead)
    : source_(source),
      order_(order),
      comm_(comm && comm->size() > 1 ? comm : nullptr),
      next_(first),
      read_ahead_(read_ahead) {
  V2C_ASSERT(first >= 0 && first <= int64_t(order.batches.size()), "SampleStream: batch ", first, " of ",
             order.batches.size());
  if (done()) return;
  for (const auto& t : source.subjects()) width_ = std::max(width_, t.n_voxels);
  // The rows this rank reads: its share of every batch from `first` on (rows that batches before
  // `first` used are not read again).
  wanted_.resize(source.subjects().size());
  for (size_t s = 0; s < wanted_.size(); ++s) wanted_[s].assign(size_t(source.subjects()[s].n_samples()), false);
  for (size_t b = size_t(first); b < order.batches.size(); ++b) {
    const Batch& batch = order.batches[b];
    const dist::EvenSplit split{int64_t(batch.rows.size()), comm_ ? comm_->size() : 1};
    const int rank = comm_ ? comm_->rank() : 0;
    for (int64_t k = split.begin(rank); k < split.begin(rank + 1); ++k)
      wanted_[batch.subject][size_t(batch.rows[size_t(k)])] = true;
  }
  // Slots: the most rows this rank holds at once (the order's peak with one process).
  int64_t held = 0, peak = 0, chunks = 0;
  for (size_t b = size_t(first); b < order.batches.size(); ++b) {
    for (; chunks < order.chunks_before[b]; ++chunks)
      for (int64_t r : order.chunks[size_t(chunks)].rows)
        held += wanted_[order.chunks[size_t(chunks)].subject][size_t(r)];
    peak = std::max(peak, held);
    const Batch& batch = order.batches[b];
    for (int64_t r : batch.rows) held -= wanted_[batch.subject][size_t(r)];
  }
  slots_.resize(size_t(peak * width_));
  slot_of_.reserve(size_t(peak));
  for (int64_t k = peak; k-- > 0;) free_.push_back(k);
  while (chunks_read_ < order.chunks_before[size_t(first)]) read_chunk(size_t(chunks_read_++));
}

SampleStream::~SampleStream() {
  if (ahead_.valid()) ahead_.wait();
}

void SampleStream::settle() {
  if (ahead_.valid()) ahead_.get();
}

void SampleStream::read_chunk(size_t c) {
  const Chunk& chunk = order_.chunks[c];
  chunk_rows_.clear();
  for (int64_t r : chunk.rows)
    if (wanted_[chunk.subject][size_t(r)]) chunk_rows_.push_back(r);
  if (chunk_rows_.empty()) return;
  source_.read_voxels(chunk.subject, chunk_rows_, chunk_);
  rows_read_ += int64_t(chunk_rows_.size());
  for (size_t k = 0; k < chunk_rows_.size(); ++k) {
    V2C_ASSERT(!free_.empty(), "SampleStream: more rows than the buffer's ", slots_.size() / size_t(width_));
    const int64_t slot = free_.back();
    free_.pop_back();
    slot_of_[key(chunk.subject, chunk_rows_[k])] = slot;
    const float* row = chunk_.data() + int64_t(k) * chunk_.cols();
    std::copy(row, row + chunk_.cols(), slots_.data() + slot * width_);
  }
}

void SampleStream::stage(int64_t b) {
  while (chunks_read_ < order_.chunks_before[size_t(b)]) read_chunk(size_t(chunks_read_++));
  const Batch& batch = order_.batches[size_t(b)];
  const int64_t B = int64_t(batch.rows.size()), p = source_.subjects()[batch.subject].n_voxels;
  const dist::EvenSplit split{B, comm_ ? comm_->size() : 1};
  const int rank = comm_ ? comm_->rank() : 0;
  staged_X_.resize(B, p);
  // This rank's rows go to their place in X (one process: all of them). The buffer is larger than
  // the caches: each row's copy starts the reads of the row two ahead.
  const int64_t k0 = split.begin(rank), k1 = split.begin(rank + 1);
  from_.resize(size_t(k1 - k0));
  for (int64_t k = k0; k < k1; ++k) {
    const auto it = slot_of_.find(key(batch.subject, batch.rows[size_t(k)]));
    V2C_ASSERT(it != slot_of_.end(), "SampleStream: row ", batch.rows[size_t(k)], " of subject ", batch.subject,
               " is not in the buffer");
    from_[size_t(k - k0)] = it->second;
    free_.push_back(it->second);
    slot_of_.erase(it);
  }
  for (int64_t k = k0; k < k1; ++k) {
    if (k + 2 < k1) {
      const char* ahead = reinterpret_cast<const char*>(slots_.data() + from_[size_t(k + 2 - k0)] * width_);
      for (int64_t at = 0; at < p * int64_t(sizeof(float)); at += 64) __builtin_prefetch(ahead + at, 0, 2);
    }
    const float* row = slots_.data() + from_[size_t(k - k0)] * width_;
    std::copy(row, row + p, staged_X_.data() + k * p);
  }
  source_.targets(batch.subject, batch.rows, staged_T_);
  staged_ = b;
}

const Batch& SampleStream::next(MF& X, MF& T) {
  V2C_ASSERT(!done(), "SampleStream::next past the epoch's ", order_.batches.size(), " batches");
  settle();
  if (staged_ != next_) stage(next_);
  const Batch& batch = order_.batches[size_t(next_++)];
  X.swap(staged_X_);
  T.swap(staged_T_);
  if (comm_) {
    const dist::EvenSplit split{X.rows(), comm_->size()};
    dist::allgather_rows(*comm_, X.data() + split.begin(comm_->rank()) * X.cols(), X.data(), split, X.cols());
  }
  // The following batch, read and staged while the caller works on this one. Only that thread
  // touches the buffer and the staged batch until settle().
  if (read_ahead_ && !done()) ahead_ = std::async(std::launch::async, [this] { stage(next_); });
  return batch;
}

}  // namespace v2c::encoder
