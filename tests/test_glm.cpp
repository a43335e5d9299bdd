// Trial GLM kernels (pipeline/prep/hrf.h, drift.h, glm.h): planted values, the numpy oracle
// (tests/oracle/glm_numpy.py builds the same HRF, design and drift bases from their definitions and
// solves with numpy.linalg.lstsq, one solve per trial for LSS), and the trials that cannot be
// estimated.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "pipeline/io/npy.h"
#include "pipeline/prep/drift.h"
#include "pipeline/prep/glm.h"
#include "pipeline/prep/hrf.h"
#include "tests/test_util.h"

using namespace v2c;
namespace utf = boost::unit_test;

namespace {

// One simulated run: k events of 0.9 s with jittered onsets, G conditions, v voxels whose planted
// per-trial amplitudes ride on drift, two motion-like confounds and white noise.
struct SimRun {
  int64_t n = 0;
  double tr = 2.0;
  std::vector<prep::EventTiming> events;
  std::vector<int32_t> group;
  MatrixD trials, nuisance, confounds;
  MatrixF y;
  MatrixD planted;  // [k x v]
};

SimRun make_run(uint64_t seed, int64_t n, double tr, int k, double iti_s, int n_groups, int64_t v, double noise) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  SimRun s;
  s.n = n, s.tr = tr;
  for (int i = 0; i < k; ++i) {
    s.events.push_back({4.0 + i * iti_s + 0.8 * iti_s * u(rng), 0.9});
    s.group.push_back(int32_t(i % n_groups));
  }
  s.trials = prep::event_regressors(s.events, tr, n);
  s.confounds.resize(n, 2);
  double a = 0, b = 0;
  for (int64_t t = 0; t < n; ++t) s.confounds(t, 0) = a += 0.1 * g(rng), s.confounds(t, 1) = b += 0.05 * g(rng);
  s.nuisance.resize(n, 0);
  const MatrixD poly = prep::polynomial_basis(n, 2), cosines = prep::cosine_basis(n, tr, 128.0);
  s.nuisance.resize(n, poly.cols() + cosines.cols() + 2);
  s.nuisance << poly, cosines, s.confounds;
  s.planted.resize(k, v);
  for (int64_t i = 0; i < s.planted.size(); ++i) s.planted.data()[i] = 1.0 + g(rng);
  MatrixD coef_nuisance(s.nuisance.cols(), v);
  for (int64_t i = 0; i < coef_nuisance.size(); ++i) coef_nuisance.data()[i] = 0.5 * g(rng);
  MatrixD y = s.trials * s.planted + s.nuisance * coef_nuisance;
  for (int64_t i = 0; i < y.size(); ++i) y.data()[i] += 100.0 + noise * g(rng);
  s.y = y.cast<float>();
  return s;
}

