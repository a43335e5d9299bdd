// v2c-prepare: the signal kernels, planted-value checks, the real Haxby data, and every bad-input
// path through the built executable (message, exit code, no output left behind).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "pipeline/io/nifti.h"
#include "pipeline/io/samples.h"
#include "pipeline/prep/prepare.h"
#include "pipeline/prep/signal.h"
#include "tests/haxby_inputs.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;
namespace utf = boost::unit_test;

namespace {

// A small study on disk: 4x4x3 grid, 2 runs x 40 volumes, TR 2 s, 4 s events every 8 s.
struct MiniStudy {
  test::TempDir dir{"v2c-prep"};
  std::vector<std::string> bold, events;
  std::string mask;
  std::vector<float> run0;  // raw values of run 0 (x fastest, then y, z, t)
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  static constexpr int nx = 4, ny = 4, nz = 3, nt = 40;

  explicit MiniStudy(bool with_nan = false) {
    affine.diagonal() << 3.0, 3.0, 3.0, 1.0;
    affine.col(3).head<3>() << -6.0, -6.0, -3.0;
    std::mt19937_64 rng(7);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    const char* stimuli[] = {"a", "b", "c", "d"};
    for (int r = 0; r < 2; ++r) {
      std::vector<float> v(size_t(nx) * ny * nz * nt);
      for (size_t i = 0; i < v.size(); ++i) v[i] = 100.0f + float(i % 7) + noise(rng);
      if (with_nan && r == 1) v[size_t(nx) * ny * nz * 5 + 3] = std::nanf("");  // voxel 3, volume 5
      if (r == 0) run0 = v;
      bold.push_back(dir.file("run" + std::to_string(r) + "_bold.nii.gz"));
      nifti::write_series(bold.back(), {nx, ny, nz, nt}, affine, 2.0, v, "float32");
      std::string tsv = "onset\tduration\ttrial_type\n";
      for (int e = 0; e < 8; ++e)
        tsv +=
            std::to_string(8 + 8 * e) + "\t4\t" + (e % 4 == 3 && r == 0 ? std::string("rest") : stimuli[e % 4]) + "\n";
      events.push_back(dir.write("run" + std::to_string(r) + "_events.tsv", tsv));
    }
    std::vector<float> m(size_t(nx) * ny * nz, 1.0f);
    m[0] = 0.0f;  // 47 voxels
    mask = dir.file("mask.nii.gz");
    nifti::write_series(mask, {nx, ny, nz, 1}, affine, 0.0, m, "int16");
  }
};

using test::check_stage_failure;
using test::run_stage;
using test::StageRun;

std::vector<std::string> base_args(const MiniStudy& s, const std::string& out) {
  std::vector<std::string> a = {"--bold"};
  a.insert(a.end(), s.bold.begin(), s.bold.end());
  a.push_back("--events");
  a.insert(a.end(), s.events.begin(), s.events.end());
  for (const std::string& x : {std::string("--mask"), s.mask, std::string("--out"), out, std::string("--quiet")})
    a.push_back(x);
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(prepare)

BOOST_AUTO_TEST_CASE(detrend_removes_polynomials_and_keeps_the_rest) {
  const int n = 60;
  MatrixF y(n, 3);
  Eigen::VectorXf signal(n);
  for (int t = 0; t < n; ++t) {
    const double x = t / double(n - 1);
    signal[t] = float(std::sin(2 * M_PI * 7 * x));  // fast: not a low-order polynomial
    y(t, 0) = float(5.0 + 3.0 * x - 2.0 * x * x);   // pure quadratic trend
    y(t, 1) = float(5.0 + 3.0 * x - 2.0 * x * x) + signal[t];
    y(t, 2) = float(x * x * x);  // cubic: order 2 leaves some
  }
  prep::detrend(y, 2);
  BOOST_CHECK_SMALL(double(y.col(0).cwiseAbs().maxCoeff()), 1e-4);
  // The sine survives almost intact (its projection on a quadratic basis is small).
  const double corr = (y.col(1).cast<double>().normalized()).dot(signal.cast<double>().normalized());
  BOOST_CHECK_GT(corr, 0.99);
  BOOST_CHECK_GT(double(y.col(2).cwiseAbs().maxCoeff()), 1e-3);
  BOOST_CHECK_THROW(prep::detrend(y, 70), Error);
}

BOOST_AUTO_TEST_CASE(zscore_and_psc_scaling) {
  MatrixF y(50, 3);
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, 1);
  for (int t = 0; t < 50; ++t) y(t, 0) = 200 + 5 * g(rng), y(t, 1) = 7.0f, y(t, 2) = 10 + g(rng);
  MatrixF raw = y;
  prep::VoxelHealth h = prep::scan_nonfinite(y);
  prep::scale_columns(y, prep::Scaling::zscore, prep::column_means(raw), h);
  BOOST_CHECK_SMALL(double(y.col(0).mean()), 1e-5);
  const double sd = std::sqrt(double(y.col(0).squaredNorm()) / 50.0);
  BOOST_CHECK_CLOSE_FRACTION(sd, 1.0, 1e-5);
  BOOST_CHECK_EQUAL(int(h.constant[1]), 1);
  BOOST_CHECK_EQUAL(int(h.constant[0]), 0);
  MatrixF p = raw;
  prep::VoxelHealth h2 = prep::scan_nonfinite(p);
  const Eigen::VectorXd base = prep::column_means(raw);
  prep::scale_columns(p, prep::Scaling::psc, base, h2);
  BOOST_CHECK_CLOSE_FRACTION(double(p(3, 2)), 100.0 * (raw(3, 2) - base[2]) / base[2], 1e-4);
}

BOOST_AUTO_TEST_CASE(event_windows_follow_the_shift) {
  // Haxby: a 22.5 s block at 15 s, TR 2.5 s, shift 4 s -> volumes at 20.0 .. 40.0 s.
  auto w = prep::event_window(15.0, 22.5, 4.0, 2.5, 121);
  BOOST_CHECK_EQUAL(w.first, 8);
  BOOST_CHECK_EQUAL(w.count, 9);
  w = prep::event_window(15.0, 22.5, 0.0, 2.5, 121);
  BOOST_CHECK_EQUAL(w.first, 6);
  BOOST_CHECK_EQUAL(w.count, 9);
  w = prep::event_window(295.0, 5.0, 10.0, 2.5, 121);  // shifted past the last volume (300 s)
  BOOST_CHECK_EQUAL(w.count, 0);
  // An event shorter than a TR still gets the volume after its shifted onset, whatever its phase:
  // 0.9 s images at TR 2 s, onsets every 0.1 s.
  for (int i = 0; i < 40; ++i) {
    const double onset = 10.0 + 0.1 * i;
    w = prep::event_window(onset, 0.9, 4.0, 2.0, 100);
    BOOST_CHECK_EQUAL(w.count, 1);
    BOOST_CHECK_EQUAL(w.first, int64_t(std::ceil((onset + 4.0 - 1e-6) / 2.0)));
  }
  // A window cut by the end of the run keeps the volumes inside it.
  w = prep::event_window(190.0, 8.0, 4.0, 2.0, 100);
  BOOST_CHECK_EQUAL(w.first, 97);
  BOOST_CHECK_EQUAL(w.count, 3);
}

BOOST_AUTO_TEST_CASE(planted_values_are_window_means_of_the_raw_data) {
  MiniStudy s;
  prep::PrepareConfig cfg;
  cfg.detrend_order = -1;
  cfg.scaling = "none";
  cfg.shift_s = 2.0;
  prep::PrepareInputs in{"sub-x", s.bold, s.events, "", s.mask, "", "", ""};
  const Samples out = prep::prepare_subject(in, cfg);
  BOOST_CHECK_EQUAL(out.n_voxels(), 47);
  BOOST_CHECK_EQUAL(out.n_samples(), 6 + 8);  // run 0 has two rest events
  // First sample: event at 8 s, 4 s long, shift 2 s -> volumes at 10 and 12 s = volumes 5, 6.
  BOOST_CHECK_EQUAL(out.stimulus[0], "a");
  BOOST_CHECK_EQUAL(out.volumes[0], 2);
  const int vox = 10;  // column 10 = flat index 11 (index 0 is outside the mask)
  const size_t nv = size_t(MiniStudy::nx) * MiniStudy::ny * MiniStudy::nz;
  const double expected = 0.5 * (double(s.run0[5 * nv + 11]) + double(s.run0[6 * nv + 11]));
  BOOST_CHECK_CLOSE_FRACTION(double(out.data(0, vox)), expected, 1e-6);
  BOOST_CHECK_EQUAL(out.ijk(vox, 0), 11 % 4);
  BOOST_CHECK_EQUAL(out.ijk(vox, 1), (11 / 4) % 4);
  BOOST_CHECK_CLOSE_FRACTION(out.xyz(vox, 0), -6.0 + 3.0 * 3, 1e-12);
}

BOOST_AUTO_TEST_CASE(samples_file_round_trip_with_provenance) {
  MiniStudy s;
  const std::string out = s.dir.file("samples.h5");
  const StageRun r = run_stage("prepare", base_args(s, out));
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Samples back = read_samples(out);
  BOOST_CHECK_EQUAL(back.n_samples(), 14);
  BOOST_CHECK_EQUAL(back.run_source.size(), 2u);
  BOOST_CHECK_EQUAL(back.run[13], 1);
  // h5py (the format users read) sees the same shapes and the provenance.
  const std::string py =
      test::run_python_ok("import h5py\nf = h5py.File('" + out +
                          "', 'r')\n"
                          "print(f['data'].shape, f['voxels/ijk'].shape, f.attrs['vox2clip_format'], "
                          "f['provenance'].attrs['stage'], 'shift_s' in f['provenance'].attrs['config'])\n");
  BOOST_CHECK_EQUAL(py, "(14, 47) (47, 3) samples prepare True\n");
  // A second run without --force refuses and keeps the first output.
  const StageRun again = run_stage("prepare", base_args(s, out));
  BOOST_CHECK_EQUAL(again.exit_code, 2);
  BOOST_CHECK(again.output.find("--force") != std::string::npos);
  BOOST_CHECK(fs::exists(out));
}

BOOST_AUTO_TEST_CASE(haxby_concatenated_slice_gives_96_samples,
                     *utf::precondition(test::needs_shared_data{"haxby2001-sub001/bold.nii.gz"})) {
  prep::PrepareInputs in;
  in.subject = "haxby-sub001";
  in.bold = {test::shared_data("haxby2001-sub001/bold.nii.gz")};
  in.labels = test::shared_data("haxby2001-sub001/attributes.txt");
  in.mask = test::shared_data("haxby2001-sub001/mask.nii.gz");
  const Samples s = prep::prepare_subject(in, prep::PrepareConfig{});
  BOOST_CHECK_EQUAL(s.n_samples(), 96);
  BOOST_CHECK_EQUAL(s.n_voxels(), 530);
  BOOST_CHECK_EQUAL(s.run_source.size(), 12u);
  std::map<std::string, int> count;
  for (const auto& st : s.stimulus) ++count[st];
  BOOST_CHECK_EQUAL(count.size(), 8u);
  for (const auto& [stim, n] : count) BOOST_CHECK_MESSAGE(n == 12, stim << " has " << n << " samples");
}

BOOST_AUTO_TEST_CASE(haxby_per_run_25mm_files_give_96_samples,
                     *utf::precondition(test::needs_shared_data{"haxby2001-sub001/BOLD/task001_run012"})) {
  prep::PrepareInputs in;
  for (int r = 1; r <= 12; ++r) {
    char dir[64];
    std::snprintf(dir, sizeof dir, "haxby2001-sub001/BOLD/task001_run%03d/", r);
    in.bold.push_back(test::shared_data(std::string(dir) + "bold_25mm.nii.gz"));
    in.events.push_back(test::shared_data(std::string(dir) + "bold_events.tsv"));
  }
  in.mask = test::shared_data("haxby2001-sub001/masks/25mm/brain.nii.gz");
  const Samples s = prep::prepare_subject(in, prep::PrepareConfig{});
  BOOST_CHECK_EQUAL(s.n_samples(), 96);
  BOOST_CHECK_EQUAL(s.n_voxels() + s.dropped_voxels, 129);
  BOOST_CHECK_EQUAL(s.n_voxels(), 129);
}

BOOST_AUTO_TEST_CASE(haxby_features_join_through_aliases,
                     *utf::precondition(test::needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"})) {
  prep::PrepareConfig cfg;
  const prep::PrepareInputs in = test::haxby_slice_with_clip(cfg);
  // scrambledpix has no CLIP vector: an error naming it, unless excluded.
  test::check_error([&] { prep::prepare_subject(in, cfg); }, ExitCode::input, {"scrambledpix", "no feature vector"});
  cfg.exclude_stimuli = {"scrambledpix"};
  const Samples s = prep::prepare_subject(in, cfg);
  BOOST_CHECK_EQUAL(s.n_samples(), 84);
  BOOST_CHECK_EQUAL(s.features.rows(), 7);
  BOOST_CHECK_EQUAL(s.features.cols(), 512);
  BOOST_CHECK_CLOSE_FRACTION(double(s.features.row(0).norm()), 1.0, 1e-5);
}

// ---- bad input: each through the executable ----

BOOST_AUTO_TEST_CASE(bad_input_missing_file) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  auto args = base_args(s, out);
  args[1] = s.dir.file("no_such_run.nii.gz");
  check_stage_failure(run_stage("prepare", args), 4, out, {"no_such_run.nii.gz"});
}

BOOST_AUTO_TEST_CASE(bad_input_truncated_gzip) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  fs::resize_file(s.bold[1], fs::file_size(s.bold[1]) / 2);
  check_stage_failure(run_stage("prepare", base_args(s, out)), 3, out, {"run1_bold.nii.gz"});
}

