// The make pipeline on a cluster: `make run LAUNCH=... MPI_LAUNCH=...` sends every stage command
// through the launcher (pipeline.mk). A small simulated study runs with a wrapper launcher that
// records each command line and then executes it; every stage of the pipeline must appear in the
// record as often as the study needs it, and no stage may have run without the launcher.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <sstream>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

// 3 subjects (sub-03 held out), one training fraction: 1 simulate, 3 prepare, 3 ridge, 2 pretrain
// (the encoder, the linear baseline), 4 finetune (adapter, full, linear, scratch), 1 align,
// 8 retrieve, 1 report, and the plan.
const char* kStudy = R"(simulate:
  n_subjects: 3
  grid_dims: [8, 9, 8]
  feature_dim: 32
  train_per_category: 6
  test_per_category: 2
  train_runs: 4
  test_runs: 1
study:
  source: simulate
  heldout: [sub-03]
  train_fractions: [1.0]
ridge:
  outer: explicit
  explicit_folds: ["4"]
  alphas: [1, 100, 10000]
pretrain:
  exclude_runs: [4]
  latent: 32
  epochs: 2
  batch_size: 16
finetune:
  epochs: 3
)";

const std::map<std::string, int> kExpectedRuns = {{"plan", 1},  {"simulate", 1}, {"prepare", 3},
                                                  {"ridge", 3}, {"pretrain", 2}, {"finetune", 4},
                                                  {"align", 1}, {"retrieve", 8}, {"report", 1}};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_launch)

BOOST_AUTO_TEST_CASE(every_stage_of_the_pipeline_goes_through_the_launcher) {
  const auto root = test::repo_root();
  BOOST_REQUIRE_MESSAGE(root, "repository root not found from " << fs::current_path());
  test::TempDir dir("v2c-launch");
  const std::string record = dir.file("launched.txt");
  const std::string wrapper =
      dir.write("launch.sh", "#!/bin/bash\nprintf '%s\\n' \"$*\" >> " + test::shell_quote(record) + "\nexec \"$@\"\n");
  fs::permissions(wrapper, fs::perms::owner_exec, fs::perm_options::add);
  const std::string config = dir.write("tiny.yaml", kStudy);
  const std::string bin = fs::absolute(fs::path(test::stage_binary("plan")).parent_path()).string();
  const bool mpi = std::system("command -v mpirun > /dev/null 2>&1") == 0;
  // Under mpirun (when installed) pretraining runs data-parallel on 2 ranks, still through the wrapper.
  const std::string mpi_launch =
      mpi ? wrapper + " mpirun" + (geteuid() == 0 ? " --allow-run-as-root" : "") + " --oversubscribe -np 2" : "";
  // A make started by `make test` must not join its job server; BUILD in the scratch folder keeps
  // this make from touching the build's version stamp; V2C names the binaries under test.
  const std::string cmd = "cd " + test::shell_quote(root->string()) +
                          " && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j2 run" +
                          " BUILD=" + test::shell_quote(dir.file("build")) + " V2C=" + test::shell_quote(bin) +
                          " CONFIG=" + test::shell_quote(config) + " WORK=" + test::shell_quote(dir.file("work")) +
                          " LAUNCH=" + test::shell_quote(wrapper) + " MPI_LAUNCH=" + test::shell_quote(mpi_launch) +
                          " > " + test::shell_quote(dir.file("make.log")) + " 2>&1";
  const int status = std::system(("bash -c " + test::shell_quote(cmd)).c_str());
  const std::string make_log = test::read_text_file(dir.file("make.log"));
  BOOST_REQUIRE_MESSAGE(status == 0, "make run with LAUNCH failed:\n" << make_log);
  BOOST_REQUIRE(fs::exists(dir.file("work/report/index.html")));

  // The record: one line per command, "<v2c binary> args" or "mpirun ... <v2c binary> args".
  std::map<std::string, int> runs;
  const std::string prefix = bin + "/v2c-";
  for (const auto& line : lines_of(test::read_text_file(record))) {
    const size_t at = line.find(prefix);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "launched a command that is no stage: " << line);
    const size_t end = line.find(' ', at);
    const std::string stage = line.substr(at + prefix.size(), end - at - prefix.size());
    ++runs[stage];
    if (stage == "pretrain" && mpi)
      BOOST_CHECK_MESSAGE(line.rfind("mpirun ", 0) == 0, "pretraining did not go through MPI_LAUNCH: " << line);
  }
  for (const auto& [stage, n] : kExpectedRuns)
    BOOST_CHECK_MESSAGE(runs[stage] == n, "v2c-" << stage << " went through the launcher " << runs[stage]
                                                 << " time(s), expected " << n << "; make said:\n"
                                                 << make_log);
  BOOST_CHECK_EQUAL(runs.size(), kExpectedRuns.size());
  // make echoes each recipe: none may start a stage without the launcher.
  for (const auto& line : lines_of(make_log))
    BOOST_CHECK_MESSAGE(line.rfind(prefix, 0) != 0, "a stage ran without the launcher: " << line);
  if (mpi)
    BOOST_CHECK_MESSAGE(make_log.find("data-parallel: MPI, 2 ranks") != std::string::npos,
                        "pretraining did not run on 2 MPI ranks:\n"
                            << make_log);
}

BOOST_AUTO_TEST_SUITE_END()
