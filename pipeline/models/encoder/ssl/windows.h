// Windows of consecutive volumes drawn from one subject's runs (in memory), as the in-memory
// self-supervised steps use them (ssl/batches.h PooledBatches, ssl/joint_pretrain.h): a run drawn
// with probability proportional to the windows it holds, a start uniform within it. The streamed
// counterpart (v2c-pretrain's self-supervised stage) is ssl/batches.h StreamedBatches.
// Kernel: no I/O.
#pragma once

#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/models/encoder/params.h"

namespace v2c::encoder::ssl {

class WindowPool {
 public:
  // The windows of `length` volumes of `runs` (each [n_volumes x p], kept by pointer); runs shorter
  // than `length` hold none.
  WindowPool(const std::vector<const MatrixF*>& runs, int64_t length);
  int64_t total() const { return total_; }  // windows held
  // N windows stacked batch-major into X [N·length x p] (window k in rows k·length ..); total() > 0.
  void draw(int64_t N, Rng& rng, Mat<float>& X) const;

 private:
  std::vector<const MatrixF*> runs_;
  std::vector<int64_t> starts_;  // per run
  int64_t length_, total_ = 0;
};

}  // namespace v2c::encoder::ssl