BOOST_AUTO_TEST_CASE(bad_input_mask_grid_mismatch) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  const std::string other = s.dir.file("other_mask.nii.gz");
  nifti::write_series(other, {5, 4, 3, 1}, s.affine, 0.0, std::vector<float>(60, 1.0f), "int16");
  auto args = base_args(s, out);
  for (auto& a : args)
    if (a == s.mask) a = other;
  check_stage_failure(run_stage("prepare", args), 3, out, {"other_mask.nii.gz", "run0_bold.nii.gz"});
}

BOOST_AUTO_TEST_CASE(bad_input_event_past_end_of_run) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  s.dir.write("run1_events.tsv", "onset\tduration\ttrial_type\n8\t4\ta\n79\t4\tb\n");  // run is 80 s
  check_stage_failure(run_stage("prepare", base_args(s, out)), 3, out, {"run1_events.tsv", "past the end", "79"});
}

BOOST_AUTO_TEST_CASE(bad_input_run_with_nans) {
  MiniStudy s(/*with_nan=*/true);
  const std::string out = s.dir.file("out.h5");
  check_stage_failure(run_stage("prepare", base_args(s, out)), 3, out, {"run1_bold.nii.gz", "non-finite", "volume 5"});
  // The documented way out works: drop such voxels, with a warning and a count.
  auto args = base_args(s, out);
  args.insert(args.end(), {"--set", "prepare.nonfinite=drop"});
  args.erase(std::find(args.begin(), args.end(), "--quiet"));
  const StageRun r = run_stage("prepare", args);
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(r.output.find("dropped 1 of 47 voxels") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_stimulus_without_feature_vector) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  const std::string feats = s.dir.write("features.csv", "id,f1,f2\na,1,0\nb,0,1\nc,1,1\n");  // no "d"
  auto args = base_args(s, out);
  args.insert(args.end(), {"--features", feats});
  check_stage_failure(run_stage("prepare", args), 3, out, {"stimulus 'd'", "features.csv"});
}

