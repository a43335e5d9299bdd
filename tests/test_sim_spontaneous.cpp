// Spontaneous activity of the simulated study (sim/spontaneous.h): the latent's AR statistics, the
// read-out it goes through (the subject's own, or permuted rows for the negative control), the
// rest runs, subjects with rest runs only (simulate.unlabelled_subjects, listed by v2c-plan as
// UNLABELLED), and that a study without them is unchanged.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <Eigen/SVD>

#include "pipeline/sim/spontaneous.h"
#include "pipeline/sim/study.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

sim::StudyParams small_study() {
  sim::StudyParams p;
  p.n_categories = 2;
  p.train_per_category = 4;
  p.test_per_category = 1;
  p.feature_dim = 16;
  p.latent_dim = 5;
  p.hidden_dim = 16;
  p.grid_dims = {8, 8, 6};
  p.grid_jitter = 0;
  p.train_runs = 2;
  p.test_runs = 1;
  p.test_repeats = 1;
  return p;
}

struct Made {
  sim::Study st;
  sim::Subject s;
  MatrixD amp;
};
Made make(const sim::StudyParams& p) {
  Made m{sim::make_study(p, 3), {}, {}};
  m.s = sim::make_subject(p, 0, 3, m.st.stimuli);
  m.amp = sim::amplitudes(p, m.s, m.st.latent);
  sim::calibrate_noise(p, m.s, m.amp);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_spontaneous)

BOOST_AUTO_TEST_CASE(latent_units_are_stationary_ar1_with_unit_variance) {
  rng::StreamRng rng(9);
  const MatrixD u = sim::spontaneous_latent(20000, 3, 0.8, rng);
  for (int k = 0; k < 3; ++k) {
    const Eigen::VectorXd x = u.col(k);
    const double var = x.squaredNorm() / double(x.size());
    const double lag1 = x.head(x.size() - 1).dot(x.tail(x.size() - 1)) / double(x.size() - 1) / var;
    BOOST_CHECK_CLOSE_FRACTION(var, 1.0, 0.1);
    BOOST_CHECK_CLOSE_FRACTION(lag1, 0.8, 0.03);
  }
}

BOOST_AUTO_TEST_CASE(rest_runs_follow_the_stimulus_runs_and_leave_them_alone) {
  sim::StudyParams p = small_study();
  const Made plain = make(p);
  p.spontaneous.rest_runs = 2;
  p.spontaneous.rest_run_s = 101;  // 51 volumes at TR 2
  const Made with_rest = make(p);
  BOOST_REQUIRE_EQUAL(with_rest.s.runs.size(), plain.s.runs.size() + 2);
  for (size_t r = 0; r < plain.s.runs.size(); ++r) {
    BOOST_CHECK_EQUAL(with_rest.s.runs[r].events.size(), plain.s.runs[r].events.size());
    BOOST_CHECK_EQUAL(with_rest.s.runs[r].split, plain.s.runs[r].split);
  }
  const sim::Run& rest = with_rest.s.runs.back();
  BOOST_CHECK_EQUAL(rest.split, "rest");
  BOOST_CHECK(rest.events.empty());
  BOOST_CHECK_EQUAL(rest.n_volumes, 51);
  BOOST_CHECK_EQUAL(rest.number, int(plain.s.runs.size()) + 2);
  // The noise is calibrated on the stimulus runs only: rest runs do not change it.
  BOOST_CHECK_EQUAL(with_rest.s.noise_scale, plain.s.noise_scale);
  // Without spontaneous activity a run is what it was.
  BOOST_CHECK(sim::simulate_run(p, with_rest.s, 0, with_rest.amp).bold(with_rest.s.baseline) ==
              sim::simulate_run(small_study(), plain.s, 0, plain.amp).bold(plain.s.baseline));
}

