// LSS benchmark: per-trial estimates of one run by least squares - separate (Mumford et al. 2012)
// with our shared-work solver (pipeline/prep/glm.h), against the numpy oracle doing one
// numpy.linalg.lstsq per trial (bench/peers/lss_numpy.py, timed by bench/run.sh in the same run).
// The run: N_VOL volumes at TR 2 s, N_TRIALS events of 0.9 s with jittered onsets spread over the
// run, 4 conditions, N_VOX voxels of planted amplitudes + drift + confounds + noise; nuisance =
// Legendre order 2 + cosines (128 s) + 6 confounds. Writes Y, the design and our estimates as .npy.
//   bench-lss N_VOL N_TRIALS N_VOX OUT_DIR
// Prints one line: ours_s peak_mib
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "pipeline/io/npy.h"
#include "pipeline/prep/drift.h"
#include "pipeline/prep/glm.h"
#include "pipeline/prep/hrf.h"

using namespace v2c;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s N_VOL N_TRIALS N_VOX OUT_DIR\n", argv[0]);
    return 2;
  }
  const int64_t n = std::atoll(argv[1]), k = std::atoll(argv[2]), v = std::atoll(argv[3]);
  const std::string dir = argv[4];
  const double tr = 2.0;
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);

  // Events spread evenly over all but the last 16 s of the run, each jittered within its slot.
  const double slot = (double(n) * tr - 16.0) / double(k);
  std::vector<prep::EventTiming> events;
  std::vector<int32_t> group;
  for (int64_t i = 0; i < k; ++i) {
    events.push_back({double(i) * slot + (slot - 0.9) * u(rng), 0.9});
    group.push_back(int32_t(i % 4));
  }
  const MatrixD x = prep::event_regressors(events, tr, n);
  const MatrixD poly = prep::polynomial_basis(n, 2), cosines = prep::cosine_basis(n, tr, 128.0);
  MatrixD confounds(n, 6);
  for (int c = 0; c < 6; ++c) {
    double walk = 0;
    for (int64_t t = 0; t < n; ++t) confounds(t, c) = walk += 0.1 * g(rng);
  }
  MatrixD nuisance(n, poly.cols() + cosines.cols() + confounds.cols());
  nuisance << poly, cosines, confounds;

  // Y block by block of voxels (float32, as prepared runs are), so no double copy of it exists.
  MatrixF y(n, v);
  for (int64_t c0 = 0; c0 < v; c0 += 4096) {
    const int64_t w = std::min<int64_t>(4096, v - c0);
    MatrixD amp(k, w), coef(nuisance.cols(), w);
    for (int64_t i = 0; i < amp.size(); ++i) amp.data()[i] = 1.0 + g(rng);
    for (int64_t i = 0; i < coef.size(); ++i) coef.data()[i] = 0.5 * g(rng);
    MatrixD block = x * amp + nuisance * coef;
    for (int64_t i = 0; i < block.size(); ++i) block.data()[i] += 100.0 + g(rng);
    y.middleCols(c0, w) = block.cast<float>();
  }
  npy::write_npy(dir + "/Y.npy", y);
  npy::write_npy(dir + "/X.npy", x);
  npy::write_npy(dir + "/N.npy", nuisance);
  {
    std::ofstream f(dir + "/groups.txt");
    for (int32_t gi : group) f << gi << "\n";
  }

  const auto t0 = std::chrono::steady_clock::now();
  const prep::TrialEstimates est = prep::estimate_lss(y, x, group, nuisance);
  const double ours = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  int64_t lost = 0;
  for (uint8_t e : est.estimable) lost += e ? 0 : 1;
  if (lost) std::fprintf(stderr, "bench-lss: %ld trials not estimable\n", long(lost));
  npy::write_npy(dir + "/beta_ours.npy", est.beta);
  std::printf("%.4f %ld\n", ours, ru.ru_maxrss / 1024);
  return 0;
}
