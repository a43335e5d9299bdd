// The README's command reference is generated from the stage declarations; it must be current.
// The README's walkthrough (an event-related BIDS study with fMRIPrep derivatives) runs as written.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/io/nifti.h"
#include "pipeline/io/samples.h"
#include "tests/test_util.h"

BOOST_AUTO_TEST_SUITE(docs)

BOOST_AUTO_TEST_CASE(readme_command_reference_is_current) {
  const auto root = v2c::test::repo_root();
  BOOST_REQUIRE(root);
  const std::string cmd = v2c::test::shell_quote((*root / "scripts/gen-cli-reference.sh").string()) + " --check 2>&1";
  const int status = std::system(cmd.c_str());
  BOOST_CHECK_MESSAGE(status == 0, "README.md's command reference is out of date: run `make docs`");
}

namespace {

// The README's walkthrough block: the sh lines between the BEGIN/END WALKTHROUGH markers, the
// `BIDS=` line left out (the test sets it), continuation lines joined.
std::string walkthrough_commands(const std::string& readme) {
  const size_t begin = readme.find("<!-- BEGIN WALKTHROUGH"), end = readme.find("<!-- END WALKTHROUGH -->");
  if (begin == std::string::npos || end == std::string::npos) return "";
  std::istringstream in(readme.substr(begin, end - begin));
  std::string line, script;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      inside = !inside;
      continue;
    }
    if (inside && line.rfind("BIDS=", 0) != 0) script += line + "\n";
  }
  return script;
}

}  // namespace

BOOST_AUTO_TEST_CASE(readme_walkthrough_runs_on_an_event_related_bids_study_with_fmriprep_derivatives) {
  namespace fs = std::filesystem;
  using v2c::test::run_stage;
  const auto root = v2c::test::repo_root();
  BOOST_REQUIRE(root);
  const std::string script = walkthrough_commands(v2c::test::read_text_file(*root / "README.md"));
  BOOST_REQUIRE_MESSAGE(script.find("v2c-prepare") != std::string::npos, "no walkthrough in README.md");
  // A small event-related study (0.9 s events, jittered, TR 2 s, 3 runs) from v2c-simulate, laid
  // out as raw BIDS (events with the category as trial_type, sidecars) plus fMRIPrep derivatives
  // (preprocessed runs and brain masks in space T1w, confounds tables).
  v2c::test::TempDir dir("v2c-walk");
  const std::string sim = dir.file("sim");
  const auto made = run_stage("simulate", {"--out",  sim,
                                           "--seed", "5",
                                           "--set",  "simulate.n_subjects=1",
                                           "--set",  "simulate.grid_dims=[10,10,8]",
                                           "--set",  "simulate.grid_jitter=0",
                                           "--set",  "simulate.n_categories=4",
                                           "--set",  "simulate.train_per_category=12",
                                           "--set",  "simulate.test_runs=0",
                                           "--set",  "simulate.train_runs=3",
                                           "--set",  "simulate.feature_dim=16",
                                           "--set",  "simulate.latent_dim=4",
                                           "--set",  "simulate.hidden_dim=8",
                                           "--set",  "simulate.stimulus_s=0.9",
                                           "--set",  "simulate.isi_s=2.1",
                                           "--set",  "simulate.isi_jitter_s=1",
                                           "--set",  "simulate.snr=2"});
  BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.output);
  const fs::path bids = dir.path() / "loc", raw = bids / "sub-01" / "func",
                 der = bids / "derivatives" / "fmriprep" / "sub-01" / "func";
  fs::create_directories(raw);
  fs::create_directories(der);
  for (int r = 1; r <= 3; ++r) {
    const std::string src = sim + "/sub-01/func/sub-01_task-sim_run-0" + std::to_string(r);
    const std::string stem = "sub-01_task-loc_run-" + std::to_string(r);
    std::istringstream events(v2c::test::read_text_file(src + "_events.tsv"));
    std::ostringstream loc;
    std::string line;
    std::getline(events, line);
    loc << line << "\n";
    while (std::getline(events, line)) {  // onset \t duration \t train-c03-0012 -> c03
      const size_t id = line.rfind('\t') + 1;
      loc << line.substr(0, id) << line.substr(id + 6, 3) << "\n";
    }
    std::ofstream(raw / (stem + "_events.tsv")) << loc.str();
    std::ofstream(raw / (stem + "_bold.json")) << "{\"RepetitionTime\": 2.0, \"TaskName\": \"loc\"}\n";
    fs::copy_file(src + "_bold.nii.gz", der / (stem + "_space-T1w_desc-preproc_bold.nii.gz"));
    fs::copy_file(sim + "/sub-01/anat/sub-01_desc-brain_mask.nii.gz",
                  der / (stem + "_space-T1w_desc-brain_mask.nii.gz"));
    const int64_t nt = v2c::nifti::read_header(src + "_bold.nii.gz").n_volumes();
    std::ofstream conf(der / (stem + "_desc-confounds_timeseries.tsv"));
    conf << "trans_x\ttrans_y\ttrans_z\trot_x\trot_y\trot_z\tcsf\twhite_matter\tframewise_displacement\n";
    for (int64_t t = 0; t < nt; ++t) {
      for (int c = 0; c < 8; ++c) conf << 0.01 * std::sin(0.05 * double(t) * (c + 1) + r) << "\t";
      conf << (t ? "0.1" : "n/a") << "\n";
    }
  }
  // The commands as written, from a scratch directory whose build/ is this build.
  const fs::path work = dir.path() / "cwd";
  fs::create_directories(work);
  fs::create_directory_symlink(*root / "build", work / "build");
  const std::string file = dir.write("walkthrough.sh", "set -euo pipefail\nBIDS=" + bids.string() + "\n" + script);
  const std::string log = dir.file("walkthrough.log");
  const int status = std::system(("cd " + v2c::test::shell_quote(work.string()) + " && bash " +
                                  v2c::test::shell_quote(file) + " > " + v2c::test::shell_quote(log) + " 2>&1")
                                     .c_str());
  BOOST_REQUIRE_MESSAGE(status == 0, v2c::test::read_text_file(log));
  for (const char* out : {"samples.h5", "ridge.h5", "ridge-groups.h5", "ridge.retrieval.h5"})
    BOOST_CHECK_MESSAGE(fs::is_regular_file(work / "work/loc/sub-01" / out), out);
  const v2c::Samples s = v2c::read_samples((work / "work/loc/sub-01/samples.h5").string());
  BOOST_CHECK_EQUAL(s.sample_mode, "glm-lss");
  BOOST_CHECK_EQUAL(s.features.rows(), 4);  // the categories, one-hot
  BOOST_CHECK_EQUAL(s.n_samples(), 48);     // every event a sample
  BOOST_CHECK_EQUAL(s.run_tr_s[0], 2.0);
}

BOOST_AUTO_TEST_SUITE_END()
