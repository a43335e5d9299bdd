#include "pipeline/models/ridge.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "pipeline/core/error.h"

namespace v2c::ridge {

namespace {

template <class S>
RowVec<S> column_means(const Mat<S>& M) {
  RowVec<S> m = RowVec<S>::Zero(M.cols());
  if (M.rows() == 0) return m;
  Eigen::Matrix<double, 1, Eigen::Dynamic> acc = Eigen::Matrix<double, 1, Eigen::Dynamic>::Zero(M.cols());
  for (int64_t i = 0; i < M.rows(); ++i) acc += M.row(i).template cast<double>();
  return (acc / double(M.rows())).template cast<S>();
}

// Eigenvalues at or below r·eps·max(s) are round-off of a null direction (the centred kernel
// always has one: the constant vector). In exact arithmetic such a component adds nothing (its
// column of A or its row of B is 0), but in floating point its round-off divided by a tiny α
// gives huge or non-finite predictions (F11: α = 1e-30 in float32, 1e-300 in float64). They are
// stored as +inf, so that every 1/(s + α) leaves them out — the α -> 0 limit of ridge.
template <class S>
void decompose(const Mat<S>& K, Vec<S>& s, Mat<S>& U) {
  if (!linalg::eig_sym(K, s, U))
    throw numerical_error("ridge: the eigendecomposition of a ", K.rows(), "x", K.cols(),
                          " matrix failed (non-finite input?)");
  if (s.size() == 0) return;
  const S tol = S(s.size()) * std::numeric_limits<S>::epsilon() * std::max(s.maxCoeff(), S(0));
  for (int64_t k = 0; k < s.size(); ++k)
    if (s[k] <= tol) s[k] = std::numeric_limits<S>::infinity();
}

// Z[k, t] = B[k, t] / (s[k] + alpha[t]) for targets [t0, t0 + count).
template <class S>
Mat<S> shrink(const Mat<S>& B, const Vec<S>& s, const std::vector<double>& alpha, int64_t t0, int64_t count) {
  Mat<S> Z(B.rows(), count);
  for (int64_t k = 0; k < B.rows(); ++k) {
    const S* b = B.row(k).data() + t0;
    S* z = Z.row(k).data();
    const double sk = double(s[k]);
    for (int64_t t = 0; t < count; ++t) z[t] = S(double(b[t]) / (sk + alpha[size_t(t0 + t)]));
  }
  return Z;
}

}  // namespace

template <class S>
Mat<S> Path<S>::predict(double alpha) const {
  // One α: scale the (usually smaller) A instead of B.
  Mat<S> As = A;
  for (int64_t k = 0; k < s.size(); ++k) As.col(k) *= S(1.0 / (double(s[k]) + alpha));
  Mat<S> P;
  linalg::gemm(As, false, B, false, P);
  P.rowwise() += y_mean;
  return P;
}

template <class S>
Mat<S> Path<S>::predict(const std::vector<double>& alpha_per_target) const {
  return predict_range(alpha_per_target, 0, B.cols());
}

template <class S>
Mat<S> Path<S>::predict_range(const std::vector<double>& alpha, int64_t t0, int64_t count) const {
  V2C_ASSERT(int64_t(alpha.size()) == B.cols() && t0 >= 0 && t0 + count <= B.cols());
  const Mat<S> Z = shrink(B, s, alpha, t0, count);
  Mat<S> P;
  linalg::gemm(A, false, Z, false, P);
  P.rowwise() += y_mean.segment(t0, count);
  return P;
}

template <class S>
Path<S> path_from_gram(const Mat<S>& G, const Mat<S>& Y, const std::vector<int64_t>& train,
                       const std::vector<int64_t>& test) {
  const int64_t n = int64_t(train.size()), m = int64_t(test.size());
  if (n < 2) throw input_error("ridge: a training set of ", n, " sample(s); need at least 2");
  Mat<S> K = linalg::take(G, train, train);
  Mat<S> C = linalg::take(G, test, train);
  // Centre with the training rows only: K_c = K - r1ᵀ - 1rᵀ + g, C_c = C - c1ᵀ - 1rᵀ + g.
  Vec<double> r(n);
  for (int64_t i = 0; i < n; ++i) r[i] = K.row(i).template cast<double>().mean();
  const double g = r.mean();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) K(i, j) = S(double(K(i, j)) - r[i] - r[j] + g);
  for (int64_t i = 0; i < m; ++i) {
    const double c = C.row(i).template cast<double>().mean();
    for (int64_t j = 0; j < n; ++j) C(i, j) = S(double(C(i, j)) - c - r[j] + g);
  }
  Path<S> path;
  path.kernel = true;
  Mat<S> U;
  decompose(K, path.s, U);
  Mat<S> Yc = linalg::take_rows(Y, train);
  path.y_mean = column_means(Yc);
  Yc.rowwise() -= path.y_mean;
  linalg::gemm(U, true, Yc, false, path.B);
  linalg::gemm(C, false, U, false, path.A);
  return path;
}

