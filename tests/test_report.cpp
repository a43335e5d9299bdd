// v2c-report: a small study with planted retrieval results, a predictions file and an encoding
// map; results.csv round-trips the values; index.html holds one <svg> per plot with the expected
// ids, escapes odd names, renders without retrieval files; the PNG encoder against Python's zlib;
// the summary's interval arithmetic; and headless Chromium parses and draws the page without
// console errors.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "pipeline/io/h5.h"
#include "pipeline/io/nifti.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/timeseries.h"
#include "pipeline/report/gather.h"
#include "pipeline/report/png.h"
#include "tests/test_util.h"

using namespace v2c;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;

namespace {

const char* kChromium = "/usr/bin/chromium";

struct PlantedMetric {
  std::string name;
  double value, low, high, chance;
  int64_t n_candidates;
};

// A planted value for (subject, model, fraction, metric): distinct, not round in decimal.
double planted(int subject, int model, int fraction, int metric) {
  return 0.1 + (subject * 17 + model * 5 + fraction * 3 + metric) / 97.0;
}

const std::vector<std::string> kMetricNames = {"top1_forward", "top5_forward", "pairwise_identification", "mean_rank"};

void write_retrieval(const std::string& path, const std::string& subject, const std::string& model, double fraction,
                     const std::vector<PlantedMetric>& metrics, int version = 1) {
  Provenance prov;
  prov.stage = "test";
  h5::ArtifactWriter w(path, "retrieval", version, prov, false);
  w.attr("/", "subject", subject);
  w.attr("/", "model", model);
  w.attr("/", "train_fraction", fraction);
  w.attr("/", "candidate_set", std::string("test"));
  std::vector<std::string> names;
  std::vector<double> value, low, high, chance;
  std::vector<int64_t> n;
  for (const auto& m : metrics) {
    names.push_back(m.name), value.push_back(m.value), low.push_back(m.low), high.push_back(m.high);
    chance.push_back(m.chance), n.push_back(m.n_candidates);
  }
  w.write("metrics/name", names);
  w.write("metrics/value", value);
  w.write("metrics/ci_low", low);
  w.write("metrics/ci_high", high);
  w.write("metrics/chance", chance);
  w.write("metrics/n_candidates", n);
  // A per-subject permutation p-value for pairwise identification only (NaN: not tested).
  std::vector<double> p;
  for (const auto& m : metrics) p.push_back(m.name == "pairwise_identification" ? m.value / 8 : std::nan(""));
  w.write("metrics/p_permutation", p);
  w.write("queries/stimulus", std::vector<std::string>{"a", "b"});
  w.write("queries/rank", std::vector<int64_t>{1, 2});
  w.commit();
}

void write_ridge_predictions(const std::string& path, const std::string& subject, const std::string& mode) {
  Predictions p;
  p.subject = subject;
  p.model = "ridge";
  p.mode = mode;
  p.samples_path = "samples.h5";
  const int n = 24, t = 5, folds = 4;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> g;
  p.predictions = MatrixF(n, t);
  p.truth = MatrixF(n, t);
  for (int64_t i = 0; i < p.predictions.size(); ++i) p.predictions.data()[i] = g(rng), p.truth.data()[i] = g(rng);
  for (int i = 0; i < n; ++i) {
    p.stimulus.push_back("stim" + std::to_string(i));
    p.run.push_back(i / 6);
    p.fold.push_back(i / 6);
    p.feature_row.push_back(i);
    p.pattern_corr.push_back(0.2);
  }
  p.alphas = {0.1, 1, 10, 100, 1000};
  p.fold_alpha = MatrixD(folds, t);
  for (int f = 0; f < folds; ++f)
    for (int k = 0; k < t; ++k) p.fold_alpha(f, k) = p.alphas[size_t((f + k) % 5)];
  p.inner_score = MatrixD::Zero(folds, 5);
  p.edge_low = {0.2, 0.0, 0.4, 0.2};
  p.edge_high = {0.2, 0.2, 0.0, 0.6};
  p.profile_corr = {0.3, 0.2, 0.1, 0.25, 0.15};
  p.r2 = {0.05, 0.02, 0.01, 0.03, 0.0};
  Provenance prov;
  prov.stage = "test";
  write_predictions(path, p, prov, false);
}

void write_encoding_map(const std::string& path, int64_t nx, int64_t ny, int64_t nz) {
  nifti::Header grid;
  grid.dims = {nx, ny, nz};
  grid.affine = Eigen::Matrix4d::Identity();
  grid.affine(0, 0) = -2, grid.affine(1, 1) = 2, grid.affine(2, 2) = 2;
  std::vector<float> values(size_t(nx * ny * nz), 0.0f);
  // An ellipsoid "brain" whose correlation rises towards +x.
  for (int64_t k = 1; k < nz - 1; ++k)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i) {
        const double u = (i - nx / 2.0) / (nx / 2.2), v = (j - ny / 2.0) / (ny / 2.2), w = (k - nz / 2.0) / (nz / 2.0);
        if (u * u + v * v + w * w < 1) values[size_t(i + nx * (j + ny * k))] = float(0.6 * u + 0.05);
      }
  nifti::write_map(path, grid, values);
}

