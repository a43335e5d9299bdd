#include "pipeline/prep/drift.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"

namespace v2c::prep {

MatrixD polynomial_basis(int64_t n, int order) {
  if (order < 0) return MatrixD(n, 0);
  if (n <= order) throw input_error("cannot remove a polynomial of order ", order, " from a run of ", n, " volumes");
  MatrixD basis(n, order + 1);
  for (int64_t t = 0; t < n; ++t) {
    const double x = n > 1 ? -1.0 + 2.0 * double(t) / double(n - 1) : 0.0;
    double p_prev = 1.0, p = x;
    basis(t, 0) = 1.0;
    if (order >= 1) basis(t, 1) = x;
    for (int k = 2; k <= order; ++k) {  // (k) P_k = (2k - 1) x P_{k-1} - (k - 1) P_{k-2}
      const double p_next = ((2.0 * k - 1.0) * x * p - (k - 1.0) * p_prev) / k;
      p_prev = p;
      p = p_next;
      basis(t, k) = p;
    }
  }
  return basis;
}

MatrixD cosine_basis(int64_t n, double tr_s, double cutoff_s) {
  if (!(cutoff_s > 0) || n < 2) return MatrixD(n, 0);
  V2C_ASSERT(tr_s > 0);
  const int64_t k_max = std::min<int64_t>(n - 1, int64_t(std::floor(2.0 * double(n) * tr_s / cutoff_s)));
  MatrixD basis(n, k_max);
  const double norm = std::sqrt(2.0 / double(n));
  for (int64_t k = 1; k <= k_max; ++k)
    for (int64_t t = 0; t < n; ++t) basis(t, k - 1) = norm * std::cos(M_PI * double(k) * (double(t) + 0.5) / double(n));
  return basis;
}

}  // namespace v2c::prep
