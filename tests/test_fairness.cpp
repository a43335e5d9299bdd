// Ridge and the encoders compared on equal terms, through the executables users run: every model
// trains on exactly the rows ridge trained on in each outer fold (one fold definition, written to
// predictions.h5 by v2c-ridge).
#include <boost/test/unit_test.hpp>

#include <set>

#include "pipeline/io/predictions.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

void run_ok(const std::string& stage, const std::vector<std::string>& args) {
  const auto r = test::run_stage(stage, args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "v2c-" << stage << " failed:\n" << r.output);
}

// A small simulated study: 10 runs per subject, the 2 test runs repeat the novel stimuli.
struct SmallStudy {
  test::TempDir dir{"v2c-fairness"};
  std::string bids = dir.file("bids");
  explicit SmallStudy(int n_subjects, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--set", "simulate.n_subjects=" + std::to_string(n_subjects), "--set",
                                     "simulate.grid_dims=[8,9,8]", "--set", "simulate.feature_dim=16", "--quiet",
                                     "--out", bids};
    for (const auto& e : extra) args.insert(args.end(), {"--set", e});
    run_ok("simulate", args);
    for (int s = 1; s <= n_subjects; ++s)
      run_ok("prepare", {"--bids", bids, "--subject", subject(s), "--features", bids + "/stimuli/features.h5", "--out",
                         samples(s), "--quiet"});
  }
  static std::string subject(int s) { return "sub-0" + std::to_string(s); }
  std::string samples(int s) const { return dir.file(subject(s) + ".h5"); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(fair_comparison)

// Done-when 2 of issue 10: with `exclusive` on (training rows of a test fold's stimuli dropped) and a
// learning-curve fraction, the encoder trains on ridge's rows fold by fold, none of which shows a
// stimulus its fold tests.
BOOST_AUTO_TEST_CASE(finetuning_trains_on_ridges_rows_in_every_fold_with_exclusive_on) {
  SmallStudy st(1);
  for (const std::string fraction : {"1", "0.5"}) {
    BOOST_TEST_CONTEXT("train_fraction " << fraction) {
      const std::string ridge = st.dir.file("ridge-" + fraction + ".h5"), enc = st.dir.file("enc-" + fraction + ".h5");
      run_ok("ridge", {"--samples", st.samples(1), "--set", "ridge.exclusive=true", "--set",
                       "ridge.train_fraction=" + fraction, "--set", "ridge.alphas=[1,100]", "--quiet", "--out", ridge});
      run_ok("finetune", {"--samples", st.samples(1), "--folds-from", ridge, "--set", "finetune.epochs=2", "--set",
                          "finetune.latent=8", "--quiet", "--out", enc});
      const Predictions r = read_predictions(ridge), e = read_predictions(enc);
      BOOST_REQUIRE_EQUAL(r.fold_train.size(), 10u);  // leave one run out over 10 runs
      BOOST_REQUIRE_EQUAL(e.fold_train.size(), r.fold_train.size());
      BOOST_CHECK(e.fold == r.fold);
      BOOST_CHECK_EQUAL(e.train_fraction, r.train_fraction);
      int64_t dropped_by_exclusive = 0;
      for (size_t f = 0; f < r.fold_train.size(); ++f) {
        BOOST_CHECK_MESSAGE(e.fold_train[f] == r.fold_train[f], "fold " << f << ": the encoder trained on "
                                                                        << e.fold_train[f].size() << " rows, ridge on "
                                                                        << r.fold_train[f].size());
        std::set<std::string> tested;
        for (int64_t i : fold_test_rows(r, int(f))) tested.insert(r.stimulus[size_t(i)]);
        for (int64_t i : e.fold_train[f])
          BOOST_CHECK_MESSAGE(!tested.count(e.stimulus[size_t(i)]),
                              "fold " << f << " trains on row " << i << " of tested stimulus " << e.stimulus[size_t(i)]);
        // Rows outside the fold's test showing a tested stimulus: the other test run's repeats.
        for (size_t i = 0; i < e.run.size(); ++i) dropped_by_exclusive += e.fold[i] != int32_t(f) && tested.count(e.stimulus[i]);
      }
      BOOST_CHECK_GT(dropped_by_exclusive, 0);  // the design exercises `exclusive`
    }
  }
}

// A fold file of other samples, or one without training rows, is refused rather than re-derived.
BOOST_AUTO_TEST_CASE(finetuning_refuses_folds_of_other_samples) {
  SmallStudy st(2);
  const std::string ridge = st.dir.file("ridge.h5"), enc = st.dir.file("enc.h5");
  run_ok("ridge", {"--samples", st.samples(1), "--set", "ridge.alphas=[1,100]", "--quiet", "--out", ridge});
  test::check_stage_failure(test::run_stage("finetune", {"--samples", st.samples(2), "--folds-from", ridge, "--set",
                                                         "finetune.epochs=1", "--quiet", "--out", enc}),
                            3, enc, {"another subject", "sub-02"});
}

BOOST_AUTO_TEST_SUITE_END()