// The planted study: 2 subjects (one with an odd id) x 2 models x 2 fractions, a ridge
// predictions file per subject, one encoding map, a retrieval file of a newer version and a
// stray file.
struct PlantedStudy {
  test::TempDir dir{"v2c-report"};
  std::map<std::string, double> value;  // "subject|model|fraction|metric" -> value
  std::string newer_file;

  explicit PlantedStudy(bool with_retrieval = true) {
    const std::vector<std::pair<std::string, std::string>> subjects = {{"sub-01", "sub-01"}, {"sub-02", "<sub&1>"}};
    const std::vector<std::string> models = {"ridge", "encoder-full"};
    const std::vector<double> fractions = {0.25, 1.0};
    for (int s = 0; s < 2; ++s) {
      const fs::path sub = dir.path() / subjects[size_t(s)].first;
      fs::create_directories(sub);
      write_ridge_predictions((sub / "ridge.h5").string(), subjects[size_t(s)].second, "decode");
      if (!with_retrieval) continue;
      for (int m = 0; m < 2; ++m)
        for (int f = 0; f < 2; ++f) {
          std::vector<PlantedMetric> metrics;
          for (int k = 0; k < 4; ++k) {
            const double v = planted(s, m, f, k) * (k == 3 ? 10 : 1);
            metrics.push_back({kMetricNames[size_t(k)], v, v - 0.05, v + 0.07, k == 3 ? 25.5 : 0.02 * (k + 1), 50});
            value[subjects[size_t(s)].second + "|" + models[size_t(m)] + "|" +
                  v2c::report::format_number(fractions[size_t(f)]) + "|" + kMetricNames[size_t(k)]] = v;
          }
          write_retrieval((sub / (models[size_t(m)] + "-f" + std::to_string(f) + ".retrieval.h5")).string(),
                          subjects[size_t(s)].second, models[size_t(m)], fractions[size_t(f)], metrics);
        }
    }
    write_encoding_map((dir.path() / "sub-01" / "ridge-encode_corr.nii.gz").string(), 20, 24, 10);
    newer_file = (dir.path() / "sub-01" / "future.retrieval.h5").string();
    write_retrieval(newer_file, "sub-01", "ridge", 1.0, {{"top1_forward", 0.9, 0.8, 1.0, 0.02, 50}}, 2);
    dir.write("sub-01/notes.txt", "not a result");
    dir.write("README.txt", "study notes");
  }
  std::string study() const { return dir.path().string(); }
  std::string out() const { return dir.file("report"); }
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep)
      out.push_back(cur), cur.clear();
    else
      cur += c;
  }
  out.push_back(cur);
  return out;
}

size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// Boost.Test precondition: skips unless Debian's chromium is installed.
struct needs_chromium {
  boost::test_tools::assertion_result operator()(utf::test_unit_id) const {
    if (fs::exists(kChromium)) return true;
    boost::test_tools::assertion_result r(false);
    r.message() << kChromium << " not found (apt-get install chromium fonts-liberation; make test's set-up does it)";
    return r;
  }
};

