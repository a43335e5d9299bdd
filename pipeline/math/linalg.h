// Dense linear algebra on row-major Eigen matrices through the system BLAS/LAPACK (OpenBLAS):
// the heavy products and the symmetric eigendecomposition of the ridge solver.
// Kernels: no I/O. Threads: products run in fixed 256 x 256 tiles of the output, one BLAS call on
// one BLAS thread per tile, tiles spread over OpenMP's threads (set by the stage framework from
// --threads), so every result is bitwise the same for any thread count (issue 13); inside an
// OpenMP parallel region everything runs on the calling thread (Eigen's kernels).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace v2c::linalg {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S>
using RowVec = Eigen::Matrix<S, 1, Eigen::Dynamic>;

// C = op(A) * op(B) (op = transpose when the flag is set); C is resized.
template <class S>
void gemm(const Mat<S>& A, bool transpose_a, const Mat<S>& B, bool transpose_b, Mat<S>& C);

// G = A * Aᵀ [rows x rows], the full symmetric matrix (BLAS syrk/gemm on the upper tiles + mirror).
template <class S>
Mat<S> gram(const Mat<S>& A);

// One block of a product that the caller splits into fixed blocks over threads of its own:
// C [m x n] = op(A)·op(B) on row-major storage with leading dimensions lda, ldb, ldc (elements),
// one BLAS call on the calling thread. Inside a BlasThreads(1) scope a block's result depends on
// its shape and data only, not on how many threads compute the other blocks.
template <class S>
void gemm_block(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const S* A, int64_t lda,
                const S* B, int64_t ldb, S* C, int64_t ldc);
// The same for the upper triangle of C [n x n] = A·Aᵀ, A [n x k] (syrk; C's strict lower triangle
// is left as it was).
template <class S>
void syrk_block(int64_t n, int64_t k, const S* A, int64_t lda, S* C, int64_t ldc);

// OpenBLAS's thread count set for a scope, restored at its end (process-wide: set it before
// starting threads that call BLAS, not from them).
class BlasThreads {
 public:
  explicit BlasThreads(int n);
  ~BlasThreads();
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  int saved_;
};

// K = U diag(s) Uᵀ for symmetric K [n x n] (LAPACK divide and conquer): s ascending, U's
// columns the eigenvectors. Returns false when LAPACK reports failure (the caller decides).
template <class S>
bool eig_sym(const Mat<S>& K, Vec<S>& s, Mat<S>& U);

// Rows `rows` and columns `cols` of M.
template <class S>
Mat<S> take(const Mat<S>& M, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols);
template <class S>
Mat<S> take_rows(const Mat<S>& M, const std::vector<int64_t>& rows);

}  // namespace v2c::linalg
