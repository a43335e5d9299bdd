// The simulation variants that do not match the encoder's structure: no shared latent across
// subjects, voxel-wise subject-specific nonlinear responses, spatially correlated noise; and the
// default study unchanged by their presence.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include <Eigen/Dense>

#include "pipeline/sim/study.h"

using namespace v2c;

namespace {

sim::StudyParams small() {
  sim::StudyParams p;
  p.n_categories = 4;
  p.feature_dim = 32;
  p.train_per_category = 10;
  p.test_per_category = 2;
  p.latent_dim = 8;
  p.hidden_dim = 32;
  p.n_subjects = 2;
  p.grid_dims = {10, 12, 10};
  p.grid_jitter = 0;
  p.train_runs = 3;
  p.test_runs = 1;
  return p;
}

// R² of the best linear fit of each column of Y [n x k] from X [n x m] (with intercept), averaged.
double linear_r2(const MatrixD& X, const MatrixD& Y) {
  MatrixD A(X.rows(), X.cols() + 1);
  A << X, MatrixD::Ones(X.rows(), 1);
  const MatrixD B = A.colPivHouseholderQr().solve(Y);
  double sum = 0;
  int used = 0;
  for (int64_t j = 0; j < Y.cols(); ++j) {
    const VectorD y = Y.col(j), r = y - A * B.col(j);
    const double ss = (y.array() - y.mean()).square().sum();
    if (ss <= 0) continue;
    sum += 1 - r.squaredNorm() / ss;
    ++used;
  }
  return sum / used;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_variants)

BOOST_AUTO_TEST_CASE(no_shared_latent_gives_each_subject_its_own_code) {
  sim::StudyParams p = small();
  const sim::Study shared = sim::make_study(p, 5);
  BOOST_CHECK(sim::subject_latent(shared, 0) == shared.latent);
  BOOST_CHECK(sim::subject_latent(shared, 1) == shared.latent);
  p.shared_latent = false;
  const sim::Study own = sim::make_study(p, 5);
  const MatrixD a = sim::subject_latent(own, 0), b = sim::subject_latent(own, 1);
  BOOST_REQUIRE_EQUAL(a.rows(), b.rows());
  // The two codes share no linear structure beyond chance: b is poorly predicted from a, while a
  // subject's own code is a function of the same stimuli (fit from itself: R² = 1).
  BOOST_CHECK_LT(linear_r2(a, b), 0.5);
  BOOST_CHECK_GT(linear_r2(a, a), 0.999);
  BOOST_CHECK(sim::subject_latent(own, 0) == a);  // deterministic
}

BOOST_AUTO_TEST_CASE(voxel_nonlinearity_bends_the_responses_and_zero_keeps_them_linear) {
  sim::StudyParams p = small();
  const sim::Study st = sim::make_study(p, 6);
  const sim::Subject s = sim::make_subject(p, 0, 6, st.stimuli);
  const MatrixD linear = sim::amplitudes(p, s, st.latent);
  // k = 0: exactly latent · readoutᵀ · baseline · pct (the default study's responses).
  MatrixD expected = st.latent * s.readout.transpose();
  expected.array().rowwise() *= (s.baseline * (p.signal_pct / 100.0)).transpose().array();
  BOOST_CHECK((linear - expected).norm() <= 1e-9 * expected.norm());
  p.voxel_nonlinearity = 3.0;
  const MatrixD bent = sim::amplitudes(p, s, st.latent);
  BOOST_CHECK_GT(linear_r2(st.latent, linear), 0.999);
  BOOST_CHECK_LT(linear_r2(st.latent, bent), 0.9);
}

BOOST_AUTO_TEST_CASE(smoothed_noise_is_spatially_correlated) {
  auto neighbour_correlation = [](double sigma) {
    sim::StudyParams p = small();
    p.noise_smoothness_vox = sigma;
    const sim::Study st = sim::make_study(p, 7);
    sim::Subject s = sim::make_subject(p, 0, 7, st.stimuli);
    const MatrixD amp = sim::amplitudes(p, s, st.latent);
    sim::calibrate_noise(p, s, amp);
    const MatrixD noise = sim::simulate_run(p, s, 0, amp).noise;
    // Correlation over time between voxels adjacent along i (flat index + 1, same row of the grid).
    double sum = 0;
    int pairs = 0;
    for (int64_t v = 0; v + 1 < s.n_voxels(); ++v) {
      if (s.flat[size_t(v + 1)] != s.flat[size_t(v)] + 1) continue;
      const VectorD x = noise.col(v).array() - noise.col(v).mean(),
                    y = noise.col(v + 1).array() - noise.col(v + 1).mean();
      sum += x.dot(y) / std::sqrt(x.squaredNorm() * y.squaredNorm());
      ++pairs;
    }
    return sum / pairs;
  };
  const double white = neighbour_correlation(0.0), smooth = neighbour_correlation(1.5);
  BOOST_TEST_MESSAGE("adjacent-voxel noise correlation: independent " << white << ", sigma 1.5 voxels " << smooth);
  BOOST_CHECK_LT(std::abs(white), 0.1);
  BOOST_CHECK_GT(smooth, 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
