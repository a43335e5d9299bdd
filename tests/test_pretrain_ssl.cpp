// v2c-pretrain's self-supervised stage (ssl/pretrain_ssl.h, --timeseries): which runs it may see
// (pretrain.exclude_runs never), its adapters as the encoder's start, its temporal model in the
// checkpoint, pretrain.supervised: false, and the stage's refusals; v2c-finetune's new-subject
// adapter fitted self-supervised (ssl/new_subject.h, finetune.adapter_init: ssl), which never reads
// a fold's test runs unless transductive. Data: a small simulated study with a rest run, through
// v2c-simulate and v2c-prepare --timeseries.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>

#include "pipeline/io/h5.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/finetune.h"
#include "pipeline/models/encoder/ssl/new_subject.h"
#include "pipeline/models/encoder/ssl/pretrain_ssl.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

// One subject: 2 train runs, 1 test run, 1 rest run (runs 0-3), prepared with its time series.
struct SmallStudy {
  test::TempDir dir{"v2c-pretrain-ssl"};
  std::string samples = dir.file("s.h5"), series = dir.file("ts.h5");
  SmallStudy() {
    const std::string cfg = dir.write("sim.yaml",
                                      "simulate:\n  n_subjects: 1\n  n_categories: 2\n  train_per_category: 4\n"
                                      "  test_per_category: 1\n  feature_dim: 16\n  latent_dim: 4\n  hidden_dim: 8\n"
                                      "  grid_dims: [8, 8, 6]\n  train_runs: 2\n  test_runs: 1\n  test_repeats: 1\n"
                                      "  spontaneous_pct: 3\n  rest_runs: 1\n  rest_run_s: 60\n");
    const std::string bids = dir.file("bids");
    test::StageRun r = test::run_stage("simulate", {"--config", cfg, "--out", bids, "--quiet"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    r = test::run_stage("prepare", {"--bids", bids, "--subject", "sub-01", "--features", bids + "/stimuli/features.h5",
                                    "--out", samples, "--timeseries", series, "--quiet"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  }
};

std::vector<std::string> pretrain_args(const SmallStudy& s, const std::string& out) {
  return {"--samples",
          s.samples,
          "--timeseries",
          s.series,
          "--out",
          out,
          "--threads",
          "1",
          "--quiet",
          "--set",
          "pretrain.latent=16",
          "--set",
          "pretrain.ssl_window=4",
          "--set",
          "pretrain.ssl_steps=40",
          "--set",
          "pretrain.ssl_eval_every=10",
          "--set",
          "pretrain.epochs=2",
          "--set",
          "pretrain.batch_size=4"};
}

encoder::PretrainConfig small_config() {
  encoder::PretrainConfig cfg;
  cfg.model.latent = 16;
  cfg.ssl.window = 4;
  cfg.ssl.steps = 40;
  cfg.ssl.eval_every = 10;
  return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pretrain_ssl)

BOOST_AUTO_TEST_CASE(excluded_runs_never_reach_the_self_supervised_stage) {
  SmallStudy s;
  TimeSeries ts = read_timeseries(s.series);
  BOOST_REQUIRE_EQUAL(ts.n_runs(), 4);
  encoder::PretrainConfig cfg = small_config();
  cfg.exclude_runs = {2};  // the test run
  const auto a = encoder::ssl::pretrain_ssl({ts}, cfg, 5);
  BOOST_CHECK_EQUAL(a.train_volumes, ts.runs[0].n_volumes + ts.runs[1].n_volumes);
  BOOST_CHECK_EQUAL(a.validation_volumes, ts.runs[3].n_volumes);  // the rest run validates
  // Whatever the excluded run holds, the adapters are the same, bit for bit.
  ts.data[2].setConstant(123.0f);
  const auto b = encoder::ssl::pretrain_ssl({ts}, cfg, 5);
  BOOST_CHECK(a.adapters.at("sub-01").W == b.adapters.at("sub-01").W);
  // ... and a run it does see changes them.
  ts.data[1] *= 0.5f;
  const auto c = encoder::ssl::pretrain_ssl({ts}, cfg, 5);
  BOOST_CHECK(a.adapters.at("sub-01").W != c.adapters.at("sub-01").W);
  // Too few runs left: named.
  cfg.exclude_runs = {0, 1, 2};
  test::check_error([&] { encoder::ssl::pretrain_ssl({ts}, cfg, 5); }, ExitCode::input,
                    {"'sub-01'", "1 usable run(s)", "ssl_val_runs = 1"});
}

BOOST_AUTO_TEST_CASE(stage_starts_the_encoder_from_the_self_supervised_adapters) {
  SmallStudy s;
  // Self-supervised only: the checkpoint's adapter is the stage's.
  const std::string out = s.dir.file("ssl-only.h5");
  std::vector<std::string> args = pretrain_args(s, out);
  args.insert(args.end(), {"--set", "pretrain.supervised=false"});
  const test::StageRun r = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto expected =
      encoder::ssl::pretrain_ssl({read_timeseries(s.series)}, small_config(), 1);  // --seed 1 (default)
  encoder::Mat<float> W, b;
  BOOST_REQUIRE(encoder::read_adapter(out, "sub-01", W, b));
  BOOST_REQUIRE_EQUAL(W.rows(), expected.adapters.at("sub-01").W.rows());
  BOOST_CHECK_SMALL(double((W - expected.adapters.at("sub-01").W).cwiseAbs().maxCoeff()), 1e-5);

  // With the supervised stage after it, and the self-supervised stage's encoder beside it.
  const std::string both = s.dir.file("both.h5"), ssl_only = s.dir.file("ssl-only-too.h5");
  args = pretrain_args(s, both);
  args.insert(args.end(), {"--ssl-out", ssl_only});
  const test::StageRun r2 = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r2.exit_code == 0, r2.output);
  encoder::Mat<float> W2, b2;
  BOOST_REQUIRE(encoder::read_adapter(ssl_only, "sub-01", W2, b2));
  BOOST_CHECK(W2 == W);
  BOOST_REQUIRE(encoder::read_adapter(both, "sub-01", W2, b2));
  BOOST_CHECK(W2 != W);  // the CLIP stage trained it further

  // The temporal model travels in all three checkpoints, as the self-supervised stage left it.
  for (const std::string& path : {out, ssl_only, both}) {
    const encoder::ssl::TemporalSnapshot t = encoder::read_temporal_model(path);
    BOOST_REQUIRE_MESSAGE(t.present, path);
    BOOST_CHECK_EQUAL(t.latent, 16);
    BOOST_CHECK_EQUAL(t.objectives.window, 4);
    BOOST_CHECK_EQUAL(t.objectives.model.temporal.n_layers, expected.temporal.objectives.model.temporal.n_layers);
    BOOST_CHECK(t.objectives.next.residual == expected.temporal.objectives.next.residual);
    BOOST_REQUIRE(t.names == expected.temporal.names);
    BOOST_CHECK(std::find(t.names.begin(), t.names.end(), "temporal/layer0/attn/qkv/W") != t.names.end());
    for (size_t k = 0; k < t.names.size(); ++k)
      BOOST_CHECK_SMALL(double((t.values[k] - expected.temporal.values[k]).cwiseAbs().maxCoeff()), 1e-5);
    BOOST_CHECK_NO_THROW(encoder::ssl::restore_shared(t));
  }
  // Without --timeseries there is none.
  const std::string plain = s.dir.file("plain.h5");
  args = pretrain_args(s, plain);
  args.erase(args.begin() + 2, args.begin() + 4);  // --timeseries FILE
  const test::StageRun r3 = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r3.exit_code == 0, r3.output);
  BOOST_CHECK(!encoder::read_temporal_model(plain).present);
}

// finetune.adapter_init: ssl. The study's test run (run 2) is fold 0's test run; the rest run
// (run 3) has no samples. A planted change in the test run's volumes changes nothing, bit for bit;
// one in a training run changes the predictions; transductive use reads the test run.
BOOST_AUTO_TEST_CASE(new_subject_adapter_is_fitted_on_training_runs_only) {
  SmallStudy s;
  const std::string pretrained = s.dir.file("pretrained.h5"), folds = s.dir.file("ridge.h5");
  std::vector<std::string> args = pretrain_args(s, pretrained);
  args.insert(args.end(), {"--set", "pretrain.supervised=false"});
  test::StageRun r = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = test::run_stage("ridge",
                      {"--samples", s.samples, "--set", "ridge.outer=explicit", "--set", "ridge.explicit_folds=[\"2\"]",
                       "--set", "ridge.alphas=[1,100]", "--quiet", "--out", folds});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  // The same time series with run `changed` replaced by noise.
  const TimeSeries original = read_timeseries(s.series);
  BOOST_REQUIRE_EQUAL(original.runs[2].samples_run, 2);
  auto planted = [&](int64_t changed) {
    TimeSeries ts = original;
    ts.data[size_t(changed)] = test::gaussian_matrix(ts.data[size_t(changed)].rows(), ts.n_voxels(), 17);
    const std::string path = s.dir.file(cat("ts-", changed, ".h5"));
    write_timeseries(path, ts, Provenance{}, false);
    return path;
  };
  auto finetune = [&](const std::string& series, const std::string& name, bool transductive = false) {
    const std::string out = s.dir.file(name);
    std::vector<std::string> a = {"--samples",
                                  s.samples,
                                  "--pretrained",
                                  pretrained,
                                  "--folds-from",
                                  folds,
                                  "--timeseries",
                                  series,
                                  "--threads",
                                  "1",
                                  "--quiet",
                                  "--out",
                                  out,
                                  "--set",
                                  "finetune.adapter_init=ssl",
                                  "--set",
                                  "finetune.mode=full",
                                  "--set",
                                  "finetune.ssl_steps=20",
                                  "--set",
                                  "finetune.epochs=3",
                                  "--set",
                                  "finetune.lr_grid=[0.003]",
                                  "--set",
                                  "finetune.batch_size=4"};
    if (transductive) a.insert(a.end(), {"--set", "finetune.ssl_transductive=true"});
    const test::StageRun run = test::run_stage("finetune", a);
    BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.output);
    return read_predictions(out).predictions;
  };
  const MatrixF base = finetune(s.series, "base.h5");
  BOOST_REQUIRE(fold_test_rows(read_predictions(folds), 0).size() > 0);
  const std::string test_changed = planted(2), train_changed = planted(0);
  const MatrixF same = finetune(test_changed, "test-changed.h5");
  BOOST_CHECK_MESSAGE(base.cwiseEqual(same).count() == base.size() - base.array().isNaN().count(),
                      "a change in the test run's volumes changed the predictions");
  BOOST_CHECK(!base.cwiseEqual(finetune(train_changed, "train-changed.h5")).all());
  // Transductive: the test run's volumes are read, so the same change now shows.
  const MatrixF t0 = finetune(s.series, "trans.h5", true), t1 = finetune(test_changed, "trans-changed.h5", true);
  BOOST_CHECK(!t0.cwiseEqual(t1).all());
  const h5::ArtifactReader trans(s.dir.file("trans.h5"), "predictions", kPredictionsFormatVersion);
  BOOST_CHECK(trans.attr_string("/provenance", "config").find("ssl_transductive: true") != std::string::npos);

  // The picker reads only the runs it hands out.
  TimeSeriesReader reader(s.series);
  encoder::ssl::SubjectRunPicker picker(reader, false);
  BOOST_CHECK_EQUAL(picker.runs_except({2}).size(), 3u);
  BOOST_CHECK_EQUAL(picker.runs_except({1, 2}).size(), 2u);
  BOOST_CHECK((picker.runs_read() == std::vector<int64_t>{0, 1, 3}));
}

// Which runs each self-supervised fit of a fold may see: the final fit never the fold's test run
// (run 2), the inner split's start also never its validation run (run 1, the fold's last training run).
BOOST_AUTO_TEST_CASE(finetune_asks_for_fits_without_test_and_inner_validation_runs) {
  SmallStudy s;
  const std::string folds = s.dir.file("ridge.h5");
  const test::StageRun r = test::run_stage(
      "ridge", {"--samples", s.samples, "--set", "ridge.outer=explicit", "--set", "ridge.explicit_folds=[\"2\"]",
                "--set", "ridge.alphas=[1,100]", "--quiet", "--out", folds});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const Samples samples = read_samples(s.samples);
  encoder::FinetuneConfig cfg;
  cfg.adapter_init = "ssl";
  cfg.model.latent = 8;
  cfg.epochs = 2;
  cfg.batch_size = 4;
  cfg.lr_grid = {0.003};
  std::vector<std::set<int32_t>> asked;
  const encoder::SslAdapterFit fit = [&](const std::set<int32_t>& excluded, uint64_t seed) {
    asked.push_back(excluded);
    encoder::AdapterInit<float> a;
    encoder::Rng rng(seed);
    a.W = encoder::Mat<float>(samples.n_voxels(), 8);
    a.b = encoder::Mat<float>::Zero(1, 8);
    encoder::fill_uniform(a.W, 0.1, rng);
    return a;
  };
  encoder::finetune(samples, "", cfg, read_predictions(folds), 3, {}, fit);
  BOOST_REQUIRE_EQUAL(asked.size(), 2u);
  BOOST_CHECK((asked[0] == std::set<int32_t>{1, 2}));  // the inner split's start
  BOOST_CHECK((asked[1] == std::set<int32_t>{2}));     // the fold's final fit
}

BOOST_AUTO_TEST_CASE(new_subject_refusals) {
  SmallStudy s;
  const std::string plain = s.dir.file("plain.h5"), folds = s.dir.file("ridge.h5"), out = s.dir.file("out.h5");
  std::vector<std::string> args = pretrain_args(s, plain);
  args.erase(args.begin() + 2, args.begin() + 4);
  test::StageRun r = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = test::run_stage("ridge",
                      {"--samples", s.samples, "--set", "ridge.outer=explicit", "--set", "ridge.explicit_folds=[\"2\"]",
                       "--set", "ridge.alphas=[1,100]", "--quiet", "--out", folds});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::vector<std::string> base = {"--samples", s.samples, "--pretrained", plain, "--folds-from",
                                         folds,       "--quiet", "--out",        out};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return test::run_stage("finetune", a);
  };
  test::check_stage_failure(with({"--set", "finetune.adapter_init=ssl"}), 2, out,
                            {"adapter_init = ssl", "--timeseries"});
  test::check_stage_failure(with({"--timeseries", s.series}), 2, out, {"adapter_init = ridge", "only with"});
  test::check_stage_failure(with({"--timeseries", s.series, "--set", "finetune.adapter_init=ssl"}), 3, out,
                            {plain, "no self-supervised temporal model"});
}

