#include "pipeline/models/encoder/row_kernels.h"

#include <cmath>

#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder {

// Parallel over column blocks, so every column is summed in row order whatever the thread count.
template <class S>
void colsum(const Mat<S>& A, const Mat<S>* B, Mat<S>& out) {
  const int64_t rows = A.rows(), cols = A.cols();
  out.setZero(1, cols);
  constexpr int64_t kCols = 256;
  const int64_t n_blocks = (cols + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (go_parallel(rows * cols))
  for (int64_t blk = 0; blk < n_blocks; ++blk) {
    const int64_t j0 = blk * kCols, n = std::min(kCols, cols - j0);
    auto acc = out.row(0).segment(j0, n);
    for (int64_t i = 0; i < rows; ++i) {
      if (B)
        acc.array() += A.row(i).segment(j0, n).array() * B->row(i).segment(j0, n).array();
      else
        acc += A.row(i).segment(j0, n);
    }
  }
}

template <class S>
void add_row_bias(Mat<S>& M, const Mat<S>& b) {
#pragma omp parallel for schedule(static) if (go_parallel(M.size()))
  for (int64_t i = 0; i < M.rows(); ++i) M.row(i) += b.row(0);
}

template <class S>
void layer_norm_forward(const Mat<S>& h, const Mat<S>& g, const Mat<S>& beta, Mat<S>& xhat, std::vector<S>& rstd,
                        Mat<S>& y) {
  const int64_t B = h.rows(), L = h.cols();
  xhat.resize(B, L);
  y.resize(B, L);
  rstd.resize(size_t(B));
#pragma omp parallel for schedule(static) if (go_parallel(h.size()))
  for (int64_t i = 0; i < B; ++i) {
    double mean = 0;
    for (int64_t j = 0; j < L; ++j) mean += double(h(i, j));
    mean /= double(L);
    double var = 0;
    for (int64_t j = 0; j < L; ++j) var += (double(h(i, j)) - mean) * (double(h(i, j)) - mean);
    var /= double(L);
    const S r = S(1.0 / std::sqrt(var + 1e-5));
    rstd[size_t(i)] = r;
    xhat.row(i) = (h.row(i).array() - S(mean)) * r;
    y.row(i) = xhat.row(i).array() * g.row(0).array() + beta.row(0).array();
  }
}

template <class S>
void layer_norm_backward(const Mat<S>& dy, const Mat<S>& xhat, const std::vector<S>& rstd, Param<S>& g, Param<S>& beta,
                         Mat<S>& dx, bool accumulate) {
  const int64_t B = dy.rows(), L = dy.cols();
  if (g.trainable) colsum(dy, &xhat, g.grad);
  if (beta.trainable) colsum(dy, static_cast<const Mat<S>*>(nullptr), beta.grad);
  if (!accumulate) dx.resize(B, L);
#pragma omp parallel for schedule(static) if (go_parallel(dy.size()))
  for (int64_t i = 0; i < B; ++i) {
    const auto dxh = (dy.row(i).array() * g.value.row(0).array()).eval();
    const S a = S(dxh.template cast<double>().sum() / double(L));
    const S c = S((dxh * xhat.row(i).array()).template cast<double>().sum() / double(L));
    const auto r = (rstd[size_t(i)] * (dxh - a - xhat.row(i).array() * c)).eval();
    if (accumulate)
      dx.row(i).array() += r;
    else
      dx.row(i) = r.matrix();
  }
}

#define V2C_ROW_KERNELS_INSTANTIATE(S)                                                                                 \
  template void colsum<S>(const Mat<S>&, const Mat<S>*, Mat<S>&);                                                      \
  template void add_row_bias<S>(Mat<S>&, const Mat<S>&);                                                               \
  template void layer_norm_forward<S>(const Mat<S>&, const Mat<S>&, const Mat<S>&, Mat<S>&, std::vector<S>&, Mat<S>&); \
  template void layer_norm_backward<S>(const Mat<S>&, const Mat<S>&, const std::vector<S>&, Param<S>&, Param<S>&,      \
                                       Mat<S>&, bool);

V2C_ROW_KERNELS_INSTANTIATE(float)
V2C_ROW_KERNELS_INSTANTIATE(double)

}  // namespace v2c::encoder
