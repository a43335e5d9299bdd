// linalg::gemm_block and syrk_block (pipeline/math/linalg.h): one block of op(A)·op(B), or of A·Aᵀ's
// upper triangle, on row-major storage with leading dimensions, against Eigen's product of the same
// sub-matrices, for every transpose combination, inside BlasThreads(1) and not; an empty inner
// dimension gives zeros.
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

// C block [6 x 6] at (1, 2) of a 9 x 11 matrix: its upper triangle = A block·A blockᵀ, the A block
// at (2, 3) of a 12 x 14 matrix; the strict lower triangle and everything outside stay as they were.
BOOST_AUTO_TEST_CASE(syrk_block_fills_the_upper_triangle_of_the_block) {
  for (int64_t k : {9, 0}) {
    rng::StreamRng rng(11);
    const Mat<double> A = filled<double>(12, 14, rng);
    Mat<double> C = Mat<double>::Constant(9, 11, 7.0);
    {
      const linalg::BlasThreads one(1);
      linalg::syrk_block<double>(6, k, &A(2, 3), A.cols(), &C(1, 2), C.cols());
    }
    const Mat<double> a = A.block(2, 3, 6, k);
    const Mat<double> expected = k == 0 ? Mat<double>::Zero(6, 6) : Mat<double>(a * a.transpose());
    Mat<double> untouched = C;
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = i; j < 6; ++j) {
        BOOST_CHECK_SMALL(C(1 + i, 2 + j) - expected(i, j), 1e-13);
        untouched(1 + i, 2 + j) = 7.0;
      }
    BOOST_CHECK((untouched.array() == 7.0).all());
  }
}

BOOST_AUTO_TEST_SUITE_END()
