// Ridge and the encoders compared on equal terms, through the executables users run: every model
// trains on exactly the rows ridge trained on in each outer fold (one fold definition, written to
// predictions.h5 by v2c-ridge), and pretraining never trains or validates on a stimulus that a
// held-out subject is tested on.
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "pipeline/core/rng.h"

#include "pipeline/io/h5.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/finetune.h"
#include "pipeline/models/encoder/ssl/pretrain_ssl.h"
#include "pipeline/models/encoder/training_data.h"
#include "pipeline/models/ridge_run.h"
#include "pipeline/study/test_stimuli.h"
#include "tests/haxby_inputs.h"
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
    std::vector<std::string> args = {"--set",   "simulate.n_subjects=" + std::to_string(n_subjects),
                                     "--set",   "simulate.grid_dims=[8,9,8]",
                                     "--set",   "simulate.feature_dim=16",
                                     "--quiet", "--out",
                                     bids};
    for (const auto& e : extra) args.insert(args.end(), {"--set", e});
    run_ok("simulate", args);
    for (int s = 1; s <= n_subjects; ++s)
      run_ok("prepare", {"--bids", bids, "--subject", subject(s), "--features", bids + "/stimuli/features.h5", "--out",
                         samples(s), "--quiet"});
  }
  static std::string subject(int s) { return "sub-0" + std::to_string(s); }
  std::string samples(int s) const { return dir.file(subject(s) + ".h5"); }
  // A config with ridge's one explicit outer fold (runs 8 and 9 test), small pretraining and
  // fine-tuning at the learning rates `lr_grid`; `extra` (YAML) goes between them.
  std::string one_fold_config(const std::string& extra, const std::string& lr_grid) {
    return dir.write("c.yaml", "ridge:\n  outer: explicit\n  explicit_folds: [\"8 9\"]\n  alphas: [1, 100, 10000]\n" +
                                   extra + "pretrain:\n  epochs: 2\n  latent: 8\nfinetune:\n  epochs: 3\n  latent: 8\n" +
                                   "  lr_grid: " + lr_grid + "\n");
  }
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
          BOOST_CHECK_MESSAGE(!tested.count(e.stimulus[size_t(i)]), "fold " << f << " trains on row " << i
                                                                            << " of tested stimulus "
                                                                            << e.stimulus[size_t(i)]);
        // Rows outside the fold's test showing a tested stimulus: the other test run's repeats.
        for (size_t i = 0; i < e.run.size(); ++i)
          dropped_by_exclusive += e.fold[i] != int32_t(f) && tested.count(e.stimulus[i]);
      }
      BOOST_CHECK_GT(dropped_by_exclusive, 0);  // the design exercises `exclusive`
    }
  }
}

