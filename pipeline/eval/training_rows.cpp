#include "pipeline/eval/training_rows.h"

#include <algorithm>

#include "pipeline/core/error.h"
#include "pipeline/models/cv.h"

namespace v2c::eval {

FoldTrainingRows fold_training_rows(const std::vector<int32_t>& fold, const std::vector<int32_t>& run,
                                    double train_fraction, const std::vector<std::vector<int64_t>>& recorded) {
  V2C_ASSERT(fold.size() == run.size(), fold.size(), " folds, ", run.size(), " runs");
  FoldTrainingRows out;
  const int32_t n_folds = fold.empty() ? 0 : 1 + *std::max_element(fold.begin(), fold.end());
  if (!recorded.empty()) {
    V2C_ASSERT(int64_t(recorded.size()) >= n_folds, recorded.size(), " recorded folds, ", n_folds, " tested");
    out.rows = recorded;
    return out;
  }
  std::vector<cv::Fold> folds(size_t(std::max(n_folds, 0)));
  for (int64_t i = 0; i < int64_t(fold.size()); ++i)
    for (int32_t f = 0; f < n_folds; ++f)
      (fold[size_t(i)] == f ? folds[size_t(f)].test : folds[size_t(f)].train).push_back(i);
  cv::restrict_training_runs(folds, run, train_fraction);
  for (auto& f : folds) out.rows.push_back(std::move(f.train));
  out.rebuilt = true;
  return out;
}

}  // namespace v2c::eval
