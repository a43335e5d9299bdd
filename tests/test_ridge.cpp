// Ridge: agreement with scikit-learn, α chosen = brute force over the same folds, a planted
// linear solution, no leakage under permuted labels (with voxel selection and inner CV), and the
// real Haxby data.
#include <boost/test/unit_test.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <set>

#include <filesystem>
#include <map>

#include "pipeline/io/features.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/ridge.h"
#include "pipeline/models/ridge_run.h"
#include "pipeline/prep/prepare.h"
#include "tests/haxby_inputs.h"
#include "tests/test_util.h"

using namespace v2c;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;
using MD = linalg::Mat<double>;
using MF = linalg::Mat<float>;

namespace {

MD random_matrix(int64_t rows, int64_t cols, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, scale);
  MD m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

MD read_npy_f8(const std::string& path, int64_t rows, int64_t cols) {
  std::ifstream in(path, std::ios::binary);
  char magic[10];
  in.read(magic, 10);
  const uint16_t len = uint16_t(uint8_t(magic[8]) | (uint8_t(magic[9]) << 8));
  in.ignore(len);
  MD m(rows, cols);
  in.read(reinterpret_cast<char*>(m.data()), std::streamsize(m.size() * sizeof(double)));
  return m;
}

double max_rel_diff(const MD& a, const MD& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(b.cwiseAbs().maxCoeff(), 1e-300);
}

std::vector<int32_t> runs_of(int64_t n, int n_runs) {
  std::vector<int32_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[size_t(i)] = int32_t(i * n_runs / n);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ridge_solver)

BOOST_AUTO_TEST_CASE(predictions_equal_scikit_learn, *utf::precondition(test::needs_python{{"sklearn", "numpy"}})) {
  test::TempDir dir("v2c-ridge-sk");
  // Both shapes: more voxels than samples (kernel form) and fewer (primal form).
  for (const auto& [n, p] : std::vector<std::pair<int64_t, int64_t>>{{60, 150}, {120, 40}}) {
    const MD X = random_matrix(n, p, 1 + p).array() + 0.3;  // non-zero means: the intercept matters
    const MD W = random_matrix(p, 7, 2);
    const MD Y = X * W + random_matrix(n, 7, 3, 2.0);
    const int64_t n_train = n * 3 / 4;
    const MD Xtr = X.topRows(n_train), Ytr = Y.topRows(n_train), Xte = X.bottomRows(n - n_train);
    features::write_npy(dir.file("xtr.npy"), Xtr);
    features::write_npy(dir.file("ytr.npy"), Ytr);
    features::write_npy(dir.file("xte.npy"), Xte);
    for (double alpha : {0.5, 37.0}) {
      test::run_python_ok(
          "import numpy as np\nfrom sklearn.linear_model import Ridge\n"
          "m = Ridge(alpha=" +
              std::to_string(alpha) +
              ", fit_intercept=True, solver='svd')\n"
              "m.fit(np.load('xtr.npy'), np.load('ytr.npy'))\n"
              "np.save('pred.npy', m.predict(np.load('xte.npy')).astype('<f8'))\n"
              "np.save('coef.npy', np.ascontiguousarray(m.coef_.T).astype('<f8'))\n",
          dir.path().string());
      const MD ref = read_npy_f8(dir.file("pred.npy"), n - n_train, 7);
      const MD coef = read_npy_f8(dir.file("coef.npy"), p, 7);
      for (const char* form : {"kernel", "primal"}) {
        const MD pred = ridge::path_from_data<double>(Xtr, Ytr, Xte, form).predict(alpha);
        BOOST_CHECK_MESSAGE(max_rel_diff(pred, ref) < 1e-6, form << " n=" << n << " p=" << p << " alpha=" << alpha
                                                                 << ": rel diff " << max_rel_diff(pred, ref));
      }
      // The Gram-reuse path: G over all rows, the fold's blocks centred algebraically.
      std::vector<int64_t> tr, te;
      for (int64_t i = 0; i < n; ++i) (i < n_train ? tr : te).push_back(i);
      const MD G = X * X.transpose();
      const MD pg = ridge::path_from_gram<double>(G, Y, tr, te).predict(alpha);
      BOOST_CHECK_MESSAGE(max_rel_diff(pg, ref) < 1e-6, "gram: rel diff " << max_rel_diff(pg, ref));
      MD Wfit;
      linalg::RowVec<double> b;
      ridge::fit_weights<double>(Xtr, Ytr, std::vector<double>(7, alpha), Wfit, b);
      BOOST_CHECK_MESSAGE(max_rel_diff(Wfit, coef) < 1e-6, "weights: rel diff " << max_rel_diff(Wfit, coef));
      MD Wg;
      linalg::RowVec<double> bg;
      ridge::fit_weights_from_gram<double>(MD(Xtr * Xtr.transpose()), Xtr, Ytr, std::vector<double>(7, alpha), Wg, bg);
      BOOST_CHECK_MESSAGE(max_rel_diff(Wg, coef) < 1e-6, "weights from Gram: rel diff " << max_rel_diff(Wg, coef));
      BOOST_CHECK_SMALL((bg - b).cwiseAbs().maxCoeff(), 1e-6 * std::max(1.0, b.cwiseAbs().maxCoeff()));
    }
  }
}

BOOST_AUTO_TEST_CASE(per_target_alpha_equals_brute_force) {
  const int64_t n = 90, p = 30, t = 6;
  const MD X = random_matrix(n, p, 11);
  MD W = random_matrix(p, t, 12);
  for (int64_t j = 0; j < t; ++j) W.col(j) *= std::pow(3.0, double(j) - 3.0);  // targets of very different SNR
  const MD Y = X * W + random_matrix(n, t, 13, 3.0);
  const auto run = runs_of(n, 6);
  cv::RidgeCvSettings s;
  s.alphas = {0.01, 0.1, 1, 10, 100, 1000, 1e4};
  s.inner_folds = 3;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 75; ++i) rows.push_back(i);  // an outer training set: runs 0..4
  MatrixD mean_score;
  const auto chosen = cv::select_alphas<double>(X, Y, run, rows, s, &mean_score);
  // Brute force: the same folds (3 groups of consecutive runs among runs 0..4), a direct solve
  // of (XcᵀXc + αI) w = Xcᵀ yc for every α and target, Pearson correlation, mean, argmax.
  const auto folds = cv::run_folds(run, rows, "groups", 3);
  for (int64_t j = 0; j < t; ++j) {
    std::vector<double> score(s.alphas.size(), 0.0);
    for (const auto& f : folds) {
      MD xtr(int64_t(f.train.size()), p), xte(int64_t(f.test.size()), p);
      Eigen::VectorXd ytr(int64_t(f.train.size())), yte(int64_t(f.test.size()));
      for (size_t i = 0; i < f.train.size(); ++i)
        xtr.row(int64_t(i)) = X.row(f.train[i]), ytr[int64_t(i)] = Y(f.train[i], j);
      for (size_t i = 0; i < f.test.size(); ++i)
        xte.row(int64_t(i)) = X.row(f.test[i]), yte[int64_t(i)] = Y(f.test[i], j);
      const Eigen::RowVectorXd mx = xtr.colwise().mean();
      const double my = ytr.mean();
      const MD xc = xtr.rowwise() - mx;
      for (size_t a = 0; a < s.alphas.size(); ++a) {
        const Eigen::MatrixXd A = xc.transpose() * xc + s.alphas[a] * Eigen::MatrixXd::Identity(p, p);
        const Eigen::VectorXd w = A.ldlt().solve(xc.transpose() * (ytr.array() - my).matrix());
        const Eigen::VectorXd pred = ((xte.rowwise() - mx) * w).array() + my;
        const Eigen::VectorXd pc = pred.array() - pred.mean(), yc = yte.array() - yte.mean();
        score[a] += pc.dot(yc) / (pc.norm() * yc.norm()) / double(folds.size());
      }
    }
    // The best score; ties (within 1e-12 relative) to the lower middle of the tied α.
    const double top = *std::max_element(score.begin(), score.end());
    std::vector<size_t> tied;
    for (size_t a = 0; a < score.size(); ++a)
      if (score[a] >= top - 1e-12 * std::max(1.0, std::abs(top))) tied.push_back(a);
    BOOST_CHECK_EQUAL(chosen[size_t(j)], s.alphas[tied[(tied.size() - 1) / 2]]);
    for (size_t a = 0; a < score.size(); ++a) BOOST_CHECK_SMALL(mean_score(int64_t(a), j) - score[a], 1e-9);
  }
  // The targets are not all alike: the choice really is per target.
  BOOST_CHECK_GT(std::set<double>(chosen.begin(), chosen.end()).size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_target_every_alpha_ties_on_takes_the_shared_alpha) {
  // Target 0 is constant: its inner score is 0 for every α (no information on α). It must take
  // the α shared by all targets, not an end of the grid; the informative targets keep their own.
  const int64_t n = 90, p = 20, t = 4;
  const MD X = random_matrix(n, p, 61);
  MD Y = X * random_matrix(p, t, 62) + 3.0 * random_matrix(n, t, 63);
  Y.col(0).setConstant(1.0);
  const auto run = runs_of(n, 6);
  cv::RidgeCvSettings s;
  s.alphas = {0.01, 0.1, 1, 10, 100, 1000, 1e4, 1e5};
  s.inner_folds = 3;
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  MatrixD mean_score;
  const auto per_target = cv::select_alphas<double>(X, Y, run, rows, s, &mean_score);
  for (int64_t a = 0; a < mean_score.rows(); ++a) BOOST_CHECK_EQUAL(mean_score(a, 0), mean_score(0, 0));
  s.alpha_per_target = false;
  const auto shared = cv::select_alphas<double>(X, Y, run, rows, s);
  BOOST_CHECK_EQUAL(per_target[0], shared[0]);
  BOOST_CHECK(shared[0] != s.alphas.back() && shared[0] != s.alphas.front());  // the test can tell the rules apart
  for (int64_t j = 1; j < t; ++j) BOOST_CHECK_EQUAL(shared[size_t(j)], shared[0]);
}

BOOST_AUTO_TEST_CASE(final_fit_with_standardized_inputs_maps_raw_inputs) {
  // With standardize_x the saved W, b must apply to RAW inputs: X W + b equals the predictions
  // of a model fitted on z-scored inputs.
  const int64_t n = 80, p = 12, t = 3;
  MD X = random_matrix(n, p, 41);
  for (int64_t j = 0; j < p; ++j) X.col(j) = X.col(j) * double(j + 1) + Eigen::VectorXd::Constant(n, 5.0 * j);
  const MD Y = X * random_matrix(p, t, 42) + random_matrix(n, t, 43);
  const auto run = runs_of(n, 4);
  cv::RidgeCvSettings s;
  s.alphas = {0.1, 1, 10, 100};
  s.inner_folds = 4;
  s.standardize_x = true;
  MD W;
  linalg::RowVec<double> b;
  const auto alpha = cv::select_and_fit<double>(X, Y, run, s, W, b);
  MD Z = X;
  for (int64_t j = 0; j < p; ++j) {
    const double m = X.col(j).mean(), sd = std::sqrt((X.col(j).array() - m).square().mean());
    Z.col(j) = (X.col(j).array() - m) / sd;
  }
  MD Wz;
  linalg::RowVec<double> bz;
  ridge::fit_weights<double>(Z, Y, alpha, Wz, bz);
  const MD direct = (Z * Wz).rowwise() + bz, folded = (X * W).rowwise() + b;
  BOOST_CHECK_LT(max_rel_diff(folded, direct), 1e-9);
}

BOOST_AUTO_TEST_CASE(folds_group_runs_and_exclusive_drops_test_stimuli) {
  const std::vector<int32_t> run = {0, 0, 1, 1, 2, 2, 3, 3};
  const std::vector<std::string> stim = {"a", "b", "a", "c", "d", "b", "e", "f"};
  auto folds = cv::run_folds(run, {}, "groups", 2);
  BOOST_REQUIRE_EQUAL(folds.size(), 2u);
  BOOST_CHECK((folds[0].test == std::vector<int64_t>{0, 1, 2, 3}));
  BOOST_CHECK((folds[0].train == std::vector<int64_t>{4, 5, 6, 7}));
  cv::make_exclusive(folds, stim);
  BOOST_CHECK((folds[0].train == std::vector<int64_t>{4, 6, 7}));  // 5 shows "b", tested in fold 0
  auto loro = cv::run_folds(run, {}, "loro", 0);
  BOOST_CHECK_EQUAL(loro.size(), 4u);
  auto expl = cv::run_folds(run, {}, "explicit", 0, {{0, 3}, {1, 2}});
  BOOST_CHECK((expl[0].test == std::vector<int64_t>{0, 1, 6, 7}));
  test::check_error([&] { cv::run_folds(run, {}, "groups", 5); }, ExitCode::input, {"5 runs", "found 4"});
  // A single explicit fold is a plain train/test split.
  auto split = cv::run_folds(run, {}, "explicit", 0, {{3}});
  BOOST_REQUIRE_EQUAL(split.size(), 1u);
  BOOST_CHECK((split[0].train == std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  // Learning curves: the first half of the training runs (runs 0 and 1 of 0, 1, 2).
  cv::restrict_training_runs(split, run, 0.5);
  BOOST_CHECK((split[0].train == std::vector<int64_t>{0, 1, 2, 3}));
  cv::restrict_training_runs(split, run, 0.1);  // never fewer than one run
  BOOST_CHECK((split[0].train == std::vector<int64_t>{0, 1}));
}

BOOST_AUTO_TEST_CASE(planted_linear_solution_is_recovered) {
  // Decoding from a linear model with known weights: CV profile correlation must come within
  // 0.02 of what the true weights achieve on the same samples.
  const int64_t n = 2400, p = 60, t = 8;
  const MF X = random_matrix(n, p, 21).cast<float>();
  const MD W = random_matrix(p, t, 22, 1.0 / std::sqrt(double(p)));
  const MD clean = X.cast<double>() * W;
  const MD Y = clean + random_matrix(n, t, 23, 1.0);  // SNR 1 per target
  const auto run = runs_of(n, 8);
  const std::vector<std::string> stim(size_t(n), "s");
  cv::RidgeCvSettings s;
  s.alphas = ridge::RidgeConfig::default_alphas();
  const auto res = cv::cross_validate<float>(X, Y.cast<float>(), run, stim, s);
  const auto ours = metrics::profile_correlation(res.predictions, Y.cast<float>());
  const auto truth = metrics::profile_correlation(clean.cast<float>(), Y.cast<float>());
  const double ours_mean = metrics::mean_finite(ours), truth_mean = metrics::mean_finite(truth);
  BOOST_TEST_MESSAGE("planted: CV profile correlation " << ours_mean << ", true weights " << truth_mean);
  BOOST_CHECK_SMALL(ours_mean - truth_mean, 0.02);
}

BOOST_AUTO_TEST_CASE(permuted_labels_stay_at_chance_with_selection_and_inner_cv) {
  // Pure-noise voxels, labels at random: any leak (selection or α from test rows) would lift
  // accuracy above chance. The same data with selection done on ALL rows (a deliberate leak)
  // must rise clearly above chance, which shows the test can see a leak.
  const int n_cat = 4, n_runs = 6, per_run = 8, p = 3000, d = 16;
  const int64_t n = n_runs * per_run;
  const MD cat_vec = random_matrix(n_cat, d, 31);
  double acc_sum = 0, leak_sum = 0;
  const int repeats = 6;
  for (int rep = 0; rep < repeats; ++rep) {
    const MF X = random_matrix(n, p, 100 + rep).cast<float>();
    std::mt19937_64 rng(200 + rep);
    std::vector<int> label(static_cast<size_t>(n));
    for (auto& l : label) l = int(rng() % n_cat);
    MF Y(n, d);
    for (int64_t i = 0; i < n; ++i) Y.row(i) = cat_vec.row(label[size_t(i)]).cast<float>();
    const auto run = runs_of(n, n_runs);
    std::vector<std::string> stim;
    for (int l : label) stim.push_back(std::to_string(l));
    cv::RidgeCvSettings s;
    s.alphas = {1, 10, 100, 1000, 1e4};
    s.inner_folds = 3;
    s.select_voxels = 20;
    auto accuracy = [&](const MF& pred) {
      const auto idx = metrics::nearest(pred, cat_vec.cast<float>());
      double hits = 0;
      for (int64_t i = 0; i < n; ++i) hits += idx[size_t(i)] == label[size_t(i)];
      return hits / double(n);
    };
    acc_sum += accuracy(cv::cross_validate<float>(X, Y, run, stim, s).predictions);
    // The deliberate leak: per target, pick voxels on all rows, then cross-validate on them.
    MF leaky_pred(n, d);
    for (int j = 0; j < d; ++j) {
      std::vector<std::pair<double, int64_t>> c;
      const Eigen::VectorXd y = Y.col(j).cast<double>().array() - Y.col(j).cast<double>().mean();
      for (int64_t v = 0; v < p; ++v) {
        const Eigen::VectorXd x = X.col(v).cast<double>().array() - X.col(v).cast<double>().mean();
        c.push_back({-std::abs(x.dot(y)) / (x.norm() * y.norm() + 1e-30), v});
      }
      std::sort(c.begin(), c.end());
      std::vector<int64_t> sel, all(static_cast<size_t>(n));
      for (int k = 0; k < 20; ++k) sel.push_back(c[size_t(k)].second);
      for (int64_t i = 0; i < n; ++i) all[size_t(i)] = i;
      cv::RidgeCvSettings s2 = s;
      s2.select_voxels = 0;
      const MF yj = Y.col(j);
      leaky_pred.col(j) = cv::cross_validate<float>(linalg::take(X, all, sel), yj, run, stim, s2).predictions;
    }
    leak_sum += accuracy(leaky_pred);
  }
  const double acc = acc_sum / repeats, leak = leak_sum / repeats, chance = 1.0 / n_cat;
  // SE of the mean accuracy over repeats x n samples at chance: sqrt(p(1-p)/N).
  const double se = std::sqrt(chance * (1 - chance) / double(repeats * n));
  BOOST_TEST_MESSAGE("permuted: accuracy " << acc << " (chance " << chance << ", SE " << se << "); leaky selection "
                                           << leak);
  BOOST_CHECK_LT(acc, chance + 3 * se);
  BOOST_CHECK_GT(acc, chance - 3 * se);
  BOOST_CHECK_GT(leak, chance + 4 * se);
}

BOOST_AUTO_TEST_CASE(haxby_decodes_category_clip_vectors,
                     *utf::precondition(test::needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"})) {
  // The slice (530 voxels), z-scored per run, leave-one-run-out; decoded CLIP text vector ->
  // nearest of the 7 category vectors. Reference figure ~0.65, chance 1/7.
  prep::PrepareConfig pc;
  const prep::PrepareInputs in = test::haxby_slice_with_clip(pc);
  pc.exclude_stimuli = {"scrambledpix"};
  const Samples s = prep::prepare_subject(in, pc);
  ridge::RidgeConfig rc;
  rc.fit_final = false;
  const Predictions p = ridge::run_ridge(s, rc);
  const auto idx = metrics::nearest(p.predictions, s.features);
  double hits = 0;
  for (int64_t i = 0; i < s.n_samples(); ++i) hits += idx[size_t(i)] == s.feature_row[size_t(i)];
  const double acc = hits / double(s.n_samples());
  BOOST_TEST_MESSAGE("Haxby category identification accuracy " << acc << " (chance " << 1.0 / 7 << ")");
  BOOST_CHECK_GE(acc, 0.60);
  for (int f : p.fold) BOOST_CHECK_GE(f, 0);  // every sample predicted out of fold
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the v2c-ridge executable ----

namespace {

// A tiny simulated study prepared for sub-01 (with features), built once per test binary run.
struct PreparedStudy {
  test::TempDir dir{"v2c-ridge-study"};
  std::string samples, nofeat;
  PreparedStudy() {
    const std::string bids = dir.file("bids");
    const auto sim = test::run_stage("simulate", {"--set",   "simulate.n_subjects=1",
                                                  "--set",   "simulate.grid_dims=[8,9,8]",
                                                  "--set",   "simulate.n_categories=3",
                                                  "--set",   "simulate.train_per_category=8",
                                                  "--set",   "simulate.test_per_category=2",
                                                  "--set",   "simulate.feature_dim=16",
                                                  "--set",   "simulate.latent_dim=4",
                                                  "--set",   "simulate.hidden_dim=8",
                                                  "--set",   "simulate.train_runs=4",
                                                  "--set",   "simulate.test_runs=1",
                                                  "--set",   "simulate.snr=2",
                                                  "--quiet", "--out",
                                                  bids});
    BOOST_REQUIRE_MESSAGE(sim.exit_code == 0, sim.output);
    samples = dir.file("samples.h5");
    const auto prep = test::run_stage("prepare", {"--bids", bids, "--subject", "sub-01", "--features",
                                                  bids + "/stimuli/features.h5", "--out", samples, "--quiet"});
    BOOST_REQUIRE_MESSAGE(prep.exit_code == 0, prep.output);
    nofeat = dir.file("nofeat.h5");
    const auto prep2 = test::run_stage("prepare", {"--bids", bids, "--subject", "sub-01", "--out", nofeat, "--quiet"});
    BOOST_REQUIRE_MESSAGE(prep2.exit_code == 0, prep2.output);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ridge_stage)

BOOST_AUTO_TEST_CASE(decode_and_encode_write_predictions_and_a_map,
                     *utf::precondition(test::needs_python{{"nibabel", "h5py"}})) {
  PreparedStudy st;
  const std::string dec = st.dir.file("decode.h5"), enc = st.dir.file("encode.h5");
  auto r = test::run_stage("ridge", {"--samples", st.samples, "--out", dec, "--quiet"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Predictions p = read_predictions(dec);
  const Samples s = read_samples(st.samples);
  BOOST_CHECK_EQUAL(p.predictions.rows(), s.n_samples());
  BOOST_CHECK_EQUAL(p.predictions.cols(), 16);
  BOOST_CHECK_EQUAL(p.fold_alpha.rows(), 5);  // leave-one-run-out over 5 runs
  BOOST_CHECK_EQUAL(p.weights.rows(), s.n_voxels());
  BOOST_CHECK_GT(metrics::mean_finite(p.profile_corr), 0.2);  // snr 2: clearly decodable
  r = test::run_stage("ridge", {"--samples", st.samples, "--out", enc, "--set", "ridge.mode=encode", "--quiet"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string map = st.dir.file("encode_corr.nii.gz");
  BOOST_REQUIRE(fs::exists(map));
  // The map puts each voxel's CV correlation at its (i,j,k), on the subject's grid.
  const std::string out = test::run_python_ok(
      "import nibabel as nib, h5py, numpy as np\n"
      "m = nib.load('" +
      map + "'); s = h5py.File('" + st.samples + "'); p = h5py.File('" + enc +
      "')\n"
      "ijk = s['voxels/ijk'][:]; c = p['metrics/profile_corr'][:]; d = m.get_fdata()\n"
      "print(m.shape == tuple(s['grid/dims'][:]), np.allclose(m.affine, s['grid/affine'][:]),\n"
      "      np.allclose(d[ijk[:,0], ijk[:,1], ijk[:,2]], np.nan_to_num(c), atol=1e-6), p['predictions'].shape[1] == "
      "ijk.shape[0])\n");
  BOOST_CHECK_EQUAL(out, "True True True True\n");
}

BOOST_AUTO_TEST_CASE(bdata_input_decodes, *utf::precondition(test::needs_python{{"h5py", "numpy"}})) {
  test::TempDir dir("v2c-ridge-bdata");
  // A BData file as bdpy lays it out: 60 voxels + Run + Label columns, 6 runs x 12 samples,
  // 4 stimuli whose voxel patterns differ; features in a CSV keyed by the vmap names.
  test::run_python_ok(
      "import h5py, numpy as np\n"
      "rng = np.random.default_rng(0); n, v = 72, 60\n"
      "label = np.tile([1., 2., 3., 4.], n // 4); run = np.repeat(np.arange(1., 7.), 12)\n"
      "proto = rng.normal(size=(5, v)); data = proto[label.astype(int)] + rng.normal(size=(n, v))\n"
      "ds = np.column_stack([data, run, label])\n"
      "keys = ['VoxelData', 'Run', 'Label']; meta = np.full((3, v + 2), np.nan)\n"
      "meta[0, :v] = 1; meta[1, v] = 1; meta[2, v + 1] = 1\n"
      "with h5py.File('sub.h5', 'w') as f:\n"
      "    f['dataset'] = ds\n"
      "    f['metadata/key'] = np.array([k.encode() for k in keys], dtype='S16')\n"
      "    f['metadata/description'] = np.array([b'voxels', b'run', b'label'], dtype='S16')\n"
      "    f['metadata/value'] = meta\n"
      "    for val, name in [(1, 'cat'), (2, 'dog'), (3, 'car'), (4, 'cup')]:\n"
      "        f['vmap/Label/%.1f' % val] = name\n"
      "feat = rng.normal(size=(4, 8))\n"
      "with open('feat.csv', 'w') as o:\n"
      "    o.write('id,' + ','.join('f%d' % i for i in range(8)) + '\\n')\n"
      "    for name, row in zip(['cat', 'dog', 'car', 'cup'], feat): o.write(name + ',' + ','.join(map(str, row)) + "
      "'\\n')\n",
      dir.path().string());
  const std::string out = dir.file("pred.h5");
  const auto r = test::run_stage("ridge", {"--bdata", dir.file("sub.h5"), "--features", dir.file("feat.csv"), "--out",
                                           out, "--set", "ridge.inner_folds=3", "--quiet"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Predictions p = read_predictions(out);
  BOOST_CHECK_EQUAL(p.predictions.rows(), 72);
  BOOST_CHECK_EQUAL(p.fold_alpha.rows(), 6);
  BOOST_CHECK_EQUAL(p.stimulus[1], "dog");
  // Distinct voxel patterns per stimulus: identification among the 4 is near perfect.
  MatrixF feats(4, 8);
  std::map<std::string, int> row;
  for (size_t i = 0; i < p.stimulus.size() && row.size() < 4; ++i)
    if (!row.count(p.stimulus[i]))
      row[p.stimulus[i]] = int(row.size()), feats.row(row[p.stimulus[i]]) = p.truth.row(int64_t(i));
  const auto idx = metrics::nearest(p.predictions, feats);
  double hits = 0;
  for (size_t i = 0; i < idx.size(); ++i) hits += idx[i] == row[p.stimulus[i]];
  BOOST_CHECK_GT(hits / double(idx.size()), 0.8);
}

BOOST_AUTO_TEST_CASE(bad_input_and_config) {
  PreparedStudy st;
  const std::string out = st.dir.file("bad.h5");
  auto r = test::run_stage("ridge", {"--samples", st.nofeat, "--out", out});
  BOOST_CHECK_EQUAL(r.exit_code, 3);
  BOOST_CHECK(r.output.find("--features") != std::string::npos);
  r = test::run_stage("ridge", {"--samples", st.samples, "--out", out, "--set", "ridge.alphas=[10, 1]"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK(r.output.find("ridge.alphas") != std::string::npos);
  r = test::run_stage(
      "ridge", {"--samples", st.samples, "--out", out, "--set", "ridge.outer=groups", "--set", "ridge.outer_folds=9"});
  BOOST_CHECK_EQUAL(r.exit_code, 3);
  BOOST_CHECK(r.output.find("9 folds") != std::string::npos);
  r = test::run_stage("ridge", {"--samples", st.samples, "--bdata", st.samples, "--out", out});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  r = test::run_stage("ridge", {"--samples", st.dir.file("missing.h5"), "--out", out});
  BOOST_CHECK_EQUAL(r.exit_code, 4);
  BOOST_CHECK(!fs::exists(out));
}

BOOST_AUTO_TEST_SUITE_END()
