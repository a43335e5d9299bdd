// v2c-simulate: writes a simulated fMRI image-decoding study with a planted ground truth
// (the generative model is pipeline/sim/study.h).
#include <filesystem>

#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/sim/study.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "simulate",
    .summary = "generate a simulated fMRI decoding study (BIDS-like) with a known ground truth",
    .description =
        "Stimuli are CLIP-like unit vectors clustered in categories; a nonlinear function g shared by all "
        "subjects maps them to a latent code; each subject's voxels read the code out through their own "
        "random weights. BOLD runs add the haemodynamic response (SPM canonical HRF), slow drift and AR(1) "
        "noise. Writes dataset_description.json, participants.tsv, stimuli/features.h5, stimuli/stimuli.tsv, "
        "sub-XX/anat (brain mask), sub-XX/func (bold, events, runs.tsv) and ground_truth.h5. The same seed "
        "and config give identical NIfTI and TSV files.",
    .options = {},
    .positional = "",
    .positional_help = "",
    .has_output = true,
    .output_help = "study directory to create (refused if it exists, unless --force)",
};

struct SimulateConfig {
  sim::StudyParams p;

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
    s.field("block_s", p.block_s, "block design: block duration (s)").check(positive, "> 0");
    s.field("rest_start_s", p.rest_start_s, "fixation before the first stimulus (s)").min(0.0);
    s.field("rest_end_s", p.rest_end_s, "fixation after the last stimulus (s)").min(0.0);
    s.field("tr_s", p.tr_s, "repetition time (s)").range(0.1, 10.0);
    s.field("drift", p.drift, "slow drift (3 low-frequency cosines): std within a run, percent of baseline")
        .min(0.0);
    s.field("ar1", p.ar1, "AR(1) coefficient of the noise").range(0.0, 0.99);
    s.field("snr", p.snr,
            "signal-to-noise ratio: sqrt(sum s^2 / sum n^2) over the responsive voxels and all volumes of a "
            "subject, s the stimulus-driven signal (mean removed per run), n the AR(1) noise (drift excluded)")
        .check(positive, "> 0");
    s.field("bold_datatype", p.bold_datatype, "NIfTI datatype of the BOLD runs (int16 uses scl_slope)")
        .one_of({"int16", "float32"});
  }
};

void run(StageContext& ctx, SimulateConfig& cfg) {
  sim::validate(cfg.p);
  AtomicOutput out(ctx.out, ctx.force, /*is_directory=*/true);
  std::error_code ec;
  std::filesystem::create_directories(out.temp_path(), ec);
  if (ec) throw io_error("cannot create directory '", out.temp_path(), "': ", ec.message());
  log::info("simulating ", cfg.p.n_subjects, " subjects, ", cfg.p.train_runs, " train + ", cfg.p.test_runs,
            " test runs each, seed ", ctx.seed);
  const sim::StudySummary sum = sim::write_study(out.temp_path(), cfg.p, ctx.seed, ctx.provenance);
  out.commit();
  log::info("wrote ", out.final_path(), ": ", sum.n_subjects, " subjects, ", sum.n_runs, " runs, ", sum.min_voxels,
            "-", sum.max_voxels, " voxels per subject, measured snr ", sum.min_snr, "-", sum.max_snr);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<SimulateConfig>(argc, argv, spec, run); }
