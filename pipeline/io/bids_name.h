// BIDS file names: which part of a name identifies the run.
#pragma once

#include <string>

namespace v2c::bids {

// The run's entities of a BIDS (or fMRIPrep derivative) file name: the name without directory,
// extension (.nii, .nii.gz, .tsv, .json), suffix (the last _-separated part, e.g. bold, events)
// and the entities that name a derivative (space-, res-, den-, desc-). E.g.
// ".../sub-01_ses-2_task-loc_run-3_space-T1w_desc-preproc_bold.nii.gz" -> "sub-01_ses-2_task-loc_run-3".
std::string run_stem(const std::string& path);

}  // namespace v2c::bids
