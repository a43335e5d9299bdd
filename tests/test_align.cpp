// Functional alignment kernels (pipeline/models/align). Oracle: scipy.linalg.orthogonal_procrustes
// (and numpy's SVD for rectangular maps). Planted solutions: subjects that are orthogonal
// transforms of one response plus noise (hyperalignment), subjects that share a low-dimensional
// response (SRM: monotone objective, recovery against a random projection), and new subjects
// mapped from their training rows only, judged on held-out rows.
#include <boost/test/unit_test.hpp>

#include <Eigen/QR>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "pipeline/models/align/common_space.h"
#include "pipeline/models/align/hyperalignment.h"
#include "pipeline/models/align/srm.h"
#include "tests/test_util.h"

using namespace v2c;
namespace utf = boost::unit_test;
using MD = linalg::Mat<double>;
using MF = linalg::Mat<float>;

namespace {

MD gaussian(int64_t rows, int64_t cols, uint64_t seed, double sd = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, sd);
  MD m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

// A random matrix with orthonormal columns [p x k] (Q of a Gaussian matrix).
MD orthonormal(int64_t p, int64_t k, uint64_t seed) {
  const Eigen::MatrixXd g = gaussian(p, k, seed);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  return MD(qr.householderQ() * Eigen::MatrixXd::Identity(p, k));
}

void write_text(const std::string& path, const MD& m) {
  std::ofstream out(path);
  char buf[40];
  for (int64_t i = 0; i < m.rows(); ++i) {
    for (int64_t j = 0; j < m.cols(); ++j) {
      std::snprintf(buf, sizeof buf, "%.17g", m(i, j));
      out << (j ? " " : "") << buf;
    }
    out << "\n";
  }
}

MD read_text(const std::string& path, int64_t rows, int64_t cols) {
  std::ifstream in(path);
  MD m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) in >> m.data()[i];
  BOOST_REQUIRE_MESSAGE(in, "cannot read a " << rows << "x" << cols << " matrix from " << path);
  return m;
}

// Mean over columns of the Pearson correlation between matching columns of a and b.
double mean_column_correlation(const MD& a, const MD& b) {
  double sum = 0;
  for (int64_t j = 0; j < a.cols(); ++j) {
    const Eigen::VectorXd x = a.col(j).array() - a.col(j).mean(), y = b.col(j).array() - b.col(j).mean();
    sum += x.dot(y) / (x.norm() * y.norm());
  }
  return sum / double(a.cols());
}

// `estimate` [n x k] rotated onto `truth` by orthogonal Procrustes (the shared space is only
// identified up to rotation), then compared column by column.
double correlation_after_rotation(const MD& estimate, const MD& truth) {
  MD R;
  BOOST_REQUIRE(align::orthogonal_procrustes<double>(estimate, truth, R));
  return mean_column_correlation(estimate * R, truth);
}