template <class S>
Path<S> path_from_data(const Mat<S>& X_train, const Mat<S>& Y_train, const Mat<S>& X_test, const std::string& force) {
  const int64_t n = X_train.rows(), p = X_train.cols();
  if (n < 2) throw input_error("ridge: a training set of ", n, " sample(s); need at least 2");
  V2C_ASSERT(Y_train.rows() == n && X_test.cols() == p);
  const RowVec<S> x_mean = column_means(X_train);
  Mat<S> Xc = X_train;
  Xc.rowwise() -= x_mean;
  Mat<S> Xt = X_test;
  Xt.rowwise() -= x_mean;
  Path<S> path;
  path.y_mean = column_means(Y_train);
  Mat<S> Yc = Y_train;
  Yc.rowwise() -= path.y_mean;
  path.kernel = force.empty() ? p > n : force == "kernel";
  Mat<S> U;
  if (path.kernel) {
    decompose(linalg::gram(Xc), path.s, U);
    Mat<S> C;
    linalg::gemm(Xt, false, Xc, true, C);
    linalg::gemm(U, true, Yc, false, path.B);
    linalg::gemm(C, false, U, false, path.A);
  } else {
    Mat<S> Q, XtY, VtXtY;
    linalg::gemm(Xc, true, Xc, false, Q);
    decompose(Q, path.s, U);
    linalg::gemm(Xc, true, Yc, false, XtY);
    linalg::gemm(U, true, XtY, false, path.B);
    linalg::gemm(Xt, false, U, false, path.A);
  }
  return path;
}

template <class S>
void fit_weights(const Mat<S>& X, const Mat<S>& Y, const std::vector<double>& alpha, Mat<S>& W, RowVec<S>& b) {
  const int64_t n = X.rows(), p = X.cols(), t = Y.cols();
  V2C_ASSERT(int64_t(alpha.size()) == t && Y.rows() == n);
  if (n < 2) throw input_error("ridge: cannot fit ", n, " sample(s)");
  const RowVec<S> x_mean = column_means(X), y_mean = column_means(Y);
  Mat<S> Xc = X;
  Xc.rowwise() -= x_mean;
  Mat<S> Yc = Y;
  Yc.rowwise() -= y_mean;
  Vec<S> s;
  Mat<S> U, B;
  if (p > n) {
    decompose(linalg::gram(Xc), s, U);
    linalg::gemm(U, true, Yc, false, B);
    Mat<S> UZ;
    linalg::gemm(U, false, shrink(B, s, alpha, 0, t), false, UZ);  // [n x t]
    linalg::gemm(Xc, true, UZ, false, W);                          // Xcᵀ U Z: [p x t]
  } else {
    Mat<S> Q, XtY;
    linalg::gemm(Xc, true, Xc, false, Q);
    decompose(Q, s, U);
    linalg::gemm(Xc, true, Yc, false, XtY);
    linalg::gemm(U, true, XtY, false, B);
    const Mat<S> Z = shrink(B, s, alpha, 0, t);
    linalg::gemm(U, false, Z, false, W);
  }
  b = y_mean - x_mean * W;
}

