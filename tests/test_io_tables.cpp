// Tests of the tabular readers: pipeline/io/tsv, events, features.
// Oracles: numpy / h5py (via /usr/bin/python3) write the files and the expected float32 values.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/io/events.h"
#include "pipeline/io/features.h"
#include "pipeline/io/tsv.h"
#include "tests/test_util.h"

namespace utf = boost::unit_test;
using v2c::ExitCode;
using v2c::test::check_error;
using v2c::test::needs_python;
using v2c::test::needs_shared_data;
using v2c::test::TempDir;

namespace {

// Raw little-endian float32 file written by numpy's tofile().
std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

// Compares a matrix with numpy's float32 values (C order), bit-exactly.
void check_equal_exact(const v2c::MatrixF& m, const std::vector<float>& expected) {
  BOOST_REQUIRE_EQUAL(static_cast<size_t>(m.size()), expected.size());
  size_t mismatches = 0;
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) {
      const float want = expected[static_cast<size_t>(r * m.cols() + c)];
      if (std::bit_cast<uint32_t>(m(r, c)) != std::bit_cast<uint32_t>(want) && mismatches++ < 5)
        BOOST_ERROR("(" << r << ", " << c << "): got " << m(r, c) << ", numpy " << want);
    }
  BOOST_CHECK_EQUAL(mismatches, 0u);
}

std::string names_file(const TempDir& dir, const std::string& name, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "id" + std::to_string(i) + "\n";
  return dir.write(name, text);
}

}  // namespace

// =============================================================================================
BOOST_AUTO_TEST_SUITE(tsv)

BOOST_AUTO_TEST_CASE(parses_bom_crlf_blank_lines_and_missing_final_newline) {
  TempDir dir;
  const std::string path = dir.write("t.tsv",
                                     "\xEF\xBB\xBFonset\tduration\ttrial_type\r\n"
                                     "1.5\t2\tface\r\n"
                                     "\r\n"
                                     "  \r\n"
                                     "3e1\t-0.25\thouse");
  const v2c::Table t = v2c::read_table(path, 0);
  BOOST_REQUIRE_EQUAL(t.columns.size(), 3u);
  BOOST_CHECK_EQUAL(t.columns[0], "onset");
  BOOST_CHECK_EQUAL(t.columns[2], "trial_type");
  BOOST_REQUIRE_EQUAL(t.rows.size(), 2u);
  BOOST_CHECK_EQUAL(t.line_of_row[0], 2);
  BOOST_CHECK_EQUAL(t.line_of_row[1], 5);
  BOOST_CHECK_EQUAL(t.cell(1, t.column("trial_type")), "house");
  BOOST_CHECK_EQUAL(t.number(0, 0), 1.5);
  BOOST_CHECK_EQUAL(t.number(1, 0), 30.0);
  BOOST_CHECK_EQUAL(t.number(1, 1), -0.25);
  BOOST_CHECK_EQUAL(t.find_column("nope"), -1);
}

BOOST_AUTO_TEST_CASE(csv_by_extension_with_quotes) {
  TempDir dir;
  const std::string path = dir.write("t.csv", "name,x\n\"a, b\",1\n\"say \"\"hi\"\"\", 2 \nplain,+3\n");
  const v2c::Table t = v2c::read_table(path, 0);
  BOOST_REQUIRE_EQUAL(t.rows.size(), 3u);
  BOOST_CHECK_EQUAL(t.cell(0, 0), "a, b");
  BOOST_CHECK_EQUAL(t.cell(1, 0), "say \"hi\"");
  BOOST_CHECK_EQUAL(t.number(1, 1), 2.0);
  BOOST_CHECK_EQUAL(t.number(2, 1), 3.0);
  check_error([&] { v2c::read_table(dir.write("q.csv", "a,b\n\"x,1\n"), 0); }, ExitCode::input,
              {"q.csv line 2", "unterminated"});
}

BOOST_AUTO_TEST_CASE(without_header) {
  TempDir dir;
  const v2c::Table t = v2c::read_table(dir.write("t.txt", "1\t2\n3\t4\n"), '\t', false);
  BOOST_CHECK(t.columns.empty());
  BOOST_REQUIRE_EQUAL(t.rows.size(), 2u);
  BOOST_CHECK_EQUAL(t.column_count(), 2u);
  BOOST_CHECK_EQUAL(t.number(1, 1), 4.0);
  check_error([&] { t.column("x"); }, ExitCode::input, {"no column named 'x'", "without a header"});
}

BOOST_AUTO_TEST_CASE(missing_file_is_io_error) {
  check_error([] { v2c::read_table("/nonexistent/dir/events.tsv", 0); }, ExitCode::io,
              {"/nonexistent/dir/events.tsv", "no such file"});
  check_error([] { v2c::read_lines("/nonexistent/names.txt"); }, ExitCode::io, {"/nonexistent/names.txt"});
}

