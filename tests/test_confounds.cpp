// fMRIPrep confounds (pipeline/io/confounds.h): column selection by names and wildcards, the n/a
// of backward differences, every malformed file, finding the file beside a run, and a planted
// motion-correlated signal removed by regressing the matching columns.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "pipeline/io/confounds.h"
#include "pipeline/prep/drift.h"
#include "pipeline/prep/signal.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

// An fMRIPrep-like table: n rows; trans_x/y/z, rot_x/y/z and their derivative1 (n/a first row),
// csf, white_matter, framewise_displacement (n/a first row), cosine00, cosine01.
std::string fmriprep_table(int n, uint64_t seed, MatrixD* values = nullptr) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  const std::vector<std::string> base = {"trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"};
  std::string text;
  for (const auto& b : base) text += b + "\t" + b + "_derivative1\t";
  text += "csf\twhite_matter\tframewise_displacement\tcosine00\tcosine01\n";
  std::vector<double> walk(6, 0.0), prev(6, 0.0);
  if (values) values->resize(n, 17);
  for (int t = 0; t < n; ++t) {
    std::string row;
    int c = 0;
    for (size_t b = 0; b < base.size(); ++b) {
      walk[b] += 0.05 * g(rng);
      const double d = walk[b] - prev[b];
      prev[b] = walk[b];
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.10g", walk[b]);
      row += std::string(cell) + "\t";
      if (values) (*values)(t, c++) = std::stod(cell);
      if (t == 0) {
        row += "n/a\t";
        if (values) (*values)(t, c++) = 0.0;
      } else {
        std::snprintf(cell, sizeof cell, "%.10g", d);
        row += std::string(cell) + "\t";
        if (values) (*values)(t, c++) = std::stod(cell);
      }
    }
    for (int extra = 0; extra < 5; ++extra) {
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.10g", g(rng));
      const bool na = extra == 2 && t == 0;
      row += (na ? std::string("n/a") : std::string(cell)) + (extra == 4 ? "\n" : "\t");
      if (values) (*values)(t, c++) = na ? 0.0 : std::stod(cell);
    }
    text += row;
  }
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(confound_files)

BOOST_AUTO_TEST_CASE(columns_by_name_and_wildcard) {
  test::TempDir dir("v2c-conf");
  MatrixD all;
  const std::string path = dir.write("c.tsv", fmriprep_table(20, 1, &all));
  // trans_* takes translations and their derivatives, in file order; rot_? only the rotations;
  // csf once although two patterns match it.
  const auto c = confounds::read_confounds(path, {"trans_*", "rot_?", "csf", "c?f", "white_matter", "cosine*"}, 20);
  const std::vector<std::string> expected = {"trans_x",      "trans_x_derivative1",
                                             "trans_y",      "trans_y_derivative1",
                                             "trans_z",      "trans_z_derivative1",
                                             "rot_x",        "rot_y",
                                             "rot_z",        "csf",
                                             "white_matter", "cosine00",
                                             "cosine01"};
  BOOST_CHECK_EQUAL_COLLECTIONS(c.columns.begin(), c.columns.end(), expected.begin(), expected.end());
  BOOST_REQUIRE_EQUAL(c.values.rows(), 20);
  BOOST_CHECK_EQUAL(c.values(0, 1), 0.0);  // the first-row n/a of a derivative
  BOOST_CHECK_EQUAL(c.values(5, 0), all(5, 0));
  BOOST_CHECK_EQUAL(c.values(5, 1), all(5, 1));
  BOOST_CHECK_EQUAL(c.values(7, 6), all(7, 6));   // rot_x
  BOOST_CHECK_EQUAL(c.values(7, 9), all(7, 12));  // csf
  const auto fd = confounds::read_confounds(path, {"framewise_displacement"}, 20);
  BOOST_CHECK_EQUAL(fd.values(0, 0), 0.0);
  BOOST_CHECK_EQUAL(fd.values(3, 0), all(3, 14));
}

