// Nothing crashes, nothing is lost (issue 13): a full disk, an output that is an input, two
// runs on one output, kill -9, damaged HDF5 files and the reliability reproducers
// (tests/regress/reliability/) each end with their documented exit code, a message naming the
// file or field, no output and no temporary.
#include <boost/test/unit_test.hpp>

#include <hdf5.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "pipeline/core/output.h"
#include "pipeline/io/h5.h"
#include "pipeline/io/npy.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/cv.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

std::string regress(const std::string& name, const std::string& dir = "reliability") {
  const auto root = test::repo_root();
  return ((root ? *root : fs::current_path()) / "tests" / "regress" / dir / name).string();
}

// Entries of `dir` that are temporaries or locks of vox2clip (".NAME.tmp-PID", ".NAME.lock").
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.' && (name.find(".tmp") != std::string::npos || name.ends_with(".lock"))) out.push_back(name);
  }
  return out;
}

std::string listing(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += " " + n;
  return s;
}

// ---- a full disk ----

struct FullDiskRun {
  int exit_code = -1;
  std::string output;             // the stage's stdout and stderr
  std::vector<std::string> left;  // what the output directory holds afterwards
};

// How the disk gets full: a tmpfs of the given size mounted in a private mount namespace
// (unshare -rm: no privileges needed where user namespaces are allowed), else a file size
// limit (prlimit --fsize; writes fail with "File too large" instead of "No space left").
enum class DiskLimit { tmpfs, fsize, none };

DiskLimit disk_limit() {
  static const DiskLimit how = [] {
    test::TempDir d("v2c-unshare");
    const std::string cmd =
        "unshare -rm sh -c 'mount -t tmpfs -o size=64k tmpfs " + test::shell_quote(d.path()) + "' > /dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return DiskLimit::tmpfs;
    if (std::system("prlimit --version > /dev/null 2>&1") == 0) return DiskLimit::fsize;
    return DiskLimit::none;
  }();
  return how;
}

// Runs v2c-<stage> with OUT in `args` replaced by a directory holding at most `bytes`.
FullDiskRun run_on_small_disk(const std::string& stage, std::vector<std::string> args, int64_t bytes) {
  test::TempDir work("v2c-full-disk");
  const std::string dir = work.file("out"), report = work.file("report");
  fs::create_directories(dir);
  fs::create_directories(report);
  for (auto& a : args)
    for (size_t at = a.find("OUT"); at != std::string::npos; at = a.find("OUT", at + dir.size())) a.replace(at, 3, dir);
  std::string stage_cmd = test::shell_quote(test::stage_binary(stage));
  for (const auto& a : args) stage_cmd += " " + test::shell_quote(a);
  std::string script;
  if (disk_limit() == DiskLimit::tmpfs)
    script = "mount -t tmpfs -o size=" + std::to_string(bytes) + " tmpfs " + test::shell_quote(dir) + " || exit 97; ";
  else
    stage_cmd = "trap '' XFSZ; prlimit --fsize=" + std::to_string(bytes) + " " + stage_cmd;
  script += stage_cmd + " > " + test::shell_quote(report + "/log") + " 2>&1; echo $? > " +
            test::shell_quote(report + "/rc") + "; ls -A " + test::shell_quote(dir) + " > " +
            test::shell_quote(report + "/left");
  const std::string cmd =
      (disk_limit() == DiskLimit::tmpfs ? "unshare -rm sh -c " : "sh -c ") + test::shell_quote(script);
  BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
  FullDiskRun r;
  r.output = test::read_text_file(report + "/log");
  r.exit_code = std::stoi(test::read_text_file(report + "/rc"));
  std::istringstream left(test::read_text_file(report + "/left"));
  for (std::string name; std::getline(left, name);) r.left.push_back(name);
  return r;
}

