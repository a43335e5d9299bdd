#include "pipeline/eval/label_permutation.h"

#include <algorithm>

#include "pipeline/core/error.h"
#include "pipeline/stats/permutation.h"

namespace v2c::eval {

IdentificationPValues identification_permutation_test(const MatrixD& similarity, const std::vector<int64_t>& truth,
                                                      const std::vector<int64_t>& unit, int64_t n_perm, uint64_t seed) {
  const int64_t nq = similarity.rows(), N = similarity.cols();
  V2C_ASSERT(int64_t(truth.size()) == nq && int64_t(unit.size()) == nq, "identification_permutation_test(): ", nq,
             " queries, ", truth.size(), " truths, ", unit.size(), " units");
  V2C_ASSERT(N >= 2 && n_perm >= 1, "identification_permutation_test(): ", N, " candidates, ", n_perm, " permutations");
  // Each row sorted ascending: n_ge(i, t) = N - lower_bound(s(i, t)) - 1 (the candidate itself).
  MatrixD sorted = similarity;
  for (int64_t i = 0; i < nq; ++i) std::sort(sorted.row(i).data(), sorted.row(i).data() + N);
  auto n_ge = [&](int64_t i, int64_t t) {
    const double* row = sorted.row(i).data();
    return int64_t(N - (std::lower_bound(row, row + N, similarity(i, t)) - row) - 1);
  };
  auto score = [&](int metric) {
    return [&, metric](const std::vector<int64_t>& source) {
      double sum = 0;
      for (int64_t i = 0; i < nq; ++i) {
        const int64_t g = n_ge(i, truth[size_t(source[size_t(i)])]);
        sum += metric == 0 ? double(g < 1) : metric == 1 ? double(g < 5) : double(N - 1 - g) / double(N - 1);
      }
      return sum / double(nq);
    };
  };
  const stats::PermutationOptions opt{n_perm, seed};
  IdentificationPValues out;
  out.n_perm = n_perm;
  out.top1_all = stats::permutation_test(unit, score(0), opt).p_value;
  out.top5_all = stats::permutation_test(unit, score(1), opt).p_value;
  out.pairwise = stats::permutation_test(unit, score(2), opt).p_value;
  return out;
}

}  // namespace v2c::eval
