// Writes the prepare benchmark's input: one realistic 4D int16 .nii.gz run (a brain-shaped
// ellipsoid of ~1000-valued voxels with drift, noise and block responses; zeros outside), its
// brain mask and a BIDS events.tsv.  Usage: bench-make_run DIR NX NY NZ NT
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "pipeline/io/nifti.h"

using namespace v2c;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s DIR NX NY NZ NT\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t nx = std::atoll(argv[2]), ny = std::atoll(argv[3]), nz = std::atoll(argv[4]), nt = std::atoll(argv[5]);
  const double tr = 2.0;
  const int64_t nv = nx * ny * nz;
  std::vector<float> mask(size_t(nv), 0.0f), base(size_t(nv), 0.0f);
  std::mt19937_64 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x) {
        const double dx = (x - nx / 2.0) / (0.42 * nx), dy = (y - ny / 2.0) / (0.45 * ny),
                     dz = (z - nz / 2.0) / (0.45 * nz);
        const int64_t i = x + nx * (y + ny * z);
        if (dx * dx + dy * dy + dz * dz < 1.0)
          mask[size_t(i)] = 1.0f, base[size_t(i)] = 900.0f + 200.0f * std::abs(g(rng));
      }
  std::vector<float> data(size_t(nv * nt));
  for (int64_t t = 0; t < nt; ++t) {
    const double drift = 5.0 * std::sin(2 * M_PI * double(t) / double(nt));
    const bool on = (int64_t(t * tr) % 12) < 4;
    for (int64_t i = 0; i < nv; ++i) {
      float v = 0.0f;
      if (mask[size_t(i)] > 0) v = base[size_t(i)] + float(drift) + (on ? 8.0f : 0.0f) + 15.0f * g(rng);
      data[size_t(t * nv + i)] = std::round(v);
    }
  }
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  affine.diagonal() << 2.5, 2.5, 2.5, 1.0;
  nifti::write_series(dir + "/run_bold.nii.gz", {nx, ny, nz, nt}, affine, tr, data, "int16");
  nifti::write_series(dir + "/mask.nii.gz", {nx, ny, nz, 1}, affine, 0.0, mask, "int16");
  std::ofstream ev(dir + "/run_events.tsv");
  ev << "onset\tduration\ttrial_type\n";
  for (int64_t k = 0; 12.0 * double(k) + 4.0 <= double(nt) * tr; ++k) ev << 12 * k << "\t4\tstim" << k % 10 << "\n";
  return 0;
}
