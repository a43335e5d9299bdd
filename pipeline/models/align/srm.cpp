#include "pipeline/models/align/srm.h"

#include <Eigen/QR>
#include <cmath>
#include <random>

#include "pipeline/core/error.h"

namespace v2c::align {

namespace {

template <class S>
Mat<S> random_orthonormal(int64_t p, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::MatrixXd G(p, k);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < p; ++i) G(i, j) = g(rng);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
  return (qr.householderQ() * Eigen::MatrixXd::Identity(p, k)).cast<S>();
}

}  // namespace

template <class S>
SrmFit<S> fit_srm(const std::vector<Mat<S>>& X, const SrmSettings& settings) {
  const int64_t k = settings.features;
  if (X.empty()) throw input_error("SRM: no subjects to fit");
  const int64_t n = X[0].rows();
  if (k < 1 || k > n)
    throw input_error("SRM: features = ", k, " must lie in [1, ", n, "] (the number of shared stimuli)");
  for (size_t i = 0; i < X.size(); ++i) {
    if (X[i].rows() != n)
      throw input_error("SRM: subject ", i, " has ", X[i].rows(), " rows of shared stimuli, subject 0 has ", n);
    if (X[i].cols() < k)
      throw input_error("SRM: subject ", i, " has ", X[i].cols(), " voxels, fewer than features = ", k);
  }
  V2C_ASSERT(settings.max_iterations >= 0 && settings.tolerance >= 0);
  const size_t m = X.size();

  SrmFit<S> fit;
  fit.space.standardize = settings.standardize;
  std::vector<Mat<S>> Z(m), P(m);  // normalised data; projections Z_i W_i [n x k]
  double total_ss = 0;
  for (size_t i = 0; i < m; ++i) {
    fit.space.maps.push_back(voxel_normalizer(X[i], settings.standardize));
    Z[i] = fit.space.maps[i].normalize(X[i]);
    total_ss += Z[i].template cast<double>().squaredNorm();
    fit.space.maps[i].W = random_orthonormal<S>(X[i].cols(), k, settings.seed + i);
  }
  Mat<S>& shared = fit.space.common;
  // S ← mean of the projections, and J for the current (W, S).
  auto update_shared = [&]() {
    for (size_t i = 0; i < m; ++i) linalg::gemm(Z[i], false, fit.space.maps[i].W, false, P[i]);
    shared = P[0];
    for (size_t i = 1; i < m; ++i) shared += P[i];
    shared /= S(m);
    double cross = 0;
    for (size_t i = 0; i < m; ++i)
      cross += (shared.template cast<double>().array() * P[i].template cast<double>().array()).sum();
    return total_ss - 2 * cross + double(m) * shared.template cast<double>().squaredNorm();
  };
  fit.objective.push_back(update_shared());
  for (int it = 0; it < settings.max_iterations; ++it) {
    for (size_t i = 0; i < m; ++i)
      if (!orthogonal_procrustes(Z[i], shared, fit.space.maps[i].W))
        throw numerical_error("SRM: the SVD of subject ", i, "'s ", X[i].cols(), "x", k, " matrix failed at iteration ",
                              it + 1);
    const double before = fit.objective.back(), after = update_shared();
    fit.objective.push_back(after);
    fit.iterations = it + 1;
    if (before <= 0 || (before - after) / before < settings.tolerance) {
      fit.converged = true;
      break;
    }
  }
  return fit;
}

template SrmFit<float> fit_srm<float>(const std::vector<Mat<float>>&, const SrmSettings&);
template SrmFit<double> fit_srm<double>(const std::vector<Mat<double>>&, const SrmSettings&);

}  // namespace v2c::align
