// The benchmark script's failure paths (bench/run.sh, its helpers in bench/lib.sh), without
// running a benchmark: a peer that fails or a timing that is not a positive number stops the
// benchmarks with exit 1 naming it and records nothing; a benchmark name that does not exist stops
// bench/run.sh with exit 2 before it touches its output folder; the median of bracketed runs is the
// middle line by the first field (the lower middle for an even count).
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;

namespace {

// Runs `body` in bash after sourcing bench/lib.sh, with lines = <dir>/results.jsonl and
// peers = <dir>/peers (a folder of fake peer scripts).
test::CommandRun with_helpers(const test::TempDir& dir, const std::string& body) {
  const auto root = test::repo_root();
  BOOST_REQUIRE_MESSAGE(root, "repository root not found from " << fs::current_path());
  const std::string script = "set -euo pipefail\nlines=" + test::shell_quote(dir.file("results.jsonl")) +
                             "\ncoretype=test\npeers=" + test::shell_quote(dir.file("peers")) + "\nsource " +
                             test::shell_quote((*root / "bench" / "lib.sh").string()) + "\n" + body + "\n";
  return test::run_command("bash " + test::shell_quote(dir.write("body.sh", script)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bench_script)

BOOST_AUTO_TEST_CASE(record_appends_a_ratio_and_refuses_timings_that_are_not_positive_numbers) {
  test::TempDir dir("v2c-bench");
  const auto ok = with_helpers(dir, "record 'entry A' 1.5 3 'a note'");
  BOOST_REQUIRE_MESSAGE(ok.exit_code == 0, ok.output);
  const std::string lines = test::read_text_file(dir.file("results.jsonl"));
  BOOST_CHECK_MESSAGE(lines.find("\"name\": \"entry A\"") != std::string::npos, lines);
  BOOST_CHECK_MESSAGE(lines.find("\"ratio\": 0.5000") != std::string::npos, lines);
  BOOST_CHECK_MESSAGE(lines.find("a note (OPENBLAS_CORETYPE=test)") != std::string::npos, lines);
  for (const std::string bad : {"''", "abc", "0", "-2", "1e3x"}) {
    fs::remove(dir.file("results.jsonl"));
    const auto r = with_helpers(dir, "record 'entry B' " + bad + " 2 'note'; echo after");
    BOOST_CHECK_MESSAGE(r.exit_code == 1, "timing " << bad << ": exit " << r.exit_code << "\n" << r.output);
    BOOST_CHECK_MESSAGE(r.output.find("bench: entry B: expected two positive timings") != std::string::npos, r.output);
    BOOST_CHECK_MESSAGE(r.output.find("after") == std::string::npos, "the script went on:\n" << r.output);
    BOOST_CHECK_MESSAGE(!fs::exists(dir.file("results.jsonl")), "a line was recorded for timing " << bad);
  }
}

BOOST_AUTO_TEST_CASE(a_failing_peer_stops_the_benchmarks_naming_it) {
  test::TempDir dir("v2c-bench");
  fs::create_directories(dir.file("peers"));
  dir.write("peers/good.py", "import sys\nprint('12.5', sys.argv[1])\n");
  dir.write("peers/bad.py", "import sys\nsys.stderr.write('No module named torch\\n')\nsys.exit(3)\n");
  const auto ok = with_helpers(dir, "v=$(peer good.py x); echo \"got [$v]\"");
  BOOST_REQUIRE_MESSAGE(ok.exit_code == 0, ok.output);
  BOOST_CHECK_MESSAGE(ok.output.find("got [12.5 x]") != std::string::npos, ok.output);
  for (const std::string name : {"bad.py", "missing.py"}) {
    const auto r = with_helpers(dir, "v=$(peer " + name + " x); echo \"went on with [$v]\"");
    BOOST_CHECK_MESSAGE(r.exit_code == 1, name << ": exit " << r.exit_code << "\n" << r.output);
    BOOST_CHECK_MESSAGE(r.output.find("bench: the peer " + dir.file("peers/" + name) + " failed") != std::string::npos,
                        r.output);
    BOOST_CHECK_MESSAGE(r.output.find("went on") == std::string::npos, "the script went on:\n" << r.output);
  }
  const auto r = with_helpers(dir, "v=$(peer bad.py x)");
  BOOST_CHECK_MESSAGE(r.output.find("No module named torch") != std::string::npos, "the peer's message is lost:\n"
                                                                                       << r.output);
}

BOOST_AUTO_TEST_CASE(median_line_takes_the_middle_run_by_its_first_field) {
  test::TempDir dir("v2c-bench");
  const auto odd = with_helpers(dir, "median_line '0.9 a' '0.75 b' '1.1 c'");
  BOOST_REQUIRE_EQUAL(odd.exit_code, 0);
  BOOST_CHECK_EQUAL(odd.output, "0.9 a\n");
  const auto even = with_helpers(dir, "median_line '10 a' '9 b' '0.5 c' '2 d'");
  BOOST_REQUIRE_EQUAL(even.exit_code, 0);
  BOOST_CHECK_EQUAL(even.output, "2 d\n");  // numeric, not text, order: 0.5 2 9 10
}

BOOST_AUTO_TEST_CASE(an_unknown_benchmark_name_stops_before_any_output) {
  const auto root = test::repo_root();
  BOOST_REQUIRE_MESSAGE(root, "repository root not found from " << fs::current_path());
  test::TempDir dir("v2c-bench");
  const std::string build = dir.file("build");
  const auto r = test::run_command("BUILD=" + test::shell_quote(build) + " bash " +
                                   test::shell_quote((*root / "bench" / "run.sh").string()) + " ridge pretrian");
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_MESSAGE(r.output.find("no benchmark named 'pretrian'; the benchmarks are: prepare ridge") !=
                          std::string::npos,
                      r.output);
  BOOST_CHECK_MESSAGE(!fs::exists(build), "bench/run.sh created " << build);
}

BOOST_AUTO_TEST_SUITE_END()