BOOST_AUTO_TEST_CASE(stage_refusals) {
  SmallStudy s;
  const std::string out = s.dir.file("x.h5");
  test::check_stage_failure(
      test::run_stage("pretrain", {"--samples", s.samples, "--out", out, "--set", "pretrain.supervised=false"}), 2, out,
      {"pretrain.supervised: false", "--timeseries"});
  test::check_stage_failure(
      test::run_stage("pretrain", {"--samples", s.samples, "--out", out, "--ssl-out", s.dir.file("y.h5")}), 2, out,
      {"--ssl-out needs --timeseries"});
  std::vector<std::string> args = pretrain_args(s, out);
  args.insert(args.end(), {"--set", "pretrain.ssl_window=40"});
  test::check_stage_failure(test::run_stage("pretrain", args), 2, out, {"ssl.window = 40", "max_len"});
  args = pretrain_args(s, out);
  args.insert(args.end(), {"--set", "pretrain.ssl_mask_kind=voxels"});
  test::check_stage_failure(test::run_stage("pretrain", args), 2, out,
                            {"pretrain.ssl_mask_kind", "voxels", "'time' 'voxel'"});
}

// pretrain.ssl_joint: the self-supervised objectives in the CLIP stage's steps. The adapter differs
// from the supervised-only one of the same seed (the objectives' gradient reached it), the temporal
// model trained alongside is in the output, and what the mode cannot do is refused.
BOOST_AUTO_TEST_CASE(joint_mode_trains_both_losses_in_one_stage) {
  SmallStudy s;
  const std::string joint = s.dir.file("joint.h5"), plain = s.dir.file("plain.h5");
  std::vector<std::string> args = pretrain_args(s, joint);
  args.insert(args.end(), {"--set", "pretrain.ssl_joint=true", "--set", "pretrain.ssl_w_masked=0.5"});
  test::StageRun r = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(r.output.find("self-supervised stage:") == std::string::npos);  // no stage before
  std::vector<std::string> plain_args = pretrain_args(s, plain);
  plain_args.erase(plain_args.begin() + 2, plain_args.begin() + 4);
  r = test::run_stage("pretrain", plain_args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  encoder::Mat<float> Wj, bj, Wp, bp;
  BOOST_REQUIRE(encoder::read_adapter(joint, "sub-01", Wj, bj));
  BOOST_REQUIRE(encoder::read_adapter(plain, "sub-01", Wp, bp));
  BOOST_CHECK_GT(double((Wj - Wp).cwiseAbs().maxCoeff()), 1e-6);
  const encoder::ssl::TemporalSnapshot t = encoder::read_temporal_model(joint);
  BOOST_REQUIRE(t.present);
  BOOST_CHECK_EQUAL(t.objectives.w_masked, 0.5);
  // trained: the attention weights moved from their seeded start
  const encoder::ssl::SslModel<float> start(16, t.objectives.model, 1);
  const auto k = size_t(std::find(t.names.begin(), t.names.end(), "temporal/layer0/attn/qkv/W") - t.names.begin());
  BOOST_REQUIRE_LT(k, t.names.size());
  BOOST_CHECK_GT(double((t.values[k] - start.params().get(t.names[k]).value).cwiseAbs().maxCoeff()), 1e-6);

  const std::string out = s.dir.file("refused.h5");
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"--ssl-out", s.dir.file("o.h5")}, {"--set", "pretrain.supervised=false"}, {"--resume"}}) {
    args = pretrain_args(s, out);
    args.insert(args.end(), {"--set", "pretrain.ssl_joint=true"});
    args.insert(args.end(), extra.begin(), extra.end());
    test::check_stage_failure(test::run_stage("pretrain", args), 2, out, {"pretrain.ssl_joint"});
  }
  test::check_stage_failure(
      test::run_stage("pretrain", {"--samples", s.samples, "--out", out, "--set", "pretrain.ssl_joint=true"}), 2, out,
      {"pretrain.ssl_joint", "--timeseries"});
}

