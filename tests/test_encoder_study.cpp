// The shared encoder end to end, through the executables users run: pretraining killed and
// resumed gives the weights of an uninterrupted run, and on simulated studies ridge and the
// pretrained encoder fine-tuned on a quarter of a held-out subject's training runs each decode the
// novel test stimuli above chance (per-subject permutation test of top-1). Which model is ahead is
// not asserted here: one subject of one seed cannot say, and over 5 seeds the answer depends on the
// retrieval protocol and the negative control does not come out null (docs/validation.md); the
// comparison is printed.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "pipeline/io/h5.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;
namespace utf = boost::unit_test;

namespace {

// Every parameter of two encoder checkpoints, compared bit for bit.
int64_t differing_params(const std::string& a, const std::string& b, std::string& first) {
  const h5::ArtifactReader ra(a, "encoder_checkpoint", 1), rb(b, "encoder_checkpoint", 1);
  const auto names = ra.read_strings("param_names");
  BOOST_REQUIRE(names == rb.read_strings("param_names"));
  int64_t differing = 0;
  for (const auto& n : names) {
    const MatrixF x = ra.read_matrix_f("params/" + n), y = rb.read_matrix_f("params/" + n);
    if (x.rows() != y.rows() || x.cols() != y.cols() ||
        std::memcmp(x.data(), y.data(), size_t(x.size()) * sizeof(float)) != 0) {
      if (!differing) first = n;
      ++differing;
    }
  }
  return differing;
}

double metric(const std::string& retrieval, const std::string& name) {
  const h5::ArtifactReader r(retrieval, "retrieval", 1);
  const auto names = r.read_strings("metrics/name");
  const auto values = r.read_doubles("metrics/value");
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return values[i];
  BOOST_FAIL("no metric " << name << " in " << retrieval);
  return 0;
}

// The per-subject permutation p-value of a metric (retrieve.permutations, eval/label_permutation.h).
double p_permutation(const std::string& retrieval, const std::string& name) {
  const h5::ArtifactReader r(retrieval, "retrieval", 1);
  const auto names = r.read_strings("metrics/name");
  const auto p = r.read_doubles("metrics/p_permutation");
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return p[i];
  BOOST_FAIL("no metric " << name << " in " << retrieval);
  return 1;
}

void run_ok(const std::string& stage, const std::vector<std::string>& args) {
  const auto r = test::run_stage(stage, args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "v2c-" << stage << " failed:\n" << r.output);
}

// The default study's config with its labelled runs only — no spontaneous activity, rest runs or
// unlabelled subjects, which it has for its self-supervised rows (issue 11): the spontaneous
// fluctuation is read out through the stimulus read-out, and with it sub-08's encoder at 25% falls
// from 0.425 / 0.25 (nonlinear / linear study) to 0.1 / 0.1, p 0.014 / 0.016, and ridge at 100%
// from 0.4 / 0.375 to 0.25 / 0.175 — plus the test's simulate overrides; sub-08's results.
struct StudyResult {
  double ridge_full = 0, ridge_quarter = 0, encoder_quarter = 0;
  double p_ridge_full = 1, p_encoder_quarter = 1;  // permutation p of top1_all_forward
};

StudyResult run_study(const std::string& dir, const std::vector<std::string>& overrides) {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  const std::string config = (*root / "configs/default.yaml").string(), bids = dir + "/bids";
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), {"--config", config, "--quiet", "--force"});
    return a;
  };
  std::vector<std::string> sim = with({"--out", bids});
  for (const char* o : {"simulate.spontaneous_pct=0", "simulate.rest_runs=0", "simulate.unlabelled_subjects=0"})
    sim.insert(sim.end(), {"--set", o});
  for (const auto& o : overrides) sim.insert(sim.end(), {"--set", o});
  run_ok("simulate", sim);
  std::vector<std::string> pretrain_args = {"--samples"};
  for (int s = 1; s <= 8; ++s) {
    const std::string sub = "sub-0" + std::to_string(s), out = dir + "/" + sub + ".h5";
    run_ok("prepare",
           with({"--bids", bids, "--subject", sub, "--features", bids + "/stimuli/features.h5", "--out", out}));
    if (s < 8) pretrain_args.push_back(out);
  }
  const std::string held = dir + "/sub-08.h5";
  StudyResult res;
  for (const std::string f : {"1", "0.25"}) {
    run_ok("ridge",
           with({"--samples", held, "--set", "ridge.train_fraction=" + f, "--out", dir + "/ridge-" + f + ".h5"}));
    run_ok("retrieve", with({"--predictions", dir + "/ridge-" + f + ".h5", "--samples", held, "--out",
                             dir + "/ridge-" + f + ".r.h5"}));
  }
  // Pretraining leaves out the stimuli sub-08's folds test (the novel test stimuli).
  pretrain_args.insert(pretrain_args.end(), {"--heldout-samples", held, "--heldout-folds", dir + "/ridge-1.h5", "--out",
                                             dir + "/encoder.h5"});
  run_ok("pretrain", with(pretrain_args));
  run_ok("finetune", with({"--samples", held, "--pretrained", dir + "/encoder.h5", "--folds-from",
                           dir + "/ridge-0.25.h5", "--set", "finetune.mode=adapter", "--out", dir + "/enc.h5"}));
  run_ok("retrieve", with({"--predictions", dir + "/enc.h5", "--samples", held, "--out", dir + "/enc.r.h5"}));
  res.ridge_full = metric(dir + "/ridge-1.r.h5", "top1_forward");
  res.ridge_quarter = metric(dir + "/ridge-0.25.r.h5", "top1_forward");
  res.encoder_quarter = metric(dir + "/enc.r.h5", "top1_forward");
  res.p_ridge_full = p_permutation(dir + "/ridge-1.r.h5", "top1_all_forward");
  res.p_encoder_quarter = p_permutation(dir + "/enc.r.h5", "top1_all_forward");
  return res;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(encoder_study)

