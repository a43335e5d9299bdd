// AdamW (Loshchilov & Hutter 2019; PyTorch's update rule, per-parameter step counts) on the
// encoder's Param buffers (kernel: no I/O). Settings: AdamWConfig (settings.h). No weight decay on
// biases, LayerNorm parameters and loss scalars (Param::decay). Learning rate: linear warm-up, then
// cosine decay to min_lr.
#pragma once

#include <cstdint>

#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::encoder {

// Each update is one pass over value, grad, m and v.
template <class S>
class AdamW {
 public:
  explicit AdamW(const AdamWConfig& cfg) : cfg_(cfg) {}
  // Learning rate of update number `step` (0-based): step < warmup: lr·(step+1)/warmup, then cosine
  // from lr to min_lr over the remaining total_steps - warmup steps.
  double lr_at(int64_t step) const;
  // Full update from p.grad scaled by grad_scale.
  void update(Param<S>& p, double lr, double grad_scale) const;
  // Split update: begin() allocates the moments and counts the step, then update_range() applies
  // elements [offset, offset+count) of the flattened buffer from grad[0..count) (same step).
  void begin(Param<S>& p) const;
  void update_range(Param<S>& p, int64_t offset, int64_t count, const S* grad, double lr, double grad_scale) const;
  const AdamWConfig& config() const { return cfg_; }

 private:
  AdamWConfig cfg_;
};

}  // namespace v2c::encoder
