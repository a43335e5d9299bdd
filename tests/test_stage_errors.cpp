// Failure paths of the later stages' settings, through the executables: exit code, a message
// naming the field or file, and no output left behind.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

void check_refused(const test::StageRun& r, int code, const std::string& out, std::initializer_list<std::string> words) {
  BOOST_CHECK_MESSAGE(r.exit_code == code, "exit " << r.exit_code << ", expected " << code << ":\n" << r.output);
  for (const auto& w : words)
    BOOST_CHECK_MESSAGE(r.output.find(w) != std::string::npos, "output lacks '" << w << "':\n" << r.output);
  BOOST_CHECK(!fs::exists(out));
}

// A two-subject study prepared with features, for the stage-level checks.
struct TinyStudy {
  test::TempDir dir{"v2c-stage-errors"};
  std::string bids = dir.file("bids"), s1 = dir.file("sub-01.h5"), s2 = dir.file("sub-02.h5");
  TinyStudy() {
    auto r = test::run_stage("simulate", {"--set", "simulate.n_subjects=2", "--set", "simulate.grid_dims=[8,9,8]",
                                          "--set", "simulate.feature_dim=16", "--quiet", "--out", bids});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    for (const auto& [sub, out] : {std::pair<std::string, std::string>{"sub-01", s1}, {"sub-02", s2}}) {
      r = test::run_stage("prepare", {"--bids", bids, "--subject", sub, "--features", bids + "/stimuli/features.h5",
                                      "--out", out, "--quiet"});
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(stage_errors)

BOOST_AUTO_TEST_CASE(simulate_subset_larger_than_the_pool) {
  test::TempDir dir("v2c-sim-pool");
  const std::string out = dir.file("bids");
  check_refused(test::run_stage("simulate", {"--set", "simulate.train_per_subject=100000", "--out", out}), 2, out,
                {"simulate.train_per_subject", "training pool"});
}

BOOST_AUTO_TEST_CASE(ridge_explicit_folds_must_be_run_lists) {
  TinyStudy st;
  const std::string out = st.dir.file("ridge.h5");
  check_refused(test::run_stage("ridge", {"--samples", st.s1, "--set", "ridge.outer=explicit", "--set",
                                          "ridge.explicit_folds=[\"8 x\"]", "--out", out}),
                2, out, {"ridge.explicit_folds", "8 x"});
}

BOOST_AUTO_TEST_CASE(pretrain_and_finetune_refuse_bad_settings) {
  TinyStudy st;
  const std::string enc = st.dir.file("encoder.h5");
  // Validation runs that leave nothing to train on.
  check_refused(test::run_stage("pretrain", {"--samples", st.s1, st.s2, "--set", "pretrain.val_runs=50", "--out", enc}),
                3, enc, {"pretrain.val_runs", "sub-01"});
  // The same subject twice.
  check_refused(test::run_stage("pretrain", {"--samples", st.s1, st.s1, "--out", enc}), 3, enc, {"given twice"});
  // A missing pretrained model.
  const std::string out = st.dir.file("ft.h5");
  check_refused(test::run_stage("finetune", {"--samples", st.s2, "--pretrained", st.dir.file("none.h5"), "--folds-from",
                                             st.dir.file("missing.h5"), "--out", out}),
                4, out, {"none.h5"});
  // No fold file: the folds are ridge's, never rebuilt.
  check_refused(test::run_stage("finetune", {"--samples", st.s2, "--out", out}), 2, out, {"--folds-from"});
  // A missing fold file.
  check_refused(test::run_stage("finetune", {"--samples", st.s2, "--folds-from", st.dir.file("missing.h5"), "--out", out}),
                4, out, {"missing.h5"});
}

BOOST_AUTO_TEST_SUITE_END()
