// The small shared helpers of pipeline/core: random numbers (golden values of the generators the
// simulated study and the encoder used before they moved here, so no figure moves), strict number
// parsing, shortest decimals, JSON text and write_text.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "pipeline/core/format.h"
#include "pipeline/core/json.h"
#include "pipeline/core/parse.h"
#include "pipeline/core/rng.h"
#include "pipeline/core/text_file.h"
#include "tests/test_util.h"

using namespace v2c;
namespace fs = std::filesystem;

namespace {

uint64_t bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(core_helpers)

// Values printed by the simulated study's former sim::Rng (std::mt19937_64, Box-Muller keeping the
// sine) and derive_seed, compiled alone with the project's flags.
BOOST_AUTO_TEST_CASE(stream_rng_matches_the_former_simulation_generator) {
  BOOST_CHECK_EQUAL(rng::derive_seed(42, 3, 7), 0xab2f97746e2ea953ull);
  rng::StreamRng s(rng::derive_seed(42, 1, 0));
  BOOST_CHECK_EQUAL(bits(s.uniform()), 0x3fd4cf4cc34c22d6ull);
  BOOST_CHECK_EQUAL(bits(s.uniform(-5, 5)), 0xc013fb96150867beull);
  BOOST_CHECK_EQUAL(bits(s.normal()), 0xbfd6857ac96a856cull);
  BOOST_CHECK_EQUAL(bits(s.normal()), 0x3fcb4a7514f68a06ull);  // the kept sine partner
  BOOST_CHECK_EQUAL(bits(s.normal()), 0x3fb43e4450f86a96ull);
  BOOST_CHECK_EQUAL(s.below(7), 5);
  std::vector<int> v = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  s.shuffle(v);
  BOOST_CHECK((v == std::vector<int>{4, 2, 3, 0, 5, 8, 9, 1, 6, 7}));
  // The spare of the third normal() was kept across below() and shuffle().
  BOOST_CHECK_EQUAL(bits(s.normal()), 0xbff768057d56be9eull);
}

// Values printed by the encoder's former xoshiro256** Rng (Box-Muller dropping the sine).
BOOST_AUTO_TEST_CASE(training_rng_matches_the_former_encoder_generator) {
  rng::TrainingRng e(42);
  BOOST_CHECK_EQUAL(e.next(), 0xbe15272cdf80b6c2ull);
  BOOST_CHECK_EQUAL(bits(e.uniform()), 0x3fe5edc5dc93febaull);
  BOOST_CHECK_EQUAL(bits(e.normal()), 0xbfd9873656791bc3ull);
  BOOST_CHECK_EQUAL(bits(e.normal()), 0x3fb87cb4bb8d7354ull);
  BOOST_CHECK_EQUAL(bits(e.gamma(0.15)), 0x3f35027f40c3638cull);
  BOOST_CHECK_EQUAL(bits(e.gamma(2.5)), 0x4003771ab009d8e0ull);
  BOOST_CHECK_EQUAL(bits(e.beta(0.15, 0.15)), 0x3fee70578939162bull);
  const rng::Xoshiro256ss::State expected = {0x106f041249ab02baull, 0xce51f8279370010full, 0x03c37eefc5de6021ull,
                                             0xab81f21486ef4096ull};
  BOOST_CHECK(e.engine().state() == expected);
  // The state is the whole generator: a copy restored from it continues identically.
  rng::TrainingRng f(0);
  f.engine().set_state(e.engine().state());
  for (int i = 0; i < 5; ++i) BOOST_CHECK_EQUAL(bits(f.normal()), bits(e.normal()));
}

BOOST_AUTO_TEST_CASE(rng_transforms_have_their_distributions) {
  rng::StreamRng s(7);
  const int n = 200000;
  double sum = 0, sum2 = 0;
  std::vector<int> counts(5, 0);
  for (int i = 0; i < n; ++i) {
    const double z = s.normal();
    sum += z, sum2 += z * z;
    ++counts[size_t(s.below(5))];
  }
  BOOST_CHECK_SMALL(sum / n, 0.01);
  BOOST_CHECK_CLOSE_FRACTION(sum2 / n, 1.0, 0.01);
  for (int c : counts) BOOST_CHECK_CLOSE_FRACTION(double(c), n / 5.0, 0.02);
  rng::TrainingRng t(3);
  double g = 0, b = 0;
  for (int i = 0; i < n; ++i) g += t.gamma(2.5), b += t.beta(2.0, 6.0);
  BOOST_CHECK_CLOSE_FRACTION(g / n, 2.5, 0.01);        // E Gamma(k, 1) = k
  BOOST_CHECK_CLOSE_FRACTION(b / n, 2.0 / 8.0, 0.01);  // E Beta(a, b) = a / (a + b)
}

BOOST_AUTO_TEST_CASE(strict_whole_string_numbers) {
  double d = -1;
  for (const char* ok : {"1.5", "+2", "-0.25", ".5", "5.", "1e-3", "-2.5E+3"})
    BOOST_CHECK_MESSAGE(parse_double(ok, d), ok);
  BOOST_CHECK(parse_double("+2", d) && d == 2.0);
  for (const char* bad : {"", "+", "-", " 1", "1 ", "1.5x", "0x10", "inf", "-inf", "nan", "1e400", "+-1", "++1", "1,5"})
    BOOST_CHECK_MESSAGE(!parse_double(bad, d), "'" << bad << "' accepted");
  BOOST_CHECK_EQUAL(d, 2.0);  // untouched by failures

  int i = 0;
  int64_t l = 0;
  uint64_t u = 0;
  BOOST_CHECK(parse_int("-2147483648", i) && i == INT32_MIN);
  BOOST_CHECK(!parse_int("2147483648", i));
  BOOST_CHECK(parse_int("2147483648", l) && l == 2147483648LL);
  BOOST_CHECK(!parse_int("9223372036854775808", l));
  BOOST_CHECK(parse_int("18446744073709551615", u) && u == std::numeric_limits<uint64_t>::max());
  BOOST_CHECK(!parse_int("-1", u));
  for (const char* bad : {"", "1.0", "1e3", " 7", "7 ", "0x10", "+-3"}) BOOST_CHECK_MESSAGE(!parse_int(bad, l), bad);

  BOOST_CHECK_EQUAL(parse_int<int>("12", "--threads", ExitCode::usage, 0), 12);
  test::check_error([] { parse_int<int>("-1", "--threads", ExitCode::usage, 0); }, ExitCode::usage,
                    {"--threads: expected an integer >= 0, found '-1'"});
  test::check_error([] { parse_int<int>("9", "runs.tsv line 3", ExitCode::input, 1, 8); }, ExitCode::input,
                    {"runs.tsv line 3: expected an integer in [1, 8], found '9'"});
  test::check_error([] { parse_int<uint64_t>("x", "--seed", ExitCode::usage); }, ExitCode::usage,
                    {"--seed: expected an integer >= 0, found 'x'"});
}

BOOST_AUTO_TEST_CASE(shortest_decimals_read_back_exactly) {
  BOOST_CHECK_EQUAL(shortest_decimal(0.125), "0.125");
  BOOST_CHECK_EQUAL(shortest_decimal(0.1), "0.1");
  BOOST_CHECK_EQUAL(shortest_decimal(0.85), "0.85");
  BOOST_CHECK_EQUAL(shortest_decimal(8.0), "8");
  BOOST_CHECK_EQUAL(shortest_decimal(-2.5), "-2.5");
  BOOST_CHECK_EQUAL(shortest_decimal(1.0 / 3), "0.3333333333333333");
  BOOST_CHECK_EQUAL(shortest_decimal(1e6), "1e+06");
  BOOST_CHECK_EQUAL(shortest_decimal(1e-5), "1e-05");
  BOOST_CHECK_EQUAL(shortest_decimal(std::numeric_limits<double>::infinity()), "inf");
  rng::StreamRng s(11);
  for (int k = 0; k < 10000; ++k) {
    const double v = std::ldexp(s.uniform() - 0.5, int(s.below(200)) - 100);
    double back = 0;
    BOOST_REQUIRE(parse_double(shortest_decimal(v), back));
    BOOST_CHECK_EQUAL(bits(back), bits(v));
  }
}

BOOST_AUTO_TEST_CASE(json_text_escapes_and_keeps_key_order) {
  BOOST_CHECK_EQUAL(json::quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  BOOST_CHECK_EQUAL(json::quote("sub-01 \xc3\xa9"), "\"sub-01 \xc3\xa9\"");  // UTF-8 kept as is
  BOOST_CHECK_EQUAL(json::quote("bad \xff"), "\"bad \xef\xbf\xbd\"");        // not UTF-8: U+FFFD, no throw
  const json::Value v = {{"z", 1}, {"a", std::vector<std::string>{"x"}}, {"m", 0.125}};
  BOOST_CHECK_EQUAL(json::dump(v), "{\"z\":1,\"a\":[\"x\"],\"m\":0.125}");
}

BOOST_AUTO_TEST_CASE(write_text_creates_the_directory_and_names_failures) {
  const char* base = std::getenv("V2C_TEST_TMP");
  const fs::path dir = fs::path(base ? base : fs::temp_directory_path().string()) / "write_text";
  fs::remove_all(dir);
  write_text((dir / "a" / "b.tsv").string(), "x\ty\n");
  std::ifstream in(dir / "a" / "b.tsv", std::ios::binary);
  std::stringstream got;
  got << in.rdbuf();
  BOOST_CHECK_EQUAL(got.str(), "x\ty\n");
  test::check_error([&] { write_text((dir / "a" / "b.tsv" / "c.txt").string(), "x"); }, ExitCode::io,
                    {(dir / "a" / "b.tsv").string()});
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