int run_shell(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(results_csv_round_trips_the_planted_values) {
  PlantedStudy study;
  const auto r = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK_MESSAGE(
      r.output.find(study.newer_file) != std::string::npos && r.output.find("warning") != std::string::npos,
      "no warning naming the newer-version file: " << r.output);
  const std::string csv = test::read_text_file(study.out() + "/results.csv");
  const auto lines = split(csv, '\n');
  BOOST_REQUIRE_GE(lines.size(), 2u);
  BOOST_CHECK_EQUAL(lines[0],
                    "subject,model,train_fraction,metric,value,ci_low,ci_high,chance,n_candidates,p_permutation");
  BOOST_CHECK_EQUAL(lines.back(), "");  // ends with a newline
  BOOST_REQUIRE_EQUAL(lines.size() - 2, 2u * 2 * 2 * 4);
  std::vector<std::string> keys;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    const auto f = split(lines[i], ',');
    BOOST_REQUIRE_EQUAL(f.size(), 10u);
    const std::string key = f[0] + "|" + f[1] + "|" + f[2] + "|" + f[3];
    keys.push_back(key);
    BOOST_REQUIRE_MESSAGE(study.value.count(key), "unexpected row " << lines[i]);
    const double v = study.value.at(key);
    BOOST_CHECK_EQUAL(std::strtod(f[4].c_str(), nullptr), v);  // exact: shortest round-trip digits
    BOOST_CHECK_EQUAL(std::strtod(f[5].c_str(), nullptr), v - 0.05);
    BOOST_CHECK_EQUAL(std::strtod(f[6].c_str(), nullptr), v + 0.07);
    BOOST_CHECK_EQUAL(f[8], "50");
    if (f[3] == "pairwise_identification")
      BOOST_CHECK_EQUAL(std::strtod(f[9].c_str(), nullptr), v / 8);
    else
      BOOST_CHECK_EQUAL(f[9], "NaN");
  }
  BOOST_CHECK(std::is_sorted(keys.begin(), keys.end()));
  BOOST_CHECK(fs::exists(study.out() + "/provenance.json"));
}