BOOST_AUTO_TEST_CASE(voxels_read_the_fluctuation_through_their_own_or_permuted_read_out) {
  sim::StudyParams p = small_study();
  p.spontaneous.pct = 4.0;
  p.spontaneous.rest_runs = 1;
  const Made m = make(p);
  const MatrixD S = sim::spontaneous_readout(p.spontaneous, m.s);
  for (int64_t v = 0; v < m.s.n_voxels(); ++v)
    BOOST_CHECK_SMALL((S.row(v) - m.s.baseline[v] * 0.04 * m.s.readout.row(v)).norm(), 1e-9);
  // Every run carries it, of rank latent_dim, added to the BOLD.
  const int rest = int(m.s.runs.size()) - 1;
  const sim::RunSeries series = sim::simulate_run(p, m.s, rest, m.amp);
  BOOST_REQUIRE_EQUAL(series.spontaneous.rows(), m.s.runs.back().n_volumes);
  BOOST_CHECK(series.signal.isZero());  // no stimuli in a rest run
  Eigen::JacobiSVD<MatrixD> svd(series.spontaneous);
  const auto sv = svd.singularValues();
  BOOST_CHECK_LT(sv(p.latent_dim), 1e-8 * sv(0));
  BOOST_CHECK_GT(sv(p.latent_dim - 1), 1e-3 * sv(0));
  const MatrixD bold = series.bold(m.s.baseline);
  MatrixD expected = series.signal + series.drift + series.noise + series.spontaneous;
  expected.rowwise() += m.s.baseline.transpose();
  BOOST_CHECK_SMALL((bold - expected).cwiseAbs().maxCoeff(), 1e-9);

  // Negative control: the same rows of A, on other voxels.
  p.spontaneous.linked = false;
  const MatrixD P = sim::spontaneous_readout(p.spontaneous, m.s);
  int moved = 0;
  for (int64_t v = 0; v < m.s.n_voxels(); ++v) {
    const Eigen::RowVectorXd a = P.row(v) / (m.s.baseline[v] * 0.04);
    bool found = false;
    for (int64_t w = 0; w < m.s.n_voxels() && !found; ++w) found = (a - m.s.readout.row(w)).norm() < 1e-9;
    BOOST_CHECK(found);
    moved += (a - m.s.readout.row(v)).norm() > 1e-9 ? 1 : 0;
  }
  BOOST_CHECK_GT(moved, m.s.n_voxels() / 4);
}

// Unlabelled subjects come after the others with their rest runs only (empty events files); the
// labelled subjects' files are byte for byte those of the study without them.
BOOST_AUTO_TEST_CASE(unlabelled_subjects_have_rest_runs_only_and_change_nobody_else) {
  test::TempDir dir("v2c-sim-unlabelled");
  const std::string base =
      "simulate:\n  n_subjects: 1\n  n_categories: 2\n  train_per_category: 4\n  test_per_category: 1\n"
      "  feature_dim: 16\n  latent_dim: 4\n  hidden_dim: 8\n  grid_dims: [8, 8, 6]\n  train_runs: 2\n"
      "  test_runs: 1\n  test_repeats: 1\n  spontaneous_pct: 3\n  rest_runs: 2\n  rest_run_s: 40\n";
  for (int n : {0, 2}) {
    const std::string cfg = dir.write(cat("sim", n, ".yaml"), base + cat("  unlabelled_subjects: ", n, "\n"));
    const test::StageRun r =
        test::run_stage("simulate", {"--config", cfg, "--out", dir.file(cat("bids", n)), "--quiet"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const test::StageRun plan = test::run_stage(
        "plan", {"--config", cfg, "--bids-dir", dir.file("b"), "--out", dir.file(cat("plan", n, ".mk")), "--quiet"});
    BOOST_REQUIRE_MESSAGE(plan.exit_code == 0, plan.output);
    const std::string mk = test::read_text_file(dir.file(cat("plan", n, ".mk")));
    BOOST_CHECK(mk.find(n ? "\nUNLABELLED := sub-02 sub-03\n" : "\nUNLABELLED := \n") != std::string::npos);
    BOOST_CHECK(mk.find("\nSUBJECTS := sub-01\n") != std::string::npos);
    BOOST_CHECK_EQUAL(mk.find("PRETRAIN_FOR_sub-02"), std::string::npos);  // never held out
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.file("bids0/sub-01/func")))
    BOOST_CHECK_MESSAGE(test::read_text_file(e.path()) ==
                            test::read_text_file(dir.file("bids2/sub-01/func/" + e.path().filename().string())),
                        e.path().filename() << " differs");
  for (const char* sub : {"sub-02", "sub-03"}) {
    const std::string func = dir.file(cat("bids2/", sub, "/func/"));
    BOOST_CHECK_EQUAL(test::read_text_file(func + sub + "_task-sim_runs.tsv"),
                      "run\tsplit\tn_volumes\n4\trest\t20\n5\trest\t20\n");
    for (int run : {4, 5})
      BOOST_CHECK_EQUAL(test::read_text_file(func + cat(sub, "_task-sim_run-0", run, "_events.tsv")),
                        "onset\tduration\ttrial_type\n");
    BOOST_CHECK(!std::filesystem::exists(func + sub + "_task-sim_run-01_bold.nii.gz"));
  }
  // Rest runs are needed.
  const std::string bad = dir.write("bad.yaml", "simulate:\n  unlabelled_subjects: 1\n");
  test::check_stage_failure(test::run_stage("simulate", {"--config", bad, "--out", dir.file("bad")}), 2,
                            dir.file("bad"), {"simulate.unlabelled_subjects", "rest_runs"});
}

BOOST_AUTO_TEST_SUITE_END()