BOOST_AUTO_TEST_CASE(non_numeric_value_names_line_and_column) {
  TempDir dir;
  const std::string path = dir.write("events.tsv", "onset\tduration\n1\t2\n\n5\t1\nabc\t3\n");
  const v2c::Table t = v2c::read_table(path, 0);
  BOOST_CHECK_EQUAL(t.number(1, 0), 5.0);
  check_error([&] { t.number(2, t.column("onset")); }, ExitCode::input,
              {"events.tsv line 5, column 'onset'", "expected a", "found 'abc'"});
}

BOOST_AUTO_TEST_CASE(strict_number_parsing) {
  TempDir dir;
  const v2c::Table t = v2c::read_table(dir.write("n.tsv", "v\n1.5x\ninf\nnan\n1e400\n\"1\"\nn/a\n0x10\n-2.5e-3\n"), 0);
  for (size_t r = 0; r < 7; ++r) check_error([&] { t.number(r, 0); }, ExitCode::input, {"expected a"});
  BOOST_CHECK(std::isnan(t.number(5, 0, true)));
  BOOST_CHECK_EQUAL(t.number(7, 0), -2.5e-3);
  // an empty field
  const v2c::Table e = v2c::read_table(dir.write("e.tsv", "a\tb\n\t1\n"), 0);
  check_error([&] { e.number(0, 0); }, ExitCode::input, {"line 2, column 'a'", "empty field"});
  int i = 0;
  BOOST_CHECK(v2c::parse_int("+12", i) && i == 12);
  BOOST_CHECK(!v2c::parse_int("12.0", i));
  BOOST_CHECK(!v2c::parse_int("99999999999", i));
}

BOOST_AUTO_TEST_CASE(ragged_row_names_line_and_counts) {
  TempDir dir;
  const std::string path = dir.write("r.tsv", "a\tb\tc\n1\t2\t3\n1\t2\n");
  check_error([&] { v2c::read_table(path, 0); }, ExitCode::input, {"r.tsv line 3", "found 2", "expected 3"});
}

BOOST_AUTO_TEST_CASE(missing_column_names_wanted_and_found) {
  TempDir dir;
  const v2c::Table t = v2c::read_table(dir.write("c.tsv", "onset\tduration\n1\t2\n"), 0);
  check_error([&] { t.column("trial_type"); }, ExitCode::input, {"c.tsv", "'trial_type'", "'onset', 'duration'"});
}

BOOST_AUTO_TEST_CASE(bad_headers) {
  TempDir dir;
  check_error([&] { v2c::read_table(dir.write("d.tsv", "a\tb\ta\n"), 0); }, ExitCode::input, {"'a' twice"});
  check_error([&] { v2c::read_table(dir.write("empty.tsv", "\n\n"), 0); }, ExitCode::input,
              {"empty.tsv", "empty file"});
}

