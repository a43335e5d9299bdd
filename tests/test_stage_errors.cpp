// Failure paths of the later stages' settings, through the executables: exit code, a message
// naming the field or file, and no output left behind.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

BOOST_AUTO_TEST_SUITE(stage_errors)

BOOST_AUTO_TEST_CASE(simulate_subset_larger_than_the_pool) {
  test::TempDir dir("v2c-sim-pool");
  const std::string out = dir.file("bids");
  test::check_refused(test::run_stage("simulate", {"--set", "simulate.train_per_subject=100000", "--out", out}), 2, out,
                      {"simulate.train_per_subject", "training pool"});
}

BOOST_AUTO_TEST_CASE(ridge_explicit_folds_must_be_run_lists) {
  test::TinyStudy st;
  const std::string out = st.dir.file("ridge.h5");
  test::check_refused(test::run_stage("ridge", {"--samples", st.s1, "--set", "ridge.outer=explicit", "--set",
                                                "ridge.explicit_folds=[\"8 x\"]", "--out", out}),
                      2, out, {"ridge.explicit_folds", "8 x"});
}

BOOST_AUTO_TEST_CASE(pretrain_and_finetune_refuse_bad_settings) {
  test::TinyStudy st;
  const std::string enc = st.dir.file("encoder.h5");
  // Validation runs that leave nothing to train on.
  test::check_refused(
      test::run_stage("pretrain", {"--samples", st.s1, st.s2, "--set", "pretrain.val_runs=50", "--out", enc}), 3, enc,
      {"pretrain.val_runs", "sub-01"});
  // The same subject twice.
  test::check_refused(test::run_stage("pretrain", {"--samples", st.s1, st.s1, "--out", enc}), 3, enc, {"given twice"});
  // A missing pretrained model.
  const std::string out = st.dir.file("ft.h5");
  test::check_refused(test::run_stage("finetune", {"--samples", st.s2, "--pretrained", st.dir.file("none.h5"),
                                                   "--folds-from", st.dir.file("missing.h5"), "--out", out}),
                      4, out, {"none.h5"});
  // No fold file: the folds are ridge's, never rebuilt.
  test::check_refused(test::run_stage("finetune", {"--samples", st.s2, "--out", out}), 2, out, {"--folds-from"});
  // A missing fold file.
  test::check_refused(
      test::run_stage("finetune", {"--samples", st.s2, "--folds-from", st.dir.file("missing.h5"), "--out", out}), 4,
      out, {"missing.h5"});
}

BOOST_AUTO_TEST_SUITE_END()
