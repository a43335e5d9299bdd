// The self-supervised objectives as one weighted loss (issue 11), on one batch of windows of one
// subject:
//   L_ssl = w_next_step · L_next(next: N windows of window + 1 volumes, the first `window` the context)
//         + w_masked    · L_masked(masked: N windows of `window` volumes, hidden as `mask` says)
// (ssl/next_step.h, ssl/masked.h; an objective of weight 0 is not run and its windows may be empty).
// Kernel: no I/O.
#pragma once

#include <string>

#include "pipeline/models/encoder/ssl/masked.h"
#include "pipeline/models/encoder/ssl/next_step.h"

namespace v2c::encoder::ssl {

template <class S>
struct SslBatch {
  int64_t N = 0;  // windows
  Mat<S> next;    // [N·(window+1) x p_s], batch-major (w_next_step > 0)
  Mat<S> masked;  // [N·window x p_s], batch-major (w_masked > 0)
  Mask mask;      // which entries of `masked` are hidden
};

struct SslParts {
  double total = 0;      // w_next_step·next_step + w_masked·masked
  double next_step = 0;  // next-time-point MSE (0 when off)
  double masked = 0;     // masked-prediction MSE (0 when off)
};

// Forward and loss; with_grad: the model's gradients (which must be empty: zero_grad()) become
// those of L_ssl, each objective's entering with its weight. cfg: weights, window, next, mask.
template <class S>
SslParts ssl_objectives(SslModel<S>& model, const std::string& subject, const SslBatch<S>& batch,
                        const SslTrainConfig& cfg, bool with_grad);

}  // namespace v2c::encoder::ssl
