// Ridge results do not depend on the thread count (issue 13, F19): the same α per fold and
// target, and predictions within 1e-6 relative in float32 and bitwise in float64, for
// 1 and 2 threads (OpenMP and OpenBLAS), on both solver paths (Gram/kernel and per-target
// voxel selection) and for the final refit.
#include <boost/test/unit_test.hpp>

#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "pipeline/models/cv.h"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

using namespace v2c;

namespace {

// Runs `f` with `n` OpenMP and OpenBLAS threads, restoring both afterwards.
template <class F>
auto with_threads(int n, F f) {
  const int omp = omp_get_max_threads(), blas = openblas_get_num_threads();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  auto out = f();
  omp_set_num_threads(omp);
  openblas_set_num_threads(blas);
  return out;
}

// A decoding problem large enough for OpenBLAS to use both threads in every call: 240 samples
// in 8 runs, 600 voxels, 512 targets that depend on a few voxels plus noise.
template <class S>
struct Problem {
  linalg::Mat<S> X, Y;
  std::vector<int32_t> run;
  std::vector<std::string> stimulus;
  Problem() {
    const int n = 240, p = 600, t = 512;
    std::mt19937_64 rng(19);
    std::normal_distribution<double> g;
    X.resize(n, p);
    Y.resize(n, t);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < p; ++j) X(i, j) = S(g(rng));
    linalg::Mat<S> W(p, t);
    for (int j = 0; j < p; ++j)
      for (int k = 0; k < t; ++k) W(j, k) = S(g(rng) * (j % 7 == k % 7 ? 0.2 : 0.01));
    Y = X * W;
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < t; ++k) Y(i, k) += S(g(rng) * (1 + k % 5));
    for (int i = 0; i < n; ++i) {
      run.push_back(i / 30);
      stimulus.push_back("s" + std::to_string(i));
    }
  }
};

template <class S>
cv::RidgeCvSettings settings(int select_voxels) {
  cv::RidgeCvSettings s;
  s.alphas = {1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5};
  s.alpha_per_target = true;
  s.inner_folds = 4;
  s.select_voxels = select_voxels;
  s.precision = sizeof(S) == 4 ? "float32" : "float64";
  return s;
}

// The largest |a - b| / max(|a|, |b|, tiny) over all entries.
template <class S>
double max_relative_difference(const linalg::Mat<S>& a, const linalg::Mat<S>& b) {
  double worst = 0;
  for (int64_t i = 0; i < a.rows(); ++i)
    for (int64_t j = 0; j < a.cols(); ++j) {
      const double x = a(i, j), y = b(i, j);
      if (std::isnan(x) && std::isnan(y)) continue;
      worst = std::max(worst, std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-30}));
    }
  return worst;
}

template <class S>
void check_thread_independence(int select_voxels, double tolerance) {
  const Problem<S> pb;
  const auto s = settings<S>(select_voxels);
  const auto run_cv = [&] { return cv::cross_validate<S>(pb.X, pb.Y, pb.run, pb.stimulus, s); };
  const auto one = with_threads(1, run_cv), two = with_threads(2, run_cv);
  int64_t alpha_flips = 0;
  for (int64_t f = 0; f < one.alpha.rows(); ++f)
    for (int64_t j = 0; j < one.alpha.cols(); ++j) alpha_flips += one.alpha(f, j) != two.alpha(f, j);
  BOOST_CHECK_MESSAGE(alpha_flips == 0, alpha_flips << " of " << one.alpha.size() << " α choices differ");
  const double diff = max_relative_difference(one.predictions, two.predictions);
  BOOST_TEST_MESSAGE("select_voxels=" << select_voxels << " " << s.precision << ": predictions differ by " << diff
                                      << " relative at most");
  if (tolerance == 0)
    BOOST_CHECK_MESSAGE(one.predictions.cwiseEqual(two.predictions).all() || diff == 0,
                        "predictions differ by " << diff << " relative");
  else
    BOOST_CHECK_MESSAGE(diff <= tolerance, "predictions differ by " << diff << " relative, more than " << tolerance);
  // The refit on all samples.
  const auto fit = [&] {
    std::pair<linalg::Mat<S>, linalg::RowVec<S>> wb;
    cv::select_and_fit<S>(pb.X, pb.Y, pb.run, s, wb.first, wb.second);
    return wb;
  };
  const auto w1 = with_threads(1, fit), w2 = with_threads(2, fit);
  const double wdiff = max_relative_difference(w1.first, w2.first);
  BOOST_CHECK_MESSAGE(wdiff <= tolerance, "weights differ by " << wdiff << " relative");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ridge_threads)

BOOST_AUTO_TEST_CASE(float32_kernel_path_within_1e6) { check_thread_independence<float>(0, 1e-6); }
BOOST_AUTO_TEST_CASE(float64_kernel_path_bitwise) { check_thread_independence<double>(0, 0); }
BOOST_AUTO_TEST_CASE(float32_voxel_selection_within_1e6) { check_thread_independence<float>(40, 1e-6); }
BOOST_AUTO_TEST_CASE(float64_voxel_selection_bitwise) { check_thread_independence<double>(40, 0); }

BOOST_AUTO_TEST_SUITE_END()
