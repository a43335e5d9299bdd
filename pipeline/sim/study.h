// The simulated study behind v2c-simulate: a planted-truth generative model of an fMRI
// image-decoding experiment, as I/O-free kernels (parameters in, matrices out). The files on disk
// are pipeline/sim/bids_writer.h; the config section is pipeline/sim/config.h.
//
// The model, in order (every draw from std::mt19937_64 through core/rng.h's transforms, so results
// do not depend on the standard library's distributions; each component has its own seed stream):
//   stimuli   n_categories random unit centres in feature_dim dims; stimulus =
//             normalize(centre + category_spread * z / sqrt(feature_dim)), z ~ N(0, I): CLIP-like
//             unit vectors clustered by category (cosine to its centre ~ 1/sqrt(1 + spread^2)).
//   g         features -> latent (latent_dim), shared by all subjects:
//               mlp:    g(f) = (W2 gelu(gain * W1 f + b1) - mean) / scale
//               linear: g(f) = (W f - mean) / scale
//             mean/scale standardise every latent unit over the study's stimuli (unit variance).
//   subject   own grid (base dims +- grid_jitter per axis, voxel_mm isotropic, centred affine with
//             a subject-specific translation of up to +-5 mm per axis), own ellipsoid brain mask,
//             per-voxel baseline, a random set of responsive voxels (responsive_fraction), a
//             spatially smooth read-out A (rows: gain in [0.5, 1.5] times a unit vector; zero rows
//             for voxels that do not respond). Response amplitude of voxel v to stimulus f:
//               amp_v(f) = baseline_v * signal_pct / 100 * A_v . g(f)
//   runs      train runs show every training stimulus exactly once (shuffled, split evenly);
//             test runs show every test stimulus test_repeats times. Each stimulus (or block) is
//             on for stimulus_s (block_s), then off for isi_s, jittered by U(-isi_jitter_s,
//             +isi_jitter_s) per event when isi_jitter_s > 0 (event-related designs). BOLD of voxel v, volume k
//             (time t_k = k * tr_s, BIDS onsets from the start of the first volume):
//               baseline_v + sum_events amp_v(stim) * (boxcar * hrf)(t_k) + drift_v(t_k) + noise_v(t_k)
//             The boxcar * HRF convolution is exact (analytic HRF integral). drift: 3 random
//             low-frequency cosines whose std within each run is drift% of the baseline. noise:
//             AR(1) with coefficient ar1, stationary from the first volume, std c * baseline_v,
//             c chosen per subject so that snr (see snr_of) holds in expectation.
//
// Shapes: features [n_stimuli x feature_dim], latent [n_stimuli x latent_dim], read-out
// [n_voxels x latent_dim], run matrices [n_volumes x n_voxels] (row = volume). Voxels of a subject
// are its mask voxels in flat-index order (i + nx*(j + ny*k)), as nifti::load_mask returns them.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/rng.h"
#include "pipeline/core/types.h"
#include "pipeline/sim/spontaneous.h"

