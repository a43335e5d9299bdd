#include "pipeline/models/encoder/adamw.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

namespace {

// One element's update (the scalar path; the AVX2 path below does the same operations in the same order).
template <class S>
inline void adamw_element(S& w, S& m, S& v, S g, S b1, S c1gs, S gs, S b2, S c2, S decay, S step_size, S inv_sqrt_bc2,
                          S eps) {
  const S t = gs * g;
  m = b1 * m + c1gs * g;
  v = b2 * v + c2 * (t * t);
  w = w * decay - step_size * m / (std::sqrt(v) * inv_sqrt_bc2 + eps);
}

}  // namespace

template <class S>
void AdamW<S>::update_range(Param<S>& p, int64_t offset, int64_t count, const S* grad, double lr,
                            double grad_scale) const {
  const double t = double(p.steps);
  const double bc1 = 1.0 - std::pow(cfg_.beta1, t), bc2 = 1.0 - std::pow(cfg_.beta2, t);
  const S step_size = S(lr / bc1), inv_sqrt_bc2 = S(1.0 / std::sqrt(bc2)), eps = S(cfg_.eps);
  const S decay = p.decay ? S(1.0 - lr * cfg_.weight_decay) : S(1);
  const S b1 = S(cfg_.beta1), b2 = S(cfg_.beta2), c1 = S(1.0 - cfg_.beta1), c2 = S(1.0 - cfg_.beta2);
  const S gs = S(grad_scale), c1gs = c1 * gs;
  S* w = p.value.data() + offset;
  S* m = p.m.data() + offset;
  S* v = p.v.data() + offset;
  int64_t i = 0;
#if defined(__AVX2__)
  // float: one pass, 8 lanes, w, m and v each read and written once. The pass is bound by memory
  // traffic (an adapter's state is cold at each step): Eigen's three vectorised statements over
  // short segments took twice as long on 4000 x 128 adapters. Which multiply-add pairs the compiler
  // fuses differs from those statements, so weights differ from theirs in the last bits; a given
  // element always takes the same path (the ranges are fixed), so results do not depend on threads.
  if constexpr (std::is_same_v<S, float>) {
    const __m256 vb1 = _mm256_set1_ps(b1), vc1gs = _mm256_set1_ps(c1gs), vgs = _mm256_set1_ps(gs),
                 vb2 = _mm256_set1_ps(b2), vc2 = _mm256_set1_ps(c2), vdecay = _mm256_set1_ps(decay),
                 vstep = _mm256_set1_ps(step_size), vinv = _mm256_set1_ps(inv_sqrt_bc2), veps = _mm256_set1_ps(eps);
    for (; i + 8 <= count; i += 8) {
      const __m256 g = _mm256_loadu_ps(grad + i), tg = _mm256_mul_ps(vgs, g);
      const __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vc1gs, g));
      const __m256 vi =
          _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(vc2, _mm256_mul_ps(tg, tg)));
      const __m256 den = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), vinv), veps);
      const __m256 wi = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(w + i), vdecay),
                                      _mm256_div_ps(_mm256_mul_ps(vstep, mi), den));
      _mm256_storeu_ps(m + i, mi);
      _mm256_storeu_ps(v + i, vi);
      _mm256_storeu_ps(w + i, wi);
    }
  }
#endif
  for (; i < count; ++i) adamw_element(w[i], m[i], v[i], grad[i], b1, c1gs, gs, b2, c2, decay, step_size, inv_sqrt_bc2, eps);
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