double relative_distance(const MD& a, const MD& b) { return (a - b).norm() / b.norm(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(align_procrustes)

BOOST_AUTO_TEST_CASE(equals_scipy, *utf::precondition(test::needs_python{{"numpy", "scipy"}})) {
  test::TempDir dir("v2c-align-oracle");
  // (n, p, k): square as scipy.linalg.orthogonal_procrustes; more and fewer voxels than dimensions.
  double worst = 0;
  for (const auto& [n, p, k] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{40, 12, 12}, {30, 15, 10}, {30, 8, 12}}) {
    const MD A = gaussian(n, p, uint64_t(n + p)),
             B = gaussian(n, k, uint64_t(n + k + 1)) + A.leftCols(std::min(p, k)) * MD::Identity(std::min(p, k), k);
    write_text(dir.file("A.txt"), A);
    write_text(dir.file("B.txt"), B);
    const auto root = test::repo_root();
    BOOST_REQUIRE(root);
    test::run_python_ok("import runpy, sys\nsys.argv = ['oracle', 'A.txt', 'B.txt', 'R.txt']\nrunpy.run_path('" +
                            (*root / "tests/oracle/procrustes_scipy.py").string() + "', run_name='__main__')\n",
                        dir.path().string());
    const MD ref = read_text(dir.file("R.txt"), p, k);
    MD R;
    BOOST_REQUIRE(align::orthogonal_procrustes<double>(A, B, R));
    const double diff = (R - ref).cwiseAbs().maxCoeff();
    worst = std::max(worst, diff);
    BOOST_TEST_CONTEXT("n " << n << ", p " << p << ", k " << k) {
      BOOST_CHECK_SMALL(diff, 1e-10);
      // Orthonormal columns (p >= k) or rows (p < k).
      const MD gram = p >= k ? MD(R.transpose() * R) : MD(R * R.transpose());
      BOOST_CHECK_SMALL((gram - MD::Identity(gram.rows(), gram.cols())).cwiseAbs().maxCoeff(), 1e-12);
      // Inside an OpenMP parallel region (Eigen's SVD instead of LAPACK's): the same map.
      MD Rp;
      bool ok = false;
#pragma omp parallel num_threads(2)
      {
#pragma omp single
        ok = align::orthogonal_procrustes<double>(A, B, Rp);
      }
      BOOST_REQUIRE(ok);
      BOOST_CHECK_SMALL((Rp - ref).cwiseAbs().maxCoeff(), 1e-10);
      // Single precision: the same map to float accuracy.
      MF Rf;
      BOOST_REQUIRE(align::orthogonal_procrustes<float>(A.cast<float>(), B.cast<float>(), Rf));
      BOOST_CHECK_SMALL((Rf.cast<double>() - ref).cwiseAbs().maxCoeff(), 1e-4);
    }
  }
  BOOST_TEST_MESSAGE("orthogonal Procrustes vs scipy/numpy: max |R - R_ref| " << worst);
}

// Fewer rows than dimensions (a new subject sharing few stimuli with the space): AᵀB has rank n,
// the minimiser is not unique, and determined_only keeps the part the data fix. It must not depend
// on the SVD used (LAPACK outside an OpenMP parallel region, Eigen's inside it: before, the two gave
// different maps, and align-ridge's scores changed with the thread count), it fits the data as well
// as the full solution, and it is a partial isometry of rank n.
BOOST_AUTO_TEST_CASE(rank_deficient_determined_part_is_unique) {
  for (const auto& [n, p, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{6, 15, 10}, {4, 9, 12}}) {
    const MD A = gaussian(n, p, uint64_t(3 * n + p)), B = gaussian(n, k, uint64_t(5 * n + k));
    MD full, serial, threaded;
    BOOST_REQUIRE(align::orthogonal_procrustes<double>(A, B, full));
    BOOST_REQUIRE(align::orthogonal_procrustes<double>(A, B, serial, true));
    bool ok = false;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      ok = align::orthogonal_procrustes<double>(A, B, threaded, true);
    }
    BOOST_REQUIRE(ok);
    BOOST_TEST_CONTEXT("n " << n << ", p " << p << ", k " << k) {
      BOOST_CHECK_SMALL((serial - threaded).cwiseAbs().maxCoeff(), 1e-10);
      BOOST_CHECK_SMALL((A * serial - A * full).cwiseAbs().maxCoeff(), 1e-10);
      const MD gram = serial.transpose() * serial;  // [k x k] projector of rank n
      BOOST_CHECK_SMALL((gram * gram - gram).cwiseAbs().maxCoeff(), 1e-10);
      BOOST_CHECK_CLOSE_FRACTION(gram.trace(), double(n), 1e-10);
      // Single precision: the same part to float accuracy.
      MF f;
      BOOST_REQUIRE(align::orthogonal_procrustes<float>(A.cast<float>(), B.cast<float>(), f, true));
      BOOST_CHECK_SMALL((f.cast<double>() - serial).cwiseAbs().maxCoeff(), 1e-4);
    }
  }
}

