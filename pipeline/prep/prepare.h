// v2c-prepare's work: one subject's NIfTI runs + mask + events -> Samples.
//
// Runs are streamed: one run file is held at a time (decompressed), its masked voxels are
// detrended and scaled from that run's own data, its samples are appended, and it is released.
// Peak memory ~ one run + its masked matrix + the output.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/io/samples.h"

namespace v2c::prep {

struct PrepareConfig {
  int detrend_order = 2;
  std::string scaling = "zscore";
  double shift_s = 4.0;
  std::string sample_mode = "event";
  std::string stimulus_column = "trial_type";
  std::vector<std::string> rest_labels = {"rest", "0", "n/a"};
  std::vector<std::string> exclude_stimuli = {};
  double tr_s = 0.0;
  std::string nonfinite = "error";
  double grid_tolerance = 1e-3;
  bool l2_normalize_features = false;
  std::string missing_features = "error";
  std::string alias_from_column = "stimulus";
  std::string alias_to_column = "feature";

  void describe(config::Schema& s) {
    s.field("detrend_order", detrend_order,
            "polynomial order removed from each run's voxel time series (-1 none, 0 mean, 1 linear, ...)")
        .range(-1, 5);
    s.field("scaling", scaling, "per-run voxel scaling after detrending: zscore, percent signal change, none")
        .one_of({"zscore", "psc", "none"});
    s.field("shift_s", shift_s, "haemodynamic shift (s): event mode averages the volumes in [onset+shift, onset+shift+max(duration, TR))")
        .range(0.0, 30.0);
    s.field("sample_mode", sample_mode, "one sample per stimulus presentation (event) or per labelled volume (volume)")
        .one_of({"event", "volume"});
    s.field("stimulus_column", stimulus_column, "events.tsv column naming the stimulus (e.g. trial_type, stim_file)");
    s.field("rest_labels", rest_labels, "stimulus labels that mean rest/baseline; their volumes are dropped");
    s.field("exclude_stimuli", exclude_stimuli, "stimulus ids to leave out entirely (e.g. scrambledpix)");
    s.field("tr_s", tr_s, "repetition time (s); 0 = from each run's NIfTI header (headers can lie: set it)")
        .min(0.0);
    s.field("nonfinite", nonfinite,
            "voxels with NaN/Inf in some volumes of a run: error, or drop the voxel (all-NaN voxels are always dropped)")
        .one_of({"error", "drop"});
    s.field("grid_tolerance", grid_tolerance, "max |difference| between affines of runs and mask that counts as equal (mm)")
        .range(0.0, 1.0);
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
  std::vector<std::string> bold;    // run files, in run order (or one file + a labels file)
  std::vector<std::string> events;  // one events.tsv per bold file (BIDS), or empty
  std::string labels;               // per-volume "label run" file instead of events
  std::string mask;
  std::string features;             // optional feature table (.npy/.h5/.csv/.tsv)
  std::string feature_names;        // .npy: ids, one per line
  std::string feature_aliases;      // optional stimulus -> feature id table
};

// Fills inputs.bold/events/mask from a BIDS directory: sub-<S>/func/sub-<S>_task-<T>_run-*_bold.nii[.gz]
// with their _events.tsv, mask sub-<S>/anat/sub-<S>_desc-brain_mask.nii[.gz] unless one is given.
void discover_bids(const std::string& root, const std::string& subject, const std::string& task,
                   PrepareInputs& inputs);

Samples prepare_subject(const PrepareInputs& inputs, const PrepareConfig& cfg);

// Joins a feature table onto samples: each sample's stimulus (through the alias table, if any)
// must have a vector; fills out.feature_ids/features/feature_row. `missing`: "error" (input
// error naming the stimulus) or "drop" (those samples are removed, with a warning).
struct FeatureJoin {
  std::string features, feature_names, feature_aliases;
  bool l2_normalize = false;
  std::string missing = "error";
  std::string alias_from_column = "stimulus", alias_to_column = "feature";
};
void attach_features(Samples& samples, const FeatureJoin& join);

}  // namespace v2c::prep
