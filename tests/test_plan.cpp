// v2c-plan: the study section read through the config schema like every stage's (unknown keys
// and malformed values are usage errors, exit 2, naming the key), simulate.n_subjects through the
// simulate stage's own schema, and learning-curve fractions passed on exactly.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/models/ridge_config.h"
#include "pipeline/sim/study.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

test::StageRun run_plan(const test::TempDir& dir, const std::string& config_text) {
  return test::run_stage("plan", {"--config", dir.write("study.yaml", config_text), "--bids-dir", dir.file("bids"),
                                  "--out", dir.file("plan.mk"), "--force", "--quiet"});
}

// The value of `name := ...` in a make fragment, split at spaces.
std::vector<std::string> make_words(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " :=", 0) != 0) continue;
    std::istringstream words(line.substr(name.size() + 3));
    std::vector<std::string> out;
    for (std::string w; words >> w;) out.push_back(w);
    return out;
  }
  BOOST_ERROR("no line '" << name << " :=' in:\n" << text);
  return {};
}

void check_refused(const test::StageRun& r, const test::TempDir& dir, std::initializer_list<std::string> words) {
  BOOST_CHECK_MESSAGE(r.exit_code == 2, "exit " << r.exit_code << ", expected 2:\n" << r.output);
  for (const auto& w : words)
    BOOST_CHECK_MESSAGE(r.output.find(w) != std::string::npos, "output lacks '" << w << "':\n" << r.output);
  BOOST_CHECK(!fs::exists(dir.file("plan.mk")));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plan_stage)

BOOST_AUTO_TEST_CASE(unknown_keys_and_bad_values_are_usage_errors_naming_the_key) {
  {
    test::TempDir dir("v2c-plan");
    check_refused(run_plan(dir, "study:\n  train_fraction: [0.5]\n"), dir, {"study.train_fraction", "train_fractions"});
  }
  {
    test::TempDir dir("v2c-plan");  // a type error in the simulate section (formerly exit 1)
    check_refused(run_plan(dir, "study:\n  source: simulate\nsimulate:\n  n_subjects: many\n"), dir,
                  {"simulate.n_subjects", "many"});
  }
  {
    test::TempDir dir("v2c-plan");
    check_refused(run_plan(dir, "simulate:\n  n_subject: 3\n"), dir, {"simulate.n_subject"});
  }
  {
    test::TempDir dir("v2c-plan");
    check_refused(run_plan(dir, "simulate:\n  n_subjects: 0\n"), dir, {"simulate.n_subjects", "[1, 99]"});
  }
  {
    test::TempDir dir("v2c-plan");
    check_refused(run_plan(dir, "study:\n  train_fractions: [0.5\n"), dir, {"not valid YAML"});
  }
  {
    test::TempDir dir("v2c-plan");  // the second value would silently win
    check_refused(run_plan(dir, "simulate:\n  n_subjects: 3\n  n_subjects: 4\n"), dir,
                  {"simulate.n_subjects", "appears twice"});
  }
  {
    test::TempDir dir("v2c-plan");
    check_refused(run_plan(dir, "study:\n  heldout: [sub-09]\nsimulate:\n  n_subjects: 3\n"), dir,
                  {"study.heldout", "sub-09", "3 subjects"});
  }
}

BOOST_AUTO_TEST_CASE(fractions_reach_ridge_exactly) {
  test::TempDir dir("v2c-plan");
  const std::vector<double> fractions = {0.125, 0.1, 1.0 / 3, 0.5, 1.0};
  const auto r = run_plan(dir,
                          "study:\n  train_fractions: [0.125, 0.1, 0.3333333333333333, 0.5, 1]\n"
                          "simulate:\n  n_subjects: 3\n");
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string mk = test::read_text_file(dir.file("plan.mk"));
  const std::vector<std::string> words = make_words(mk, "FRACTIONS");
  BOOST_CHECK((words == std::vector<std::string>{"0.125", "0.1", "0.3333333333333333", "0.5", "1"}));
  BOOST_CHECK((make_words(mk, "SUBJECTS") == std::vector<std::string>{"sub-01", "sub-02", "sub-03"}));
  BOOST_CHECK((make_words(mk, "HELDOUT") == std::vector<std::string>{"sub-01", "sub-02", "sub-03"}));
  BOOST_CHECK((make_words(mk, "PRETRAIN_FOR_sub-02") == std::vector<std::string>{"sub-01", "sub-03"}));
  // pipeline.mk runs v2c-ridge with --set ridge.train_fraction=<word>: the configured number arrives.
  BOOST_REQUIRE_EQUAL(words.size(), fractions.size());
  for (size_t i = 0; i < words.size(); ++i) {
    ridge::RidgeConfig cfg;
    config::Schema schema("ridge");
    cfg.describe(schema);
    schema.apply_override("ridge.train_fraction=" + words[i]);
    schema.validate();
    BOOST_CHECK_EQUAL(cfg.train_fraction, fractions[i]);
  }
}