// pretrain.ssl_mask_kind reaches the masked objective: the checkpoint records what was trained.
BOOST_AUTO_TEST_CASE(mask_kind_is_a_config_key) {
  SmallStudy s;
  for (const char* kind : {"time", "voxel"}) {
    const std::string out = s.dir.file(cat(kind, ".h5"));
    std::vector<std::string> args = pretrain_args(s, out);
    args.insert(args.end(), {"--set", "pretrain.supervised=false", "--set", "pretrain.ssl_w_masked=1", "--set",
                             "pretrain.ssl_w_next_step=0", "--set", cat("pretrain.ssl_mask_kind=", kind)});
    const test::StageRun r = test::run_stage("pretrain", args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const encoder::ssl::TemporalSnapshot t = encoder::read_temporal_model(out);
    BOOST_CHECK_EQUAL(encoder::ssl::mask_kind_name(t.objectives.mask.kind), std::string(kind));
    BOOST_CHECK_EQUAL(t.objectives.w_masked, 1.0);
  }
}

// pretrain.ssl_lr_grid x pretrain.ssl_ar1_start: every candidate is logged and recorded in /ssl,
// and the recorded choice is the candidate with the lowest validation error.
BOOST_AUTO_TEST_CASE(the_stage_chooses_its_learning_rate_and_start_and_records_them) {
  SmallStudy s;
  const std::string out = s.dir.file("chosen.h5");
  std::vector<std::string> args = pretrain_args(s, out);
  args.erase(std::find(args.begin(), args.end(), "--quiet"));
  args.insert(args.end(), {"--set", "pretrain.supervised=false", "--set", "pretrain.ssl_lr_grid=[0.0003, 0.003]",
                           "--set", "pretrain.ssl_ar1_start=auto"});
  const test::StageRun r = test::run_stage("pretrain", args);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK(r.output.find("self-supervised candidate 4/4 (lr 0.003, AR(1) start)") != std::string::npos);
  BOOST_CHECK(r.output.find("self-supervised stage: chose lr ") != std::string::npos);
  const h5::ArtifactReader h(out, "encoder_checkpoint", 1);
  BOOST_CHECK((h.read_doubles("ssl/lr_grid") == std::vector<double>{3e-4, 3e-3}));
  const std::vector<double> lr = h.read_doubles("ssl/candidates/lr"),
                            val = h.read_doubles("ssl/candidates/best_validation");
  const std::vector<int32_t> start = h.read_int32s("ssl/candidates/ar1_start");
  BOOST_REQUIRE_EQUAL(lr.size(), 4u);
  BOOST_CHECK((lr == std::vector<double>{3e-4, 3e-3, 3e-4, 3e-3}));
  BOOST_CHECK((start == std::vector<int32_t>{0, 0, 1, 1}));
  const size_t best = size_t(std::min_element(val.begin(), val.end()) - val.begin());
  BOOST_CHECK_EQUAL(h.attr_double("ssl", "lr"), lr[best]);
  BOOST_CHECK_EQUAL(h.attr_double("ssl", "ar1_start"), double(start[best]));
  BOOST_CHECK(h.attr_string("/provenance", "config").find("ssl_ar1_start: auto") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(plan_turns_on_the_self_supervised_rows) {
  test::TempDir dir("v2c-plan-ssl");
  auto plan = [&](const std::string& study) {
    const std::string out = dir.file("plan.mk");
    const test::StageRun r =
        test::run_stage("plan", {"--config", dir.write("c.yaml", "study:\n  source: simulate\n" + study), "--bids-dir",
                                 dir.file("bids"), "--out", out, "--force", "--quiet"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    return test::read_text_file(out);
  };
  BOOST_CHECK(plan("  self_supervised: true\n").find("\nSELF_SUPERVISED := 1\n") != std::string::npos);
  BOOST_CHECK(plan("").find("\nSELF_SUPERVISED := \n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
