#include "pipeline/eval/seen_split.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "pipeline/core/error.h"

namespace v2c::eval {

SeenSplit seen_split_top1(const MatrixF& queries, const MatrixF& candidates, const std::vector<int64_t>& truth,
                          const std::vector<const std::vector<char>*>& seen) {
  const int64_t nq = queries.rows(), N = candidates.rows();
  V2C_ASSERT(int64_t(truth.size()) == nq && int64_t(seen.size()) == nq, nq, " queries, ", truth.size(), " truths, ",
             seen.size(), " seen lists");
  V2C_ASSERT(queries.cols() == candidates.cols(), queries.cols(), " vs ", candidates.cols(), " dimensions");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SeenSplit out;
  out.seen_hit.assign(size_t(nq), nan);
  out.unseen_hit.assign(size_t(nq), nan);
  out.seen_others.assign(size_t(nq), 0);
  out.unseen_others.assign(size_t(nq), 0);
  // Unit rows (a zero vector stays zero: its cosine with everything is 0).
  auto unit_rows = [](const MatrixF& m) {
    MatrixF u = m;
    for (int64_t i = 0; i < u.rows(); ++i) {
      const float n = u.row(i).norm();
      if (n > 0) u.row(i) /= n;
    }
    return u;
  };
  const MatrixF c = unit_rows(candidates);
  constexpr int64_t kBlock = 256;
  for (int64_t b = 0; b < nq; b += kBlock) {
    const int64_t m = std::min(kBlock, nq - b);
    const MatrixF q = unit_rows(queries.middleRows(b, m));
    const MatrixF scores = q * c.transpose();  // [m x N]
    for (int64_t i = 0; i < m; ++i) {
      const int64_t u = b + i, t = truth[size_t(u)];
      const std::vector<char>& s = *seen[size_t(u)];
      V2C_ASSERT(t >= 0 && t < N && int64_t(s.size()) == N, "query ", u, ": truth ", t, ", ", s.size(), " flags, ", N,
                 " candidates");
      const float own = scores(i, t);
      bool beaten_seen = false, beaten_unseen = false;
      for (int64_t j = 0; j < N; ++j) {
        if (j == t) continue;
        const bool beaten = scores(i, j) >= own;
        if (s[size_t(j)]) {
          ++out.seen_others[size_t(u)];
          beaten_seen |= beaten;
        } else {
          ++out.unseen_others[size_t(u)];
          beaten_unseen |= beaten;
        }
      }
      if (out.seen_others[size_t(u)] > 0) out.seen_hit[size_t(u)] = beaten_seen ? 0.0 : 1.0;
      if (out.unseen_others[size_t(u)] > 0) out.unseen_hit[size_t(u)] = beaten_unseen ? 0.0 : 1.0;
    }
  }
  return out;
}

}  // namespace v2c::eval
