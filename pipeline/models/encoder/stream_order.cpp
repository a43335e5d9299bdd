#include "pipeline/models/encoder/stream_order.h"

#include <algorithm>

#include "pipeline/core/error.h"

namespace v2c::encoder {

namespace {

// Batch b of the all-in-memory order: every chunk is read before the first batch.
EpochOrder everything_buffered(const std::vector<std::vector<int64_t>>& train_rows, int batch_size, uint64_t seed,
                               int64_t epoch) {
  EpochOrder o;
  for (size_t s = 0; s < train_rows.size(); ++s) {
    if (train_rows[s].empty()) continue;
    o.chunks.push_back({s, train_rows[s]});
    o.peak_rows += int64_t(train_rows[s].size());
  }
  o.batches = epoch_batches(train_rows, batch_size, seed, epoch);
  o.chunks_before.assign(o.batches.size(), int64_t(o.chunks.size()));
  return o;
}

}  // namespace

size_t next_batch_subject(const std::vector<std::vector<int64_t>>& pool, size_t batch_size, Rng& rng) {
  uint64_t ready = 0;
  for (const auto& p : pool)
    if (p.size() >= batch_size) ready += p.size();
  size_t subject = 0;
  if (ready > 0) {
    uint64_t r = rng.next() % ready;
    for (subject = 0; pool[subject].size() < batch_size || r >= pool[subject].size(); ++subject)
      if (pool[subject].size() >= batch_size) r -= pool[subject].size();
  } else {
    for (size_t s = 1; s < pool.size(); ++s)
      if (pool[s].size() > pool[subject].size()) subject = s;
  }
  return subject;
}

EpochOrder stream_order(const std::vector<std::vector<int64_t>>& train_rows, int64_t chunk_rows, int64_t buffer_rows,
                        int batch_size, uint64_t seed, int64_t epoch) {
  V2C_ASSERT(chunk_rows >= 1 && buffer_rows >= 1 && batch_size >= 2, "stream_order: chunk_rows ", chunk_rows,
             ", buffer_rows ", buffer_rows, ", batch_size ", batch_size);
  int64_t total = 0;
  for (const auto& r : train_rows) total += int64_t(r.size());
  if (total <= buffer_rows) return everything_buffered(train_rows, batch_size, seed, epoch);

  Rng rng(seed * 1000003ULL + uint64_t(epoch) * 7919ULL + 29);
  EpochOrder o;
  for (size_t s = 0; s < train_rows.size(); ++s)
    for (size_t b = 0; b < train_rows[s].size(); b += size_t(chunk_rows)) {
      const size_t e = std::min(train_rows[s].size(), b + size_t(chunk_rows));
      o.chunks.push_back({s, std::vector<int64_t>(train_rows[s].begin() + long(b), train_rows[s].begin() + long(e))});
    }
  for (size_t i = o.chunks.size(); i > 1; --i) std::swap(o.chunks[i - 1], o.chunks[size_t(rng.next() % i)]);

  std::vector<std::vector<int64_t>> pool(train_rows.size());
  int64_t buffered = 0;
  size_t next = 0;
  const auto bs = size_t(batch_size);
  while (true) {
    while (next < o.chunks.size() && (buffered == 0 || buffered + int64_t(o.chunks[next].rows.size()) <= buffer_rows)) {
      const Chunk& c = o.chunks[next++];
      pool[c.subject].insert(pool[c.subject].end(), c.rows.begin(), c.rows.end());
      buffered += int64_t(c.rows.size());
    }
    o.peak_rows = std::max(o.peak_rows, buffered);
    if (buffered == 0) break;
    const size_t subject = next_batch_subject(pool, bs, rng);
    std::vector<int64_t>& p = pool[subject];
    const size_t take = std::min(bs, p.size());
    if (take < 2) {  // a single row cannot form a contrastive batch: it leaves the buffer unused
      buffered -= int64_t(p.size());
      p.clear();
      continue;
    }
    Batch batch{subject, {}};
    for (size_t k = 0; k < take; ++k) {
      std::swap(p[size_t(rng.next() % p.size())], p.back());
      batch.rows.push_back(p.back());
      p.pop_back();
    }
    buffered -= int64_t(take);
    o.batches.push_back(std::move(batch));
    o.chunks_before.push_back(int64_t(next));
  }
  return o;
}

}  // namespace v2c::encoder
