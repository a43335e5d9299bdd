#include "pipeline/prep/hrf.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"

namespace v2c::prep {

namespace {
// Gamma density with shape a and unit scale, through logs (t^15 overflows nothing, but stays exact).
double gamma_density(double t, double a) { return std::exp((a - 1.0) * std::log(t) - t - std::lgamma(a)); }
}  // namespace

double spm_hrf_value(double t_s) {
  if (!(t_s > 0)) return 0.0;
  return gamma_density(t_s, 6.0) - gamma_density(t_s, 16.0) / 6.0;
}

std::vector<double> spm_hrf_kernel(double dt_s) {
  V2C_ASSERT(dt_s > 0);
  const int64_t length = int64_t(std::ceil(kHrfLengthS / dt_s - 1e-9));
  std::vector<double> h(static_cast<size_t>(length));
  double sum = 0;
  for (int64_t m = 0; m < length; ++m) sum += h[size_t(m)] = spm_hrf_value((double(m) + 0.5) * dt_s);
  for (double& v : h) v /= sum * dt_s;
  return h;
}

MatrixD event_regressors(const std::vector<EventTiming>& events, double tr_s, int64_t n_volumes, int oversampling) {
  V2C_ASSERT(tr_s > 0 && oversampling >= 1 && n_volumes >= 0);
  const double dt = tr_s / oversampling;
  const std::vector<double> h = spm_hrf_kernel(dt);
  const int64_t length = int64_t(h.size());
  MatrixD x = MatrixD::Zero(n_volumes, int64_t(events.size()));
  // Adds the response to `weight` (in units of dt * input) in fine bin j to every volume it reaches.
  auto add_bin = [&](int64_t e, int64_t j, double weight) {
    const int64_t k_first = std::max<int64_t>(0, (j + 1 + oversampling - 1) / oversampling);
    const int64_t k_last = std::min<int64_t>(n_volumes - 1, (j + length) / oversampling);
    for (int64_t k = k_first; k <= k_last; ++k) {
      const int64_t m = k * oversampling - 1 - j;
      if (m >= 0 && m < length) x(k, e) += weight * h[size_t(m)];
    }
  };
  for (size_t e = 0; e < events.size(); ++e) {
    const double start = events[e].onset_s * oversampling / tr_s;  // in fine bins
    const double end = (events[e].onset_s + events[e].duration_s) * oversampling / tr_s;
    if (!(events[e].duration_s > 0)) {
      add_bin(int64_t(e), int64_t(std::floor(start)), 1.0);  // unit-area impulse: dt * (1/dt)
      continue;
    }
    for (int64_t j = int64_t(std::floor(start)); double(j) < end; ++j) {
      const double covered = std::min(end, double(j + 1)) - std::max(start, double(j));
      if (covered > 0) add_bin(int64_t(e), j, dt * covered);
    }
  }
  return x;
}

}  // namespace v2c::prep
