#include "pipeline/models/encoder/adamw.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder {

template <class S>
double AdamW<S>::lr_at(int64_t step) const {
  if (step < cfg_.warmup_steps) return cfg_.lr * double(step + 1) / double(cfg_.warmup_steps);
  const double span = double(std::max<int64_t>(1, cfg_.total_steps - cfg_.warmup_steps));
  const double progress = std::min(1.0, double(step - cfg_.warmup_steps) / span);
  return cfg_.min_lr + (cfg_.lr - cfg_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

template <class S>
void AdamW<S>::begin(Param<S>& p) const {
  V2C_ASSERT(p.trainable, "AdamW update of frozen parameter ", p.name);
  if (p.m.size() != p.value.size()) {
    p.m.setZero(p.value.rows(), p.value.cols());
    p.v.setZero(p.value.rows(), p.value.cols());
  }
  ++p.steps;
}

template <class S>
void AdamW<S>::update_range(Param<S>& p, int64_t offset, int64_t count, const S* grad, double lr,
                            double grad_scale) const {
  const double t = double(p.steps);
  const double bc1 = 1.0 - std::pow(cfg_.beta1, t), bc2 = 1.0 - std::pow(cfg_.beta2, t);
  const S step_size = S(lr / bc1), inv_sqrt_bc2 = S(1.0 / std::sqrt(bc2)), eps = S(cfg_.eps);
  const S decay = p.decay ? S(1.0 - lr * cfg_.weight_decay) : S(1);
  const S b1 = S(cfg_.beta1), b2 = S(cfg_.beta2), c1 = S(1.0 - cfg_.beta1), c2 = S(1.0 - cfg_.beta2);
  const S gs = S(grad_scale);
  using Arr = Eigen::Array<S, Eigen::Dynamic, 1>;
  // One pass: short segments (L1-resident) through three vectorised Eigen statements.
  constexpr int64_t kSeg = 512;
  for (int64_t i0 = 0; i0 < count; i0 += kSeg) {
    const int64_t n = std::min(kSeg, count - i0);
    Eigen::Map<Arr> w(p.value.data() + offset + i0, n), m(p.m.data() + offset + i0, n), v(p.v.data() + offset + i0, n);
    const Eigen::Map<const Arr> g(grad + i0, n);
    m = b1 * m + c1 * gs * g;
    v = b2 * v + c2 * (gs * g).square();
    w = w * decay - step_size * m / (v.sqrt() * inv_sqrt_bc2 + eps);
  }
}

template <class S>
void AdamW<S>::update(Param<S>& p, double lr, double grad_scale) const {
  V2C_ASSERT(p.grad.size() == p.value.size(), "AdamW: ", p.name, " has no gradient");
  begin(p);
  const int64_t n = p.value.size();
  if (n < kParallelMin) {
    update_range(p, 0, n, p.grad.data(), lr, grad_scale);
    return;
  }
  const int64_t n_tasks = (n + kSumChunk - 1) / kSumChunk;
  run_tasks(n_tasks, [&](int64_t k, int64_t) {
    const int64_t i0 = k * kSumChunk, len = std::min(kSumChunk, n - i0);
    update_range(p, i0, len, p.grad.data() + i0, lr, grad_scale);
  });
}

template class AdamW<float>;
template class AdamW<double>;

}  // namespace v2c::encoder
