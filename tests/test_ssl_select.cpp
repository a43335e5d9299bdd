// The self-supervised fit chosen by inner validation (ssl/select.h): the candidate with the lowest
// validation next-time-point error is kept, and it is, bitwise, what one train_ssl run at the chosen
// learning rate and start gives; a diverging candidate is set aside; the config keys that drive the
// choice (pretrain.ssl_lr_grid, pretrain.ssl_ar1_start and finetune's) refuse bad values by name.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "pipeline/core/config.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/select.h"
#include "tests/test_util.h"

using namespace v2c;
using namespace v2c::encoder::ssl;

namespace {

// Runs of 7 voxels, each an AR(1) of its own slope and intercept plus noise.
struct Data {
  encoder::Rng rng{41};
  MatrixF make_run(int64_t n) {
    const int64_t p = 7;
    MatrixF x(n, p);
    for (int64_t v = 0; v < p; ++v) x(0, v) = float(rng.normal());
    for (int64_t t = 1; t < n; ++t)
      for (int64_t v = 0; v < p; ++v) x(t, v) = float(0.12 * double(v) * x(t - 1, v) + 0.1 * double(v) + rng.normal());
    return x;
  }
  MatrixF train0 = make_run(60), train1 = make_run(50), val = make_run(40);
};

SslTrainConfig small_config() {
  SslTrainConfig cfg;
  cfg.model.temporal.n_layers = 1;
  cfg.model.temporal.n_heads = 2;
  cfg.window = 4;
  cfg.batch_windows = 4;
  cfg.steps = 12;
  cfg.eval_every = 3;
  return cfg;
}

std::unique_ptr<SslModel<float>> fresh_model(const SslTrainConfig& cfg) {
  auto m = std::make_unique<SslModel<float>>(8, cfg.model, 32);
  m->add_subject("s", 7, 33);
  return m;
}

void check_same_parameters(SslModel<float>& a, SslModel<float>& b) {
  const auto pa = a.params().all(), pb = b.params().all();
  BOOST_REQUIRE_EQUAL(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    BOOST_CHECK_EQUAL(pa[i]->name, pb[i]->name);
    BOOST_CHECK_MESSAGE(pa[i]->value == pb[i]->value, pa[i]->name << " differs");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ssl_select)

BOOST_AUTO_TEST_CASE(keeps_the_lowest_validation_error_and_equals_one_run_at_its_rate_bitwise) {
  const Data d;
  SslTrainConfig cfg = small_config();
  cfg.search.lr_grid = {1e-4, 1e-2, 0.3};
  cfg.search.ar1_start = Ar1Start::both;
  const std::vector<SslSubjectRuns> data{{"s", {&d.train0, &d.train1}, {&d.val}}};
  auto train = [&](SslModel<float>& m, const SslTrainConfig& one) { return train_ssl(m, data, one, 34); };
  std::vector<size_t> reported;
  SslSelection sel = select_ssl(
      cfg, [&] { return fresh_model(cfg); }, train, [&](size_t k, const SslCandidate&) { reported.push_back(k); });
  BOOST_REQUIRE_EQUAL(sel.candidates.size(), 6u);
  BOOST_CHECK((reported == std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  // The order: the random start over the grid, then the AR(1) start over it.
  for (size_t k = 0; k < 6; ++k) {
    BOOST_CHECK_EQUAL(sel.candidates[k].lr, cfg.search.lr_grid[k % 3]);
    BOOST_CHECK_EQUAL(sel.candidates[k].ar1_start, k >= 3);
    BOOST_CHECK(!sel.candidates[k].diverged);
  }
  // The kept candidate has the lowest best validation error; the candidates differ (a real choice).
  double lowest = INFINITY, highest = 0;
  for (const SslCandidate& c : sel.candidates) {
    lowest = std::min(lowest, c.fit.best_validation);
    highest = std::max(highest, c.fit.best_validation);
  }
  BOOST_CHECK_EQUAL(sel.best().fit.best_validation, lowest);
  BOOST_CHECK_GT(highest - lowest, 1e-3);
  BOOST_CHECK_EQUAL(sel.config.optimizer.lr, sel.best().lr);
  BOOST_CHECK_EQUAL(sel.config.ar1_start, sel.best().ar1_start);
  // One train_ssl run at the chosen rate and start, same seeds: the same parameters, bitwise.
  SslTrainConfig one = cfg;
  one.optimizer.lr = sel.best().lr;
  one.ar1_start = sel.best().ar1_start;
  auto single = fresh_model(cfg);
  const SslTrainResult r = train_ssl(*single, data, one, 34);
  BOOST_CHECK(r.validation == sel.best().fit.validation);
  BOOST_CHECK_EQUAL(r.best_step, sel.best().fit.best_step);
  check_same_parameters(*single, *sel.model);
  // And a candidate not kept is what its own single run gives (each starts from a fresh model).
  const size_t other = sel.chosen == 0 ? 1 : 0;
  one.optimizer.lr = sel.candidates[other].lr;
  one.ar1_start = sel.candidates[other].ar1_start;
  auto again = fresh_model(cfg);
  BOOST_CHECK(train_ssl(*again, data, one, 34).validation == sel.candidates[other].fit.validation);
  // A one-element grid and one start: one run, no validation needed.
  cfg.search.lr_grid = {1e-2};
  cfg.search.ar1_start = Ar1Start::off;
  const std::vector<SslSubjectRuns> no_validation{{"s", {&d.train0, &d.train1}, {}}};
  SslSelection only = select_ssl(
      cfg, [&] { return fresh_model(cfg); },
      [&](SslModel<float>& m, const SslTrainConfig& c) { return train_ssl(m, no_validation, c, 34); });
  BOOST_CHECK_EQUAL(only.candidates.size(), 1u);
  BOOST_CHECK(only.best().fit.validation.empty());
}

BOOST_AUTO_TEST_CASE(a_diverging_candidate_is_set_aside_and_all_diverging_is_an_error) {
  const Data d;
  SslTrainConfig cfg = small_config();
  cfg.optimizer.clip_norm = 0;
  cfg.warmup_fraction = 0;
  cfg.search.lr_grid = {1e-3, 1e30};
  cfg.search.ar1_start = Ar1Start::off;
  const std::vector<SslSubjectRuns> data{{"s", {&d.train0, &d.train1}, {&d.val}}};
  auto train = [&](SslModel<float>& m, const SslTrainConfig& one) { return train_ssl(m, data, one, 34); };
  const SslSelection sel = select_ssl(
      cfg, [&] { return fresh_model(cfg); }, train);
  BOOST_REQUIRE_EQUAL(sel.candidates.size(), 2u);
  BOOST_CHECK(!sel.candidates[0].diverged);
  BOOST_CHECK(sel.candidates[1].diverged);
  BOOST_CHECK(sel.candidates[1].error.find("lower the learning rate (ssl_lr_grid)") != std::string::npos);
  BOOST_CHECK_EQUAL(sel.chosen, 0u);
  cfg.search.lr_grid = {1e30, 1e31};
  test::check_error(
      [&] {
        select_ssl(
            cfg, [&] { return fresh_model(cfg); }, train);
      },
      ExitCode::numerical, {"2 self-supervised candidates, every one diverged", "the loss is"});
}

BOOST_AUTO_TEST_CASE(config_keys_refuse_bad_values_naming_the_field) {
  for (const char* section : {"pretrain", "finetune"}) {
    auto load = [&](const std::string& assignment) {
      encoder::PretrainConfig p;
      encoder::FinetuneConfig f;
      config::Schema s(section);
      std::string(section) == "pretrain" ? p.describe(s) : f.describe(s);
      s.apply_override(cat(section, ".", assignment));
      s.validate();
      return std::string(section) == "pretrain" ? p.ssl.search : f.ssl.search;
    };
    BOOST_CHECK((load("ssl_lr_grid=[0.0001, 0.003]").lr_grid == std::vector<double>{1e-4, 3e-3}));
    BOOST_CHECK(load("ssl_ar1_start=auto").ar1_start == Ar1Start::both);
    BOOST_CHECK(load("ssl_ar1_start=true").ar1_start == Ar1Start::on);
    BOOST_CHECK(load("ssl_ar1_start=false").ar1_start == Ar1Start::off);
    const std::string key = cat(section, ".ssl_lr_grid");
    test::check_error([&] { load("ssl_lr_grid=[]"); }, ExitCode::usage, {key, "non-empty list"});
    test::check_error([&] { load("ssl_lr_grid=[0.001, 0]"); }, ExitCode::usage, {key, "> 0"});
    test::check_error([&] { load("ssl_ar1_start=maybe"); }, ExitCode::usage,
                      {cat(section, ".ssl_ar1_start"), "maybe", "'true' 'false' 'auto'"});
    test::check_error([&] { load("ssl_lr=0.001"); }, ExitCode::usage, {"ssl_lr"});  // replaced by the grid
  }
  // The kernel config's own rules (the stage applies them before any work).
  SslTrainConfig cfg;
  cfg.search.lr_grid = {1e-3, 3e-3};
  cfg.search.ar1_start = Ar1Start::off;
  cfg.val_runs = 0;
  test::check_error([&] { cfg.validate(); }, ExitCode::usage, {"ssl.val_runs = 0", "2 candidates"});
  cfg.search.lr_grid = {1e-3};
  cfg.validate();  // one candidate needs no validation runs
  cfg.search.lr_grid = {};
  test::check_error([&] { cfg.validate(); }, ExitCode::usage, {"ssl.lr_grid is empty"});
  cfg.search.lr_grid = {1e-3, NAN};
  test::check_error([&] { cfg.validate(); }, ExitCode::usage, {"ssl.lr_grid holds nan", "finite and > 0"});
  cfg = SslTrainConfig{};
  cfg.search.ar1_start = Ar1Start::both;
  cfg.next.residual = false;
  test::check_error([&] { cfg.validate(); }, ExitCode::usage, {"ssl.ar1_start = auto", "next.residual = false"});
}

BOOST_AUTO_TEST_SUITE_END()
