#include "pipeline/models/align/hyperalignment.h"

#include <algorithm>

#include "pipeline/core/error.h"

namespace v2c::align {

namespace {

template <class S>
Mat<S> procrustes_or_throw(const Mat<S>& Z, const Mat<S>& T, size_t subject, int pass) {
  Mat<S> R;
  if (!orthogonal_procrustes(Z, T, R))
    throw numerical_error("hyperalignment: the SVD of subject ", subject, "'s ", Z.cols(), "x", T.cols(),
                          " matrix failed in pass ", pass);
  return R;
}

}  // namespace

template <class S>
CommonSpace<S> fit_hyperalignment(const std::vector<Mat<S>>& X, const HyperalignSettings& settings) {
  if (X.empty()) throw input_error("hyperalignment: no subjects to fit");
  const int64_t n = X[0].rows();
  int64_t k = 0;
  for (size_t i = 0; i < X.size(); ++i) {
    if (X[i].rows() != n)
      throw input_error("hyperalignment: subject ", i, " has ", X[i].rows(), " rows of shared stimuli, subject 0 has ",
                        n);
    k = std::max<int64_t>(k, X[i].cols());
  }
  if (n < 1 || k < 1) throw input_error("hyperalignment: no shared stimuli or no voxels (", n, " x ", k, ")");
  const size_t m = X.size();
  CommonSpace<S> space;
  space.standardize = settings.standardize;
  std::vector<Mat<S>> Z(m);
  for (size_t i = 0; i < m; ++i) {
    space.maps.push_back(voxel_normalizer(X[i], settings.standardize));
    Z[i] = space.maps[i].normalize(X[i]);
  }
  auto aligned = [&](size_t i, const Mat<S>& T, int pass) {
    Mat<S> A;
    linalg::gemm(Z[i], false, procrustes_or_throw(Z[i], T, i, pass), false, A);
    return A;
  };

  Mat<S> T = Mat<S>::Zero(n, k);  // pass 1: the running reference
  T.leftCols(Z[0].cols()) = Z[0];
  for (size_t i = 1; i < m; ++i) T = (T + aligned(i, T, 1)) / S(2);
  Mat<S> mean = Mat<S>::Zero(n, k);  // pass 2: everyone onto it, then the mean
  for (size_t i = 0; i < m; ++i) mean += aligned(i, T, 2);
  space.common = mean / S(m);
  for (size_t i = 0; i < m; ++i) space.maps[i].W = procrustes_or_throw(Z[i], space.common, i, 3);  // pass 3
  return space;
}

template CommonSpace<float> fit_hyperalignment<float>(const std::vector<Mat<float>>&, const HyperalignSettings&);
template CommonSpace<double> fit_hyperalignment<double>(const std::vector<Mat<double>>&, const HyperalignSettings&);

}  // namespace v2c::align