BOOST_AUTO_TEST_CASE(simulated_subjects_default_from_the_simulate_schema) {
  test::TempDir dir("v2c-plan");
  const auto r = run_plan(dir, "study:\n  source: simulate\n");
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::vector<std::string> subjects = make_words(test::read_text_file(dir.file("plan.mk")), "SUBJECTS");
  BOOST_CHECK_EQUAL(subjects.size(), size_t(sim::StudyParams{}.n_subjects));  // the one default
}

BOOST_AUTO_TEST_CASE(self_supervised_rows_at_the_fractions_asked_for) {
  const std::string study = "study:\n  train_fractions: [0.125, 0.5, 1]\n  self_supervised: true\n";
  {
    test::TempDir dir("v2c-plan");  // empty: every training fraction
    const auto r = run_plan(dir, study);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    BOOST_CHECK((make_words(test::read_text_file(dir.file("plan.mk")), "SSL_FRACTIONS") ==
                 std::vector<std::string>{"0.125", "0.5", "1"}));
  }
  {
    test::TempDir dir("v2c-plan");
    const auto r = run_plan(dir, study + "  self_supervised_fractions: [0.125]\n");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const std::string mk = test::read_text_file(dir.file("plan.mk"));
    BOOST_CHECK((make_words(mk, "SSL_FRACTIONS") == std::vector<std::string>{"0.125"}));
    BOOST_CHECK((make_words(mk, "FRACTIONS") == std::vector<std::string>{"0.125", "0.5", "1"}));
  }
  {
    test::TempDir dir("v2c-plan");  // a fraction without its ridge fit (the folds) cannot have rows
    check_refused(run_plan(dir, study + "  self_supervised_fractions: [0.25]\n"), dir,
                  {"study.self_supervised_fractions", "0.25", "[0.125, 0.5, 1]"});
  }
}

// study.control: the negative control's flag reaches every pooled stage through POOLED_FLAGS
// (pipeline.mk); none by default; an unknown control is refused naming the key.
BOOST_AUTO_TEST_CASE(the_shuffled_pooled_labels_control_is_passed_to_the_pooled_stages) {
  for (const auto& [control, flags] : {std::pair<std::string, std::vector<std::string>>{"", {}},
                                       {"  control: none\n", {}},
                                       {"  control: shuffled_pooled_labels\n", {"--shuffle-pooled-labels"}}}) {
    test::TempDir dir("v2c-plan");
    const auto r = run_plan(dir, "study:\n  source: simulate\n" + control + "simulate:\n  n_subjects: 3\n");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    BOOST_CHECK(make_words(test::read_text_file(dir.file("plan.mk")), "POOLED_FLAGS") == flags);
  }
  test::TempDir dir("v2c-plan");
  check_refused(run_plan(dir, "study:\n  control: shuffled\n"), dir, {"study.control", "shuffled_pooled_labels"});
  // pipeline.mk passes it in the recipes of pretraining (pretrain_rule: pretrained and
  // pretrained-linear; the self-supervised one), the pretrained rows' fine-tuning and align-ridge.
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  const std::string mk = test::read_text_file(*root / "pipeline.mk");
  size_t uses = 0;
  for (size_t at = mk.find("$(POOLED_FLAGS) --out"); at != std::string::npos;
       at = mk.find("$(POOLED_FLAGS) --out", at + 1))
    ++uses;
  BOOST_CHECK_EQUAL(uses, 4u);
}

BOOST_AUTO_TEST_SUITE_END()
