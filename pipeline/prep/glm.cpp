#include "pipeline/prep/glm.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/math/linalg.h"

namespace v2c::prep {

namespace {

// Voxels per block of the products: n_volumes x 4096 doubles stay small next to the run itself.
constexpr int64_t kVoxelBlock = 4096;
// A column counts as independent of the others when its pivot exceeds this share of the largest.
constexpr double kRankTolerance = 1e-10;
// A trial's regressor counts as lost when what remains of it outside its model's other columns is
// below this share of its own norm.
constexpr double kLostShare = 1e-8;

// Column-pivoted QR with the rank decided by kRankTolerance.
Eigen::ColPivHouseholderQR<Eigen::MatrixXd> pivoted_qr(const MatrixD& a) {
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr{Eigen::MatrixXd(a)};
  qr.setThreshold(kRankTolerance);
  return qr;
}

// The first `rank` columns of Q: an orthonormal basis of the span [n x rank].
MatrixD thin_q(const Eigen::ColPivHouseholderQR<Eigen::MatrixXd>& qr) {
  const int64_t n = qr.rows(), r = qr.rank();
  return MatrixD(qr.householderQ() * Eigen::MatrixXd::Identity(n, r));
}

// x - Q (Qᵀ x) for every column of x.
MatrixD residualize(const MatrixD& x, const MatrixD& q) {
  if (q.cols() == 0) return x;
  MatrixD qtx, back;
  linalg::gemm(q, true, x, false, qtx);
  linalg::gemm(q, false, qtx, false, back);
  return x - back;
}

// coef [m x n_volumes] * y, block by block of voxels in double; finish(first_voxel, product [m x block]).
template <class Finish>
void times_y_blocks(const MatrixD& coef, const MatrixF& y, Finish&& finish) {
  const int64_t v = y.cols();
  for (int64_t c0 = 0; c0 < v; c0 += kVoxelBlock) {
    const int64_t w = std::min(kVoxelBlock, v - c0);
    const MatrixD block = y.middleCols(c0, w).cast<double>();
    MatrixD prod;
    linalg::gemm(coef, false, block, false, prod);
    finish(c0, prod);
  }
}

TrialEstimates empty_estimates(int64_t k, int64_t v) {
  TrialEstimates est;
  est.beta = MatrixF::Zero(k, v);
  est.estimable.assign(size_t(k), 0);
  est.why.assign(size_t(k), std::string());
  return est;
}

}  // namespace

TrialEstimates estimate_lsa(const MatrixF& y, const MatrixD& trials, const MatrixD& nuisance) {
  const int64_t n = y.rows(), k = trials.cols();
  V2C_ASSERT(trials.rows() == n && nuisance.rows() == n);
  TrialEstimates est = empty_estimates(k, y.cols());
  if (k == 0) return est;
  // The trial regressors with the nuisance projected out, then a rank-revealing QR of them: the
  // pivot columns beyond the rank are the trials the others (with the nuisance) already explain.
  const MatrixD q_nuisance = nuisance.cols() ? thin_q(pivoted_qr(nuisance)) : MatrixD(n, 0);
  const MatrixD xr = residualize(trials, q_nuisance);
  const auto qr = pivoted_qr(xr);
  const int64_t r = qr.rank();
  const auto& perm = qr.colsPermutation().indices();
  std::vector<int64_t> kept(static_cast<size_t>(r));
  for (int64_t j = 0; j < k; ++j) {
    const int64_t trial = perm[j];
    if (j < r) {
      kept[size_t(j)] = trial;
      est.estimable[size_t(trial)] = 1;
    } else {
      est.why[size_t(trial)] = trials.col(trial).squaredNorm() == 0
                                   ? "its modelled response is zero at every volume of the run"
                                   : "its regressor is a combination of the nuisance regressors and the other trials'";
    }
  }
  if (r == 0) return est;
  // pinv of the kept columns: R_r⁻¹ Q_rᵀ [r x n].
  const MatrixD q = thin_q(qr);
  const Eigen::MatrixXd rr = qr.matrixR().topLeftCorner(r, r).triangularView<Eigen::Upper>();
  const MatrixD pinv = rr.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd(q.transpose()));
  times_y_blocks(pinv, y, [&](int64_t c0, const MatrixD& prod) {
    for (int64_t j = 0; j < r; ++j) est.beta.row(kept[size_t(j)]).segment(c0, prod.cols()) = prod.row(j).cast<float>();
  });
  return est;
}