namespace v2c::sim {

// Every knob of the model; the stage's config section "simulate" documents each one.
struct StudyParams {
  // stimuli
  int n_categories = 8;
  int feature_dim = 512;
  double category_spread = 1.0;
  int train_per_category = 24;
  int test_per_category = 5;
  int train_per_subject = 0;  // training stimuli each subject sees, drawn from the pool (0 = all)
  // shared feature -> latent function g
  int latent_dim = 64;
  int hidden_dim = 256;
  double nonlinearity_gain = 2.0;
  bool linear = false;
  // subjects
  int n_subjects = 8;
  int unlabelled_subjects = 0;  // more subjects after them with rest runs only (data for self-supervision)
  std::vector<int> grid_dims = {16, 20, 16};
  int grid_jitter = 2;
  double voxel_mm = 3.0;
  double mask_fill_min = 0.85;  // ellipsoid radii, as fractions of the half-extent of the grid
  double mask_fill_max = 1.0;
  double responsive_fraction = 0.6;
  double readout_smoothness_vox = 1.0;
  std::vector<double> baseline_range = {800.0, 1200.0};
  double signal_pct = 2.0;
  // runs
  int train_runs = 8;
  int test_runs = 2;
  int test_repeats = 2;
  std::string design = "event";
  double stimulus_s = 4.0;
  double isi_s = 4.0;
  double isi_jitter_s = 0.0;  // each fixation is isi_s + U(-isi_jitter_s, +isi_jitter_s)
  double block_s = 16.0;
  double rest_start_s = 8.0;
  double rest_end_s = 12.0;
  double tr_s = 2.0;
  // noise
  double drift = 1.0;
  double ar1 = 0.3;
  double snr = 0.5;
  std::string bold_datatype = "int16";
  // variants that do not match the encoder's structure (issue 10; docs/validation.md)
  bool shared_latent = true;          // false: every subject reads out its own g (no shared structure)
  double voxel_nonlinearity = 0.0;    // k: amp_v = h_v(A_v g) with h_v(x) = (tanh(k (x - c_v)) + tanh(k c_v)) / k
  double noise_smoothness_vox = 0.0;  // Gaussian sigma (voxels) of the noise's spatial correlation; 0 = independent
  // spontaneous activity and rest runs (spontaneous.h)
  SpontaneousParams spontaneous;
};

// Rules that involve several fields (the single-field rules live in the stage's schema):
// usage_error naming the field ("simulate.train_runs"), its value and the rule.
void validate(const StudyParams& p);

// ---- random numbers ----------------------------------------------------------------------

// Every draw of the model; one per seed stream (rng::derive_seed of the study seed).
using Rng = rng::StreamRng;

// ---- stimuli and the shared latent model -------------------------------------------------

struct Stimuli {
  std::vector<std::string> ids;    // train-c03-0012 (category 3, item 12; both 0-based), test-c03-0002
  std::vector<int32_t> category;   // 0-based
  std::vector<std::string> split;  // "train" | "test"; all train stimuli first, category-major
  MatrixF features;                // [n_stimuli x feature_dim], unit rows
  MatrixF centres;                 // [n_categories x feature_dim], unit rows
  std::vector<int> train_indices() const;
  std::vector<int> test_indices() const;
};
Stimuli make_stimuli(const StudyParams& p, uint64_t seed);

struct LatentModel {
  bool linear = false;
  double gain = 1.0;
  MatrixD W1;     // [hidden_dim x feature_dim], mlp
  VectorD b1;     // hidden_dim, mlp
  MatrixD W2;     // [latent_dim x hidden_dim], mlp
  MatrixD W;      // [latent_dim x feature_dim], linear
  VectorD mean;   // latent_dim, subtracted
  VectorD scale;  // latent_dim, divided by
  // [n x latent_dim] for features [n x feature_dim].
  MatrixD apply(const MatrixF& features) const;
};
// Draws g and fits mean/scale on `features` (each latent unit: zero mean, unit variance over them).
LatentModel make_latent_model(const StudyParams& p, uint64_t seed, const MatrixF& features);

double gelu(double x);

// ---- haemodynamics -----------------------------------------------------------------------

// SPM's canonical HRF (double gamma: response peak delay 6 s, undershoot 16 s, dispersion 1,
// undershoot ratio 1/6), scaled to unit integral over [0, inf): the plateau of a long block of
// amplitude a is a. Peaks at ~5 s. Zero for t <= 0.
double hrf(double t);
// Integral of hrf over [0, t] (analytic: regularised incomplete gamma of integer shape).
double hrf_integral(double t);
// hrf sampled at 0, dt, 2 dt, ... < length_s.
std::vector<double> sample_hrf(double dt, double length_s = 32.0);
// Response at time t to a boxcar of unit height on [onset, onset + duration]: exact convolution.
double boxcar_response(double t, double onset, double duration);

// ---- experimental design -----------------------------------------------------------------

struct Event {
  double onset_s, duration_s;
  int stimulus;  // row in Stimuli
};
struct Run {
  int number;         // 1-based, BIDS run label
  std::string split;  // "train" | "test"
  std::vector<Event> events;
  int n_volumes;
};
// All runs of one subject: train runs (1..train_runs), test runs, then rest runs (spontaneous.h).
std::vector<Run> make_schedule(const StudyParams& p, const Stimuli& stimuli, Rng& rng);
// [n_volumes x n_events]: column e = boxcar_response of event e at t_k = k * tr_s.
MatrixD design_matrix(const Run& run, double tr_s);

// ---- subjects ----------------------------------------------------------------------------

struct Subject {
  std::string id;                 // sub-01
  std::array<int64_t, 3> dims{};  // grid
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  std::vector<int64_t> flat;  // mask voxels, flat indices, increasing
  std::vector<std::array<int32_t, 3>> ijk;
  std::vector<uint8_t> responsive;  // n_voxels, 0/1
  VectorD baseline;                 // n_voxels
  MatrixD readout;                  // [n_voxels x latent_dim], zero rows where !responsive
  VectorD noise_std;                // n_voxels, marginal std of the AR(1) noise (set by calibrate_noise)
  double noise_scale = 0;           // c: noise_std = c * baseline
  std::vector<Run> runs;
  uint64_t run_seed = 0;        // runs' drift and noise streams derive from it
  VectorD nonlinearity_centre;  // n_voxels, c_v of voxel_nonlinearity, uniform in [-1, 1]
  int64_t n_voxels() const { return int64_t(flat.size()); }
};
// "01" for 1: the BIDS labels of subjects (sub-01) and runs (run-01).
std::string two_digits(int n);
// Subject `index` (0-based) of the study: grid, mask, read-out, baseline, schedule.
Subject make_subject(const StudyParams& p, int index, uint64_t seed, const Stimuli& stimuli);

// [n_stimuli x n_voxels] response amplitudes amp_v(f) (scanner units): baseline_v signal_pct/100
// times A_v g(f), or with voxel_nonlinearity k > 0 times h_v(A_v g(f)) (a saturating response whose
// threshold c_v differs per voxel and subject; h_v(x) -> x as k -> 0).
MatrixD amplitudes(const StudyParams& p, const Subject& s, const MatrixD& latent);

// [n_volumes x n_voxels] stimulus-driven signal of one run (no baseline).
MatrixD stimulus_signal(const Run& run, const MatrixD& amplitudes, double tr_s);

// The signal-to-noise ratio of the study: over the responsive voxels of a subject and all its runs,
//   snr = sqrt(sum (s - mean_run(s))^2) / sqrt(sum n^2)
// s the stimulus-driven signal (mean removed per run and voxel), n the AR(1) noise; drift and
// baseline are not counted. Returns NaN when there is no responsive voxel.
double snr_of(const std::vector<MatrixD>& signal, const std::vector<MatrixD>& noise,
              const std::vector<uint8_t>& responsive);
// The two sums of snr_of for one run (so runs can be summed without keeping them):
// sum over responsive voxels of (s - mean_run(s))^2, and of n^2.
double signal_sum_sq(const MatrixD& signal, const std::vector<uint8_t>& responsive);
double noise_sum_sq(const MatrixD& noise, const std::vector<uint8_t>& responsive);
// Sets s.noise_scale / s.noise_std so that the expected snr_of equals p.snr (without responsive
// voxels or signal: c = signal_pct / 100 / snr). Over the stimulus runs (rest runs do not count).
void calibrate_noise(const StudyParams& p, Subject& s, const MatrixD& amplitudes);

struct RunSeries {
  MatrixD signal, drift, noise;                 // each [n_volumes x n_voxels]
  MatrixD spontaneous;                          // [n_volumes x n_voxels] (spontaneous.h); empty (0 x 0) when off
  MatrixD bold(const VectorD& baseline) const;  // baseline + signal + drift + noise (+ spontaneous)
};
// Run `run_index` of s (index into s.runs), deterministic from s.run_seed.
RunSeries simulate_run(const StudyParams& p, const Subject& s, int run_index, const MatrixD& amplitudes);

// [n_volumes x n_voxels] AR(1) noise, column v with marginal std std_dev[v], stationary from row 0.
MatrixD ar1_noise(int n_volumes, const VectorD& std_dev, double ar1, Rng& rng);
// [n_volumes x n_voxels] slow drift: 3 cosines (periods 2T, T, 2T/3) with random weights, scaled
// so that column v has std (over the run) drift_pct / 100 * baseline[v].
MatrixD slow_drift(int n_volumes, const VectorD& baseline, double drift_pct, Rng& rng);

// ---- the whole study ---------------------------------------------------------------------

struct Study {
  StudyParams params;
  uint64_t seed = 0;
  Stimuli stimuli;
  LatentModel g;
  MatrixD latent;  // [n_stimuli x latent_dim] = g.apply(stimuli.features)
};
Study make_study(const StudyParams& p, uint64_t seed);
// The latent code subject `index` reads out: the study's shared g(f), or with shared_latent false
// the subject's own random g_s(f) (same architecture, own weights): the negative control in which
// pooling subjects cannot help. [n_stimuli x latent_dim]
MatrixD subject_latent(const Study& st, int index);

}  // namespace v2c::sim
