// v2c-prepare on real designs, through the executable: short events in event mode, GLM trial
// estimates against the numpy oracle, averaging by an events column, the TR from BIDS sidecars,
// fMRIPrep confounds (found beside runs or given; every bad file; a planted motion artefact removed
// by the matching columns, seen in the cleaned volumes), --mask auto, one-hot features,
// a BIDS tree with fMRIPrep derivatives, and a simulated event-related study (0.9 s events at TR 2 s,
// jittered onsets) giving a sample per event in event and glm modes.
#include <boost/test/unit_test.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>

#include "pipeline/io/events.h"
#include "pipeline/io/nifti.h"
#include "pipeline/io/samples.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/prep/drift.h"
#include "pipeline/prep/hrf.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;
namespace utf = boost::unit_test;
using test::check_stage_failure;
using test::run_stage;
using test::StageRun;

namespace {

constexpr int kNx = 4, kNy = 4, kNz = 2;  // 32 voxels, all in the mask

struct Event {
  double onset, duration;
  std::string stimulus, block;
};

// A run of nt volumes on the 4x4x2 grid, float32, header TR `header_tr`: baseline 1000 + drift +
// noise + each event's response (amplitude per stimulus and voxel) + 30 * motion[t] (when given).
std::string write_run(const test::TempDir& dir, const std::string& name, int nt, double header_tr, double true_tr,
                      const std::vector<Event>& events, uint64_t seed, const std::vector<double>& motion = {}) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  std::vector<prep::EventTiming> timing;
  for (const auto& e : events) timing.push_back({e.onset, e.duration});
  const MatrixD x = prep::event_regressors(timing, true_tr, nt);
  const int nv = kNx * kNy * kNz;
  std::vector<float> v(size_t(nv) * nt);
  std::vector<double> amp(events.size() * nv);
  for (size_t e = 0; e < events.size(); ++e)
    for (int j = 0; j < nv; ++j)
      amp[e * nv + j] =
          20.0 * (1.0 + 0.5 * std::sin(double(j) + double(std::hash<std::string>{}(events[e].stimulus) % 7)));
  for (int t = 0; t < nt; ++t)
    for (int j = 0; j < nv; ++j) {
      double val = 1000.0 + 5.0 * double(j) + 3.0 * std::sin(double(t) / 40.0) + 2.0 * g(rng);
      for (size_t e = 0; e < events.size(); ++e) val += amp[e * nv + j] * x(t, int64_t(e));
      if (!motion.empty()) val += 30.0 * motion[size_t(t)];
      v[size_t(t) * nv + j] = float(val);
    }
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  affine.diagonal() << 3.0, 3.0, 3.0, 1.0;
  const std::string path = dir.file(name);
  nifti::write_series(path, {kNx, kNy, kNz, nt}, affine, header_tr, v, "float32");
  return path;
}

std::string write_mask(const test::TempDir& dir) {
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  affine.diagonal() << 3.0, 3.0, 3.0, 1.0;
  const std::string path = dir.file("mask.nii.gz");
  nifti::write_series(path, {kNx, kNy, kNz, 1}, affine, 0.0, std::vector<float>(kNx * kNy * kNz, 1.0f), "int16");
  return path;
}

std::string events_tsv(const test::TempDir& dir, const std::string& name, const std::vector<Event>& events) {
  std::ostringstream os;
  os.precision(10);
  os << "onset\tduration\ttrial_type\tblock\n";
  for (const auto& e : events) os << e.onset << "\t" << e.duration << "\t" << e.stimulus << "\t" << e.block << "\n";
  return dir.write(name, os.str());
}

// 0.9 s events at jittered onsets (every `iti` s on average), stimuli a..d.
std::vector<Event> short_events(int n, double first, double iti, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  std::vector<Event> ev;
  for (int i = 0; i < n; ++i)
    ev.push_back({first + i * iti + iti * u(rng), 0.9, std::string(1, char('a' + i % 4)), "b" + std::to_string(i / 4)});
  return ev;
}

