#include "pipeline/math/linalg.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include <Eigen/Eigenvalues>
#include <armadillo>

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

namespace v2c::linalg {

namespace {
void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda, const float* b,
               int ldb, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a, int lda, const double* b,
               int ldb, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}
void syrk_call(int n, int k, const float* a, int lda, float* c, int ldc) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, k, 1.0f, a, lda, 0.0f, c, ldc);
}
void syrk_call(int n, int k, const double* a, int lda, double* c, int ldc) {
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, k, 1.0, a, lda, 0.0, c, ldc);
}
}  // namespace

BlasThreads::BlasThreads(int n) : saved_(openblas_get_num_threads()) { openblas_set_num_threads(n); }
BlasThreads::~BlasThreads() { openblas_set_num_threads(saved_); }

// Inside an OpenMP parallel region (many small problems solved side by side) the work stays on
// the calling thread with Eigen's own kernels: BLAS's thread pool is not re-entered. The level,
// not omp_in_parallel(): a region run by one thread (--threads 1) is inactive, and must take the
// same kernels as with more threads, or the results would depend on the thread count.
bool in_parallel() { return omp_get_level() > 0; }

template <class S>
void gemm(const Mat<S>& A, bool ta, const Mat<S>& B, bool tb, Mat<S>& C) {
  const int64_t m = ta ? A.cols() : A.rows(), k = ta ? A.rows() : A.cols();
  const int64_t n = tb ? B.rows() : B.cols();
  C.resize(m, n);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    C.setZero();
    return;
  }
  if (in_parallel()) {
    if (ta && tb)
      C.noalias() = A.transpose() * B.transpose();
    else if (ta)
      C.noalias() = A.transpose() * B;
    else if (tb)
      C.noalias() = A * B.transpose();
    else
      C.noalias() = A * B;
    return;
  }
  gemm_call(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), A.data(),
            int(A.cols()), B.data(), int(B.cols()), C.data(), int(C.cols()));
}

template <class S>
Mat<S> gram(const Mat<S>& A) {
  const int64_t n = A.rows();
  Mat<S> G(n, n);
  if (n == 0) return G;
  if (A.cols() == 0) return G.setZero(), G;
  if (in_parallel()) {
    G.noalias() = A * A.transpose();
    return G;
  }
  syrk_call(int(n), int(A.cols()), A.data(), int(A.cols()), G.data(), int(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) G(i, j) = G(j, i);
  return G;
}

template <class S>
void gemm_block(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const S* A, int64_t lda, const S* B, int64_t ldb,
                S* C, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(C + i * ldc, C + i * ldc + n, S(0));
    return;
  }
  gemm_call(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), A, int(lda), B,
            int(ldb), C, int(ldc));
}

template <class S>
bool eig_sym(const Mat<S>& K, Vec<S>& s, Mat<S>& U) {
  if (in_parallel()) {
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>> es(K);
    if (es.info() != Eigen::Success) return false;
    s = es.eigenvalues();
    U = es.eigenvectors();
    return true;
  }
  // LAPACK's reduction to tridiagonal form adds up per-thread partial products inside OpenBLAS
  // (symv), in an order that depends on the thread count: with one BLAS thread for the
  // decomposition, the eigenvectors (and so every ridge result) are the same for any --threads.
  const BlasThreads one_thread(1);
  const arma::uword n = arma::uword(K.rows());
  // K is symmetric, so its row-major buffer is also its column-major buffer.
  const arma::Mat<S> k_arma(const_cast<S*>(K.data()), n, n, /*copy_aux_mem=*/false, /*strict=*/true);
  arma::Col<S> vals;
  arma::Mat<S> vecs;
  if (!arma::eig_sym(vals, vecs, k_arma, "dc")) return false;
  s = Eigen::Map<const Vec<S>>(vals.memptr(), Eigen::Index(n));
  U = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>>(
      vecs.memptr(), Eigen::Index(n), Eigen::Index(n));
  return true;
}

template <class S>
Mat<S> take(const Mat<S>& M, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
  Mat<S> out(int64_t(rows.size()), int64_t(cols.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    const S* src = M.row(rows[i]).data();
    S* dst = out.row(int64_t(i)).data();
    for (size_t j = 0; j < cols.size(); ++j) dst[j] = src[cols[j]];
  }
  return out;
}

template <class S>
Mat<S> take_rows(const Mat<S>& M, const std::vector<int64_t>& rows) {
  Mat<S> out(int64_t(rows.size()), M.cols());
  for (size_t i = 0; i < rows.size(); ++i) out.row(int64_t(i)) = M.row(rows[i]);
  return out;
}

#define V2C_LINALG(S)                                                                               \
  template void gemm<S>(const Mat<S>&, bool, const Mat<S>&, bool, Mat<S>&);                         \
  template Mat<S> gram<S>(const Mat<S>&);                                                           \
  template void gemm_block<S>(bool, bool, int64_t, int64_t, int64_t, const S*, int64_t, const S*, int64_t, S*,   \
                              int64_t);                                                                    \
  template bool eig_sym<S>(const Mat<S>&, Vec<S>&, Mat<S>&);                                        \
  template Mat<S> take<S>(const Mat<S>&, const std::vector<int64_t>&, const std::vector<int64_t>&); \
  template Mat<S> take_rows<S>(const Mat<S>&, const std::vector<int64_t>&);
V2C_LINALG(float)
V2C_LINALG(double)
#undef V2C_LINALG

}  // namespace v2c::linalg