// Equal tuning: fine-tuning's learning rate and epochs come from an inner split of the fold's
// training runs only. Replacing the test runs' data by noise changes the test predictions but not
// one choice.
BOOST_AUTO_TEST_CASE(finetuning_tunes_rate_and_epochs_on_the_training_runs_only) {
  SmallStudy st(1);
  Samples noisy = read_samples(st.samples(1));
  rng::StreamRng noise(5);
  for (int64_t i = 0; i < noisy.n_samples(); ++i)
    if (noisy.run[size_t(i)] >= 8)
      for (int64_t v = 0; v < noisy.n_voxels(); ++v) noisy.data(i, v) = float(noise.normal());
  const std::string noisy_path = st.dir.file("noisy.h5");
  write_samples(noisy_path, noisy, Provenance{}, false);
  std::vector<Predictions> out;
  for (const std::string& samples : {st.samples(1), noisy_path}) {
    const std::string ridge = samples + ".ridge.h5", enc = samples + ".enc.h5";
    run_ok("ridge", {"--samples", samples, "--set", "ridge.outer=explicit", "--set", "ridge.explicit_folds=[\"8 9\"]",
                     "--set", "ridge.alphas=[1,100]", "--quiet", "--out", ridge});
    run_ok("finetune",
           {"--samples", samples, "--folds-from", ridge, "--set", "finetune.epochs=6", "--set", "finetune.latent=8",
            "--set", "finetune.lr_grid=[0.001,0.01]", "--set", "finetune.patience=3", "--quiet", "--out", enc});
    out.push_back(read_predictions(enc));
  }
  const Predictions& a = out[0];
  BOOST_REQUIRE_EQUAL(a.tuned_lr.size(), 1u);
  BOOST_CHECK((a.lr_grid == std::vector<double>{0.001, 0.01}));
  BOOST_CHECK(a.tuned_lr[0] == 0.001 || a.tuned_lr[0] == 0.01);
  BOOST_CHECK(a.tuned_epochs[0] >= 1 && a.tuned_epochs[0] <= 6);
  BOOST_CHECK(a.tuning_score.allFinite());
  BOOST_CHECK_EQUAL(a.tuned_lr[0], out[1].tuned_lr[0]);
  BOOST_CHECK_EQUAL(a.tuned_epochs[0], out[1].tuned_epochs[0]);
  BOOST_CHECK(a.tuning_score == out[1].tuning_score);
  const std::vector<int64_t> tested = fold_test_rows(a, 0);
  BOOST_REQUIRE(!tested.empty());
  BOOST_CHECK(a.predictions.row(tested[0]) != out[1].predictions.row(tested[0]));  // the noise reached the test rows
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

// Done-when 1 of issue 10, a planted leak: every subject sees a random 120 of the same 192
// training stimuli and all 40 test stimuli; the held-out sub-03 is tested leave-one-run-out, so
// each of its stimuli is a test stimulus of some fold, and most of them are in the pretraining
// subjects' runs.
BOOST_AUTO_TEST_CASE(pretraining_leaves_out_every_stimulus_a_heldout_subject_is_tested_on) {
  SmallStudy st(3, {"simulate.train_per_subject=120"});
  const std::string folds = st.dir.file("sub-03-ridge.h5");
  run_ok("ridge", {"--samples", st.samples(3), "--set", "ridge.alphas=[1,100]", "--quiet", "--out", folds});
  std::set<std::string> tested;
  const Samples held = read_samples(st.samples(3));
  const Predictions p = read_predictions(folds);
  for (size_t i = 0; i < p.fold.size(); ++i)
    if (p.fold[i] >= 0) tested.insert(held.stimulus[i]);
  BOOST_REQUIRE_EQUAL(tested.size(), 160u);  // its 120 training and the 40 test stimuli
  auto pretrain = [&](const std::string& exclude, const std::string& out) {
    run_ok("pretrain", {"--samples", st.samples(1), st.samples(2), "--heldout-samples", st.samples(3),
                        "--heldout-folds", folds, "--set", "pretrain.exclude_test_stimuli=" + exclude, "--set",
                        "pretrain.epochs=2", "--set", "pretrain.latent=8", "--quiet", "--out", out});
    return encoder::read_stimulus_record(out);
  };
  auto overlap = [&](const std::vector<std::string>& ids) {
    int64_t n = 0;
    for (const auto& id : ids) n += tested.count(id);
    return n;
  };
  const encoder::StimulusRecord with = pretrain("true", st.dir.file("with.h5"));
  BOOST_REQUIRE(with.recorded);
  BOOST_CHECK(!with.train.empty());
  BOOST_CHECK_EQUAL(overlap(with.train), 0);
  BOOST_CHECK_EQUAL(overlap(with.validation), 0);
  // Switched off, the same pretraining trains on the held-out subject's test stimuli: the check
  // above can fail.
  const encoder::StimulusRecord without = pretrain("false", st.dir.file("without.h5"));
  BOOST_CHECK(without.train != with.train);
  BOOST_CHECK_GT(overlap(without.train), 0);
  BOOST_CHECK_GT(overlap(without.validation), 0);
}

// When the subjects share every stimulus and the held-out subject is tested on all of them, there
// is nothing left to pretrain on: a clear refusal, not a silent leak.
BOOST_AUTO_TEST_CASE(pretraining_refuses_when_every_stimulus_is_tested) {
  SmallStudy st(2);  // every subject sees all 192 training and 40 test stimuli
  const std::string folds = st.dir.file("sub-02-ridge.h5"), out = st.dir.file("enc.h5");
  run_ok("ridge", {"--samples", st.samples(2), "--set", "ridge.alphas=[1,100]", "--quiet", "--out", folds});
  test::check_stage_failure(
      test::run_stage("pretrain", {"--samples", st.samples(1), "--heldout-samples", st.samples(2), "--heldout-folds",
                                   folds, "--set", "pretrain.epochs=1", "--quiet", "--out", out}),
      3, out, {"sub-01", "nothing is left to pretrain on"});
}

// The self-supervised stage gets the same guard: a pretraining subject's time-series run that shows
// a stimulus the held-out subject is tested on (here each subject's test run: the novel stimuli are
// shared) never reaches it. The stage's adapter equals the self-supervised stage run directly on
// the subject's series without that run; with the exclusion off, on the whole series.
BOOST_AUTO_TEST_CASE(self_supervised_stage_leaves_out_runs_showing_tested_stimuli) {
  test::TempDir dir("v2c-fairness-ssl");
  const std::string bids = dir.file("bids");
  run_ok("simulate", {"--config",
                      dir.write("sim.yaml",
                                "simulate:\n  n_subjects: 2\n  n_categories: 2\n  train_per_category: 4\n"
                                "  test_per_category: 1\n  feature_dim: 16\n  latent_dim: 4\n  hidden_dim: 8\n"
                                "  grid_dims: [8, 8, 6]\n  train_runs: 2\n  test_runs: 1\n  test_repeats: 1\n"
                                "  spontaneous_pct: 3\n  rest_runs: 1\n  rest_run_s: 60\n"),
                      "--out", bids, "--quiet"});
  auto file = [&](int s, const std::string& what) { return dir.file("sub-0" + std::to_string(s) + what); };
  for (int s = 1; s <= 2; ++s)
    run_ok("prepare",
           {"--bids", bids, "--subject", "sub-0" + std::to_string(s), "--features", bids + "/stimuli/features.h5",
            "--out", file(s, ".h5"), "--timeseries", file(s, "-ts.h5"), "--quiet"});
  const std::string folds = file(2, "-ridge.h5");  // sub-02 tested on its test run (run 2)
  run_ok("ridge", {"--samples", file(2, ".h5"), "--set", "ridge.outer=explicit", "--set",
                   "ridge.explicit_folds=[\"2\"]", "--set", "ridge.alphas=[1,100]", "--quiet", "--out", folds});
  encoder::PretrainConfig cfg;
  cfg.model.latent = 16;
  cfg.ssl.window = 4;
  cfg.ssl.steps = 40;
  cfg.ssl.eval_every = 10;
  auto stage_adapter = [&](const std::string& exclude) {
    const std::string out = dir.file("ssl-" + exclude + ".h5");
    run_ok("pretrain", {"--samples",
                        file(1, ".h5"),
                        "--timeseries",
                        file(1, "-ts.h5"),
                        "--heldout-samples",
                        file(2, ".h5"),
                        "--heldout-folds",
                        folds,
                        "--threads",
                        "1",
                        "--quiet",
                        "--out",
                        out,
                        "--set",
                        "pretrain.supervised=false",
                        "--set",
                        "pretrain.exclude_test_stimuli=" + exclude,
                        "--set",
                        "pretrain.latent=16",
                        "--set",
                        "pretrain.ssl_window=4",
                        "--set",
                        "pretrain.ssl_steps=40",
                        "--set",
                        "pretrain.ssl_eval_every=10"});
    encoder::Mat<float> W, b;
    BOOST_REQUIRE(encoder::read_adapter(out, "sub-01", W, b));
    return W;
  };
  TimeSeries whole = read_timeseries(file(1, "-ts.h5"));
  BOOST_REQUIRE_EQUAL(whole.n_runs(), 4);  // 2 training runs, the test run, a rest run
  BOOST_REQUIRE_EQUAL(whole.runs[2].samples_run, 2);
  TimeSeries without_test = whole;
  without_test.runs.erase(without_test.runs.begin() + 2);
  without_test.data.erase(without_test.data.begin() + 2);
  const encoder::Mat<float> expected = encoder::ssl::pretrain_ssl({without_test}, cfg, 1).adapters.at("sub-01").W;
  const encoder::Mat<float> leaky = encoder::ssl::pretrain_ssl({whole}, cfg, 1).adapters.at("sub-01").W;
  BOOST_REQUIRE(expected != leaky);  // the test run matters: the checks below can tell
  const encoder::Mat<float> with = stage_adapter("true"), off = stage_adapter("false");
  BOOST_CHECK_SMALL(double((with - expected).cwiseAbs().maxCoeff()), 1e-5);
  BOOST_CHECK_SMALL(double((off - leaky).cwiseAbs().maxCoeff()), 1e-5);
  BOOST_CHECK((study::runs_with_samples({{-1, 0, 1}, {2, 3}, {-1, -1}, {4}}, {1, 4}) == std::vector<size_t>{0, 3}));
}

// align-ridge (v2c-align) on ridge's folds: the same training and test rows, and the other
// subjects' samples of a stimulus the fold tests never reach it — replacing their responses changes
// no prediction, bit for bit, while replacing one of their other samples does.
BOOST_AUTO_TEST_CASE(align_ridge_uses_ridges_folds_and_never_a_tested_stimulus) {
  SmallStudy st(3, {"simulate.train_per_subject=120"});
  const std::string cfg = st.dir.write("c.yaml",
                                       "ridge:\n  outer: explicit\n  explicit_folds: [\"8 9\"]\n"
                                       "  alphas: [1, 100, 10000]\nalign:\n  features: 20\n");
  const std::string folds = st.dir.file("ridge.h5");
  run_ok("ridge", {"--config", cfg, "--samples", st.samples(3), "--quiet", "--out", folds});
  auto align = [&](const std::string& ref1, const std::string& out) {
    run_ok("align", {"--config", cfg, "--samples", st.samples(3), "--folds-from", folds, "--reference", ref1,
                     st.samples(2), "--quiet", "--out", out});
    return read_predictions(out);
  };
  const Predictions ridge = read_predictions(folds), base = align(st.samples(1), st.dir.file("a.h5"));
  BOOST_CHECK_EQUAL(base.model, "align-ridge");
  BOOST_CHECK(base.fold == ridge.fold);
  BOOST_CHECK(base.fold_train == ridge.fold_train);
  std::set<std::string> tested, trained;
  for (size_t i = 0; i < ridge.fold.size(); ++i)
    if (ridge.fold[i] >= 0) {
      tested.insert(ridge.stimulus[i]);
      BOOST_CHECK(base.predictions.row(int64_t(i)).allFinite());
    }
  for (int64_t r : ridge.fold_train[0]) trained.insert(ridge.stimulus[size_t(r)]);
  BOOST_REQUIRE_EQUAL(tested.size(), 40u);  // the novel test stimuli, shown to every subject
  // sub-01's samples of the tested stimuli replaced: nothing changes.
  Samples s1 = read_samples(st.samples(1));
  int64_t replaced = 0, shared_training = -1;
  for (int64_t i = 0; i < s1.n_samples(); ++i) {
    if (tested.count(s1.stimulus[size_t(i)]))
      s1.data.row(i).setConstant(50.0f), ++replaced;
    else if (shared_training < 0 && trained.count(s1.stimulus[size_t(i)]))
      shared_training = i;
  }
  BOOST_REQUIRE_EQUAL(replaced, 80);  // 40 stimuli x 2 test runs
  write_samples(st.dir.file("sub-01-tested.h5"), s1, Provenance{}, true);
  const Predictions same = align(st.dir.file("sub-01-tested.h5"), st.dir.file("b.h5"));
  auto max_difference = [&](const Predictions& a) {  // over the tested rows
    float d = 0;
    for (size_t i = 0; i < ridge.fold.size(); ++i)
      if (ridge.fold[i] >= 0)
        d = std::max(d, (a.predictions.row(int64_t(i)) - base.predictions.row(int64_t(i))).cwiseAbs().maxCoeff());
    return d;
  };
  BOOST_CHECK_EQUAL(max_difference(same), 0.0f);
  // ... and one of its samples of a stimulus sub-03 trained on, replaced: the predictions change.
  BOOST_REQUIRE_GE(shared_training, 0);
  s1.data.row(shared_training).setConstant(50.0f);
  write_samples(st.dir.file("sub-01-trained.h5"), s1, Provenance{}, true);
  const Predictions changed = align(st.dir.file("sub-01-trained.h5"), st.dir.file("c.h5"));
  BOOST_CHECK_GT(max_difference(changed), 1e-4f);
}

// align-ridge gives the same predictions and α at 1 and 2 threads when the other subjects share
// fewer training stimuli with the held-out one than the common space has dimensions (as in the
// default study at 25%): their Procrustes maps are then not unique, and before the maps kept only
// the part the data determine, the rest came from whichever SVD the thread count chose.
BOOST_AUTO_TEST_CASE(align_ridge_does_not_depend_on_the_thread_count) {
  SmallStudy st(4, {"simulate.grid_dims=[16,16,12]", "simulate.feature_dim=512"});
  const std::string cfg = st.dir.write("c.yaml",
                                       "ridge:\n  outer: explicit\n  explicit_folds: [\"8 9\"]\n"
                                       "  alphas: [0.1, 10, 1000, 100000]\nalign:\n  features: 50\n  min_shared: 5\n");
  const std::string folds = st.dir.file("ridge.h5");
  run_ok("ridge", {"--config", cfg, "--samples", st.samples(3), "--set", "ridge.train_fraction=0.25", "--quiet",
                   "--out", folds});
  auto align = [&](const std::string& threads) {
    const std::string out = st.dir.file("a" + threads + ".h5");
    run_ok("align", {"--config", cfg, "--samples", st.samples(3), "--folds-from", folds, "--reference", st.samples(1),
                     st.samples(2), st.samples(4), "--threads", threads, "--verbose", "--out", out});
    return read_predictions(out);
  };
  const Predictions one = align("1"), two = align("2");
  BOOST_CHECK(one.fold_alpha == two.fold_alpha);
  float worst = 0, largest = 0;
  for (int64_t i = 0; i < one.predictions.rows(); ++i)
    if (one.fold[size_t(i)] >= 0) {
      worst = std::max(worst, (one.predictions.row(i) - two.predictions.row(i)).cwiseAbs().maxCoeff());
      largest = std::max(largest, one.predictions.row(i).cwiseAbs().maxCoeff());
    }
  BOOST_REQUIRE_GT(largest, 0.0f);
  BOOST_CHECK_SMALL(double(worst / largest), 1e-4);
}

// Category designs show every stimulus in every run, and ridge's folds (no `exclusive`) train on
// the categories they test. Fine-tuning's inner split follows them: its inner training keeps the
// validation run's categories, as ridge's inner CV does (dropping them left nothing to train on,
// and the one-subject Haxby study had no encoder row).
BOOST_AUTO_TEST_CASE(finetuning_tunes_on_a_category_design_like_ridge,
                     *boost::unit_test::precondition(test::needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"})) {
  prep::PrepareConfig pc;
  const prep::PrepareInputs in = test::haxby_slice_with_clip(pc);
  pc.exclude_stimuli = {"scrambledpix"};
  pc.detrend_order = 1;
  Samples s = prep::prepare_subject(in, pc);  // one sample per block: 7 categories x 12 runs
  s.subject = "sub-01";
  ridge::RidgeConfig rc;
  rc.fit_final = false;
  rc.train_fraction = 0.25;  // 3 training runs per fold
  const Predictions folds = ridge::run_ridge(s, rc);
  encoder::FinetuneConfig fc;
  fc.epochs = 3;
  const Predictions p = encoder::finetune(s, "", fc, folds, 1, {});
  BOOST_CHECK(p.fold == folds.fold);
  BOOST_CHECK(p.fold_train == folds.fold_train);
  BOOST_REQUIRE_EQUAL(p.tuned_epochs.size(), 12u);
  for (double e : p.tuned_epochs) BOOST_CHECK_GE(e, 1.0);
}

// The negative control (--shuffle-pooled-labels, study.control: shuffled_pooled_labels) reaches every
// model that pools other subjects and never the held-out subject's own rows: pretraining trains on
// other pairs (different weights) but on the same stimuli (ids), none of them tested; fine-tuning's
// references and align-ridge's pooled subjects change the predictions; without pooled subjects
// (no --reference; align.min_shared above every overlap) the predictions are bitwise those without
// the control, so the held-out subject's training and test rows kept their true features.
BOOST_AUTO_TEST_CASE(shuffled_pooled_labels_reach_the_pooled_subjects_only) {
  SmallStudy st(3, {"simulate.train_per_subject=120"});
  const std::string cfg = st.one_fold_config("align:\n  features: 20\n", "[0.001]");
  const std::string folds = st.dir.file("ridge.h5");
  run_ok("ridge", {"--config", cfg, "--samples", st.samples(3), "--quiet", "--out", folds});
  std::set<std::string> tested;
  const Predictions ridge = read_predictions(folds);
  for (size_t i = 0; i < ridge.fold.size(); ++i)
    if (ridge.fold[i] >= 0) tested.insert(ridge.stimulus[i]);
  const std::string control = "--shuffle-pooled-labels";
  auto with = [&](std::vector<std::string> args, bool shuffled, const std::string& out) {
    args.insert(args.begin(), {"--config", cfg, "--quiet", "--out", out});
    if (shuffled) args.push_back(control);
    return args;
  };
  // Pretraining: the same stimulus record (a permutation of the same stimuli, none tested), other weights.
  const std::vector<std::string> pre = {"--samples",   st.samples(1),     st.samples(2), "--heldout-samples",
                                        st.samples(3), "--heldout-folds", folds};
  run_ok("pretrain", with(pre, false, st.dir.file("pre.h5")));
  run_ok("pretrain", with(pre, true, st.dir.file("pre-shuffled.h5")));
  const encoder::StimulusRecord r0 = encoder::read_stimulus_record(st.dir.file("pre.h5")),
                                r1 = encoder::read_stimulus_record(st.dir.file("pre-shuffled.h5"));
  // (labels move between the training and the validation runs' stimuli: only the union is the same)
  auto all_ids = [](const encoder::StimulusRecord& r) {
    std::set<std::string> ids(r.train.begin(), r.train.end());
    ids.insert(r.validation.begin(), r.validation.end());
    return ids;
  };
  BOOST_CHECK(all_ids(r1) == all_ids(r0));
  BOOST_CHECK(r1.train != r0.train);
  for (const auto& id : all_ids(r1)) BOOST_CHECK_MESSAGE(!tested.count(id), "pretrained on tested " << id);
  encoder::MF w0, b0, w1, b1;
  BOOST_REQUIRE(encoder::read_adapter(st.dir.file("pre.h5"), "sub-01", w0, b0));
  BOOST_REQUIRE(encoder::read_adapter(st.dir.file("pre-shuffled.h5"), "sub-01", w1, b1));
  BOOST_CHECK(w0 != w1);
  // Fine-tuning on the shuffled pretraining: with references (the adapter's ridge start) the control
  // changes the predictions; without them it changes nothing.
  const std::vector<std::string> fine = {"--samples",    st.samples(3), "--pretrained", st.dir.file("pre-shuffled.h5"),
                                         "--folds-from", folds};
  std::vector<std::string> fine_refs = fine;
  fine_refs.insert(fine_refs.end(), {"--reference", st.samples(1), st.samples(2)});
  std::map<std::string, Predictions> p;
  for (const auto& [name, args] : {std::pair{"refs", fine_refs}, std::pair{"alone", fine}})
    for (bool shuffled : {false, true}) {
      const std::string out = st.dir.file(cat("ft-", name, shuffled, ".h5"));
      run_ok("finetune", with(args, shuffled, out));
      p[cat("ft-", name, shuffled)] = read_predictions(out);
    }
  const std::vector<int64_t> test_rows = fold_test_rows(ridge, 0);
  auto max_difference = [&](const Predictions& a, const Predictions& b) {
    float d = 0;
    for (int64_t i : test_rows) d = std::max(d, (a.predictions.row(i) - b.predictions.row(i)).cwiseAbs().maxCoeff());
    return d;
  };
  BOOST_CHECK_GT(max_difference(p["ft-refs0"], p["ft-refs1"]), 1e-4f);
  BOOST_CHECK_EQUAL(max_difference(p["ft-alone0"], p["ft-alone1"]), 0.0f);
  BOOST_CHECK(p["ft-refs1"].truth == p["ft-refs0"].truth);  // the held-out subject's own features
  BOOST_CHECK(p["ft-refs1"].fold_train == ridge.fold_train);
  // align-ridge: the pooled subjects' labels change the predictions; with none pooled, nothing does.
  const std::vector<std::string> align = {"--samples",   st.samples(3), "--folds-from", folds,
                                          "--reference", st.samples(1), st.samples(2)};
  std::vector<std::string> align_alone = align;
  align_alone.insert(align_alone.end(), {"--set", "align.min_shared=1000000"});
  for (const auto& [name, args] : {std::pair{"pooled", align}, std::pair{"alone", align_alone}})
    for (bool shuffled : {false, true}) {
      const std::string out = st.dir.file(cat("al-", name, shuffled, ".h5"));
      run_ok("align", with(args, shuffled, out));
      p[cat("al-", name, shuffled)] = read_predictions(out);
    }
  BOOST_CHECK_GT(max_difference(p["al-pooled0"], p["al-pooled1"]), 1e-4f);
  BOOST_CHECK_EQUAL(max_difference(p["al-alone0"], p["al-alone1"]), 0.0f);
  BOOST_CHECK(p["al-pooled1"].truth == p["al-pooled0"].truth);
  // The control is recorded in each output's provenance (its command line).
  for (const std::string& f : {st.dir.file("ft-refs1.h5"), st.dir.file("al-pooled1.h5")}) {
    const h5::ArtifactReader r(f, "predictions", kPredictionsFormatVersion);
    BOOST_CHECK_NE(r.attr_string("/provenance", "command_line").find(control), std::string::npos);
  }
}

// finetune.adapter_init ridge in a fold whose inner split cannot have a ridge start (inner_val_runs
// leaves it one training run) while the fold's training rows can: every fit of the fold starts
// random, so that the rate and epochs are chosen from the kind of start the final fit uses. Its
// predictions are bitwise those of adapter_init random, and the log says why. (The final fit alone
// used to start from ridge, with a rate and epochs tuned from random starts.)
BOOST_AUTO_TEST_CASE(a_fold_whose_inner_split_has_no_ridge_start_fits_every_model_from_random) {
  SmallStudy st(3, {"simulate.train_per_subject=120"});
  const std::string cfg = st.one_fold_config("", "[0.001, 0.01]");
  const std::string folds = st.dir.file("ridge.h5"), pre = st.dir.file("pre.h5");
  run_ok("ridge", {"--config", cfg, "--samples", st.samples(3), "--quiet", "--out", folds});
  run_ok("pretrain", {"--config", cfg, "--samples", st.samples(1), st.samples(2), "--heldout-samples", st.samples(3),
                      "--heldout-folds", folds, "--quiet", "--out", pre});
  const std::string warning = "every fit of this fold starts from a random adapter";
  const std::vector<int64_t> test_rows = fold_test_rows(read_predictions(folds), 0);
  BOOST_REQUIRE(!test_rows.empty());
  // The fold's test predictions and the log of one fine-tuning run.
  auto finetune = [&](const std::string& init, int inner_val_runs) {
    const std::string out = st.dir.file(cat("ft-", init, inner_val_runs, ".h5"));
    const test::StageRun r = test::run_stage(
        "finetune", {"--config", cfg, "--samples", st.samples(3), "--pretrained", pre, "--folds-from", folds,
                     "--reference", st.samples(1), st.samples(2), "--set", "finetune.adapter_init=" + init, "--set",
                     cat("finetune.inner_val_runs=", inner_val_runs), "--out", out});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    return std::pair{encoder::rows_of(read_predictions(out).predictions, test_rows), r.output};
  };
  // The fold trains on 8 runs. With one of them validating, the ridge start is used everywhere.
  const auto [ridge1, log1] = finetune("ridge", 1);
  const auto [random1, unused1] = finetune("random", 1);
  BOOST_CHECK_GT((ridge1 - random1).cwiseAbs().maxCoeff(), 1e-4f);
  BOOST_CHECK_EQUAL(log1.find(warning), std::string::npos);
  // With 7 validating, the inner split's one run cannot fit a ridge start: nor does the final fit.
  const auto [ridge7, log7] = finetune("ridge", 7);
  const auto [random7, unused7] = finetune("random", 7);
  BOOST_CHECK(ridge7 == random7);
  BOOST_CHECK_MESSAGE(log7.find(warning) != std::string::npos, log7);
}

// The same stimulus under two ids (two names aliased to one vector) is found by its vector.
BOOST_AUTO_TEST_CASE(test_stimuli_are_matched_by_id_and_by_identical_vector) {
  const MatrixF held{{1, 0}, {0, 1}, {1, 1}}, other{{1, 0}, {0.5f, 1}, {2, 2}};
  study::TestStimuli t;
  study::add_test_stimuli({"cat", "dog", "car"}, held, {0, 0, -1}, t);  // cat and dog tested, car never
  // kitten has cat's vector; dog is the same id with another vector; bus is new.
  BOOST_CHECK((study::rows_showing({"kitten", "dog", "bus"}, other, t) == std::vector<int64_t>{0, 1}));
  study::TestStimuli none;
  study::add_test_stimuli({"cat", "dog", "car"}, held, {-1, -1, -1}, none);
  BOOST_CHECK(study::rows_showing({"kitten", "dog", "bus"}, other, none).empty());
  BOOST_CHECK((study::rows_showing({"car"}, MatrixF{{1, 1}}, t).empty()));  // untested
}

BOOST_AUTO_TEST_SUITE_END()
