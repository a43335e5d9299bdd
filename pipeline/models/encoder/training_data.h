// What both encoder stages train on: one subject's samples as matrices, the seeded batch order of
// an epoch, and chunked prediction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/model.h"

namespace v2c::encoder {

using MF = Mat<float>;

struct SubjectData {
  std::string id;
  MF X, T;  // [n x p] voxels, [n x D] the stimuli's feature vectors
  std::vector<int32_t> run;
  std::vector<std::string> stimulus;
};

// input_error when the samples carry no stimulus features.
SubjectData subject_data(const Samples& s);

MF rows_of(const MF& m, const std::vector<int64_t>& rows);

// One batch: rows of one subject.
struct Batch {
  size_t subject;
  std::vector<int64_t> rows;
};

// The batches of one epoch, shuffled: each subject's training rows shuffled and cut into batches
// of batch_size (a last batch of fewer than 2 rows is dropped: a contrastive batch needs two),
// then the batches of all subjects shuffled together. A function of (seed, epoch) only, so a
// resumed run sees the same order.
std::vector<Batch> epoch_batches(const std::vector<std::vector<int64_t>>& train_rows, int batch_size, uint64_t seed,
                                 int64_t epoch);

// Y [n x D] for X [n x p] of `subject`, dropout off, in chunks of 256 rows.
MF predict(Encoder<float>& enc, const std::string& subject, const MF& X);

}  // namespace v2c::encoder