BOOST_AUTO_TEST_CASE(index_html_holds_every_plot_and_escapes_names) {
  PlantedStudy study;
  const auto r = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string html = test::read_text_file(study.out() + "/index.html");
  const std::vector<std::string> ids = {"learning-curve-top1_forward",
                                        "learning-curve-pairwise_identification",
                                        "subject-bars-top1_forward-largest",
                                        "subject-bars-top1_forward-smallest",
                                        "subject-bars-pairwise_identification-largest",
                                        "subject-bars-pairwise_identification-smallest",
                                        "profile-corr",
                                        "alpha-histogram",
                                        "alpha-edges",
                                        "encoding-map-1"};
  for (const auto& id : ids) BOOST_CHECK_MESSAGE(count_of(html, "<svg id=\"" + id + "\"") == 1, "no <svg> " << id);
  BOOST_CHECK_EQUAL(count_of(html, "<svg "), ids.size());
  BOOST_CHECK_EQUAL(count_of(html, "</svg>"), ids.size());
  BOOST_CHECK_EQUAL(count_of(html, "<figcaption>"), ids.size());
  BOOST_CHECK(html.find("summary-table") != std::string::npos);
  BOOST_CHECK(html.find("permutation-table") != std::string::npos);  // per-subject permutation p-values
  BOOST_CHECK(html.find("sign-flip p") != std::string::npos ||
              html.find("no test across subjects") != std::string::npos);
  BOOST_CHECK(html.find("vox2clip report: " + study.dir.path().filename().string()) != std::string::npos);
  // Planted: the encoder higher in both subjects; two subjects cannot make a paired test significant
  // (smallest p 0.5), so the page says the mean is higher, not that it beats ridge.
  BOOST_CHECK(html.find("encoder-full</b> has a higher mean than ridge") != std::string::npos);
  BOOST_CHECK(html.find("encoder-full</b> beats ridge") == std::string::npos);
  // Offline: nothing fetched, no scripts.
  for (const char* bad : {"<script", "http://", "https://", "@import", "<link"}) {
    if (std::string(bad) == "http://") {
      // The SVG namespace is the one allowed URL.
      std::string rest = html;
      for (size_t pos; (pos = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;) rest.erase(pos, 26);
      BOOST_CHECK_MESSAGE(rest.find(bad) == std::string::npos, "page refers to " << bad);
    } else {
      BOOST_CHECK_MESSAGE(html.find(bad) == std::string::npos, "page contains " << bad);
    }
  }
  BOOST_CHECK(html.find("<sub&1>") == std::string::npos);
  BOOST_CHECK(html.find("&lt;sub&amp;1&gt;") != std::string::npos);
  // The newer-version file was skipped (it is not among the files read).
  BOOST_CHECK(html.find("future.retrieval.h5") == std::string::npos);
}

// A model tested at one training fraction only (the default study's self-supervised rows): the
// verdict names that fraction and its one test, not "the largest" or "every one of them".
BOOST_AUTO_TEST_CASE(verdict_of_a_model_at_one_fraction) {
  PlantedStudy study;
  const std::vector<std::pair<std::string, std::string>> subjects = {{"sub-01", "sub-01"}, {"sub-02", "<sub&1>"}};
  for (int s = 0; s < 2; ++s)
    for (const auto& [model, shift] :
         {std::pair<std::string, double>{"encoder-ssl-adapter", 0.1}, {"encoder-ssl-full", -0.1}}) {
      std::vector<PlantedMetric> metrics;
      for (int k = 0; k < 3; ++k) {  // ridge's planted value at 0.25 (model 0, fraction 0) shifted
        const double v = planted(s, 0, 0, k) + shift;
        metrics.push_back({kMetricNames[size_t(k)], v, v - 0.05, v + 0.07, 0.02 * (k + 1), 50});
      }
      write_retrieval((study.dir.path() / subjects[size_t(s)].first / (model + "-f0.25.retrieval.h5")).string(),
                      subjects[size_t(s)].second, model, 0.25, metrics);
    }
  const auto r = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string html = test::read_text_file(study.out() + "/index.html");
  BOOST_CHECK_MESSAGE(html.find("encoder-ssl-adapter</b> has a higher mean than ridge at train_fraction 0.25, not "
                                "significantly (the test below)") != std::string::npos,
                      html);
  BOOST_CHECK_MESSAGE(
      html.find("encoder-ssl-full</b> does not beat ridge at train_fraction 0.25 (") != std::string::npos, html);
  BOOST_CHECK_EQUAL(count_of(html, "not significantly at every one of them"), 1u);  // encoder-full's, 2 fractions
}

BOOST_AUTO_TEST_CASE(renders_without_retrieval_files) {
  PlantedStudy study(false);
  fs::remove(study.newer_file);
  const auto r = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string html = test::read_text_file(study.out() + "/index.html");
  BOOST_CHECK(html.find("No retrieval results yet") != std::string::npos);
  BOOST_CHECK(html.find("learning-curve-") == std::string::npos);
  for (const char* id : {"profile-corr", "alpha-histogram", "alpha-edges", "encoding-map-1"})
    BOOST_CHECK_MESSAGE(html.find(std::string("<svg id=\"") + id + "\"") != std::string::npos, "no <svg> " << id);
  BOOST_CHECK_EQUAL(test::read_text_file(study.out() + "/results.csv"),
                    "subject,model,train_fraction,metric,value,ci_low,ci_high,chance,n_candidates,p_permutation\n");
}

BOOST_AUTO_TEST_CASE(refuses_to_overwrite_and_bad_input) {
  PlantedStudy study(false);
  BOOST_REQUIRE_EQUAL(test::run_stage("report", {"--study", study.study(), "--out", study.out()}).exit_code, 0);
  const auto again = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_CHECK_EQUAL(again.exit_code, int(ExitCode::usage));
  BOOST_CHECK(again.output.find("--force") != std::string::npos);
  BOOST_CHECK_EQUAL(test::run_stage("report", {"--study", study.study(), "--out", study.out(), "--force"}).exit_code,
                    0);
  const auto missing = test::run_stage("report", {"--study", study.dir.file("nope"), "--out", study.dir.file("r2")});
  BOOST_CHECK_EQUAL(missing.exit_code, int(ExitCode::io));
  BOOST_CHECK(missing.output.find("nope") != std::string::npos);
  BOOST_CHECK(!fs::exists(study.dir.file("r2")));
  for (const auto& e : fs::directory_iterator(study.dir.path()))
    BOOST_CHECK_MESSAGE(e.path().filename().string().find(".tmp-") == std::string::npos, "left " << e.path());
  const auto bad_key = test::run_stage(
      "report", {"--study", study.study(), "--out", study.dir.file("r3"), "--set", "report.map_slice=3"});
  BOOST_CHECK_EQUAL(bad_key.exit_code, int(ExitCode::usage));
}

BOOST_AUTO_TEST_CASE(inputs_beside_the_results_are_skipped_without_a_warning) {
  PlantedStudy study(false);
  fs::remove(study.newer_file);
  // A subject's time series (the self-supervised stage's input), as a study keeps it under sub-*/.
  TimeSeries ts;
  ts.subject = "sub-01";
  ts.ijk = decltype(ts.ijk)::Zero(2, 3);
  ts.ijk(1, 0) = 1;
  ts.xyz = MatrixD::Zero(2, 3);
  ts.grid_dims = {2, 1, 1};
  ts.mask_voxels = 2;
  TimeSeriesRun run;
  run.source = "run-1_bold.nii.gz";
  run.tr_s = 2;
  run.n_volumes = 3;
  run.sample_row.assign(3, -1);
  ts.runs.push_back(run);
  ts.data.push_back(MatrixF::Ones(3, 2));
  Provenance prov;
  prov.stage = "test";
  write_timeseries(study.dir.file("sub-01/timeseries.h5"), ts, prov, false);
  const auto r = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK_MESSAGE(r.output.find("timeseries.h5") == std::string::npos, "timeseries.h5 mentioned: " << r.output);
  BOOST_CHECK_MESSAGE(r.output.find("warning") == std::string::npos, "a warning: " << r.output);
}

BOOST_AUTO_TEST_CASE(summary_interval_propagates_subject_intervals) {
  const double z = 1.959963984540054;
  std::vector<v2c::report::MetricRow> rows(2);
  rows[0].subject = "a", rows[1].subject = "b";
  for (auto& r : rows) r.model = "ridge", r.metric = "top1_forward", r.train_fraction = 1, r.chance = 0.1;
  rows[0].value = 0.5, rows[0].ci_low = 0.5 - z * 0.03, rows[0].ci_high = 0.5 + z * 0.03;
  rows[1].value = 0.7, rows[1].ci_low = 0.7 - z * 0.04, rows[1].ci_high = 0.7 + z * 0.04;
  const auto g = v2c::report::summarise(rows);
  BOOST_REQUIRE_EQUAL(g.size(), 1u);
  BOOST_CHECK_CLOSE_FRACTION(g[0].mean, 0.6, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(g[0].ci_high - g[0].mean, z * 0.05 / 2, 1e-9);  // sqrt(.03² + .04²) / 2
  BOOST_CHECK_EQUAL(g[0].n_subjects, 2);
  const auto one = v2c::report::summarise({rows[0]});
  BOOST_CHECK_EQUAL(one[0].ci_low, rows[0].ci_low);
  BOOST_CHECK_EQUAL(v2c::report::format_number(0.1), "0.1");
  BOOST_CHECK_EQUAL(v2c::report::format_number(1.0 / 3), "0.3333333333333333");
  BOOST_CHECK_EQUAL(v2c::report::format_number(std::nan("")), "NaN");
}

BOOST_AUTO_TEST_CASE(png_and_base64_decode_with_python, *utf::precondition(test::needs_python{{"zlib", "base64"}})) {
  const int64_t w = 7, h = 5;
  std::vector<uint8_t> rgb(size_t(w * h * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 37 % 256);
  test::TempDir dir("v2c-png");
  const std::string b64 = v2c::report::base64(v2c::report::encode_png_rgb(w, h, rgb));
  dir.write("image.b64", b64);
  std::string expected;
  for (uint8_t b : rgb) expected += std::to_string(b) + ",";
  const std::string out = test::run_python_ok(
      "import base64, struct, zlib\n"
      "data = base64.b64decode(open('image.b64').read(), validate=True)\n"
      "assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
      "pos, chunks = 8, {}\n"
      "while pos < len(data):\n"
      "    n, kind = struct.unpack('>I4s', data[pos:pos+8])\n"
      "    body = data[pos+8:pos+8+n]\n"
      "    crc, = struct.unpack('>I', data[pos+8+n:pos+12+n])\n"
      "    assert crc == zlib.crc32(kind + body), kind\n"
      "    chunks[kind] = chunks.get(kind, b'') + body\n"
      "    pos += 12 + n\n"
      "w, h, depth, colour = struct.unpack('>IIBB', chunks[b'IHDR'][:10])\n"
      "assert (w, h, depth, colour) == (7, 5, 8, 2)\n"
      "raw = zlib.decompress(chunks[b'IDAT'])\n"
      "rows = [raw[r*(3*w+1):(r+1)*(3*w+1)] for r in range(h)]\n"
      "assert all(r[0] == 0 for r in rows)\n"
      "print(''.join(str(b) + ',' for r in rows for b in r[1:]))\n",
      dir.path().string());
  BOOST_CHECK_EQUAL(out, expected + "\n");
  for (const std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"})
    BOOST_CHECK_EQUAL(
        v2c::report::base64(s),
        test::run_python_ok("import base64, sys\nsys.stdout.write(base64.b64encode(" + std::string("bytes([") + [&] {
          std::string b;
          for (unsigned char c : s) b += std::to_string(c) + ",";
          return b;
        }() + "])).decode())\n"));
}

BOOST_AUTO_TEST_CASE(chromium_renders_the_page_without_errors, *utf::precondition(needs_chromium{})) {
  PlantedStudy study;
  // A larger map as well, so the PNG path is rendered too.
  write_encoding_map((study.dir.path() / "sub-02" / "ridge-encode_corr.nii.gz").string(), 80, 96, 30);
  const auto r = test::run_stage("report", {"--study", study.study(), "--out", study.out()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string page = study.out() + "/index.html";
  BOOST_CHECK(test::read_text_file(page).find("data:image/png;base64,") != std::string::npos);
  test::TempDir profile("v2c-chromium");
  const std::string flags = std::string(kChromium) +
                            " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                            "--disable-background-networking --disable-component-update --disable-sync "
                            "--enable-logging=stderr --v=0 --user-data-dir=" +
                            test::shell_quote(profile.file("user-data"));
  const std::string url = "file://" + fs::absolute(page).string();
  const std::string dom = profile.file("dom.html"), dom_log = profile.file("dom.log");
  BOOST_REQUIRE_EQUAL(run_shell(flags + " --dump-dom " + test::shell_quote(url) + " > " + test::shell_quote(dom) +
                                " 2> " + test::shell_quote(dom_log)),
                      0);
  const std::string parsed = test::read_text_file(dom);
  for (const char* id : {"learning-curve-top1_forward", "subject-bars-top1_forward-largest", "alpha-histogram",
                         "alpha-edges", "profile-corr", "encoding-map-1", "encoding-map-2"})
    BOOST_CHECK_MESSAGE(parsed.find(std::string("<svg id=\"") + id + "\"") != std::string::npos,
                        "parsed DOM lacks <svg id=\"" << id << "\">");
  BOOST_CHECK_EQUAL(count_of(parsed, "<svg "), 11u);

  const std::string shot = profile.file("page.png"), shot_log = profile.file("shot.log");
  BOOST_REQUIRE_EQUAL(
      run_shell(flags + " --hide-scrollbars --window-size=1200,2000 --screenshot=" + test::shell_quote(shot) + " " +
                test::shell_quote(url) + " > /dev/null 2> " + test::shell_quote(shot_log)),
      0);
  BOOST_REQUIRE(fs::exists(shot));
  const std::string png = test::read_text_file(shot);
  BOOST_CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  BOOST_CHECK_GT(png.size(), 20000u);  // a blank 1200x2000 page compresses to a few kB
  // V2C_REPORT_KEEP=DIR keeps the report and the screenshot for a person to look at.
  if (const char* keep = std::getenv("V2C_REPORT_KEEP"); keep && *keep) {
    fs::create_directories(keep);
    fs::copy(study.out(), keep, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    fs::copy_file(shot, fs::path(keep) / "screenshot.png", fs::copy_options::overwrite_existing);
  }

  // Console messages and page errors name the page's URL; Chromium's own start-up noise does not.
  for (const auto& log : {dom_log, shot_log}) {
    std::istringstream lines(test::read_text_file(log));
    for (std::string line; std::getline(lines, line);)
      BOOST_CHECK_MESSAGE(line.find("index.html") == std::string::npos && line.find("CONSOLE") == std::string::npos,
                          "chromium reported: " << line);
  }
}

BOOST_AUTO_TEST_SUITE_END()
