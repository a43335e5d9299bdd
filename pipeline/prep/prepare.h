// v2c-prepare's work: one subject's NIfTI runs + mask + events -> Samples.
//
// Runs are streamed: one run file is held at a time (decompressed), its masked voxels are
// cleaned from that run's own data (drift terms and confounds regressed out, then scaling), its
// samples are made (event windows, per-volume, or GLM trial estimates), optionally averaged, and
// appended; then it is released. Peak memory ~ one run + its masked matrix + the output.
// With --mask auto every run is read once more first, for the mean image.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/io/samples.h"
#include "pipeline/prep/epi_mask.h"
#include "pipeline/prep/feature_join.h"

namespace v2c::nifti {
struct Mask;
}

namespace v2c::prep {

constexpr const char* kAutoMask = "auto";  // --mask auto
constexpr const char* kNoEvents = "none";  // --events none: a run without events (rest, movie)

struct PrepareConfig {
  int detrend_order = 2;
  double high_pass_s = 0.0;
  std::vector<std::string> confounds = {};
  std::string scaling = "zscore";
  std::string sample_mode = "event";
  double shift_s = 4.0;
  std::string glm_method = "lss";
  std::string lss_group_column = "";
  int glm_oversampling = 16;
  std::string average_by = "";
  std::string group_column = "";
  std::string stimulus_column = "trial_type";
  std::vector<std::string> rest_labels = {"rest", "0", "n/a"};
  std::vector<std::string> exclude_stimuli = {};
  double tr_s = 0.0;
  std::string nonfinite = "error";
  double grid_tolerance = 1e-3;
  double auto_mask_lower_cutoff = 0.2;
  double auto_mask_upper_cutoff = 0.85;
  int auto_mask_opening = 2;
  bool l2_normalize_features = false;
  std::string missing_features = "error";
  std::string alias_from_column = "stimulus";
  std::string alias_to_column = "feature";

  void describe(config::Schema& s) {
    s.field("detrend_order", detrend_order,
            "polynomial order removed from each run's voxel time series (-1 none, 0 mean, 1 linear, ...)")
        .range(-1, 5);
    s.field("high_pass_s", high_pass_s,
            "high-pass cutoff (s) as a cosine basis regressed out with the drift (SPM/nilearn; 128 is SPM's); 0 = none")
        .range(0.0, 10000.0);
    s.field("confounds", confounds,
            "confound columns regressed out with the drift, by name or wildcard (trans_*, rot_*, csf, white_matter, "
            "cosine*), from fMRIPrep's *_desc-confounds_timeseries.tsv beside each run or --confounds");
    s.field("scaling", scaling,
            "per-run voxel scaling after drift and confound removal: zscore, percent signal change, none")
        .one_of({"zscore", "psc", "none"});
    s.field("sample_mode", sample_mode,
            "one sample per event: mean of its shifted window (event) or a GLM trial estimate (glm); or one per "
            "labelled volume (volume)")
        .one_of({"event", "volume", "glm"});
    s.field("shift_s", shift_s,
            "haemodynamic shift (s): event mode averages the volumes in [onset+shift, onset+shift+max(duration, TR))")
        .range(0.0, 30.0);
    s.field("glm_method", glm_method,
            "glm mode: lsa (one model, a regressor per trial) or lss (a model per trial: it against the others; "
            "Mumford et al. 2012)")
        .one_of({"lsa", "lss"});
    s.field("lss_group_column", lss_group_column,
            "glm lss: events column whose values group the other trials into one regressor each (e.g. the "
            "condition); empty = all other trials in one regressor");
    s.field("glm_oversampling", glm_oversampling, "glm: fine time steps per TR for the HRF convolution").range(1, 100);
    s.field("average_by", average_by,
            "events column: samples of a run sharing its value are averaged into one (e.g. block); empty = none");
    s.field(
        "group_column", group_column,
        "events column marking CV groups (ridge.outer: event_groups): each stretch of consecutive events of a "
        "run with one value is a group (e.g. block, or the condition of a block design); empty = the stimulus column");
    s.field("stimulus_column", stimulus_column, "events.tsv column naming the stimulus (e.g. trial_type, stim_file)");
    s.field("rest_labels", rest_labels, "stimulus labels that mean rest/baseline; their volumes are dropped");
    s.field("exclude_stimuli", exclude_stimuli,
            "stimulus ids to leave out of the samples (e.g. scrambledpix; glm mode still models them)");
    s.field("tr_s", tr_s,
            "repetition time (s); 0 = the BIDS sidecar's RepetitionTime, else the NIfTI header's (headers can lie)")
        .min(0.0);
    s.field(
         "nonfinite", nonfinite,
         "voxels with NaN/Inf in some volumes of a run: error, or drop the voxel (all-NaN voxels are always dropped)")
        .one_of({"error", "drop"});
    s.field("grid_tolerance", grid_tolerance,
            "max |difference| between affines of runs and mask that counts as equal (mm)")
        .range(0.0, 1.0);
    s.field("auto_mask_lower_cutoff", auto_mask_lower_cutoff,
            "--mask auto: lower fraction of the mean image's sorted values left out of the threshold search (nilearn)")
        .range(0.0, 1.0);
    s.field("auto_mask_upper_cutoff", auto_mask_upper_cutoff,
            "--mask auto: upper fraction of the sorted values left out (nilearn)")
        .range(0.0, 1.0);
    s.field("auto_mask_opening", auto_mask_opening,
            "--mask auto: erosions of the morphological opening (nilearn: 2; 0 for coarse voxels, e.g. 25 mm)")
        .range(0, 10);
    s.field("l2_normalize_features", l2_normalize_features, "divide each stimulus feature vector by its L2 norm");
    s.field("missing_features", missing_features,
            "a sample whose stimulus has no feature vector: error, or drop the sample with a warning")
        .one_of({"error", "drop"});
    s.field("alias_from_column", alias_from_column, "--feature-aliases: column holding the stimulus id");
    s.field("alias_to_column", alias_to_column, "--feature-aliases: column holding the feature-table id");
  }
};

struct PrepareInputs {
  std::string subject;
  std::vector<std::string> bold;       // run files, in run order (or one file + a labels file)
  std::vector<std::string> events;     // one events.tsv per bold file (BIDS), or empty
  std::string labels;                  // per-volume "label run" file instead of events
  std::string mask;                    // mask file, or kAutoMask
  std::string features;                // optional feature table (.npy/.h5/.csv/.tsv), or kOneHot
  std::string feature_names;           // .npy: ids, one per line
  std::string feature_aliases;         // optional stimulus -> feature id table
  std::vector<std::string> confounds;  // one confounds TSV per bold file; empty: found beside each run
  std::vector<std::string> sidecars;   // one BIDS JSON sidecar per bold file ("" = none); empty: beside each run
  // Called with each run's cleaned volumes [n_volumes x n_mask] (mask order), in run order
  // (timeseries_collect.h). When set, a subject whose runs give no sample at all is not an error.
  std::function<void(const MatrixF& cleaned, const nifti::Mask& mask)> on_cleaned_run;
};

// The automatic mask of --mask auto, for the caller to write beside the samples.
struct AutoMaskResult {
  std::vector<uint8_t> inside;  // [nx*ny*nz] on the runs' grid, x fastest
  double threshold = 0;
};

Samples prepare_subject(const PrepareInputs& inputs, const PrepareConfig& cfg, AutoMaskResult* auto_mask = nullptr);

}  // namespace v2c::prep
