// Every default in one place: each stage's config is built from an empty YAML through the schema
// path the stages take (describe -> config file -> validate), and the values that reach the
// solver, the optimiser, the losses and the model are checked against the documented defaults:
// the text --help prints for each key, and the number that text stands for.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/eval/retrieve_run.h"
#include "pipeline/models/align/align_ridge_config.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/trainer.h"
#include "pipeline/models/ridge_config.h"
#include "pipeline/prep/prepare.h"
#include "pipeline/report/config.h"
#include "pipeline/report/html.h"
#include "pipeline/sim/config.h"
#include "pipeline/sim/study.h"
#include "pipeline/study/study.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

// Config files that set nothing: no content, and the stage's section present but empty.
std::vector<std::string> empty_configs(const test::TempDir& dir, const std::string& section) {
  return {dir.write("empty.yaml", ""), dir.write("empty-section.yaml", section + ":\n"),
          dir.write("empty-mapping.yaml", section + ": {}\n")};
}

// A stage's config as the stage framework loads it (stage_main, run_stage).
template <class Config>
struct Loaded {
  Config cfg;
  config::Schema schema;
  Loaded(const std::string& section, const std::string& file) : schema(section) {
    cfg.describe(schema);
    config::apply_file(schema, file);
    schema.validate();
  }

  // The default --help prints for `key` ("lr (number, default 0.001) [> 0]" -> "0.001").
  std::string documented(const std::string& key) const {
    std::istringstream help(schema.help(0));
    for (std::string line; std::getline(help, line);) {
      if (line.rfind(key + " (", 0) != 0) continue;
      const size_t at = line.find(", default "), rule = line.find(") [", at);
      const size_t end = rule != std::string::npos ? rule : line.rfind(')');
      if (at != std::string::npos && end != std::string::npos && end > at) return line.substr(at + 10, end - at - 10);
    }
    BOOST_ERROR("--help of section '" << schema.section() << "' shows no default for '" << key << "'");
    return "";
  }
};

// Runs check(loaded) on the stage's config loaded from each of the empty config files.
template <class Config, class Check>
void for_each_empty_config(const std::string& section, const Check& check) {
  test::TempDir dir("v2c-defaults");
  for (const std::string& file : empty_configs(dir, section)) {
    BOOST_TEST_CONTEXT("config file " << file) {
      const Loaded<Config> loaded(section, file);
      check(loaded);
    }
  }
}

// --help shows these defaults.
template <class C>
void expect_documented(const Loaded<C>& l, std::initializer_list<std::pair<std::string, std::string>> defaults) {
  for (const auto& [key, text] : defaults)
    BOOST_CHECK_MESSAGE(l.documented(key) == text, l.schema.section()
                                                       << "." << key << ": --help shows '" << l.documented(key)
                                                       << "', documented '" << text << "'");
}

// The value that reached a kernel equals the documented default, and --help prints that default.
template <class C, class T>
void expect(const Loaded<C>& l, const std::string& key, const std::string& text, const T& reached) {
  expect_documented(l, {{key, text}});
  if constexpr (std::is_same_v<T, bool>) {
    BOOST_CHECK_MESSAGE((reached ? "true" : "false") == text, l.schema.section()
                                                                  << "." << key << " reached as " << reached);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    BOOST_CHECK_MESSAGE(text == "[]" && reached.empty(),
                        l.schema.section() << "." << key << " reached with " << reached.size() << " entries");
  } else if constexpr (std::is_same_v<T, std::string>) {
    BOOST_CHECK_MESSAGE(reached == text, l.schema.section() << "." << key << " reached as '" << reached << "'");
  } else {
    BOOST_CHECK_MESSAGE(double(reached) == std::strtod(text.c_str(), nullptr),
                        l.schema.section() << "." << key << " reached as " << reached << ", documented " << text);
  }
}

// The encoder as both stages build it from their settings (pretrain.cpp, finetune.cpp): the model
// with the features' width, a trainer with the loss config and a schedule of total_steps.
struct BuiltEncoder {
  encoder::Encoder<float> enc;
  encoder::Trainer<float> tr;
  BuiltEncoder(const encoder::TrainSettings& t, int clip_dim, int64_t total_steps)
      : enc(with_clip_dim(t.model, clip_dim), 1), tr(enc, t.loss, t.schedule(total_steps), 1) {}
  static encoder::EncoderConfig with_clip_dim(encoder::EncoderConfig m, int clip_dim) {
    m.clip_dim = clip_dim;
    return m;
  }
};

