// The simulated study on disk, BIDS-like: the files v2c-simulate writes from the generative model
// (pipeline/sim/study.h) and the planted truth beside them.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/core/provenance.h"
#include "pipeline/sim/study.h"

namespace v2c::sim {

// Writes the study into the existing, empty directory `dir` (the stage makes it atomic):
//   dataset_description.json, participants.tsv, stimuli/{features.h5, stimuli.tsv},
//   sub-XX/anat/sub-XX_desc-brain_mask.nii.gz, sub-XX/func/sub-XX_task-sim_run-NN_{bold.nii.gz,events.tsv},
//   sub-XX/func/sub-XX_task-sim_runs.tsv, ground_truth.h5.
// Subjects one after another (progress on stderr); the runs of a subject in parallel (OpenMP),
// so memory holds a few runs at a time. Byte-identical output for the same params and seed,
// except created_utc (and command line) in the HDF5 provenance.
struct StudySummary {
  int n_subjects = 0, n_runs = 0;
  int64_t min_voxels = 0, max_voxels = 0;
  double min_snr = 0, max_snr = 0;  // measured (snr_of) per subject
};
StudySummary write_study(const std::string& dir, const StudyParams& p, uint64_t seed, const Provenance& prov);

}  // namespace v2c::sim