std::vector<std::string> args_of(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> a;
  for (const auto& p : parts) a.insert(a.end(), p.begin(), p.end());
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(prepare_designs)

BOOST_AUTO_TEST_CASE(short_events_each_give_a_sample_and_the_rest_are_named) {
  test::TempDir dir("v2c-designs");
  std::vector<Event> ev = short_events(60, 6.0, 4.6, 1);  // 0.9 s at TR 2: every phase against the TR
  ev.push_back({297.5, 0.9, "a", "late"});                // window starts at 301.5 s, the last volume is at 298 s
  const std::string bold = write_run(dir, "run_bold.nii.gz", 150, 2.0, 2.0, ev, 2);
  const std::string out = dir.file("samples.h5");
  const StageRun r = run_stage(
      "prepare", {"--bold", bold, "--events", events_tsv(dir, "ev.tsv", ev), "--mask", write_mask(dir), "--out", out});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Samples s = read_samples(out);
  BOOST_CHECK_EQUAL(s.n_samples(), 60);
  for (int i = 0; i < 60; ++i) BOOST_CHECK_EQUAL(s.volumes[size_t(i)], 1);
  BOOST_CHECK(r.output.find("ev.tsv' line 62: event 'a' at 297.5 s gives no sample: its window starts at 301.5 s") !=
              std::string::npos);
  BOOST_CHECK(r.output.find("after the run's last volume at 298 s") != std::string::npos);
  BOOST_REQUIRE_EQUAL(s.dropped_stimulus.size(), 1u);
  BOOST_CHECK_EQUAL(s.dropped_onset_s[0], 297.5);
  const std::string py =
      test::run_python_ok("import h5py\nf = h5py.File('" + out +
                          "', 'r')\n"
                          "print(f['samples'].attrs['dropped_events'], f['samples'].attrs['mode'])\n");
  BOOST_CHECK_EQUAL(py, "1 event\n");
}

BOOST_AUTO_TEST_CASE(glm_estimates_through_the_stage_equal_the_numpy_oracle,
                     *utf::precondition(test::needs_python{{"numpy", "nibabel", "h5py"}})) {
  // Two runs, 0.9 s events every ~4 s, a cosine high-pass and two confound columns: the whole
  // cleaning (drift + confounds regressed out, z-score) and the trial model built again in numpy.
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  test::TempDir dir("v2c-designs");
  std::vector<std::string> args = {"--bold"};
  std::vector<std::string> bolds, evs, confs;
  std::mt19937_64 rng(4);
  std::normal_distribution<double> g(0, 1);
  for (int r = 0; r < 2; ++r) {
    const std::vector<Event> ev = short_events(34, 5.0, 4.0, 10 + r);
    bolds.push_back(write_run(dir, "run" + std::to_string(r) + "_bold.nii.gz", 75, 2.0, 2.0, ev, 20 + r));
    evs.push_back(events_tsv(dir, "run" + std::to_string(r) + "_events.tsv", ev));
    std::ostringstream c;
    c << "trans_x\tcsf\tglobal_signal\n";
    double walk = 0;
    for (int t = 0; t < 75; ++t) c << (walk += 0.1 * g(rng)) << "\t" << g(rng) << "\t" << g(rng) << "\n";
    confs.push_back(dir.write("run" + std::to_string(r) + "_confounds.tsv", c.str()));
  }
  const std::string mask = write_mask(dir);
  for (const std::string method : {"lsa", "lss"}) {
    const std::string out = dir.file("samples_" + method + ".h5");
    const StageRun run =
        run_stage("prepare", args_of({{"--bold"},
                                      bolds,
                                      {"--events"},
                                      evs,
                                      {"--confounds"},
                                      confs,
                                      {"--mask", mask, "--out", out, "--set", "prepare.sample_mode=glm", "--set",
                                       "prepare.glm_method=" + method, "--set", "prepare.high_pass_s=100", "--set",
                                       "prepare.confounds=[trans_x, csf]"}}));
    BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.output);
    std::string py = "import sys\nsys.path.insert(0, '" + (*root / "tests/oracle").string() +
                     "')\n"
                     "import numpy as np, nibabel, h5py, glm_numpy as g\n"
                     "f = h5py.File('" +
                     out +
                     "', 'r')\nX = f['data'][:].astype(np.float64)\n"
                     "assert f['samples'].attrs['mode'] == 'glm-" +
                     method + "'\nworst = 0\nrow = 0\n";
    for (int r = 0; r < 2; ++r) {
      py += "y = np.asarray(nibabel.load('" + bolds[size_t(r)] +
            "').get_fdata()).reshape(-1, 75, order='F').T\n"
            "ev = np.genfromtxt('" +
            evs[size_t(r)] +
            "', delimiter='\\t', names=True, dtype=None, encoding=None)\n"
            "n = y.shape[0]\n"
            "c = np.genfromtxt('" +
            confs[size_t(r)] +
            "', delimiter='\\t', names=True)\n"
            "N = np.hstack([g.polynomial_basis(n, 2), g.cosine_basis(n, 2.0, 100.0), np.stack([c['trans_x'], "
            "c['csf']], 1)])\n"
            "res = y - N @ np.linalg.lstsq(N, y, rcond=None)[0]\n"
            "z = (res - res.mean(0)) / res.std(0)\n"
            "T = g.event_regressors(ev['onset'], ev['duration'], 2.0, n, 16)\n"
            "b = g." +
            method + "(z, T" + (method == std::string("lss") ? ", np.zeros(T.shape[1], int)" : "") +
            ", N)\n"
            "ours = X[row:row + T.shape[1]]\nrow += T.shape[1]\n"
            "worst = max(worst, (np.linalg.norm(ours - b, axis=1) / np.linalg.norm(b, axis=1)).max())\n";
    }
    py += "print(row == X.shape[0], worst)\n";
    std::istringstream out_py(test::run_python_ok(py));
    std::string all_rows;
    double worst = 1;
    out_py >> all_rows >> worst;
    BOOST_TEST_MESSAGE("glm " << method << " through v2c-prepare vs numpy: largest relative difference " << worst);
    BOOST_CHECK_EQUAL(all_rows, "True");
    BOOST_CHECK_SMALL(worst, 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(average_by_a_block_column) {
  test::TempDir dir("v2c-designs");
  // 5 blocks of 4 events of one stimulus each.
  std::vector<Event> ev;
  for (int b = 0; b < 5; ++b)
    for (int i = 0; i < 4; ++i)
      ev.push_back({10.0 + 40.0 * b + 2.5 * i, 2.0, std::string(1, char('a' + b % 3)), "block" + std::to_string(b)});
  const std::string bold = write_run(dir, "run_bold.nii.gz", 120, 2.0, 2.0, ev, 3);
  const std::string events = events_tsv(dir, "ev.tsv", ev), mask = write_mask(dir);
  const std::string single = dir.file("single.h5"), averaged = dir.file("averaged.h5");
  BOOST_REQUIRE(run_stage("prepare", {"--bold", bold, "--events", events, "--mask", mask, "--out", single}).exit_code ==
                0);
  const StageRun r = run_stage("prepare", {"--bold", bold, "--events", events, "--mask", mask, "--out", averaged,
                                           "--set", "prepare.average_by=block"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Samples s1 = read_samples(single), s2 = read_samples(averaged);
  BOOST_REQUIRE_EQUAL(s1.n_samples(), 20);
  BOOST_REQUIRE_EQUAL(s2.n_samples(), 5);
  for (int b = 0; b < 5; ++b) {
    const Eigen::RowVectorXf mean = s1.data.middleRows(4 * b, 4).colwise().mean();
    BOOST_CHECK_SMALL(double((s2.data.row(b) - mean).cwiseAbs().maxCoeff()), 1e-5);
    BOOST_CHECK_EQUAL(s2.stimulus[size_t(b)], s1.stimulus[size_t(4 * b)]);
    BOOST_CHECK_CLOSE_FRACTION(s2.onset_s[size_t(b)], 10.0 + 40.0 * b, 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(s2.duration_s[size_t(b)], 2.5 * 3 + 2.0, 1e-12);
  }
  // A block that mixes two stimuli cannot be one sample.
  ev[1].stimulus = "z";
  const std::string mixed = dir.file("mixed.h5");
  check_stage_failure(run_stage("prepare", {"--bold", bold, "--events", events_tsv(dir, "ev2.tsv", ev), "--mask", mask,
                                            "--out", mixed, "--set", "prepare.average_by=block"}),
                      3, mixed, {"prepare.average_by", "block0", "'a'", "'z'"});
  check_stage_failure(run_stage("prepare", {"--bold", bold, "--events", events, "--mask", mask, "--out", mixed, "--set",
                                            "prepare.average_by=blok"}),
                      3, mixed, {"ev.tsv", "blok"});
}

BOOST_AUTO_TEST_CASE(tr_from_the_bids_sidecar_and_messages_that_name_both) {
  // The header says 1.79 s, the acquisition (and the sidecar) 2 s: the run is 300 s long at 2 s and
  // 268.5 s at 1.79 s, and an event at 280 s tells them apart.
  test::TempDir dir("v2c-designs");
  std::vector<Event> ev = short_events(45, 6.0, 5.5, 5);  // up to 250 s
  ev.push_back({280.0, 0.9, "b", "x"});
  const std::string bold = write_run(dir, "sub-01_task-loc_bold.nii.gz", 150, 1.79, 2.0, ev, 6);
  const std::string events = events_tsv(dir, "sub-01_task-loc_events.tsv", ev), mask = write_mask(dir);
  const std::string out = dir.file("samples.h5");
  const std::vector<std::string> args = {"--bold", bold, "--events", events, "--mask", mask, "--out", out};
  check_stage_failure(
      run_stage("prepare", args), 3, out,
      {"line 47", "past the end of its run", "TR 1.79 s from the NIfTI header", "no BIDS sidecar", "prepare.tr_s"});
  const std::string json = dir.write("sub-01_task-loc_bold.json", "{\"RepetitionTime\": 2.0, \"TaskName\": \"loc\"}");
  const StageRun r = run_stage("prepare", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(r.output.find("the NIfTI header says TR 1.79 s, its BIDS sidecar 'sub-01_task-loc_bold.json' says 2 s; "
                            "using 2 s (BIDS sidecar)") != std::string::npos);
  const Samples s = read_samples(out);
  BOOST_CHECK_EQUAL(s.run_tr_s[0], 2.0);
  BOOST_CHECK_EQUAL(s.n_samples(), 46);
  fs::remove(out);
  // prepare.tr_s wins, and the message names all three.
  check_stage_failure(run_stage("prepare", args_of({args, {"--set", "prepare.tr_s=1.79"}})), 3, out,
                      {"TR 1.79 s from the prepare.tr_s", "the NIfTI header says 1.79 s", "the BIDS sidecar 2 s"});
  dir.write("sub-01_task-loc_bold.json", "{\"RepetitionTime\": \"2\"}");
  check_stage_failure(run_stage("prepare", args), 3, out, {"sub-01_task-loc_bold.json", "RepetitionTime", "\"2\""});
  dir.write("sub-01_task-loc_bold.json", "{\"RepetitionTime\": 2.0,");
  check_stage_failure(run_stage("prepare", args), 3, out, {"sub-01_task-loc_bold.json", "not valid JSON"});
}

BOOST_AUTO_TEST_CASE(confounds_found_beside_fmriprep_runs_and_every_bad_file_refused) {
  test::TempDir dir("v2c-designs");
  const std::vector<Event> ev = short_events(20, 6.0, 6.0, 7);
  const int nt = 70;
  const std::string bold =
      write_run(dir, "sub-01_task-loc_run-1_space-T1w_desc-preproc_bold.nii.gz", nt, 2.0, 2.0, ev, 8);
  const std::string events = events_tsv(dir, "sub-01_task-loc_run-1_events.tsv", ev), mask = write_mask(dir);
  std::ostringstream good;
  good << "trans_x\ttrans_x_derivative1\trot_x\tcsf\twhite_matter\tframewise_displacement\n";
  for (int t = 0; t < nt; ++t)
    good << 0.01 * t << "\t" << (t ? "0.01" : "n/a") << "\t" << 0.001 * (t % 5) << "\t" << std::sin(t * 0.3) << "\t"
         << std::cos(t * 0.2) << "\t" << (t ? "0.1" : "n/a") << "\n";
  const std::string beside = dir.write("sub-01_task-loc_run-1_desc-confounds_timeseries.tsv", good.str());
  const std::string out = dir.file("samples.h5");
  const std::vector<std::string> base = {"--bold", bold, "--events", events, "--mask", mask, "--out", out};
  const StageRun r =
      run_stage("prepare", args_of({base, {"--set", "prepare.confounds=[trans_*, 'rot_?', csf, white_matter]"}}));
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(r.output.find("confounds trans_x, trans_x_derivative1, rot_x, csf, white_matter") != std::string::npos);
  fs::remove(out);

  const std::string set = "prepare.confounds=[trans_x, csf]";
  auto with_file = [&](const std::string& name, const std::string& content) {
    return args_of({base, {"--confounds", dir.write(name, content), "--set", set}});
  };
  std::string text = good.str();
  // A missing column.
  check_stage_failure(run_stage("prepare", args_of({base, {"--set", "prepare.confounds=[trans_x, global_signal]"}})), 3,
                      out, {"desc-confounds_timeseries.tsv", "global_signal"});
  // Too few rows.
  check_stage_failure(
      run_stage("prepare", with_file("short.tsv", text.substr(0, text.rfind('\n', text.size() - 2) + 1))), 3, out,
      {"short.tsv", "69 rows", "70 volumes"});
  // n/a after the first row, and in the first row of a column that is not a difference.
  std::string late = text;
  late.replace(late.find("\t0.01\t", late.find('\n', late.find('\n') + 1)), 6, "\tn/a\t");
  check_stage_failure(run_stage("prepare", args_of({base,
                                                    {"--confounds", dir.write("late.tsv", late), "--set",
                                                     "prepare.confounds=[trans_x_derivative1]"}})),
                      3, out, {"late.tsv", "line 3", "trans_x_derivative1", "after the first row"});
  std::string first = text;
  first.replace(first.find('\n') + 1, 1, "n/a");
  check_stage_failure(run_stage("prepare", with_file("first.tsv", first)), 3, out,
                      {"first.tsv", "line 2", "trans_x", "n/a"});
  std::string word = text;
  word.replace(word.find("\n0.05\t") + 1, 4, "x.05");
  check_stage_failure(run_stage("prepare", with_file("word.tsv", word)), 3, out,
                      {"word.tsv", "line 7", "trans_x", "x.05"});
  check_stage_failure(run_stage("prepare", args_of({base, {"--confounds", dir.file("none.tsv"), "--set", set}})), 4,
                      out, {"none.tsv"});
  // Columns named but no file beside the run, and a file given with no column named.
  fs::remove(beside);
  check_stage_failure(run_stage("prepare", args_of({base, {"--set", set}})), 3, out,
                      {"prepare.confounds", "desc-confounds_timeseries.tsv", "--confounds"});
  check_stage_failure(run_stage("prepare", args_of({base, {"--confounds", dir.write("c.tsv", text)}})), 2, out,
                      {"prepare.confounds"});
}

BOOST_AUTO_TEST_CASE(mask_auto_is_written_beside_the_samples) {
  // A bright ellipsoid in a dark field: the automatic mask finds it.
  test::TempDir dir("v2c-designs");
  const int nx = 16, ny = 16, nz = 10, nt = 30;
  std::vector<float> v(size_t(nx) * ny * nz * nt);
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(0, 1);
  int64_t inside = 0;
  for (int t = 0; t < nt; ++t)
    for (int k = 0; k < nz; ++k)
      for (int j = 0; j < ny; ++j)
        for (int i = 0; i < nx; ++i) {
          const double r2 = std::pow((i - 7.5) / 6.0, 2) + std::pow((j - 7.5) / 6.5, 2) + std::pow((k - 4.5) / 4.0, 2);
          if (t == 0 && r2 <= 1) ++inside;
          v[size_t(i + nx * (j + ny * (k + nz * t)))] = float((r2 <= 1 ? 900.0 : 40.0) + 10.0 * g(rng));
        }
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  affine.diagonal() << 3.0, 3.0, 3.0, 1.0;
  const std::string bold = dir.file("run_bold.nii.gz");
  nifti::write_series(bold, {nx, ny, nz, nt}, affine, 2.0, v, "float32");
  const std::string events = events_tsv(dir, "ev.tsv", short_events(5, 4.0, 10.0, 1));
  const std::string out = dir.file("sub-01.h5"), mask_out = dir.file("sub-01_mask.nii.gz");
  const std::vector<std::string> args = {"--bold", bold, "--events", events, "--mask", "auto", "--out", out};
  const StageRun r = run_stage("prepare", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_REQUIRE(fs::exists(mask_out));
  const nifti::Image m = nifti::Image::load(mask_out);
  int64_t in_mask = 0;
  for (int64_t x = 0; x < m.header().volume_size(); ++x) in_mask += m.value(x) != 0;
  const Samples s = read_samples(out);
  BOOST_CHECK_EQUAL(s.mask_voxels, in_mask);
  BOOST_CHECK_EQUAL(s.mask_source, mask_out);
  int64_t both = 0;
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        const double r2 = std::pow((i - 7.5) / 6.0, 2) + std::pow((j - 7.5) / 6.5, 2) + std::pow((k - 4.5) / 4.0, 2);
        both += r2 <= 1 && m.value(i + nx * (j + ny * k)) != 0;
      }
  const double dice = 2.0 * double(both) / double(in_mask + inside);
  BOOST_TEST_MESSAGE("--mask auto on a planted ellipsoid of " << inside << " voxels: " << in_mask << " voxels, Dice "
                                                              << dice);
  BOOST_CHECK_GT(dice, 0.85);
  BOOST_CHECK_EQUAL(m.header().affine, affine);
  const std::string py =
      test::run_python_ok("import h5py\nf = h5py.File('" + out +
                          "', 'r')\n"
                          "a = f['voxels'].attrs\nprint(a['mask_source'])\n"
                          "print(a['mask_method'][:4], 'auto_mask_opening' in f['provenance'].attrs['config'])\n");
  BOOST_CHECK_EQUAL(py, mask_out + "\nauto True\n");
  // Both outputs are protected: without --force nothing is overwritten.
  const StageRun again = run_stage("prepare", args);
  BOOST_CHECK_EQUAL(again.exit_code, 2);
  fs::remove(out);
  const StageRun mask_only = run_stage("prepare", args);
  BOOST_CHECK_EQUAL(mask_only.exit_code, 2);
  BOOST_CHECK(mask_only.output.find("sub-01_mask.nii.gz") != std::string::npos);
  BOOST_CHECK(!fs::exists(out));
  // Nothing survives nilearn's opening on a 3-voxel-thick slab: a clear error, no output.
  check_stage_failure(run_stage("prepare", args_of({args, {"--force", "--set", "prepare.auto_mask_opening=9"}})), 3,
                      out, {"--mask auto found no brain", "prepare.auto_mask_opening"});
}

BOOST_AUTO_TEST_CASE(haxby_25mm_mask_auto_through_the_stage_equals_the_oracle,
                     *utf::precondition(test::needs_shared_data{"haxby2001-sub001/BOLD/task001_run012"}) *
                         utf::precondition(test::needs_python{{"numpy", "nibabel"}})) {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  test::TempDir dir("v2c-designs");
  std::vector<std::string> bold, events;
  for (int r = 1; r <= 12; ++r) {
    char d[64];
    std::snprintf(d, sizeof d, "haxby2001-sub001/BOLD/task001_run%03d/", r);
    bold.push_back(test::shared_data(std::string(d) + "bold_25mm.nii.gz"));
    events.push_back(test::shared_data(std::string(d) + "bold_events.tsv"));
  }
  const std::string out = dir.file("haxby.h5");
  const StageRun r =
      run_stage("prepare", args_of({{"--bold"},
                                    bold,
                                    {"--events"},
                                    events,
                                    {"--mask", "auto", "--out", out, "--set", "prepare.auto_mask_opening=0"}}));
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  std::string py = "import sys\nsys.path.insert(0, '" + (*root / "tests/oracle").string() +
                   "')\n"
                   "import numpy as np, nibabel, epi_mask_numpy as o\n"
                   "m, thr = o.compute_epi_mask(o.mean_of_runs([";
  for (const auto& b : bold) py += "'" + b + "', ";
  py += "]), opening=0)\nours = np.asarray(nibabel.load('" + dir.file("haxby_mask.nii.gz") +
        "').dataobj) != 0\n"
        "brain = np.asarray(nibabel.load('" +
        test::shared_data("haxby2001-sub001/masks/25mm/brain.nii.gz") +
        "').dataobj) != 0\n"
        "print(int((ours != m).sum()), int(ours.sum()), 2 * (ours & brain).sum() / (ours.sum() + brain.sum()))\n";
  std::istringstream o(test::run_python_ok(py));
  int differ = -1, n = 0;
  double dice = 0;
  o >> differ >> n >> dice;
  BOOST_TEST_MESSAGE("v2c-prepare --mask auto on the Haxby 25 mm runs: " << n << " voxels, " << differ
                                                                         << " differ from the numpy oracle, Dice with "
                                                                            "the brain mask "
                                                                         << dice);
  BOOST_CHECK_EQUAL(differ, 0);
  BOOST_CHECK_EQUAL(n, read_samples(out).mask_voxels);
  BOOST_CHECK_GT(dice, 0.7);
}

BOOST_AUTO_TEST_CASE(onehot_features_from_the_stimulus_column) {
  test::TempDir dir("v2c-designs");
  const std::vector<Event> ev = short_events(12, 6.0, 8.0, 3);
  const std::string bold = write_run(dir, "run_bold.nii.gz", 60, 2.0, 2.0, ev, 4);
  const std::string out = dir.file("samples.h5");
  const StageRun r = run_stage("prepare", {"--bold", bold, "--events", events_tsv(dir, "ev.tsv", ev), "--mask",
                                           write_mask(dir), "--features", "onehot", "--out", out});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Samples s = read_samples(out);
  const std::vector<std::string> ids = {"a", "b", "c", "d"};
  BOOST_CHECK_EQUAL_COLLECTIONS(s.feature_ids.begin(), s.feature_ids.end(), ids.begin(), ids.end());
  BOOST_CHECK_EQUAL(s.features, MatrixF::Identity(4, 4));
  for (int64_t i = 0; i < s.n_samples(); ++i)
    BOOST_CHECK_EQUAL(s.feature_ids[size_t(s.feature_row[size_t(i)])], s.stimulus[size_t(i)]);
  BOOST_CHECK_EQUAL(s.feature_source, "onehot");
}

BOOST_AUTO_TEST_CASE(bids_tree_with_fmriprep_derivatives) {
  // raw/sub-01/func: events and sidecars (TR 2 s; the preprocessed headers say 1 s);
  // derivatives/fmriprep/sub-01/func: two spaces of preprocessed runs, masks and confounds.
  test::TempDir dir("v2c-designs");
  const fs::path raw = dir.path() / "raw", der = dir.path() / "derivatives" / "fmriprep";
  fs::create_directories(raw / "sub-01" / "func");
  fs::create_directories(der / "sub-01" / "func");
  test::TempDir scratch("v2c-designs");
  std::vector<std::vector<Event>> evs;
  for (int r = 1; r <= 2; ++r) {
    const std::string stem = "sub-01_task-loc_run-" + std::to_string(r);
    evs.push_back(short_events(15, 6.0, 8.0, 30 + r));
    fs::copy_file(events_tsv(scratch, "e.tsv", evs.back()), raw / "sub-01" / "func" / (stem + "_events.tsv"));
    fs::remove(scratch.file("e.tsv"));
    std::ofstream(raw / "sub-01" / "func" / (stem + "_bold.json")) << "{\"RepetitionTime\": 2}";
    for (const std::string space : {"T1w", "MNI152NLin2009cAsym"}) {
      const std::string b = write_run(scratch, "b.nii.gz", 64, 1.0, 2.0, evs.back(), 40 + r);
      fs::copy_file(b, der / "sub-01" / "func" / (stem + "_space-" + space + "_desc-preproc_bold.nii.gz"));
      fs::copy_file(write_mask(scratch),
                    der / "sub-01" / "func" / (stem + "_space-" + space + "_desc-brain_mask.nii.gz"),
                    fs::copy_options::overwrite_existing);
      fs::remove(b);
    }
    std::ofstream conf(der / "sub-01" / "func" / (stem + "_desc-confounds_timeseries.tsv"));
    conf << "trans_x\ttrans_y\n";
    for (int t = 0; t < 64; ++t) conf << 0.01 * t * r << "\t" << std::sin(0.1 * t + r) << "\n";
  }
  const std::string out = dir.file("samples.h5");
  const StageRun res =
      run_stage("prepare", {"--bids", raw.string(), "--derivatives", der.string(), "--space", "T1w", "--subject", "01",
                            "--task", "loc", "--out", out, "--set", "prepare.confounds=[trans_*]"});
  BOOST_REQUIRE_MESSAGE(res.exit_code == 0, res.output);
  const Samples s = read_samples(out);
  BOOST_REQUIRE_EQUAL(s.run_source.size(), 2u);
  BOOST_CHECK(s.run_source[0].find("run-1_space-T1w_desc-preproc_bold.nii.gz") != std::string::npos);
  BOOST_CHECK(s.run_source[1].find("run-2_space-T1w_desc-preproc_bold.nii.gz") != std::string::npos);
  BOOST_CHECK(s.run_events[0].find("raw/sub-01/func/sub-01_task-loc_run-1_events.tsv") != std::string::npos);
  BOOST_CHECK_EQUAL(s.run_tr_s[0], 2.0);
  BOOST_CHECK_EQUAL(s.n_samples(), 30);
  BOOST_CHECK(s.mask_source.find("run-1_space-T1w_desc-brain_mask.nii.gz") != std::string::npos);
  BOOST_CHECK(res.output.find("confounds trans_x, trans_y") != std::string::npos);
  // A space that is not there.
  const std::string out2 = dir.file("none.h5");
  check_stage_failure(run_stage("prepare", {"--bids", raw.string(), "--derivatives", der.string(), "--space",
                                            "fsaverage", "--subject", "01", "--task", "loc", "--out", out2}),
                      4, out2, {"space-fsaverage", "desc-preproc_bold"});
}

BOOST_AUTO_TEST_CASE(simulated_event_related_study_gives_a_sample_per_event_in_both_modes) {
  // Done-when 1 of issue 9: v2c-simulate with 0.9 s events at TR 2 s and jittered onsets
  // (fixation 2.2 +- 1.5 s), then v2c-prepare on its BIDS tree in event mode and glm mode (LSS and
  // LSA): every event of every run is a sample, none is dropped.
  test::TempDir dir("v2c-designs");
  const std::string study = dir.file("study");
  const StageRun sim = run_stage("simulate", {"--out",  study,
                                              "--seed", "3",
                                              "--set",  "simulate.n_subjects=1",
                                              "--set",  "simulate.grid_dims=[8,8,6]",
                                              "--set",  "simulate.grid_jitter=0",
                                              "--set",  "simulate.n_categories=4",
                                              "--set",  "simulate.train_per_category=10",
                                              "--set",  "simulate.test_per_category=2",
                                              "--set",  "simulate.feature_dim=16",
                                              "--set",  "simulate.latent_dim=4",
                                              "--set",  "simulate.hidden_dim=8",
                                              "--set",  "simulate.train_runs=2",
                                              "--set",  "simulate.test_runs=1",
                                              "--set",  "simulate.stimulus_s=0.9",
                                              "--set",  "simulate.isi_s=2.2",
                                              "--set",  "simulate.isi_jitter_s=1.5",
                                              "--set",  "simulate.tr_s=2"});
  BOOST_REQUIRE_MESSAGE(sim.exit_code == 0, sim.output);
  // The events as written: 0.9 s each, onsets jittered (gaps between onsets vary), 56 in all.
  size_t n_events = 0;
  std::set<double> gaps;
  for (const char* run : {"01", "02", "03"}) {
    const auto e = events::read_events_tsv(study + "/sub-01/func/sub-01_task-sim_run-" + run + "_events.tsv");
    n_events += e.size();
    for (size_t i = 0; i < e.size(); ++i) {
      BOOST_CHECK_CLOSE_FRACTION(e[i].duration_s, 0.9, 1e-12);
      if (i) gaps.insert(std::round(1000 * (e[i].onset_s - e[i - 1].onset_s)));
      if (i) BOOST_CHECK(e[i].onset_s - e[i - 1].onset_s >= 0.9 + 0.7 - 1e-9);
    }
  }
  BOOST_CHECK_EQUAL(n_events, 4u * 10 + 4 * 2 * 2);
  BOOST_CHECK_GT(gaps.size(), n_events / 2);
  for (const std::string mode : {"event", "lss", "lsa"}) {
    const std::string out = dir.file("samples_" + mode + ".h5");
    std::vector<std::string> args = {"--bids", study, "--subject", "01", "--task", "sim", "--out", out};
    if (mode != "event")
      args.insert(args.end(), {"--set", "prepare.sample_mode=glm", "--set", "prepare.glm_method=" + mode});
    const StageRun r = run_stage("prepare", args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const Samples s = read_samples(out);
    BOOST_CHECK_EQUAL(s.n_samples(), int64_t(n_events));
    BOOST_CHECK(s.dropped_stimulus.empty());
    BOOST_CHECK_EQUAL(s.run_tr_s[0], 2.0);
  }
  // A jitter larger than the fixation is refused, naming both fields.
  const StageRun bad = run_stage(
      "simulate", {"--out", dir.file("bad"), "--set", "simulate.isi_s=1", "--set", "simulate.isi_jitter_s=1.5"});
  BOOST_CHECK_EQUAL(bad.exit_code, 2);
  BOOST_CHECK(bad.output.find("simulate.isi_jitter_s") != std::string::npos &&
              bad.output.find("isi_s") != std::string::npos);
  BOOST_CHECK(!fs::exists(dir.file("bad")));
}

BOOST_AUTO_TEST_CASE(planted_motion_is_removed_by_the_matching_confound_columns_through_the_stage) {
  // A run whose every voxel carries 30 x trans_x (a random walk) besides the task: v2c-prepare with
  // prepare.confounds = [trans_*] leaves cleaned volumes (timeseries.h5) uncorrelated with trans_x;
  // with only csf (the wrong column) the artefact stays.
  test::TempDir dir("v2c-designs");
  const int nt = 120;
  std::mt19937_64 rng(12);
  std::normal_distribution<double> g(0, 1);
  std::vector<double> motion(nt);
  double walk = 0;
  for (int t = 0; t < nt; ++t) motion[size_t(t)] = (walk += 0.2 * g(rng));
  const std::vector<Event> ev = short_events(40, 6.0, 5.5, 13);
  const std::string bold = write_run(dir, "run_bold.nii.gz", nt, 2.0, 2.0, ev, 14, motion);
  std::ostringstream c;
  c.precision(17);
  c << "trans_x\ttrans_x_derivative1\tcsf\n";
  for (int t = 0; t < nt; ++t)
    c << motion[size_t(t)] << "\t" << (t ? std::to_string(motion[size_t(t)] - motion[size_t(t - 1)]) : "n/a") << "\t"
      << g(rng) << "\n";
  const std::string conf = dir.write("run_desc-confounds_timeseries.tsv", c.str());
  const std::string events = events_tsv(dir, "ev.tsv", ev), mask = write_mask(dir);
  // Largest |correlation| over voxels between the cleaned volumes and trans_x (its part beyond the drift).
  auto worst_motion_corr = [&](const std::string& columns) {
    const std::string out = dir.file("s_" + columns + ".h5"), series = dir.file("t_" + columns + ".h5");
    const StageRun r =
        run_stage("prepare", {"--bold", bold, "--events", events, "--mask", mask, "--confounds", conf, "--set",
                              "prepare.confounds=[" + columns + "]", "--timeseries", series, "--out", out});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const TimeSeries ts = read_timeseries(series);
    BOOST_REQUIRE_EQUAL(ts.data.size(), 1u);
    // trans_x beyond the run's quadratic drift (which prepare removes in both cases).
    const MatrixD drift = prep::polynomial_basis(nt, 2);
    Eigen::VectorXd m = Eigen::Map<const Eigen::VectorXd>(motion.data(), nt);
    m -= drift * drift.colPivHouseholderQr().solve(m);
    double worst = 0;
    for (int64_t j = 0; j < ts.data[0].cols(); ++j) {
      Eigen::VectorXd y = ts.data[0].col(j).cast<double>();
      y.array() -= y.mean();
      worst = std::max(worst, std::abs(y.dot(m) / (y.norm() * m.norm())));
    }
    return worst;
  };
  const double removed = worst_motion_corr("trans_*"), kept = worst_motion_corr("csf");
  BOOST_TEST_MESSAGE("largest |corr(cleaned voxel, detrended trans_x)|: " << removed << " with trans_*, " << kept
                                                                          << " with csf");
  BOOST_CHECK_SMALL(removed, 1e-4);
  BOOST_CHECK_GT(kept, 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
