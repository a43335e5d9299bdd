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

// Products outside parallel regions run in fixed tiles of the output, kTile x kTile, each tile
// one BLAS call on one BLAS thread, the tiles spread over OpenMP threads. OpenBLAS's own
// threading splits the inner dimension into chunks whose bounds depend on its thread count, and
// float rounding with them (issue 13, F19); here every entry of the result is computed by the same
// call whatever --threads is, so results are bitwise the same for any thread count.
constexpr int64_t kTile = 256;

namespace {
struct Tile {
  int64_t i0, rows, j0, cols;
};

// The tiles of an [m x n] output, row-major order of tiles; `upper`: only tiles with j0 >= i0.
std::vector<Tile> tiles(int64_t m, int64_t n, bool upper) {
  std::vector<Tile> out;
  for (int64_t i0 = 0; i0 < m; i0 += kTile)
    for (int64_t j0 = upper ? i0 : 0; j0 < n; j0 += kTile)
      out.push_back({i0, std::min(kTile, m - i0), j0, std::min(kTile, n - j0)});
  return out;
}

// Products of fewer multiply-adds than this run their tiles one after another on the calling
// thread: an OpenMP team costs more than it saves there, and its idle workers keep spinning after
// the region, taking the cores that other threads (a read-ahead; before the encoder's tasks moved
// onto the same team, a pool of std::threads) need next; many such products a step made 2-thread
// pretraining slower than 1-thread. The tiles and
// their BLAS calls are the same either way, so results do not change.
constexpr double kParallelMultiplyAdds = double(1 << 24);

// Runs `body(tile)` for every tile with one BLAS thread per call, tiles in parallel when the
// product has at least kParallelMultiplyAdds multiply-adds (m·n·k).
template <class Body>
void for_tiles(const std::vector<Tile>& all, double multiply_adds, const Body& body) {
  const BlasThreads one_thread(1);
  const int64_t count = int64_t(all.size());
#pragma omp parallel for schedule(dynamic) if (count > 1 && multiply_adds >= kParallelMultiplyAdds)
  for (int64_t t = 0; t < count; ++t) body(all[size_t(t)]);
}
}  // namespace

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
  const int64_t lda = A.cols(), ldb = B.cols(), ldc = C.cols();
  for_tiles(tiles(m, n, false), double(m) * double(n) * double(k), [&](const Tile& t) {
    // Rows i0.. of op(A): rows of A, or columns of A when transposed; likewise columns of op(B).
    const S* a = ta ? A.data() + t.i0 : A.data() + t.i0 * lda;
    const S* b = tb ? B.data() + t.j0 * ldb : B.data() + t.j0;
    gemm_call(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(t.rows), int(t.cols), int(k), a,
              int(lda), b, int(ldb), C.data() + t.i0 * ldc + t.j0, int(ldc));
  });
}

template <class S>
Mat<S> gram(const Mat<S>& A) {
  const int64_t n = A.rows(), p = A.cols();
  Mat<S> G(n, n);
  if (n == 0) return G;
  if (p == 0) return G.setZero(), G;
  if (in_parallel()) {
    G.noalias() = A * A.transpose();
    return G;
  }
  // The upper triangle in tiles: syrk on the diagonal ones, gemm above; then mirrored.
  for_tiles(tiles(n, n, true), double(n) * double(n) * double(p) / 2, [&](const Tile& t) {
    S* g = G.data() + t.i0 * n + t.j0;
    if (t.i0 == t.j0)
      syrk_call(int(t.rows), int(p), A.data() + t.i0 * p, int(p), g, int(n));
    else
      gemm_call(CblasNoTrans, CblasTrans, int(t.rows), int(t.cols), int(p), A.data() + t.i0 * p, int(p),
                A.data() + t.j0 * p, int(p), g, int(n));
  });
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
void syrk_block(int64_t n, int64_t k, const S* A, int64_t lda, S* C, int64_t ldc) {
  if (n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < n; ++i) std::fill(C + i * ldc + i, C + i * ldc + n, S(0));
    return;
  }
  syrk_call(int(n), int(k), A, int(lda), C, int(ldc));
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

#define V2C_LINALG(S)                                                                                          \
  template void gemm<S>(const Mat<S>&, bool, const Mat<S>&, bool, Mat<S>&);                                    \
  template Mat<S> gram<S>(const Mat<S>&);                                                                      \
  template void gemm_block<S>(bool, bool, int64_t, int64_t, int64_t, const S*, int64_t, const S*, int64_t, S*, \
                              int64_t);                                                                        \
  template void syrk_block<S>(int64_t, int64_t, const S*, int64_t, S*, int64_t);                             \
  template bool eig_sym<S>(const Mat<S>&, Vec<S>&, Mat<S>&);                                                   \
  template Mat<S> take<S>(const Mat<S>&, const std::vector<int64_t>&, const std::vector<int64_t>&);            \
  template Mat<S> take_rows<S>(const Mat<S>&, const std::vector<int64_t>&);
V2C_LINALG(float)
V2C_LINALG(double)
#undef V2C_LINALG

}  // namespace v2c::linalg
