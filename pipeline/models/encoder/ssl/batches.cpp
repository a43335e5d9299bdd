#include "pipeline/models/encoder/ssl/batches.h"

#include "pipeline/core/error.h"

namespace v2c::encoder::ssl {

PooledBatches::PooledBatches(const std::vector<std::vector<const MatrixF*>>& runs, int64_t window)
    : order_(runs.size()) {
  for (const auto& r : runs) {
    next_pools_.emplace_back(r, window + 1);
    mask_pools_.emplace_back(r, window);
    if (next_pools_.back().total() == 0)
      throw input_error("no training run has window + 1 = ", window + 1, " volumes (", r.size(), " runs)");
  }
}

size_t PooledBatches::next(const SslTrainConfig& cfg, Rng& rng, SslBatch<float>& batch) {
  if (step_ % int64_t(order_.size()) == 0) {
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    rng.shuffle(order_);
  }
  const size_t s = order_[size_t(step_ % int64_t(order_.size()))];
  ++step_;
  const int64_t N = cfg.batch_windows;
  batch.N = N;
  if (cfg.w_masked > 0) {
    mask_pools_[s].draw(N, rng, batch.masked);
    batch.mask = draw_mask(cfg.mask, N, cfg.window, batch.masked.cols(), rng);
  }
  if (cfg.w_next_step > 0) next_pools_[s].draw(N, rng, batch.next);
  return s;
}

namespace {
WindowStreamConfig with_windows(WindowStreamConfig c, const SslTrainConfig& cfg) {
  c.length = cfg.w_next_step > 0 ? cfg.window + 1 : cfg.window;
  c.batch_windows = cfg.batch_windows;
  return c;
}
}  // namespace

StreamedBatches::StreamedBatches(WindowSource& source, std::vector<std::vector<int64_t>> train_runs,
                                 const SslTrainConfig& cfg, WindowStreamConfig stream, uint64_t seed)
    : stream_(source, std::move(train_runs), with_windows(stream, cfg), seed),
      length_(with_windows(stream, cfg).length) {}

size_t StreamedBatches::next(const SslTrainConfig& cfg, Rng& rng, SslBatch<float>& batch) {
  if (epoch_ < 0 || stream_.done()) {
    stream_.start_epoch(++epoch_);
    if (stream_.done())
      throw input_error("self-supervised windows: epoch ", epoch_, " of the stream holds no batch (",
                        stream_.windows_per_epoch(), " window(s); a batch needs 2)");
  }
  const WindowBatch& b = stream_.next(X_);
  const int64_t N = int64_t(b.windows.size()), T = cfg.window, p = X_.cols();
  batch.N = N;
  if (cfg.w_masked > 0) {
    batch.masked.resize(N * T, p);
    for (int64_t n = 0; n < N; ++n) batch.masked.middleRows(n * T, T) = X_.middleRows(n * length_, T);
    batch.mask = draw_mask(cfg.mask, N, T, p, rng);
  }
  if (cfg.w_next_step > 0) batch.next.swap(X_);
  return b.subject;
}

}  // namespace v2c::encoder::ssl
