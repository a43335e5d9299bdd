#include "pipeline/study/test_stimuli.h"

#include <algorithm>

#include "pipeline/core/error.h"

namespace v2c::study {

namespace {

std::string bytes_of(const MatrixF& m, int64_t row) {
  const Eigen::RowVectorXf v = m.row(row);
  return std::string(reinterpret_cast<const char*>(v.data()), size_t(v.size()) * sizeof(float));
}

void check_lengths(const std::vector<std::string>& stimulus, const MatrixF& vectors) {
  if (int64_t(stimulus.size()) != vectors.rows())
    throw input_error("test stimuli: ", stimulus.size(), " stimulus ids but ", vectors.rows(), " feature vectors");
}

}  // namespace

void add_test_stimuli(const std::vector<std::string>& stimulus, const MatrixF& vectors,
                      const std::vector<int32_t>& fold_of_sample, TestStimuli& into) {
  check_lengths(stimulus, vectors);
  if (fold_of_sample.size() != stimulus.size())
    throw input_error("test stimuli: the folds list ", fold_of_sample.size(), " samples; there are ", stimulus.size());
  for (size_t i = 0; i < stimulus.size(); ++i) {
    if (fold_of_sample[i] < 0) continue;
    into.ids.insert(stimulus[i]);
    into.vectors.insert(bytes_of(vectors, int64_t(i)));
  }
}

std::vector<int64_t> rows_showing(const std::vector<std::string>& stimulus, const MatrixF& vectors,
                                  const TestStimuli& t) {
  check_lengths(stimulus, vectors);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < stimulus.size(); ++i)
    if (t.ids.count(stimulus[i]) || t.vectors.count(bytes_of(vectors, int64_t(i)))) rows.push_back(int64_t(i));
  return rows;
}

std::vector<size_t> runs_with_samples(const std::vector<std::vector<int32_t>>& sample_row,
                                      const std::vector<int64_t>& rows) {
  std::vector<size_t> runs;
  for (size_t r = 0; r < sample_row.size(); ++r)
    for (int32_t row : sample_row[r])
      if (row >= 0 && std::binary_search(rows.begin(), rows.end(), int64_t(row))) {
        runs.push_back(r);
        break;
      }
  return runs;
}

}  // namespace v2c::study