BOOST_AUTO_TEST_CASE(read_lines_trims_and_numbers) {
  TempDir dir;
  const auto lines = v2c::read_lines(dir.write("l.txt",
                                               "\xEF\xBB\xBF"
                                               "a b\r\n\r\n c \n\n"),
                                     false);
  BOOST_REQUIRE_EQUAL(lines.size(), 3u);
  BOOST_CHECK_EQUAL(lines[0].text, "a b");
  BOOST_CHECK_EQUAL(lines[1].text, "");
  BOOST_CHECK_EQUAL(lines[2].text, "c");
  BOOST_CHECK_EQUAL(lines[2].number, 3);
  BOOST_CHECK_EQUAL(v2c::read_lines(dir.file("l.txt"), true).size(), 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_AUTO_TEST_SUITE(events)

using v2c::events::Event;
using v2c::events::VolumeLabel;

BOOST_AUTO_TEST_CASE(reads_sorts_and_skips_na_stimuli) {
  TempDir dir;
  const std::string path = dir.write("sub-01_events.tsv",
                                     "onset\tduration\ttrial_type\tstim_file\tresponse_time\n"
                                     "20.0\t4\tface\tface1.png\tn/a\n"
                                     "0\t4\thouse\thouse1.png\t1.2\n"
                                     "10\tn/a\tn/a\tn/a\tn/a\n"
                                     "5.5\t0\tn/a\tcat3.png\tn/a\n"
                                     "7\t1\t\tdog.png\tn/a\n");
  // rows with an n/a or empty stimulus are skipped, before their (n/a) duration is parsed
  const auto by_type = v2c::events::read_events_tsv(path);
  BOOST_REQUIRE_EQUAL(by_type.size(), 2u);
  BOOST_CHECK_EQUAL(by_type[0].stimulus, "house");
  BOOST_CHECK_EQUAL(by_type[0].onset_s, 0.0);
  BOOST_CHECK_EQUAL(by_type[1].stimulus, "face");
  BOOST_CHECK_EQUAL(by_type[1].onset_s, 20.0);
  BOOST_CHECK_EQUAL(by_type[1].duration_s, 4.0);
  const auto by_file = v2c::events::read_events_tsv(path, "stim_file");
  BOOST_REQUIRE_EQUAL(by_file.size(), 4u);
  BOOST_CHECK_EQUAL(by_file[0].stimulus, "house1.png");
  BOOST_CHECK_EQUAL(by_file[1].stimulus, "cat3.png");
  BOOST_CHECK_EQUAL(by_file[1].onset_s, 5.5);
  BOOST_CHECK_EQUAL(by_file[1].duration_s, 0.0);
  BOOST_CHECK_EQUAL(by_file[2].stimulus, "dog.png");
  BOOST_CHECK_EQUAL(by_file[3].stimulus, "face1.png");
  for (size_t k = 1; k < by_file.size(); ++k) BOOST_CHECK(by_file[k - 1].onset_s <= by_file[k].onset_s);
}

BOOST_AUTO_TEST_CASE(errors) {
  TempDir dir;
  check_error(
      [&] { v2c::events::read_events_tsv(dir.write("neg.tsv", "onset\tduration\ttrial_type\n1\t2\ta\n3\t-1\tb\n")); },
      ExitCode::input, {"neg.tsv line 3, column 'duration'", "-1"});
  check_error([&] { v2c::events::read_events_tsv(dir.write("negon.tsv", "onset\tduration\ttrial_type\n-3\t1\tb\n")); },
              ExitCode::input, {"negon.tsv line 2, column 'onset'", ">= 0"});
  check_error([&] { v2c::events::read_events_tsv(dir.write("na.tsv", "onset\tduration\ttrial_type\n1\tn/a\ta\n")); },
              ExitCode::input, {"na.tsv line 2, column 'duration'", "n/a"});
  check_error([&] { v2c::events::read_events_tsv(dir.write("abc.tsv", "onset\tduration\ttrial_type\nabc\t1\ta\n")); },
              ExitCode::input, {"abc.tsv line 2, column 'onset'", "found 'abc'"});
  check_error(
      [&] {
        v2c::events::read_events_tsv(dir.write("col.tsv", "onset\tduration\ttrial_type\n1\t1\ta\n"), "stim_file");
      },
      ExitCode::input, {"col.tsv", "'stim_file'", "'onset', 'duration', 'trial_type'"});
  check_error([&] { v2c::events::read_events_tsv(dir.file("absent.tsv")); }, ExitCode::io, {"absent.tsv"});
}

BOOST_AUTO_TEST_CASE(volume_labels_with_and_without_header) {
  TempDir dir;
  const auto plain = v2c::events::read_volume_labels(dir.write("a.txt", "0 0\n1 0\n1 0\nrest 1\r\n"));
  BOOST_REQUIRE_EQUAL(plain.size(), 4u);
  BOOST_CHECK_EQUAL(plain[1].label, "1");
  BOOST_CHECK_EQUAL(plain[3].label, "rest");
  BOOST_CHECK_EQUAL(plain[3].run, 1);
  const auto headed = v2c::events::read_volume_labels(dir.write("b.txt", "labels chunks\nface\t0\nhouse  0\n"));
  BOOST_REQUIRE_EQUAL(headed.size(), 2u);
  BOOST_CHECK_EQUAL(headed[0].label, "face");
  BOOST_CHECK_EQUAL(headed[1].label, "house");
  check_error([&] { v2c::events::read_volume_labels(dir.write("c.txt", "face 0\nhouse zero\n")); }, ExitCode::input,
              {"c.txt line 2", "run must be an integer", "'zero'"});
  check_error([&] { v2c::events::read_volume_labels(dir.write("d.txt", "face 0 extra\n")); }, ExitCode::input,
              {"d.txt line 1", "2 whitespace-separated fields"});
  const auto by_run = v2c::events::labels_by_run(plain);
  BOOST_CHECK_EQUAL(by_run.size(), 2u);
  BOOST_CHECK_EQUAL(by_run.at(0).size(), 3u);
}

BOOST_AUTO_TEST_CASE(blocks_from_labels_planted) {
  std::vector<VolumeLabel> labels;
  for (const char* l : {"0", "0", "1", "1", "1", "0", "2", "2", "rest", "1"}) labels.push_back({l, 4});
  const auto ev = v2c::events::events_from_volume_labels(labels, 2.0, {"0", "rest"});
  BOOST_REQUIRE_EQUAL(ev.size(), 3u);
  BOOST_CHECK_EQUAL(ev[0].stimulus, "1");
  BOOST_CHECK_EQUAL(ev[0].onset_s, 4.0);
  BOOST_CHECK_EQUAL(ev[0].duration_s, 6.0);
  BOOST_CHECK_EQUAL(ev[1].stimulus, "2");
  BOOST_CHECK_EQUAL(ev[1].onset_s, 12.0);
  BOOST_CHECK_EQUAL(ev[1].duration_s, 4.0);
  BOOST_CHECK_EQUAL(ev[2].onset_s, 18.0);
  BOOST_CHECK_EQUAL(ev[2].duration_s, 2.0);
  BOOST_CHECK(v2c::events::events_from_volume_labels({}, 2.0, {}).empty());
  check_error([&] { v2c::events::events_from_volume_labels(labels, 0.0, {}); }, ExitCode::input, {"TR"});
  labels.push_back({"1", 5});
  check_error([&] { v2c::events::events_from_volume_labels(labels, 2.0, {}); }, ExitCode::input, {"runs 4 and 5"});
}

BOOST_AUTO_TEST_CASE(haxby_attributes, *utf::precondition(needs_shared_data{"haxby2001-sub001/attributes.txt"})) {
  const auto labels = v2c::events::read_volume_labels(v2c::test::shared_data("haxby2001-sub001/attributes.txt"));
  BOOST_CHECK_EQUAL(labels.size(), 1452u);
  const auto runs = v2c::events::labels_by_run(labels);
  BOOST_REQUIRE_EQUAL(runs.size(), 12u);
  BOOST_CHECK_EQUAL(runs.begin()->first, 0);
  BOOST_CHECK_EQUAL(runs.rbegin()->first, 11);
  for (const auto& [run, of_run] : runs) BOOST_CHECK_EQUAL(of_run.size(), 121u);
  const auto blocks = v2c::events::events_from_volume_labels(runs.at(0), 2.5, {"0", "rest"});
  BOOST_REQUIRE_EQUAL(blocks.size(), 8u);
  std::set<std::string> categories;
  for (const Event& e : blocks) {
    BOOST_CHECK_CLOSE_FRACTION(e.duration_s, 9 * 2.5, 1e-12);
    categories.insert(e.stimulus);
  }
  BOOST_CHECK_EQUAL(categories.size(), 8u);  // each category once per run
}

// Oracle: blocks from attributes_literal.txt (names) equal the BIDS events.tsv of each run.
BOOST_AUTO_TEST_CASE(haxby_labels_match_bids_events,
                     *utf::precondition(needs_shared_data{"haxby2001-sub001/BOLD/task001_run012/bold_events.tsv"})) {
  const auto labels =
      v2c::events::read_volume_labels(v2c::test::shared_data("haxby2001-sub001/attributes_literal.txt"));
  BOOST_REQUIRE_EQUAL(labels.size(), 1452u);
  const auto runs = v2c::events::labels_by_run(labels);
  for (const auto& [run, of_run] : runs) {
    char name[64];
    std::snprintf(name, sizeof name, "haxby2001-sub001/BOLD/task001_run%03d/bold_events.tsv", run + 1);
    const auto bids = v2c::events::read_events_tsv(v2c::test::shared_data(name));
    const auto blocks = v2c::events::events_from_volume_labels(of_run, 2.5, {"rest"});
    BOOST_REQUIRE_EQUAL(blocks.size(), bids.size());
    for (size_t k = 0; k < blocks.size(); ++k) {
      BOOST_CHECK_EQUAL(blocks[k].stimulus, bids[k].stimulus);
      BOOST_CHECK_CLOSE_FRACTION(blocks[k].onset_s, bids[k].onset_s, 1e-9);
      BOOST_CHECK_CLOSE_FRACTION(blocks[k].duration_s, bids[k].duration_s, 1e-9);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_AUTO_TEST_SUITE(features)

using v2c::features::FeatureOptions;
using v2c::features::FeatureTable;

// Every one of the 65536 half-precision bit patterns against numpy's float16 -> float32.
BOOST_AUTO_TEST_CASE(half_to_float_all_patterns_vs_numpy, *utf::precondition(needs_python{{"numpy"}})) {
  TempDir dir;
  v2c::test::run_python_ok(
      "import numpy as np\n"
      "np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32).tofile('all.f32')\n",
      dir.path().string());
  const std::vector<float> expected = read_f32(dir.file("all.f32"));
  BOOST_REQUIRE_EQUAL(expected.size(), 65536u);
  size_t mismatches = 0;
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float got = v2c::features::half_to_float(static_cast<uint16_t>(bits));
    const float want = expected[bits];
    const bool same = std::isnan(want) ? (std::isnan(got) && std::signbit(got) == std::signbit(want))
                                       : std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want);
    if (!same && mismatches++ < 5) BOOST_ERROR("half 0x" << std::hex << bits << ": got " << got << ", numpy " << want);
  }
  BOOST_CHECK_EQUAL(mismatches, 0u);
  BOOST_CHECK_EQUAL(v2c::features::half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  BOOST_CHECK_EQUAL(v2c::features::half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  BOOST_CHECK_EQUAL(v2c::features::half_to_float(0xfbff), -65504.0f);
}

BOOST_AUTO_TEST_CASE(npy_dtypes_orders_and_versions_vs_numpy, *utf::precondition(needs_python{{"numpy"}})) {
  TempDir dir;
  v2c::test::run_python_ok(
      "import numpy as np\n"
      "rng = np.random.default_rng(7)\n"
      "a = rng.standard_normal((6, 5)) * 3\n"
      "h = a.astype(np.float16)\n"
      "h[0, :4] = np.array([6e-8, -6e-8, 3e-5, 65504.0]).astype(np.float16)  # subnormals, max\n"
      "h[1, 0] = np.float16(-0.0)\n"
      "np.save('f16.npy', h); h.astype(np.float32).tofile('f16.f32')\n"
      "np.save('f32_fortran.npy', np.asfortranarray(a.astype(np.float32))); a.astype(np.float32).tofile('f32.f32')\n"
      "np.save('f64_big.npy', a.astype('>f8')); a.astype(np.float32).tofile('f64.f32')\n"
      "np.save('f32_big_fortran.npy', np.asfortranarray(a.astype('>f4')))\n"
      "with open('v2.npy', 'wb') as f: np.lib.format.write_array(f, a, version=(2, 0))\n"
      "with open('v3.npy', 'wb') as f: np.lib.format.write_array(f, h, version=(3, 0))\n"
      "assert open('f32_fortran.npy','rb').read(128).find(b\"'fortran_order': True\") > 0\n"
      "assert open('v2.npy','rb').read(8) == b'\\x93NUMPY\\x02\\x00'\n",
      dir.path().string());
  FeatureOptions opt;
  opt.names_path = names_file(dir, "names.txt", 6);
  const auto f16 = v2c::features::read_features(dir.file("f16.npy"), opt);
  BOOST_CHECK_EQUAL(f16.values.rows(), 6);
  BOOST_CHECK_EQUAL(f16.values.cols(), 5);
  BOOST_CHECK_EQUAL(f16.ids[5], "id5");
  BOOST_CHECK_EQUAL(f16.source, dir.file("f16.npy"));
  check_equal_exact(f16.values, read_f32(dir.file("f16.f32")));
  BOOST_CHECK(f16.values(0, 0) > 0 && f16.values(0, 0) < 1e-7f);  // a subnormal survived
  BOOST_CHECK(std::signbit(f16.values(1, 0)));                    // -0.0
  check_equal_exact(v2c::features::read_features(dir.file("f32_fortran.npy"), opt).values,
                    read_f32(dir.file("f32.f32")));
  check_equal_exact(v2c::features::read_features(dir.file("f64_big.npy"), opt).values, read_f32(dir.file("f64.f32")));
  check_equal_exact(v2c::features::read_features(dir.file("f32_big_fortran.npy"), opt).values,
                    read_f32(dir.file("f32.f32")));
  check_equal_exact(v2c::features::read_features(dir.file("v2.npy"), opt).values, read_f32(dir.file("f64.f32")));
  check_equal_exact(v2c::features::read_features(dir.file("v3.npy"), opt).values, read_f32(dir.file("f16.f32")));
  BOOST_CHECK_EQUAL(f16.find("id3"), 3);
  BOOST_CHECK_EQUAL(f16.find("id6"), -1);
}

BOOST_AUTO_TEST_CASE(npy_errors, *utf::precondition(needs_python{{"numpy"}})) {
  TempDir dir;
  v2c::test::run_python_ok(
      "import numpy as np\n"
      "np.save('one_d.npy', np.zeros(5, np.float32))\n"
      "np.save('ints.npy', np.zeros((2, 3), np.int32))\n"
      "h = np.ones((3, 2), np.float16); h[2, 1] = np.inf; np.save('inf.npy', h)\n"
      "np.save('ok.npy', np.arange(6, dtype=np.float32).reshape(3, 2))\n"
      "b = open('ok.npy', 'rb').read(); open('truncated.npy', 'wb').write(b[:-4])\n",
      dir.path().string());
  FeatureOptions opt;
  opt.names_path = names_file(dir, "names3.txt", 3);
  check_error([&] { v2c::features::read_features(dir.file("one_d.npy"), opt); }, ExitCode::input,
              {"one_d.npy", "2-D", "(5,)"});
  check_error([&] { v2c::features::read_features(dir.file("ints.npy"), opt); }, ExitCode::input,
              {"ints.npy", "dtype '<i4'"});
  check_error([&] { v2c::features::read_features(dir.file("inf.npy"), opt); }, ExitCode::input,
              {"inf.npy", "'id2'", "non-finite"});
  check_error([&] { v2c::features::read_features(dir.file("truncated.npy"), opt); }, ExitCode::input,
              {"truncated.npy", "needs 24 bytes, file holds 20"});
  check_error([&] { v2c::features::read_features(dir.write("junk.npy", "not numpy at all"), opt); }, ExitCode::input,
              {"junk.npy", "not a NumPy"});
  check_error([&] { v2c::features::read_features(dir.file("missing.npy"), opt); }, ExitCode::io, {"missing.npy"});
  FeatureOptions four;
  four.names_path = names_file(dir, "names4.txt", 4);
  check_error([&] { v2c::features::read_features(dir.file("ok.npy"), four); }, ExitCode::input,
              {"names4.txt", "4 ids", "ok.npy", "3 rows"});
  check_error([&] { v2c::features::read_features(dir.file("ok.npy"), FeatureOptions{}); }, ExitCode::usage,
              {"ok.npy", "names file"});
  FeatureOptions dup;
  dup.names_path = dir.write("dup.txt", "a\nb\na\n");
  check_error([&] { v2c::features::read_features(dir.file("ok.npy"), dup); }, ExitCode::input, {"duplicate id 'a'"});
}

BOOST_AUTO_TEST_CASE(csv_and_tsv_tables) {
  TempDir dir;
  const auto t = v2c::features::read_features(dir.write("f.csv", "id,x,y\ncat,3,4\ndog,0,-2\n"));
  BOOST_REQUIRE_EQUAL(t.values.rows(), 2);
  BOOST_REQUIRE_EQUAL(t.values.cols(), 2);
  BOOST_CHECK_EQUAL(t.values(0, 1), 4.0f);
  BOOST_CHECK_EQUAL(t.find("dog"), 1);
  FeatureOptions norm;
  norm.l2_normalize = true;
  const auto n = v2c::features::read_features(dir.write("f.tsv", "id\tx\ty\ncat\t3\t4\ndog\t0\t-2\n"), norm);
  BOOST_CHECK_CLOSE_FRACTION(n.values(0, 0), 0.6f, 1e-7f);
  BOOST_CHECK_CLOSE_FRACTION(n.values(0, 1), 0.8f, 1e-7f);
  BOOST_CHECK_EQUAL(n.values(1, 1), -1.0f);
  check_error([&] { v2c::features::read_features(dir.write("z.csv", "id,x\na,1\nzero,0\n"), norm); }, ExitCode::input,
              {"'zero'", "all zeros"});
  check_error([&] { v2c::features::read_features(dir.write("bad.csv", "id,x,y\na,1,2\nb,1,x2\n")); }, ExitCode::input,
              {"bad.csv line 3, column 'y'", "found 'x2'"});
  check_error([&] { v2c::features::read_features(dir.write("dup.csv", "id,x\nface,1\nhouse,2\nface,3\n")); },
              ExitCode::input, {"dup.csv", "duplicate id 'face'", "rows 1 and 3", "different"});
  // an id repeated with the identical vector is merged into its first row
  const auto merged = v2c::features::read_features(dir.write("same.csv", "id,x,y\nface,1,2\nhouse,3,4\nface,1,2\n"));
  BOOST_REQUIRE_EQUAL(merged.values.rows(), 2);
  BOOST_REQUIRE_EQUAL(merged.ids.size(), 2u);
  BOOST_CHECK_EQUAL(merged.ids[1], "house");
  BOOST_CHECK_EQUAL(merged.values(1, 1), 4.0f);
  BOOST_REQUIRE_EQUAL(merged.merged_duplicates.size(), 1u);
  BOOST_CHECK_EQUAL(merged.merged_duplicates[0], "face");
  // a hand-built table: build_index() refuses any duplicate
  FeatureTable hand;
  hand.ids = {"a", "a"};
  hand.values = v2c::MatrixF::Zero(2, 1);
  check_error([&] { hand.build_index(); }, ExitCode::input, {"duplicate id 'a'"});
  check_error([&] { v2c::features::read_features(dir.write("big.csv", "id,x\na,1e39\n")); }, ExitCode::input,
              {"'a'", "non-finite"});
  check_error([&] { v2c::features::read_features(dir.write("f.bin", "")); }, ExitCode::input, {"f.bin", ".npy"});
}

BOOST_AUTO_TEST_CASE(hdf5_fixed_and_variable_length_ids, *utf::precondition(needs_python{{"numpy", "h5py"}})) {
  TempDir dir;
  v2c::test::run_python_ok(
      "import numpy as np, h5py\n"
      "rng = np.random.default_rng(3)\n"
      "a = rng.standard_normal((4, 3))\n"
      "a.astype(np.float32).tofile('a.f32')\n"
      "ids = ['face', 'house', 'Human face', 'caf\\u00e9']\n"
      "with h5py.File('fixed.h5', 'w') as f:\n"
      "    f['features'] = a.astype(np.float32)\n"
      "    f['ids'] = np.array([s.encode() for s in ids], dtype='S12')\n"
      "with h5py.File('vlen.hdf5', 'w') as f:\n"
      "    f['emb'] = a\n"  // float64, converted by HDF5
      "    f.create_dataset('names', data=ids, dtype=h5py.string_dtype())\n"
      "with h5py.File('bad.h5', 'w') as f:\n"
      "    f['features'] = a[:, 0].astype(np.float32)\n"
      "    f['ids'] = np.array([b'a', b'b', b'c'])\n"
      "    f['g'] = np.zeros((4, 2), np.float32)\n",
      dir.path().string());
  const std::vector<float> expected = read_f32(dir.file("a.f32"));
  const auto fixed = v2c::features::read_features(dir.file("fixed.h5"), {});
  BOOST_REQUIRE_EQUAL(fixed.ids.size(), 4u);
  BOOST_CHECK_EQUAL(fixed.ids[2], "Human face");
  BOOST_CHECK_EQUAL(fixed.ids[3], "caf\xC3\xA9");
  check_equal_exact(fixed.values, expected);
  FeatureOptions opt;
  opt.h5_values = "emb";
  opt.h5_ids = "names";
  const auto vlen = v2c::features::read_features(dir.file("vlen.hdf5"), opt);
  BOOST_REQUIRE_EQUAL(vlen.ids.size(), 4u);
  BOOST_CHECK_EQUAL(vlen.ids[0], "face");
  BOOST_CHECK_EQUAL(vlen.ids[3], "caf\xC3\xA9");
  BOOST_CHECK_EQUAL(vlen.find("Human face"), 2);
  check_equal_exact(vlen.values, expected);
  check_error([&] { v2c::features::read_features(dir.file("vlen.hdf5"), {}); }, ExitCode::input,
              {"vlen.hdf5", "no dataset 'features'", "'emb'"});
  check_error([&] { v2c::features::read_features(dir.file("bad.h5"), {}); }, ExitCode::input,
              {"bad.h5", "'features'", "2-D", "(4)"});
  FeatureOptions g;
  g.h5_values = "g";
  check_error([&] { v2c::features::read_features(dir.file("bad.h5"), g); }, ExitCode::input,
              {"bad.h5", "'ids' has 3 ids", "'g' has 4 rows"});
}

BOOST_AUTO_TEST_CASE(lookup_rows_and_missing_ids) {
  TempDir dir;
  const auto t = v2c::features::read_features(dir.write("f.csv", "id,x\nCat,1\nDog,2\nHuman face,3\n"));
  const v2c::MatrixF m = v2c::features::lookup(t, {"Dog", "Cat", "Dog"}, "run 1");
  BOOST_REQUIRE_EQUAL(m.rows(), 3);
  BOOST_CHECK_EQUAL(m(0, 0), 2.0f);
  BOOST_CHECK_EQUAL(m(1, 0), 1.0f);
  BOOST_CHECK_EQUAL(m(2, 0), 2.0f);
  check_error(
      [&] {
        v2c::features::lookup(t, {"Cat", "cat", "face"}, "while building run 1");
      },
      ExitCode::input,
      {"while building run 1", "stimulus 'cat'", "f.csv", "did you mean 'Cat'", "'face'", "'Cat', 'Dog'"});
}

BOOST_AUTO_TEST_CASE(aliases) {
  TempDir dir;
  const auto a = v2c::features::read_aliases(
      dir.write("a.tsv", "category\tclip_name\nface\tHuman face\nscrambled\tn/a\n"), "category", "clip_name");
  BOOST_REQUIRE_EQUAL(a.size(), 1u);
  BOOST_CHECK_EQUAL(a.at("face"), "Human face");
  const auto mapped = v2c::features::apply_aliases(a, {"face", "house"});
  BOOST_CHECK_EQUAL(mapped[0], "Human face");
  BOOST_CHECK_EQUAL(mapped[1], "house");
  check_error([&] { v2c::features::read_aliases(dir.write("b.tsv", "c\td\nx\ty\nx\tz\n"), "c", "d"); }, ExitCode::input,
              {"b.tsv line 3", "'x' is mapped twice"});
  check_error([&] { v2c::features::read_aliases(dir.file("a.tsv"), "category", "clip"); }, ExitCode::input,
              {"'clip'", "'category', 'clip_name'"});
}

BOOST_AUTO_TEST_CASE(real_clip_table_vs_numpy,
                     *utf::precondition(needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"}) *
                         utf::precondition(needs_python{{"numpy"}})) {
  const std::string npy = v2c::test::shared_data("clip-vitb32/oid_clip_a+cname.npy");
  FeatureOptions opt;
  opt.names_path = v2c::test::shared_data("clip-vitb32/names_oid.txt");
  const FeatureTable t = v2c::features::read_features(npy, opt);
  // 500 rows in the file; "Bench" and "Mouse" appear twice each with identical vectors
  BOOST_CHECK_EQUAL(t.values.rows(), 498);
  BOOST_CHECK_EQUAL(t.ids.size(), 498u);
  BOOST_CHECK_EQUAL(t.values.cols(), 512);
  BOOST_CHECK_EQUAL(t.merged_duplicates.size(), 2u);
  BOOST_CHECK_EQUAL(t.ids[0], "Infant bed");
  BOOST_CHECK_EQUAL(t.ids[2], "Flag");
  TempDir dir;
  v2c::test::run_python_ok(
      "import numpy as np\n"
      "a = np.load(r'''" +
          npy +
          "''')\n"
          "assert a.shape == (500, 512) and a.dtype == np.float16\n"
          "a[[0, 1, 14, 250, 499]].astype(np.float32).tofile('rows.f32')\n"
          "np.linalg.norm(a.astype(np.float64), axis=1).tofile('norms.f64')\n",
      dir.path().string());
  const std::vector<std::string> names = [&] {
    std::vector<std::string> all;
    for (const auto& line : v2c::read_lines(opt.names_path, false)) all.push_back(line.text);
    return all;
  }();
  BOOST_REQUIRE_EQUAL(names.size(), 500u);
  BOOST_CHECK_EQUAL(names[14], "Bench");
  const v2c::MatrixF picked = v2c::features::lookup(t, {names[0], names[1], names[14], names[250], names[499]}, "");
  check_equal_exact(picked, read_f32(dir.file("rows.f32")));
  std::ifstream in(dir.file("norms.f64"), std::ios::binary);
  std::vector<double> norms(500);
  in.read(reinterpret_cast<char*>(norms.data()), 500 * sizeof(double));
  for (size_t r : {0, 7, 499})
    BOOST_CHECK_CLOSE_FRACTION(t.values.row(t.find(names[r])).cast<double>().norm(), norms[r], 1e-12);
  BOOST_CHECK(norms[0] > 5 && norms[0] < 15);  // not normalised (~10)

  opt.l2_normalize = true;
  const FeatureTable unit = v2c::features::read_features(npy, opt);
  for (int r : {0, 123, 497}) BOOST_CHECK_CLOSE_FRACTION(unit.values.row(r).cast<double>().norm(), 1.0, 1e-6);
}

BOOST_AUTO_TEST_CASE(haxby_categories_through_aliases,
                     *utf::precondition(needs_shared_data{"haxby2001-sub001/category_to_clip.tsv"}) *
                         utf::precondition(needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"})) {
  FeatureOptions opt;
  opt.names_path = v2c::test::shared_data("clip-vitb32/names_oid.txt");
  const FeatureTable t = v2c::features::read_features(v2c::test::shared_data("clip-vitb32/oid_clip_a+cname.npy"), opt);
  const auto aliases = v2c::features::read_aliases(v2c::test::shared_data("haxby2001-sub001/category_to_clip.tsv"),
                                                   "category", "clip_name");
  BOOST_CHECK_EQUAL(aliases.size(), 7u);
  BOOST_CHECK_EQUAL(aliases.at("face"), "Human face");
  BOOST_CHECK_EQUAL(aliases.at("shoe"), "Footwear");
  const std::vector<std::string> categories{"face", "house", "cat", "chair", "bottle", "scissors", "shoe"};
  const v2c::MatrixF m = v2c::features::lookup(t, v2c::features::apply_aliases(aliases, categories), "haxby");
  BOOST_CHECK_EQUAL(m.rows(), 7);
  BOOST_CHECK(m.row(0).isApprox(t.values.row(t.find("Human face"))));
  check_error([&] { v2c::features::lookup(t, v2c::features::apply_aliases(aliases, {"scrambledpix"}), "haxby"); },
              ExitCode::input, {"haxby: stimulus 'scrambledpix'", "oid_clip_a+cname.npy"});
}

BOOST_AUTO_TEST_SUITE_END()