template <class S>
void fit_weights_from_gram(const Mat<S>& G, const Mat<S>& X, const Mat<S>& Y, const std::vector<double>& alpha,
                           Mat<S>& W, RowVec<S>& b) {
  const int64_t n = X.rows(), t = Y.cols();
  V2C_ASSERT(G.rows() == n && G.cols() == n && Y.rows() == n && int64_t(alpha.size()) == t);
  if (n < 2) throw input_error("ridge: cannot fit ", n, " sample(s)");
  // K_c = K - r1ᵀ - 1rᵀ + g (centred with all rows), then W = X_cᵀ U Z = Xᵀ(UZ) - x̄ᵀ(1ᵀUZ).
  Vec<double> r(n);
  for (int64_t i = 0; i < n; ++i) r[i] = G.row(i).template cast<double>().mean();
  const double g = r.mean();
  Mat<S> K(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) K(i, j) = S(double(G(i, j)) - r[i] - r[j] + g);
  Vec<S> s;
  Mat<S> U, B, UZ;
  decompose(K, s, U);
  const RowVec<S> x_mean = column_means(X), y_mean = column_means(Y);
  Mat<S> Yc = Y;
  Yc.rowwise() -= y_mean;
  linalg::gemm(U, true, Yc, false, B);
  linalg::gemm(U, false, shrink(B, s, alpha, 0, t), false, UZ);
  linalg::gemm(X, true, UZ, false, W);
  const RowVec<S> col_sums = UZ.colwise().sum();
  W.noalias() -= x_mean.transpose() * col_sums;
  b = y_mean - x_mean * W;
}

template <class S>
Vec<double> score_targets(const Mat<S>& pred, const Mat<S>& truth, const std::string& score) {
  V2C_ASSERT(pred.rows() == truth.rows() && pred.cols() == truth.cols());
  const int64_t n = pred.rows(), t = pred.cols();
  Vec<double> out(t);
  // Accumulate column statistics row by row (row-major storage), in double.
  Vec<double> sp = Vec<double>::Zero(t), st = sp, spp = sp, stt = sp, spt = sp;
  for (int64_t i = 0; i < n; ++i) {
    const S* p = pred.row(i).data();
    const S* y = truth.row(i).data();
    for (int64_t j = 0; j < t; ++j) {
      const double a = p[j], b = y[j];
      sp[j] += a, st[j] += b, spp[j] += a * a, stt[j] += b * b, spt[j] += a * b;
    }
  }
  for (int64_t j = 0; j < t; ++j) {
    const double mp = sp[j] / n, mt = st[j] / n;
    const double vp = spp[j] / n - mp * mp, vt = stt[j] / n - mt * mt, cov = spt[j] / n - mp * mt;
    if (score == "correlation") {
      out[j] = (vp > 1e-30 && vt > 1e-30) ? cov / std::sqrt(vp * vt) : 0.0;
    } else {
      // SS_res = Σ(p - y)² = Σp² - 2Σpy + Σy²; SS_tot = n var(y).
      const double ss_res = spp[j] - 2 * spt[j] + stt[j];
      out[j] = vt > 1e-30 ? 1.0 - ss_res / (n * vt) : 0.0;
    }
  }
  return out;
}

#define V2C_RIDGE(S)                                                                                              \
  template struct Path<S>;                                                                                        \
  template Path<S> path_from_gram<S>(const Mat<S>&, const Mat<S>&, const std::vector<int64_t>&,                   \
                                     const std::vector<int64_t>&);                                                \
  template Path<S> path_from_data<S>(const Mat<S>&, const Mat<S>&, const Mat<S>&, const std::string&);            \
  template void fit_weights<S>(const Mat<S>&, const Mat<S>&, const std::vector<double>&, Mat<S>&, RowVec<S>&);    \
  template void fit_weights_from_gram<S>(const Mat<S>&, const Mat<S>&, const Mat<S>&, const std::vector<double>&, \
                                         Mat<S>&, RowVec<S>&);                                                    \
  template Vec<double> score_targets<S>(const Mat<S>&, const Mat<S>&, const std::string&);
V2C_RIDGE(float)
V2C_RIDGE(double)
#undef V2C_RIDGE

}  // namespace v2c::ridge