BOOST_AUTO_TEST_CASE(pretraining_killed_and_resumed_matches_an_uninterrupted_run) {
  test::TempDir dir("v2c-resume");
  const std::string bids = dir.file("bids");
  run_ok("simulate", {"--set", "simulate.n_subjects=2", "--set", "simulate.grid_dims=[8,9,8]", "--set",
                      "simulate.feature_dim=32", "--set", "simulate.train_per_category=12", "--quiet", "--out", bids});
  std::vector<std::string> samples;
  for (const std::string sub : {"sub-01", "sub-02"}) {
    samples.push_back(dir.file(sub + ".h5"));
    run_ok("prepare", {"--bids", bids, "--subject", sub, "--features", bids + "/stimuli/features.h5", "--out",
                       samples.back(), "--quiet"});
  }
  const std::vector<std::string> common = {"--samples",
                                           samples[0],
                                           samples[1],
                                           "--threads",
                                           "1",
                                           "--seed",
                                           "5",
                                           "--set",
                                           "pretrain.latent=64",
                                           "--set",
                                           "pretrain.epochs=40",
                                           "--set",
                                           "pretrain.patience=1000",
                                           "--set",
                                           "pretrain.checkpoint_every=5",
                                           "--set",
                                           "pretrain.batch_size=16",
                                           "--set",
                                           "pretrain.mixco=true",
                                           "--quiet"};
  auto args = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), {"--out", out});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  run_ok("pretrain", args(dir.file("straight.h5"), {}));
  // Interrupt once the first checkpoint exists, then resume.
  const std::string out = dir.file("resumed.h5");
  std::string cmd = test::shell_quote(test::stage_binary("pretrain"));
  for (const auto& a : args(out, {})) cmd += " " + test::shell_quote(a);
  const std::string script = "( " + cmd + " ) > " + test::shell_quote(dir.file("killed.log")) +
                             " 2>&1 & pid=$!; for i in $(seq 1 600); do [ -f " + test::shell_quote(out + ".ckpt") +
                             " ] && break; sleep 0.02; done; kill -INT $pid; wait $pid; echo $? > " +
                             test::shell_quote(dir.file("killed.code"));
  BOOST_REQUIRE_EQUAL(std::system(("bash -c " + test::shell_quote(script)).c_str()), 0);
  std::ifstream code_in(dir.file("killed.code"));
  int code = -1;
  code_in >> code;
  BOOST_REQUIRE_MESSAGE(code == 130, "the interrupted run exited " << code << ":\n"
                                                                   << test::read_text_file(dir.file("killed.log")));
  BOOST_CHECK(!fs::exists(out));  // no final output from an interrupted run
  BOOST_CHECK(fs::exists(out + ".ckpt"));
  run_ok("pretrain", args(out, {"--resume"}));
  std::string first;
  BOOST_CHECK_MESSAGE(differing_params(dir.file("straight.h5"), out, first) == 0,
                      "resumed weights differ from the uninterrupted run's, first: " << first);
}

// Each model decodes sub-08's 40 novel stimuli above chance (p <= 0.01 of 1000 permutations).
void check_both_decode(const StudyResult& r, const char* study) {
  BOOST_TEST_MESSAGE(study << " study, sub-08 top-1 among 40 novel stimuli (chance 0.025): encoder (adapter, 25% of "
                              "runs) "
                           << r.encoder_quarter << " (p " << r.p_encoder_quarter << "), ridge 100% " << r.ridge_full
                           << " (p " << r.p_ridge_full << "), ridge 25% " << r.ridge_quarter);
  BOOST_CHECK_LE(r.p_ridge_full, 0.01);
  BOOST_CHECK_LE(r.p_encoder_quarter, 0.01);
  BOOST_CHECK_GT(r.ridge_full, 0.025);
  BOOST_CHECK_GT(r.encoder_quarter, 0.025);
}

BOOST_AUTO_TEST_CASE(ridge_and_encoder_decode_novel_stimuli_with_a_shared_nonlinearity) {
  test::TempDir dir("v2c-study-nonlinear");
  check_both_decode(run_study(dir.path().string(), {}), "nonlinear");
}

BOOST_AUTO_TEST_CASE(ridge_and_encoder_decode_novel_stimuli_on_a_linear_study) {
  test::TempDir dir("v2c-study-linear");
  check_both_decode(run_study(dir.path().string(), {"simulate.linear=true"}), "linear");
}

BOOST_AUTO_TEST_SUITE_END()