TrialEstimates estimate_lss(const MatrixF& y, const MatrixD& trials, const std::vector<int32_t>& group_of_trial,
                            const MatrixD& nuisance) {
  const int64_t n = y.rows(), k = trials.cols();
  V2C_ASSERT(trials.rows() == n && nuisance.rows() == n && int64_t(group_of_trial.size()) == k);
  TrialEstimates est = empty_estimates(k, y.cols());
  if (k == 0) return est;
  const int64_t n_groups = int64_t(*std::max_element(group_of_trial.begin(), group_of_trial.end())) + 1;
  std::vector<int64_t> group_size(size_t(n_groups), 0);
  for (int32_t g : group_of_trial) {
    V2C_ASSERT(g >= 0);
    ++group_size[size_t(g)];
  }
  for (int64_t s : group_size) V2C_ASSERT(s > 0);

  // B = [S_1 .. S_G, nuisance]; its pivoted QR gives M_B and the dual vectors v_g.
  MatrixD basis(n, n_groups + nuisance.cols());
  basis.leftCols(n_groups).setZero();
  for (int64_t i = 0; i < k; ++i) basis.col(group_of_trial[size_t(i)]) += trials.col(i);
  basis.rightCols(nuisance.cols()) = nuisance;
  const auto qr = pivoted_qr(basis);
  const int64_t r = qr.rank();
  const MatrixD q = thin_q(qr);
  const Eigen::MatrixXd rr = qr.matrixR().topLeftCorner(r, r).triangularView<Eigen::Upper>();
  const auto& perm = qr.colsPermutation().indices();

  // v_g: unit vector of span(B) orthogonal to every column of B but S_g. Absent (zero) when S_g is
  // itself in the span of the other columns: then no trial of g can be told from the rest of its
  // group.
  MatrixD v = MatrixD::Zero(n, n_groups);
  std::vector<uint8_t> has_v(size_t(n_groups), 0);
  for (int64_t j = 0; j < r; ++j) {
    const int64_t g = perm[j];
    if (g >= n_groups) continue;
    Eigen::VectorXd e = Eigen::VectorXd::Zero(r);
    e[j] = 1.0;
    const Eigen::VectorXd z = rr.transpose().triangularView<Eigen::Lower>().solve(e);
    Eigen::VectorXd vg = q * z;
    vg /= vg.norm();
    // Columns dropped by the QR lie in the span of the kept ones; if one of them needs S_g, then
    // S_g is in the span of the other columns after all.
    bool orthogonal = true;
    for (int64_t c = 0; c < basis.cols(); ++c)
      if (c != g && std::abs(basis.col(c).dot(vg)) > 1e-8 * basis.col(c).norm()) orthogonal = false;
    if (orthogonal) v.col(g) = vg, has_v[size_t(g)] = 1;
  }

  // Z = [u_1 .. u_k, s_1 .. s_G]: u_i = M_g x_i = M_B x_i + v_g (v_gᵀ x_i), s_g = M_g S_g.
  MatrixD z(n, k + n_groups);
  z.leftCols(k) = residualize(trials, q);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t g = group_of_trial[size_t(i)];
    if (has_v[size_t(g)]) z.col(i) += v.col(g) * v.col(g).dot(trials.col(i));
  }
  for (int64_t g = 0; g < n_groups; ++g)
    z.col(k + g) = has_v[size_t(g)] ? Eigen::VectorXd(v.col(g) * v.col(g).dot(basis.col(g)))
                                    : Eigen::VectorXd(residualize(MatrixD(basis.col(g)), q));

  // Per trial: the 2x2 normal equations of [u, w], w = s_g - u (w = 0 for a trial alone in its group).
  struct Solve {
    double uu = 0, uw = 0, ww = 0, det = 0;
    bool single = false;
  };
  std::vector<Solve> solve(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const int64_t g = group_of_trial[size_t(i)];
    const Eigen::VectorXd u = z.col(i), w = z.col(k + g) - z.col(i);
    Solve& s = solve[size_t(i)];
    s.uu = u.squaredNorm(), s.uw = u.dot(w), s.ww = w.squaredNorm();
    const double x_norm2 = trials.col(i).squaredNorm();
    const double others_norm2 = (basis.col(g) - trials.col(i)).squaredNorm();
    s.single = group_size[size_t(g)] == 1 || !(s.ww > kLostShare * kLostShare * others_norm2);
    s.det = s.uu * s.ww - s.uw * s.uw;
    if (x_norm2 == 0) {
      est.why[size_t(i)] = "its modelled response is zero at every volume of the run";
    } else if (!(s.uu > kLostShare * kLostShare * x_norm2)) {
      est.why[size_t(i)] = "its regressor is a combination of the nuisance regressors and the other conditions'";
    } else if (!has_v[size_t(g)] && group_size[size_t(g)] > 1) {
      est.why[size_t(i)] =
          "its condition's regressor is a combination of the nuisance regressors and the other conditions'";
    } else if (!s.single && !(s.det > 1e-12 * s.uu * s.ww)) {
      est.why[size_t(i)] = "it cannot be told apart from the other trials of its condition";
    } else {
      est.estimable[size_t(i)] = 1;
    }
  }

  times_y_blocks(MatrixD(z.transpose()), y, [&](int64_t c0, const MatrixD& prod) {
    for (int64_t i = 0; i < k; ++i) {
      if (!est.estimable[size_t(i)]) continue;
      const Solve& s = solve[size_t(i)];
      const int64_t g = group_of_trial[size_t(i)];
      float* out = est.beta.row(i).data() + c0;
      for (int64_t c = 0; c < prod.cols(); ++c) {
        const double uy = prod(i, c);
        if (s.single) {
          out[c] = float(uy / s.uu);
        } else {
          const double wy = prod(k + g, c) - uy;
          out[c] = float((s.ww * uy - s.uw * wy) / s.det);
        }
      }
    }
  });
  return est;
}

}  // namespace v2c::prep
