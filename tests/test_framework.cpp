// The stage framework: config schema (load, overrides, rules, unknown keys) and atomic outputs.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "pipeline/core/config.h"
#include "pipeline/core/output.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {
struct DemoConfig {
  double shift_s = 4.0;
  int order = 2;
  std::string mode = "zscore";
  std::vector<double> alphas = {1.0, 10.0};
  bool flag = false;
  void describe(config::Schema& s) {
    s.field("shift_s", shift_s, "shift in seconds").min(0.0);
    s.field("order", order, "polynomial order").range(-1, 5);
    s.field("mode", mode, "scaling").one_of({"zscore", "psc", "none"});
    s.field("alphas", alphas, "grid");
    s.field("flag", flag, "a switch");
  }
};

fs::path temp_dir(const std::string& name) {
  const char* base = std::getenv("V2C_TEST_TMP");
  fs::path p = fs::path(base ? base : fs::temp_directory_path().string()) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Runs fn, expects a v2c::Error with `code` whose message contains every needle.
template <class Fn>
void expect_error(Fn&& fn, ExitCode code, std::vector<std::string> needles) {
  try {
    fn();
    BOOST_ERROR("expected an error containing '" << needles.front() << "'");
  } catch (const Error& e) {
    BOOST_CHECK_EQUAL(int(e.code()), int(code));
    for (const auto& n : needles)
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(n) != std::string::npos,
                          "message '" << e.what() << "' lacks '" << n << "'");
  }
}
}  // namespace

BOOST_AUTO_TEST_SUITE(framework)

BOOST_AUTO_TEST_CASE(config_file_overrides_and_rules) {
  const fs::path dir = temp_dir("config_file");
  std::ofstream(dir / "c.yaml") << "prepare:\n  shift_s: 5.5\n  alphas: [0.1, 1e3]\nridge:\n  anything: 1\n";
  DemoConfig cfg;
  config::Schema s("prepare");
  cfg.describe(s);
  config::apply_file(s, (dir / "c.yaml").string());
  BOOST_CHECK_EQUAL(cfg.shift_s, 5.5);
  BOOST_REQUIRE_EQUAL(cfg.alphas.size(), 2u);
  BOOST_CHECK_EQUAL(cfg.alphas[1], 1000.0);
  s.apply_override("prepare.order=3");
  s.apply_override("mode=psc");
  s.apply_override("flag=true");
  BOOST_CHECK_EQUAL(cfg.order, 3);
  BOOST_CHECK_EQUAL(cfg.mode, "psc");
  BOOST_CHECK(cfg.flag);
  s.validate();
  // The recorded YAML reloads to the same values.
  std::ofstream(dir / "dump.yaml") << s.to_yaml();
  DemoConfig again;
  config::Schema s2("prepare");
  again.describe(s2);
  config::apply_file(s2, (dir / "dump.yaml").string());
  BOOST_CHECK_EQUAL(again.order, 3);
  BOOST_CHECK_EQUAL(again.shift_s, 5.5);
  BOOST_CHECK_EQUAL(again.mode, "psc");
}

BOOST_AUTO_TEST_CASE(config_errors_name_field_value_and_rule) {
  const fs::path dir = temp_dir("config_errors");
  DemoConfig cfg;
  config::Schema s("prepare");
  cfg.describe(s);
  std::ofstream(dir / "typo.yaml") << "prepare:\n  shfit_s: 3\n";
  expect_error([&] { config::apply_file(s, (dir / "typo.yaml").string()); }, ExitCode::usage,
               {"typo.yaml", "unknown key 'prepare.shfit_s'", "shift_s"});
  std::ofstream(dir / "section.yaml") << "prepair:\n  shift_s: 3\n";
  expect_error([&] { config::apply_file(s, (dir / "section.yaml").string()); }, ExitCode::usage,
               {"unknown section 'prepair'"});
  expect_error([&] { s.apply_override("shift_s=abc"); }, ExitCode::usage, {"prepare.shift_s", "number", "abc"});
  expect_error([&] { s.apply_override("order=2.5"); }, ExitCode::usage, {"prepare.order", "integer"});
  s.apply_override("order=9");
  expect_error([&] { s.validate(); }, ExitCode::usage, {"prepare.order", "9", "in [-1, 5]"});
  s.apply_override("order=1");
  s.apply_override("mode=zcore");
  expect_error([&] { s.validate(); }, ExitCode::usage, {"prepare.mode", "zcore", "'zscore'"});
  expect_error([&] { config::apply_file(s, (dir / "missing.yaml").string()); }, ExitCode::io, {"missing.yaml"});
}

BOOST_AUTO_TEST_CASE(atomic_output_renames_only_on_commit) {
  const fs::path dir = temp_dir("atomic");
  const std::string target = (dir / "sub" / "out.h5").string();
  {
    AtomicOutput out(target, false);
    std::ofstream(out.temp_path()) << "partial";
    BOOST_CHECK(!fs::exists(target));
  }  // not committed: the temporary is removed, no target appears
  BOOST_CHECK(!fs::exists(target));
  BOOST_CHECK(fs::is_empty(dir / "sub"));
  {
    AtomicOutput out(target, false);
    std::ofstream(out.temp_path()) << "complete";
    out.commit();
  }
  BOOST_CHECK(fs::exists(target));
  expect_error([&] { AtomicOutput again(target, false); }, ExitCode::usage, {"already exists", "--force"});
  AtomicOutput forced(target, true);
  std::ofstream(forced.temp_path()) << "new";
  forced.commit();
  std::ifstream in(target);
  std::string text;
  in >> text;
  BOOST_CHECK_EQUAL(text, "new");
}

BOOST_AUTO_TEST_CASE(atomic_output_removes_leftovers_of_dead_processes) {
  const fs::path dir = temp_dir("atomic_stale");
  // A study directory half-written by a process that was killed (pid 2^22+1 is above Linux's
  // default pid_max, so no such process runs), and one of a live process (ours' parent).
  const fs::path stale = dir / ".study.tmp-4194305", live = dir / (".study.tmp-" + std::to_string(getppid()));
  fs::create_directories(stale / "sub-01");
  fs::create_directories(live);
  {
    AtomicOutput out((dir / "study").string(), false, true);
    fs::create_directories(out.temp_path());
    out.commit();
  }
  BOOST_CHECK(!fs::exists(stale));
  BOOST_CHECK(fs::exists(live));
  BOOST_CHECK(fs::is_directory(dir / "study"));
}

BOOST_AUTO_TEST_SUITE_END()
