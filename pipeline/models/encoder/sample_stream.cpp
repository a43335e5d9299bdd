#include "pipeline/models/encoder/sample_stream.h"

#include "pipeline/core/error.h"

namespace v2c::encoder {

SampleStream::SampleStream(SampleSource& source, const EpochOrder& order, int64_t first)
    : source_(source), order_(order), next_(first) {
  V2C_ASSERT(first >= 0 && first <= int64_t(order.batches.size()), "SampleStream: batch ", first, " of ",
             order.batches.size());
  if (done()) return;
  for (const auto& t : source.subjects()) width_ = std::max(width_, t.n_voxels);
  slots_.resize(size_t(order.peak_rows * width_));
  for (int64_t k = order.peak_rows; k-- > 0;) free_.push_back(k);
  // Rows that batches before `first` used are not read again.
  std::vector<std::vector<bool>> used(source.subjects().size());
  for (size_t s = 0; s < used.size(); ++s) used[s].assign(size_t(source.subjects()[s].n_samples()), false);
  for (int64_t b = 0; b < first; ++b)
    for (int64_t r : order.batches[size_t(b)].rows) used[order.batches[size_t(b)].subject][size_t(r)] = true;
  while (chunks_read_ < order.chunks_before[size_t(first)]) read_chunk(size_t(chunks_read_++), &used);
}

void SampleStream::read_chunk(size_t c, const std::vector<std::vector<bool>>* used) {
  const Chunk& chunk = order_.chunks[c];
  source_.read_voxels(chunk.subject, chunk.rows, chunk_);
  for (size_t k = 0; k < chunk.rows.size(); ++k) {
    if (used && (*used)[chunk.subject][size_t(chunk.rows[k])]) continue;
    V2C_ASSERT(!free_.empty(), "SampleStream: more rows than the order's peak of ", order_.peak_rows);
    const int64_t slot = free_.back();
    free_.pop_back();
    slot_of_[{chunk.subject, chunk.rows[k]}] = slot;
    const float* row = chunk_.data() + int64_t(k) * chunk_.cols();
    std::copy(row, row + chunk_.cols(), slots_.data() + slot * width_);
  }
}

const Batch& SampleStream::next(MF& X, MF& T) {
  V2C_ASSERT(!done(), "SampleStream::next past the epoch's ", order_.batches.size(), " batches");
  while (chunks_read_ < order_.chunks_before[size_t(next_)]) read_chunk(size_t(chunks_read_++), nullptr);
  const Batch& batch = order_.batches[size_t(next_++)];
  X.resize(int64_t(batch.rows.size()), source_.subjects()[batch.subject].n_voxels);
  for (size_t k = 0; k < batch.rows.size(); ++k) {
    const auto it = slot_of_.find({batch.subject, batch.rows[k]});
    V2C_ASSERT(it != slot_of_.end(), "SampleStream: row ", batch.rows[k], " of subject ", batch.subject,
               " is not in the buffer");
    const float* row = slots_.data() + it->second * width_;
    std::copy(row, row + X.cols(), X.data() + int64_t(k) * X.cols());
    free_.push_back(it->second);
    slot_of_.erase(it);
  }
  T = source_.targets(batch.subject, batch.rows);
  return batch;
}

}  // namespace v2c::encoder