// Every size must end in success (exit 0, the output there) or exit 4 naming the output and
// the reason with no output, no temporary and no lock left; at least one size must fail.
void check_full_disk(const std::string& stage, const std::vector<std::string>& args, const std::string& output,
                     const std::vector<int64_t>& sizes, const std::vector<std::string>& allowed_after_failure = {}) {
  int failures = 0;
  for (int64_t size : sizes) {
    const FullDiskRun r = run_on_small_disk(stage, args, size);
    BOOST_TEST_CONTEXT(stage << " on " << size << " bytes") {
      BOOST_CHECK_MESSAGE(r.exit_code == 0 || r.exit_code == 4, "exit " << r.exit_code << ":\n" << r.output);
      for (const auto& name : r.left) {
        const bool expected = name == output || std::find(allowed_after_failure.begin(), allowed_after_failure.end(),
                                                          name) != allowed_after_failure.end();
        BOOST_CHECK_MESSAGE(expected, "left behind: " << name << "\n" << r.output);
      }
      const bool has_output = std::find(r.left.begin(), r.left.end(), output) != r.left.end();
      if (r.exit_code == 0) BOOST_CHECK_MESSAGE(has_output, "no output after exit 0");
      if (r.exit_code == 4) {
        ++failures;
        BOOST_CHECK_MESSAGE(!has_output, "output left after exit 4");
        const char* reason = disk_limit() == DiskLimit::tmpfs ? "No space left on device" : "File too large";
        BOOST_CHECK_MESSAGE(r.output.find(reason) != std::string::npos, "no reason:\n" << r.output);
        BOOST_CHECK_MESSAGE(r.output.find(output) != std::string::npos, "output not named:\n" << r.output);
        BOOST_CHECK_MESSAGE(r.output.find(".tmp") == std::string::npos, "a temporary is named:\n" << r.output);
      }
    }
  }
  BOOST_CHECK_MESSAGE(failures > 0, stage << ": no size was small enough to fail");
}

// ---- damaged samples files (HDF5, edited in place) ----

void replace_dataset(const std::string& path, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                     const void* data) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) H5Eprint2(H5E_DEFAULT, stderr);
  BOOST_REQUIRE_MESSAGE(f >= 0, "cannot open " << path << " to edit " << name);
  H5Ldelete(f, name.c_str(), H5P_DEFAULT);
  const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  const hid_t ds = H5Dcreate2(f, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bool empty = false;
  for (auto d : dims) empty = empty || d == 0;
  if (!empty) H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
}

std::vector<int64_t> dataset_dims(const std::string& path, const std::string& name) {
  return h5::ArtifactReader(path, "samples", 1).shape(name);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reliability)

BOOST_AUTO_TEST_CASE(full_disk_ends_in_exit_4_with_nothing_left) {
  if (disk_limit() == DiskLimit::none) {
    BOOST_TEST_MESSAGE("skipped: neither a private tmpfs (unshare -rm) nor prlimit is available");
    return;
  }
  if (disk_limit() == DiskLimit::fsize) BOOST_TEST_MESSAGE("no private tmpfs here: a file size limit stands in");
  test::TinyStudy st;
  check_full_disk("prepare",
                  {"--bids", st.bids, "--subject", "sub-01", "--features", st.bids + "/stimuli/features.h5", "--out",
                   "OUT/samples.h5", "--quiet"},
                  "samples.h5", {16 << 10, 128 << 10, 300 << 10, 4 << 20});
  check_full_disk("ridge", {"--samples", st.s1, "--out", "OUT/ridge.h5", "--quiet"}, "ridge.h5",
                  {8 << 10, 48 << 10, 4 << 20});
  check_full_disk("simulate",
                  {"--set", "simulate.n_subjects=2", "--set", "simulate.grid_dims=[8,9,8]", "--set",
                   "simulate.feature_dim=16", "--quiet", "--out", "OUT/bids"},
                  "bids", {16 << 10, 512 << 10, 2 << 20, 16 << 20});
  // A killed or failed pretraining keeps its last complete checkpoint, to resume from.
  check_full_disk("pretrain",
                  {"--samples", st.s1, st.s2, "--set", "pretrain.epochs=3", "--set", "pretrain.latent=32", "--set",
                   "pretrain.checkpoint_every=5", "--out", "OUT/encoder.h5", "--quiet"},
                  "encoder.h5", {16 << 10, 400 << 10, 16 << 20}, {"encoder.h5.ckpt", "encoder.h5.best"});
}