BOOST_AUTO_TEST_CASE(bad_files_name_file_and_column) {
  test::TempDir dir("v2c-conf");
  const std::string good = fmriprep_table(20, 2);
  const std::string path = dir.write("c.tsv", good);
  test::check_error(
      [&] {
        confounds::read_confounds(path, {"trans_x", "global_signal"}, 20);
      },
      ExitCode::input, {"c.tsv", "global_signal", "trans_x"});
  test::check_error([&] { confounds::read_confounds(path, {"trans_x"}, 21); }, ExitCode::input,
                    {"c.tsv", "20 rows", "21 volumes"});
  test::check_error([&] { confounds::read_confounds(path, {"trans_x"}, 19); }, ExitCode::input,
                    {"c.tsv", "20 rows", "19 volumes"});
  // A wildcard that matches nothing names the pattern and the columns there are.
  test::check_error([&] { confounds::read_confounds(path, {"a_comp_cor_*"}, 20); }, ExitCode::input,
                    {"c.tsv", "a_comp_cor_*", "trans_x", "17 columns"});
  // n/a in the first row of a column that is not a difference.
  std::string text = good;
  const size_t first_row = text.find('\n') + 1;
  text.replace(first_row, text.find('\t', first_row) - first_row, "n/a");
  const std::string na_first = dir.write("na_first.tsv", text);
  test::check_error([&] { confounds::read_confounds(na_first, {"trans_x"}, 20); }, ExitCode::input,
                    {"na_first.tsv", "line 2", "trans_x", "n/a"});
  // n/a later in a derivative.
  text = good;
  const size_t row5 = [&] {
    size_t at = 0;
    for (int i = 0; i < 5; ++i) at = text.find('\n', at) + 1;
    return at;
  }();
  const size_t cell = text.find('\t', row5) + 1;
  text.replace(cell, text.find('\t', cell) - cell, "n/a");
  const std::string na_late = dir.write("na_late.tsv", text);
  test::check_error([&] { confounds::read_confounds(na_late, {"trans_x_derivative1"}, 20); }, ExitCode::input,
                    {"na_late.tsv", "line 6", "trans_x_derivative1", "after the first row"});
  // Not a number.
  text = good;
  text.replace(row5, text.find('\t', row5) - row5, "abc");
  const std::string nan_text = dir.write("text.tsv", text);
  test::check_error([&] { confounds::read_confounds(nan_text, {"trans_x"}, 20); }, ExitCode::input,
                    {"text.tsv", "line 6", "trans_x", "abc"});
  // A non-finite number is not a confound value either.
  text = good;
  text.replace(row5, text.find('\t', row5) - row5, "nan");
  const std::string nan_value = dir.write("nan.tsv", text);
  test::check_error([&] { confounds::read_confounds(nan_value, {"trans_x"}, 20); }, ExitCode::input,
                    {"nan.tsv", "line 6", "trans_x", "finite number", "'nan'"});
  // A ragged row.
  const std::string ragged = dir.write("ragged.tsv", "trans_x\tcsf\n1\t2\n3\n");
  test::check_error([&] { confounds::read_confounds(ragged, {"trans_x"}, 2); }, ExitCode::input, {"ragged.tsv"});
  test::check_error([&] { confounds::read_confounds(dir.file("none.tsv"), {"trans_x"}, 2); }, ExitCode::io,
                    {"none.tsv"});
}

BOOST_AUTO_TEST_CASE(found_beside_an_fmriprep_run) {
  test::TempDir dir("v2c-conf");
  const std::string bold = dir.file("sub-01_task-loc_run-2_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz");
  BOOST_CHECK_EQUAL(confounds::find_beside(bold), "");
  const std::string old = dir.write("sub-01_task-loc_run-2_desc-confounds_regressors.tsv", "a\n1\n");
  BOOST_CHECK_EQUAL(confounds::find_beside(bold), old);
  const std::string now = dir.write("sub-01_task-loc_run-2_desc-confounds_timeseries.tsv", "a\n1\n");
  BOOST_CHECK_EQUAL(confounds::find_beside(bold), now);
  BOOST_CHECK_EQUAL(confounds::find_beside(dir.file("sub-01_task-loc_run-2_bold.nii")), now);
}

BOOST_AUTO_TEST_CASE(planted_motion_signal_is_removed_by_its_columns) {
  // 200 volumes, 50 voxels: a slow task-like sine (kept), plus 3 * trans_x + 2 * rot_y_derivative1
  // (motion artefact, removed) and noise.
  test::TempDir dir("v2c-conf");
  const int n = 200;
  MatrixD all;
  const std::string path = dir.write("c.tsv", fmriprep_table(n, 5, &all));
  const auto c = confounds::read_confounds(path, {"trans_*", "rot_*"}, n);
  std::mt19937_64 rng(8);
  std::normal_distribution<double> g(0, 1);
  MatrixF y(n, 50);
  Eigen::VectorXd task(n);
  for (int t = 0; t < n; ++t) task[t] = std::sin(2 * M_PI * t / 25.0);
  const Eigen::VectorXd motion = 3.0 * all.col(0) + 2.0 * all.col(9);  // trans_x, rot_y_derivative1
  for (int t = 0; t < n; ++t)
    for (int v = 0; v < 50; ++v) y(t, v) = float(100.0 + task[t] + 20.0 * motion[t] + 0.05 * g(rng));
  auto corr = [](const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
    const Eigen::VectorXd ca = a.array() - a.mean(), cb = b.array() - b.mean();
    return ca.dot(cb) / (ca.norm() * cb.norm());
  };
  BOOST_CHECK_GT(std::abs(corr(y.col(0).cast<double>(), motion)), 0.5);  // motion dominates before
  MatrixD nuisance(n, 1 + c.values.cols());
  nuisance << prep::polynomial_basis(n, 0), c.values;
  prep::regress_out(y, nuisance);
  for (int v = 0; v < 50; ++v) {
    BOOST_CHECK_SMALL(corr(y.col(v).cast<double>(), motion), 1e-3);
    BOOST_CHECK_GT(corr(y.col(v).cast<double>(), task), 0.9);
  }
}

BOOST_AUTO_TEST_SUITE_END()
