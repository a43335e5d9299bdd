// Ridge benchmark: times (a) our α selection by 5-fold CV over a grid (per-target α, one
// eigendecomposition per fold from one reused Gram matrix), (b) the same plus the refit on all
// samples (what scikit-learn's RidgeCV(alphas, cv=5).fit does), and (c) the bound: one X·Xᵀ
// product plus one eigendecomposition per fold with the same BLAS/LAPACK. Writes X and Y as
// .npy for the scikit-learn peer, which bench/run.sh times in the same run.
//   bench-ridge N P T N_ALPHAS FOLDS float32|float64 OUT_DIR
// Prints one line: ours_cv_s ours_fit_s bound_s peak_mib
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "pipeline/io/features.h"
#include "pipeline/math/linalg.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/ridge.h"

using namespace v2c;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class S>
int run(int64_t n, int64_t p, int64_t t, int n_alphas, int folds, const std::string& dir) {
  using M = linalg::Mat<S>;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g(0.0, 1.0);
  M X(n, p), W(p, t), Y;
  for (int64_t i = 0; i < X.size(); ++i) X.data()[i] = S(g(rng));
  for (int64_t i = 0; i < W.size(); ++i) W.data()[i] = S(g(rng) / std::sqrt(double(p)));
  linalg::gemm(X, false, W, false, Y);
  for (int64_t i = 0; i < Y.size(); ++i) Y.data()[i] += S(2.0 * g(rng));
  features::write_npy(dir + "/X.npy", X);
  features::write_npy(dir + "/Y.npy", Y);

  std::vector<int32_t> run(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) run[size_t(i)] = int32_t(i * folds / n);
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[size_t(i)] = i;
  cv::RidgeCvSettings s;
  s.alphas.clear();
  for (int k = 0; k < n_alphas; ++k) s.alphas.push_back(std::pow(10.0, -2.0 + 8.0 * k / (n_alphas - 1)));
  s.inner_folds = folds;

  double t0 = now();
  const std::vector<double> alpha = cv::select_alphas<S>(X, Y, run, all, s);
  const double ours_cv = now() - t0;
  t0 = now();
  {
    M Wfit;
    linalg::RowVec<S> b;
    cv::select_and_fit<S>(X, Y, run, s, Wfit, b);
  }
  const double ours_fit = now() - t0;

  // The bound: X·Xᵀ once, then one eigendecomposition of each fold's training block.
  t0 = now();
  {
    const M G = linalg::gram(X);
    for (int f = 0; f < folds; ++f) {
      std::vector<int64_t> train;
      for (int64_t i = 0; i < n; ++i)
        if (run[size_t(i)] != f) train.push_back(i);
      const M K = linalg::take(G, train, train);
      linalg::Vec<S> ev;
      M U;
      linalg::eig_sym(K, ev, U);
    }
  }
  const double bound = now() - t0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%.4f %.4f %.4f %ld\n", ours_cv, ours_fit, bound, ru.ru_maxrss / 1024);
  (void)alpha;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s N P T N_ALPHAS FOLDS float32|float64 OUT_DIR\n", argv[0]);
    return 2;
  }
  const int64_t n = std::atoll(argv[1]), p = std::atoll(argv[2]), t = std::atoll(argv[3]);
  const int n_alphas = std::atoi(argv[4]), folds = std::atoi(argv[5]);
  const std::string precision = argv[6], dir = argv[7];
  return precision == "float64" ? run<double>(n, p, t, n_alphas, folds, dir)
                                : run<float>(n, p, t, n_alphas, folds, dir);
}