BOOST_AUTO_TEST_CASE(bad_input_unknown_config_key) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  const std::string cfg = s.dir.write("my.yaml", "prepare:\n  shfit_s: 5\n");
  auto args = base_args(s, out);
  args.insert(args.end(), {"--config", cfg});
  check_stage_failure(run_stage("prepare", args), 2, out, {"my.yaml", "shfit_s", "shift_s"});
}

BOOST_AUTO_TEST_CASE(bad_input_non_numeric_tsv_value) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  s.dir.write("run0_events.tsv", "onset\tduration\ttrial_type\n8\t4\ta\nabc\t4\tb\n");
  check_stage_failure(run_stage("prepare", base_args(s, out)), 3, out, {"run0_events.tsv", "line 3", "onset", "abc"});
}

BOOST_AUTO_TEST_CASE(bad_usage_is_exit_2_with_help_pointer) {
  MiniStudy s;
  const std::string out = s.dir.file("out.h5");
  check_stage_failure(run_stage("prepare", {"--bold", s.bold[0], "--mask", s.mask, "--out", out, "--frobnicate"}), 2,
                      out, {"unknown option '--frobnicate'", "--help"});
  check_stage_failure(run_stage("prepare", {"--bold", s.bold[0], "--events", s.events[0], "--mask", s.mask, "--out",
                                            out, "--set", "prepare.shift_s=-1"}),
                      2, out, {"prepare.shift_s", "-1", "in [0, 30]"});
  const StageRun help = run_stage("prepare", {"--help"});
  BOOST_CHECK_EQUAL(help.exit_code, 0);
  BOOST_CHECK(help.output.find("shift_s (number, default 4)") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
