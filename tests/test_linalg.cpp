// linalg::gemm_block (pipeline/math/linalg.h): one block of op(A)·op(B) on row-major storage with
// leading dimensions, against Eigen's product of the same sub-matrices, for every transpose
// combination, inside BlasThreads(1) and not; an empty inner dimension gives zeros.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/rng.h"
#include "pipeline/math/linalg.h"

using namespace v2c;
using linalg::Mat;

namespace {

template <class S>
Mat<S> filled(int64_t rows, int64_t cols, rng::StreamRng& rng) {
  Mat<S> m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = S(rng.uniform() * 2 - 1);
  return m;
}

// C block [m x n] at (1, 2) of a 9 x 11 matrix = op(A block)·op(B block), the blocks at (2, 3)
// of larger matrices (so every leading dimension exceeds the block's width).
template <class S>
void check_block(bool ta, bool tb, int64_t k, double tol) {
  const int64_t m = 5, n = 7;
  rng::StreamRng rng(3 + uint64_t(ta) + 2 * uint64_t(tb));
  const Mat<S> A = filled<S>(12, 14, rng), B = filled<S>(13, 15, rng);
  const auto a = ta ? A.block(2, 3, k, m) : A.block(2, 3, m, k);
  const auto b = tb ? B.block(2, 3, n, k) : B.block(2, 3, k, n);
  Mat<S> C = Mat<S>::Constant(9, 11, S(7));
  linalg::gemm_block<S>(ta, tb, m, n, k, &A(2, 3), A.cols(), &B(2, 3), B.cols(), &C(1, 2), C.cols());
  Mat<S> opa = ta ? Mat<S>(a.transpose()) : Mat<S>(a), opb = tb ? Mat<S>(b.transpose()) : Mat<S>(b);
  const Mat<S> expected = k == 0 ? Mat<S>::Zero(m, n) : Mat<S>(opa * opb);
  BOOST_CHECK_SMALL(double((C.block(1, 2, m, n) - expected).cwiseAbs().maxCoeff()), tol);
  // Outside the block nothing is written.
  Mat<S> outside = C;
  outside.block(1, 2, m, n).setConstant(S(7));
  BOOST_CHECK((outside.array() == S(7)).all());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(linalg_block)

BOOST_AUTO_TEST_CASE(gemm_block_equals_the_product_of_the_sub_matrices) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_block<double>(ta, tb, 6, 1e-14);
      check_block<float>(ta, tb, 6, 1e-5);
      const linalg::BlasThreads one(1);
      check_block<double>(ta, tb, 6, 1e-14);
      check_block<double>(ta, tb, 0, 0);
    }
}

BOOST_AUTO_TEST_SUITE_END()
