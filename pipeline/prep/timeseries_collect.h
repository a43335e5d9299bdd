// v2c-prepare's time series (io/timeseries.h, issue 11): every run's cleaned, masked volumes,
// labelled or not, collected while prepare_subject cleans them (PrepareInputs::on_cleaned_run),
// then cut to the voxels samples.h5 kept and labelled with the samples' rows.
//
// The collector holds every run's cleaned volumes ([n_volumes x n_mask] float32 each) until
// finish(): the voxels samples.h5 keeps are known only after the last run (a voxel constant in
// one run is dropped from all). Peak memory: all runs' masked volumes (Haxby's slice: 1452 x 530).
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/io/nifti/mask.h"
#include "pipeline/io/samples.h"
#include "pipeline/io/timeseries.h"

namespace v2c::prep {

class TimeSeriesCollector {
 public:
  // Run r of prepare_subject, in run order: its volumes after clean_run, columns = the mask's voxels
  // in mask order ([n_volumes x mask.flat.size()]).
  void add_run(const MatrixF& cleaned, const nifti::Mask& mask);
  int64_t n_runs() const { return int64_t(runs_.size()); }

  // The time series of `samples` (prepare_subject's result from the same runs): its voxels, its
  // run table (samples_run = the run's index there), and sample_row: for each volume, the lowest
  // row of samples whose event window [onset + shift_s, onset + shift_s + max(duration, TR))
  // (signal.h event_window) holds it, -1 for the others. Task: the BIDS `task-` entity of the
  // run file's name, "" when it has none. input_error when the runs do not match the samples.
  TimeSeries finish(const Samples& samples, double shift_s) const;

 private:
  std::vector<MatrixF> runs_;
  std::vector<std::array<int32_t, 3>> mask_ijk_;
};

// The BIDS `task-` entity of a file name ("sub-01_task-rest_run-2_bold.nii.gz" -> "rest"); "" when absent.
std::string bids_task_of(const std::string& path);

}  // namespace v2c::prep
