#include "pipeline/sim/spontaneous.h"

#include <cmath>
#include <numeric>

#include "pipeline/core/error.h"
#include "pipeline/sim/study.h"

namespace v2c::sim {

namespace {
// Seed streams of the subject's run seed; simulate_run uses streams 0..n_runs-1.
constexpr uint64_t kLatentStream = 0x5350'4f4e'5441'4eull;  // one index per run
constexpr uint64_t kPermutationStream = 0x5045'524dull;
}  // namespace

MatrixD spontaneous_latent(int n_volumes, int latent_dim, double ar, rng::StreamRng& rng) {
  V2C_ASSERT(ar >= 0 && ar < 1, "ar = ", ar);
  MatrixD u(n_volumes, latent_dim);
  const double innovation = std::sqrt(1.0 - ar * ar);
  for (int t = 0; t < n_volumes; ++t)
    for (int k = 0; k < latent_dim; ++k)
      u(t, k) = (t == 0 ? 0.0 : ar * u(t - 1, k)) + (t == 0 ? 1.0 : innovation) * rng.normal();
  return u;
}

MatrixD spontaneous_readout(const SpontaneousParams& sp, const Subject& s) {
  const int64_t n = s.n_voxels();
  std::vector<int64_t> row(static_cast<size_t>(n));
  std::iota(row.begin(), row.end(), int64_t(0));
  if (!sp.linked) {
    rng::StreamRng rng(rng::derive_seed(s.run_seed, kPermutationStream));
    rng.shuffle(row);
  }
  MatrixD S(n, s.readout.cols());
  for (int64_t v = 0; v < n; ++v) S.row(v) = s.baseline[v] * sp.pct / 100.0 * s.readout.row(row[size_t(v)]);
  return S;
}

MatrixD spontaneous_signal(const SpontaneousParams& sp, const Subject& s, int run_index) {
  if (sp.pct <= 0) return MatrixD();
  V2C_ASSERT(run_index >= 0 && size_t(run_index) < s.runs.size(), "run ", run_index);
  rng::StreamRng rng(rng::derive_seed(s.run_seed, kLatentStream, uint64_t(run_index)));
  const MatrixD u = spontaneous_latent(s.runs[size_t(run_index)].n_volumes, int(s.readout.cols()), sp.ar, rng);
  return u * spontaneous_readout(sp, s).transpose();
}

void append_rest_runs(const SpontaneousParams& sp, double tr_s, std::vector<Run>& runs) {
  const int n_volumes = std::max(1, int(std::ceil(sp.rest_run_s / tr_s - 1e-9)));
  for (int k = 0; k < sp.rest_runs; ++k) runs.push_back(Run{int(runs.size()) + 1, "rest", {}, n_volumes});
}

}  // namespace v2c::sim
