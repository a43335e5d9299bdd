// The order in which pretraining reads and uses its samples when they do not all fit in memory: a
// shuffle buffer over chunks of rows (kernel: indices only, no I/O; sample_stream.h does the reads).
//
// Every subject's training rows (ascending) are cut into chunks of `chunk_rows` consecutive
// entries; the chunks of all subjects are shuffled together and read in that order into a buffer
// of at most `buffer_rows` rows. Before each batch the buffer takes the next chunks while they fit;
// the batch's subject is that of a row drawn uniformly among the buffered rows of subjects with at
// least batch_size rows buffered (or, when none has that many and the next chunk does not fit, the
// subject with most rows buffered); its batch_size rows (fewer in the last case) are drawn from
// that subject's buffered rows and leave the buffer. Once every chunk is read, the rest is cut into
// batches the same way; a last batch of fewer than 2 rows is dropped (a contrastive batch needs
// two). Batches are one subject each, as in epoch_batches.
//
// When the buffer holds every training row (buffer_rows >= their total) the order is exactly
// epoch_batches(train_rows, batch_size, seed, epoch): streaming a study that fits in memory trains
// the same weights as before. Either way the order is a function of (train_rows, chunk_rows,
// buffer_rows, batch_size, seed, epoch) only, so resuming at any batch and rerunning reproduce it.
// Randomness: the shuffle mixes rows within buffer_rows / chunk_rows chunks at a time (the buffer's
// span), as in tf.data's shuffle buffer; larger buffers come closer to a global shuffle.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/models/encoder/training_data.h"

namespace v2c::encoder {

// Rows of one subject read together: a hyperslab per run of contiguous row indices.
struct Chunk {
  size_t subject;
  std::vector<int64_t> rows;  // ascending sample-table rows
};

struct EpochOrder {
  std::vector<Chunk> chunks;           // in reading order
  std::vector<Batch> batches;          // in training order
  std::vector<int64_t> chunks_before;  // [batches.size()] chunks read before batch b is formed
  int64_t peak_rows = 0;               // most rows the buffer held at once
};

// The subject of the next batch from a shuffle buffer, pool[s] holding subject s's buffered rows
// (or windows): a row drawn uniformly among those of subjects with at least batch_size buffered
// (one rng.next()), or, when none has that many, the subject with most buffered (no draw). The
// buffer must not be empty. Shared by the sample stream (here) and the window stream.
size_t next_batch_subject(const std::vector<std::vector<int64_t>>& pool, size_t batch_size, Rng& rng);

// train_rows[s]: subject s's training rows, ascending. chunk_rows >= 1, buffer_rows >= 1,
// batch_size >= 2.
EpochOrder stream_order(const std::vector<std::vector<int64_t>>& train_rows, int64_t chunk_rows, int64_t buffer_rows,
                        int batch_size, uint64_t seed, int64_t epoch);

}  // namespace v2c::encoder
