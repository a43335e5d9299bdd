// Automatic EPI mask (pipeline/prep/epi_mask.h): planted shapes, and voxel-for-voxel agreement with
// the plain numpy oracle (tests/oracle/epi_mask_numpy.py) and its scipy.ndimage variant on the
// Haxby 25 mm runs, with the Dice overlap against the shipped brain mask.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "pipeline/io/nifti.h"
#include "pipeline/prep/epi_mask.h"
#include "tests/test_util.h"

using namespace v2c;
namespace utf = boost::unit_test;

namespace {

std::string haxby_run(int r) {
  char dir[80];
  std::snprintf(dir, sizeof dir, "haxby2001-sub001/BOLD/task001_run%03d/bold_25mm.nii.gz", r);
  return test::shared_data(dir);
}

// Mean over every volume of the runs, [nx*ny*nz] x fastest.
std::vector<double> mean_image(const std::vector<std::string>& runs, std::array<int64_t, 3>& dims) {
  std::vector<double> sum;
  int64_t volumes = 0;
  for (const auto& path : runs) {
    const nifti::Image img = nifti::Image::load(path);
    const int64_t nv = img.header().volume_size();
    for (int a = 0; a < 3; ++a) dims[size_t(a)] = img.header().dims[size_t(a)];
    std::vector<int64_t> all(static_cast<size_t>(nv));
    std::iota(all.begin(), all.end(), 0);
    const MatrixF y = img.gather(all);
    if (sum.empty()) sum.assign(size_t(nv), 0.0);
    for (int64_t t = 0; t < y.rows(); ++t)
      for (int64_t v = 0; v < nv; ++v) sum[size_t(v)] += y(t, v);
    volumes += y.rows();
  }
  for (double& s : sum) s /= double(volumes);
  return sum;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(epi_mask)

BOOST_AUTO_TEST_CASE(planted_brain_without_its_skull_speck) {
  // A 20x20x16 grid: a bright ellipsoid (the brain) in a dark noisy background, and a bright 2x2x2
  // speck apart from it that the opening and the largest component must remove.
  const std::array<int64_t, 3> dims{20, 20, 16};
  std::vector<double> mean(size_t(20 * 20 * 16));
  std::vector<uint8_t> brain(mean.size(), 0);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(0, 1);
  for (int64_t k = 0; k < 16; ++k)
    for (int64_t j = 0; j < 20; ++j)
      for (int64_t i = 0; i < 20; ++i) {
        const size_t at = size_t(i + 20 * (j + 20 * k));
        const double r2 = std::pow((i - 9.5) / 7.0, 2) + std::pow((j - 9.5) / 8.0, 2) + std::pow((k - 7.5) / 6.0, 2);
        brain[at] = r2 <= 1.0;
        mean[at] = (brain[at] ? 1000.0 : 30.0) + 10.0 * g(rng);
      }
  for (int64_t k = 0; k < 2; ++k)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < 2; ++i) mean[size_t(i + 20 * (j + 20 * k))] = 1000.0;
  const prep::EpiMask m = prep::compute_epi_mask(mean, dims);
  BOOST_CHECK(m.threshold > 60.0 && m.threshold < 970.0);
  BOOST_CHECK_EQUAL(int(m.inside[0]), 0);  // the speck is gone
  BOOST_CHECK_GT(prep::dice(m.inside, brain), 0.9);
  // Without opening or component selection the speck stays.
  prep::EpiMaskParams raw;
  raw.opening = 0;
  raw.connected = false;
  BOOST_CHECK_EQUAL(int(prep::compute_epi_mask(mean, dims, raw).inside[0]), 1);
  // Nothing to cut: a 1-voxel image.
  test::check_error([] { prep::compute_epi_mask({1.0}, {1, 1, 1}); }, ExitCode::input, {"cut-offs"});
}

BOOST_AUTO_TEST_CASE(agrees_with_the_numpy_oracle_on_random_volumes,
                     *utf::precondition(test::needs_python{{"numpy"}})) {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  test::TempDir dir("v2c-epimask");
  // Blobs of several sizes on noise, on odd grid sizes (one of them a single slice).
  const std::vector<std::array<int64_t, 3>> grids = {{9, 11, 7}, {13, 8, 1}, {6, 10, 10}};
  std::mt19937_64 rng(17);
  std::normal_distribution<double> g(0, 1);
  for (size_t c = 0; c < grids.size(); ++c) {
    const auto d = grids[c];
    std::vector<double> mean(size_t(d[0] * d[1] * d[2]));
    for (int64_t k = 0; k < d[2]; ++k)
      for (int64_t j = 0; j < d[1]; ++j)
        for (int64_t i = 0; i < d[0]; ++i) {
          const double r2 = std::pow((i - d[0] / 2.0) / (d[0] / 2.5), 2) +
                            std::pow((j - d[1] / 2.0) / (d[1] / 2.5), 2) +
                            std::pow((k - d[2] / 2.0) / std::max(1.0, d[2] / 2.5), 2);
          mean[size_t(i + d[0] * (j + d[1] * k))] = 200.0 * std::exp(-r2) + 20.0 * std::abs(g(rng));
        }
    std::ostringstream values;
    values.precision(17);
    for (double v : mean) values << v << " ";
    for (int opening : {2, 1, 0}) {
      prep::EpiMaskParams p;
      p.opening = opening;
      const prep::EpiMask ours = prep::compute_epi_mask(mean, d, p);
      std::ostringstream py;
      py << "import sys\nsys.path.insert(0, '" << (*root / "tests/oracle").string() << "')\n"
         << "import numpy as np, epi_mask_numpy as o\n"
         << "v = np.array([float(x) for x in '" << values.str() << "'.split()])\n"
         << "mean = v.reshape(" << d[2] << ", " << d[1] << ", " << d[0] << ").transpose(2, 1, 0)\n"
         << "m, thr = o.compute_epi_mask(mean, opening=" << opening << ")\n"
         << "print(repr(thr), ''.join(str(int(x)) for x in m.transpose(2, 1, 0).ravel()))\n";
      std::istringstream out(test::run_python_ok(py.str()));
      double thr = 0;
      std::string bits;
      out >> thr >> bits;
      std::string ours_bits;
      for (uint8_t x : ours.inside) ours_bits += char('0' + x);
      BOOST_CHECK_MESSAGE(ours_bits == bits, "grid " << c << " opening " << opening << ": masks differ");
      BOOST_CHECK_CLOSE_FRACTION(ours.threshold, thr, 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(haxby_25mm_equals_the_numpy_oracle_and_reports_dice,
                     *utf::precondition(test::needs_shared_data{"haxby2001-sub001/BOLD/task001_run012"}) *
                         utf::precondition(test::needs_python{{"numpy", "nibabel"}})) {
  // nilearn's default opening (2 erosions) leaves nothing of a 6x10x10 grid of 25 mm voxels; without
  // the opening the method finds the brain. Every setting must agree with the oracle voxel for voxel.
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  std::vector<std::string> runs;
  for (int r = 1; r <= 12; ++r) runs.push_back(haxby_run(r));
  std::array<int64_t, 3> dims{};
  const std::vector<double> mean = mean_image(runs, dims);
  const std::string brain_path = test::shared_data("haxby2001-sub001/masks/25mm/brain.nii.gz");
  const nifti::Image brain_img = nifti::Image::load(brain_path);
  std::vector<uint8_t> brain(mean.size());
  for (size_t v = 0; v < brain.size(); ++v) brain[v] = brain_img.value(int64_t(v)) != 0;

  std::string py = "import sys\nsys.path.insert(0, '" + (*root / "tests/oracle").string() +
                   "')\n"
                   "import numpy as np, nibabel, epi_mask_numpy as o\nmean = o.mean_of_runs([";
  for (const auto& r : runs) py += "'" + r + "', ";
  py += "])\nbrain = np.asarray(nibabel.load('" + brain_path +
        "').dataobj) != 0\n"
        "for opening in (0, 1, 2):\n"
        "    m, thr = o.compute_epi_mask(mean, opening=opening)\n"
        "    try:\n        scipy_diff = int((o.scipy_variant(mean, opening=opening) != m).sum())\n"
        "    except ImportError:\n        scipy_diff = -1\n"
        "    dice = 2 * (m & brain).sum() / max(1, m.sum() + brain.sum())\n"
        "    print(repr(thr), dice, scipy_diff, ''.join(str(int(x)) for x in m.transpose(2, 1, 0).ravel()) + 'x')\n";
  std::istringstream out(test::run_python_ok(py));
  for (int opening : {0, 1, 2}) {
    prep::EpiMaskParams p;
    p.opening = opening;
    const prep::EpiMask ours = prep::compute_epi_mask(mean, dims, p);
    const double dice = prep::dice(ours.inside, brain);
    double thr = 0, oracle_dice = 0;
    int scipy_diff = -2;
    std::string bits;
    out >> thr >> oracle_dice >> scipy_diff >> bits;
    BOOST_REQUIRE_MESSAGE(out && !bits.empty(), "unreadable oracle output");
    bits.pop_back();  // the 'x' that keeps an all-zero mask a readable token
    std::string ours_bits;
    for (uint8_t x : ours.inside) ours_bits += char('0' + x);
    int64_t differ = 0;
    for (size_t v = 0; v < bits.size() && v < ours_bits.size(); ++v) differ += bits[v] != ours_bits[v];
    BOOST_TEST_MESSAGE("Haxby 25 mm, 12 runs, opening "
                       << opening << ": automatic mask " << ours.n_inside << " voxels (threshold " << ours.threshold
                       << "), brain mask " << std::count(brain.begin(), brain.end(), uint8_t(1)) << " voxels, Dice "
                       << dice << "; differs from the numpy oracle in " << differ << " voxels (oracle Dice "
                       << oracle_dice << "); scipy.ndimage variant vs oracle: " << scipy_diff << " voxels");
    BOOST_CHECK_EQUAL(bits.size(), ours_bits.size());
    BOOST_CHECK_EQUAL(differ, 0);
    BOOST_CHECK_CLOSE_FRACTION(ours.threshold, thr, 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(dice, oracle_dice, 1e-12);
    BOOST_CHECK(scipy_diff == 0 || scipy_diff == -1);  // -1: scipy absent
    if (opening == 0) BOOST_CHECK_GT(dice, 0.7);
    if (opening == 2) BOOST_CHECK_EQUAL(ours.n_inside, 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
