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
#include "pipeline/models/cv.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/trainer.h"
#include "pipeline/models/ridge_config.h"
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
    BOOST_CHECK_MESSAGE(l.documented(key) == text, l.schema.section() << "." << key << ": --help shows '"
                                                                      << l.documented(key) << "', documented '"
                                                                      << text << "'");
}

// The value that reached a kernel equals the documented default, and --help prints that default.
template <class C, class T>
void expect(const Loaded<C>& l, const std::string& key, const std::string& text, const T& reached) {
  expect_documented(l, {{key, text}});
  if constexpr (std::is_same_v<T, bool>) {
    BOOST_CHECK_MESSAGE((reached ? "true" : "false") == text, l.schema.section() << "." << key << " reached as "
                                                                                 << reached);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    BOOST_CHECK_MESSAGE(text == "[]" && reached.empty(), l.schema.section() << "." << key << " reached with "
                                                                            << reached.size() << " entries");
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
  expect(l, "lr", "0.001", opt.lr);
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
    expect_documented(l, {{"epochs", "40"}, {"val_runs", "1"}, {"patience", "8"}, {"checkpoint_every", "200"},
                          {"exclude_runs", "[]"}});
  });
}

BOOST_AUTO_TEST_CASE(finetune_model_losses_and_adamw_get_the_documented_defaults) {
  for_each_empty_config<encoder::FinetuneConfig>("finetune", [](const auto& l) {
    expect_training_defaults(l);
    expect_documented(l, {{"epochs", "60"}, {"mode", "adapter"}, {"adapter_init", "ridge"}, {"train_fraction", "1"},
                          {"outer", "loro"}, {"outer_folds", "6"}, {"explicit_folds", "[]"}});
  });
}

BOOST_AUTO_TEST_SUITE_END()