BOOST_AUTO_TEST_CASE(recovers_a_planted_rotation) {
  const MD A = gaussian(50, 10, 1), Q = orthonormal(10, 10, 2);
  MD R;
  BOOST_REQUIRE(align::orthogonal_procrustes<double>(A, A * Q, R));
  BOOST_CHECK_SMALL((R - Q).cwiseAbs().maxCoeff(), 1e-12);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(align_hyperalignment)

BOOST_AUTO_TEST_CASE(recovers_planted_rotations) {
  // 5 subjects: the same response T [60 x 20], each rotated by its own Q_i, plus noise (SD 0.1).
  const int64_t n = 60, p = 20, m = 5;
  const MD T = gaussian(n, p, 10);
  std::vector<MD> X, Q;
  for (int64_t i = 0; i < m; ++i) {
    Q.push_back(orthonormal(p, p, uint64_t(20 + i)));
    X.push_back(T * Q.back() + gaussian(n, p, uint64_t(30 + i), 0.1));
  }
  align::HyperalignSettings s;
  s.standardize = false;  // an exact rotation model: z-scoring voxels would break it
  const auto space = align::fit_hyperalignment<double>(X, s);
  BOOST_REQUIRE_EQUAL(space.maps.size(), size_t(m));
  BOOST_CHECK_EQUAL(space.common.rows(), n);
  BOOST_CHECK_EQUAL(space.common.cols(), p);
  // Against the noise floor: the distance the TRUE rotations leave between two subjects.
  double worst_aligned = 0, worst_floor = 0, best_raw = 1e9, worst_rot = 0;
  for (int64_t i = 0; i < m; ++i) {
    const MD& W = space.maps[size_t(i)].W;
    BOOST_CHECK_SMALL((W.transpose() * W - MD::Identity(p, p)).cwiseAbs().maxCoeff(), 1e-12);
    for (int64_t j = 0; j < i; ++j) {
      const MD& Xi = X[size_t(i)];
      const MD& Xj = X[size_t(j)];
      const double aligned = relative_distance(space.maps[size_t(i)].apply(Xi), space.maps[size_t(j)].apply(Xj));
      const double floor = relative_distance(Xi * Q[size_t(i)].transpose(), Xj * Q[size_t(j)].transpose());
      worst_aligned = std::max(worst_aligned, aligned / floor);
      worst_floor = std::max(worst_floor, floor);
      best_raw = std::min(best_raw, relative_distance(Xi, Xj));
      // Z_i W_i ≈ Z_j W_j with Z_i = T Q_i gives W_i W_jᵀ ≈ Q_iᵀ Q_j.
      const MD truth = Q[size_t(i)].transpose() * Q[size_t(j)];
      worst_rot = std::max(worst_rot, relative_distance(W * space.maps[size_t(j)].W.transpose(), truth));
    }
  }
  BOOST_TEST_MESSAGE("hyperalignment: distance between aligned subjects <= "
                     << worst_aligned << " x that of the true rotations (<= " << worst_floor << "); raw >= " << best_raw
                     << "; max ||W_i W_jᵀ - Q_iᵀ Q_j|| / ||Q_iᵀ Q_j|| " << worst_rot);
  BOOST_CHECK_LT(worst_aligned, 1.05);
  BOOST_CHECK_GT(best_raw, 1.2);
  BOOST_CHECK_LT(worst_rot, 0.1);
}

BOOST_AUTO_TEST_CASE(new_subject_from_training_rows_aligns_its_test_rows) {
  // Subjects with different voxel counts and voxel offsets/scales (standardize on). Fit on
  // subjects 1..4's training rows; map subject 0 from its own training rows; judge test rows.
  const int64_t n_train = 60, n_test = 25, n = n_train + n_test, k = 16;
  const MD T = gaussian(n, k, 40);
  std::vector<MD> X;
  for (int64_t i = 0; i < 5; ++i) {
    const int64_t p = k + 4 * i;  // 16..32 voxels: each a rotation of T into a larger space
    MD x = T * orthonormal(p, k, uint64_t(50 + i)).transpose() + gaussian(n, p, uint64_t(60 + i), 0.05);
    for (int64_t v = 0; v < p; ++v) x.col(v) = x.col(v).array() * (1.0 + 0.1 * double(v % 3)) + double(v);
    X.push_back(x);
  }
  std::vector<MD> train;
  for (int64_t i = 1; i < 5; ++i) train.push_back(X[size_t(i)].topRows(n_train));
  const auto space = align::fit_hyperalignment<double>(train);
  BOOST_CHECK_EQUAL(space.common.cols(), k + 16);  // the largest subject's voxel count
  const auto map0 = align::map_new_subject<double>(space, X[0].topRows(n_train));
  BOOST_CHECK_EQUAL(map0.W.rows(), k);
  const MD test0 = map0.apply(X[0].bottomRows(n_test));
  MD others = MD::Zero(n_test, space.common.cols());
  for (int64_t i = 1; i < 5; ++i) others += space.maps[size_t(i - 1)].apply(X[size_t(i)].bottomRows(n_test)) / 4.0;
  // Against the same subject mapped by a random map with orthonormal rows.
  align::SubjectMap<double> random = map0;
  random.W = orthonormal(space.common.cols(), k, 70).transpose();
  const double aligned = relative_distance(test0, others),
               unaligned = relative_distance(random.apply(X[0].bottomRows(n_test)), others);
  // Reference: subject 0 in the fit itself (all five subjects' training rows).
  std::vector<MD> all = {X[0].topRows(n_train)};
  all.insert(all.end(), train.begin(), train.end());
  const auto joint = align::fit_hyperalignment<double>(all);
  MD joint_others = MD::Zero(n_test, joint.common.cols());
  for (int64_t i = 1; i < 5; ++i) joint_others += joint.maps[size_t(i)].apply(X[size_t(i)].bottomRows(n_test)) / 4.0;
  const double in_fit = relative_distance(joint.maps[0].apply(X[0].bottomRows(n_test)), joint_others);
  BOOST_TEST_MESSAGE("hyperalignment, new subject's test rows: relative distance to the others "
                     << aligned << " (in the fit " << in_fit << ", random map " << unaligned << ")");
  BOOST_CHECK_LT(aligned, 1.2 * in_fit);
  BOOST_CHECK_GT(unaligned, 1.0);
}

BOOST_AUTO_TEST_CASE(input_errors) {
  test::check_error([] { align::fit_hyperalignment<double>({}); }, ExitCode::input, {"hyperalignment", "no subjects"});
  test::check_error(
      [] {
        align::fit_hyperalignment<double>({gaussian(10, 3, 1), gaussian(9, 3, 2)});
      },
      ExitCode::input, {"subject 1", "9 rows", "10"});
  const auto space = align::fit_hyperalignment<double>({gaussian(10, 3, 1), gaussian(10, 4, 2)});
  test::check_error([&] { align::map_new_subject<double>(space, gaussian(8, 3, 3)); }, ExitCode::input,
                    {"new subject", "8 rows", "10"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(align_srm)

// Subjects i = 0..3 sharing S [n x k]: X_i = S W_iᵀ + noise, W_i [p_i x k] orthonormal.
struct Planted {
  MD S;
  std::vector<MD> X;
  Planted(int64_t n, int64_t k, double noise) : S(gaussian(n, k, 80)) {
    const int64_t voxels[] = {30, 40, 50, 35};
    for (int64_t i = 0; i < 4; ++i)
      X.push_back(S * orthonormal(voxels[i], k, uint64_t(90 + i)).transpose() +
                  gaussian(n, voxels[i], uint64_t(100 + i), noise));
  }
};

BOOST_AUTO_TEST_CASE(objective_decreases_and_shared_response_is_recovered) {
  const Planted data(80, 5, 0.2);
  align::SrmSettings s;
  s.features = 5;
  s.max_iterations = 30;
  s.tolerance = 0;  // run every iteration
  s.standardize = false;
  const auto fit = align::fit_srm<double>(data.X, s);
  BOOST_REQUIRE_EQUAL(fit.objective.size(), size_t(fit.iterations) + 1);
  BOOST_CHECK_GE(fit.iterations, 5);
  for (size_t t = 1; t < fit.objective.size(); ++t)
    BOOST_CHECK_MESSAGE(fit.objective[t] <= fit.objective[t - 1] * (1 + 1e-12),
                        "J rose at iteration " << t << ": " << fit.objective[t - 1] << " -> " << fit.objective[t]);
  BOOST_CHECK_LT(fit.objective.back(), 0.5 * fit.objective.front());
  // The objective as recorded equals Σ ||Z_i - S W_iᵀ||² recomputed.
  double J = 0;
  for (size_t i = 0; i < data.X.size(); ++i) {
    const auto& map = fit.space.maps[i];
    J += (map.normalize(data.X[i]) - fit.space.common * map.W.transpose()).squaredNorm();
    BOOST_CHECK_SMALL((map.W.transpose() * map.W - MD::Identity(5, 5)).cwiseAbs().maxCoeff(), 1e-12);
  }
  BOOST_CHECK_CLOSE_FRACTION(fit.objective.back(), J, 1e-10);

  const MD truth = data.S.rowwise() - data.S.colwise().mean();
  const double srm = correlation_after_rotation(fit.space.common, truth);
  // Baseline: each subject projected on random orthonormal directions, rotated onto the truth.
  double random = 0;
  for (size_t i = 0; i < data.X.size(); ++i)
    random += correlation_after_rotation(
                  fit.space.maps[i].normalize(data.X[i]) * orthonormal(data.X[i].cols(), 5, 7 + i), truth) /
              double(data.X.size());
  BOOST_TEST_MESSAGE("SRM: correlation with the planted shared response "
                     << srm << " (random projections " << random << "); J " << fit.objective.front() << " -> "
                     << fit.objective.back() << " in " << fit.iterations << " iterations");
  BOOST_CHECK_GT(srm, 0.97);
  BOOST_CHECK_LT(random, srm - 0.1);

  // Same seed, same fit; the tolerance stops early.
  s.tolerance = 1e-3;
  const auto early = align::fit_srm<double>(data.X, s);
  BOOST_CHECK(early.converged);
  BOOST_CHECK_LT(early.iterations, fit.iterations);
  for (size_t t = 0; t < early.objective.size(); ++t) BOOST_CHECK_EQUAL(early.objective[t], fit.objective[t]);
}

BOOST_AUTO_TEST_CASE(new_subject_from_training_rows_recovers_test_responses) {
  const int64_t n_train = 70, n_test = 30, k = 5;
  const Planted data(n_train + n_test, k, 0.2);
  std::vector<MD> train;
  for (size_t i = 1; i < 4; ++i) train.push_back(data.X[i].topRows(n_train));
  align::SrmSettings s;
  s.features = k;
  s.max_iterations = 20;
  const auto fit = align::fit_srm<double>(train, s);  // standardize on
  const auto map0 = align::map_new_subject<double>(fit.space, data.X[0].topRows(n_train));
  BOOST_CHECK_EQUAL(map0.W.rows(), 30);
  BOOST_CHECK_EQUAL(map0.W.cols(), k);
  // Subject 0's test rows in the shared space against the truth, rotated by the rotation that
  // takes the model's training-row shared response onto the true one (training rows only).
  MD R;
  BOOST_REQUIRE(align::orthogonal_procrustes<double>(fit.space.common, data.S.topRows(n_train), R));
  const MD truth = data.S.bottomRows(n_test);
  const double aligned = mean_column_correlation(map0.apply(data.X[0].bottomRows(n_test)) * R, truth);
  align::SubjectMap<double> random = map0;
  random.W = orthonormal(30, k, 8);
  const double unaligned = mean_column_correlation(random.apply(data.X[0].bottomRows(n_test)) * R, truth);
  BOOST_TEST_MESSAGE("SRM, new subject's test rows: correlation with the true shared response "
                     << aligned << " (random map " << unaligned << ")");
  BOOST_CHECK_GT(aligned, 0.9);
  BOOST_CHECK_LT(unaligned, 0.5);
}

BOOST_AUTO_TEST_CASE(single_precision_fit) {
  const Planted data(80, 5, 0.2);
  std::vector<MF> X;
  for (const auto& x : data.X) X.push_back(x.cast<float>());
  align::SrmSettings s;
  s.features = 5;
  s.standardize = false;
  const auto fit = align::fit_srm<float>(X, s);
  const MD truth = data.S.rowwise() - data.S.colwise().mean();
  BOOST_CHECK_GT(correlation_after_rotation(fit.space.common.cast<double>(), truth), 0.97);
}

BOOST_AUTO_TEST_CASE(input_errors) {
  align::SrmSettings s;
  s.features = 6;
  test::check_error(
      [&] {
        align::fit_srm<double>({gaussian(20, 10, 1), gaussian(20, 5, 2)}, s);
      },
      ExitCode::input, {"SRM", "subject 1", "5 voxels", "features = 6"});
  test::check_error([&] { align::fit_srm<double>({gaussian(5, 10, 1)}, s); }, ExitCode::input,
                    {"features = 6", "[1, 5]"});
  test::check_error(
      [&] {
        align::fit_srm<double>({gaussian(20, 10, 1), gaussian(19, 10, 2)}, s);
      },
      ExitCode::input, {"subject 1", "19 rows"});
  test::check_error([&] { align::fit_srm<double>({}, s); }, ExitCode::input, {"no subjects"});
}

BOOST_AUTO_TEST_SUITE_END()
