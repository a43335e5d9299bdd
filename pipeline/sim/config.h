// The `simulate:` section of a config: every knob of the simulated study (sim::StudyParams holds
// the only defaults) with its doc and rule. Read by v2c-simulate, and by v2c-plan for
// simulate.n_subjects.
#pragma once

#include "pipeline/core/config.h"
#include "pipeline/sim/study.h"

namespace v2c::sim {

struct SimulateConfig {
  StudyParams p;

  void describe(config::Schema& s) {
    auto positive = [](const double& v) { return v > 0; };
    s.field("n_categories", p.n_categories, "stimulus categories").range(1, 99);
    s.field("feature_dim", p.feature_dim, "dimension of the stimulus features (CLIP-like unit vectors)").range(2, 8192);
    s.field("category_spread", p.category_spread,
            "within-category spread: stimulus = normalize(centre + spread * z / sqrt(feature_dim)), z ~ N(0, I)")
        .min(0.0);
    s.field("train_per_category", p.train_per_category, "training stimuli per category (each shown once)")
        .range(1, 9999);
    s.field("test_per_category", p.test_per_category, "novel test stimuli per category (never in training runs)")
        .range(0, 9999);
    s.field("train_per_subject", p.train_per_subject,
            "training stimuli each subject sees, a random subset of the pool (0 = the whole pool, shared by all)")
        .range(0, 1000000);
    s.field("latent_dim", p.latent_dim, "dimension of the shared latent code g(f)").range(1, 4096);
    s.field("hidden_dim", p.hidden_dim, "hidden units of the MLP g (ignored when linear)").range(1, 16384);
    s.field("nonlinearity_gain", p.nonlinearity_gain, "g = W2 gelu(gain * W1 f + b1): larger = more nonlinear")
        .check(positive, "> 0");
    s.field("linear", p.linear, "g is a random linear projection instead of the MLP");
    s.field("n_subjects", p.n_subjects, "subjects sub-01, sub-02, ...").range(1, 99);
    s.field("unlabelled_subjects", p.unlabelled_subjects,
            "more subjects after them, with the rest runs only (no stimuli, no samples): unlabelled data for "
            "self-supervised pretraining, never evaluated (needs rest_runs > 0)")
        .range(0, 99);
    s.field("grid_dims", p.grid_dims, "base grid of a subject (voxels), each axis jittered by +-grid_jitter")
        .check([](const std::vector<int>& v) { return v.size() == 3; }, "3 values");
    s.field("grid_jitter", p.grid_jitter, "per-subject random change of each grid axis (voxels)").range(0, 64);
    s.field("voxel_mm", p.voxel_mm, "isotropic voxel size (mm)").check(positive, "> 0");
    s.field("mask_fill_min", p.mask_fill_min, "brain ellipsoid radius, smallest fraction of the grid half-extent")
        .range(0.05, 2.0);
    s.field("mask_fill_max", p.mask_fill_max, "brain ellipsoid radius, largest fraction of the grid half-extent")
        .range(0.05, 2.0);
    s.field("responsive_fraction", p.responsive_fraction, "fraction of mask voxels that respond to stimuli")
        .range(0.0, 1.0);
    s.field("readout_smoothness_vox", p.readout_smoothness_vox,
            "Gaussian sigma (voxels) of the spatial smoothness of the read-out weights; 0 = independent voxels")
        .range(0.0, 10.0);
    s.field("baseline_range", p.baseline_range, "per-voxel baseline intensity, uniform in [low, high]")
        .check([](const std::vector<double>& v) { return v.size() == 2 && v[0] > 0 && v[0] <= v[1]; },
               "[low, high] with 0 < low <= high");
    s.field("signal_pct", p.signal_pct, "response amplitude of a unit latent read-out, percent of baseline")
        .check(positive, "> 0");
    s.field("train_runs", p.train_runs, "runs that together show every training stimulus once").min(1);
    s.field("test_runs", p.test_runs, "runs showing the test stimuli").min(0);
    s.field("test_repeats", p.test_repeats, "presentations of each test stimulus across the test runs").min(1);
    s.field("design", p.design, "event: stimulus_s on, isi_s off; block: block_s on, isi_s off")
        .one_of({"event", "block"});
    s.field("stimulus_s", p.stimulus_s, "event design: stimulus duration (s)").check(positive, "> 0");
    s.field("isi_s", p.isi_s, "fixation between stimuli (event) or blocks (block) (s)").min(0.0);
    s.field("isi_jitter_s", p.isi_jitter_s,
            "jittered onsets: each fixation is isi_s + U(-isi_jitter_s, +isi_jitter_s) (s); 0 = fixed, <= isi_s")
        .min(0.0);
    s.field("block_s", p.block_s, "block design: block duration (s)").check(positive, "> 0");
    s.field("rest_start_s", p.rest_start_s, "fixation before the first stimulus (s)").min(0.0);
    s.field("rest_end_s", p.rest_end_s, "fixation after the last stimulus (s)").min(0.0);
    s.field("tr_s", p.tr_s, "repetition time (s)").range(0.1, 10.0);
    s.field("drift", p.drift, "slow drift (3 low-frequency cosines): std within a run, percent of baseline").min(0.0);
    s.field("ar1", p.ar1, "AR(1) coefficient of the noise").range(0.0, 0.99);
    s.field("snr", p.snr,
            "signal-to-noise ratio: sqrt(sum s^2 / sum n^2) over the responsive voxels and all volumes of a "
            "subject, s the stimulus-driven signal (mean removed per run), n the AR(1) noise (drift excluded)")
        .check(positive, "> 0");
    s.field("bold_datatype", p.bold_datatype, "NIfTI datatype of the BOLD runs (int16 uses scl_slope)")
        .one_of({"int16", "float32"});
    // variants whose truth does not match the encoder's structure (docs/validation.md)
    s.field("shared_latent", p.shared_latent,
            "true: every subject reads out the same g(f); false: each subject its own random g_s(f) of the same "
            "form (negative control: no shared structure, pooling subjects cannot help; ground_truth.h5's "
            "/stimuli/latent is then the shared g, read by nobody)");
    s.field("voxel_nonlinearity", p.voxel_nonlinearity,
            "k >= 0: voxel v responds h_v(A_v g) = (tanh(k (x - c_v)) + tanh(k c_v)) / k, c_v uniform in [-1, 1] "
            "per voxel and subject (subject-specific saturating responses); 0 = linear read-out")
        .range(0.0, 100.0);
    s.field("noise_smoothness_vox", p.noise_smoothness_vox,
            "Gaussian sigma (voxels) of the spatial correlation of the noise (AR(1) innovations smoothed over the "
            "grid); 0 = independent voxels")
        .range(0.0, 10.0);
    // spontaneous activity and rest runs (spontaneous.h)
    SpontaneousParams& sp = p.spontaneous;
    s.field("spontaneous_pct", sp.pct,
            "spontaneous activity: std of the shared latent's own fluctuation read out by a voxel's stimulus "
            "read-out, percent of baseline, in every run; 0 = none")
        .min(0.0);
    s.field("spontaneous_ar", sp.ar, "AR(1) coefficient per TR of each latent unit's spontaneous fluctuation")
        .range(0.0, 0.99);
    s.field("spontaneous_linked", sp.linked,
            "false: voxels read the fluctuation out through a permutation of their read-out rows (negative control: "
            "unlabelled data then say nothing about the stimulus read-out)");
    s.field("rest_runs", sp.rest_runs,
            "runs without stimuli (events files without events) per subject, after the "
            "test runs")
        .range(0, 1000);
    s.field("rest_run_s", sp.rest_run_s, "length of each rest run (s)").check(positive, "> 0");
  }
};

}  // namespace v2c::sim
