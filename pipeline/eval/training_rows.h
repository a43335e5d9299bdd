// Each outer fold's training rows, as evaluation needs them (kernel: no I/O): the rows whose
// targets make the training-fold mean that retrieval centres on (similarity.h) and that tell
// which candidates a fold's model has seen.
//
// The model that wrote predictions.h5 knows its exact training rows (after `exclusive`,
// `train_fraction` and any gap); when the file records them they are used as they are. Files
// that do not (predictions format version 1) get them rebuilt with the fold rules of
// models/cv.h: every row not tested by the fold, then the fold's first runs by train_fraction
// (cv::restrict_training_runs). That rebuild cannot know whether the model dropped the repeats of
// test stimuli (`exclusive`): it keeps them, so for an exclusive model the mean would include
// those stimuli's targets. `rebuilt` says so and the stage warns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace v2c::eval {

struct FoldTrainingRows {
  std::vector<std::vector<int64_t>> rows;  // [n_folds] training rows of each outer fold, ascending
  bool rebuilt = false;                    // not recorded in the predictions: rebuilt (see above)
};

// fold [n] the outer fold testing each row (-1: none); run [n] its run; recorded: the rows the
// predictions file records per fold (empty: none recorded). n_folds = 1 + max(fold).
FoldTrainingRows fold_training_rows(const std::vector<int32_t>& fold, const std::vector<int32_t>& run,
                                    double train_fraction, const std::vector<std::vector<int64_t>>& recorded);

}  // namespace v2c::eval