// The defaults shared by v2c-pretrain and v2c-finetune, as they reach the model, losses and AdamW.
template <class C>
void expect_training_defaults(const Loaded<C>& l) {
  const BuiltEncoder b(l.cfg, 16, 200);
  const encoder::EncoderConfig& model = b.enc.config();
  const encoder::LossConfig& loss = b.tr.loss_config();
  const encoder::AdamWConfig& opt = b.tr.optimizer().config();
  expect(l, "latent", "256", model.latent);
  expect(l, "n_blocks", "2", model.n_blocks);
  expect(l, "dropout", "0.15", model.dropout);
  expect(l, "w_clip", "1", loss.w_clip);
  expect(l, "w_siglip", "0", loss.w_siglip);
  expect(l, "w_mse", "1", loss.w_mse);
  expect(l, "w_cos", "0", loss.w_cos);
  expect(l, "mixco", "false", loss.mixco);
  if constexpr (std::is_same_v<C, encoder::PretrainConfig>) expect(l, "lr", "0.001", opt.lr);
  expect(l, "weight_decay", "0.01", opt.weight_decay);
  expect(l, "clip_norm", "1", opt.clip_norm);
  expect(l, "warmup_fraction", "0.05", l.cfg.warmup_fraction);
  BOOST_CHECK_EQUAL(opt.total_steps, 200);
  BOOST_CHECK_EQUAL(opt.warmup_steps, 10);  // 0.05 of the 200 steps
  expect(l, "batch_size", "32", l.cfg.batch_size);
  // Settings no stage exposes, as the kernels use them (MindEye's MixCo, AdamW's betas).
  BOOST_CHECK_EQUAL(model.clip_dim, 16);
  BOOST_CHECK_CLOSE_FRACTION(loss.mixco_fraction, 1.0 / 3.0, 1e-15);
  BOOST_CHECK_EQUAL(loss.mixco_alpha, 0.15);
  BOOST_CHECK_EQUAL(loss.mixco_prob, 0.5);
  BOOST_CHECK_EQUAL(opt.beta1, 0.9);
  BOOST_CHECK_EQUAL(opt.beta2, 0.999);
  BOOST_CHECK_EQUAL(opt.eps, 1e-8);
  BOOST_CHECK_EQUAL(opt.min_lr, 0.0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(defaults)

BOOST_AUTO_TEST_CASE(ridge_solver_gets_the_documented_defaults) {
  // The solver takes the stage's config itself: what the stage loads is what cross_validate reads.
  static_assert(std::is_same_v<cv::RidgeCvSettings, ridge::RidgeConfig>);
  for_each_empty_config<ridge::RidgeConfig>("ridge", [](const auto& l) {
    const cv::RidgeCvSettings& solver = l.cfg;
    expect(l, "mode", "decode", solver.mode);
    expect(l, "alpha_per_target", "true", solver.alpha_per_target);
    expect(l, "alpha_score", "correlation", solver.alpha_score);
    expect(l, "outer", "loro", solver.outer);
    expect(l, "outer_folds", "6", solver.outer_folds);
    expect(l, "explicit_folds", "[]", solver.explicit_folds);
    expect(l, "inner_folds", "5", solver.inner_folds);
    expect(l, "exclusive", "false", solver.exclusive);
    expect(l, "train_fraction", "1", solver.train_fraction);
    expect(l, "select_voxels", "0", solver.select_voxels);
    expect(l, "standardize_x", "false", solver.standardize_x);
    expect(l, "precision", "float32", solver.precision);
    expect(l, "target_batch", "1024", solver.target_batch);
    expect(l, "fit_final", "true", solver.fit_final);
    // α: 20 values log-spaced from 1e-2 to 1e6, each printed by --help as it is.
    BOOST_REQUIRE_EQUAL(solver.alphas.size(), 20u);
    BOOST_CHECK_EQUAL(solver.alphas.front(), 0.01);
    BOOST_CHECK_EQUAL(solver.alphas.back(), 1e6);
    for (size_t i = 1; i < solver.alphas.size(); ++i)
      BOOST_CHECK_CLOSE_FRACTION(solver.alphas[i] / solver.alphas[i - 1], std::pow(10.0, 8.0 / 19.0), 1e-12);
    const std::string listed = l.documented("alphas");
    BOOST_REQUIRE(listed.size() > 2 && listed.front() == '[' && listed.back() == ']');
    std::vector<double> shown;
    std::istringstream items(listed.substr(1, listed.size() - 2));
    for (std::string item; std::getline(items, item, ',');) shown.push_back(std::strtod(item.c_str(), nullptr));
    BOOST_CHECK(shown == solver.alphas);
  });
}

// The stage loops read their own fields (epochs, folds, early stopping...) from the config struct
// the schema fills, so --help's default is the value they use.
BOOST_AUTO_TEST_CASE(pretrain_model_losses_and_adamw_get_the_documented_defaults) {
  for_each_empty_config<encoder::PretrainConfig>("pretrain", [](const auto& l) {
    expect_training_defaults(l);
    expect_documented(
        l,
        {{"epochs", "40"}, {"val_runs", "1"}, {"patience", "8"}, {"checkpoint_every", "200"}, {"exclude_runs", "[]"}});
    expect_documented(l, {{"ssl_mask_kind", "time"}, {"ssl_mask_ratio", "0.5"}});
    BOOST_CHECK(l.cfg.ssl.mask.kind == encoder::ssl::MaskKind::time);
    expect_documented(l, {{"ssl_lr_grid", "[1e-04, 3e-04, 0.001, 0.003]"}, {"ssl_ar1_start", "auto"}});
    BOOST_CHECK((l.cfg.ssl.search.lr_grid == std::vector<double>{1e-4, 3e-4, 1e-3, 3e-3}));
    BOOST_CHECK(l.cfg.ssl.search.ar1_start == encoder::ssl::Ar1Start::both);
  });
}

BOOST_AUTO_TEST_CASE(finetune_model_losses_and_adamw_get_the_documented_defaults) {
  for_each_empty_config<encoder::FinetuneConfig>("finetune", [](const auto& l) {
    expect_training_defaults(l);
    expect_documented(l, {{"epochs", "60"},
                          {"mode", "adapter"},
                          {"adapter_init", "ridge"},
                          {"lr_grid", "[0.001, 0.003, 0.01]"},
                          {"inner_val_runs", "1"},
                          {"patience", "10"},
                          {"ssl_steps", "300"},
                          {"ssl_transductive", "false"}});
    expect_documented(l, {{"ssl_lr_grid", "[1e-04, 3e-04, 0.001, 0.003]"}, {"ssl_ar1_start", "auto"}});
    BOOST_CHECK((l.cfg.ssl.search.lr_grid == std::vector<double>{1e-4, 3e-4, 1e-3, 3e-3}));
    BOOST_CHECK(l.cfg.ssl.search.ar1_start == encoder::ssl::Ar1Start::both);
    BOOST_CHECK((l.cfg.lr_grid == std::vector<double>{1e-3, 3e-3, 1e-2}));
    std::istringstream help(l.schema.help(0));  // the rate is tuned from lr_grid: `lr` is not a key
    for (std::string line; std::getline(help, line);) BOOST_CHECK_MESSAGE(line.rfind("lr (", 0) != 0, line);
  });
}

// ---- simulate, prepare, retrieve, report, plan -----------------------------------------------
// These stages hand their config struct itself to their loop (make_study / write_study,
// prepare_subject, run_retrieval, render_page, v2c-plan's run): what the schema loads is what the
// kernels read.

BOOST_AUTO_TEST_CASE(simulate_model_gets_the_documented_defaults) {
  for_each_empty_config<sim::SimulateConfig>("simulate", [](const auto& l) {
    const sim::StudyParams& p = l.cfg.p;
    expect(l, "n_categories", "8", p.n_categories);
    expect(l, "feature_dim", "512", p.feature_dim);
    expect(l, "category_spread", "1", p.category_spread);
    expect(l, "train_per_category", "24", p.train_per_category);
    expect(l, "test_per_category", "5", p.test_per_category);
    expect(l, "train_per_subject", "0", p.train_per_subject);
    expect(l, "latent_dim", "64", p.latent_dim);
    expect(l, "hidden_dim", "256", p.hidden_dim);
    expect(l, "nonlinearity_gain", "2", p.nonlinearity_gain);
    expect(l, "linear", "false", p.linear);
    expect(l, "n_subjects", "8", p.n_subjects);
    expect_documented(l, {{"grid_dims", "[16, 20, 16]"}, {"baseline_range", "[800, 1200]"}});
    BOOST_CHECK((p.grid_dims == std::vector<int>{16, 20, 16}));
    BOOST_CHECK((p.baseline_range == std::vector<double>{800, 1200}));
    expect(l, "grid_jitter", "2", p.grid_jitter);
    expect(l, "voxel_mm", "3", p.voxel_mm);
    expect(l, "mask_fill_min", "0.85", p.mask_fill_min);
    expect(l, "mask_fill_max", "1", p.mask_fill_max);
    expect(l, "responsive_fraction", "0.6", p.responsive_fraction);
    expect(l, "readout_smoothness_vox", "1", p.readout_smoothness_vox);
    expect(l, "signal_pct", "2", p.signal_pct);
    expect(l, "train_runs", "8", p.train_runs);
    expect(l, "test_runs", "2", p.test_runs);
    expect(l, "test_repeats", "2", p.test_repeats);
    expect(l, "design", "event", p.design);
    expect(l, "stimulus_s", "4", p.stimulus_s);
    expect(l, "isi_s", "4", p.isi_s);
    expect(l, "block_s", "16", p.block_s);
    expect(l, "rest_start_s", "8", p.rest_start_s);
    expect(l, "rest_end_s", "12", p.rest_end_s);
    expect(l, "tr_s", "2", p.tr_s);
    expect(l, "drift", "1", p.drift);
    expect(l, "ar1", "0.3", p.ar1);
    expect(l, "snr", "0.5", p.snr);
    expect(l, "bold_datatype", "int16", p.bold_datatype);
    // The model built from them: 8 categories x (24 + 5) stimuli of 512 dims, a 64-d latent code,
    // sub-01's grid within 16x20x16 +- 2 voxels.
    const sim::Study st = sim::make_study(p, 1);
    BOOST_CHECK_EQUAL(st.stimuli.features.rows(), 8 * (24 + 5));
    BOOST_CHECK_EQUAL(st.stimuli.features.cols(), 512);
    BOOST_CHECK_EQUAL(st.latent.cols(), 64);
    const sim::Subject s = sim::make_subject(p, 0, 1, st.stimuli);
    for (int a = 0; a < 3; ++a) BOOST_CHECK_LE(std::abs(s.dims[a] - p.grid_dims[a]), 2);
    BOOST_CHECK_EQUAL(s.runs.size(), 8u + 2u);
  });
}

BOOST_AUTO_TEST_CASE(prepare_gets_the_documented_defaults) {
  static_assert(std::is_invocable_v<decltype(&prep::prepare_subject), const prep::PrepareInputs&,
                                    const prep::PrepareConfig&, prep::AutoMaskResult*>);
  for_each_empty_config<prep::PrepareConfig>("prepare", [](const auto& l) {
    const prep::PrepareConfig& c = l.cfg;
    expect(l, "detrend_order", "2", c.detrend_order);
    expect(l, "scaling", "zscore", c.scaling);
    expect(l, "shift_s", "4", c.shift_s);
    expect(l, "sample_mode", "event", c.sample_mode);
    expect(l, "stimulus_column", "trial_type", c.stimulus_column);
    expect_documented(l, {{"rest_labels", "[rest, 0, n/a]"}});
    BOOST_CHECK((c.rest_labels == std::vector<std::string>{"rest", "0", "n/a"}));
    expect(l, "exclude_stimuli", "[]", c.exclude_stimuli);
    expect(l, "tr_s", "0", c.tr_s);
    expect(l, "nonfinite", "error", c.nonfinite);
    expect(l, "grid_tolerance", "0.001", c.grid_tolerance);
    expect(l, "l2_normalize_features", "false", c.l2_normalize_features);
    expect(l, "missing_features", "error", c.missing_features);
    expect(l, "alias_from_column", "stimulus", c.alias_from_column);
    expect(l, "alias_to_column", "feature", c.alias_to_column);
  });
}

BOOST_AUTO_TEST_CASE(retrieve_gets_the_documented_defaults) {
  static_assert(std::is_invocable_v<decltype(&retrieve::run_retrieval), const retrieve::RetrieveInputs&,
                                    const retrieve::RetrieveConfig&, uint64_t>);
  for_each_empty_config<retrieve::RetrieveConfig>("retrieve", [](const auto& l) {
    const retrieve::RetrieveConfig& c = l.cfg;
    expect(l, "candidates", "test", c.candidates);
    expect(l, "queries", "all", c.queries);
    expect(l, "novel_pattern", "^test-", c.novel_pattern);
    expect(l, "average_repeats", "true", c.average_repeats);
    expect(l, "similarity", "cosine", c.similarity);
    expect(l, "centre", "train_mean", c.centre);
    expect(l, "k", "5", c.k);
    expect(l, "among_n", "300", c.among_n);
    expect(l, "draws", "30", c.draws);
    expect(l, "bootstrap", "2000", c.bootstrap);
    expect(l, "permutations", "1000", c.permutations);
    expect(l, "scan", "automatic", c.scan);
    expect(l, "alias_from_column", "stimulus", c.alias_from_column);
    expect(l, "alias_to_column", "category", c.alias_to_column);
  });
}

BOOST_AUTO_TEST_CASE(report_page_gets_the_documented_defaults) {
  // The page takes the stage's config itself (no copy into a second struct).
  static_assert(std::is_invocable_r_v<std::string, decltype(&report::render_page), const report::Study&,
                                      const report::ReportConfig&, const report::PageInfo&>);
  for_each_empty_config<report::ReportConfig>("report", [](const auto& l) {
    const report::ReportConfig& c = l.cfg;
    expect_documented(
        l, {{"title", "\"\""}, {"candidate_set", "\"\""}, {"metrics", "[top1_forward, pairwise_identification]"}});
    BOOST_CHECK(c.title.empty());
    BOOST_CHECK(c.candidate_set.empty());
    BOOST_CHECK((c.metrics == std::vector<std::string>{"top1_forward", "pairwise_identification"}));
    expect(l, "map_slices", "6", c.map_slices);
    expect(l, "png_above", "4096", c.png_above);
  });
}

BOOST_AUTO_TEST_CASE(align_gets_the_documented_defaults) {
  for_each_empty_config<align::AlignRidgeConfig>("align", [](const auto& l) {
    expect(l, "features", "50", l.cfg.features);
    expect(l, "standardize", "true", l.cfg.standardize);
    expect(l, "min_shared", "10", l.cfg.min_shared);
  });
}

BOOST_AUTO_TEST_CASE(plan_gets_the_documented_defaults) {
  for_each_empty_config<study::StudyConfig>("study", [](const auto& l) {
    const study::StudyConfig& c = l.cfg;
    expect(l, "source", "simulate", c.source);
    expect(l, "task", "sim", c.task);
    expect(l, "subjects", "[]", c.subjects);
    expect(l, "heldout", "[]", c.heldout);
    expect_documented(l, {{"train_fractions", "[0.25, 0.5, 1]"}});
    BOOST_CHECK((c.train_fractions == std::vector<double>{0.25, 0.5, 1.0}));
  });
  // What v2c-plan makes of an empty config: the simulated study's subjects (simulate.n_subjects'
  // default), each held out in turn (leave-one-subject-out) with the others pretrained on, the
  // fractions as given.
  test::TempDir dir("v2c-defaults-plan");
  const auto r = test::run_stage("plan", {"--config", dir.write("empty.yaml", ""), "--bids-dir", dir.file("bids"),
                                          "--out", dir.file("plan.mk"), "--quiet"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string mk = test::read_text_file(dir.file("plan.mk"));
  for (const char* line : {"SUBJECTS := sub-01 sub-02 sub-03 sub-04 sub-05 sub-06 sub-07 sub-08\n",
                           "HELDOUT := sub-01 sub-02 sub-03 sub-04 sub-05 sub-06 sub-07 sub-08\n",
                           "PRETRAIN_FOR_sub-01 := sub-02 sub-03 sub-04 sub-05 sub-06 sub-07 sub-08\n",
                           "PRETRAIN_FOR_sub-08 := sub-01 sub-02 sub-03 sub-04 sub-05 sub-06 sub-07\n",
                           "FRACTIONS := 0.25 0.5 1\n", "STUDY_SOURCE := simulate\n"})
    BOOST_CHECK_MESSAGE(mk.find(line) != std::string::npos, "plan.mk lacks '" << line << "':\n" << mk);
  BOOST_CHECK(mk.find("--task sim ") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