BOOST_AUTO_TEST_CASE(an_output_that_is_or_contains_an_input_is_refused_before_any_work) {
  test::TinyStudy st;
  const auto size_of = [](const std::string& p) { return fs::file_size(p); };
  const auto s1_size = size_of(st.s1);
  // The output is the input: directly, through `..`, a symbolic link or a hard link.
  const std::string link = st.dir.file("link.h5"), hard = st.dir.file("hard.h5");
  fs::create_symlink(st.s1, link);
  fs::create_hard_link(st.s1, hard);
  for (const std::string& out : {st.s1, st.dir.file("x/../sub-01.h5"), link, hard}) {
    const auto r = test::run_stage("ridge", {"--samples", st.s1, "--out", out, "--force"});
    BOOST_CHECK_MESSAGE(r.exit_code == 2, out << ": exit " << r.exit_code << "\n" << r.output);
    BOOST_CHECK_MESSAGE(r.output.find("is the input") != std::string::npos, r.output);
  }
  BOOST_CHECK_EQUAL(size_of(st.s1), s1_size);
  // A map over the samples, or over the predictions.
  auto r = test::run_stage("ridge", {"--samples", st.s1, "--set", "ridge.mode=encode", "--map", st.s1, "--out",
                                     st.dir.file("enc.h5"), "--force"});
  test::check_refused(r, 2, st.dir.file("enc.h5"), {"--map", "is the input"});
  r = test::run_stage("ridge", {"--samples", st.s1, "--set", "ridge.mode=encode", "--map", st.dir.file("m.nii"),
                                "--out", st.dir.file("m.nii")});
  test::check_refused(r, 2, st.dir.file("m.nii"), {"is also output"});
  // The report over its own study, or over a directory holding the study: nothing is deleted.
  r = test::run_stage("report", {"--study", st.dir.path().string(), "--out", st.dir.path().string(), "--force"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_MESSAGE(r.output.find("is the input") != std::string::npos, r.output);
  r = test::run_stage("report", {"--study", st.bids, "--out", st.dir.path().string(), "--force"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_MESSAGE(r.output.find("contains the input") != std::string::npos, r.output);
  BOOST_CHECK(fs::exists(st.s1) && fs::exists(st.bids + "/stimuli/features.h5"));
  // A file found by the stage itself (a BIDS run), and the config file.
  const std::string run = st.bids + "/sub-01/func/sub-01_task-sim_run-01_bold.nii.gz";
  const auto run_size = size_of(run);
  r = test::run_stage("prepare", {"--bids", st.bids, "--subject", "sub-01", "--out", run, "--force"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_MESSAGE(r.output.find("run-01_bold.nii.gz") != std::string::npos, r.output);
  BOOST_CHECK_EQUAL(size_of(run), run_size);
  const std::string cfg = st.dir.write("c.yaml", "ridge:\n  inner_folds: 3\n");
  r = test::run_stage("ridge", {"--config", cfg, "--samples", st.s1, "--out", cfg, "--force"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_EQUAL(test::read_text_file(cfg), "ridge:\n  inner_folds: 3\n");
  // An output inside an input directory is fine (a report inside its study).
  r = test::run_stage("report", {"--study", st.dir.path().string(), "--out", st.dir.file("report"), "--quiet"});
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK_MESSAGE(leftovers(st.dir.path()).empty(), listing(leftovers(st.dir.path())));
}

BOOST_AUTO_TEST_CASE(a_second_run_on_the_same_output_is_refused) {
  test::TinyStudy st;
  const std::string out = st.dir.file("encoder.h5"), log = st.dir.file("first.log");
  const std::vector<std::string> args = {"--samples",
                                         st.s1,
                                         st.s2,
                                         "--set",
                                         "pretrain.epochs=150",
                                         "--set",
                                         "pretrain.latent=32",
                                         "--set",
                                         "pretrain.patience=1000",
                                         "--seed",
                                         "7",
                                         "--out",
                                         out,
                                         "--quiet"};
  const pid_t first = test::spawn_stage("pretrain", args, log);
  const std::string lock = st.dir.file(".encoder.h5.lock");
  for (int i = 0; i < 500 && !fs::exists(lock); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE_MESSAGE(fs::exists(lock), "the first run never took its lock");
  // Without --force (two identical runs) and with --force: both refused, naming the holder.
  std::vector<std::string> second = args;
  second[second.size() - 4] = "8";  // another seed
  for (bool force : {false, true}) {
    std::vector<std::string> a = second;
    if (force) a.push_back("--force");
    const auto r = test::run_stage("pretrain", a);
    BOOST_CHECK_MESSAGE(r.exit_code == 2, "exit " << r.exit_code << "\n" << r.output);
    BOOST_CHECK_MESSAGE(r.output.find("being written by another run") != std::string::npos, r.output);
    BOOST_CHECK_MESSAGE(r.output.find(std::to_string(first)) != std::string::npos, r.output);
  }
  BOOST_CHECK_EQUAL(test::wait_stage(first), 0);
  // The output is the first run's, and nothing else is left.
  const h5::ArtifactReader r(out, "encoder_checkpoint", 1);
  BOOST_CHECK_EQUAL(r.attr_double("/provenance", "seed"), 7.0);
  BOOST_CHECK_MESSAGE(leftovers(st.dir.path()).empty(), listing(leftovers(st.dir.path())));
}

BOOST_AUTO_TEST_CASE(kill_9_leaves_no_output_and_the_rerun_cleans_up) {
  test::TinyStudy st;
  const std::string out = st.dir.file("encoder.h5");
  const std::vector<std::string> args = {"--samples",
                                         st.s1,
                                         st.s2,
                                         "--set",
                                         "pretrain.epochs=400",
                                         "--set",
                                         "pretrain.latent=32",
                                         "--set",
                                         "pretrain.patience=1000",
                                         "--set",
                                         "pretrain.checkpoint_every=20",
                                         "--out",
                                         out,
                                         "--quiet"};
  const pid_t pid = test::spawn_stage("pretrain", args, st.dir.file("killed.log"));
  for (int i = 0; i < 500 && !fs::exists(out + ".ckpt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(pid, SIGKILL);
  BOOST_CHECK_EQUAL(test::wait_stage(pid), 128 + SIGKILL);
  BOOST_CHECK(!fs::exists(out));
  // A shorter rerun over the stale lock and temporaries: succeeds and leaves nothing behind.
  std::vector<std::string> again = args;
  again[4] = "pretrain.epochs=2";
  const auto r = test::run_stage("pretrain", again);
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(fs::exists(out));
  BOOST_CHECK_MESSAGE(leftovers(st.dir.path()).empty(), listing(leftovers(st.dir.path())));
}

// F16: a kill -9 right after a checkpoint (or after the best model, before the epoch's
// checkpoint) never leaves a checkpoint that --resume cannot continue from: the model and its
// early-stopping state are one file. Kills come from the stage's own test seam
// (V2C_TEST_KILL_AT=<file suffix>:<k>: SIGKILL after the k-th write of that file), not from a race.
BOOST_AUTO_TEST_CASE(kill_9_after_any_checkpoint_write_resumes_to_the_uninterrupted_model) {
  test::TinyStudy st;
  const auto args = [&](const std::string& out) {
    return std::vector<std::string>{"--samples",
                                    st.s1,
                                    st.s2,
                                    "--set",
                                    "pretrain.epochs=4",
                                    "--set",
                                    "pretrain.latent=16",
                                    "--set",
                                    "pretrain.checkpoint_every=3",
                                    "--set",
                                    "pretrain.patience=2",
                                    "--threads",
                                    "1",
                                    "--seed",
                                    "5",
                                    "--out",
                                    out,
                                    "--quiet"};
  };
  const std::string whole = st.dir.file("whole.h5");
  const auto r = test::run_stage("pretrain", args(whole));
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const h5::ArtifactReader expected(whole, "encoder_checkpoint", 1);
  for (const std::string kill_at : {"ckpt:1", "best:1", "ckpt:4", "best:2"}) {
    const std::string out = st.dir.file("killed-" + kill_at.substr(0, kill_at.find(':')) + kill_at.back() + ".h5");
    setenv("V2C_TEST_KILL_AT", kill_at.c_str(), 1);
    const pid_t pid = test::spawn_stage("pretrain", args(out), out + ".log");
    unsetenv("V2C_TEST_KILL_AT");
    BOOST_REQUIRE_EQUAL(test::wait_stage(pid), 128 + SIGKILL);
    BOOST_REQUIRE(fs::exists(out + ".ckpt") && !fs::exists(out));
    std::vector<std::string> again = args(out);
    again.push_back("--resume");
    again.erase(std::find(again.begin(), again.end(), "--quiet"));
    const auto resumed = test::run_stage("pretrain", again);
    BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, kill_at << ": " << resumed.output);
    BOOST_CHECK_MESSAGE(resumed.output.find("resumed from") != std::string::npos, resumed.output);
    const h5::ArtifactReader got(out, "encoder_checkpoint", 1);
    const auto names = expected.read_strings("param_names");
    BOOST_REQUIRE(got.read_strings("param_names") == names);
    for (const auto& name : names)
      BOOST_CHECK_MESSAGE(got.read_matrix_f("params/" + name) == expected.read_matrix_f("params/" + name),
                          kill_at << ": parameter " << name << " differs from the uninterrupted run's");
    BOOST_CHECK_MESSAGE(leftovers(st.dir.path()).empty(), listing(leftovers(st.dir.path())));
  }
}

BOOST_AUTO_TEST_CASE(damaged_samples_name_the_dataset) {
  test::TinyStudy st;
  const int64_t n = dataset_dims(st.s1, "data")[0], v = dataset_dims(st.s1, "data")[1];
  struct Case {
    std::string name, dataset;
    std::function<void(const std::string&)> edit;
  };
  const std::vector<Case> cases = {
      {"run_strings", "samples/run",
       [&](const std::string& p) {
         std::vector<const char*> x(size_t(n), "x");
         const hid_t t = H5Tcopy(H5T_C_S1);
         H5Tset_size(t, H5T_VARIABLE);
         replace_dataset(p, "samples/run", t, {hsize_t(n)}, x.data());
         H5Tclose(t);
       }},
      {"feature_row_empty", "samples/feature_row",
       [&](const std::string& p) { replace_dataset(p, "samples/feature_row", H5T_NATIVE_INT32, {0}, nullptr); }},
      {"feature_row_out_of_range", "samples/feature_row",
       [&](const std::string& p) {
         std::vector<int32_t> x(size_t(n), 1 << 20);
         replace_dataset(p, "samples/feature_row", H5T_NATIVE_INT32, {hsize_t(n)}, x.data());
       }},
      {"run_out_of_range", "samples/run",
       [&](const std::string& p) {
         std::vector<int32_t> x(size_t(n), -3);
         replace_dataset(p, "samples/run", H5T_NATIVE_INT32, {hsize_t(n)}, x.data());
       }},
      {"ijk_huge", "voxels/ijk",
       [&](const std::string& p) {
         std::vector<int32_t> x(size_t(3 * v), 100000000);
         replace_dataset(p, "voxels/ijk", H5T_NATIVE_INT32, {hsize_t(v), 3}, x.data());
       }},
      {"ijk_wider_than_32_bits", "voxels/ijk",
       [&](const std::string& p) {
         std::vector<int64_t> x(size_t(3 * v), int64_t(1) << 32);
         replace_dataset(p, "voxels/ijk", H5T_NATIVE_INT64, {hsize_t(v), 3}, x.data());
       }},
      {"ijk_negative", "voxels/ijk",
       [&](const std::string& p) {
         std::vector<int32_t> x(size_t(3 * v), -5);
         replace_dataset(p, "voxels/ijk", H5T_NATIVE_INT32, {hsize_t(v), 3}, x.data());
       }},
      {"data_nan", "data",
       [&](const std::string& p) {
         std::vector<float> x(size_t(n * v), 1.0f);
         x[7] = std::nanf("");
         replace_dataset(p, "data", H5T_NATIVE_FLOAT, {hsize_t(n), hsize_t(v)}, x.data());
       }},
      {"features_inf", "features/values",
       [&](const std::string& p) {
         const auto d = dataset_dims(p, "features/values");
         std::vector<float> x(size_t(d[0] * d[1]), INFINITY);
         replace_dataset(p, "features/values", H5T_NATIVE_FLOAT, {hsize_t(d[0]), hsize_t(d[1])}, x.data());
       }},
  };
  for (const auto& c : cases) {
    const std::string p = st.dir.file(c.name + ".h5");
    fs::copy_file(st.s1, p);
    c.edit(p);
    BOOST_TEST_CONTEXT(c.name) {
      test::check_error([&] { read_samples(p); }, ExitCode::input, {c.name + ".h5", c.dataset});
      // Through the stage, encoding too (the map is indexed by voxels/ijk).
      const std::string out = st.dir.file(c.name + ".out.h5");
      const auto r = test::run_stage("ridge", {"--samples", p, "--set", "ridge.mode=encode", "--out", out});
      test::check_refused(r, 3, out, {c.dataset});
      BOOST_CHECK(!fs::exists(st.dir.file(c.name + ".out_corr.nii.gz")));
    }
  }
}

BOOST_AUTO_TEST_CASE(damaged_predictions_name_the_dataset) {
  test::TinyStudy st;
  const std::string pred = st.dir.file("ridge.h5");
  BOOST_REQUIRE_EQUAL(test::run_stage("ridge", {"--samples", st.s1, "--out", pred, "--quiet"}).exit_code, 0);
  const Predictions p = read_predictions(pred);
  const hsize_t n = hsize_t(p.predictions.rows());
  const std::string bad = st.dir.file("bad_fold.h5");
  fs::copy_file(pred, bad);
  std::vector<int32_t> fold(n, 1000000);
  replace_dataset(bad, "samples/fold", H5T_NATIVE_INT32, {n}, fold.data());
  test::check_error([&] { read_predictions(bad); }, ExitCode::input, {"bad_fold.h5", "samples/fold", "1000000"});
  // v2c-finetune takes its folds from such a file: refused, not a million folds.
  const std::string out = st.dir.file("ft.h5");
  test::check_refused(test::run_stage("finetune", {"--samples", st.s1, "--folds-from", bad, "--out", out}), 3, out,
                      {"samples/fold"});
}

// Random bit flips anywhere in a samples file (most in its first 4 KiB of metadata): every
// read ends in success or a v2c::Error, never in a crash or another exception. HDF5 crashes on
// some of these files; its probe (h5_probe.h) turns that into an input error.
BOOST_AUTO_TEST_CASE(random_bit_flips_never_crash_the_samples_reader) {
  test::TinyStudy st;
  const std::string original = test::read_text_file(st.s1);
  std::mt19937_64 rng(13);
  int errors = 0, read = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = original;
    const int flips = 1 + int(rng() % 8);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % 10 < 6 ? rng() % 4096 : rng() % bytes.size();
      bytes[at] = char(bytes[at] ^ (1 << (rng() % 8)));
    }
    const std::string p = st.dir.write("flipped.h5", bytes);
    try {
      read_samples(p);
      ++read;
    } catch (const Error& e) {
      ++errors;
      BOOST_CHECK_MESSAGE(e.code() == ExitCode::input || e.code() == ExitCode::numerical, e.what());
    } catch (const std::exception& e) {
      BOOST_ERROR("trial " << trial << ": not a v2c::Error: " << e.what());
    }
  }
  BOOST_TEST_MESSAGE(read << " flipped files read, " << errors << " refused");
  BOOST_CHECK(errors > 0);
}

// A 24 KB samples.h5 whose damaged global heap sends libhdf5 into an endless read (make fuzz,
// h5 harness; kept here, not in tests/regress/fuzz/, so it is replayed once): the probe's default time limit for a file that size (10 s) refuses it with exit
// 3 naming the file, instead of the 300 s it used to wait.
BOOST_AUTO_TEST_CASE(a_damaged_file_that_hangs_libhdf5_is_refused_within_seconds) {
  const std::string file = regress("global_heap_endless_read.h5");
  const auto start = std::chrono::steady_clock::now();
  try {
    h5::ArtifactReader r(file, "samples", 1);
    BOOST_ERROR("the damaged file was read");
  } catch (const Error& e) {
    BOOST_CHECK(e.code() == ExitCode::input);
    BOOST_CHECK_MESSAGE(std::string(e.what()).find("did not finish in 10") != std::string::npos, e.what());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_CHECK_LT(s, 30.0);
}

BOOST_AUTO_TEST_CASE(an_exception_inside_an_openmp_loop_reaches_the_caller) {
  // Voxel selection solves one small problem per target in an OpenMP loop; a non-finite input
  // makes one of them fail, which must end as a numerical error, not std::terminate.
  linalg::Mat<double> X = linalg::Mat<double>::Random(24, 30), Y = linalg::Mat<double>::Random(24, 4);
  X(3, 5) = std::nan("");
  std::vector<int32_t> run(24);
  std::vector<std::string> stim(24);
  for (int i = 0; i < 24; ++i) run[size_t(i)] = i / 6, stim[size_t(i)] = "s" + std::to_string(i);
  cv::RidgeCvSettings s;
  s.alphas = {0.1, 1, 10};
  s.select_voxels = 10;
  test::check_error([&] { cv::cross_validate<double>(X, Y, run, stim, s); }, ExitCode::numerical, {"ridge"});
}

// A tiny α (F11): the null directions of the centred kernel are left out (the α -> 0 limit), so
// the predictions stay finite and of the targets' size instead of NaN (float64, α = 1e-300) or
// 1e18 (float32, α = 1e-30).
template <class S>
void check_tiny_alpha(double alpha) {
  const int n = 48, p = 200, t = 6;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> g;
  linalg::Mat<S> X(n, p), Y(n, t);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < p; ++j) X(i, j) = S(g(rng));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < t; ++j) Y(i, j) = S(X(i, j) + 0.5 * g(rng));
  std::vector<int32_t> run(n);
  std::vector<std::string> stim(n);
  for (int i = 0; i < n; ++i) run[size_t(i)] = i / 8, stim[size_t(i)] = "s" + std::to_string(i);
  cv::RidgeCvSettings s;
  s.alphas = {alpha};
  s.inner_folds = 3;
  const auto res = cv::cross_validate<S>(X, Y, run, stim, s);
  const double y_max = Y.cwiseAbs().maxCoeff();
  BOOST_CHECK_MESSAGE(res.predictions.allFinite(), "non-finite predictions with α = " << alpha);
  BOOST_CHECK_MESSAGE(res.predictions.cwiseAbs().maxCoeff() < 10 * y_max,
                      "α = " << alpha << ": predictions up to " << res.predictions.cwiseAbs().maxCoeff()
                             << " for targets up to " << y_max);
}

BOOST_AUTO_TEST_CASE(a_tiny_alpha_gives_finite_predictions) {
  check_tiny_alpha<double>(1e-300);
  check_tiny_alpha<float>(1e-30);
}

// U3: an inner cross-validation that cannot run names the outer fold and what
// ridge.train_fraction left of its training runs, not a fold scheme the user did not choose.
BOOST_AUTO_TEST_CASE(inner_cv_errors_name_the_outer_fold_and_train_fraction) {
  const int n = 40, p = 12, t = 2;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  linalg::Mat<double> X(n, p), Y(n, t);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < p; ++j) X(i, j) = g(rng);
  Y = X.leftCols(t);
  std::vector<int32_t> run(n);
  std::vector<std::string> stim(n);
  for (int i = 0; i < n; ++i) run[size_t(i)] = i / 10, stim[size_t(i)] = "s" + std::to_string(i);
  cv::RidgeCvSettings s;
  s.alphas = {0.1, 1};
  s.train_fraction = 0.25;  // 3 training runs per outer fold -> 1
  const std::string why = test::check_error([&] { cv::cross_validate<double>(X, Y, run, stim, s); }, ExitCode::input,
                                            {"outer fold 0 of 4", "in 1 run(s)", "ridge.train_fraction = 0.25",
                                             "inner cross-validation", "at least 2 runs; found 1"});
  BOOST_CHECK_MESSAGE(why.find("ridge.outer") == std::string::npos, why);
  // The final model on all samples: the error says so.
  std::vector<int32_t> one_run(n, 0);
  linalg::Mat<double> W;
  linalg::RowVec<double> b;
  test::check_error([&] { cv::select_and_fit<double>(X, Y, one_run, cv::RidgeCvSettings{}, W, b); }, ExitCode::input,
                    {"final model on all 40 samples", "at least 2 runs; found 1"});
}

BOOST_AUTO_TEST_CASE(reproducers_end_with_their_exit_code) {
  test::TempDir dir("v2c-repro");
  // A NaN voxel in BData with voxel selection (an exception inside an OpenMP region aborted).
  std::string out = dir.file("bdata.h5");
  auto r = test::run_stage(
      "ridge", {"--bdata", regress("bdata_nan.h5"), "--features", regress("bdata_feat.npy"), "--feature-names",
                regress("bdata_names.txt"), "--set", "ridge.select_voxels=10", "--out", out});
  test::check_refused(r, 3, out, {"bdata_nan.h5", "row 5, column 3", "finite"});
  // 20k nested groups in retrieve.novel_pattern (std::regex overflowed its stack).
  out = dir.file("retrieval.h5");
  r = test::run_stage("retrieve",
                      {"--config", regress("regex_nested.yaml"), "--predictions", dir.file("none.h5"), "--out", out});
  test::check_refused(r, 2, out, {"retrieve.novel_pattern", "(40000 characters)"});
  BOOST_CHECK_LT(r.output.size(), 1000u);
  // A YAML key that is a list (an internal error before).
  out = dir.file("ridge.h5");
  r = test::run_stage("ridge",
                      {"--config", regress("yaml_complex_key.yaml"), "--samples", dir.file("none.h5"), "--out", out});
  test::check_refused(r, 2, out, {"yaml_complex_key.yaml", "section 'ridge'", "a key must be a plain name"});
  // NIfTI headers: a voxel count x bytes that wraps (a heap over-read), a NIfTI-2 dim[0] of
  // 2^31+4 (a crash inside libnifti2), a negative vox_offset in a truncated .nii.gz, dims whose
  // product times the bytes wrapped 128 bits in that check (found by `make fuzz`: UBSan in volume_size),
  // a 47-byte .nii.gz declaring 22 GB (allocated before inflating: a fuzz timeout).
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"n1_5d_f64.nii", "exceed 2^62 bytes"},
      {"n2_dim0_flip.nii", "dim[0] = "},
      {"negative_voxoffset_trunc.nii.gz", "vox_offset"},
      {"n2_dims_wrap_128_bits.nii", "exceed 2^62"},
      {"gz_47_bytes_declaring_gigabytes.nii.gz", "47 compressed bytes cannot hold"}};
  for (const auto& [name, says] : headers) {
    r = test::run_stage("info", {"--json", regress(name, "fuzz/nifti")});
    BOOST_TEST_CONTEXT(name) { test::check_refused(r, 3, dir.file("none"), {name, says}); }
  }
  out = dir.file("wrap.h5");
  r = test::run_stage(
      "prepare", {"--bold", regress("n2_wrap_bold.nii", "fuzz/nifti"), "--mask",
                  regress("n2_wrap_mask.nii", "fuzz/nifti"), "--events", regress("n2_wrap_events.tsv"), "--out", out});
  test::check_refused(r, 3, out, {"n2_wrap_", "exceed 2^62 bytes"});
  // Damaged variable-length strings whose heap lengths are wild (found by `make fuzz`): HDF5
  // allocated 1.4 and 3 GB for them in the probe's child; now refused with at most 1 GB used by
  // any process of the run (measured in a forked process that runs the stage and reports its
  // children's peak).
  for (const std::string name : {"vlen_heap_length_1gb.h5", "vlen_heap_length_3gb.h5"}) {
    out = dir.file("heap.h5");
    const std::string cmd = test::shell_quote(test::stage_binary("ridge")) + " --samples " +
                            test::shell_quote(regress(name, "fuzz/h5")) + " --out " + test::shell_quote(out) + " > " +
                            test::shell_quote(dir.file("heap.log")) + " 2>&1";
    const pid_t pid = fork();
    if (pid == 0) {
      const int status = std::system(cmd.c_str());
      rusage ru{};
      getrusage(RUSAGE_CHILDREN, &ru);
      _exit(!WIFEXITED(status) || WEXITSTATUS(status) != 3 ? 2 : ru.ru_maxrss > (1 << 20) ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_TEST_CONTEXT(name) {
      BOOST_CHECK_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) != 2,
                          "not exit 3: " << test::read_text_file(dir.file("heap.log")));
      BOOST_CHECK_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) != 1, "a process of the run used more than 1 GB");
      BOOST_CHECK(!fs::exists(out));
    }
  }
  // A .npy header of 60 KB of '[' (a stack overflow): refused, and the message is short.
  const std::string why = test::check_error([&] { npy::read_npy(regress("deep_header.npy", "fuzz/npy")); },
                                            ExitCode::input, {"deep_header.npy"});
  BOOST_CHECK_LT(why.size(), 1000u);
  // Sizes a user gives are bounded.
  r = test::run_stage("ridge", {"--samples", dir.file("none.h5"), "--threads", "2147483648", "--out", out});
  test::check_refused(r, 2, out, {"--threads", "2147483648"});
  r = test::run_stage("ridge", {"--samples", dir.file("none.h5"), "--seed", "99999999999999999999", "--out", out});
  test::check_refused(r, 2, out, {"--seed"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(outputs)

BOOST_AUTO_TEST_CASE(a_lock_excludes_a_second_holder_and_disappears_with_the_first) {
  test::TempDir dir("v2c-lock");
  const std::string out = dir.file("new/sub/out.h5");
  {
    OutputLock first(out);
    BOOST_CHECK(fs::exists(dir.file("new/sub/.out.h5.lock")));
    test::check_error([&] { OutputLock second(out); }, ExitCode::usage, {"out.h5", "being written by another run"});
  }
  BOOST_CHECK(!fs::exists(dir.file("new")));  // created for the lock, removed when empty
  OutputLock again(out);
}

BOOST_AUTO_TEST_CASE(output_set_rules) {
  test::TempDir dir("v2c-output-set");
  const std::string in = dir.write("in.h5", "x"), study = dir.file("study");
  fs::create_directories(study + "/sub-01");
  const std::string inner = dir.write("study/sub-01/a.h5", "y");
  {
    OutputSet s;
    s.add_input(in, "--samples");
    test::check_error([&] { s.add_output(in, true, "--out"); }, ExitCode::usage, {"is the input", "--samples"});
    test::check_error([&] { s.add_output(dir.path().string(), true); }, ExitCode::usage, {"contains the input"});
    s.add_output(dir.file("out.h5"), false, "--out");
    test::check_error([&] { s.add_output(dir.file("out.h5"), false, "--map"); }, ExitCode::usage, {"is also output"});
    test::check_error([&] { s.add_input(dir.file("out.h5")); }, ExitCode::usage, {"is the input"});
  }
  {
    // An output inside an input directory is allowed; a file read there that it would replace is not.
    OutputSet s;
    s.add_input(study, "--study");
    s.add_output(study + "/report", true, "--out");
    s.add_input(inner);
    test::check_error([&] { s.add_output(study + "/sub-01", true, "--map"); }, ExitCode::usage,
                      {"contains the input", "a.h5"});
  }
  test::check_error(
      [&] {
        OutputSet s;
        s.add_output(in, false);
      },
      ExitCode::usage, {"already exists", "--force"});
}

BOOST_AUTO_TEST_CASE(commit_without_force_never_replaces_an_output_that_appeared) {
  test::TempDir dir("v2c-commit");
  const std::string target = dir.file("out.txt");
  AtomicOutput out(target, false);
  std::ofstream(out.temp_path()) << "mine";
  std::ofstream(target) << "someone else's";
  test::check_error([&] { out.commit(); }, ExitCode::usage, {"appeared while this run was writing it"});
  BOOST_CHECK_EQUAL(test::read_text_file(target), "someone else's");
}

BOOST_AUTO_TEST_SUITE_END()
