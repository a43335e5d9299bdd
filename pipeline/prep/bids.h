// Finding a subject's runs in a BIDS dataset, optionally with fMRIPrep derivatives (I/O: directory
// listings only).
#pragma once

#include <string>

#include "pipeline/prep/prepare.h"

namespace v2c::prep {

struct BidsQuery {
  std::string root;         // raw dataset: sub-<S>/func/sub-<S>_task-<T>[_...]_bold.nii[.gz], _events.tsv, _bold.json
  std::string derivatives;  // fMRIPrep output ("" = none): sub-<S>/func/..._space-<space>_desc-preproc_bold.nii[.gz]
  std::string subject;      // "01" or "sub-01"
  std::string task;
  std::string space;  // with derivatives: the space label of the runs (e.g. T1w, MNI152NLin2009cAsym)
};

// Fills inputs.bold/events/sidecars (and the mask unless one is given; the subject id if empty).
// Raw only: the task's runs in sub-<S>/func (sessions: sub-<S>/ses-*/func), each with its
// _events.tsv and _bold.json (else the top-level task-<T>_bold.json, BIDS inheritance); mask
// sub-<S>/anat/sub-<S>_desc-brain_mask.nii[.gz]. With derivatives: the preprocessed runs of
// `space`, the events and sidecars of the raw runs with the same entities (the preprocessed run's
// own .json when the raw one is missing), and as mask the first run's
// _space-<space>_desc-brain_mask.nii[.gz]; the stage finds each run's confounds beside it.
// io_error naming what was looked for and where.
void discover_bids(const BidsQuery& query, PrepareInputs& inputs);

}  // namespace v2c::prep
