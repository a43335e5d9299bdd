#include "pipeline/models/align/common_space.h"

#include <omp.h>

#include <Eigen/SVD>
#include <algorithm>
#include <armadillo>
#include <cmath>
#include <limits>

#include "pipeline/core/error.h"

namespace v2c::align {

template <class S>
Mat<S> SubjectMap<S>::normalize(const Mat<S>& X) const {
  V2C_ASSERT(X.cols() == mean.cols(), X.cols(), " voxels given to a map of ", mean.cols());
  return ((X.rowwise() - mean).array().rowwise() * inv_scale.array()).matrix();
}

template <class S>
Mat<S> SubjectMap<S>::apply(const Mat<S>& X) const {
  Mat<S> Z;
  linalg::gemm(normalize(X), false, W, false, Z);
  return Z;
}

template <class S>
SubjectMap<S> voxel_normalizer(const Mat<S>& X, bool standardize) {
  V2C_ASSERT(X.rows() > 0, "no rows to normalise voxels with");
  SubjectMap<S> m;
  const auto mean = X.template cast<double>().colwise().mean().eval();
  m.mean = mean.template cast<S>();
  m.inv_scale = RowVec<S>::Ones(X.cols());
  if (standardize) {
    for (int64_t j = 0; j < X.cols(); ++j) {
      const double sd = std::sqrt((X.col(j).template cast<double>().array() - mean[j]).square().mean());
      if (sd > 0) m.inv_scale[j] = S(1.0 / sd);
    }
  }
  return m;
}

template <class S>
bool orthogonal_procrustes(const Mat<S>& A, const Mat<S>& B, Mat<S>& R, bool determined_only) {
  V2C_ASSERT(A.rows() == B.rows(), "Procrustes: ", A.rows(), " rows against ", B.rows());
  Mat<S> M;  // [p x k] = AᵀB
  linalg::gemm(A, true, B, false, M);
  const int64_t p = M.rows(), k = M.cols(), r = std::min(p, k);
  R.resize(p, k);
  if (p == 0 || k == 0) return true;
  // The thin SVD M = U Σ Vᵀ: U [p x r] and V [k x r] column-major, σ descending.
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> U, V;
  Eigen::Matrix<S, Eigen::Dynamic, 1> sigma;
  if (omp_in_parallel()) {
    Eigen::BDCSVD<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>> svd(M, Eigen::ComputeThinU | Eigen::ComputeThinV);
    if (svd.info() != Eigen::Success) return false;
    U = svd.matrixU(), V = svd.matrixV(), sigma = svd.singularValues();
  } else {
    // M's row-major buffer is Mᵀ column-major: Mᵀ = V Σ Uᵀ, so Armadillo's left vectors are V.
    const arma::Mat<S> mt(const_cast<S*>(M.data()), arma::uword(k), arma::uword(p), /*copy_aux_mem=*/false,
                          /*strict=*/true);
    arma::Mat<S> left, right;
    arma::Col<S> s;
    if (!arma::svd_econ(left, s, right, mt, "both", "dc")) return false;
    V = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>>(left.memptr(), Eigen::Index(k),
                                                                           Eigen::Index(r));
    U = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>>(right.memptr(), Eigen::Index(p),
                                                                           Eigen::Index(r));
    sigma = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(s.memptr(), Eigen::Index(r));
  }
  int64_t keep = r;
  if (determined_only) {
    // numpy.linalg.matrix_rank's tolerance: σ_max · max(p, k) · machine epsilon.
    const S tol = sigma(0) * S(std::max(p, k)) * std::numeric_limits<S>::epsilon();
    keep = 0;
    while (keep < r && sigma(keep) > tol) ++keep;
  }
  R = U.leftCols(keep) * V.leftCols(keep).transpose();
  return true;
}

template <class S>
SubjectMap<S> map_new_subject(const CommonSpace<S>& space, const Mat<S>& X) {
  if (X.rows() != space.common.rows())
    throw input_error("functional alignment: the new subject has ", X.rows(),
                      " rows of shared stimuli, the common space ", space.common.rows());
  SubjectMap<S> m = voxel_normalizer(X, space.standardize);
  if (!orthogonal_procrustes(m.normalize(X), space.common, m.W, /*determined_only=*/true))
    throw numerical_error("functional alignment: the SVD of a ", X.cols(), "x", space.common.cols(),
                          " matrix failed (mapping a new subject)");
  return m;
}

#define V2C_ALIGN(S)                                                                   \
  template struct SubjectMap<S>;                                                       \
  template SubjectMap<S> voxel_normalizer<S>(const Mat<S>&, bool);                     \
  template bool orthogonal_procrustes<S>(const Mat<S>&, const Mat<S>&, Mat<S>&, bool); \
  template SubjectMap<S> map_new_subject<S>(const CommonSpace<S>&, const Mat<S>&);
V2C_ALIGN(float)
V2C_ALIGN(double)
#undef V2C_ALIGN

}  // namespace v2c::align
