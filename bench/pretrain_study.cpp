// A simulated pretraining study for the streaming benchmark: N subjects' samples.h5 files (as
// v2c-prepare writes them, with stimulus features), without going through NIfTI. Stimuli are unit
// vectors in D dimensions; a latent code z = f·M (rank 16, shared by all subjects) is read out by
// each subject's random voxel weights A_s, plus unit Gaussian noise: x = z·A_s + ε.
//   bench-pretrain_study DIR SUBJECTS SAMPLES VOXELS D [RUNS]
// Writes DIR/sub-XX.h5; prints one line: the bytes of voxel data written.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pipeline/core/provenance.h"
#include "pipeline/core/rng.h"
#include "pipeline/io/samples.h"
#include "pipeline/math/linalg.h"

using namespace v2c;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: bench-pretrain_study DIR SUBJECTS SAMPLES VOXELS D [RUNS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int n_sub = std::atoi(argv[2]);
  const int64_t n = std::atol(argv[3]), p = std::atol(argv[4]), D = std::atol(argv[5]);
  const int runs = argc > 6 ? std::atoi(argv[6]) : 8;
  constexpr int64_t kStimuli = 1000, kRank = 16;
  rng::StreamRng rng(12);
  MatrixF F(kStimuli, D), M(D, kRank);
  for (int64_t i = 0; i < F.size(); ++i) F.data()[i] = float(rng.normal());
  F.rowwise().normalize();
  for (int64_t i = 0; i < M.size(); ++i) M.data()[i] = float(rng.normal());
  MatrixF Z(kStimuli, kRank);
  linalg::gemm(F, false, M, false, Z);
  std::vector<std::string> ids(kStimuli);
  for (int64_t k = 0; k < kStimuli; ++k) ids[size_t(k)] = "stim-" + std::to_string(k);
  Provenance prov;
  prov.stage = "bench-pretrain_study";
  double bytes = 0;
  for (int s = 1; s <= n_sub; ++s) {
    Samples smp;
    char sub[16];
    std::snprintf(sub, sizeof(sub), "sub-%02d", s);
    smp.subject = sub;
    MatrixF A(kRank, p);
    for (int64_t i = 0; i < A.size(); ++i) A.data()[i] = float(rng.normal() / std::sqrt(double(kRank)));
    std::vector<int64_t> stim(static_cast<size_t>(n));
    for (auto& k : stim) k = rng.below(kStimuli);
    MatrixF Zs = linalg::take_rows(Z, stim);
    smp.data.resize(n, p);
    linalg::gemm(Zs, false, A, false, smp.data);
    for (int64_t i = 0; i < smp.data.size(); ++i) smp.data.data()[i] += float(rng.normal());
    for (int64_t i = 0; i < n; ++i) {
      smp.stimulus.push_back(ids[size_t(stim[size_t(i)])]);
      smp.run.push_back(int32_t(i * runs / n));
      smp.onset_s.push_back(double(i % (n / runs + 1)) * 4.0);
      smp.duration_s.push_back(2.0);
      smp.volumes.push_back(1);
      smp.feature_row.push_back(int32_t(stim[size_t(i)]));
    }
    smp.ijk.resize(p, 3);
    smp.xyz.resize(p, 3);
    for (int64_t v = 0; v < p; ++v)
      for (int c = 0; c < 3; ++c) smp.ijk(v, c) = int32_t(c == 0 ? v % 100 : c == 1 ? (v / 100) % 100 : v / 10000);
    smp.xyz = smp.ijk.cast<double>();
    smp.grid_dims = {100, 100, p / 10000 + 1};
    for (int r = 0; r < runs; ++r) {
      smp.run_source.push_back("simulated");
      smp.run_events.push_back("simulated");
      smp.run_volumes.push_back(int32_t(n / runs + 1));
      smp.run_tr_s.push_back(2.0);
    }
    smp.feature_ids = ids;
    smp.features = F;
    smp.feature_source = "simulated";
    smp.mask_voxels = p;
    smp.sample_mode = "event";
    smp.mask_source = "simulated";
    smp.mask_method = "file";
    write_samples(dir + "/" + smp.subject + ".h5", smp, prov, true);
    bytes += double(smp.data.size()) * sizeof(float);
  }
  std::printf("%.0f\n", bytes);
  return 0;
}
