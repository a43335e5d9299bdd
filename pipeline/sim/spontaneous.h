// Spontaneous activity of the simulated study (issue 11): the shared latent space that stimuli
// drive (study.h: amp_v(f) = baseline_v * signal_pct/100 * A_v . g(f)) also fluctuates on its own,
// in every run, and subjects get rest runs (no stimuli, an events file with no events). The
// voxels read the fluctuation out through the subject's own read-out A, so a subject's read-out can
// in principle be learnt from its unlabelled volumes; `linked: false` is the negative control.
//
//   latent    u_t in R^latent_dim, each unit an AR(1) at the TR: u_0 ~ N(0, I),
//             u_t = ar * u_{t-1} + sqrt(1 - ar^2) * e_t, e_t ~ N(0, I) (stationary, unit variance);
//             an independent draw per run (its own seed stream of the subject's run seed).
//   read-out  S_v = baseline_v * pct/100 * A_v (linked), or baseline_v * pct/100 * A_pi(v) with pi
//             a random permutation of the subject's voxels (not linked: the same amplitudes and
//             sparsity, but no voxel carries its stimulus read-out's pattern, so learning the
//             spontaneous read-out says nothing about the stimulus one).
//   signal    x_spont[t, v] = S_v . u_t, added to the run's BOLD beside the stimulus signal,
//             drift and noise (the SNR calibration counts the stimulus signal only).
//   rest runs rest_runs runs of rest_run_s seconds each, after the test runs, with no events.
//
// Shapes: latent [n_volumes x latent_dim], read-out [n_voxels x latent_dim], signal
// [n_volumes x n_voxels]. Kernels: no I/O.
#pragma once

#include <vector>

#include "pipeline/core/rng.h"
#include "pipeline/core/types.h"

namespace v2c::sim {

struct Run;
struct Subject;

struct SpontaneousParams {
  double pct = 0.0;           // std of a unit read-out of the fluctuation, percent of baseline; 0 = none
  double ar = 0.9;            // AR(1) coefficient of every latent unit per TR, [0, 1)
  bool linked = true;         // false: the voxels' spontaneous read-out is a permutation of A's rows
  int rest_runs = 0;          // runs without stimuli per subject, after the test runs
  double rest_run_s = 300.0;  // length of each rest run (s)
};

// [n_volumes x latent_dim] stationary AR(1) units (header).
MatrixD spontaneous_latent(int n_volumes, int latent_dim, double ar, rng::StreamRng& rng);

// The subject's spontaneous read-out S [n_voxels x latent_dim] (header); the permutation of the
// negative control comes from the subject's own seed stream.
MatrixD spontaneous_readout(const SpontaneousParams& sp, const Subject& s);

// [n_volumes x n_voxels] spontaneous signal of run `run_index` of s (no baseline); empty (0 x 0)
// when pct is 0. Deterministic from s.run_seed.
MatrixD spontaneous_signal(const SpontaneousParams& sp, const Subject& s, int run_index);

// Appends sp.rest_runs runs without events (split "rest"), numbered after the last run,
// ceil(rest_run_s / tr_s) volumes each.
void append_rest_runs(const SpontaneousParams& sp, double tr_s, std::vector<Run>& runs);

}  // namespace v2c::sim