double corr(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  const Eigen::VectorXd ca = a.array() - a.mean(), cb = b.array() - b.mean();
  return ca.dot(cb) / (ca.norm() * cb.norm());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(glm)

BOOST_AUTO_TEST_CASE(spm_hrf_shape_and_normalisation) {
  // Peak of g(t;6) - g(t;16)/6 near 5 s, undershoot near 15 s, zero before the onset.
  double peak_t = 0, peak = -1, low_t = 0, low = 1;
  for (double t = 0.05; t < 32; t += 0.05) {
    const double h = prep::spm_hrf_value(t);
    if (h > peak) peak = h, peak_t = t;
    if (h < low) low = h, low_t = t;
  }
  BOOST_CHECK_CLOSE_FRACTION(peak_t, 5.0, 0.03);
  BOOST_CHECK(low_t > 13.0 && low_t < 17.0);
  BOOST_CHECK_EQUAL(prep::spm_hrf_value(0.0), 0.0);
  const std::vector<double> h = prep::spm_hrf_kernel(0.125);
  BOOST_CHECK_EQUAL(h.size(), 256u);
  double sum = 0;
  for (double v : h) sum += v;
  BOOST_CHECK_CLOSE_FRACTION(sum * 0.125, 1.0, 1e-12);
  // A sustained input reaches a plateau of 1: a 60 s block, read 40 s in.
  const MatrixD x = prep::event_regressors({{10.0, 60.0}}, 2.0, 60);
  BOOST_CHECK_CLOSE_FRACTION(x(25, 0), 1.0, 1e-3);
  BOOST_CHECK_EQUAL(x(5, 0), 0.0);  // before the onset (10 s)
}

BOOST_AUTO_TEST_CASE(drift_bases) {
  // SPM's rule: cosines of period above the cutoff, floor(2 n TR / cutoff) of them.
  BOOST_CHECK_EQUAL(prep::cosine_basis(300, 2.0, 128.0).cols(), 9);
  BOOST_CHECK_EQUAL(prep::cosine_basis(300, 2.0, 0.0).cols(), 0);
  BOOST_CHECK_EQUAL(prep::cosine_basis(10, 2.0, 1.0).cols(), 9);  // capped at n - 1
  const MatrixD c = prep::cosine_basis(300, 2.0, 128.0);
  const MatrixD gram = c.transpose() * c;
  BOOST_CHECK_SMALL((gram - MatrixD::Identity(9, 9)).cwiseAbs().maxCoeff(), 1e-12);  // orthonormal
  BOOST_CHECK_SMALL(c.colwise().sum().cwiseAbs().maxCoeff(), 1e-12);                 // zero mean
  const MatrixD p = prep::polynomial_basis(5, 2);
  BOOST_CHECK_CLOSE_FRACTION(p(0, 2), 1.0, 1e-12);   // P2(-1) = 1
  BOOST_CHECK_CLOSE_FRACTION(p(2, 2), -0.5, 1e-12);  // P2(0) = -1/2
  BOOST_CHECK_THROW(prep::polynomial_basis(2, 2), Error);
}

BOOST_AUTO_TEST_CASE(lsa_and_lss_recover_planted_amplitudes) {
  // Long intervals (14 s on average, some as short as 3 s) and little noise: LSA recovers the planted
  // amplitudes; LSS less closely, since each of its models pools the other trials of a condition into
  // one regressor whose single amplitude cannot fit their different planted amplitudes (noise-free
  // bias that LSS trades for lower variance when noise dominates).
  const SimRun s = make_run(11, 240, 2.0, 30, 14.0, 3, 200, 0.005);
  const prep::TrialEstimates lsa = prep::estimate_lsa(s.y, s.trials, s.nuisance);
  const prep::TrialEstimates lss = prep::estimate_lss(s.y, s.trials, s.group, s.nuisance);
  for (int i = 0; i < 30; ++i) {
    BOOST_REQUIRE(lsa.estimable[size_t(i)] && lss.estimable[size_t(i)]);
    BOOST_CHECK_GT(corr(lsa.beta.row(i).cast<double>().transpose(), s.planted.row(i).transpose()), 0.99);
    BOOST_CHECK_GT(corr(lss.beta.row(i).cast<double>().transpose(), s.planted.row(i).transpose()), 0.9);
  }
  BOOST_CHECK_SMALL((lsa.beta.cast<double>() - s.planted).cwiseAbs().mean(), 0.05);
}

BOOST_AUTO_TEST_CASE(lsa_and_lss_equal_the_numpy_oracle, *utf::precondition(test::needs_python{{"numpy"}})) {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  test::TempDir dir("v2c-glm");
  // Short intervals (4 s mean, jittered) at TR 2 with 0.9 s events: the regime where LSA and LSS differ.
  const SimRun s = make_run(5, 200, 2.0, 44, 4.0, 4, 300, 1.0);
  const prep::TrialEstimates lsa = prep::estimate_lsa(s.y, s.trials, s.nuisance);
  const prep::TrialEstimates lss = prep::estimate_lss(s.y, s.trials, s.group, s.nuisance);
  const prep::TrialEstimates lss_all =
      prep::estimate_lss(s.y, s.trials, std::vector<int32_t>(s.group.size(), 0), s.nuisance);
  for (size_t i = 0; i < s.group.size(); ++i)
    BOOST_REQUIRE(lsa.estimable[i] && lss.estimable[i] && lss_all.estimable[i]);
  std::ofstream ev(dir.file("events.txt"));
  ev.precision(17);
  for (size_t i = 0; i < s.events.size(); ++i)
    ev << s.events[i].onset_s << " " << s.events[i].duration_s << " " << s.group[i] << "\n";
  ev.close();
  npy::write_npy(dir.file("y.npy"), s.y);
  npy::write_npy(dir.file("confounds.npy"), s.confounds);
  npy::write_npy(dir.file("x.npy"), s.trials);
  npy::write_npy(dir.file("nuisance.npy"), s.nuisance);
  npy::write_npy(dir.file("lsa.npy"), lsa.beta);
  npy::write_npy(dir.file("lss.npy"), lss.beta);
  npy::write_npy(dir.file("lss_all.npy"), lss_all.beta);
  const std::string out = test::run_python_ok(
      "import sys\nsys.path.insert(0, '" + (*root / "tests/oracle").string() +
          "')\n"
          "import numpy as np, glm_numpy as g\n"
          "ev = np.loadtxt('events.txt', ndmin=2)\n"
          "y = np.load('y.npy'); n = y.shape[0]\n"
          "X = g.event_regressors(ev[:, 0], ev[:, 1], 2.0, n, 16)\n"
          "N = np.hstack([g.polynomial_basis(n, 2), g.cosine_basis(n, 2.0, 128.0), np.load('confounds.npy')])\n"
          "groups = ev[:, 2].astype(int)\n"
          "def rel(a, b): return np.abs(a - b).max() / np.abs(b).max()\n"
          "def rows(a, b): return (np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)).max()\n"
          "print(rel(np.load('x.npy'), X), rel(np.load('nuisance.npy'), N),\n"
          "      rows(np.load('lsa.npy'), g.lsa(y, X, N)), rows(np.load('lss.npy'), g.lss(y, X, groups, N)),\n"
          "      rows(np.load('lss_all.npy'), g.lss(y, X, np.zeros_like(groups), N)))\n",
      dir.path().string());
  std::istringstream in(out);
  double design = 1, nuisance = 1, e_lsa = 1, e_lss = 1, e_lss_all = 1;
  in >> design >> nuisance >> e_lsa >> e_lss >> e_lss_all;
  BOOST_TEST_MESSAGE("numpy oracle, largest relative difference: design " << design << ", nuisance " << nuisance
                                                                          << ", LSA " << e_lsa << ", LSS " << e_lss
                                                                          << ", LSS (one group) " << e_lss_all);
  BOOST_REQUIRE_MESSAGE(in, "unreadable oracle output: " << out);
  BOOST_CHECK_SMALL(design, 1e-12);
  BOOST_CHECK_SMALL(nuisance, 1e-12);
  BOOST_CHECK_SMALL(e_lsa, 1e-5);
  BOOST_CHECK_SMALL(e_lss, 1e-5);
  BOOST_CHECK_SMALL(e_lss_all, 1e-5);
  // At these short intervals the two methods really differ (the comparison is not vacuous).
  BOOST_CHECK_GT((lsa.beta - lss.beta).norm() / lsa.beta.norm(), 0.05);
}

BOOST_AUTO_TEST_CASE(trials_that_cannot_be_estimated_are_named) {
  // Trial 2 repeats trial 1 exactly; trial 3 starts at the last volume (no response is seen);
  // trial 4 is alone in its condition (estimable by LSS: its model is [x_4, the other conditions]).
  const int64_t n = 60;
  const std::vector<prep::EventTiming> ev = {{4, 1}, {20, 1}, {20, 1}, {118, 1}, {40, 1}, {60, 1}};
  const MatrixD x = prep::event_regressors(ev, 2.0, n);
  BOOST_CHECK_EQUAL(x.col(3).squaredNorm(), 0.0);
  MatrixF y(n, 3);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g(0, 1);
  for (int64_t i = 0; i < y.size(); ++i) y.data()[i] = g(rng);
  const MatrixD nuisance = prep::polynomial_basis(n, 1);
  const prep::TrialEstimates lsa = prep::estimate_lsa(y, x, nuisance);
  BOOST_CHECK_EQUAL(int(lsa.estimable[0]), 1);
  BOOST_CHECK_EQUAL(int(lsa.estimable[1]) + int(lsa.estimable[2]), 1);  // one of the twins
  BOOST_CHECK_EQUAL(int(lsa.estimable[3]), 0);
  BOOST_CHECK(lsa.why[3].find("zero at every volume") != std::string::npos);
  BOOST_CHECK_EQUAL(lsa.beta.row(3).cwiseAbs().maxCoeff(), 0.0f);
  // The twins form a condition of their own: each against the other trial of its condition, its twin.
  const prep::TrialEstimates lss = prep::estimate_lss(y, x, {0, 2, 2, 0, 1, 0}, nuisance);
  BOOST_CHECK_EQUAL(int(lss.estimable[3]), 0);
  BOOST_CHECK_EQUAL(int(lss.estimable[4]), 1);
  BOOST_CHECK_EQUAL(int(lss.estimable[0]), 1);
  BOOST_CHECK_EQUAL(int(lss.estimable[1]), 0);
  BOOST_CHECK_EQUAL(int(lss.estimable[2]), 0);
  BOOST_CHECK(lss.why[1].find("cannot be told apart") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
