// Which stimuli a held-out subject is tested on, and which pretraining samples show them: the
// guard that keeps a shared encoder from training (or validating) on a held-out subject's test
// stimuli when subjects share stimuli (NSD's shared 1000, GOD, THINGS, category designs).
//
// A stimulus is "the same" when its stimulus id is the same, or when its feature vector is
// bit-for-bit identical (so two ids aliased to one feature-table entry, or one image under two
// names, are one stimulus). Kernels: no I/O.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::study {

struct TestStimuli {
  std::set<std::string> ids;      // stimulus ids of the tested samples
  std::set<std::string> vectors;  // their feature vectors, as the bytes of the float32 row
};

// The stimuli of every sample some outer fold tests (fold_of_sample[i] >= 0), added to `into`.
// stimulus [n], vectors [n x D] (each sample's feature vector), fold_of_sample [n]; input_error
// when the lengths differ.
void add_test_stimuli(const std::vector<std::string>& stimulus, const MatrixF& vectors,
                      const std::vector<int32_t>& fold_of_sample, TestStimuli& into);

// The samples (stimulus [n], vectors [n x D]) that show one of `t`, by id or identical vector,
// ascending.
std::vector<int64_t> rows_showing(const std::vector<std::string>& stimulus, const MatrixF& vectors,
                                  const TestStimuli& t);

// The runs (sample_row [n_runs] of [n_volumes]: the sample row each volume entered, -1 none) with
// a volume in one of `rows` (ascending), ascending.
std::vector<size_t> runs_with_samples(const std::vector<std::vector<int32_t>>& sample_row,
                                      const std::vector<int64_t>& rows);

}  // namespace v2c::study
