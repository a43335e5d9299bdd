// v2c-simulate: planted-truth checks of the generative model (pipeline/sim/study.h) and an
// end-to-end run of the built binary (layout, determinism, --force, bad config).
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "pipeline/io/events.h"
#include "pipeline/io/h5.h"
#include "pipeline/io/nifti.h"
#include "pipeline/io/tsv.h"
#include "pipeline/sim/study.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

// A small study: 1 subject on a 10x12x10 grid, short runs.
sim::StudyParams tiny_params() {
  sim::StudyParams p;
  p.n_categories = 4;
  p.feature_dim = 32;
  p.train_per_category = 6;
  p.test_per_category = 2;
  p.latent_dim = 8;
  p.hidden_dim = 32;
  p.n_subjects = 1;
  p.grid_dims = {10, 12, 10};
  p.grid_jitter = 1;
  p.train_runs = 3;
  p.test_runs = 2;
  return p;
}

double correlation(const VectorD& a, const VectorD& b) {
  const VectorD x = a.array() - a.mean(), y = b.array() - b.mean();
  return x.dot(y) / std::sqrt(x.squaredNorm() * y.squaredNorm());
}

fs::path test_dir(const std::string& name) {
  const char* base = std::getenv("V2C_TEST_TMP");
  fs::path p = fs::path(base && *base ? base : fs::temp_directory_path().string()) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

struct Command {
  int exit_code;
  std::string output;
};

Command run_simulate(const std::string& args, const fs::path& log) {
  const char* bin = std::getenv("V2C_BIN_DIR");
  const std::string exe = std::string(bin && *bin ? bin : "build/bin") + "/v2c-simulate";
  const std::string cmd = test::shell_quote(exe) + " " + args + " > " + test::shell_quote(log.string()) + " 2>&1";
  const int status = std::system(cmd.c_str());
  return {status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_text_file(log)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(simulate)

BOOST_AUTO_TEST_CASE(same_seed_same_matrices_other_seed_others) {
  const sim::StudyParams p = tiny_params();
  const sim::Study a = sim::make_study(p, 7), b = sim::make_study(p, 7), c = sim::make_study(p, 8);
  BOOST_CHECK(a.stimuli.features == b.stimuli.features);
  BOOST_CHECK(a.latent == b.latent);
  BOOST_CHECK(a.stimuli.ids == b.stimuli.ids);
  BOOST_CHECK((a.stimuli.features - c.stimuli.features).norm() > 0.1);
  BOOST_CHECK((a.latent - c.latent).norm() > 0.1);

  auto subject = [&](const sim::Study& st, uint64_t seed) {
    sim::Subject s = sim::make_subject(p, 0, seed, st.stimuli);
    const MatrixD amp = sim::amplitudes(p, s, st.latent);
    sim::calibrate_noise(p, s, amp);
    return std::make_pair(s, sim::simulate_run(p, s, 1, amp).bold(s.baseline));
  };
  const auto [sa, bold_a] = subject(a, 7);
  const auto [sb, bold_b] = subject(b, 7);
  const auto [sc, bold_c] = subject(c, 8);
  BOOST_CHECK(sa.flat == sb.flat);
  BOOST_CHECK(sa.readout == sb.readout);
  BOOST_CHECK(bold_a == bold_b);
  BOOST_CHECK(sa.flat != sc.flat || (sa.readout - sc.readout).norm() > 0.1);
  BOOST_CHECK(bold_a.rows() != bold_c.rows() || bold_a.cols() != bold_c.cols() || (bold_a - bold_c).norm() > 1.0);
}

BOOST_AUTO_TEST_CASE(stimuli_are_unit_vectors_and_latent_is_standardised) {
  for (bool linear : {false, true}) {
    sim::StudyParams p = tiny_params();
    p.linear = linear;
    const sim::Study st = sim::make_study(p, 3);
    BOOST_REQUIRE_EQUAL(st.stimuli.features.rows(), 4 * (6 + 2));
    for (int i = 0; i < st.stimuli.features.rows(); ++i)
      BOOST_CHECK_SMALL(double(st.stimuli.features.row(i).norm()) - 1.0, 1e-5);
    for (int j = 0; j < st.latent.cols(); ++j) {
      const double mean = st.latent.col(j).mean();
      BOOST_CHECK_SMALL(mean, 1e-9);
      BOOST_CHECK_CLOSE_FRACTION(std::sqrt((st.latent.col(j).array() - mean).square().mean()), 1.0, 1e-9);
    }
    BOOST_CHECK_EQUAL(st.stimuli.ids.front(), "train-c00-0000");
    BOOST_CHECK_EQUAL(st.stimuli.ids.back(), "test-c03-0001");
    // Clustered: stimuli are closer to their own centre than to the others.
    const MatrixF sim_to_centres = st.stimuli.features * st.stimuli.centres.transpose();
    for (int i = 0; i < sim_to_centres.rows(); ++i) {
      Eigen::Index best;
      sim_to_centres.row(i).maxCoeff(&best);
      BOOST_CHECK_EQUAL(int(best), st.stimuli.category[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(hrf_peaks_near_5s_and_has_unit_integral) {
  const double dt = 0.01;
  const std::vector<double> h = sim::sample_hrf(dt, 32.0);
  const auto peak = std::max_element(h.begin(), h.end()) - h.begin();
  BOOST_CHECK_GE(peak * dt, 4.5);
  BOOST_CHECK_LE(peak * dt, 6.0);
  // Undershoot: negative after ~12 s, minimum near 15 s.
  BOOST_CHECK_LT(sim::hrf(15.0), 0.0);
  double area = 0;  // trapezoid
  for (size_t i = 1; i < h.size(); ++i) area += 0.5 * dt * (h[i - 1] + h[i]);
  BOOST_CHECK_CLOSE_FRACTION(area, 1.0, 1e-3);
  // The analytic integral agrees with the sampled one.
  for (double t : {2.0, 5.0, 10.0, 20.0}) {
    double part = 0;
    for (int i = 1; i * dt <= t + 1e-12; ++i) part += 0.5 * dt * (sim::hrf((i - 1) * dt) + sim::hrf(i * dt));
    BOOST_CHECK_SMALL(part - sim::hrf_integral(t), 1e-5);
  }
  // A long block reaches its amplitude; an event is the difference of two integrals.
  BOOST_CHECK_CLOSE_FRACTION(sim::boxcar_response(50.0, 0.0, 60.0), 1.0, 1e-4);
  BOOST_CHECK_SMALL(sim::boxcar_response(-1.0, 0.0, 4.0), 1e-15);
  BOOST_CHECK_CLOSE_FRACTION(sim::boxcar_response(9.0, 2.0, 4.0), sim::hrf_integral(7.0) - sim::hrf_integral(3.0),
                             1e-12);
}

BOOST_AUTO_TEST_CASE(schedule_shows_train_once_and_test_only_in_test_runs) {
  for (const char* design : {"event", "block"}) {
    sim::StudyParams p = tiny_params();
    p.design = design;
    p.test_repeats = 3;
    const sim::Stimuli stim = sim::make_stimuli(p, 11);
    sim::Rng rng(5);
    const std::vector<sim::Run> runs = sim::make_schedule(p, stim, rng);
    BOOST_REQUIRE_EQUAL(runs.size(), size_t(p.train_runs + p.test_runs));
    std::map<int, int> train_count, test_count;
    for (const auto& run : runs) {
      double last_end = 0;
      for (const auto& e : run.events) {
        BOOST_CHECK_GE(e.onset_s, last_end);  // no overlap, in order
        last_end = e.onset_s + e.duration_s;
        BOOST_CHECK_EQUAL(stim.split[e.stimulus], run.split);
        (run.split == "train" ? train_count : test_count)[e.stimulus]++;
      }
      BOOST_CHECK_LE(last_end + p.rest_end_s, run.n_volumes * p.tr_s + 1e-9);
    }
    BOOST_CHECK_EQUAL(train_count.size(), stim.train_indices().size());
    for (const auto& [s, n] : train_count) BOOST_CHECK_EQUAL(n, 1);
    BOOST_CHECK_EQUAL(test_count.size(), stim.test_indices().size());
    for (const auto& [s, n] : test_count) BOOST_CHECK_EQUAL(n, p.test_repeats);
  }
}

BOOST_AUTO_TEST_CASE(block_averages_recover_planted_amplitudes) {
  sim::StudyParams p = tiny_params();
  p.linear = true;
  p.snr = 1e4;
  p.drift = 0;
  p.design = "block";
  p.block_s = 16;
  p.isi_s = 16;
  sim::Study st = sim::make_study(p, 21);
  sim::Subject s = sim::make_subject(p, 0, 21, st.stimuli);
  const MatrixD amp = sim::amplitudes(p, s, st.latent);
  sim::calibrate_noise(p, s, amp);

  // Per voxel: block averages (volumes 6 s after onset to 2 s after offset) minus the baseline,
  // over every block of every run, against the true amplitude of the stimulus shown.
  std::vector<std::vector<double>> measured(s.n_voxels()), truth(s.n_voxels());
  for (size_t r = 0; r < s.runs.size(); ++r) {
    const MatrixD bold = sim::simulate_run(p, s, int(r), amp).bold(s.baseline);
    for (const auto& e : s.runs[r].events) {
      const int k0 = int(std::ceil((e.onset_s + 6.0) / p.tr_s)), k1 = int((e.onset_s + e.duration_s + 2.0) / p.tr_s);
      BOOST_REQUIRE_LT(k1, bold.rows());
      for (int64_t v = 0; v < s.n_voxels(); ++v) {
        measured[v].push_back(bold.col(v).segment(k0, k1 - k0 + 1).mean() - s.baseline[v]);
        truth[v].push_back(amp(e.stimulus, v));
      }
    }
  }
  int responsive = 0, good = 0;
  for (int64_t v = 0; v < s.n_voxels(); ++v) {
    if (!s.responsive[v]) continue;
    ++responsive;
    const VectorD m = Eigen::Map<VectorD>(measured[v].data(), Eigen::Index(measured[v].size()));
    const VectorD t = Eigen::Map<VectorD>(truth[v].data(), Eigen::Index(truth[v].size()));
    good += correlation(m, t) > 0.95;
  }
  BOOST_REQUIRE_GT(responsive, 10);
  BOOST_CHECK_EQUAL(good, responsive);
}

BOOST_AUTO_TEST_CASE(measured_snr_matches_config) {
  for (double snr : {0.5, 2.0}) {
    sim::StudyParams p = tiny_params();
    p.snr = snr;
    sim::Study st = sim::make_study(p, 5);
    sim::Subject s = sim::make_subject(p, 0, 5, st.stimuli);
    const MatrixD amp = sim::amplitudes(p, s, st.latent);
    sim::calibrate_noise(p, s, amp);
    std::vector<MatrixD> signal, noise;
    for (size_t r = 0; r < s.runs.size(); ++r) {
      sim::RunSeries series = sim::simulate_run(p, s, int(r), amp);
      signal.push_back(series.signal);
      noise.push_back(series.noise);
    }
    BOOST_CHECK_CLOSE_FRACTION(sim::snr_of(signal, noise, s.responsive), snr, 0.10);
    // AR(1): lag-1 autocorrelation of the noise near ar1.
    double c0 = 0, c1 = 0;
    for (const auto& n : noise) {
      c0 += n.squaredNorm();
      c1 += (n.topRows(n.rows() - 1).array() * n.bottomRows(n.rows() - 1).array()).sum();
    }
    BOOST_CHECK_SMALL(c1 / c0 - p.ar1, 0.05);
  }
}

BOOST_AUTO_TEST_CASE(cross_field_rules_name_the_field) {
  sim::StudyParams p = tiny_params();
  p.train_runs = 100;
  test::check_error([&] { sim::validate(p); }, ExitCode::usage, {"simulate.train_runs", "100"});
  p = tiny_params();
  p.grid_dims = {10, 12};
  test::check_error([&] { sim::validate(p); }, ExitCode::usage, {"simulate.grid_dims"});
}

BOOST_AUTO_TEST_CASE(end_to_end_binary) {
  const fs::path dir = test_dir("simulate_e2e");
  const std::string tiny =
      "--set simulate.n_subjects=2 --set simulate.grid_dims=[8,9,8] --set simulate.grid_jitter=1 "
      "--set simulate.n_categories=3 --set simulate.train_per_category=4 --set simulate.test_per_category=2 "
      "--set simulate.feature_dim=16 --set simulate.latent_dim=4 --set simulate.hidden_dim=8 "
      "--set simulate.train_runs=2 --set simulate.test_runs=1 --quiet";
  const fs::path study = dir / "study";
  Command first = run_simulate(tiny + " --seed 4 --out " + study.string(), dir / "first.log");
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.output);
  for (const char* f : {"dataset_description.json", "participants.tsv", "task-sim_bold.json", "stimuli/features.h5",
                        "stimuli/stimuli.tsv", "ground_truth.h5"})
    BOOST_CHECK_MESSAGE(fs::is_regular_file(study / f), f);
  for (const char* sub : {"sub-01", "sub-02"}) {
    const std::string s = sub;
    BOOST_CHECK(fs::is_regular_file(study / s / "anat" / (s + "_desc-brain_mask.nii.gz")));
    BOOST_CHECK(fs::is_regular_file(study / s / "func" / (s + "_task-sim_runs.tsv")));
    for (const char* run : {"01", "02", "03"}) {
      const std::string stem = s + "_task-sim_run-" + run;
      BOOST_CHECK(fs::is_regular_file(study / s / "func" / (stem + "_bold.nii.gz")));
      BOOST_CHECK(fs::is_regular_file(study / s / "func" / (stem + "_events.tsv")));
    }
  }
  // Read back through our own readers: the mask matches the truth and participants.tsv, events
  // name stimuli of the run's split.
  const Table participants = read_table((study / "participants.tsv").string());
  const h5::ArtifactReader truth((study / "ground_truth.h5").string(), "simulation_truth", 1);
  const std::string func = (study / "sub-02" / "func" / "sub-02_task-sim_run-03").string();
  const nifti::Header grid = nifti::read_header(func + "_bold.nii.gz");
  BOOST_CHECK_EQUAL(grid.datatype_name, "int16");
  BOOST_CHECK_CLOSE_FRACTION(grid.tr_seconds, 2.0, 1e-9);
  const nifti::Mask mask = nifti::load_mask((study / "sub-02/anat/sub-02_desc-brain_mask.nii.gz").string(), grid);
  BOOST_CHECK(mask.flat == truth.read_ints("sub-02/voxel_index"));
  BOOST_CHECK_EQUAL(participants.cell(1, participants.column("n_voxels")), std::to_string(mask.flat.size()));
  BOOST_CHECK(truth.read_strings("sub-02/run_split") == (std::vector<std::string>{"train", "train", "test"}));
  for (const auto& e : events::read_events_tsv(func + "_events.tsv"))
    BOOST_CHECK_EQUAL(e.stimulus.substr(0, 5), "test-");
  const Table features_ids = read_table((study / "stimuli/stimuli.tsv").string());
  BOOST_CHECK_EQUAL(features_ids.rows.size(), 3u * (4 + 2));

  // The same seed again (other directory): identical NIfTI, TSV and JSON files.
  const fs::path again = dir / "again";
  Command second = run_simulate(tiny + " --seed 4 --threads 1 --out " + again.string(), dir / "again.log");
  BOOST_REQUIRE_MESSAGE(second.exit_code == 0, second.output);
  int compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(study)) {
    const std::string name = entry.path().string();
    if (!entry.is_regular_file() || name.ends_with(".h5")) continue;
    const fs::path twin = again / fs::relative(entry.path(), study);
    BOOST_CHECK_MESSAGE(test::read_text_file(entry.path()) == test::read_text_file(twin), "differs: " << name);
    ++compared;
  }
  BOOST_CHECK_GE(compared, 2 * 8 + 4);

  // Existing output without --force: exit 2, first study untouched.
  const std::string before = test::read_text_file(study / "sub-01/func/sub-01_task-sim_run-01_bold.nii.gz");
  Command refused = run_simulate(tiny + " --seed 5 --out " + study.string(), dir / "refused.log");
  BOOST_CHECK_EQUAL(refused.exit_code, 2);
  BOOST_CHECK(refused.output.find("already exists") != std::string::npos);
  BOOST_CHECK(test::read_text_file(study / "sub-01/func/sub-01_task-sim_run-01_bold.nii.gz") == before);

  // With --force the study is replaced (another seed: other data).
  Command forced = run_simulate(tiny + " --seed 5 --force --out " + study.string(), dir / "forced.log");
  BOOST_CHECK_EQUAL(forced.exit_code, 0);
  BOOST_CHECK(test::read_text_file(study / "sub-01/func/sub-01_task-sim_run-01_bold.nii.gz") != before);

  // An invalid value: exit 2, names the field, writes nothing (no study, no temporary).
  const fs::path bad = dir / "bad";
  Command invalid = run_simulate("--set simulate.snr=-1 --out " + bad.string(), dir / "invalid.log");
  BOOST_CHECK_EQUAL(invalid.exit_code, 2);
  BOOST_CHECK_MESSAGE(invalid.output.find("simulate.snr") != std::string::npos, invalid.output);
  BOOST_CHECK(!fs::exists(bad));
  for (const auto& entry : fs::directory_iterator(dir))
    BOOST_CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos,
                        "left behind: " << entry.path());
  // A cross-field rule is also a usage error before anything is written.
  Command too_many = run_simulate(tiny + " --set simulate.train_runs=50 --out " + bad.string(), dir / "many.log");
  BOOST_CHECK_EQUAL(too_many.exit_code, 2);
  BOOST_CHECK(too_many.output.find("simulate.train_runs") != std::string::npos);
  BOOST_CHECK(!fs::exists(bad));
}

BOOST_AUTO_TEST_CASE(nibabel_reads_the_study,
                     *boost::unit_test::precondition(test::needs_python{{"nibabel", "numpy"}})) {
  const fs::path dir = test_dir("simulate_nibabel");
  const fs::path study = dir / "study";
  Command made = run_simulate(
      "--set simulate.n_subjects=1 --set simulate.grid_dims=[8,9,8] --set simulate.n_categories=2 "
      "--set simulate.feature_dim=16 --set simulate.latent_dim=4 --set simulate.hidden_dim=8 "
      "--set simulate.train_runs=2 --set simulate.test_runs=1 --quiet --out " +
          study.string(),
      dir / "made.log");
  BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.output);
  const std::string out = test::run_python_ok(
      "import nibabel as nib, numpy as np\n"
      "b = nib.load('sub-01/func/sub-01_task-sim_run-01_bold.nii.gz')\n"
      "m = nib.load('sub-01/anat/sub-01_desc-brain_mask.nii.gz')\n"
      "assert b.ndim == 4 and b.header.get_data_dtype() == np.int16, b.header\n"
      "assert abs(b.header['pixdim'][4] - 2.0) < 1e-6\n"
      "assert np.allclose(b.affine, m.affine)\n"
      "mask = np.asarray(m.dataobj)[..., 0] if m.ndim == 4 else np.asarray(m.dataobj)\n"
      "d = b.get_fdata()[mask > 0]\n"
      "assert 700 < d.mean() < 1300, d.mean()\n"
      "print(int((mask > 0).sum()))\n",
      study.string());
  const Table participants = read_table((study / "participants.tsv").string());
  BOOST_CHECK_EQUAL(std::stoi(out), std::stoi(participants.cell(0, 1)));
}

BOOST_AUTO_TEST_SUITE_END()
